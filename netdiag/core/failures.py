"""The exceptions netdiag raises on purpose, turned into messages and exit codes only by the CLI.

::

    NetdiagError                 exit_status says how the process ends
    ├── UsageError               bad input from the user (exit 2)
    ├── PrivilegeError           the OS refused for lack of privileges (exit 3)
    └── NetworkFailure           the network said no (exit 1); carries an ``Explanation``

Adapters translate ``OSError`` into these at the call site (``raise NetworkFailure(...) from exc``), so
the CLI never sees a raw errno and a network event never becomes a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netdiag.core.exit_status import ExitStatus

if TYPE_CHECKING:
    from netdiag.core.catalog import Explanation


class NetdiagError(Exception):
    """Base of every deliberate failure; ``str(err)`` is one sentence for the user."""

    exit_status: ExitStatus = ExitStatus.NETWORK_SAID_NO

    def __init__(self, message: str, *, explanation: Explanation | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.explanation = explanation


class UsageError(NetdiagError):
    """The user asked for something malformed: a bad target, port or option combination."""

    exit_status = ExitStatus.USAGE


class PrivilegeError(NetdiagError):
    """The OS refused for lack of privileges: capture, privileged port, reading firewall rules."""

    exit_status = ExitStatus.NO_PRIVILEGES


class NetworkFailure(NetdiagError):
    """The network said no: refused, timed out, reset, unreachable, name not resolved."""

    exit_status = ExitStatus.NETWORK_SAID_NO
