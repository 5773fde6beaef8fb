"""The diagnosis rules that look at this host's own side of the path, and the check that a verdict agrees
with its own evidence. Pure.

Why a separate module: ``netdiag.core.diagnosis`` walks its rules in order; the ones here cover what an
outgoing connection meets on *this* machine before any packet leaves (a route of a discarding type, an
OUTPUT rule), and what a listener's own accept queue does to new connections. ``contradictions`` is the
safety net every verdict passes through: a verdict that disagrees with a step of its own checklist is
replaced by an honest "cannot tell" rather than shown.
"""

from __future__ import annotations

import errno as errno_codes

from netdiag.core.catalog import Cause
from netdiag.core.observations import (
    Diagnosis,
    Observations,
    StepStatus,
    accepts,
    describe_attempt,
    full_queue,
    listening,
    rules_on_path,
)
from netdiag.core.probe import PortState, ProbeMethod, ProbeResult, Proto, Reason
from netdiag.core.socket_table import serves as table_serves

LOCAL_DENIAL = (errno_codes.EPERM, errno_codes.EACCES)

# What connect()/send() returns for each discarding route type (measured on Linux 6.x in a namespace:
# ``ip route add blackhole 198.18.5.0/24`` then connect/sendto to 198.18.5.1).
ROUTE_ERRNO = {
    "blackhole": "EINVAL, 'Invalid argument'",
    "prohibit": "EACCES, 'Permission denied'",
    "unreachable": "EHOSTUNREACH, 'No route to host'",
    "throw": "ENETUNREACH, 'Network is unreachable'",
}


def _none_open(obs: Observations) -> bool:
    return bool(obs.attempts) and not any(a.state == PortState.OPEN for a in obs.attempts)


def _silent(obs: Observations) -> list[ProbeResult]:
    return [a for a in obs.attempts if a.reason == Reason.NO_RESPONSE]


def blocked_route(obs: Observations) -> str | None:
    """A route of type blackhole / prohibit / unreachable / throw covers the target."""
    routes = [route for route in obs.routes if route.blocked_by]
    if not routes or not _none_open(obs):
        return None
    route = routes[0]
    kind = (route.blocked_by or "").split()[0]
    said = ROUTE_ERRNO.get(kind)
    returns = f": connect() and send() fail at once with {said}" if said else ""
    return (f"This machine's routing table sends {route.address} to the route '{route.blocked_by}', "
            f"which discards the traffic before it leaves{returns}.")


def outbound_firewall(obs: Observations) -> str | None:
    """This host's OUTPUT path stops the packet: a local-denial errno, or a silent/refused attempt with an
    outgoing rule or policy for the port."""
    if not _none_open(obs):
        return None
    fw = obs.firewall
    rules = fw.outgoing_blocks if fw is not None else ()
    policies = fw.outgoing_policies if fw is not None else ()
    denied = [a for a in obs.attempts if a.errno in LOCAL_DENIAL]
    # A connect() that an OUTPUT rule stops waits (DROP) or is refused (REJECT); a raw SYN gets EPERM for
    # both, so a silent or refused SYN probe left this host: the rule did not apply to it.
    stopped = [a for a in obs.attempts if a.method == ProbeMethod.CONNECT
               and a.reason in (Reason.NO_RESPONSE, Reason.CONN_REFUSED, Reason.PORT_UNREACH)]
    if rules and (denied or stopped):
        rule = rules[0]
        return f"This machine's own firewall stops the packet on its way out: {rule.tool} {rule.text}"
    if denied:
        if policies:
            return (f"This machine refused to send the packet ('operation not permitted'): {policies[0]}, "
                    "and no OUTPUT rule accepts the port.")
        return ("This machine refused to send the packet ('operation not permitted'): a rule on its OUTPUT "
                "path (iptables OUTPUT, an nft output hook) drops it.")
    if policies and _silent(obs) and not rules_on_path(obs):
        return f"No answer, and this machine's firewall drops outgoing packets by default: {policies[0]}."
    return None


def _real_open(obs: Observations) -> bool:
    return any(a.state == PortState.OPEN and a.method != ProbeMethod.SOCKET_TABLE for a in obs.attempts)


def accept_queue_full(obs: Observations) -> str | None:
    """A listener serves the target, and its accept queue is over its backlog: the kernel drops SYNs."""
    listener = full_queue(obs)
    if listener is None or obs.proto != Proto.TCP or _real_open(obs):
        return None
    bound = f"[{listener.address}]" if ":" in listener.address else listener.address
    who = f" (pid {listener.pid} {listener.process or ''})".replace(" )", ")") if listener.pid else ""
    return (f"The listener on {bound}:{listener.port}{who} has {listener.queued} connections waiting for "
            f"accept() and a backlog of {listener.backlog}: its queue is full, so the kernel drops new "
            "connection attempts until the server calls accept(); clients wait although nothing blocks "
            "the port.")


def _listener_serves(obs: Observations) -> bool:
    if obs.table is not None and obs.proto == Proto.TCP:
        return any(table_serves(x, a, obs.port) for x in obs.table for a in obs.addresses)
    return any(row.local_port == obs.port and accepts(obs, row, a)
               for row in listening(obs.listeners, obs.proto) for a in obs.addresses)


