"""The knowledge base: every failure netdiag can name, what it means, why it happens, how to fix it.

This module is *data*. It is the single source for ``netdiag explain``, for the error messages of
``listen``, ``connect``, ``probe`` and ``handshake``, and for the generated docs/troubleshooting.md.
Cause codes are stable: they appear in JSON output and scripts may match on them.

Fix texts may contain the placeholders ``HOST`` and ``PORT`` (upper case, whole words); commands that
know the target substitute them with ``fill_placeholders``. The per-platform errno tables (the same
number means different things on Linux, macOS and Windows) live in ``netdiag.core.errno_tables``; which
cause an exception or errno is (the logic) lives in ``netdiag.core.error_causes``.

Longer than the ~400 lines a module should have, on purpose: nearly all of it is the entries, one per cause
(the program mistakes' entries are in ``catalog_programs``; the ``Cause`` codes and the ``Explanation``
record are in ``causes``, so both entry modules build on them without importing each other). Kept
together they read as the one page a reviewer checks the wording on, in the order docs/troubleshooting.md
shows them.
"""

from __future__ import annotations

import re
from dataclasses import replace

from netdiag.core.catalog_programs import PROGRAM_CATALOG
from netdiag.core.causes import Cause, Explanation

__all__ = ["CATALOG", "Cause", "Explanation", "explanation_for", "fill_examples", "fill_placeholders"]


_FIREWALL_READ = (
    "Read the firewall of the server host: sudo nft list ruleset, or sudo iptables -S (Linux); "
    "Windows Defender Firewall > Inbound Rules; macOS System Settings > Network > Firewall."
)

