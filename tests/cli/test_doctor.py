"""`netdiag doctor` reports the installed versions and this machine's capabilities, as text and JSON."""

from __future__ import annotations

import json
import platform as stdlib_platform
from importlib import metadata

from helpers.cli import invoke_netdiag

from netdiag import __version__
from netdiag.core.exit_status import ExitStatus


def test_json_names_versions_and_capabilities() -> None:
    result = invoke_netdiag("doctor", "--format", "json")
    assert result.returncode == ExitStatus.OK, result.stderr
    data = json.loads(result.stdout)
    assert data["netdiag"] == __version__
    assert data["python"] == stdlib_platform.python_version()
    assert data["os"] == "linux"
    assert data["dependencies"]["psutil"] == metadata.version("psutil")
    assert data["dependencies"]["typer"] == metadata.version("typer")
    names = {c["name"] for c in data["capabilities"]}
    assert {"packet capture", "socket table via netlink", "firewall readable", "uvloop"} <= names


def test_text_says_yes_or_no_per_capability() -> None:
    result = invoke_netdiag("doctor")
    assert result.returncode == ExitStatus.OK, result.stderr
    assert result.stdout.startswith(f"netdiag {__version__}\n")
    capture = next(line for line in result.stdout.splitlines() if "packet capture" in line)
    assert " yes " in capture or " no " in capture
