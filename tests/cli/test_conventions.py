"""The conventions every netdiag command follows, checked on the real CLI (docs/index.md lists them)."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import socket
import subprocess
import sys

import pytest
from helpers.cli import NETDIAG, invoke_netdiag, netdiag_env, run_netdiag

from netdiag.cli.common import example_command, example_lines, examples, first_example, runs_command
from netdiag.cli.main import COMMANDS, app
from netdiag.core.exit_status import ExitStatus
from netdiag.render.output import Output, colour_wanted

NEWCOMER_ORDER = ["tour", "listen", "connect", "sockets", "interfaces", "probe", "explain", "handshake",
                  "load", "doctor"]


def _commands() -> dict[str, object]:
    import typer

    return dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# --- help and examples -----------------------------------------------------------------------------------


def test_root_help_lists_every_command_in_newcomer_order_with_an_example() -> None:
    result = invoke_netdiag("--help")
    assert result.returncode == ExitStatus.OK
    section = result.stdout.split("Commands, in the order you will need them:", 1)[1]
    starts = [section.index(f"\n  {name} ") for name in NEWCOMER_ORDER]
    assert starts == sorted(starts)
    assert "\n              $ netdiag tour --pause" in section
    assert "Exit codes: 0 ok, 1 the network said no" in result.stdout


def test_commands_are_listed_in_newcomer_order_and_each_module_registers_its_command() -> None:
    assert [entry.name for entry in COMMANDS] == NEWCOMER_ORDER
    commands = _commands()
    assert list(commands) == NEWCOMER_ORDER
    for name, command in commands.items():
        assert command.name == name  # type: ignore[attr-defined]


@pytest.mark.parametrize("entry", COMMANDS, ids=lambda e: e.name)
def test_root_help_example_runs_its_command_and_parses(entry: object) -> None:
    import typer

    name, example = entry.name, entry.example  # type: ignore[attr-defined]
    assert runs_command(example, name)
    args = _example_arguments(example)
    parent = typer.main.get_command(app).make_context("netdiag", [name], resilient_parsing=True)
    command = _commands()[name]
    with command.make_context(name, args[1:], parent=parent) as context:  # type: ignore[attr-defined]
        assert context.command is command


CLI_INFRASTRUCTURE = {"netdiag.cli", "netdiag.cli.main", "netdiag.cli.common", "netdiag.cli.plain_coercion",
                      "netdiag.cli.typer_shim"}


def modules_loaded_by(*runs: list[str]) -> set[str]:
    """The ``netdiag`` modules a fresh interpreter holds after ``main(args)`` for each of ``runs``."""
    probe = (
        "import sys, contextlib, io, json\n"
        "from netdiag.cli.main import main\n"
        f"for args in {list(runs)!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()): main(args)\n"
        "print(json.dumps([m for m in sys.modules if m.startswith('netdiag')]))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def command_modules(modules: set[str]) -> set[str]:
    return {m for m in modules if m.startswith("netdiag.cli.")} - CLI_INFRASTRUCTURE


def test_help_and_version_import_no_command_module() -> None:
    """The root help is made from the COMMANDS table: no command module (nor its core imports) loads."""
    assert command_modules(modules_loaded_by(["--help"], ["--version"])) == set()


def test_help_and_version_do_not_load_the_error_catalog() -> None:
    """The catalog is data for failures; a successful --help never needs it (bench/startup.py)."""
    assert "netdiag.core.catalog" not in modules_loaded_by(["--help"], ["--version"], ["tour", "--help"])


def test_running_one_command_imports_only_that_command_module() -> None:
    assert command_modules(modules_loaded_by(["load", "--help"])) == {"netdiag.cli.load"}


@pytest.mark.parametrize("name", NEWCOMER_ORDER)
def test_every_command_help_ends_with_examples_of_itself(name: str) -> None:
    command = _commands()[name]
    assert first_example(name, command.epilog) is not None, (  # type: ignore[attr-defined]
        f"`netdiag {name} --help` must end with examples (netdiag.cli.common.examples) that run it"
    )
    text = invoke_netdiag(name, "--help").stdout
    assert text.rstrip().splitlines()[-1].strip().startswith(("netdiag", "sudo netdiag")), text


def _example_arguments(example: str) -> list[str]:
    """The arguments after ``netdiag`` as the shell would pass them (first command of a pipe, no `&`)."""
    command = example_command(example).split(" | ", 1)[0].rstrip("& ").strip()
    words = shlex.split(command)
    if words[:1] == ["sudo"]:
        words = words[1:]
    return [w for w in words[1:] if w != "--no-color"]


@pytest.mark.parametrize("name", NEWCOMER_ORDER)
def test_every_example_parses_against_the_real_command(name: str) -> None:
    """An example in the help that the CLI would reject is worse than none: parse each one for real."""
    import typer

    root = typer.main.get_command(app)
    command = _commands()[name]
    for example in example_lines(command.epilog):  # type: ignore[attr-defined]
        if not runs_command(example, name):
            continue
        args = _example_arguments(example)
        assert args[0] == name, example
        parent = root.make_context("netdiag", [name], resilient_parsing=True)
        with command.make_context(name, args[1:], parent=parent) as context:  # type: ignore[attr-defined]
            assert context.command is command, example


def test_examples_epilog_keeps_one_example_per_line() -> None:
    epilog = examples("netdiag tour", "netdiag tour --pause   # lecture mode")
    assert example_lines(epilog) == ["netdiag tour", "netdiag tour --pause   # lecture mode"]
    assert first_example("tour", epilog) == "netdiag tour"
    assert first_example("probe", epilog) is None
    assert runs_command("sudo netdiag handshake 127.0.0.1:80", "handshake")


def test_tour_help_shows_examples_unwrapped() -> None:
    text = invoke_netdiag("tour", "--help").stdout
    assert "\n    netdiag tour\n    netdiag tour --pause" in text


# --- version and completion ------------------------------------------------------------------------------


def test_version_is_printed_before_anything_else_runs() -> None:
    result = invoke_netdiag("--version", "tour")
    assert result.returncode == ExitStatus.OK
    assert result.stdout.startswith("netdiag ")
    assert "listen" not in result.stdout


def test_shell_completion_script_and_completion_of_a_command_name() -> None:
    script = run_netdiag("--show-completion", "bash")
    assert script.returncode == ExitStatus.OK
    assert "_netdiag_completion" in script.stdout
    env = netdiag_env(_NETDIAG_COMPLETE="complete_bash", COMP_WORDS="netdiag soc", COMP_CWORD="1")
    completed = subprocess.run([os.path.join(os.path.dirname(sys.executable), "netdiag")],
                               capture_output=True, text=True, env=env, timeout=30)
    assert completed.stdout.split() == ["sockets"]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("netdiag sockets --lis", ["--listening"]),  # an option of a command loaded only on demand
        ("netdiag listen 8000 --mode ", ["echo", "reply", "greet", "chat", "sink"]),  # its choices
    ],
)
def test_completion_reaches_into_each_command(words: str, expected: list[str]) -> None:
    env = netdiag_env(_NETDIAG_COMPLETE="complete_bash", COMP_WORDS=words,
                      COMP_CWORD=str(len(words.split()) - (0 if words.endswith(" ") else 1)))
    completed = subprocess.run([os.path.join(os.path.dirname(sys.executable), "netdiag")],
                               capture_output=True, text=True, env=env, timeout=30)
    assert completed.stdout.split() == expected, completed.stderr


# --- colour ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "flag", "terminal", "wanted"),
    [
        ({}, False, True, True),
        ({}, False, False, False),
        ({"NO_COLOR": "1"}, False, True, False),
        ({}, True, True, False),
        ({"FORCE_COLOR": "1"}, False, False, True),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, True, False),
        ({"FORCE_COLOR": "1"}, True, True, False),
        ({"TERM": "dumb"}, False, True, False),
    ],
)
def test_colour_only_on_a_terminal_and_never_with_no_color(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], flag: bool, terminal: bool, wanted: bool
) -> None:
    for name in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    stream = _Terminal() if terminal else io.StringIO()
    assert colour_wanted(stream, no_color_flag=flag) is wanted


def test_output_sends_data_to_stdout_and_messages_to_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    out, err = _Terminal(), io.StringIO()
    o = Output(out=out, err=err)
    o.data(o.style("LISTEN", "green"))
    o.warn("listing incomplete")
    o.error("refused")
    assert out.getvalue() == "\x1b[32mLISTEN\x1b[0m\n"
    assert err.getvalue() == "warning: listing incomplete\nerror: refused\n"
    assert o.data_to_terminal and not o.interactive


@pytest.mark.parametrize(
    ("args", "extra_env", "escapes"),
    [
        (["tour"], {"NO_COLOR": "", "FORCE_COLOR": "1"}, True),
        (["--no-color", "tour"], {"NO_COLOR": "", "FORCE_COLOR": "1"}, False),
        (["tour", "--no-color"], {"NO_COLOR": "", "FORCE_COLOR": "1"}, False),  # after the command too
        (["tour"], {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
        (["tour"], {"NO_COLOR": ""}, False),  # a pipe is not a terminal
    ],
)
def test_cli_colour_follows_flag_environment_and_terminal(
    args: list[str], extra_env: dict[str, str], escapes: bool
) -> None:
    result = run_netdiag(*args, env=netdiag_env(**extra_env))
    assert result.returncode == ExitStatus.OK, result.stderr
    assert ("\x1b[" in result.stdout) is escapes


# --- exit codes and the error boundary -------------------------------------------------------------------


def _run_with_injected_command(body: str) -> subprocess.CompletedProcess[str]:
    """Run the real entry point with one extra command whose body is ``body`` (a failure to provoke)."""
    program = (
        "import errno, socket\n"
        "from netdiag.cli import main\n"
        "@main.app.command(name='boom')\n"
        "def boom() -> None:\n"
        f"    {body}\n"
        "main.run(['boom'])\n"
    )
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=30,
                          env=netdiag_env())


@pytest.mark.parametrize(
    ("body", "status", "phrase"),
    [
        ("raise KeyboardInterrupt", ExitStatus.INTERRUPTED, ""),
        ("raise ConnectionRefusedError(errno.ECONNREFUSED, 'Connection refused')",
         ExitStatus.NETWORK_SAID_NO, "nothing is listening"),
        ("raise ConnectionResetError(errno.ECONNRESET, 'Connection reset by peer')",
         ExitStatus.NETWORK_SAID_NO, "aborted the connection"),
        ("raise OSError(errno.EHOSTUNREACH, 'No route to host')", ExitStatus.NETWORK_SAID_NO,
         "cannot be reached"),
        ("raise socket.gaierror(-2, 'Name or service not known')", ExitStatus.NETWORK_SAID_NO,
         "Name not resolved"),
        ("raise PermissionError(errno.EPERM, 'Operation not permitted')", ExitStatus.NO_PRIVILEGES,
         "sudo"),
        ("from netdiag.core.failures import UsageError; raise UsageError('bad target')", ExitStatus.USAGE,
         "error: bad target"),
    ],
)
def test_the_error_boundary_turns_failures_into_exit_codes_without_traceback(
    body: str, status: ExitStatus, phrase: str
) -> None:
    result = _run_with_injected_command(body)
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    assert phrase in result.stderr


def test_a_bug_still_traces_back() -> None:
    """The boundary catches network events, not bugs: a ValueError must stay loud."""
    result = _run_with_injected_command("raise ValueError('a bug')")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "ValueError: a bug" in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["tour"], ["tour", "--help"]])
def test_a_closed_stdout_ends_quietly(args: list[str]) -> None:
    """`netdiag ... | head`: stdout's reader is gone before netdiag writes; no traceback, exit 0."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([*NETDIAG, *args], stdout=write_end, stderr=subprocess.PIPE, text=True,
                                timeout=60, env=netdiag_env(), stdin=subprocess.DEVNULL)
    finally:
        os.close(write_end)
    assert result.returncode == ExitStatus.OK
    assert result.stderr == ""