CATALOG: dict[Cause, Explanation] = {
    Cause.OK: Explanation(
        Cause.OK,
        "Connected",
        "The server accepted the connection: something is listening and nothing blocks the way.",
        (),
        (),
    ),
    Cause.NOTHING_LISTENING: Explanation(
        Cause.NOTHING_LISTENING,
        "Connection refused",
        "The host answered, but nothing is listening on that port: its kernel replied with a TCP RST "
        "(for UDP: an ICMP port-unreachable).",
        (
            "The server is not running, or crashed before it called listen().",
            "The server listens on another port than the one the client uses.",
            "The server is bound to another address (127.0.0.1 only, or IPv6 only).",
            "Less often: a firewall rule that rejects with a TCP reset looks exactly the same.",
        ),
        (
            "Start the server first, then the client (and check the server did not exit with an error).",
            "Check what listens: netdiag sockets --listening --port PORT",
            "Make client and server use the same port number and the same address.",
            "Test step by step: netdiag explain HOST:PORT",
        ),
    ),
    Cause.LOOPBACK_ONLY_BIND: Explanation(
        Cause.LOOPBACK_ONLY_BIND,
        "Server reachable from this machine only",
        "The server listens on a loopback address (127.0.0.1 or ::1), which only this machine can reach; "
        "connections to its other addresses are refused.",
        (
            "The server binds 127.0.0.1 or localhost (the safe default of many frameworks and of netdiag).",
            "The client uses the machine's LAN address, or runs on another machine.",
        ),
        (
            "To accept connections from other machines, bind 0.0.0.0 (every IPv4 interface) or the LAN "
            "address, for example: netdiag listen 0.0.0.0:PORT",
            "Or, from this machine, connect to 127.0.0.1:PORT.",
            "Opening a server to the network also needs the firewall to allow the port.",
        ),
    ),
    Cause.WRONG_ADDRESS_FAMILY: Explanation(
        Cause.WRONG_ADDRESS_FAMILY,
        "IPv4 / IPv6 mismatch",
        "The server listens on IPv6 only and the client connects over IPv4, or the reverse: 127.0.0.1 and "
        "::1 are different addresses, and a socket bound to one does not receive the other.",
        (
            "The server binds ::1 (or [::] with IPV6_V6ONLY) and the client connects to 127.0.0.1.",
            "The server binds 127.0.0.1 and the client resolves localhost to ::1 first.",
        ),
        (
            "Connect with the family the server uses (127.0.0.1:PORT for IPv4, [::1]:PORT for IPv6).",
            "Or make the server listen on both: bind both addresses, or [::] with IPV6_V6ONLY off.",
            "Check what listens and where: netdiag sockets --listening --port PORT",
        ),
    ),
    Cause.NEAR_PORT: Explanation(
        Cause.NEAR_PORT,
        "Server on a nearby port",
        "Nothing listens on the port you asked for, but a server listens on a port close to it: "
        "probably a typo or a configuration mismatch.",
        (
            "A mistyped port (8000 vs 8080, 5000 vs 5001).",
            "Client and server read their port from different places (argument, config file, default).",
        ),
        (
            "Use the port the server really listens on (shown in the checklist), or restart the server "
            "on the port the client expects.",
            "Check what listens: netdiag sockets --listening",
        ),
    ),
    Cause.PROTOCOL_MISMATCH: Explanation(
        Cause.PROTOCOL_MISMATCH,
        "TCP / UDP mismatch",
        "A server listens on that port, but with the other transport protocol: a TCP client cannot talk to "
        "a UDP server (nor the reverse), even on the same port number.",
        (
            "The server uses SOCK_DGRAM (UDP) and the client SOCK_STREAM (TCP), or the reverse.",
            "A lab asked for UDP and the code (or the tool) defaults to TCP.",
        ),
        (
            "Use the same protocol on both sides; netdiag's connect, listen, probe and explain take --udp.",
            "Check what listens: netdiag sockets --listening --port PORT",
        ),
    ),
    Cause.FIREWALL_DROP: Explanation(
        Cause.FIREWALL_DROP,
        "Blocked by a firewall (dropped)",
        "The host is there, but the packets to that port get no answer at all: a firewall silently "
        "drops them, so the client waits until it times out.",
        (
            "A DROP rule (or a DROP default policy) in the server's firewall for that port.",
            "A firewall on the way (router, cloud security group) that drops the traffic.",
            "On this machine, an OUTPUT rule that drops the packet (the client then sees "
            "'Operation not permitted').",
        ),
        (
            _FIREWALL_READ,
            "Allow the port, for example: sudo iptables -I INPUT -p tcp --dport PORT -j ACCEPT "
            "(firewalld: sudo firewall-cmd --add-port=PORT/tcp; ufw: sudo ufw allow PORT/tcp).",
            "Windows: allow the program or port in Windows Defender Firewall (an inbound rule).",
        ),
    ),
    Cause.FIREWALL_REJECT: Explanation(
        Cause.FIREWALL_REJECT,
        "Blocked by a firewall (rejected)",
        "A firewall answered instead of the service: it rejected the connection with an ICMP error "
        "(port unreachable, host unreachable or administratively prohibited) or a forged TCP reset.",
        (
            "A REJECT rule in the server's firewall for that port (firewalld rejects unlisted ports by "
            "default; ufw's default 'deny' drops instead, its 'reject' rejects).",
            "A router or host on the way that filters the port and says so.",
        ),
        (
            _FIREWALL_READ,
            "Allow the port, for example: sudo iptables -I INPUT -p tcp --dport PORT -j ACCEPT "
            "(firewalld: sudo firewall-cmd --add-port=PORT/tcp; ufw: sudo ufw allow PORT/tcp).",
        ),
    ),
    Cause.OUTBOUND_FIREWALL: Explanation(
        Cause.OUTBOUND_FIREWALL,
        "Blocked by this machine's own firewall (outgoing)",
        "A rule (or a DROP policy) on this machine's OUTPUT path stops the packet before it leaves: the "
        "server never sees it. The kernel says so at once: 'Operation not permitted' (EPERM) for a DROP, a "
        "refusal for a REJECT, or the connection just waits.",
        (
            "An iptables OUTPUT rule (-A OUTPUT -p tcp --dport PORT -j DROP or REJECT), or -P OUTPUT DROP.",
            "An nft chain on the output hook that drops or rejects the port (or has policy drop).",
            "A corporate or lab firewall profile that restricts outgoing ports.",
        ),
        (
            "List this machine's outgoing rules: sudo iptables -S OUTPUT, sudo nft list ruleset "
            "(the chains with 'hook output').",
            "If the rule must stay, allow this port before it: "
            "sudo iptables -I OUTPUT -p tcp --dport PORT -j ACCEPT",
        ),
    ),
    Cause.BLOCKED_ROUTE: Explanation(
        Cause.BLOCKED_ROUTE,
        "A route of this machine discards the traffic",
        "The routing table has a route of a special type for that destination, so the kernel refuses to "
        "send: a blackhole route makes connect()/send() fail with EINVAL ('Invalid argument'), prohibit "
        "with EACCES ('Permission denied'), unreachable with EHOSTUNREACH ('No route to host'), and throw "
        "with ENETUNREACH ('Network is unreachable') when no other table has a route.",
        (
            "A blackhole, prohibit or unreachable route (ip route add blackhole / prohibit / "
            "unreachable ...) added to cut a network off, by hand, a VPN client, a container tool or a "
            "routing daemon.",
            "A policy-routing table (ip rule) whose throw entry sends the lookup on to tables with no "
            "matching route.",
        ),
        (
            "Show the route: ip route get HOST, and ip route show type blackhole (or prohibit, "
            "unreachable, throw).",
            "Delete it when it is not wanted: sudo ip route del followed by the route exactly as ip route "
            "show prints it (type and network).",
        ),
    ),
    Cause.ACCEPT_QUEUE_FULL: Explanation(
        Cause.ACCEPT_QUEUE_FULL,
        "The server's accept queue is full",
        "A server listens, but connections it has not accept()ed yet fill its queue (listen()'s backlog): "
        "the kernel then drops new connection attempts, so clients wait or time out although nothing "
        "blocks the port. The server is not calling accept(), or not often enough.",
        (
            "The server is stuck or busy (a blocking call, a deadlock, one client served at a time) and "
            "does not call accept().",
            "A small backlog (listen(1)) and many clients connecting at once.",
            "A server that accepted its first client and never loops back to accept() again.",
        ),
        (
            "Look at the queue: ss -ltn sport = :PORT (Recv-Q is the queue, Send-Q the backlog).",
            "Make the server call accept() in a loop (a thread or an event loop per client), and give "
            "listen() a larger backlog.",
            "Restart the server if it is stuck.",
        ),
    ),
    Cause.TIMEOUT: Explanation(
        Cause.TIMEOUT,
        "Timed out",
        "No answer came back at all. From the client alone a firewall that drops packets and a host that "
        "is absent look the same: both are possible.",
        (
            "A firewall silently drops the traffic (on the server host or on the way).",
            "The host is switched off, disconnected, or the address is wrong (another network).",
            "The server is overloaded and its accept queue is full (rarer).",
        ),
        (
            "Test step by step, which tells a firewall from an absent host when it can: "
            "netdiag explain HOST:PORT",
            "Check the address, and that the host is up: ping HOST (if ICMP is allowed).",
            _FIREWALL_READ,
        ),
    ),
    Cause.CONNECTION_RESET: Explanation(
        Cause.CONNECTION_RESET,
        "Connection reset by peer",
        "The other side aborted the connection with a TCP RST instead of closing it normally.",
        (
            "The server process crashed or was killed while the connection was open.",
            "The server closed the socket with unread data, or refused the client after accepting it "
            "(for example a full server or a protocol error).",
            "A firewall or middlebox injected a reset.",
        ),
        (
            "Look at the server's log or output for an error at that moment.",
            "Make the server read everything the client sends before it closes.",
            "Retry: if it happens every time, test the server alone with netdiag connect HOST:PORT",
        ),
    ),
    Cause.DNS_FAILURE: Explanation(
        Cause.DNS_FAILURE,
        "Name not resolved",
        "The host name could not be turned into an address, so no connection was attempted.",
        (
            "A typo in the host name.",
            "No DNS server is reachable (no network, VPN down), or the name only exists on another network.",
            "A temporary resolver failure (EAI_AGAIN, 'Temporary failure in name resolution'): retry.",
        ),
        (
            "Check the spelling, or use the IP address directly (for example 127.0.0.1).",
            "Check name resolution: getent hosts HOST (Linux), dscacheutil -q host -a name HOST (macOS), "
            "Resolve-DnsName HOST (Windows).",
            "Check the resolver configuration: /etc/resolv.conf and /etc/hosts (Linux, macOS).",
        ),
    ),
    Cause.ADDRESS_IN_USE: Explanation(
        Cause.ADDRESS_IN_USE,
        "Address already in use",
        "Another socket already holds this address and port, so the server cannot bind it.",
        (
            "Another copy of the server (or another program) is still running on that port.",
            "A previous run closed recently and its connections wait in TIME_WAIT (up to 60 s on Linux, "
            "about 30 s on macOS, 120 s on Windows).",
        ),
        (
            "Find the owner: netdiag sockets --listening --port PORT, and stop it.",
            "Or choose another port (port 0 lets the OS pick a free one).",
            "In your own server, set SO_REUSEADDR before bind() "
            "(sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)) so TIME_WAIT does not block the "
            "next restart; it does not let two servers listen on the same port.",
            "Restarting right after a stop: on Linux SO_REUSEADDR helps only if the stopped run had set "
            "it too (its TIME_WAIT sockets keep the option they were made with). Otherwise wait until they "
            "expire (60 s on Linux); to list them: netdiag sockets --port PORT --state time-wait.",
        ),
    ),
    Cause.PRIVILEGED_PORT: Explanation(
        Cause.PRIVILEGED_PORT,
        "Permission denied (privileged port)",
        "On Linux and macOS, ports below 1024 are privileged: only root (or, on Linux, a program with "
        "CAP_NET_BIND_SERVICE) may bind them.",
        (
            "The server asks for a port below 1024 (80, 443, 22 ...) and runs as a normal user.",
            "On Windows the same text usually means a reserved port range instead (see port-reserved).",
        ),
        (
            "Use a port of 1024 or above, for example 8000.",
            "Or run it with sudo, or give that one program (not python3 itself: every script would get "
            "the right) the capability: sudo setcap cap_net_bind_service=+ep /path/to/server",
            "Linux only: the lowest unprivileged port is sysctl net.ipv4.ip_unprivileged_port_start",
        ),
    ),
    Cause.PORT_RESERVED: Explanation(
        Cause.PORT_RESERVED,
        "Permission denied (reserved port)",
        "The OS forbids binding this port although it is not privileged. On Windows this is almost always "
        "an excluded port range reserved by Hyper-V, WSL 2, Docker or Windows NAT (WinError 10013).",
        (
            "Windows reserves ranges of ports for Hyper-V / WSL / Docker; the port falls inside one.",
            "Another program holds the port with SO_EXCLUSIVEADDRUSE (Windows).",
            "A security policy (SELinux, AppArmor) forbids the program this port (Linux).",
        ),
        (
            "Windows: choose a port outside the reserved ranges, listed by "
            "netsh int ipv4 show excludedportrange protocol=tcp",
            "Windows, as administrator: net stop winnat, then net start winnat, frees ranges that "
            "Windows NAT took dynamically.",
            "Linux: check the audit log (ausearch -m avc) for an SELinux denial.",
        ),
    ),
    Cause.ADDRESS_NOT_LOCAL: Explanation(
        Cause.ADDRESS_NOT_LOCAL,
        "Cannot assign requested address",
        "The address given to bind() does not belong to any interface of this machine (or, on connect, "
        "no free local port or source address was left).",
        (
            "A typo in the address, or the address of another machine (servers bind their own address).",
            "The interface that had this address is down or got a new address (DHCP, Wi-Fi change).",
            "On connect: the local ephemeral ports are exhausted by many short connections in TIME_WAIT.",
            "On connect (Windows, WinError 10049): the client connects to 0.0.0.0, the address a server "
            "binds to mean 'every address'; it is not a destination.",
        ),
        (
            "Bind 127.0.0.1 (this machine only) or 0.0.0.0 (every interface).",
            "Clients connect to 127.0.0.1 or to the server's own address, never to 0.0.0.0.",
            "See this machine's addresses: netdiag interfaces",
            "For port exhaustion: reuse connections, or widen net.ipv4.ip_local_port_range (Linux).",
        ),
    ),
    Cause.HOST_UNREACHABLE: Explanation(
        Cause.HOST_UNREACHABLE,
        "Host unreachable",
        "A router (or the link itself) reported that the destination host cannot be reached: the host did "
        "not answer ARP / neighbour discovery, or an ICMP host-unreachable came back.",
        (
            "The host is down, disconnected, or not on the local network any more.",
            "The address is wrong (a neighbour that does not exist on this link).",
            "A firewall rejects the traffic with an ICMP host-unreachable or admin-prohibited.",
        ),
        (
            "Check the address, and that the host is up and on the same network.",
            "Look at the neighbour table: ip neigh (Linux), arp -a (macOS, Windows).",
            "Check the firewall rules on the way.",
        ),
    ),
    Cause.NO_ROUTE: Explanation(
        Cause.NO_ROUTE,
        "Network unreachable",
        "This machine has no route to that network, so the packet was never sent (or a router said the "
        "same with an ICMP net-unreachable).",
        (
            "No default gateway, or the interface is down (Wi-Fi off, cable out, VPN down).",
            "The address is on a network you are not on.",
            "IPv6 address but no IPv6 connectivity.",
        ),
        (
            "Check your routes: ip route (Linux), netstat -rn (macOS), route print (Windows).",
            "Check your interfaces and addresses: netdiag interfaces",
        ),
    ),
    Cause.BROKEN_PIPE: Explanation(
        Cause.BROKEN_PIPE,
        "Broken pipe",
        "The program wrote to a connection that the other side had already closed.",
        (
            "The peer closed the connection (or crashed) and this side kept sending.",
            "The peer closed after an error in what this side sent (protocol mismatch, line too long).",
        ),
        (
            "Check the peer's output or log at that moment.",
            "Read the peer's reply (or EOF) before sending more; handle BrokenPipeError / EPIPE as the "
            "normal end of a connection.",
        ),
    ),
    Cause.CONNECTION_ABORTED: Explanation(
        Cause.CONNECTION_ABORTED,
        "Connection aborted",
        "The connection was aborted by this machine's own network stack, not by the peer (WinError 10053 "
        "on Windows, ECONNABORTED on Linux and macOS).",
        (
            "A local firewall or antivirus ended the connection.",
            "The peer vanished and this side gave up after its retransmissions timed out.",
            "The program closed the socket from another thread while it was in use.",
        ),
        (
            "Retry, and check local security software (Windows: Defender Firewall, antivirus).",
            "Test the server alone: netdiag connect HOST:PORT",
        ),
    ),
    Cause.UNKNOWN: Explanation(
        Cause.UNKNOWN,
        "Unrecognised error",
        "netdiag does not recognise this error, so it cannot say more than the text itself says.",
        (),
        (
            "Paste the last line of the traceback (the exception and its message), or the error number.",
            "Test the connection step by step: netdiag explain HOST:PORT",
        ),
    ),
}


