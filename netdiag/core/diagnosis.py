"""The diagnosis engine of ``netdiag explain HOST:PORT``: observations in, one verdict out. Pure.

Theory of operation. The adapter (``netdiag.adapters.explain``) gathers *facts* into ``Observations``:
what the name resolved to, which route and source address the kernel would use, who listens on this host,
what each per-address connection attempt got back, and what the firewall rules say. This module never
touches the network: it turns those facts into a checklist (``Step``s, built in
``netdiag.core.diagnosis_steps``) and a ``Diagnosis`` by walking ``RULES`` in order. Each rule looks for
one cause and returns the sentence that justifies it, or None; the first rule that speaks wins. The order
is the reasoning: a failed lookup explains everything after it; a successful connection needs no excuse;
a listener seen on the wrong address, family, protocol or port explains a refusal better than "nothing
listens"; a silent port on a host known to be there is a firewall, on a host that may be absent a timeout.

Every attempt is kept, per address: "refused on ::1, open on 127.0.0.1" is itself a fact.
"""

from __future__ import annotations

import errno as errno_codes
from collections.abc import Callable

from netdiag.core.catalog import Cause, explanation_for, fill_placeholders
from netdiag.core.diagnosis_steps import (
    build_steps,
    nothing_listens_here,
    specific_fixes,
    start_server_fix,
)
from netdiag.core.observations import (
    Diagnosis,
    Observations,
    accepts,
    describe_attempt,
    describe_row,
    effective_destination,
    family_of,
    is_loopback,
    listening,
    near_ports,
    rules_on_path,
    serves,
)
from netdiag.core.probe import PortState, ProbeMethod, ProbeResult, Proto, Reason
from netdiag.core.sockets import SocketRow
from netdiag.core.targets import format_endpoint
from netdiag.core.verdict_rules import (
    accept_queue_full,
    blocked_route,
    contradictions,
    outbound_firewall,
    refused_despite_listener,
    table_open_behind_drop,
    table_open_behind_reject,
    unexplained_silence,
)


def _failed(obs: Observations) -> list[ProbeResult]:
    return [a for a in obs.attempts if not _answered_ok(a, obs)]


def _answered_ok(attempt: ProbeResult, obs: Observations) -> bool:
    if attempt.state == PortState.OPEN:
        return True
    # UDP: silence from a port where this host's own UDP socket listens is a server that did not reply,
    # unless a rule of this host's firewall could have dropped the datagram before the socket.
    return (attempt.proto == Proto.UDP and attempt.state == PortState.OPEN_FILTERED
            and not (obs.firewall is not None and obs.firewall.blocking_rules)
            and any(serves(row, attempt.address or "") and row.local_port == obs.port
                    for row in listening(obs.listeners, Proto.UDP)))


def _all_failed(obs: Observations) -> bool:
    return bool(obs.attempts) and len(_failed(obs)) == len(obs.attempts)


def _reasons(obs: Observations) -> set[Reason]:
    return {a.reason for a in _failed(obs)}


def _exact_listeners(obs: Observations, proto: Proto, port: int) -> list[SocketRow]:
    return [row for row in listening(obs.listeners, proto) if row.local_port == port]


def _serving(obs: Observations, rows: list[SocketRow]) -> list[SocketRow]:
    return [row for row in rows if any(accepts(obs, row, address) for address in obs.addresses)]


def _other_proto(proto: Proto) -> Proto:
    return Proto.UDP if proto == Proto.TCP else Proto.TCP


# --- The rules, in order: each returns the sentence that justifies its cause, or None ----------------------


def _dns_failed(obs: Observations) -> str | None:
    if obs.resolve_error is None:
        return None
    return f"'{obs.host}' did not resolve to any address ({obs.resolve_error})."


def _connected(obs: Observations) -> str | None:
    good = [a for a in obs.attempts if _answered_ok(a, obs)]
    if not good:
        return None
    first = good[0]
    if first.state == PortState.OPEN_FILTERED:
        return (f"A UDP server listens on {format_endpoint(first.address or obs.host, obs.port)}; it did not "
                "answer the probe datagram (--payload chooses it), which UDP servers need not do.")
    if first.method == ProbeMethod.SOCKET_TABLE and first.proto == Proto.UDP:
        return ("A UDP socket is bound there, so a datagram would be received (UDP has no connection to "
                f"accept; whether the server answers is its own business): {describe_attempt(first)}.")
    if first.method == ProbeMethod.SOCKET_TABLE:
        return f"A server listens there, so a connection would be accepted: {describe_attempt(first)}."
    return f"The port answered: {describe_attempt(first)}."


