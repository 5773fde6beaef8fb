"""`netdiag interfaces`: placeholder until its issue lands (see the issue tracker)."""

from __future__ import annotations

import typer

from netdiag.core.failures import UsageError


def register(app: typer.Typer) -> None:
    app.command(
        name="interfaces",
        help="List network interfaces and the addresses others should use.",
    )(interfaces_command)


def interfaces_command() -> None:
    raise UsageError("netdiag interfaces is not available yet.")
