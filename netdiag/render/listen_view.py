"""What ``netdiag listen`` says on stderr (the event log itself is ``log_lines``): where the server can
be reached and how to try it, and the machine's limits. The engines report shortages as facts
(``core.protocols.events.ServerWarning``), and only here do they meet the command's flags.

Pure: facts in, sentences out. The descriptor budget is read through ``BudgetFacts`` (the servers
adapter's ``DescriptorBudget``), so this module never imports an adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from netdiag.core.protocols.events import ServerWarning, ShortageKind
from netdiag.core.targets import format_endpoint


class BudgetFacts(Protocol):
    """The open-files limit shared out (``adapters.servers.descriptors.DescriptorBudget``)."""

    @property
    def limit(self) -> int: ...
    @property
    def in_use(self) -> int: ...
    @property
    def loop(self) -> int: ...
    @property
    def udp(self) -> bool: ...
    @property
    def fixed(self) -> int: ...
    @property
    def minimum(self) -> int: ...


def every_interface_lines(bound_host: str, others: Sequence[tuple[str, str]], port: int) -> list[str]:
    """Bound to a wildcard: the warning (first line, after ``warning: ``), then where other machines can
    connect (``others``: address and interface), or that they cannot."""
    lines = [f"listening on every interface of this machine ({bound_host}): anyone who can reach it can "
             "connect. Use 127.0.0.1 to keep it local."]
    lines.extend(f"  other machines can use {format_endpoint(other, port)}  ({interface})"
                 for other, interface in others)
    if not others:
        lines.append("  this machine has no address outside loopback: other machines cannot reach it")
    return lines


def try_it_line(bound_host: str, port: int, *, udp: bool) -> str:
    """The command that talks to the server just started (a wildcard: through loopback)."""
    target = format_endpoint("127.0.0.1" if bound_host in ("0.0.0.0", "") else
                             "::1" if bound_host == "::" else bound_host, port)
    kind = " --udp" if udp else ""
    return f"try it: netdiag connect {target}{kind}   (Ctrl-C stops the server)"


def fewer_clients_warning(soft: int, hard: int, max_clients: int, clients: int) -> str:
    """The open-files limit serves fewer clients than ``--max-clients`` asks (after ``warning: ``)."""
    return (f"this process may open only {soft} files (hard limit {hard}), fewer than --max-clients "
            f"{max_clients} needs: serving at most {clients} client(s) at once, the next ones are told the "
            "server is busy. Raise it with: ulimit -n (ulimit -Hn as root) or LimitNOFILE= in a systemd "
            "unit.")


def too_few_files(budget: BudgetFacts, hard: int, engine: str, loop_name: str) -> str:
    """Why the server cannot start under this open-files limit, and what to do about it (``engine``:
    ``asyncio`` or ``threads``)."""
    parts = [f"{budget.in_use} open already (standard streams, the listening socket)"]
    if budget.loop:
        parts.append(f"{budget.loop} for the event loop ({loop_name})")
    parts.append(f"{budget.fixed - budget.in_use - budget.loop} spare")
    if not budget.udp:
        parts.append("1 per client and 1 to tell clients over the limit that the server is busy")
    want = max(budget.minimum, 1024)
    how = (f"ulimit -n {want}" if hard >= want
           else f"ulimit -Hn {want} (as root), or LimitNOFILE= in a systemd unit")
    cheaper = "" if engine == "threads" or budget.udp else " (--engine threads needs the fewest)"
    return (f"Cannot serve: this process may open only {budget.limit} files (hard limit {hard}), and "
            f"netdiag listen needs at least {budget.minimum} with the {engine} engine: "
            f"{', '.join(parts)}. Raise the limit: {how}{cheaper}.")


def server_warning_text(warning: ServerWarning) -> str:
    """The one line (after ``warning: ``) for a shortage while serving, with the flag that helps."""
    if warning.kind is ShortageKind.ACCEPT_OUT_OF_FILES:
        return (f"cannot accept more connections now ({warning.detail}): new clients wait in the "
                "backlog until others close; raise the open-files limit (ulimit -n) or lower "
                "--max-clients.")
    if warning.kind is ShortageKind.ACCEPT_FAILED:
        return (f"accepting a connection failed ({warning.detail}); retrying in "
                f"{warning.retry_after or 0:g} s, new clients wait in the backlog meanwhile.")
    return (f"cannot start a thread for another client ({warning.detail}): this process has reached its "
            "limit on threads (ulimit -u, a container's pids.max or systemd's TasksMax); new clients are "
            "told the server is busy until others leave. Raise the limit, or use --engine asyncio "
            "(no thread per client).")


def cannot_observe_note(command: str) -> str:
    """The one line said (stderr) when this process may not capture: ``--observe`` shows nothing."""
    return ("--observe: this process may not capture packets, so the attempts that never become a "
            "connection (SYNs not answered, resets sent for the server) are not shown; the server runs "
            f"as usual. To see them run it with capture privileges: sudo {command} (or CAP_NET_RAW, "
            "docs/handshake.md).")


def observer_warning(text: str) -> str:
    """A warning of the ``--observe`` capture, named after its option."""
    return f"--observe: {text}"


def out_of_files_text(loop_name: str) -> str:
    """The event loop could not open the descriptors it needs to start serving."""
    return (f"Cannot serve: the event loop ({loop_name}) could not open the files it needs "
            "(too many open files). Raise the open-files limit (ulimit -n), or use --engine threads, "
            "which needs the fewest.")
