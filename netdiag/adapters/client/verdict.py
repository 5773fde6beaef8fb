"""Why ``netdiag connect`` could not connect, said by the same diagnosis engine as ``netdiag explain``.

A refusal on 127.0.0.2 while a server listens on 127.0.0.1 only is a loopback-only bind, not "nothing is
listening"; a refusal by a local REJECT rule is a firewall; a TCP refusal where a UDP server listens is a
protocol mismatch. ``connect``'s own attempts are the connection facts (no new attempt is made); the rest
(listeners, routes, firewall rules) is read as ``explain`` reads it, and ``core.diagnosis`` decides.
"""

from __future__ import annotations

from dataclasses import replace

from netdiag.adapters.client.connection import Attempt, ConnectFailure
from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.probe import ProbeResult, Proto, classify_tcp_outcome
from netdiag.core.targets import format_endpoint

_REFINABLE = (Cause.NOTHING_LISTENING, Cause.TIMEOUT)
"""What a client alone cannot tell apart: a refusal (no server, another address or protocol, a REJECT rule)
and a timeout (a firewall, an absent host). Other failures (no route, no source address) are exact."""


def _probe_result(host: str, port: int, attempt: Attempt) -> ProbeResult:
    address = attempt.address.rsplit(":", 1)[0].strip("[]")
    state, reason = classify_tcp_outcome(attempt.errno, timed_out=attempt.cause == Cause.TIMEOUT)
    return ProbeResult(host, address, port, Proto.TCP, state, reason, attempt.seconds * 1000, attempt.errno)


def diagnosed_failure(failure: ConnectFailure, host: str, port: int, *, timeout: float) -> ConnectFailure:
    """``failure`` with the diagnosis engine's verdict and fixes when it names a cause of its own (TCP);
    ``failure`` itself when the engine agrees, knows no more, or no attempt was made (name not resolved)."""
    current = Cause.UNKNOWN if failure.cause is None else failure.cause
    if not failure.attempts or current not in _REFINABLE:
        return failure
    from netdiag.adapters.explain import gather_observations
    from netdiag.core.diagnosis import diagnose

    attempts = tuple(_probe_result(host, port, a) for a in failure.attempts)
    diagnosis = diagnose(gather_observations(host, port, timeout=timeout, attempts=attempts))
    if diagnosis.cause in (current, Cause.OK, Cause.UNKNOWN):
        return failure
    facts = ", ".join(f"{a.outcome} on {a.address}" for a in failure.attempts)
    waited = f" after {timeout:g} s" if current == Cause.TIMEOUT else ""
    message = f"Cannot connect to {format_endpoint(host, port)} ({facts}{waited}). {diagnosis.verdict}"
    explanation = replace(explanation_for(diagnosis.cause, host=host, port=port), fixes=diagnosis.fixes)
    return ConnectFailure(message, explanation=explanation, attempts=failure.attempts, errno=failure.errno,
                          host=host, port=port)
