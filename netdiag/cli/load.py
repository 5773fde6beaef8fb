"""`netdiag load`: placeholder until its issue lands (see the issue tracker)."""

from __future__ import annotations

import typer

from netdiag.core.failures import UsageError


def register(app: typer.Typer) -> None:
    app.command(
        name="load",
        help="Bounded load generator for echo servers.",
    )(load_command)


def load_command() -> None:
    raise UsageError("netdiag load is not available yet.")
