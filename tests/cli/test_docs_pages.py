"""The documentation agrees with the code: generated pages are fresh, the nav points at real pages, the
README opens with the two commands, and no page sends anyone to a real host."""

from __future__ import annotations

import importlib.util
import ipaddress
import re
from pathlib import Path
from types import ModuleType

import pytest
from helpers.cli import invoke_netdiag

from netdiag.core.exit_status import ExitStatus

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_pages", ROOT / "scripts" / "docs_pages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()


@pytest.mark.parametrize("name", sorted(GENERATOR.PAGES))
def test_generated_page_is_fresh(name: str) -> None:
    expected = GENERATOR.PAGES[name]()
    actual = (DOCS / name).read_text(encoding="utf-8") if (DOCS / name).exists() else ""
    assert actual == expected, f"docs/{name} is stale: run .venv/bin/python scripts/docs_pages.py"


def test_exit_code_page_lists_every_exit_status() -> None:
    page = (DOCS / "exit-codes.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \|", page, re.MULTILINE)
    assert rows == [(str(s.value), s.name) for s in ExitStatus]


def test_reference_documents_every_command_and_option() -> None:
    """Spot-check the generator really walked the click tree: each command and each of its options."""
    import typer

    from netdiag.cli.main import COMMANDS, app

    page = (DOCS / "reference.md").read_text(encoding="utf-8")
    root = typer.main.get_command(app)
    for entry in COMMANDS:
        assert f"\n## netdiag {entry.name}\n" in page
        for param in root.commands[entry.name].params:  # type: ignore[attr-defined]
            for option in getattr(param, "opts", []):
                if option.startswith("-"):
                    assert option in page, f"{entry.name} {option}"


def test_json_page_gathers_each_commands_json_section(tmp_path: Path) -> None:
    page = tmp_path / "demo.md"
    page.write_text("# demo\n\n## JSON output\n\nA list of objects.\n\n### Fields\n\nx\n\n"
                    "## Exit codes\n\n0\n")
    assert GENERATOR.json_section(page) == "A list of objects.\n\n### Fields\n\nx"
    page.write_text("# demo\n\nno json here\n")
    assert GENERATOR.json_section(page) is None


def _nav_files(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [f for value in node.values() for f in _nav_files(value)]
    if isinstance(node, list):
        return [f for item in node for f in _nav_files(item)]
    return []


def test_every_nav_entry_is_a_page_that_exists() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML comes with mkdocs (the docs extra)")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    files = _nav_files(config["nav"])
    assert files, "mkdocs.yml has no nav"
    missing = [f for f in files if not (DOCS / f).exists()]
    assert not missing, f"nav entries without a page: {missing}"


def test_readme_opens_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    block = lines[lines.index("```sh") + 1:lines.index("```sh") + 3]
    assert [line.split("#")[0].strip() for line in block] == ["./dev tour", "./dev test"]
    assert lines.index("```sh") <= 2


_ALLOWED_NETWORKS = [ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "0.0.0.0/32", "198.18.0.0/15", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
)]
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\d.])")


@pytest.mark.parametrize("page", sorted([*DOCS.glob("*.md"), ROOT / "README.md"]), ids=lambda p: p.name)
def test_docs_use_only_loopback_and_documentation_addresses(page: Path) -> None:
    for literal in _IPV4.findall(page.read_text(encoding="utf-8")):
        try:
            address = ipaddress.ip_address(literal)
        except ValueError:
            continue  # a version number or similar, not an address
        assert any(address in network for network in _ALLOWED_NETWORKS), f"{page.name}: {literal}"


# --- every command in the docs is one the CLI accepts ------------------------------------------------

PAGES = sorted([*DOCS.glob("*.md"), ROOT / "README.md"])
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _documented_commands(text: str) -> list[str]:
    """Each ``netdiag ...`` command line of the page's shell blocks (prompt, sudo and comment removed)."""
    found = []
    for language, body in _FENCE.findall(text):
        if language not in ("sh", "text"):
            continue
        for line in body.splitlines():
            line = line.strip().removeprefix("$ ").removeprefix("sudo ")
            if line.startswith("netdiag "):
                command = re.split(r"\s+#\s|\s\|\s|\s>\s", line, maxsplit=1)[0].strip()
                found.append(command.removesuffix("&").strip())
    return found


def test_guides_contain_commands_to_check() -> None:
    assert len(_documented_commands((DOCS / "lab-guide.md").read_text(encoding="utf-8"))) >= 20


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_documented_command_parses_against_the_real_cli(page: Path) -> None:
    """A guide's command that the CLI would reject teaches the wrong thing: parse each one for real."""
    import shlex

    import typer

    from netdiag.cli.main import app
    from netdiag.cli.typer_shim import ClickException

    root = typer.main.get_command(app)
    for line in _documented_commands(page.read_text(encoding="utf-8")):
        words = shlex.split(line)[1:]
        words = words[1:] if words[:1] == ["--no-color"] else words
        if not words or words[0].startswith("-") or "--help" in words or "-h" in words:
            continue  # root options only (`netdiag --install-completion`), or a help page
        assert words[0] in root.commands, f"{page.name}: `{line}`: no such command"  # type: ignore[attr-defined]
        parent = root.make_context("netdiag", [words[0]], resilient_parsing=True)
        command = root.commands[words[0]]  # type: ignore[attr-defined]
        try:
            with command.make_context(words[0], words[1:], parent=parent):
                pass
        except ClickException as error:
            raise AssertionError(f"{page.name}: `{line}` is rejected: {error}") from None


_EXPLAIN_ERROR = re.compile(
    r"""netdiag explain --error ('[^'`]*\d[^'`]*'|"[^"`]*\d[^"`]*"|\d+)( --platform \w+)?""")


def test_every_documented_error_message_is_recognised_by_explain() -> None:
    """A pasted error that the docs promise to explain must be recognised (exit 0), not "unknown"."""
    import shlex

    examples = sorted({match.group(0) for page in PAGES
                       for match in _EXPLAIN_ERROR.finditer(page.read_text(encoding="utf-8"))})
    assert len(examples) >= 5, examples
    for example in examples:
        result = invoke_netdiag(*shlex.split(example)[1:])
        assert result.returncode == ExitStatus.OK, f"{example}: {result.stdout}{result.stderr}"
        assert "cause: unknown" not in result.stdout, example


_CAUSE = re.compile(r"cause(?: code)?\s+`([a-z-]+)`|\[cause: ([a-z-]+)\]")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_cause_code_named_in_the_docs_exists(page: Path) -> None:
    from netdiag.core.catalog import Cause

    named = {a or b for a, b in _CAUSE.findall(page.read_text(encoding="utf-8"))}
    assert named <= {cause.value for cause in Cause}, named - {cause.value for cause in Cause}


def test_man_page_renders_cleanly_and_covers_every_command(tmp_path: Path) -> None:
    import subprocess

    from netdiag.cli.main import COMMANDS

    page = GENERATOR.man_page()
    (tmp_path / "netdiag.1").write_text(page, encoding="utf-8")
    rendered = subprocess.run(["groff", "-man", "-Tascii", "-ww", tmp_path / "netdiag.1"],
                              capture_output=True, text=True, timeout=30)
    assert rendered.returncode == 0 and rendered.stderr == "", rendered.stderr
    text = re.sub(r".\x08", "", rendered.stdout)  # groff's overstrike bold/underline
    for entry in COMMANDS:
        assert f"netdiag {entry.name}" in text
    assert "--format" in text and "netdiag probe 127.0.0.1:1-1024 --format json" in text
