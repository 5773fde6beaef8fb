"""Properties of the pasted-error reader: any text gets a reading (never an exception), and the reading
of a real error line does not depend on what surrounds it (a traceback, blank lines, indentation). And of
the diagnosis engine: any combination of facts gets exactly one verdict, with fixes and a checklist."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netdiag.core.catalog import Cause
from netdiag.core.diagnosis import diagnose
from netdiag.core.error_text import read_error_text
from netdiag.core.observations import FirewallObservation, FirewallRule, Observations, RouteObservation
from netdiag.core.probe import PortState, ProbeResult, Proto, Reason
from netdiag.core.sockets import SocketRow

FAST = settings(max_examples=120, deadline=None)

KNOWN_LINES = {
    "ConnectionRefusedError: [Errno 111] Connection refused": Cause.NOTHING_LISTENING,
    "ConnectionResetError: [Errno 104] Connection reset by peer": Cause.CONNECTION_RESET,
    "socket.gaierror: [Errno -2] Name or service not known": Cause.DNS_FAILURE,
    "TimeoutError: timed out": Cause.TIMEOUT,
    "OSError: [Errno 98] Address already in use": Cause.ADDRESS_IN_USE,
    "BrokenPipeError: [Errno 32] Broken pipe": Cause.BROKEN_PIPE,
}

# Traceback frames with neutral names: no errno, symbol, exception name, port or operation word in them.
identifiers = st.from_regex(r"[a-z]{1,3}_[a-z]{1,3}", fullmatch=True)
frames = st.lists(
    st.builds(lambda f, n, fn: f'  File "/home/st/{f}.py", line {n}, in {fn}\n    {fn}()',
              identifiers, st.integers(1, 9999), identifiers),
    max_size=4,
)


@FAST
@given(st.text(max_size=200))
def test_any_text_gets_a_reading(text: str) -> None:
    reading = read_error_text(text)
    assert isinstance(reading.cause, Cause)
    assert reading.recognised == (reading.cause is not Cause.UNKNOWN)
    assert read_error_text(text).cause is reading.cause  # deterministic


@FAST
@given(line=st.sampled_from(sorted(KNOWN_LINES)), frame_lines=frames,
       before=st.sampled_from(["", "\n", "   ", "\n\n  "]), after=st.sampled_from(["", "\n", " \n\n"]))
def test_a_known_line_reads_the_same_inside_a_traceback(line: str, frame_lines: list[str], before: str,
                                                        after: str) -> None:
    pasted = before + "Traceback (most recent call last):\n" + "\n".join(frame_lines) + "\n" + line + after
    assert read_error_text(pasted).cause is KNOWN_LINES[line]
    assert read_error_text(line).cause is KNOWN_LINES[line]


# --- the diagnosis engine: any combination of facts gets one verdict with its fixes -----------------------

ADDRESSES = ("127.0.0.1", "::1", "0.0.0.0", "::", "192.0.2.10", "198.51.100.7", "2001:db8::7")
STEP_NAMES = {"resolve", "route", "listeners", "connect", "firewall", "os-firewall"}
ports = st.sampled_from((80, 8000, 8001, 8080, 5353))
protos = st.sampled_from(tuple(Proto))
attempts = st.builds(
    lambda address, port, proto, state, reason, errno_: ProbeResult(address, address, port, proto, state,
                                                                    reason, 0.1, errno_),
    st.sampled_from(ADDRESSES), ports, protos, st.sampled_from(tuple(PortState)),
    st.sampled_from(tuple(Reason)), st.sampled_from((None, 1, 13, 101, 104, 110, 111, 113)))
rows = st.builds(
    lambda proto, address, port, state: SocketRow(proto, "ipv6" if ":" in address else "ipv4", address, port,
                                                  None, None, state, 42, "python3"),
    st.sampled_from(("tcp", "udp")), st.sampled_from(ADDRESSES), ports,
    st.sampled_from(("LISTEN", "UNCONN", "ESTABLISHED")))
firewalls = st.one_of(st.none(), st.builds(
    FirewallObservation, st.booleans(), st.just(("iptables",)),
    st.lists(st.builds(FirewallRule, st.just("-A INPUT -p tcp --dport 8000 -j DROP"),
                       st.sampled_from(("drop", "reject", "accept")), st.just("iptables")),
             max_size=2).map(tuple),
    st.sampled_from(((), ("iptables INPUT policy DROP",))), st.sampled_from((None, "needs root")),
))


@st.composite
def observations(draw: st.DrawFn) -> Observations:
    addresses = tuple(draw(st.lists(st.sampled_from(ADDRESSES), max_size=3, unique=True)))
    route_error = draw(st.sampled_from((None, "Network is unreachable")))
    routes = tuple(RouteObservation(a, None, None, route_error) if route_error
                   else RouteObservation(a, "192.0.2.10", "eth0") for a in addresses)
    listeners = draw(st.one_of(st.none(), st.lists(rows, max_size=4).map(tuple)))
    return Observations(
        host=draw(st.sampled_from(("localhost", "127.0.0.1", "example.test"))), port=draw(ports),
        proto=draw(protos), addresses=addresses, resolve_error=draw(st.sampled_from((None, "no such host"))),
        routes=routes, local_target=draw(st.booleans()), listeners=listeners,
        attempts=tuple(draw(st.lists(attempts, max_size=3))), firewall=draw(firewalls),
        neighbour_reachable=draw(st.sampled_from((None, True, False))),
        platform=draw(st.sampled_from(("linux", "macos", "windows"))),
    )


@FAST
@given(observations())
def test_any_facts_get_one_verdict_with_fixes_and_a_checklist(obs: Observations) -> None:
    diagnosis = diagnose(obs)
    assert isinstance(diagnosis.cause, Cause) and diagnosis.verdict
    assert diagnosis.ok is (diagnosis.cause is Cause.OK)
    if not diagnosis.ok:
        assert diagnosis.fixes, diagnosis.verdict
    assert not any(word in fix.split() for fix in diagnosis.fixes for word in ("HOST", "PORT", "HOST:PORT"))
    assert not any("connect to 0.0.0.0" in fix.lower() for fix in diagnosis.fixes)
    names = [step.name for step in diagnosis.steps]
    assert names[0] == "resolve" and set(names) <= STEP_NAMES and len(names) == len(set(names))
    assert diagnose(obs) == diagnosis  # deterministic
