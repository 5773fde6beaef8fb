"""The firewall test bed: one table of network situations, what `probe` and `explain` must say about each.

Shared by tests/scenarios/test_probe_matrix.py (probe) and the explain tests, and rendered into
docs/firewall-matrix.md (tests/scenarios/test_probe_matrix.py checks the page still matches the table).

Every scenario runs on the ``net`` fixture (two namespaces on a veth pair, 198.18.0.1 <-> 198.18.0.2, no
default route). ``stage(scenario, net)`` builds it: a listener in the server namespace (or none), iptables
rules in the server namespace's INPUT chain, a resolv.conf for the probing namespace when the scenario
needs one; it yields the namespace to run netdiag in and the target to give it::

    with stage(scenario, net) as staged:
        result = run_netdiag("probe", staged.target, "--timeout", str(staged.timeout),
                             netns=staged.namespace.name)

Refinements to the table in the brief (with reasons):

* ``reject-host-unreachable``: explain's expected cause is ``firewall-reject``, not ``host-unreachable``.
  The ICMP host-unreachable comes *from the target's own address* (probe reports it as
  ``ProbeResult.icmp_from``); a host that sends ICMP about itself is up, so only a firewall rule on it
  says that. An absent host (``absent-host``) gets its EHOSTUNREACH from our own kernel (ARP failed)
  and stays ``host-unreachable``.
* ``reject-port-unreachable`` needs to watch ICMP (a raw socket, root). The table holds the root answer
  (``filtered``/``port-unreach``) and, for documentation, the answer without root
  (``closed``/``conn-refused``, indistinguishable from a RST).
"""

from __future__ import annotations

import select
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

if __name__ == "__main__":  # run as a script to regenerate docs/firewall-matrix.md
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.netns import SERVER_ADDR, Namespace, TwoHosts, namespace_resolv_conf
from netdiag.core.catalog import Cause
from netdiag.core.probe import PortState, Reason
from netdiag.core.targets import format_endpoint

SCENARIO_PORT = 8000
ABSENT_HOST = "198.18.0.3"  # on the veth link's /24, but nobody has it: ARP fails after ~3 s
UNROUTED_HOST = "198.19.0.1"  # inside 198.18.0.0/15, outside the link's /24: no route at all
UNRESOLVABLE_NAME = "nothing.invalid"  # RFC 6761: .invalid never resolves

_LISTENER = """
import socket, sys
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind((sys.argv[1], int(sys.argv[2])))
sock.listen(16)
print("ready", flush=True)
sys.stdin.read()
"""

# listen(1) and never accept(): two connections of its own fill the queue (Linux counts it full when
# more than the backlog wait), after which the kernel drops every new SYN.
_FULL_QUEUE_LISTENER = """
import socket, sys
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind((sys.argv[1], int(sys.argv[2])))
sock.listen(1)
fillers = [socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) for _ in range(2)]
print("ready", flush=True)
sys.stdin.read()
"""

# [::] with IPV6_V6ONLY: IPv6 only, so an IPv4 address of the same host is refused.
_V6ONLY_LISTENER = """
import socket, sys
sock = socket.socket(socket.AF_INET6)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
sock.bind((sys.argv[1], int(sys.argv[2])))
sock.listen(16)
print("ready", flush=True)
sys.stdin.read()
"""

_LISTENERS = {"plain": _LISTENER, "full-queue": _FULL_QUEUE_LISTENER, "v6only": _V6ONLY_LISTENER}