def _no_route(obs: Observations) -> str | None:
    routes_failed = bool(obs.routes) and all(route.error for route in obs.routes)
    if _all_failed(obs) and _reasons(obs) == {Reason.NET_UNREACH}:
        return "Every attempt ended in 'network unreachable'."
    if routes_failed and not any(a.state == PortState.OPEN for a in obs.attempts):
        targets = ", ".join(route.address for route in obs.routes)
        return f"This machine has no route to {targets} ({obs.routes[0].error})."
    return None


def _loopback_only(obs: Observations) -> str | None:
    if not (obs.local_target and _all_failed(obs)):
        return None
    rows = _exact_listeners(obs, obs.proto, obs.port)
    if _serving(obs, rows):
        return None
    loopback_rows = [row for row in rows if is_loopback(row.local_address)]
    targets_not_loopback = all(not is_loopback(effective_destination(address)) for address in obs.addresses)
    if loopback_rows and targets_not_loopback:
        bound = ", ".join(describe_row(row) for row in loopback_rows)
        return (f"A server listens on port {obs.port}, but only on loopback ({bound}); "
                f"{', '.join(obs.addresses)} is not a loopback address, so it is refused.")
    asked = {family_of(address) for address in obs.addresses}
    same_family = [row for row in loopback_rows if family_of(row.local_address) in asked]
    if same_family and not targets_not_loopback:  # 127.0.0.2 asked, 127.0.0.1 bound: loopback, not the same
        bound = ", ".join(describe_row(row) for row in same_family)
        return (f"A server listens on port {obs.port}, but only on {bound}; {', '.join(obs.addresses)} is "
                "another loopback address, which that socket does not receive, so it is refused.")
    return None


def _time_wait(obs: Observations) -> str | None:
    """Nothing listens, but the port's TIME_WAIT sockets show a server stopped there moments ago."""
    if not (obs.local_target and _all_failed(obs) and obs.proto == Proto.TCP):
        return None
    if _exact_listeners(obs, obs.proto, obs.port) or obs.listeners is None:
        return None
    waiting = [row for row in obs.listeners if row.proto == "tcp" and row.local_port == obs.port
               and row.state == "TIME_WAIT"]
    if not waiting:
        return None
    peers = ", ".join(format_endpoint(row.remote_address or "?", row.remote_port or 0) for row in waiting[:3])
    more = f" and {len(waiting) - 3} more" if len(waiting) > 3 else ""
    return (f"Nothing listens on port {obs.port}, but {len(waiting)} connection(s) of a server that ran "
            f"there wait in TIME_WAIT (with {peers}{more}): it was stopped moments ago.")


def _other_family(obs: Observations) -> str | None:
    if not (obs.local_target and _all_failed(obs)):
        return None
    rows = _exact_listeners(obs, obs.proto, obs.port)
    if not rows or _serving(obs, rows):
        return None
    asked = {family_of(address) for address in obs.addresses}
    other = [row for row in rows if family_of(row.local_address) not in asked]
    if not other:
        return None
    bound = ", ".join(describe_row(row) for row in other)
    asked_text = " and ".join(f"IPv{f}" for f in sorted(asked))
    return (f"A server listens on port {obs.port} over IPv{family_of(other[0].local_address)} only "
            f"({bound}), but {', '.join(obs.addresses)} is {asked_text}.")


def _other_protocol(obs: Observations) -> str | None:
    if not (obs.local_target and _all_failed(obs)):
        return None
    if _serving(obs, _exact_listeners(obs, obs.proto, obs.port)):
        return None
    other = _serving(obs, _exact_listeners(obs, _other_proto(obs.proto), obs.port))
    if not other:
        return None
    return (f"You asked for {obs.proto.value.upper()}, but the server on port {obs.port} uses "
            f"{_other_proto(obs.proto).value.upper()} ({describe_row(other[0])}).")


def _near_port(obs: Observations) -> str | None:
    if not (obs.local_target and _all_failed(obs)):
        return None
    if _exact_listeners(obs, obs.proto, obs.port):
        return None
    for candidate in near_ports(obs.port):
        rows = _serving(obs, _exact_listeners(obs, obs.proto, candidate))
        if rows:
            return (f"Nothing listens on port {obs.port}, but a server listens on the nearby port "
                    f"{candidate} ({describe_row(rows[0])}).")
    return None


def _local_firewall_rejects(obs: Observations) -> bool:
    return obs.firewall is not None and any(rule.action == "reject"
                                            for rule in rules_on_path(obs))


