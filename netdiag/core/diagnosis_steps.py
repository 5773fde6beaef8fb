"""The checklist of ``netdiag explain HOST:PORT`` (one ``Step`` per check) and the target-specific fixes.

Pure: built from ``Observations`` only. Step names are stable JSON values: ``resolve``, ``route``,
``listeners``, ``connect``, ``firewall``, ``os-firewall``.
"""

from __future__ import annotations

from netdiag.core.catalog import Cause
from netdiag.core.observations import (
    Observations,
    Step,
    StepStatus,
    accepts,
    describe_attempt,
    describe_row,
    effective_destination,
    family_of,
    full_queue,
    is_loopback,
    is_unspecified,
    listening,
    near_ports,
    rules_on_path,
    serves,
)
from netdiag.core.probe import PortState, ProbeMethod, Proto
from netdiag.core.targets import format_endpoint
from netdiag.core.verdict_rules import outbound_fix, route_fix


def build_steps(obs: Observations) -> tuple[Step, ...]:
    steps = [_resolve_step(obs)]
    if obs.resolve_error is None:
        steps.extend([_route_step(obs), _listeners_step(obs), _connect_step(obs), _firewall_step(obs)])
        hint = _os_firewall_step(obs)
        if hint is not None:
            steps.append(hint)
    return tuple(steps)


def _resolve_step(obs: Observations) -> Step:
    if obs.resolve_error is not None:
        return Step("resolve", StepStatus.FAILED, f"cannot resolve {obs.host}: {obs.resolve_error}")
    unspecified = [a for a in obs.addresses if is_unspecified(a)]
    if unspecified:
        loopback = effective_destination(unspecified[0])
        return Step("resolve", StepStatus.WARNING,
                    f"{unspecified[0]} is the address a server binds (every address), not one to connect to",
                    (f"Linux and macOS send this connection to {loopback} (this machine); Windows refuses it "
                     f"(WinError 10049): connect to {loopback} or to the server's own address instead.",))
    if list(obs.addresses) == [obs.host]:
        return Step("resolve", StepStatus.OK, f"{obs.host} is an address: no lookup needed")
    families = ", ".join(f"IPv{family_of(a)} {a}" for a in obs.addresses)
    return Step("resolve", StepStatus.OK, f"{obs.host} resolves to {families}")


def _route_step(obs: Observations) -> Step:
    if not obs.routes:
        return Step("route", StepStatus.SKIPPED, "route not checked")
    lines = []
    for route in obs.routes:
        if route.blocked_by:
            lines.append(f"the route to {route.address} is '{route.blocked_by}': it discards the traffic"
                         + (f" ({route.error})" if route.error else ""))
        elif route.error:
            lines.append(f"no route to {route.address}: {route.error}")
        else:
            local = " (this machine)" if route.interface and is_loopback(route.source_address or "") else ""
            lines.append(f"to {route.address} from {route.source_address} via "
                         f"{route.interface or 'an unknown interface'}{local}")
    failed = sum(1 for route in obs.routes if route.error or route.blocked_by)
    status = StepStatus.OK if not failed else StepStatus.FAILED if failed == len(obs.routes) \
        else StepStatus.WARNING
    return Step("route", status, lines[0], tuple(lines[1:]))