def unexplained_silence(obs: Observations) -> str | None:
    """This host, a listener that serves the address, a firewall read and found empty for the port, and
    still silence: not a firewall, not a full queue. Say so, and what to look at."""
    fw = obs.firewall
    if not (obs.local_target and obs.proto == Proto.TCP and _none_open(obs) and _silent(obs)):
        return None
    if fw is None or not fw.readable or rules_on_path(obs) or fw.default_policies:
        return None
    if not _listener_serves(obs):
        return None
    return (f"A server listens on port {obs.port} and no firewall rule of this host blocks it, yet the "
            f"attempt got no answer ({describe_attempt(_silent(obs)[0])}): netdiag cannot tell why. "
            f"Check the accept queue (ss -ltn sport = :{obs.port}), whether the server process is stopped "
            "(state T in ps, Ctrl-Z), and filters netdiag does not read: rules in the raw and mangle "
            "tables (iptables -t raw -S, iptables -t mangle -S), tc and eBPF filters.")


def _table_open_behind(obs: Observations, action: str) -> str | None:
    """The socket table says a listener serves the port, but a rule of this host on the way blocks it:
    the table cannot see rules, so the rule wins (the adapter asks with a real probe when it can)."""
    fw = obs.firewall
    if fw is None or _real_open(obs) or not any(a.state == PortState.OPEN for a in obs.attempts):
        return None
    rules = [rule for rule in rules_on_path(obs) if rule.action == action]
    if not rules:
        return None
    return (f"A server listens, but this host's firewall {action}s the port on the way to it: "
            f"{rules[0].tool} {rules[0].text}")


def table_open_behind_reject(obs: Observations) -> str | None:
    return _table_open_behind(obs, "reject")


def table_open_behind_drop(obs: Observations) -> str | None:
    return _table_open_behind(obs, "drop")


def refused_despite_listener(obs: Observations) -> str | None:
    """Refused although the socket table shows a listener that serves the address."""
    refusals = (Reason.CONN_REFUSED, Reason.RESET)
    if not (obs.local_target and _none_open(obs) and _listener_serves(obs)) \
            or not all(a.reason in refusals for a in obs.attempts):
        return None
    fw = obs.firewall
    unseen = "a REJECT --reject-with tcp-reset rule netdiag could not read (run as root to read it), " \
        if fw is None or not fw.readable else ""
    return (f"A server listens on port {obs.port} and serves {', '.join(obs.addresses)}, yet the attempt was "
            f"refused ({describe_attempt(obs.attempts[0])}): {unseen}a filter netdiag does not read (tc, "
            "eBPF), or the server closed its socket between the listing and the attempt. Run it again.")


def route_fix(obs: Observations) -> tuple[str, ...]:
    blocked = [route.blocked_by for route in obs.routes if route.blocked_by]
    if not blocked:
        return ()
    return (f"Delete the route if it is not wanted: sudo ip route del {blocked[0]}",)


def outbound_fix(obs: Observations) -> tuple[str, ...]:
    fw = obs.firewall
    if fw is None or not fw.outgoing_blocks:
        return ()
    rule = fw.outgoing_blocks[0]
    if rule.tool in ("iptables", "ip6tables") and rule.text.startswith("-A "):
        return (f"Delete the rule: sudo {rule.tool} -D {rule.text[3:]}",)
    return (f"Delete the rule (nft -a list ruleset shows its handle, then nft delete rule ... handle N): "
            f"{rule.text}",)


def contradictions(diagnosis: Diagnosis, obs: Observations) -> tuple[str, ...]:
    """Every way ``diagnosis`` disagrees with its own checklist or observations (empty: consistent)."""
    found: list[str] = []
    cause = diagnosis.cause
    failed_steps = [step for step in diagnosis.steps if step.status == StepStatus.FAILED]
    if cause == Cause.OK and failed_steps:
        step = failed_steps[0]
        found.append(f"the verdict is ok but the {step.name} step failed: {step.summary}")
    if cause != Cause.OK and obs.attempts and all(
            a.state == PortState.OPEN and a.method != ProbeMethod.SOCKET_TABLE for a in obs.attempts):
        found.append(f"every attempt connected, yet the verdict is {cause.value}")
    fw = obs.firewall
    if cause in (Cause.FIREWALL_DROP, Cause.FIREWALL_REJECT) and obs.local_target and fw is not None \
            and fw.readable and not rules_on_path(obs) and not fw.default_policies \
            and _listener_serves(obs) and obs.attempts and all(a.reason == Reason.NO_RESPONSE
                                                                for a in obs.attempts):
        found.append("a silent port with a visible listener and no blocking rule was called a firewall")
    if cause == Cause.NOTHING_LISTENING and obs.local_target and _listener_serves(obs):
        found.append("the verdict says nothing listens, but a listener serves the address")
    if cause == Cause.ACCEPT_QUEUE_FULL and full_queue(obs) is None:
        found.append("the verdict names a full accept queue that the socket table does not show")
    if cause == Cause.BLOCKED_ROUTE and not any(route.blocked_by for route in obs.routes):
        found.append("the verdict names a discarding route that the routing table does not show")
    if cause == Cause.OUTBOUND_FIREWALL and not (
            (fw is not None and (fw.outgoing_blocks or fw.outgoing_policies))
            or any(a.errno in LOCAL_DENIAL for a in obs.attempts)):
        found.append("the verdict names an outgoing rule that neither the firewall nor an errno shows")
    return tuple(found)
