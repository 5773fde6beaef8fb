"""The server side of a failed connection, for ``netdiag listen --observe``: attempts that never became one.

A capture of the server's port (every interface) hands over segments in capture order. Accepted
connections are the engines' business; this module follows each SYN that arrives for the port and says
when it became nothing:

* ``unanswered-syn``: the SYN was retransmitted (the client's kernel heard nothing for about a second)
  with no SYN-ACK nor RST sent, or nothing at all came back within ``answer_wait`` seconds while the
  capture was idle. A firewall's DROP, or (rarely) a full accept queue.
* ``handshake-incomplete``: the SYN-ACK went out and was retransmitted (this host's kernel heard no ACK
  for about a second).
* ``reset-sent``: the SYN was answered with RST: nothing listens on the address the client used (the
  server is bound to another one), or a firewall REJECT with tcp-reset answered for the listener.

Retransmissions are the main signal because they do not depend on when the capture is read: a SYN
retransmitted with no SYN-ACK between them, on one interface, was not answered whatever the lag. The
capture need hold only SYNs and RSTs (the adapter filters the rest in the kernel, so data costs the
observer nothing): an answered SYN whose SYN-ACK is not retransmitted within ``synack_wait`` seconds
completed its handshake, and is forgotten silently. A RST from the client after the SYN-ACK is forgotten
silently too: it cannot be told apart from one that ends a connection just opened.

Memory is bounded like ``connection_tracker``: attempts are forgotten ``max_age`` seconds after their first
SYN, and beyond ``max_pending`` the oldest go first. Lines are rate-limited: per kind, at most
``per_source`` lines per client address and ``per_window`` in all each ``window`` seconds; the rest are
counted and summed up once the window ends (``Repeated``: "57 more SYNs from 198.18.0.1 not answered").
Pure: no sockets, no printing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from netdiag.core.handshake import Address, Segment
from netdiag.core.observations import FirewallObservation, FirewallRule
from netdiag.core.socket_table import Listener, serves
from netdiag.core.targets import format_endpoint

ANSWER_WAIT = 3.0
"""Seconds after which an attempt with no answer (or no ACK) is reported even without retransmission,
once the capture is idle (a scanner's single SYN, a client that gave up before its kernel retried)."""
SYNACK_WAIT = 1.5
"""Seconds after a SYN-ACK without its retransmission (Linux retransmits after 1 s) after which the
handshake is taken as completed."""
MAX_AGE = 130.0
"""Seconds after its first SYN that an attempt is forgotten (Linux gives up a connect after ~127 s)."""
MAX_PENDING = 1000
"""Attempts followed at once; beyond, the oldest are forgotten."""
WINDOW = 5.0
"""Seconds of one rate-limiting window."""
PER_SOURCE = 3
"""Lines of one kind about one client address per window."""
PER_WINDOW = 10
"""Lines of one kind per window, all addresses together."""
MAX_SOURCES = 100
"""Addresses counted one by one in a window's summary; more are counted together."""


class AttemptKind(str, Enum):
    UNANSWERED_SYN = "unanswered-syn"
    HANDSHAKE_INCOMPLETE = "handshake-incomplete"
    RESET_SENT = "reset-sent"


class AttemptReason(str, Enum):
    """Why, in a closed vocabulary (the ``reason`` of the JSON event)."""

    FIREWALL_DROP = "firewall-drop"  # an INPUT rule drops or rejects (with an ICMP error) the port
    FIREWALL_RESET = "firewall-reset"  # the RST came from a REJECT rule, not the listener
    NO_RULE = "no-rule"  # the firewall was read and no rule names the port
    FIREWALL_UNREADABLE = "firewall-unreadable"
    NOT_BOUND = "not-bound"  # the SYN went to a local address the listener is not bound to
    NO_ACK = "no-ack"  # the SYN-ACK went out, its ACK never came
    ACCEPT_QUEUE_FULL = "accept-queue-full"  # the listener's accept queue was over its backlog


@dataclass(frozen=True)
class Attempt:
    """One attempt that never became a connection, ready for the log."""

    kind: AttemptKind
    peer: Address
    local: Address
    interface: str
    syns: int
    reason: AttemptReason
    rule: str | None = None
    bound: str = ""
    queue: tuple[int, int] | None = None  # (queued, backlog) of a full accept queue

    def fields(self) -> dict[str, object]:
        """The JSON event's fields (``event`` and ``time`` are added by the log)."""
        fields: dict[str, object] = {
            "peer": format_endpoint(*self.peer), "local": format_endpoint(*self.local),
            "interface": self.interface, "syns": self.syns, "reason": self.reason.value, "rule": self.rule,
            "bound": self.bound}
        if self.queue is not None:
            fields.update(queued=self.queue[0], backlog=self.queue[1])
        return fields


@dataclass(frozen=True)
class Repeated:
    """Attempts of one kind not logged one by one during a window: ``count`` of them, from ``sources``
    addresses (``source`` names it when there was one)."""

    kind: AttemptKind
    count: int
    sources: int
    source: str | None
    window: float

    def fields(self) -> dict[str, object]:
        return {"of": self.kind.value, "count": self.count, "sources": self.sources,
                "source": self.source, "window": self.window}


@dataclass
class _Pending:
    peer: Address
    local: Address
    interface: str
    began: float
    syns: int = 1
    syn_acks: int = 0
    answered_at: float | None = None
    reported: bool = False


class AttemptWatch:
    """Follows the SYNs arriving for ``port`` on ``local_addresses`` and reports those that come to nothing.

    ``bound`` is the listener's address (``0.0.0.0`` / ``::`` for every one): a RST answering a SYN to
    another local address is the kernel saying nothing listens there.
    """

    def __init__(self, port: int, bound: str, local_addresses: Iterable[str], *,
                 answer_wait: float = ANSWER_WAIT, synack_wait: float = SYNACK_WAIT,
                 max_age: float = MAX_AGE, max_pending: int = MAX_PENDING) -> None:
        self.port = port
        self.bound = bound
        self.local_addresses = frozenset(local_addresses)
        self.answer_wait = answer_wait
        self.synack_wait = synack_wait
        self.max_age = max_age
        self.max_pending = max_pending
        self.forgotten = 0
        self._pending: dict[tuple[Address, Address], _Pending] = {}  # oldest first

    @property
    def pending(self) -> int:
        return len(self._pending)

    def is_local(self, address: str) -> bool:
        """One of this host's addresses (all of 127.0.0.0/8 is: Linux answers on every one)."""
        if address in self.local_addresses:
            return True
        try:
            return ipaddress.ip_address(address).is_loopback
        except ValueError:
            return False

    def listens_on(self, address: str) -> bool:
        """Whether the listener receives connections to ``address`` (same family under a wildcard)."""
        if self.bound == "::":
            return True
        if self.bound == "0.0.0.0":
            return ":" not in address
        return address == self.bound

    def feed(self, seg: Segment, interface: str) -> list[Attempt]:
        """Take one captured segment; return the attempts it shows to have failed (reason unset yet for
        the firewall cases: ``explain`` fills it)."""
        found: list[Attempt] = []
        if seg.dport == self.port and self.is_local(seg.dst):
            key = (seg.source, seg.destination)
            entry = self._pending.get(key)
            if seg.is_syn:
                if entry is None or (entry.answered_at is not None and not entry.syn_acks):
                    self._pending.pop(key, None)
                    self._pending[key] = _Pending(seg.source, seg.destination, interface, seg.time)
                    self._forget_beyond_count()
                else:
                    entry.syns += 1
                    if entry.answered_at is None and not entry.reported:
                        found.append(self._report(entry, AttemptKind.UNANSWERED_SYN))
            elif entry is not None and entry.syn_acks and (seg.has("A") or seg.has("R")):
                del self._pending[key]  # completed (the engines log the rest), or reset by the client
        elif seg.sport == self.port and self.is_local(seg.src):
            key = (seg.destination, seg.source)
            entry = self._pending.get(key)
            if entry is not None and seg.is_syn_ack:
                entry.syn_acks += 1
                entry.answered_at = entry.answered_at or seg.time
                if entry.syn_acks > 1 and not entry.reported:  # retransmitted: the ACK did not come
                    found.append(self._report(entry, AttemptKind.HANDSHAKE_INCOMPLETE,
                                              AttemptReason.NO_ACK))
            elif entry is not None and seg.has("R") and not entry.syn_acks:
                entry.answered_at = seg.time
                if not entry.reported:
                    reason = (AttemptReason.FIREWALL_RESET if self.listens_on(entry.local[0])
                              else AttemptReason.NOT_BOUND)
                    found.append(self._report(entry, AttemptKind.RESET_SENT, reason))
        return found + self.expire(seg.time, idle=False)

    def expire(self, now: float, *, idle: bool) -> list[Attempt]:
        """Forget attempts older than ``max_age`` and handshakes whose SYN-ACK was not retransmitted
        within ``synack_wait``; when ``idle`` (the capture holds nothing more), also report the SYNs
        still without an answer ``answer_wait`` seconds on."""
        found: list[Attempt] = []
        for key in list(self._pending):
            entry = self._pending[key]
            if now - entry.began > self.max_age:
                del self._pending[key]
            elif entry.syn_acks == 1 and not entry.reported and entry.answered_at is not None \
                    and now - entry.answered_at >= self.synack_wait:
                del self._pending[key]  # no SYN-ACK retransmitted: the client's ACK came
            elif idle and not entry.reported and entry.answered_at is None \
                    and now - entry.began >= self.answer_wait:
                found.append(self._report(entry, AttemptKind.UNANSWERED_SYN))
        return found

    def _forget_beyond_count(self) -> None:
        while len(self._pending) > self.max_pending:
            del self._pending[next(iter(self._pending))]
            self.forgotten += 1

    def _report(self, entry: _Pending, kind: AttemptKind,
                reason: AttemptReason = AttemptReason.NO_RULE) -> Attempt:
        entry.reported = True
        return Attempt(kind=kind, peer=entry.peer, local=entry.local, interface=entry.interface,
                       syns=entry.syns, reason=reason, bound=self.bound)


def with_firewall(attempt: Attempt, firewall: FirewallObservation | None) -> Attempt:
    """The attempt with the INPUT rule that explains it, when it is a firewall's doing and the rules
    could be read (``firewall`` None: not read, not needed)."""
    wants = {AttemptKind.UNANSWERED_SYN: ("drop", "reject"), AttemptKind.RESET_SENT: ("reject",)}
    actions = wants.get(attempt.kind)
    if actions is None or firewall is None or attempt.reason is AttemptReason.ACCEPT_QUEUE_FULL:
        return attempt
    if not firewall.readable:
        if attempt.reason is AttemptReason.NOT_BOUND:
            return attempt
        return _replace(attempt, AttemptReason.FIREWALL_UNREADABLE, None)
    rule = _first_rule(firewall.rules, actions)
    if rule is not None:
        reason = (AttemptReason.FIREWALL_RESET if attempt.kind is AttemptKind.RESET_SENT
                  else AttemptReason.FIREWALL_DROP)
        if attempt.reason is AttemptReason.NOT_BOUND:
            reason = AttemptReason.NOT_BOUND
        return _replace(attempt, reason, rule.text)
    policy = next((p for p in firewall.default_policies if "INPUT" in p or "output" not in p), None)
    if attempt.kind is AttemptKind.UNANSWERED_SYN and policy is not None:
        return _replace(attempt, AttemptReason.FIREWALL_DROP, policy)
    return attempt


def with_queue(attempt: Attempt, listeners: Iterable[Listener]) -> Attempt:
    """The attempt explained by the listener's full accept queue, when the socket table shows it full
    (more connections waiting for ``accept()`` than its backlog: the kernel then drops SYNs, and the
    ACKs that would complete a handshake)."""
    if attempt.kind is AttemptKind.RESET_SENT:
        return attempt
    for listener in listeners:
        full = listener.queued is not None and listener.backlog is not None \
            and listener.queued > listener.backlog
        if full and serves(listener, attempt.local[0], attempt.local[1]):
            assert listener.queued is not None and listener.backlog is not None
            return Attempt(kind=attempt.kind, peer=attempt.peer, local=attempt.local,
                           interface=attempt.interface, syns=attempt.syns,
                           reason=AttemptReason.ACCEPT_QUEUE_FULL, bound=attempt.bound,
                           queue=(listener.queued, listener.backlog))
    return attempt


def _first_rule(rules: Iterable[FirewallRule], actions: tuple[str, ...]) -> FirewallRule | None:
    return next((r for r in rules if r.action in actions and r.direction in ("in", "")), None)


def _replace(attempt: Attempt, reason: AttemptReason, rule: str | None) -> Attempt:
    return Attempt(kind=attempt.kind, peer=attempt.peer, local=attempt.local, interface=attempt.interface,
                   syns=attempt.syns, reason=reason, rule=rule, bound=attempt.bound)


class LineLimiter:
    """Lets through at most ``per_source`` attempts of a kind per client address and ``per_window`` in
    all per window; counts the others and sums them up (``Repeated``) when the window ends."""

    def __init__(self, *, window: float = WINDOW, per_source: int = PER_SOURCE,
                 per_window: int = PER_WINDOW, max_sources: int = MAX_SOURCES) -> None:
        self.window = window
        self.per_source = per_source
        self.per_window = per_window
        self.max_sources = max_sources
        self._began: float | None = None
        self._shown: dict[AttemptKind, dict[str, int]] = {}
        self._held: dict[AttemptKind, dict[str, int]] = {}
        self._held_others: dict[AttemptKind, int] = {}  # beyond max_sources addresses

    def admit(self, attempt: Attempt, now: float) -> tuple[bool, list[Repeated]]:
        """Whether to log ``attempt`` itself, and the summaries of the window that ended before it."""
        summaries = self.tick(now)
        if self._began is None:
            self._began = now
        source = attempt.peer[0]
        shown = self._shown.setdefault(attempt.kind, {})
        if shown.get(source, 0) < self.per_source and sum(shown.values()) < self.per_window \
                and (source in shown or len(shown) < self.max_sources):
            shown[source] = shown.get(source, 0) + 1
            return True, summaries
        held = self._held.setdefault(attempt.kind, {})
        if source in held or len(held) < self.max_sources:
            held[source] = held.get(source, 0) + 1
        else:
            self._held_others[attempt.kind] = self._held_others.get(attempt.kind, 0) + 1
        return False, summaries

    def tick(self, now: float) -> list[Repeated]:
        """The summaries of the window, once it has ended (then a new window begins with the next line)."""
        if self._began is None or now - self._began < self.window:
            return []
        return self.flush()

    def flush(self) -> list[Repeated]:
        """The summaries of what was held back, due or not (at the end)."""
        summaries = []
        for kind, held in self._held.items():
            others = self._held_others.get(kind, 0)
            count = sum(held.values()) + others
            if not count:
                continue
            sole = next(iter(held)) if len(held) == 1 and not others else None
            summaries.append(Repeated(kind=kind, count=count, sources=len(held) + (1 if others else 0),
                                      source=sole, window=self.window))
        self._began = None
        self._shown.clear()
        self._held.clear()
        self._held_others.clear()
        return summaries


# --- words ----------------------------------------------------------------------------------------


def describe_attempt(fields: dict[str, object]) -> str:
    """The human line of an attempt event (after the peer): what happened and why, in one sentence."""
    kind = AttemptKind(str(fields.get("event", fields.get("kind"))))
    interface, local = fields.get("interface"), fields.get("local")
    reason = AttemptReason(str(fields["reason"]))
    rule = fields.get("rule")
    if kind is AttemptKind.UNANSWERED_SYN:
        tries = int(str(fields.get("syns", 1)))
        sent = f", sent {tries} times" if tries > 1 else ""
        why = _why_silent(reason, rule, fields)
        return f"SYN to {local} arrived on {interface}{sent} and was not answered ({why})"
    if kind is AttemptKind.HANDSHAKE_INCOMPLETE:
        if reason is AttemptReason.ACCEPT_QUEUE_FULL:
            return (f"SYN to {local} answered but the handshake never completed: the client's ACK was "
                    f"dropped ({_full_queue(fields)})")
        return (f"SYN to {local} answered but the handshake never completed (the SYN-ACK was lost or the "
                "client gave up)")
    bound = str(fields.get("bound", "")) or "another address"
    if reason is AttemptReason.NOT_BOUND:
        text = (f"RST sent: nothing listens on the address the client used, {local} (the server is bound "
                f"to {bound})")
        return text + (f"; this host's firewall also rejects it: rule {rule}" if rule else "")
    if rule:
        return (f"RST sent to the SYN to {local} by this host's firewall, not the listener (REJECT with "
                f"tcp-reset: rule {rule})")
    return (f"RST sent to the SYN to {local}, though the server listens there: a firewall REJECT with "
            "tcp-reset, or the accept queue overflowed (net.ipv4.tcp_abort_on_overflow)")


def _why_silent(reason: AttemptReason, rule: object, fields: dict[str, object]) -> str:
    if reason is AttemptReason.ACCEPT_QUEUE_FULL:
        return _full_queue(fields)
    if reason is AttemptReason.FIREWALL_DROP and rule:
        return f"this host's firewall: rule {rule}"
    if reason is AttemptReason.FIREWALL_UNREADABLE:
        return "this host's firewall could not be read: a DROP rule is the likely cause (run with sudo)"
    return ("no firewall rule of this host names the port: a full accept queue also drops SYNs, see "
            "netdiag sockets --listening")


def _full_queue(fields: dict[str, object]) -> str:
    return (f"the accept queue is full: {fields.get('queued')} connections wait for accept(), backlog "
            f"{fields.get('backlog')}; the server does not accept fast enough")


def describe_repeated(fields: dict[str, object]) -> str:
    """``... 57 more SYNs from 198.18.0.1 not answered (in 5 s)``."""
    kind = AttemptKind(str(fields["of"]))
    count = int(str(fields["count"]))
    source = fields.get("source")
    origin = f"from {source}" if source else f"from {int(str(fields['sources'])):,} addresses"
    what = {AttemptKind.UNANSWERED_SYN: "not answered",
            AttemptKind.HANDSHAKE_INCOMPLETE: "answered with no completed handshake",
            AttemptKind.RESET_SENT: "answered with RST"}[kind]
    return f"... {count:,} more SYN(s) {origin} {what} (in {float(str(fields['window'])):g} s)"
