"""`netdiag explain`: placeholder until its issue lands (see the issue tracker)."""

from __future__ import annotations

import typer

from netdiag.core.failures import UsageError


def register(app: typer.Typer) -> None:
    app.command(
        name="explain",
        help="Diagnose a failed connection, or explain a pasted error message.",
    )(explain_command)


def explain_command() -> None:
    raise UsageError("netdiag explain is not available yet.")
