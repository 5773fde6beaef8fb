"""Why no firewall tool could list its rules, told from facts the tool runner records, not searched for in
the words of a message. The tools are stand-in scripts (no root, no namespace, no rule is read)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from netdiag.adapters.net.firewall import read_firewall

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the firewall tools are Linux's")


def _tool(tmp_path: Path, stderr: str, status: int) -> list[str]:
    """A prefix that stands in for every tool: it prints ``stderr`` (``$1`` is the tool's name) and exits."""
    script = tmp_path / "tool"
    script.write_text(f'#!/bin/sh\necho "$1: {stderr}" >&2\nexit {status}\n')
    script.chmod(0o755)
    return [str(script)]


def test_no_tool_installed(tmp_path: Path) -> None:
    firewall = read_firewall(8000, command_prefix=[str(tmp_path / "no-such-program")])
    assert not firewall.readable
    assert firewall.note == "neither nft nor iptables is installed"


def test_a_refusal_for_lack_of_privileges_asks_for_sudo(tmp_path: Path) -> None:
    firewall = read_firewall(8000, command_prefix=_tool(tmp_path, "Permission denied (you must be root)", 4))
    assert not firewall.readable
    assert firewall.note == "reading it needs root (run netdiag with sudo to include it)"


def test_a_tools_own_words_are_reported_not_mistaken_for_a_summary(tmp_path: Path) -> None:
    """A tool that says "not installed" about something else (a kernel module) is not a missing tool."""
    firewall = read_firewall(8000, command_prefix=_tool(tmp_path, "module xt_comment not installed", 1))
    assert not firewall.readable
    assert firewall.note == ("iptables: iptables: module xt_comment not installed; "
                             "ip6tables: ip6tables: module xt_comment not installed; "
                             "nft: nft: module xt_comment not installed")