@dataclass(frozen=True)
class Scenario:
    """One network situation and the verdicts netdiag owes it."""

    name: str
    summary: str  # what is set up, in one line for docs/firewall-matrix.md
    listen_on: str | None  # address the server namespace's listener binds (None: nothing listens)
    rules: tuple[tuple[str, ...], ...]  # iptables arguments, run in the server namespace
    probe_from: str  # "client" or "server": the namespace netdiag runs in
    target_host: str
    state: PortState  # probe, as root (ICMP observable)
    reason: Reason
    cause: Cause  # explain's verdict
    timeout: float = 1.0  # --timeout to pass: short for DROP, above ARP's ~3 s for the absent host
    resolver: str | None = None  # nameserver for the probing namespace's resolv.conf
    state_without_root: PortState | None = None  # when ICMP cannot be watched, if different
    reason_without_root: Reason | None = None
    note: str = ""
    listener: str = "plain"  # "plain", "full-queue" (listen(1), filled, never accepts), "v6only" ([::])
    client_rules: tuple[tuple[str, ...], ...] = ()  # iptables arguments, run in the client namespace
    server_nft: str = ""  # an nft script (nft -f -) loaded in the server namespace
    client_nft: str = ""  # the same, in the client namespace
    client_routes: tuple[tuple[str, ...], ...] = ()  # `ip route add` arguments, in the client namespace

    @property
    def target(self) -> str:
        return format_endpoint(self.target_host, SCENARIO_PORT)


def _reject(kind: str) -> tuple[tuple[str, ...], ...]:
    return (("-A", "INPUT", "-p", "tcp", "--dport", str(SCENARIO_PORT), "-j", "REJECT",
             "--reject-with", kind),)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "open", "a listener on 198.18.0.2:8000", SERVER_ADDR, (), "client", SERVER_ADDR,
        PortState.OPEN, Reason.SYN_ACK, Cause.OK,
    ),
    Scenario(
        "nothing-listening", "nothing listens on 198.18.0.2:8000", None, (), "client", SERVER_ADDR,
        PortState.CLOSED, Reason.CONN_REFUSED, Cause.NOTHING_LISTENING,
    ),
    Scenario(
        "drop", "a listener behind iptables -j DROP", SERVER_ADDR,
        (("-A", "INPUT", "-p", "tcp", "--dport", str(SCENARIO_PORT), "-j", "DROP"),), "client", SERVER_ADDR,
        PortState.FILTERED, Reason.NO_RESPONSE, Cause.FIREWALL_DROP, timeout=0.5,
        note="silence until --timeout; an absent host behind a router looks the same",
    ),
    Scenario(
        "reject-port-unreachable", "a listener behind REJECT --reject-with icmp-port-unreachable",
        SERVER_ADDR, _reject("icmp-port-unreachable"), "client", SERVER_ADDR,
        PortState.FILTERED, Reason.PORT_UNREACH, Cause.FIREWALL_REJECT,
        state_without_root=PortState.CLOSED, reason_without_root=Reason.CONN_REFUSED,
        note="both end connect() with ECONNREFUSED; only the ICMP quote (raw socket, root) tells them apart",
    ),
    Scenario(
        "reject-tcp-reset", "a listener behind REJECT --reject-with tcp-reset", SERVER_ADDR,
        _reject("tcp-reset"), "client", SERVER_ADDR,
        PortState.CLOSED, Reason.CONN_REFUSED, Cause.NOTHING_LISTENING,
        note="a forged RST is identical on the wire to a closed port's RST: no tool can tell them apart",
    ),
    Scenario(
        "reject-admin-prohibited", "a listener behind REJECT --reject-with icmp-admin-prohibited",
        SERVER_ADDR, _reject("icmp-admin-prohibited"), "client", SERVER_ADDR,
        PortState.FILTERED, Reason.ADMIN_PROHIBITED, Cause.FIREWALL_REJECT,
        state_without_root=PortState.UNREACHABLE, reason_without_root=Reason.HOST_UNREACH,
        note="EHOSTUNREACH either way; the ICMP code (13) says 'administratively prohibited'",
    ),
    Scenario(
        "reject-host-unreachable", "a listener behind REJECT --reject-with icmp-host-unreachable",
        SERVER_ADDR, _reject("icmp-host-unreachable"), "client", SERVER_ADDR,
        PortState.UNREACHABLE, Reason.HOST_UNREACH, Cause.FIREWALL_REJECT,
        note="the ICMP comes from the target's own address (icmp_from): it is up, a rule on it rejects",
    ),
    Scenario(
        "loopback-only-bind", "listener on 127.0.0.1:8000; probed as 198.18.0.2:8000 on the same host",
        "127.0.0.1", (), "server", SERVER_ADDR,
        PortState.CLOSED, Reason.NO_LISTENER, Cause.LOOPBACK_ONLY_BIND,
        note="an address of this host: read from its socket table (--connect: closed / conn-refused); "
             "explain names the 127.0.0.1 listener",
    ),
    Scenario(
        "absent-host", "198.18.0.3: on the link, but no such host (ARP gets no answer)", None, (),
        "client", ABSENT_HOST,
        PortState.UNREACHABLE, Reason.HOST_UNREACH, Cause.HOST_UNREACHABLE, timeout=5.0,
        note="Linux gives up ARP after ~3 s and reports EHOSTUNREACH",
    ),
    Scenario(
        "no-route", "198.19.0.1 from a namespace without a default route", None, (), "client",
        UNROUTED_HOST, PortState.UNREACHABLE, Reason.NET_UNREACH, Cause.NO_ROUTE,
        note="ENETUNREACH at once: the packet is never sent",
    ),
    Scenario(
        "dns-failure", "nothing.invalid, resolved via a nameserver (198.18.0.2) where no DNS server runs",
        None, (), "client", UNRESOLVABLE_NAME,
        PortState.ERROR, Reason.DNS_FAILURE, Cause.DNS_FAILURE, resolver=SERVER_ADDR,
        note="the resolver's query gets ICMP port-unreachable, so the failure is quick",
    ),
)