def _listeners_step(obs: Observations) -> Step:
    if not obs.local_target:
        return Step("listeners", StepStatus.SKIPPED,
                    "the target is another machine: its listening sockets cannot be seen from here")
    if obs.listeners is None:
        why = f": {obs.listing_note}" if obs.listing_note else ""
        return Step("listeners", StepStatus.SKIPPED, f"could not list this machine's sockets{why}")
    proto = obs.proto
    exact = [row for row in listening(obs.listeners, proto) if row.local_port == obs.port]
    serving = [row for row in exact if any(accepts(obs, row, a) for a in obs.addresses)]
    details = tuple(f"listening: {describe_row(row)}" for row in exact)
    if obs.listing_note:
        details += (f"listing incomplete: {obs.listing_note}",)
    queue = full_queue(obs)
    if serving and queue is not None:
        through = any(a.state == PortState.OPEN and a.method != ProbeMethod.SOCKET_TABLE
                      for a in obs.attempts)
        return Step("listeners", StepStatus.WARNING if through else StepStatus.FAILED,
                    f"{describe_row(serving[0])} listens, but its accept queue is full "
                    f"({queue.queued} waiting, backlog {queue.backlog}): the server is not calling accept()",
                    details)
    if serving:
        takes = "is bound and receives datagrams for" if serving[0].proto == "udp" else "listens and accepts"
        return Step("listeners", StepStatus.OK,
                    f"{describe_row(serving[0])} {takes} {', '.join(obs.addresses)}", details)
    if exact:
        v6only = {x.address for x in obs.table or () if x.v6only}
        where = ", ".join(format_endpoint(row.local_address, obs.port)
                          + (" (IPV6_V6ONLY: IPv6 only)" if row.local_address in v6only else "")
                          for row in exact)
        summary = f"a {proto.value.upper()} server listens on port {obs.port}, but only on {where}"
        return Step("listeners", StepStatus.FAILED, summary, details)
    other = [row for row in listening(obs.listeners, Proto.UDP if proto == Proto.TCP else Proto.TCP)
             if row.local_port == obs.port]
    near = [row for row in listening(obs.listeners, proto) if row.local_port in near_ports(obs.port)]
    extra = tuple(f"on the other protocol: {describe_row(row)}" for row in other) + \
        tuple(f"on a nearby port: {describe_row(row)}" for row in near)
    return Step("listeners", StepStatus.FAILED,
                f"nothing listens on {proto.value.upper()} port {obs.port} on this machine", details + extra)


_VERBS = {ProbeMethod.CONNECT: "connect", ProbeMethod.SYN: "SYN probe (half-open, never accepted)",
          ProbeMethod.SOCKET_TABLE: "socket table (nothing sent)"}


def _connect_step(obs: Observations) -> Step:
    if not obs.attempts:
        return Step("connect", StepStatus.SKIPPED, "no connection attempted")
    lines = tuple(describe_attempt(a) for a in obs.attempts)
    opened = [a for a in obs.attempts if a.state in (PortState.OPEN,)]
    udp_silent = obs.proto == Proto.UDP and all(a.state == PortState.OPEN_FILTERED for a in obs.attempts)
    verb = "UDP probe" if obs.proto == Proto.UDP else _VERBS[obs.attempts[0].method]
    if opened and all(a.method == ProbeMethod.SOCKET_TABLE for a in opened) and full_queue(obs) is not None:
        status = StepStatus.FAILED  # listening, but a connection would wait: the kernel drops its SYN
    elif len(opened) == len(obs.attempts):
        status = StepStatus.OK
    elif opened or udp_silent:
        status = StepStatus.WARNING
    else:
        status = StepStatus.FAILED
    return Step("connect", status, f"{verb}: {lines[0]}", lines[1:])


def _firewall_step(obs: Observations) -> Step:
    fw = obs.firewall
    scope = "this host's rules (this network namespace's; the server's own firewall can differ)" \
        if not obs.local_target else "this host's rules (rules are per network namespace)"
    if fw is None:
        return Step("firewall", StepStatus.SKIPPED, "firewall not read")
    if not fw.readable:
        return Step("firewall", StepStatus.WARNING, f"cannot read the firewall: {fw.note}", (scope,))
    tools = "/".join(fw.tools) or "firewall"
    shown = rules_on_path(obs)[:1]
    details = tuple(f"{rule.tool}: {rule.text}" for rule in fw.rules if rule not in shown) + \
        fw.default_policies + (scope,)
    if shown:
        rule = shown[0]
        way = " outgoing" if rule.direction == "out" else ""
        summary = f"{rule.tool} {rule.action}s{way} port {obs.port}: {rule.text}"
        if any(a.state == PortState.OPEN and a.method != ProbeMethod.SOCKET_TABLE for a in obs.attempts):
            return Step("firewall", StepStatus.WARNING,
                        f"{summary}; the attempt got through, so the rule's chain or its other conditions "
                        "(source, interface, state) do not apply to this path", details)
        return Step("firewall", StepStatus.FAILED, summary, details)
    if fw.default_policies:
        return Step("firewall", StepStatus.WARNING,
                    f"no {tools} rule for port {obs.port}, but {fw.default_policies[0]}", details)
    return Step("firewall", StepStatus.OK, f"no {tools} rule blocks port {obs.port}", details)


