"""`netdiag tour`: a walk-through on loopback that shows what netdiag is for.

The steps are computed by ``netdiag.adapters.tour`` on real sockets and worded by
``netdiag.core.tour``; this module prints them as ``netdiag.render.tour_view`` writes them (socket rows
as ``netdiag sockets`` shows them, the handshake as ``netdiag handshake`` draws it) and, with ``--pause``,
waits for Enter between steps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from netdiag.cli.common import examples, output
from netdiag.core.exit_status import ExitStatus

if TYPE_CHECKING:
    from netdiag.core.tour import TourStep
    from netdiag.render.output import Output

HELP = """Walk through sockets on this machine: a server, a client, their states (loopback only).

Starts an echo server on a free port of 127.0.0.1 (a real `netdiag listen`), shows it LISTEN, connects a
client and exchanges a message, shows both ends ESTABLISHED, closes and shows TIME_WAIT on the side that
closed first, probes a closed port and explains the refusal, and shows what a loopback-only bind means.
Run as root (or with CAP_NET_RAW), it also captures the TCP handshake and draws it. Each step says what
to look at and why, and the netdiag command that shows the same thing.

Nothing is sent beyond 127.0.0.0/8, and the server is stopped at the end (also on Ctrl-C).
Exit codes: 0 done, 130 interrupted (Ctrl-C, SIGTERM, or the terminal closed).
"""

EPILOG = examples(
    "netdiag tour",
    "netdiag tour --pause          # lecture mode: Enter between steps",
    "sudo netdiag tour             # also capture and draw the handshake",
    "netdiag --no-color tour > tour.txt",
)

def register(app: typer.Typer) -> None:
    app.command(name="tour", help=HELP, epilog=EPILOG)(tour_command)


def tour_command(
    pause: Annotated[bool, typer.Option("--pause", help="Wait for Enter between steps (lecture mode); "
                                        "ignored without a terminal.")] = False,
) -> None:
    from netdiag.adapters.tour import run_tour

    out = output()
    waiting = pause and out.can_prompt()
    with _ending_on_hangup_or_term():
        steps = run_tour()
        try:
            # Wait for Enter *before* asking for the next step: the tour runs a step when it is asked for
            # it, so while paused at "both ends are ESTABLISHED" the connection really is still open.
            for number, step in enumerate(steps, start=1):
                render_step(out, number, step)
                if waiting and not step.last:
                    _wait_for_enter(out)
        finally:
            steps.close()  # stops the tour's server now, also on Ctrl-C, SIGTERM or a closed pipe


@contextlib.contextmanager
def _ending_on_hangup_or_term() -> Iterator[None]:
    """SIGTERM, or SIGHUP (the lecture's terminal closed), ends the tour through its ``finally``.

    By default these signals end Python at once, leaving the tour's server running; raised as
    ``SystemExit`` instead, they stop it first, and the tour exits 130 (interrupted) as on Ctrl-C.
    Nothing is printed: after SIGHUP there is no terminal left to print to.
    """
    import signal

    def end(_signum: int, _frame: object) -> None:
        raise SystemExit(int(ExitStatus.INTERRUPTED))

    wanted = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {signum: signal.signal(signum, end) for signum in wanted}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _wait_for_enter(out: Output) -> None:
    out.info(out.style("Press Enter for the next step (Ctrl-C to stop)...", "dim", stream="err"))
    with contextlib.suppress(EOFError):  # Ctrl-D: carry on
        input()


def render_step(out: Output, number: int, step: TourStep) -> None:
    from netdiag.render.tour_view import step_lines

    for line in step_lines(number, step, style=out.style):
        out.data(line)
