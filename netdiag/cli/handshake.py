"""`netdiag handshake`: placeholder until its issue lands (see the issue tracker)."""

from __future__ import annotations

import typer

from netdiag.core.failures import UsageError


def register(app: typer.Typer) -> None:
    app.command(
        name="handshake",
        help="Capture a TCP handshake and draw it as a sequence diagram.",
    )(handshake_command)


def handshake_command() -> None:
    raise UsageError("netdiag handshake is not available yet.")