# nft variants of the iptables rows: an inet table of our own, one chain on the hook, one rule.
def _nft(hook: str, rule: str) -> str:
    return (f"table inet netdiag_test {{\n chain {hook} {{\n"
            f"  type filter hook {hook} priority 0; policy accept;\n  {rule}\n }}\n}}\n")


_OUTPUT = ("-A", "OUTPUT", "-p", "tcp", "--dport", str(SCENARIO_PORT), "-j")
BLOCKED_NETWORK = "198.18.5.0/24"  # a route of a discarding type in the client namespace covers it
BLOCKED_HOST = "198.18.5.1"


def _route_row(kind: str, state: PortState, reason: Reason, errno_text: str) -> Scenario:
    return Scenario(
        f"route-{kind}", f"the client namespace has `ip route add {kind} {BLOCKED_NETWORK}`", None, (),
        "client", BLOCKED_HOST, state, reason, Cause.BLOCKED_ROUTE,
        client_routes=((kind, BLOCKED_NETWORK),),
        note=f"connect() fails at once with {errno_text}; explain names the route and "
             f"`ip route del {kind} {BLOCKED_NETWORK}`",
    )


SCENARIOS = (
    *SCENARIOS,
    Scenario(
        "nft-drop", "a listener behind nft `tcp dport 8000 drop` (hook input)", SERVER_ADDR, (), "client",
        SERVER_ADDR, PortState.FILTERED, Reason.NO_RESPONSE, Cause.FIREWALL_DROP, timeout=0.5,
        server_nft=_nft("input", f"tcp dport {SCENARIO_PORT} drop"), note="as the iptables DROP",
    ),
    Scenario(
        "nft-reject", "a listener behind nft `tcp dport 8000 reject` (hook input)", SERVER_ADDR, (), "client",
        SERVER_ADDR, PortState.FILTERED, Reason.PORT_UNREACH, Cause.FIREWALL_REJECT,
        server_nft=_nft("input", f"tcp dport {SCENARIO_PORT} reject"),
        state_without_root=PortState.CLOSED, reason_without_root=Reason.CONN_REFUSED,
        note="nft's plain reject sends ICMP port-unreachable, as iptables' default REJECT",
    ),
    Scenario(
        "client-output-drop", "the client's own iptables -A OUTPUT -p tcp --dport 8000 -j DROP", SERVER_ADDR,
        (), "client", SERVER_ADDR, PortState.FILTERED, Reason.ADMIN_PROHIBITED, Cause.OUTBOUND_FIREWALL,
        client_rules=((*_OUTPUT, "DROP"),), state_without_root=PortState.FILTERED,
        reason_without_root=Reason.NO_RESPONSE,
        note="the SYN never leaves: sendto() fails with EPERM (a connect() just waits); explain names the "
             "rule and its iptables -D",
    ),
    Scenario(
        "client-output-reject", "the client's own iptables -A OUTPUT -p tcp --dport 8000 -j REJECT",
        SERVER_ADDR, (), "client", SERVER_ADDR, PortState.FILTERED, Reason.ADMIN_PROHIBITED,
        Cause.OUTBOUND_FIREWALL, client_rules=((*_OUTPUT, "REJECT"),),
        state_without_root=PortState.CLOSED, reason_without_root=Reason.CONN_REFUSED,
        note="EPERM for the raw SYN; a connect() gets ECONNREFUSED from the local REJECT",
    ),
    Scenario(
        "client-nft-output-drop", "the client's own nft `tcp dport 8000 drop` on the output hook",
        SERVER_ADDR, (), "client", SERVER_ADDR, PortState.FILTERED, Reason.ADMIN_PROHIBITED,
        Cause.OUTBOUND_FIREWALL, client_nft=_nft("output", f"tcp dport {SCENARIO_PORT} drop"),
        state_without_root=PortState.FILTERED, reason_without_root=Reason.NO_RESPONSE,
        note="as the iptables OUTPUT DROP",
    ),
    Scenario(
        "client-output-policy-drop", "the client's own iptables -P OUTPUT DROP (no rule for the port)",
        SERVER_ADDR, (), "client", SERVER_ADDR, PortState.FILTERED, Reason.ADMIN_PROHIBITED,
        Cause.OUTBOUND_FIREWALL, client_rules=(("-P", "OUTPUT", "DROP"),),
        state_without_root=PortState.FILTERED, reason_without_root=Reason.NO_RESPONSE,
        note="EPERM, and the verdict names the policy: no OUTPUT rule accepts the port",
    ),
    _route_row("blackhole", PortState.ERROR, Reason.LOCAL_ERROR, "EINVAL ('Invalid argument')"),
    _route_row("prohibit", PortState.FILTERED, Reason.ADMIN_PROHIBITED, "EACCES ('Permission denied')"),
    _route_row("unreachable", PortState.UNREACHABLE, Reason.HOST_UNREACH,
               "EHOSTUNREACH ('No route to host')"),
    _route_row("throw", PortState.UNREACHABLE, Reason.NET_UNREACH, "ENETUNREACH ('Network is unreachable')"),
    Scenario(
        "accept-queue-full", "listen(1), never accept(), two connections waiting; asked on the same host",
        SERVER_ADDR, (), "server", SERVER_ADDR, PortState.OPEN, Reason.LISTENER, Cause.ACCEPT_QUEUE_FULL,
        listener="full-queue",
        note="the socket table shows the listener and its queue (2 of 1): the kernel drops new SYNs until "
             "the server calls accept()",
    ),
    Scenario(
        "accept-queue-full-from-client", "the same full queue, asked from the client", SERVER_ADDR, (),
        "client", SERVER_ADDR, PortState.FILTERED, Reason.NO_RESPONSE, Cause.FIREWALL_DROP, timeout=0.5,
        listener="full-queue",
        note="the SYN is dropped: from another host a full queue looks like a DROP rule (the verdict names "
             "both)",
    ),
    Scenario(
        "v6only-listener", "a [::]:8000 listener with IPV6_V6ONLY; asked as 198.18.0.2:8000 on the same host",
        "::", (), "server", SERVER_ADDR, PortState.CLOSED, Reason.NO_LISTENER, Cause.WRONG_ADDRESS_FAMILY,
        listener="v6only",
        note="the socket table sees the option (psutil cannot): IPv4 is refused; explain names the IPv6 "
             "listener",
    ),
)

