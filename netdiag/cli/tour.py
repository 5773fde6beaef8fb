"""`netdiag tour`: a walk-through on loopback that shows what netdiag is for."""

from __future__ import annotations

import typer

from netdiag.cli.common import examples, output


def register(app: typer.Typer) -> None:
    app.command(
        name="tour",
        help="Walk through sockets on this machine: a server, a client, their states (loopback only).",
        epilog=examples("netdiag tour", "netdiag tour --pause   # lecture mode: Enter between steps"),
    )(tour_command)


def tour_command(
    pause: bool = typer.Option(False, "--pause", help="Wait for Enter between steps (lecture mode)."),
) -> None:
    from netdiag.adapters.tour_steps import run_minimal_tour

    out = output()
    for step in run_minimal_tour():
        out.data(out.style(step.title, "bold", "cyan"))
        for line in step.lines:
            out.data(f"  {line}")
        out.data()
        if pause and out.interactive:
            input("Press Enter for the next step...")
