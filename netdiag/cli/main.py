"""The ``netdiag`` command: the root callback, lazy command loading, and the one error boundary.

Start-up is a feature: ``netdiag --help`` and ``--version`` must cost little more than importing typer
(bench/startup.py measures it). So the command modules are not imported here. ``COMMANDS`` names each
command, its module, a one-line summary and a first example, in the order a newcomer needs them; the root
help is made from that table alone, and a command's module is imported (and its typer command built) only
when that command runs, shows its help, or is completed. ``netdiag probe`` therefore never pays for
``listen`` or ``handshake``. tests/cli/test_conventions.py checks that every summary's example parses
against the real command.

Exit codes (``netdiag.core.exit_status.ExitStatus``; docs/exit-codes.md is generated from it):
``NetdiagError`` subclasses carry their own; click usage errors are 2; Ctrl-C anywhere is 130 without a
traceback; a closed stdout (``netdiag sockets | head``) ends the command quietly with 0.
"""

from __future__ import annotations

import errno
import gc
import os
import sys
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from importlib import import_module
from textwrap import wrap
from typing import Annotated, Any, NoReturn

import typer

from netdiag import __version__
from netdiag.cli.common import configure_output, output
from netdiag.cli.typer_shim import ClickException, TyperGroup
from netdiag.core.exit_status import ExitStatus
from netdiag.core.failures import NetdiagError, NetworkFailure, PrivilegeError

HELP = """See and fix what happens on sockets: lab servers and clients, who listens where, why a
connection fails and how to fix it, and the TCP handshake itself.

New here? `netdiag tour` walks through a server, a client and their sockets on this machine
(loopback only, nothing leaves it)."""

EPILOG = """Exit codes: 0 ok, 1 the network said no (refused, timed out, filtered, reset, not resolved),
2 usage error, 3 missing privileges, 4 damaged input file (explain --pcap), 130 interrupted.

`netdiag COMMAND --help` shows a command's options and more examples. Colour only on a terminal;
NO_COLOR or --no-color (before or after the command) turn it off."""


@dataclass(frozen=True)
class CommandEntry:
    """One command as the root help shows it; ``module`` (netdiag.cli.NAME) holds its ``register(app)``."""

    name: str
    summary: str
    example: str

    @property
    def module(self) -> str:
        return f"netdiag.cli.{self.name}"


# Newcomer order: see it work, run the lab, look at sockets, then diagnose, then go deeper.
COMMANDS: tuple[CommandEntry, ...] = (
    CommandEntry("tour", "Watch a server, a client and their sockets (loopback only).",
                 "netdiag tour --pause"),
    CommandEntry("listen", "Run a lab server: echo, reply, greet, chat or sink; TCP or UDP.",
                 "netdiag listen 8000 --mode echo"),
    CommandEntry("connect", "Connect to a server, send lines, print the replies.",
                 "netdiag connect 127.0.0.1:8000 --message hello"),
    CommandEntry("sockets", "Every socket, its state and its process, like ss / netstat -an.",
                 "netdiag sockets --listening"),
    CommandEntry("interfaces", "Interfaces, and the address others should use to reach you.",
                 "netdiag interfaces"),
    CommandEntry("probe", "Probe TCP/UDP ports: open, closed or filtered, and why.",
                 "netdiag probe 127.0.0.1:22,80,8000-8010"),
    CommandEntry("explain", "Diagnose a failed connection, a pasted error, or a capture file.",
                 "netdiag explain 127.0.0.1:8000"),
    CommandEntry("handshake", "Capture a TCP handshake and draw it (needs root).",
                 "sudo netdiag handshake 127.0.0.1:8000"),
    CommandEntry("load", "Load an echo server with N clients for a bounded time.",
                 "netdiag load 127.0.0.1:8000 --clients 100"),
    CommandEntry("doctor", "Versions, platform and what works here (for bug reports).",
                 "netdiag doctor"),
)

# errno values that are network events even when no adapter translated them (the safety net below).
_NETWORK_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH,
     errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.ECONNABORTED, errno.EPIPE}
)


def build_command(entry: CommandEntry) -> Any:
    """Import the command's module and build its click command, with the root's help conventions."""
    module = import_module(entry.module)
    single = typer.Typer(rich_markup_mode=None, add_completion=False)
    module.register(single)
    command = typer.main.get_command(single)
    nested = getattr(command, "commands", None)
    if nested is not None:  # a module that registered a group, or several commands: take ours
        command = nested[entry.name]
    command.name = entry.name
    return command


class LazyCommands(MutableMapping[str, Any]):
    """The root group's commands: names known up front, each built on first use."""

    def __init__(self, entries: tuple[CommandEntry, ...]) -> None:
        self._entries = {entry.name: entry for entry in entries}
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            self._built[name] = build_command(self._entries[name])  # KeyError for unknown names
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command
        self._entries.setdefault(name, CommandEntry(name, "", ""))

    def __delitem__(self, name: str) -> None:
        del self._entries[name]
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, name: str) -> CommandEntry:
        return self._entries[name]