def test_no_arguments_shows_help_as_a_usage_error() -> None:
    result = invoke_netdiag()
    assert result.returncode == ExitStatus.USAGE
    assert "Usage: netdiag" in result.stderr


# --- exit codes in every help, JSON on every listing or report ------------------------------------------

_EXIT_CODES = re.compile(r"Exit codes: (.*?)(?:\n\n|$)", re.DOTALL)


@pytest.mark.parametrize("name", NEWCOMER_ORDER)
def test_every_command_help_states_its_exit_codes_from_the_shared_table(name: str) -> None:
    text = invoke_netdiag(name, "--help").stdout
    match = _EXIT_CODES.search(text)
    assert match, f"`netdiag {name} --help` must say its exit codes (Exit codes: 0 ..., 1 ...)"
    codes = {int(code) for code in re.findall(r"(?<![\w.])(\d+)\s+(?=[a-z(])", match.group(1))}
    assert ExitStatus.OK.value in codes and len(codes) >= 2, match.group(1)
    assert codes <= {status.value for status in ExitStatus}, match.group(1)


# Commands whose output is a narrative or an event stream rather than a listing or a report.
WITHOUT_FORMAT = {"tour": "a walk-through for people", "listen": "--log json: one JSON event per line"}


def _option_metavars(name: str) -> dict[str, str]:
    """Each option of ``netdiag NAME`` and what its help shows for it (``-f, --format <table|json|csv>``)."""
    import typer

    root = typer.main.get_command(app)
    command = _commands()[name]
    ctx = command.make_context(  # type: ignore[attr-defined]
        name, [], parent=root.make_context("netdiag", [name], resilient_parsing=True), resilient_parsing=True)
    metavars = {}
    for param in command.get_params(ctx):  # type: ignore[attr-defined]
        record = param.get_help_record(ctx)
        for option in getattr(param, "opts", []):
            metavars[option] = record[0] if record else ""
    return metavars


