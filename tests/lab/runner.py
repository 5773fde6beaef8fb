"""Start the lab's programs as real processes: servers announce their port, clients run to completion.

``running_lab_server("reply_server")`` starts ``tests/lab/reply_server.py 0``, waits (with a deadline)
for its ``listening on PORT`` line and yields a ``LabServer`` whose ``lines`` collect the rest of its
output (a reader thread), so a test can ``wait_for_line`` what the server printed.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from helpers.waiting import wait_until

LAB_DIR = Path(__file__).resolve().parent
SERVERS = ("echo_server", "reply_server", "detailed_server", "greeting_server", "udp_echo_server",
           "one_client_echo_server")
CLIENTS = ("tcp_client", "greeting_client", "udp_client")


def lab_program(name: str) -> list[str]:
    """The argv prefix that runs lab program ``name`` (for example ``tcp_client``)."""
    path = LAB_DIR / f"{name}.py"
    if not path.exists():
        raise ValueError(f"no lab program {name!r}: choose from {SERVERS + CLIENTS}")
    return [sys.executable, "-u", str(path)]


@dataclass
class LabServer:
    """A running lab server: where it listens and what it has printed since."""

    name: str
    process: subprocess.Popen[str]
    host: str = "127.0.0.1"
    port: int = 0
    lines: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def wait_for_line(self, predicate: Callable[[str], bool] | str, timeout: float = 10.0) -> str:
        """The first output line matching ``predicate`` (or containing the string), within ``timeout`` s."""
        test = (lambda line: predicate in line) if isinstance(predicate, str) else predicate

        def found() -> str | None:
            return next((line for line in list(self.lines) if test(line)), None)

        what = f"{self.name} to print {predicate!r}; got {self.lines}"
        return wait_until(found, timeout=timeout, what=what)


def _read_lines(server: LabServer) -> None:
    assert server.process.stdout is not None
    for line in server.process.stdout:
        server.lines.append(line.rstrip("\n"))


@contextmanager
def running_lab_server(name: str, port: int = 0, host: str = "127.0.0.1",
                       argv_prefix: list[str] | None = None) -> Iterator[LabServer]:
    """Run lab server ``name`` on ``host:port`` (0: any free port) until the block ends.

    ``argv_prefix`` runs it through another command (for example ``ip netns exec NAME``).
    """
    argv = [*(argv_prefix or []), *lab_program(name), str(port), host]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = LabServer(name=name, process=process, host=host)
    reader = threading.Thread(target=_read_lines, args=(server,), daemon=True)
    reader.start()
    try:
        first = server.wait_for_line(lambda line: line.startswith("listening on "))
        server.port = int(first.split()[-1])
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        reader.join(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def run_lab_client(name: str, *args: str, input: str | None = None,
                   timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """Run lab client ``name`` with ``args`` (``HOST PORT MESSAGE...``) to completion."""
    return subprocess.run([*lab_program(name), *args], capture_output=True, text=True, timeout=timeout,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)
