"""`netdiag tour` without a terminal: every step happens for real and says what it observed."""

from __future__ import annotations

import re
import socket
import subprocess

import pytest
from helpers.cli import popen_netdiag, run_netdiag

from netdiag.core.exit_status import ExitStatus

STEP_TITLES = [
    "1. A server listens",
    "2. A client connects and exchanges a message",
    "3. Both ends are ESTABLISHED",
    "4. Closing: TIME_WAIT on the side that closed first",
    "5. A closed port refuses",
    "6. What a loopback-only bind means",
    "7. The three-way handshake",
    "8. Where to go next",
]


@pytest.fixture(scope="module")
def tour() -> subprocess.CompletedProcess[str]:
    """One real tour for the whole module (about 3 s); as root it also captures the handshake.

    ``--pause`` without a terminal (stdin is /dev/null) must run straight through.
    """
    return run_netdiag("tour", "--pause", timeout=90)


def _steps(stdout: str) -> dict[int, str]:
    parts = re.split(r"^(\d)\. ", stdout, flags=re.MULTILINE)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _server_port(stdout: str) -> int:
    match = re.search(r"An echo server listens on 127\.0\.0\.1:(\d+)", stdout)
    assert match, stdout
    return int(match.group(1))


def _client_port(stdout: str) -> int:
    match = re.search(r"The client 127\.0\.0\.1:(\d+) connected", stdout)
    assert match, stdout
    return int(match.group(1))


def _table_rows(step: str) -> list[list[str]]:
    return [line.split() for line in step.splitlines() if line.startswith("    tcp ")]


def test_tour_runs_every_step_in_order_and_exits_0(tour: subprocess.CompletedProcess[str]) -> None:
    assert tour.returncode == ExitStatus.OK, tour.stderr
    assert "Traceback" not in tour.stderr
    positions = [tour.stdout.index(title) for title in STEP_TITLES]
    assert positions == sorted(positions)
    assert "\x1b[" not in tour.stdout  # no terminal, no colour
    for number, step in _steps(tour.stdout).items():
        assert "Look: " in step, f"step {number} says what to look at"
        assert "Try:  " in step, f"step {number} gives a command to try"


def _look(step: str) -> str:
    """The step's "Look:" paragraph, unwrapped."""
    paragraph = step.split("Look: ", 1)[1].split("\n  Try:", 1)[0]
    return " ".join(paragraph.split())


