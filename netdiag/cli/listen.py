"""`netdiag listen`: placeholder until its issue lands (see the issue tracker)."""

from __future__ import annotations

import typer

from netdiag.core.failures import UsageError


def register(app: typer.Typer) -> None:
    app.command(
        name="listen",
        help="Run a lab server (echo, reply, greet, chat, sink) on TCP or UDP.",
    )(listen_command)


def listen_command() -> None:
    raise UsageError("netdiag listen is not available yet.")