SCENARIOS_BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}


# --- UDP (`probe --udp`): probe only; explain diagnoses TCP connections -----------------------------

_UDP_SERVER = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while sys.argv[3] == "echo":
    data, peer = sock.recvfrom(2048)
    sock.sendto(b"pong", peer)
sys.stdin.read()
"""


@dataclass(frozen=True)
class UdpScenario:
    """A UDP situation on the ``net`` fixture, probed from the client namespace with ``probe --udp``."""

    name: str
    summary: str
    server: str | None  # "echo" (answers every datagram), "silent" (bound, never answers), None
    rules: tuple[tuple[str, ...], ...]
    state: PortState
    reason: Reason
    cause: Cause  # `explain --udp`
    timeout: float = 0.5
    note: str = ""
    client_rules: tuple[tuple[str, ...], ...] = ()  # iptables arguments, run in the client namespace

    @property
    def target(self) -> str:
        return format_endpoint(SERVER_ADDR, SCENARIO_PORT)


def _udp_rule(*action: str) -> tuple[tuple[str, ...], ...]:
    return (("-A", "INPUT", "-p", "udp", "--dport", str(SCENARIO_PORT), "-j", *action),)


UDP_SCENARIOS: tuple[UdpScenario, ...] = (
    UdpScenario("udp-open", "a UDP server on 198.18.0.2:8000 that answers", "echo", (),
                # the reply ends it: a slow CI is no risk
                PortState.OPEN, Reason.UDP_RESPONSE, Cause.OK, timeout=3.0,
                note="only a reply proves a UDP port open"),
    UdpScenario("udp-silent-server", "a UDP server that reads and never answers", "silent", (),
                PortState.OPEN_FILTERED, Reason.NO_RESPONSE, Cause.FIREWALL_DROP,
                note="a server that ignores the probe datagram looks exactly like a DROP rule"),
    UdpScenario("udp-nothing-listening", "nothing bound to UDP 198.18.0.2:8000", None, (),
                PortState.CLOSED, Reason.PORT_UNREACH, Cause.NOTHING_LISTENING,
                note="the kernel answers ICMP port-unreachable"),
    UdpScenario("udp-drop", "a UDP server behind iptables -j DROP", "echo", _udp_rule("DROP"),
                PortState.OPEN_FILTERED, Reason.NO_RESPONSE, Cause.FIREWALL_DROP,
                note="silence, as for the silent server"),
    UdpScenario("udp-reject-port-unreachable", "a UDP server behind REJECT (icmp-port-unreachable)", "echo",
                _udp_rule("REJECT", "--reject-with", "icmp-port-unreachable"),
                PortState.CLOSED, Reason.PORT_UNREACH, Cause.NOTHING_LISTENING,
                note="the default REJECT forges the closed port's own answer: no tool can tell them apart"),
    UdpScenario("udp-reject-admin-prohibited", "a UDP server behind REJECT (icmp-admin-prohibited)", "echo",
                _udp_rule("REJECT", "--reject-with", "icmp-admin-prohibited"),
                PortState.FILTERED, Reason.ADMIN_PROHIBITED, Cause.FIREWALL_REJECT,
                note="without root (no ICMP watch): unreachable / host-unreach, the errno is EHOSTUNREACH"),
    UdpScenario("udp-client-output-drop", "the client's own iptables -A OUTPUT -p udp --dport 8000 -j DROP",
                "echo", (), PortState.FILTERED, Reason.ADMIN_PROHIBITED, Cause.OUTBOUND_FIREWALL,
                client_rules=(("-A", "OUTPUT", "-p", "udp", "--dport", str(SCENARIO_PORT), "-j", "DROP"),),
                note="send() fails with EPERM: the datagram never leaves"),
    UdpScenario("udp-client-output-reject",
                "the client's own iptables -A OUTPUT -p udp --dport 8000 -j REJECT", "echo", (),
                PortState.FILTERED, Reason.ADMIN_PROHIBITED, Cause.OUTBOUND_FIREWALL,
                client_rules=(("-A", "OUTPUT", "-p", "udp", "--dport", str(SCENARIO_PORT), "-j", "REJECT"),),
                note="EPERM as well (measured): a local REJECT of UDP does not look like a closed port"),
)


@contextmanager
def stage_udp(scenario: UdpScenario, net: TwoHosts) -> Iterator[Namespace]:
    """Build ``scenario`` on ``net``; yields the client namespace to probe from."""
    with ExitStack() as stack:
        if scenario.server is not None:
            stack.enter_context(_server(net.server, _UDP_SERVER, SERVER_ADDR, SCENARIO_PORT, scenario.server))
        for rule in scenario.rules:
            net.server.iptables(*rule)
        for rule in scenario.client_rules:
            net.client.iptables(*rule)
        yield net.client


@dataclass(frozen=True)
class StagedScenario:
    """A scenario built on a ``net`` fixture: where to run netdiag and what to give it."""

    scenario: Scenario
    namespace: Namespace
    target: str
    timeout: float


@contextmanager
def stage(scenario: Scenario, net: TwoHosts) -> Iterator[StagedScenario]:
    """Build ``scenario`` on ``net`` (listener, rules, resolver) and tear the listener down afterwards."""
    with ExitStack() as stack:
        if scenario.listen_on is not None:
            stack.enter_context(_server(net.server, _LISTENERS[scenario.listener], scenario.listen_on,
                                        SCENARIO_PORT))
        for rule in scenario.rules:
            net.server.iptables(*rule)
        for rule in scenario.client_rules:
            net.client.iptables(*rule)
        if scenario.server_nft:
            net.server.run("nft", "-f", "-", input=scenario.server_nft)
        if scenario.client_nft:
            net.client.run("nft", "-f", "-", input=scenario.client_nft)
        for route in scenario.client_routes:
            net.client.run("ip", "route", "add", *route)
        namespace = net.client if scenario.probe_from == "client" else net.server
        if scenario.resolver is not None:
            stack.enter_context(namespace_resolv_conf(
                namespace, f"nameserver {scenario.resolver}\noptions timeout:1 attempts:1\n"))
        yield StagedScenario(scenario, namespace, scenario.target, scenario.timeout)


@contextmanager
def _server(ns: Namespace, code: str, host: str, port: int, *args: str) -> Iterator[subprocess.Popen[str]]:
    """A server script inside ``ns``, started once it prints "ready" (the TCP one never accepts: the
    kernel completes handshakes for it)."""
    process = ns.popen(sys.executable, "-c", code, host, str(port), *args, stdin=subprocess.PIPE)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 15)
        line = process.stdout.readline() if ready else ""
        if line.strip() != "ready":
            process.kill()
            _, err = process.communicate(timeout=10)
            raise RuntimeError(f"scenario server on {host}:{port} did not start: {err}")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


MATRIX_PAGE = Path(__file__).resolve().parents[2] / "docs" / "firewall-matrix.md"

_MATRIX_INTRO = """# Firewall matrix: what `probe` and `explain` say about each situation