class NetdiagGroup(TyperGroup):
    """The root group: lazily built commands, a newcomer-ordered help with examples, a quiet closed pipe."""

    def __init__(self, **kwargs: Any) -> None:
        extra = kwargs.pop("commands", None) or {}
        super().__init__(**kwargs)
        self.commands = LazyCommands(COMMANDS)
        for name, command in dict(extra).items():  # commands registered on `app` directly (tests)
            self.commands[name] = command

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def get_params(self, ctx: Any) -> list[Any]:
        """The root options, converted without pydantic (typer would import it: ~150 ms per run)."""
        from netdiag.cli.plain_coercion import with_plain_coercion

        return with_plain_coercion(super().get_params(ctx))

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """List each command with its one-line summary and, under it, an example (no module imported)."""
        commands: LazyCommands = self.commands  # type: ignore[assignment]
        entries = [commands.entry(name) for name in commands]
        name_width = max(len(entry.name) for entry in entries) + 2
        text_width = max(formatter.width - formatter.current_indent - name_width - 2, 30)
        with formatter.section("Commands, in the order you will need them"):
            for entry in entries:
                summary = wrap(entry.summary, text_width) or [""]
                formatter.write_text(f"{entry.name:<{name_width}}{summary[0]}")
                for line in summary[1:]:
                    formatter.write_text(f"{'':<{name_width}}{line}")
                if entry.example:
                    formatter.write_text(f"{'':<{name_width}}$ {entry.example}")

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


def run(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every deliberate failure into a message and an exit code.

    Before exiting, every object is moved to the collector's permanent generation (``gc.freeze``): the
    interpreter's last collection at exit would otherwise walk all of them (the 20,000 rows of a big
    socket listing: ~10 ms of a run that takes 200) only to find nothing to free before the process ends.
    """
    try:
        code = main(argv)
    except KeyboardInterrupt:
        code = int(ExitStatus.INTERRUPTED)
    gc.freeze()
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit status (the single error boundary of netdiag)."""
    command = typer.main.get_command(app)
    args = _root_flags_first(list(sys.argv[1:] if argv is None else argv))
    try:
        result = command.main(args=args, prog_name="netdiag", standalone_mode=False)
    except NetdiagError as err:
        _report(err)
        if err.exit_status == ExitStatus.USAGE:
            _suggest_joined_target(args)
        return int(err.exit_status)
    except ClickException as err:
        err.show()
        _suggest_joined_target(args)
        return err.exit_code
    except (typer.Abort, KeyboardInterrupt):
        output().info("")
        return int(ExitStatus.INTERRUPTED)
    except typer.Exit as err:
        return err.exit_code
    except BrokenPipeError:
        _silence_stdout()
        return int(ExitStatus.OK)
    except OSError as exc:
        # Safety net: an adapter should have translated this. A network event still gets no traceback.
        failure = _untranslated_failure(exc)
        if failure is None:
            raise
        _report(failure)
        return int(failure.exit_status)
    return result if isinstance(result, int) else int(ExitStatus.OK)


def _root_flags_first(args: list[str]) -> list[str]:
    """``netdiag sockets --no-color`` works like ``netdiag --no-color sockets`` (as with ls, grep, ss).

    ``--no-color`` is a root option; typed after the command, click would reject it. No command has an
    option of that name, so the token moves to the front (up to a ``--``, after which words are data).
    """
    end = args.index("--") if "--" in args else len(args)
    if "--no-color" not in args[:end]:
        return args
    return ["--no-color", *(word for word in args[:end] if word != "--no-color"), *args[end:]]


def _suggest_joined_target(args: list[str]) -> None:
    """``netdiag connect 127.0.0.1 8000``: the host and port were typed as two words; name the one meant."""
    from netdiag.core.targets import joined_target

    words = [word for word in args if not word.startswith("-")]
    meant = joined_target(words[1:])
    if meant is not None:
        output().info(f"Did you mean {meant}? (host and port are one word, joined by a colon)")


def _report(err: NetdiagError) -> None:
    out = output()
    out.error(err.message)
    if err.explanation is not None:
        out.explanation(err.explanation)


def _untranslated_failure(exc: OSError) -> NetdiagError | None:
    """The failure to report for an ``OSError`` no adapter translated, read by the one exception -> cause
    function; None when it is no network event (a bug: its traceback should show)."""
    from netdiag.core.catalog import Cause, explanation_for
    from netdiag.core.error_causes import classify_exception

    cause = classify_exception(exc, "connect")
    if isinstance(exc, PermissionError):
        return PrivilegeError(
            f"Permission denied: {exc.strerror or exc}. Run it with sudo, or as a user allowed to do this.",
            errno=exc.errno,
        )
    if cause is Cause.DNS_FAILURE:
        return NetworkFailure(f"Name not resolved: {exc}", explanation=explanation_for(cause),
                              errno=exc.errno)
    if isinstance(exc, (ConnectionError, TimeoutError)) or exc.errno in _NETWORK_ERRNOS:
        return NetworkFailure(f"{explanation_for(cause).title}: {exc.strerror or exc}",
                              explanation=explanation_for(cause), errno=exc.errno)
    return None


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
