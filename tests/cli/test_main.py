from __future__ import annotations

import errno
import socket

import pytest
from helpers.cli import invoke_netdiag, run_netdiag

from netdiag import __version__
from netdiag.core.catalog import Cause
from netdiag.core.exit_status import ExitStatus
from netdiag.core.failures import NetworkFailure, PrivilegeError


def test_version() -> None:
    result = invoke_netdiag("--version")
    assert result.returncode == ExitStatus.OK
    assert result.stdout.strip() == f"netdiag {__version__}"


def test_help_lists_commands_in_newcomer_order() -> None:
    result = invoke_netdiag("--help")
    assert result.returncode == ExitStatus.OK
    text = result.stdout
    positions = [text.index(f"  {name}") for name in ("tour", "listen", "connect", "sockets", "probe",
                                                       "explain", "handshake")]
    assert positions == sorted(positions)


def test_unknown_option_is_a_usage_error_without_traceback() -> None:
    result = invoke_netdiag("--no-such-option")
    assert result.returncode == ExitStatus.USAGE
    assert "Traceback" not in result.stderr
    assert "No such option" in result.stderr


def test_tour_runs_without_a_terminal() -> None:
    result = run_netdiag("tour")
    assert result.returncode == ExitStatus.OK, result.stderr
    assert "b'hello'" in result.stdout


@pytest.mark.parametrize(
    ("args", "meant"),
    [
        (["connect", "127.0.0.1", "8000"], "127.0.0.1:8000"),
        (["explain", "localhost", "8000"], "localhost:8000"),
        (["probe", "127.0.0.1", "8000"], "127.0.0.1:8000"),
        (["connect", "[::1]", "8000", "-m", "hi"], "[::1]:8000"),
    ],
)
def test_host_and_port_typed_as_two_words_get_the_joined_form(args: list[str], meant: str) -> None:
    result = invoke_netdiag(*args)
    assert result.returncode == ExitStatus.USAGE
    assert f"Did you mean {meant}?" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["connect", "http://127.0.0.1:8000/"], "is a URL: give HOST:PORT instead, here 127.0.0.1:8000"),
        (["listen", "127.0.0.1"], "has no port: give a port, as in 127.0.0.1:8000"),
        (["connect", "8000"], "port without a host: give HOST:PORT, for example 127.0.0.1:8000"),
    ],
)
def test_argument_mistakes_get_the_fix(args: list[str], phrase: str) -> None:
    result = invoke_netdiag(*args)
    assert result.returncode == ExitStatus.USAGE
    assert phrase in result.stderr
    assert "Did you mean" not in result.stderr


# The safety net of the error boundary, in process: an OSError no adapter translated is read by the one
# exception -> cause function (the subprocess checks of exit codes are in test_conventions.py).


@pytest.mark.parametrize(
    ("exc", "kind", "cause", "message"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), NetworkFailure,
         Cause.NOTHING_LISTENING, "Connection refused: Connection refused"),
        (TimeoutError("timed out"), NetworkFailure, Cause.TIMEOUT, "Timed out: timed out"),
        (TimeoutError(errno.ETIMEDOUT, "Connection timed out"), NetworkFailure, Cause.TIMEOUT,
         "Timed out: Connection timed out"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), NetworkFailure, Cause.HOST_UNREACHABLE,
         "Host unreachable: No route to host"),
        (socket.gaierror(-2, "Name or service not known"), NetworkFailure, Cause.DNS_FAILURE,
         "Name not resolved: [Errno -2] Name or service not known"),
        (PermissionError(errno.EPERM, "Operation not permitted"), PrivilegeError, None,
         "Permission denied: Operation not permitted. Run it with sudo, or as a user allowed to do this."),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_an_untranslated_network_event_gets_its_cause_and_sentence(
        exc: OSError, kind: type, cause: Cause | None, message: str) -> None:
    from netdiag.cli.main import _untranslated_failure

    failure = _untranslated_failure(exc)
    assert type(failure) is kind
    assert failure is not None and failure.message == message
    assert failure.cause is cause and failure.errno == exc.errno


def test_an_os_error_that_is_no_network_event_is_left_to_trace_back() -> None:
    from netdiag.cli.main import _untranslated_failure

    assert _untranslated_failure(FileNotFoundError(errno.ENOENT, "No such file or directory")) is None
    assert _untranslated_failure(OSError(errno.EINVAL, "Invalid argument")) is None
