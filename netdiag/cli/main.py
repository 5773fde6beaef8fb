"""The ``netdiag`` command: the root callback, command registration, and the one error boundary.

Commands are registered in the order a newcomer needs them. Each command module imports only typer and
cheap core modules at import time; psutil, scapy and the adapters are imported inside the command, so
``netdiag --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from netdiag import __version__
from netdiag.cli import (
    connect,
    explain,
    handshake,
    interfaces,
    listen,
    load,
    probe,
    sockets,
    tour,
)
from netdiag.cli.common import configure_output, output
from netdiag.core.exit_status import ExitStatus
from netdiag.core.failures import NetdiagError

HELP = """See and fix what happens on sockets.

Start with `netdiag tour` for a walk-through on this machine (loopback only).

Exit codes: 0 ok, 1 the network said no, 2 usage error, 3 missing privileges, 130 interrupted.
"""

app = typer.Typer(
    name="netdiag",
    help=HELP,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"netdiag {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_print_version,
                     is_eager=True),
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colour, even on a terminal (NO_COLOR works too).")
    ] = False,
) -> None:
    """See and fix what happens on sockets."""
    configure_output(no_color=no_color)


for module in (tour, listen, connect, sockets, interfaces, probe, explain, handshake, load):
    module.register(app)


def run(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every deliberate failure into a message and an exit code."""
    sys.exit(main(argv))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit status (the single error boundary of netdiag)."""
    from typer._click.exceptions import ClickException

    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="netdiag", standalone_mode=False)
    except NetdiagError as err:
        _report(err)
        return int(err.exit_status)
    except ClickException as err:
        err.show()
        return err.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return int(ExitStatus.INTERRUPTED)
    except typer.Exit as err:
        return err.exit_code
    except BrokenPipeError:
        _silence_stdout()
        return int(ExitStatus.OK)
    return result if isinstance(result, int) else int(ExitStatus.OK)


def _report(err: NetdiagError) -> None:
    out = output()
    out.error(err.message)
    if err.explanation is not None:
        out.explanation(err.explanation)


def _silence_stdout() -> None:
    """After EPIPE (``netdiag ... | head``) point stdout at /dev/null so the final flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