def test_each_step_says_what_to_look_at_in_two_or_three_sentences(
    tour: subprocess.CompletedProcess[str],
) -> None:
    steps = _steps(tour.stdout)
    assert sorted(steps) == list(range(1, len(STEP_TITLES) + 1))
    for number, step in steps.items():
        sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z`'])", _look(step))
        assert 2 <= len(sentences) <= 3, f"step {number}: {sentences}"


def test_step_1_shows_the_server_listening(tour: subprocess.CompletedProcess[str]) -> None:
    port = _server_port(tour.stdout)
    rows = _table_rows(_steps(tour.stdout)[1])
    assert ["tcp", "LISTEN", f"127.0.0.1:{port}", "*"] == rows[0][:4], rows
    assert "not available" not in _steps(tour.stdout)[1]  # the real `netdiag listen`, not the fallback


def test_step_2_exchanges_a_message(tour: subprocess.CompletedProcess[str]) -> None:
    step = _steps(tour.stdout)[2]
    assert "It sent b'hello' and got back b'hello' (the same bytes)." in step
    assert f"connected to 127.0.0.1:{_server_port(tour.stdout)}" in step


def test_step_3_shows_both_ends_established(tour: subprocess.CompletedProcess[str]) -> None:
    port, client = _server_port(tour.stdout), _client_port(tour.stdout)
    rows = {tuple(row[:4]) for row in _table_rows(_steps(tour.stdout)[3])}
    assert ("tcp", "ESTABLISHED", f"127.0.0.1:{port}", f"127.0.0.1:{client}") in rows
    assert ("tcp", "ESTABLISHED", f"127.0.0.1:{client}", f"127.0.0.1:{port}") in rows
    assert ("tcp", "LISTEN", f"127.0.0.1:{port}", "*") in rows


def test_step_4_shows_time_wait_on_the_client_that_closed_first(
    tour: subprocess.CompletedProcess[str],
) -> None:
    port, client = _server_port(tour.stdout), _client_port(tour.stdout)
    step = _steps(tour.stdout)[4]
    rows = {tuple(row) for row in _table_rows(step)}
    assert ("tcp", "TIME_WAIT", f"127.0.0.1:{client}", f"127.0.0.1:{port}", "-", "-") in rows
    assert not any(r[1] == "TIME_WAIT" and r[2] == f"127.0.0.1:{port}" for r in rows)  # server side gone
    assert "is now in TIME_WAIT" in step


def test_step_5_probes_a_closed_port_and_explains_the_refusal(tour: subprocess.CompletedProcess[str]) -> None:
    step = _steps(tour.stdout)[5]
    assert re.search(r"Probing 127\.0\.0\.1:\d+, where nothing listens: closed \(conn-refused\)", step)
    assert "nothing is listening on that port" in step
    assert "ConnectionRefusedError" in step


def test_step_6_shows_what_a_loopback_only_bind_means(tour: subprocess.CompletedProcess[str]) -> None:
    port = _server_port(tour.stdout)
    step = _steps(tour.stdout)[6]
    assert f"127.0.0.1:{port} (the address the server bound): open (syn-ack)" in step
    assert re.search(rf"127\.0\.0\.2:{port} \(also this machine.*\): closed \(conn-refused\)", step)
    assert "0.0.0.0" in step


@pytest.mark.root
def test_step_7_draws_the_handshake_when_root(tour: subprocess.CompletedProcess[str]) -> None:
    step = _steps(tour.stdout)[7]
    lines = [line for line in step.splitlines() if "|" in line]
    flags = [re.search(r"(SYN,ACK|SYN|ACK)", line).group(1) for line in lines[:3]]  # type: ignore[union-attr]
    assert flags == ["SYN", "SYN,ACK", "ACK"], step
    assert "the server accepted" in step


def test_step_7_without_capture_says_how_to_see_it() -> None:
    from netdiag.adapters.tour import run_tour

    steps = list(run_tour(capture=False))
    handshake = steps[6]
    assert handshake.title == "The three-way handshake" and not handshake.available
    assert handshake.handshake is None
    assert any("sudo netdiag handshake 127.0.0.1:8000" in line for line in handshake.try_it)


def test_the_tour_stops_its_server(tour: subprocess.CompletedProcess[str]) -> None:
    port = _server_port(tour.stdout)
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def test_pause_without_a_terminal_runs_straight_through(tour: subprocess.CompletedProcess[str]) -> None:
    assert "Press Enter" not in tour.stderr
    assert "8. Where to go next" in tour.stdout


def test_a_reader_that_stops_early_ends_the_tour_quietly_and_stops_its_server() -> None:
    """`netdiag tour | head -2`: the tour exits 0 without a traceback, and its server is gone."""
    process = popen_netdiag("tour")
    assert process.stdout is not None and process.stderr is not None
    first_lines = process.stdout.readline() + process.stdout.readline()
    process.stdout.close()  # like head: the reader leaves after two lines
    try:
        assert process.wait(timeout=60) == ExitStatus.OK
    finally:
        process.kill()
        stderr = process.stderr.read()
        process.stderr.close()
        if process.stdin is not None:
            process.stdin.close()
    assert "Traceback" not in stderr, stderr
    port = _server_port(first_lines)
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def test_every_command_the_tour_suggests_is_accepted_by_the_cli(
    tour: subprocess.CompletedProcess[str],
) -> None:
    import shlex

    import typer

    from netdiag.cli.main import app

    root = typer.main.get_command(app)
    suggested = re.findall(r"^  Try:  (?:sudo )?netdiag (.+?)(?:\s+#.*)?$", tour.stdout, re.MULTILINE)
    assert len(suggested) >= 10, tour.stdout
    for line in suggested:
        words = shlex.split(line)
        if words[0].startswith("-"):
            continue  # `netdiag --help`
        parent = root.make_context("netdiag", [words[0]], resilient_parsing=True)
        command = root.commands[words[0]]  # type: ignore[attr-defined]
        with command.make_context(words[0], words[1:], parent=parent) as context:
            assert context.command is command, line
