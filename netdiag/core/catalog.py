"""The knowledge base: every failure netdiag can name, what it means, why it happens, how to fix it.

This module is *data*. It is the single source for ``netdiag explain --error``, for the error messages of
``listen``, ``connect``, ``probe`` and ``handshake``, and for the generated docs/troubleshooting.md.
Cause codes are stable: they appear in JSON output and scripts may match on them.
"""

from __future__ import annotations

import errno as errno_codes
from dataclasses import dataclass
from enum import Enum
from typing import Literal

Operation = Literal["connect", "bind", "resolve", "send", "recv", "accept"]


class Cause(str, Enum):
    """Stable cause codes (documented in docs/troubleshooting.md; used as JSON values)."""

    OK = "ok"
    NOTHING_LISTENING = "nothing-listening"
    LOOPBACK_ONLY_BIND = "loopback-only-bind"
    WRONG_ADDRESS_FAMILY = "wrong-address-family"
    NEAR_PORT = "near-port"
    PROTOCOL_MISMATCH = "protocol-mismatch"
    FIREWALL_DROP = "firewall-drop"
    FIREWALL_REJECT = "firewall-reject"
    HOST_UNREACHABLE = "host-unreachable"
    NO_ROUTE = "no-route"
    DNS_FAILURE = "dns-failure"
    CONNECTION_RESET = "connection-reset"
    TIMEOUT = "timeout"
    ADDRESS_IN_USE = "address-in-use"
    PRIVILEGED_PORT = "privileged-port"
    PORT_RESERVED = "port-reserved"
    ADDRESS_NOT_LOCAL = "address-not-local"
    BROKEN_PIPE = "broken-pipe"
    CONNECTION_ABORTED = "connection-aborted"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Explanation:
    """What a failure means for a person: one sentence, the likely causes, the numbered fixes."""

    cause: Cause
    title: str
    meaning: str
    likely_causes: tuple[str, ...]
    fixes: tuple[str, ...]


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
        "The host answered, but nothing is listening on that port (the kernel replied with a TCP RST).",
        (
            "The server is not running, or crashed before it called listen().",
            "The server listens on another port than the one the client uses.",
            "The server is bound to another address (127.0.0.1 only, or IPv6 only).",
        ),
        (
            "Start the server first, then the client.",
            "Check what listens: netdiag sockets --listening --port PORT",
            "Make client and server use the same port number.",
        ),
    ),
    Cause.TIMEOUT: Explanation(
        Cause.TIMEOUT,
        "Timed out",
        "No answer came back at all: the packets were dropped on the way or the host is absent.",
        (
            "A firewall silently drops the traffic (on the server host or on the way).",
            "The address is wrong, or the host is switched off or on another network.",
        ),
        (
            "Check the address: ping the host, or netdiag explain HOST:PORT for a step-by-step check.",
            "Open the port in the server's firewall (Linux: sudo iptables -L -n; Windows: Defender "
            "Firewall inbound rules; macOS: System Settings > Network > Firewall).",
        ),
    ),
    Cause.CONNECTION_RESET: Explanation(
        Cause.CONNECTION_RESET,
        "Connection reset by peer",
        "The other side aborted the connection with a TCP RST instead of closing it normally.",
        (
            "The server process crashed or was killed while the connection was open.",
            "The server closed the socket with unread data, or refused the client after accepting it.",
            "A firewall or middlebox injected a reset.",
        ),
        (
            "Look at the server's log or output for an error at that moment.",
            "Make the server read everything the client sends before it closes.",
        ),
    ),
    Cause.DNS_FAILURE: Explanation(
        Cause.DNS_FAILURE,
        "Name not resolved",
        "The host name could not be turned into an address, so no connection was attempted.",
        (
            "A typo in the host name.",
            "No DNS server is reachable, or the name only exists on another network.",
        ),
        (
            "Check the spelling, or use the IP address directly (for example 127.0.0.1).",
            "Check name resolution: getent hosts NAME (Linux), nslookup NAME (Windows/macOS).",
        ),
    ),
    Cause.ADDRESS_IN_USE: Explanation(
        Cause.ADDRESS_IN_USE,
        "Address already in use",
        "Another socket already holds this address and port, so the server cannot bind it.",
        (
            "Another copy of the server (or another program) is still running on that port.",
            "A previous run closed recently and its connections are in TIME_WAIT.",
        ),
        (
            "Find the owner: netdiag sockets --listening --port PORT, and stop it.",
            "Or choose another port (port 0 lets the OS pick a free one).",
            "In your own server, set SO_REUSEADDR before bind() so TIME_WAIT does not block a restart.",
        ),
    ),
    Cause.PRIVILEGED_PORT: Explanation(
        Cause.PRIVILEGED_PORT,
        "Permission denied",
        "Ports below 1024 are privileged: only root (or a program with CAP_NET_BIND_SERVICE) may bind them.",
        ("The server asks for a port below 1024 and runs as a normal user.",),
        (
            "Use a port of 1024 or above, for example 8000.",
            "Or run it with sudo, or grant the capability: sudo setcap "
            "cap_net_bind_service=+ep $(readlink -f $(which python3))",
        ),
    ),
    Cause.ADDRESS_NOT_LOCAL: Explanation(
        Cause.ADDRESS_NOT_LOCAL,
        "Cannot assign requested address",
        "The address given to bind() does not belong to any interface of this machine.",
        (
            "A typo in the address, or the address of another machine.",
            "The interface that had this address is down or got a new address.",
        ),
        (
            "Bind 127.0.0.1 (this machine only) or 0.0.0.0 (every interface).",
            "See this machine's addresses: netdiag interfaces",
        ),
    ),
    Cause.HOST_UNREACHABLE: Explanation(
        Cause.HOST_UNREACHABLE,
        "Host unreachable",
        "A router or the host's firewall reported that the destination cannot be reached (ICMP).",
        (
            "The host is down or not on the local network.",
            "A firewall rejects the traffic with an ICMP host-unreachable or admin-prohibited.",
        ),
        ("Check the address and that the host is up.", "Check the firewall rules on the way."),
    ),
    Cause.NO_ROUTE: Explanation(
        Cause.NO_ROUTE,
        "Network unreachable",
        "This machine has no route to that network, so the packet was never sent.",
        ("No default gateway, or the interface is down.", "The address is on a network you are not on."),
        ("Check your routes: ip route (Linux), route print (Windows), netstat -rn (macOS).",),
    ),
    Cause.BROKEN_PIPE: Explanation(
        Cause.BROKEN_PIPE,
        "Broken pipe",
        "The program wrote to a connection that the other side had already closed.",
        ("The peer closed the connection (or crashed) and this side kept sending.",),
        ("Check the peer's output; read its reply (or EOF) before sending more.",),
    ),
    Cause.CONNECTION_ABORTED: Explanation(
        Cause.CONNECTION_ABORTED,
        "Connection aborted",
        "The connection was aborted by this machine's network stack (often seen on Windows).",
        ("A local firewall or antivirus ended it.", "The peer vanished and retransmissions gave up."),
        ("Retry, and check local security software.",),
    ),
    Cause.UNKNOWN: Explanation(
        Cause.UNKNOWN,
        "Unrecognised error",
        "netdiag does not recognise this error, so it cannot say more than the text itself.",
        (),
        ("Run netdiag explain HOST:PORT to test the connection step by step.",),
    ),
}


