"""The one exception -> cause function, the errno table under it, and the one permission rule.

Pure: exceptions are built, never raised by a socket. Each former copy of the mapping (the CLI's safety
net, the load generator's ``_cause_of``, connect's attempts) has its cases here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import socket
import sys

import pytest

from netdiag.core.catalog import Cause
from netdiag.core.errno_tables import LINUX_ERRNO
from netdiag.core.error_causes import classify_exception, classify_os_error, permission_cause
from netdiag.core.error_text import read_error_text


@pytest.mark.parametrize(
    ("code", "operation", "port", "expected"),
    [
        (errno.ECONNREFUSED, "connect", None, Cause.NOTHING_LISTENING),
        (errno.ETIMEDOUT, "connect", None, Cause.TIMEOUT),
        (errno.EADDRINUSE, "bind", 8000, Cause.ADDRESS_IN_USE),
        (errno.EACCES, "bind", 80, Cause.PRIVILEGED_PORT),
        (errno.EACCES, "bind", 50000, Cause.PORT_RESERVED),
        (errno.EPERM, "connect", 80, Cause.FIREWALL_DROP),
        (errno.EACCES, "send", None, Cause.FIREWALL_DROP),
        (errno.EPERM, "bind", 80, Cause.UNKNOWN),
        (errno.EACCES, "recv", None, Cause.UNKNOWN),
        (errno.EADDRNOTAVAIL, "bind", 80, Cause.ADDRESS_NOT_LOCAL),
        (errno.EHOSTUNREACH, "connect", None, Cause.HOST_UNREACHABLE),
        (errno.ENETUNREACH, "connect", None, Cause.NO_ROUTE),
        (errno.ECONNRESET, "recv", None, Cause.CONNECTION_RESET),
        (errno.EPIPE, "send", None, Cause.BROKEN_PIPE),
        (errno.ECONNABORTED, "accept", None, Cause.CONNECTION_ABORTED),
        (errno.ENOENT, "connect", None, Cause.UNKNOWN),
        (None, "connect", None, Cause.UNKNOWN),
    ],
)
def test_classify_os_error(code: int | None, operation: str, port: int | None, expected: Cause) -> None:
    assert classify_os_error(code, operation, port=port) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "operation", "port", "expected"),
    [
        # what the getaddrinfo and timeout branches catch: their errno is no errno
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "resolve", None, Cause.DNS_FAILURE),
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure"), "connect", None, Cause.DNS_FAILURE),
        (TimeoutError("timed out"), "connect", None, Cause.TIMEOUT),
        (TimeoutError(errno.ETIMEDOUT, "Connection timed out"), "connect", None, Cause.TIMEOUT),
        (asyncio.TimeoutError(), "connect", None, Cause.TIMEOUT),  # load's preflight (3.10: not builtin)
        (concurrent.futures.TimeoutError(), "connect", None, Cause.TIMEOUT),
        # the errno branch, with the operation and port it is given
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "connect", None,
         Cause.NOTHING_LISTENING),
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "recv", None,
         Cause.CONNECTION_RESET),
        (BrokenPipeError(errno.EPIPE, "Broken pipe"), "send", None, Cause.BROKEN_PIPE),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "connect", None, Cause.HOST_UNREACHABLE),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "connect", None, Cause.NO_ROUTE),
        (PermissionError(errno.EPERM, "Operation not permitted"), "connect", None, Cause.FIREWALL_DROP),
        (PermissionError(errno.EACCES, "Permission denied"), "bind", 80, Cause.PRIVILEGED_PORT),
        (PermissionError(errno.EACCES, "Permission denied"), "bind", 8080, Cause.PORT_RESERVED),
        (OSError(errno.EADDRINUSE, "Address already in use"), "bind", 8000, Cause.ADDRESS_IN_USE),
        (OSError(errno.EAFNOSUPPORT, "Address family not supported"), "connect", None, Cause.UNKNOWN),
        (OSError("no errno at all"), "connect", None, Cause.UNKNOWN),
        (ValueError("not a socket error"), "connect", None, Cause.UNKNOWN),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_classify_exception(exc: BaseException, operation: str, port: int | None, expected: Cause) -> None:
    assert classify_exception(exc, operation, port=port) is expected  # type: ignore[arg-type]


def test_a_gaierror_is_a_dns_failure_whatever_its_number_reads_as_an_errno() -> None:
    """-3 (EAI_AGAIN) or 11001 (Windows) read as errno would be nonsense; the class decides first."""
    for number in (-2, -3, 8, 11001, errno.ECONNREFUSED):
        assert classify_exception(socket.gaierror(number, "x"), "connect") is Cause.DNS_FAILURE


@pytest.mark.parametrize(
    ("operation", "port", "windows", "expected"),
    [
        ("connect", 80, False, Cause.FIREWALL_DROP),
        ("send", None, True, Cause.FIREWALL_DROP),
        ("bind", 80, False, Cause.PRIVILEGED_PORT),
        ("bind", 1023, False, Cause.PRIVILEGED_PORT),
        ("bind", 1024, False, Cause.PORT_RESERVED),
        ("bind", 50000, False, Cause.PORT_RESERVED),
        ("bind", 0, False, Cause.PORT_RESERVED),
        ("bind", 80, True, Cause.PORT_RESERVED),
        ("bind", None, False, Cause.PRIVILEGED_PORT),
        (None, None, False, Cause.PRIVILEGED_PORT),
        (None, 8080, False, Cause.PORT_RESERVED),
        ("recv", 80, False, Cause.PRIVILEGED_PORT),
    ],
)
def test_permission_cause(operation: str | None, port: int | None, windows: bool, expected: Cause) -> None:
    assert permission_cause(operation, port, windows=windows) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("operation", "port"), [("bind", 80), ("bind", 8080), ("connect", 80),
                                                 ("send", 8080)])
@pytest.mark.parametrize("number", [errno.EACCES, errno.EPERM])
def test_a_pasted_permission_error_reads_as_the_live_one(operation: str, port: int, number: int) -> None:
    """The permission rule is one: ``explain --error`` and a live errno agree on every operation and port
    the live path explains (EPERM on bind is no network event)."""
    live = classify_os_error(number, operation, port=port)  # type: ignore[arg-type]
    if live is Cause.UNKNOWN:
        return
    strerror = "Permission denied" if number == errno.EACCES else "Operation not permitted"
    text = f"{operation} failed: PermissionError: [Errno {number}] {strerror} (port {port})"
    assert read_error_text(text, platform="linux").cause is live, text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="compares with Linux's own numbers")
@pytest.mark.parametrize("entry", LINUX_ERRNO, ids=lambda e: e.symbol)
def test_a_pasted_error_and_a_live_one_get_the_same_cause(entry: object) -> None:
    """One engine: the cause `explain --error` reads from a pasted `[Errno N] message` is the cause that
    listen/connect/load give the same errno live (classify_os_error), for the operation in the text."""
    number, message = entry.number, entry.message  # type: ignore[attr-defined]
    for operation, text in (("connect", f"connect failed: [Errno {number}] {message}"),
                            ("bind", f"bind failed: [Errno {number}] {message} (port 80)")):
        live = classify_os_error(number, operation, port=80)  # type: ignore[arg-type]
        if live is Cause.UNKNOWN:
            continue  # EPERM on bind is not a network event netdiag explains
        assert read_error_text(text).cause is live, text
