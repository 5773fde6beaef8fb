"""The ``netdiag`` command: the root callback, command registration, and the one error boundary.

Commands are registered in the order a newcomer needs them, and ``netdiag --help`` lists them in that
order, each with its first example. Each command module imports only typer and cheap core modules at
import time; psutil, scapy and the adapters are imported inside the command, so ``netdiag --help`` and
``netdiag --version`` stay fast (bench/startup.py measures it).

Exit codes (``netdiag.core.exit_status.ExitStatus``; docs/exit-codes.md is generated from it):
``NetdiagError`` subclasses carry their own; click usage errors are 2; Ctrl-C anywhere is 130 without a
traceback; a closed stdout (``netdiag sockets | head``) ends the command quietly with 0.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from textwrap import wrap
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

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
from netdiag.cli.common import configure_output, first_example, output
from netdiag.core.exit_status import ExitStatus
from netdiag.core.failures import NetdiagError, NetworkFailure, PrivilegeError

HELP = """See and fix what happens on sockets: lab servers and clients, who listens where, why a
connection fails and how to fix it, and the TCP handshake itself.

New here? `netdiag tour` walks through a server, a client and their sockets on this machine
(loopback only, nothing leaves it)."""

EPILOG = """Exit codes: 0 ok, 1 the network said no (refused, timed out, filtered, reset, not resolved),
2 usage error, 3 missing privileges, 130 interrupted.

`netdiag COMMAND --help` shows a command's options and more examples. Colour only on a terminal;
NO_COLOR or --no-color turn it off."""

# Newcomer order: see it work, run the lab, look at sockets, then diagnose, then go deeper.
COMMAND_MODULES = (tour, listen, connect, sockets, interfaces, probe, explain, handshake, load)

# errno values that are network events even when no adapter translated them (the safety net below).
_NETWORK_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH,
     errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.ECONNABORTED, errno.EPIPE}
)


class NetdiagGroup(TyperGroup):
    """The root command group: newcomer-ordered command list with examples, and a quiet closed pipe."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """List each command with its one-line help and, under it, its first example."""
        commands = [(name, self.commands[name]) for name in self.list_commands(ctx)
                    if not self.commands[name].hidden]
        if not commands:
            return
        name_width = max(len(name) for name, _ in commands) + 2
        text_width = max(formatter.width - formatter.current_indent - name_width - 2, 30)
        with formatter.section("Commands, in the order you will need them"):
            for name, command in commands:
                summary = wrap(command.get_short_help_str(limit=300), text_width) or [""]
                formatter.write_text(f"{name:<{name_width}}{summary[0]}")
                for line in summary[1:]:
                    formatter.write_text(f"{'':<{name_width}}{line}")
                example = first_example(name, command.epilog)
                if example:
                    formatter.write_text(f"{'':<{name_width}}$ {example}")

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:  # --help and --version print while the context is made
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            _end_closed_pipe()

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _end_closed_pipe()


app = typer.Typer(
    name="netdiag",
    cls=NetdiagGroup,
    help=HELP,
    epilog=EPILOG,
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


for module in COMMAND_MODULES:
    module.register(app)


def run(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every deliberate failure into a message and an exit code."""
    try:
        code = main(argv)
    except KeyboardInterrupt:
        code = int(ExitStatus.INTERRUPTED)
    sys.exit(code)


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
        output().info("")
        return int(ExitStatus.INTERRUPTED)
    except typer.Exit as err:
        return err.exit_code
    except BrokenPipeError:
        _silence_stdout()
        return int(ExitStatus.OK)
    except (ConnectionError, TimeoutError, socket.gaierror) as exc:
        # Safety net: an adapter should have translated this. Still a network event: explain, no traceback.
        return _report_untranslated(exc)
    except OSError as exc:
        if exc.errno in _NETWORK_ERRNOS or isinstance(exc, PermissionError):
            return _report_untranslated(exc)
        raise
    return result if isinstance(result, int) else int(ExitStatus.OK)


def _report(err: NetdiagError) -> None:
    out = output()
    out.error(err.message)
    if err.explanation is not None:
        out.explanation(err.explanation)


def _report_untranslated(exc: OSError) -> int:
    from netdiag.core.catalog import Cause, classify_os_error, explanation_for

    if isinstance(exc, PermissionError):
        failure: NetdiagError = PrivilegeError(
            f"Permission denied: {exc.strerror or exc}. Run it with sudo, or as a user allowed to do this."
        )
    elif isinstance(exc, socket.gaierror):
        failure = NetworkFailure(f"Name not resolved: {exc}", explanation=explanation_for(Cause.DNS_FAILURE))
    else:
        cause = classify_os_error(exc.errno, "connect", timed_out=isinstance(exc, TimeoutError))
        failure = NetworkFailure(f"{explanation_for(cause).title}: {exc.strerror or exc}",
                                 explanation=explanation_for(cause))
    _report(failure)
    return int(failure.exit_status)


def _end_closed_pipe() -> NoReturn:
    """`netdiag ... | head`: the reader has all it wanted. Stop quietly with 0 (typer alone would exit 1)."""
    _silence_stdout()
    raise typer.Exit(int(ExitStatus.OK)) from None


def _silence_stdout() -> None:
    """After EPIPE (``netdiag ... | head``) point stdout at /dev/null so the final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout already closed or not a real file: nothing left to flush
        pass
