"""Every documented example, natively and under the emulated macOS and Windows profiles (issue 13).

The examples are the ones each command's help ends with (the list docs/reference.md shows) and those of
the root help. Each runs as the user would type it (without ``sudo``, its shell pipe or redirect cut off)
inside a fresh namespace with only ``lo`` up, so nothing it does reaches the host's loopback services.
Each must end with a documented exit code and no traceback, and with the exit code it has natively,
except where docs/platforms.md says the command needs what the profile lacks (``handshake``: exit 3).
Servers and watchers run until their first line is seen, then get Ctrl-C (SIGINT): 0 or 130.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.cli import NETDIAG, netdiag_env
from helpers.netns import can_make_namespaces, lone_host
from helpers.profiles import PROFILES, profile_env
from helpers.waiting import wait_until

from netdiag.cli.common import example_command, example_lines
from netdiag.cli.main import COMMANDS, app

RUNS = ("native", *PROFILES)
DOCUMENTED = {0, 1, 2, 3}
# A server or watcher ended with Ctrl-C: 0, or 130. Killed by the SIGINT itself (-2: CPython re-raises an
# unhandled KeyboardInterrupt as the signal, e.g. one landing in the interpreter's exit) is what a shell
# also reports as 130, and shows no traceback (asserted).
STOPPED = {0, 130, -2}
TIMEOUT_S = 40.0
# What the pipe before netdiag gives it (`python3 client.py 2>&1 | tail -1 | netdiag explain --error -`).
PIPED_IN = "ConnectionRefusedError: [Errno 111] Connection refused\n"
# Commands docs/platforms.md says need a capture driver the profiles lack: exit 3 there, whatever natively.
NEEDS_CAPTURE = {"handshake"}
SAID_BEFORE = ("error:", "warning:", "note:")  # not yet the sign that a server or watcher runs


@dataclass(frozen=True)
class Example:
    line: str  # as the help shows it
    args: tuple[str, ...]  # after `netdiag`
    stdin: str | None  # what the pipe before netdiag gives it

    @property
    def long_running(self) -> bool:
        return self.args[0] == "listen" or "--watch" in self.args


def _invocation(line: str) -> Example | None:
    """The netdiag command of an example line: no comment, sudo, `&`, redirect, nor other pipe stages."""
    stages = [s.strip() for s in example_command(line).split(" | ")]
    for index, stage in enumerate(stages):
        words = shlex.split(stage.rstrip("& ").split(" > ", 1)[0])
        if words[:1] == ["sudo"]:
            words = words[1:]
        if words[:1] == ["netdiag"]:
            return Example(line, tuple(words[1:]), PIPED_IN if index else None)
    return None


def documented_examples() -> list[Example]:
    import typer

    lines = [entry.example for entry in COMMANDS if entry.example]
    for command in typer.main.get_command(app).commands.values():  # type: ignore[attr-defined]
        lines.extend(example_lines(command.epilog))
    unique: dict[tuple[tuple[str, ...], str | None], Example] = {}
    for line in lines:
        example = _invocation(line)
        if example is not None:
            unique.setdefault((example.args, example.stdin), example)
    return list(unique.values())


EXAMPLES = documented_examples()


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    interrupted: bool = False
    seconds: float = 0.0


def _env(run: str) -> dict[str, str]:
    return netdiag_env() if run == "native" else profile_env(run, netdiag_env())


def _run(example: Example, run: str, workdir: Path) -> Outcome:
    """Run ``example`` in a fresh lone namespace; a long-running one gets SIGINT after its first line."""
    started = time.monotonic()
    with lone_host() as ns:
        process = ns.popen(*NETDIAG, *example.args, env=_env(run), cwd=workdir,
                           stdin=subprocess.PIPE if example.stdin is not None else subprocess.DEVNULL)
        seen = threading.Event()
        streams: dict[str, list[str]] = {"stdout": [], "stderr": []}

        def drain(name: str) -> None:
            stream = getattr(process, name)
            for line in stream:
                streams[name].append(line)
                if not line.startswith(SAID_BEFORE):  # what comes before the exit or the service
                    seen.set()

        readers = [threading.Thread(target=drain, args=(name,), daemon=True) for name in streams]
        for reader in readers:
            reader.start()
        if example.stdin is not None:
            assert process.stdin is not None
            process.stdin.write(example.stdin)
            process.stdin.close()
        interrupted = False
        try:
            if example.long_running:
                wait_until(lambda: seen.is_set() or process.poll() is not None, timeout=TIMEOUT_S,
                           interval=0.02, what=f"the first line of {example.line!r}")
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
                    interrupted = True
            code = process.wait(timeout=TIMEOUT_S)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        for reader in readers:
            reader.join(timeout=10)
    return Outcome(code, "".join(streams["stdout"]), "".join(streams["stderr"]), interrupted,
                   time.monotonic() - started)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the capture files the `explain --pcap` examples name, from a real capture."""
    ok, reason = can_make_namespaces()
    if not ok:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("examples")
    pcap = folder / "capture.pcap"
    server = ("import socket\ns = socket.create_server(('127.0.0.1', 8000))\nprint('ready', flush=True)\n"
              "c, _ = s.accept()\nc.recv(100)\nc.close()\n")
    with lone_host() as ns:
        listener = ns.popen(sys.executable, "-c", server)
        try:
            assert listener.stdout is not None and listener.stdout.readline() == "ready\n"
            capture = ns.run(*NETDIAG, "handshake", "127.0.0.1:8000", "-m", "hello", "--pcap", str(pcap),
                             check=False, timeout=60)
            assert capture.returncode == 0, capture.stderr
        finally:
            listener.kill()
            listener.wait(timeout=10)
    import scapy.layers.l2  # noqa: F401 - registers Ethernet, the capture's link type, for rdpcap
    from scapy.utils import PcapNgWriter, rdpcap

    with PcapNgWriter(str(folder / "capture.pcapng")) as writer:
        for packet in rdpcap(str(pcap)):
            writer.write(packet)
    return folder