<!-- Generated from tests/helpers/scenarios.py: edit the table there, then run
     `.venv/bin/python tests/helpers/scenarios.py`
     (tests/scenarios/test_probe_matrix.py fails when this page is stale). -->

Every row is a real network built by the tests: two network namespaces joined by a veth pair (client
198.18.0.1, server 198.18.0.2, addresses from the RFC 2544 benchmarking range, no default route), a
listener and iptables or nft rules inside the server namespace (INPUT) or the client namespace (OUTPUT),
and routes of the discarding types in the client namespace. tests/scenarios/test_probe_matrix.py runs
`netdiag probe` against every row and checks the state and reason; tests/scenarios/test_explain_matrix.py
runs `netdiag explain` and checks the cause, and that the new verdicts name their rule, route or queue.
The probe column is what netdiag says as root, when it can watch ICMP errors with a raw socket; the last
column says what changes without root, when only the errno is known.

| scenario | set-up | `probe` state / reason | `explain` cause | without root | why |
|---|---|---|---|---|---|
"""

_MATRIX_OUTRO = """
Notes:

* **DROP vs. absent host.** Silence is all a DROP rule gives; netdiag says `filtered` / `no-response` after
  `--timeout` (2 s by default). An absent host on the local link is different: the kernel's ARP gives up
  after about 3 s and reports EHOSTUNREACH, so it is `unreachable`.