def _os_firewall_step(obs: Observations) -> Step | None:
    if obs.platform == "windows":
        return Step("os-firewall", StepStatus.SKIPPED,
                    "Windows Defender Firewall is not read: check its inbound rules for the port",
                    ("PowerShell: Get-NetFirewallRule -Direction Inbound -Enabled True | "
                     f"Get-NetFirewallPortFilter | Where-Object LocalPort -eq {obs.port}",
                     f"Test from the client: Test-NetConnection {obs.host} -Port {obs.port}"))
    if obs.platform == "macos":
        return Step("os-firewall", StepStatus.SKIPPED,
                    "the macOS application firewall is not read: it filters per program, not per port",
                    ("/usr/libexec/ApplicationFirewall/socketfilterfw --getglobalstate",
                     "/usr/libexec/ApplicationFirewall/socketfilterfw --listapps",
                     "pf rules: sudo pfctl -sr"))
    return None


def nothing_listens_here(obs: Observations) -> bool:
    """The target is this machine, its listing was read, and no socket there serves the port."""
    if not obs.local_target or obs.listeners is None:
        return False
    return not any(row.local_port == obs.port and any(serves(row, a) for a in obs.addresses)
                   for row in listening(obs.listeners, obs.proto))


def start_server_fix(obs: Observations) -> str:
    udp = " --udp" if obs.proto == Proto.UDP else ""
    root = " (as root: ports below 1024 are privileged)" if obs.port < 1024 else ""
    where = format_endpoint(obs.addresses[0] if obs.addresses else "127.0.0.1", obs.port)
    return f"Start the server on port {obs.port}, for example: netdiag listen {where}{udp}{root}"


def specific_fixes(cause: Cause, obs: Observations) -> tuple[str, ...]:
    """Fixes that name this target's real addresses and ports, shown before the catalog's general ones."""
    rows = listening(obs.listeners, obs.proto)
    udp = " --udp" if obs.proto == Proto.UDP else ""
    same_port = [row for row in rows if row.local_port == obs.port]
    if cause == Cause.LOOPBACK_ONLY_BIND and same_port:
        bound = same_port[0]
        return (f"Connect to {format_endpoint(bound.local_address, obs.port)} from this machine, or restart "
                f"the server bound to 0.0.0.0:{obs.port} to accept {', '.join(obs.addresses)}.",)
    if cause == Cause.WRONG_ADDRESS_FAMILY and same_port:
        bound = same_port[0]
        wildcard = "[::]" if family_of(bound.local_address) == 4 else "0.0.0.0"
        reach = effective_destination(bound.local_address)
        return (f"Connect to {format_endpoint(reach, obs.port)} (the address family the server uses), "
                f"or make the server listen on {wildcard}:{obs.port} as well.",)
    if cause == Cause.NEAR_PORT:
        for candidate in near_ports(obs.port):
            if any(row.local_port == candidate for row in rows):
                return (f"Use port {candidate}: netdiag connect {format_endpoint(obs.host, candidate)}{udp}",
                        f"Or restart the server on port {obs.port}.")
    if cause == Cause.PROTOCOL_MISMATCH:
        flag = "" if obs.proto == Proto.UDP else " --udp"
        return (f"Use the server's protocol: netdiag explain {format_endpoint(obs.host, obs.port)}{flag}",)
    if cause == Cause.NOTHING_LISTENING and obs.local_target:
        return (start_server_fix(obs),)
    if cause == Cause.BLOCKED_ROUTE:
        return route_fix(obs)
    if cause == Cause.OUTBOUND_FIREWALL:
        return outbound_fix(obs)
    return ()
