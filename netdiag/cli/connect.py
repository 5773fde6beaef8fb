"""`netdiag connect`: placeholder until its issue lands (see the issue tracker)."""

from __future__ import annotations

import typer

from netdiag.core.failures import UsageError


def register(app: typer.Typer) -> None:
    app.command(
        name="connect",
        help="Connect to a server, send lines or --message, print the replies.",
    )(connect_command)


def connect_command() -> None:
    raise UsageError("netdiag connect is not available yet.")
