"""`netdiag sockets`: placeholder until its issue lands (see the issue tracker)."""

from __future__ import annotations

import typer

from netdiag.core.failures import UsageError


def register(app: typer.Typer) -> None:
    app.command(
        name="sockets",
        help="List sockets with their state and owning process, like ss / netstat.",
    )(sockets_command)


def sockets_command() -> None:
    raise UsageError("netdiag sockets is not available yet.")