@pytest.mark.parametrize("name", NEWCOMER_ORDER)
def test_every_command_that_lists_or_reports_offers_format_json(name: str) -> None:
    options = _option_metavars(name)
    if name in WITHOUT_FORMAT:
        assert "--format" not in options
        if name == "listen":
            assert "json" in options["--log"]
        return
    assert "--format" in options, f"`netdiag {name}` lists or reports: it needs --format json"
    assert re.search(r"[<|]json[|>]", options["--format"]), options["--format"]


def _closed_port() -> tuple[socket.socket, int]:
    """A loopback port that refuses: bound, not listening (so nothing else can take it meanwhile)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, int(sock.getsockname()[1])


@pytest.mark.parametrize("command", ["probe", "explain"])
def test_json_goes_to_stdout_alone_even_when_the_network_says_no(command: str) -> None:
    sock, port = _closed_port()
    with sock:
        result = invoke_netdiag(command, f"127.0.0.1:{port}", "--format", "json")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO, result.stderr
    document = json.loads(result.stdout)  # nothing but JSON on stdout
    assert "refused" in json.dumps(document)
    assert "Traceback" not in result.stderr


def test_connect_json_events_on_stdout_and_the_diagnosis_on_stderr() -> None:
    sock, port = _closed_port()
    with sock:
        result = invoke_netdiag("connect", f"127.0.0.1:{port}", "--message", "hi", "--format", "json")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[-1]["event"] == "error" and events[-1]["cause"] == "nothing-listening"
    assert "refused" in result.stderr and "{" not in result.stderr


@pytest.mark.parametrize("command", ["sockets", "interfaces"])
def test_listings_in_json_parse_whole(command: str) -> None:
    result = invoke_netdiag(command, "--format", "json")
    assert result.returncode == ExitStatus.OK, result.stderr
    assert json.loads(result.stdout)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["sockets", "--no-color", "-l"], ["--no-color", "sockets", "-l"]),
        (["--no-color", "sockets", "--no-color"], ["--no-color", "sockets"]),
        (["connect", "127.0.0.1:8000", "--", "--no-color"],  # after --: data, left alone
         ["connect", "127.0.0.1:8000", "--", "--no-color"]),
        (["tour"], ["tour"]),
    ],
)
def test_no_color_may_follow_the_command(args: list[str], expected: list[str]) -> None:
    from netdiag.cli.main import _root_flags_first

    assert _root_flags_first(args) == expected