def _rejected(obs: Observations) -> str | None:
    if not _all_failed(obs):
        return None
    for attempt in _failed(obs):
        if attempt.reason == Reason.ADMIN_PROHIBITED and attempt.errno not in _LOCAL_DENIAL:
            return f"An ICMP 'administratively prohibited' came back: {describe_attempt(attempt)}."
        if attempt.reason == Reason.HOST_UNREACH and attempt.icmp_from is not None \
                and attempt.icmp_from == attempt.address:
            return ("The target itself answered 'host unreachable', which only a firewall rule on it "
                    f"says: {describe_attempt(attempt)}.")
        if attempt.proto == Proto.TCP and attempt.reason == Reason.PORT_UNREACH:
            return ("A TCP connection got an ICMP port-unreachable; a closed TCP port answers with a reset, "
                    f"so a firewall REJECT rule answered: {describe_attempt(attempt)}.")
    refusals = {Reason.CONN_REFUSED, Reason.PORT_UNREACH, Reason.NO_LISTENER}
    if _reasons(obs) <= refusals and _local_firewall_rejects(obs):
        assert obs.firewall is not None
        rule = next(r for r in rules_on_path(obs) if r.action == "reject")
        return f"The refusal comes from this host's firewall: {rule.tool} {rule.text}"
    return None


_LOCAL_DENIAL = (errno_codes.EPERM, errno_codes.EACCES)


_REFUSALS = (Reason.CONN_REFUSED, Reason.PORT_UNREACH, Reason.NO_LISTENER)


def _refused(obs: Observations) -> str | None:
    if not _all_failed(obs) or not (_reasons(obs) & set(_REFUSALS)):
        return None
    refused = [a for a in _failed(obs) if a.reason in _REFUSALS]
    facts = "; ".join(describe_attempt(a) for a in refused)
    proto = obs.proto.value.upper()
    if all(a.method == ProbeMethod.SOCKET_TABLE for a in refused):
        return f"This host's socket table shows no {proto} socket listening on port {obs.port}: {facts}."
    if obs.local_target and obs.listeners is not None:
        return f"This host answered, and no {proto} socket listens on port {obs.port}: {facts}."
    return f"The host answered, but nothing accepts connections on port {obs.port}: {facts}."


def _reset(obs: Observations) -> str | None:
    if not _all_failed(obs) or Reason.RESET not in _reasons(obs):
        return None
    return "The connection was reset: " + "; ".join(describe_attempt(a) for a in _failed(obs)) + "."


def _host_unreachable(obs: Observations) -> str | None:
    if not _all_failed(obs) or Reason.HOST_UNREACH not in _reasons(obs):
        return None
    return "The host cannot be reached: " + "; ".join(describe_attempt(a) for a in _failed(obs)) + "."


def _silent(obs: Observations) -> list[ProbeResult]:
    return [a for a in _failed(obs) if a.reason == Reason.NO_RESPONSE]


def _dropped(obs: Observations) -> str | None:
    reason = _dropped_reason(obs)
    if reason is not None and obs.proto == Proto.UDP and not obs.local_target and _silent(obs):
        target = format_endpoint(_silent(obs)[0].address or obs.host, obs.port)
        return (f"{reason.rstrip('.')}; over UDP a server that ignores the probe datagram is silent "
                "too (a closed UDP port would have sent ICMP port-unreachable): try real data with "
                f"netdiag connect {target} --udp.")
    return reason


def _dropped_reason(obs: Observations) -> str | None:
    if not _all_failed(obs):
        return None
    silent = _silent(obs)
    if not silent:
        return None
    if obs.firewall is not None and rules_on_path(obs):
        rule = rules_on_path(obs)[0]
        return f"No answer, and this host's firewall has a rule for the port: {rule.tool} {rule.text}"
    if obs.firewall is not None and obs.firewall.default_policies and obs.local_target:
        return f"No answer, and this host's firewall drops by default: {obs.firewall.default_policies[0]}."
    if obs.local_target:
        return "The target is this machine, so it is there: a silent port on it can only be a firewall."
    answered = [a for a in obs.attempts if a.reason != Reason.NO_RESPONSE]
    if answered:
        return (f"The port is silent on {silent[0].address}, but the host answered on another address "
                f"({describe_attempt(answered[0])}): it is there, and a firewall drops the port.")
    if obs.neighbour_reachable:
        return (f"No answer on port {obs.port}, but {silent[0].address} answered ARP / neighbour discovery "
                "on the local link: the host is up, so a firewall drops the port (or, rarer, the server's "
                "accept queue is full: a listener that does not call accept() drops new connections too).")
    return None


def _timed_out(obs: Observations) -> str | None:
    if not _all_failed(obs) or not _silent(obs):
        return None
    alike = "a firewall that drops packets and an absent host"
    if obs.proto == Proto.UDP:
        alike = "a firewall that drops packets, an absent host and a UDP server that ignores the probe"
    return (f"No answer within {obs.timeout:g} s, and nothing shows whether the host is there: {alike} "
            "look the same from here.")


def _unexplained(obs: Observations) -> str | None:
    if not obs.attempts:
        return "No connection attempt could be made."
    return "The attempt failed in a way netdiag does not know: " + \
        "; ".join(describe_attempt(a) for a in obs.attempts) + "."


