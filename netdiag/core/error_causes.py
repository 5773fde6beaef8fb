"""Which cause an error is: one function per question, shared by every command and by ``explain --error``.

- ``classify_exception``: an exception raised by a socket call (the live path of listen, connect, load,
  and the CLI's safety net). It alone knows the exceptions whose errno is not an errno.
- ``classify_os_error``: an errno number seen during an operation (probe results keep only the number).
- ``permission_cause``: what "permission denied" (EACCES / EPERM) means, by operation, port and platform;
  a live errno and a pasted text (``core.error_text``) read it with this one rule.

The words for each cause live in ``core.catalog`` (data); this module is the logic that picks the cause.
Pure: no socket or asyncio import (core stays free of I/O and the CLI's start-up stays cheap), so those
modules' exceptions are recognised by their class names.
"""

from __future__ import annotations

import errno as errno_codes
from typing import Literal

from netdiag.core.causes import Cause

Operation = Literal["connect", "bind", "resolve", "send", "recv", "accept"]


def classify_exception(exc: BaseException, operation: Operation, *, port: int | None = None) -> Cause:
    """The cause of an exception raised by a socket call during ``operation``.

    Handles what ``classify_os_error`` cannot see from the errno alone: ``socket.gaierror`` (its errno
    is a getaddrinfo code, not an errno) and the timeouts (``TimeoutError`` / ``socket.timeout``, and
    on Python 3.10 asyncio's own ``TimeoutError``, not yet the builtin), whose errno is None.
    """
    if type(exc).__name__ == "gaierror":
        return Cause.DNS_FAILURE
    if isinstance(exc, TimeoutError) or type(exc).__name__ == "TimeoutError":  # asyncio's, on 3.10
        return Cause.TIMEOUT
    if isinstance(exc, OSError):
        return classify_os_error(exc.errno, operation, port=port)
    return Cause.UNKNOWN


def classify_os_error(code: int | None, operation: Operation, *, port: int | None = None) -> Cause:
    """Map an errno seen during ``operation`` to a cause code (numbers of the platform we run on).

    ``EACCES`` on bind and ``EPERM`` / ``EACCES`` on connect or send are read by ``permission_cause``;
    the same numbers on other operations are no network event netdiag explains.
    """
    if code == errno_codes.ETIMEDOUT:
        return Cause.TIMEOUT
    if (code == errno_codes.EACCES and operation == "bind") or (
            code in (errno_codes.EPERM, errno_codes.EACCES) and operation in ("connect", "send")):
        return permission_cause(operation, port)
    return _BY_ERRNO.get(code, Cause.UNKNOWN) if code is not None else Cause.UNKNOWN


def permission_cause(operation: Operation | None, port: int | None, *, windows: bool = False) -> Cause:
    """What "permission denied" means: the one rule for a live errno and for a pasted error's text.

    On connect or send it is a rule of this machine's own firewall (Linux netfilter refuses a locally
    generated packet it drops with EPERM; a prohibit route gives EACCES). Otherwise it is about a port
    the server may not bind: Windows has no privileged ports (10013 on bind is a reserved range); on
    Linux and macOS a port below 1024 is privileged, and another port is reserved by a policy. No port
    known: a privileged port, by far the common case (``explain --error`` says it guessed).
    """
    if operation in ("connect", "send"):
        return Cause.FIREWALL_DROP
    if windows:
        return Cause.PORT_RESERVED
    if port is not None and not 0 < port < 1024:
        return Cause.PORT_RESERVED
    return Cause.PRIVILEGED_PORT


_BY_ERRNO: dict[int, Cause] = {
    errno_codes.ECONNREFUSED: Cause.NOTHING_LISTENING,
    errno_codes.ECONNRESET: Cause.CONNECTION_RESET,
    errno_codes.EADDRINUSE: Cause.ADDRESS_IN_USE,
    errno_codes.EADDRNOTAVAIL: Cause.ADDRESS_NOT_LOCAL,
    errno_codes.EHOSTUNREACH: Cause.HOST_UNREACHABLE,
    errno_codes.EHOSTDOWN: Cause.HOST_UNREACHABLE,
    errno_codes.ENETUNREACH: Cause.NO_ROUTE,
    errno_codes.ENETDOWN: Cause.NO_ROUTE,
    errno_codes.EPIPE: Cause.BROKEN_PIPE,
    errno_codes.ECONNABORTED: Cause.CONNECTION_ABORTED,
    errno_codes.EBADF: Cause.SOCKET_CLOSED,
    errno_codes.ENOTSOCK: Cause.SOCKET_CLOSED,
    errno_codes.ENOTCONN: Cause.NOT_CONNECTED,
    errno_codes.EISCONN: Cause.ALREADY_CONNECTED,
    errno_codes.EINVAL: Cause.INVALID_ARGUMENT,
    errno_codes.EMFILE: Cause.TOO_MANY_OPEN_FILES,
}