* **REJECT tcp-reset** is indistinguishable from a closed port for every tool, nmap included: the RST a
  firewall forges is the RST a closed port sends.
* **REJECT icmp-host-unreachable.** The ICMP error comes from the target's own address, which probe
  reports as `icmp_from`; a host that sends ICMP about itself is up, so explain blames a firewall rule on
  it. When an absent host is reported unreachable, the error comes from our own kernel (ARP failed).
* **Routes that discard.** What connect() and send() return for each route type was measured in a
  namespace: `blackhole` EINVAL ('Invalid argument'), `prohibit` EACCES ('Permission denied'),
  `unreachable` EHOSTUNREACH ('No route to host'), `throw` ENETUNREACH ('Network is unreachable', when no
  other table has a route). `ip route get` fails with the same error, so explain reads
  `ip route show table all match ADDRESS` to name the route.
* **This host's OUTPUT.** A locally generated packet that an OUTPUT rule drops or rejects makes the
  half-open SYN's sendto() fail with EPERM (`filtered` / `admin-prohibited`); a plain connect() waits
  (DROP) or is refused (TCP REJECT). explain reads the rule and names it with its `iptables -D`.
* **A full accept queue** (the server listens but does not call accept()) makes the kernel drop new
  SYNs. On the server's host the socket table shows it (`accept queue 2 of 1`); from another host it is
  silence, like a DROP rule, and explain says both.
