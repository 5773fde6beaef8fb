"""What ``netdiag listen`` says on stderr about the machine: the engines report shortages as facts
(``core.protocols.events.ServerWarning``), and only here do they meet the command's flags.
"""

from __future__ import annotations

from netdiag.core.protocols.events import ServerWarning, ShortageKind


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
