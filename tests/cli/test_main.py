from __future__ import annotations

from helpers.cli import run_netdiag

from netdiag import __version__
from netdiag.core.exit_status import ExitStatus


def test_version() -> None:
    result = run_netdiag("--version")
    assert result.returncode == ExitStatus.OK
    assert result.stdout.strip() == f"netdiag {__version__}"


def test_help_lists_commands_in_newcomer_order() -> None:
    result = run_netdiag("--help")
    assert result.returncode == ExitStatus.OK
    text = result.stdout
    positions = [text.index(f"  {name}") for name in ("tour", "listen", "connect", "sockets", "probe",
                                                       "explain", "handshake")]
    assert positions == sorted(positions)


def test_unknown_option_is_a_usage_error_without_traceback() -> None:
    result = run_netdiag("--no-such-option")
    assert result.returncode == ExitStatus.USAGE
    assert "Traceback" not in result.stderr
    assert "No such option" in result.stderr


def test_tour_runs_without_a_terminal() -> None:
    result = run_netdiag("tour")
    assert result.returncode == ExitStatus.OK, result.stderr
    assert "b'hello'" in result.stdout