@pytest.fixture(scope="module")
def outcomes(workdir: Path) -> Iterator[dict[tuple[str, str], Future[Outcome]]]:
    """Every example under every run, four at a time (each in its own namespace and folder)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {}
        for example in EXAMPLES:
            for run in RUNS:
                folder = workdir / f"{len(futures)}"
                folder.mkdir()
                for name in ("capture.pcap", "capture.pcapng"):
                    (folder / name).symlink_to(workdir / name)
                futures[(example.line, run)] = pool.submit(_run, example, run, folder)
        yield futures


@pytest.mark.root
@pytest.mark.parametrize("example", EXAMPLES, ids=[" ".join(e.args) for e in EXAMPLES])
def test_every_documented_example_runs_under_every_profile(
    example: Example, outcomes: dict[tuple[str, str], Future[Outcome]]
) -> None:
    results = {run: outcomes[(example.line, run)].result(timeout=300) for run in RUNS}
    for run, outcome in results.items():
        assert "Traceback" not in outcome.stderr, (run, outcome.stderr)
        if outcome.interrupted:
            assert outcome.code in STOPPED, (run, outcome.code, outcome.stderr)
        else:
            assert outcome.code in DOCUMENTED, (run, outcome.code, outcome.stderr)
    native = results["native"]
    for profile in PROFILES:
        outcome = results[profile]
        if example.args[0] in NEEDS_CAPTURE:
            assert outcome.code == 3 and not outcome.interrupted, (profile, outcome.stderr)
        elif native.interrupted:
            assert outcome.interrupted, (profile, outcome.code, outcome.stderr)
        else:
            assert (outcome.code, outcome.interrupted) == (native.code, False), (profile, outcome.stderr)
