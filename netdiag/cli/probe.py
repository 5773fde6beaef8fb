"""`netdiag probe`: placeholder until its issue lands (see the issue tracker)."""

from __future__ import annotations

import typer

from netdiag.core.failures import UsageError


def register(app: typer.Typer) -> None:
    app.command(
        name="probe",
        help="Probe TCP/UDP ports: open, closed, filtered, and why.",
    )(probe_command)


def probe_command() -> None:
    raise UsageError("netdiag probe is not available yet.")