* The ICMP rate limit (`net.ipv4.icmp_ratelimit`, 1 s by default) is set to 0 in the test namespaces, so
  a burst of REJECTed probes is never mistaken for silence; on real hosts a large scan of a REJECTing
  host can show some `filtered` / `no-response` rows for this reason.
"""

_UDP_INTRO = """
## UDP (`netdiag probe --udp`)

The same two namespaces, probed from the client with one datagram, `hello` (the default `--payload`,
sent again at half the timeout); `probe --udp` and `explain --udp` both run against every row. As for
TCP, the state is what netdiag says as root.

| scenario | set-up | `probe --udp` state / reason | `explain --udp` cause | why |
|---|---|---|---|---|
"""

_UDP_OUTRO = """
UDP has no handshake: a port is `open` only when something answers, and a service that ignores the probe's
datagram cannot be told from a DROP rule, hence `open|filtered`, the word nmap uses for the same silence.
"""


def matrix_markdown() -> str:
    """docs/firewall-matrix.md, generated from ``SCENARIOS``."""
    rows = []
    for s in SCENARIOS:
        without_root = "same"
        if s.state_without_root is not None and s.reason_without_root is not None:
            without_root = f"{s.state_without_root.value} / {s.reason_without_root.value}"
        setup = f"{s.summary} (target `{s.target}`, from the {s.probe_from} namespace)"
        rows.append(f"| `{s.name}` | {setup} | {s.state.value} / {s.reason.value} | `{s.cause.value}` "
                    f"| {without_root} | {s.note} |")
    udp_rows = [f"| `{s.name}` | {s.summary} (target `{s.target}`) | {s.state.value} / {s.reason.value} "
                f"| `{s.cause.value}` | {s.note} |" for s in UDP_SCENARIOS]
    return (_MATRIX_INTRO + "\n".join(rows) + "\n" + _MATRIX_OUTRO + _UDP_INTRO + "\n".join(udp_rows)
            + "\n" + _UDP_OUTRO)


if __name__ == "__main__":
    MATRIX_PAGE.write_text(matrix_markdown())
    print(f"wrote {MATRIX_PAGE}")
