from __future__ import annotations

import pytest
from helpers.cli import invoke_netdiag, run_netdiag

from netdiag import __version__
from netdiag.core.exit_status import ExitStatus


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