Rule = tuple[Cause, Callable[[Observations], "str | None"]]

RULES: tuple[Rule, ...] = (
    (Cause.DNS_FAILURE, _dns_failed),
    (Cause.ACCEPT_QUEUE_FULL, accept_queue_full),
    (Cause.FIREWALL_REJECT, table_open_behind_reject),
    (Cause.FIREWALL_DROP, table_open_behind_drop),
    (Cause.OK, _connected),
    (Cause.BLOCKED_ROUTE, blocked_route),
    (Cause.NO_ROUTE, _no_route),
    (Cause.OUTBOUND_FIREWALL, outbound_firewall),
    (Cause.LOOPBACK_ONLY_BIND, _loopback_only),
    (Cause.WRONG_ADDRESS_FAMILY, _other_family),
    (Cause.PROTOCOL_MISMATCH, _other_protocol),
    (Cause.TIME_WAIT, _time_wait),
    (Cause.NEAR_PORT, _near_port),
    (Cause.FIREWALL_REJECT, _rejected),
    (Cause.UNKNOWN, refused_despite_listener),
    (Cause.NOTHING_LISTENING, _refused),
    (Cause.CONNECTION_RESET, _reset),
    (Cause.HOST_UNREACHABLE, _host_unreachable),
    (Cause.UNKNOWN, unexplained_silence),
    (Cause.FIREWALL_DROP, _dropped),
    (Cause.TIMEOUT, _timed_out),
    (Cause.UNKNOWN, _unexplained),
)


def diagnose(obs: Observations) -> Diagnosis:
    """Walk ``RULES`` in order; the first rule with a reason names the cause. A verdict that contradicts
    its own evidence (``contradictions``) is never shown: it becomes an honest "cannot tell"."""
    found = first_verdict(obs, RULES)
    disagreements = contradictions(found, obs)
    if not disagreements:
        return found
    reason = ("netdiag's observations disagree with each other, so it names no cause: "
              + "; ".join(disagreements) + ". The checklist below shows every fact.")
    return first_verdict(obs, ((Cause.UNKNOWN, lambda _obs: reason),))


UDP_OK = ("Reachable", "A UDP socket is bound to the port, so a datagram sent there is received. UDP has no "
          "connection to accept; whether the server answers is up to it.")
"""Heading and meaning of UDP's "ok": the catalog's ("Connected", "the server accepted the connection")
are TCP's words."""


def first_verdict(obs: Observations, rules: tuple[Rule, ...]) -> Diagnosis:
    for cause, rule in rules:
        reason = rule(obs)
        if reason is None:
            continue
        entry = explanation_for(cause)
        host = obs.addresses[0] if obs.addresses and cause != Cause.DNS_FAILURE else obs.host
        generic = tuple(_for_proto(fill_placeholders(fix, host=host, port=obs.port), obs.proto)
                        for fix in entry.fixes if "netdiag explain" not in fix)  # we are that command already
        then = (start_server_fix(obs),) if _blocked(cause) and nothing_listens_here(obs) else ()
        fixes = tuple(dict.fromkeys(specific_fixes(cause, obs) + generic + then))
        verdict = f"{entry.title}: {reason}" if cause != Cause.OK else reason
        title, meaning = UDP_OK if cause == Cause.OK and obs.proto == Proto.UDP else ("", "")
        return Diagnosis(cause, verdict, _supporting_facts(obs, cause, reason), fixes, build_steps(obs),
                         title=title, meaning=meaning)
    raise AssertionError("the last rule always speaks")  # pragma: no cover


def _for_proto(fix: str, proto: Proto) -> str:
    """The catalog's firewall commands are written for TCP (``-p tcp``, ``8000/tcp``); say UDP for UDP."""
    if proto != Proto.UDP:
        return fix
    return fix.replace("-p tcp", "-p udp").replace(f"/{Proto.TCP.value}", f"/{Proto.UDP.value}")


def _blocked(cause: Cause) -> bool:
    return cause in (Cause.FIREWALL_DROP, Cause.FIREWALL_REJECT)


def _supporting_facts(obs: Observations, cause: Cause, reason: str) -> tuple[str, ...]:
    facts = [reason]
    if _blocked(cause) and nothing_listens_here(obs):
        facts.append(f"Behind the firewall, nothing listens on {obs.proto.value.upper()} port {obs.port} on "
                     "this machine either: once the port is allowed, start the server too.")
    if len(obs.attempts) > 1:
        facts.extend(f"Attempt: {describe_attempt(a)}." for a in obs.attempts)
    if obs.listing_note and obs.local_target:
        facts.append(f"The socket listing is incomplete: {obs.listing_note}")
    return tuple(facts)