def explanation_for(cause: Cause) -> Explanation:
    """The catalog entry for ``cause``, falling back to ``UNKNOWN`` for causes not written yet."""
    return CATALOG.get(cause, CATALOG[Cause.UNKNOWN])


def classify_os_error(
    code: int | None, operation: Operation, *, port: int | None = None, timed_out: bool = False
) -> Cause:
    """Map an errno seen during ``operation`` to a cause code (Linux/POSIX numbers)."""
    if timed_out or code == errno_codes.ETIMEDOUT:
        return Cause.TIMEOUT
    if code == errno_codes.EACCES and operation == "bind":
        return Cause.PRIVILEGED_PORT if port is not None and 0 < port < 1024 else Cause.PORT_RESERVED
    return _BY_ERRNO.get(code, Cause.UNKNOWN) if code is not None else Cause.UNKNOWN


_BY_ERRNO: dict[int, Cause] = {
    errno_codes.ECONNREFUSED: Cause.NOTHING_LISTENING,
    errno_codes.ECONNRESET: Cause.CONNECTION_RESET,
    errno_codes.EADDRINUSE: Cause.ADDRESS_IN_USE,
    errno_codes.EADDRNOTAVAIL: Cause.ADDRESS_NOT_LOCAL,
    errno_codes.EHOSTUNREACH: Cause.HOST_UNREACHABLE,
    errno_codes.ENETUNREACH: Cause.NO_ROUTE,
    errno_codes.EPIPE: Cause.BROKEN_PIPE,
    errno_codes.ECONNABORTED: Cause.CONNECTION_ABORTED,
}
