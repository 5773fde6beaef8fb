"""docs/troubleshooting.md is generated from the catalog, and the committed page is not stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from netdiag.core.catalog import CATALOG, Cause
from netdiag.core.errno_tables import ALL_ENTRIES
from netdiag.render.troubleshooting import troubleshooting_markdown

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "troubleshooting.md"


def test_committed_page_matches_the_catalog() -> None:
    assert PAGE.read_text(encoding="utf-8") == troubleshooting_markdown(), \
        "docs/troubleshooting.md is stale: run .venv/bin/python scripts/troubleshooting_page.py"


def test_the_check_mode_of_the_generator_agrees() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "troubleshooting_page.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_every_cause_and_every_number_is_on_the_page() -> None:
    page = troubleshooting_markdown()
    for cause in Cause:
        assert f"\n### {cause.value}\n" in page
        for fix in CATALOG[cause].fixes:
            assert fix.split(":")[0] in page
    for entry in ALL_ENTRIES:
        assert f"| {entry.number} | `{entry.symbol}` |" in page


def test_commands_in_fixes_are_code_spans() -> None:
    page = troubleshooting_markdown()
    assert "`netdiag sockets --listening --port PORT`" in page
    assert "`sudo setcap cap_net_bind_service=+ep /path/to/server`" in page
    assert "`ip route` (Linux), `netstat -rn` (macOS), `route print` (Windows)" in page
