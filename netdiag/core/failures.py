"""The exceptions netdiag raises on purpose, turned into messages and exit codes only by the CLI.

::

    NetdiagError                 exit_status says how the process ends
    ├── UsageError               bad input from the user (exit 2)
    ├── PrivilegeError           the OS refused for lack of privileges (exit 3)
    └── NetworkFailure           the network said no (exit 1); carries an ``Explanation``
        └── ResolveFailure       a host name did not resolve; ``reason`` is the resolver's own words

Adapters translate ``OSError`` into these at the call site (``raise NetworkFailure(...) from exc``), so
the CLI never sees a raw errno and a network event never becomes a traceback. Besides the sentence for
the user, a failure carries what it is about as fields (``cause``, ``errno``, ``host``, ``port``): code
that needs one reads the field, never the sentence (its words are for people and may change).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netdiag.core.exit_status import ExitStatus

if TYPE_CHECKING:
    from netdiag.core.causes import Cause, Explanation


class NetdiagError(Exception):
    """Base of every deliberate failure; ``str(err)`` is one sentence for the user.

    ``cause`` is the catalog's cause code (given, else the explanation's, else None); ``errno`` the OS's
    number behind it (an errno, or a getaddrinfo code for a ``ResolveFailure``); ``host`` and ``port`` the
    target as the user named it. Each is None where the failure has none.
    """

    exit_status: ExitStatus = ExitStatus.NETWORK_SAID_NO

    def __init__(self, message: str, *, explanation: Explanation | None = None, cause: Cause | None = None,
                 errno: int | None = None, host: str | None = None, port: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.explanation = explanation
        self.cause = cause if cause is not None or explanation is None else explanation.cause
        self.errno = errno
        self.host = host
        self.port = port


class UsageError(NetdiagError):
    """The user asked for something malformed: a bad target, port or option combination."""

    exit_status = ExitStatus.USAGE


class PrivilegeError(NetdiagError):
    """The OS refused for lack of privileges: capture, privileged port, reading firewall rules."""

    exit_status = ExitStatus.NO_PRIVILEGES


class NetworkFailure(NetdiagError):
    """The network said no: refused, timed out, reset, unreachable, name not resolved."""

    exit_status = ExitStatus.NETWORK_SAID_NO


class ResolveFailure(NetworkFailure):
    """``host`` did not resolve: the sentence is ``Cannot resolve 'HOST': REASON.``

    ``reason`` is the resolver's own words (``Name or service not known``), or why the name is no valid
    host name; ``explain`` shows it in its resolve step, read from here rather than cut out of the
    sentence. Made by ``adapters.net.resolve.lookup``, the one place a failed ``getaddrinfo`` is
    translated.
    """

    def __init__(self, host: str, reason: str, *, explanation: Explanation, port: int | None = None,
                 errno: int | None = None) -> None:
        super().__init__(f"Cannot resolve '{host}': {reason}.", explanation=explanation, errno=errno,
                         host=host, port=port)
        self.reason = reason