def _merge_program_entries() -> None:
    """The program mistakes' entries (``catalog_programs``, kept apart for size) join the catalog before
    ``unknown``, which stays last on the generated page."""
    unknown = CATALOG.pop(Cause.UNKNOWN)
    CATALOG.update(PROGRAM_CATALOG)
    CATALOG[Cause.UNKNOWN] = unknown


_merge_program_entries()


def explanation_for(cause: Cause, *, host: str | None = None, port: int | None = None) -> Explanation:
    """The catalog entry for ``cause`` (``UNKNOWN`` for causes not written yet).

    With ``host`` and/or ``port``, its ``HOST``/``PORT`` placeholders are filled in, so a command's message
    names the user's own target (``netdiag sockets --listening --port 8000``) instead of a placeholder.
    """
    entry = CATALOG.get(cause, CATALOG[Cause.UNKNOWN])
    if host is None and port is None:
        return entry

    def fill(text: str) -> str:
        return fill_placeholders(text, host=host, port=port)

    return replace(entry, meaning=fill(entry.meaning), likely_causes=tuple(map(fill, entry.likely_causes)),
                   fixes=tuple(map(fill, entry.fixes)))


_PLACEHOLDER = re.compile(r"\b(HOST|PORT)\b")


_EXAMPLE_VALUES = {"HOST": "lab-pc", "PORT": "8000"}


def fill_examples(text: str) -> str:
    """The placeholders still in a text after ``fill_placeholders``, replaced by example values said to be
    examples: a student pastes ``netdiag explain lab-pc:8000`` and edits it, where a literal ``HOST:PORT``
    would only earn a usage error."""
    found = _PLACEHOLDER.findall(text)
    if not found:
        return text
    filled = _PLACEHOLDER.sub(lambda match: _EXAMPLE_VALUES[match.group(1)], text)
    if "HOST" in found and "PORT" in found:
        note = "put your server's name or address in place of lab-pc, and its port in place of 8000"
    elif "HOST" in found:
        note = "put the name or address your client used in place of lab-pc"
    else:
        note = "put your server's port in place of 8000"
    return f"{filled.rstrip('.')} ({note})."


def fill_placeholders(text: str, *, host: str | None = None, port: int | None = None) -> str:
    """Replace the ``HOST`` / ``PORT`` placeholders of a catalog text with the real target."""
    values = {"HOST": host, "PORT": None if port is None else str(port)}

    def substitute(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        return value if value is not None else match.group(0)

    return _PLACEHOLDER.sub(substitute, text)
