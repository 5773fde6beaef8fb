"""Generate docs/troubleshooting.md from the error catalog.

    python scripts/troubleshooting_page.py          # rewrite docs/troubleshooting.md
    python scripts/troubleshooting_page.py --check  # exit 1 if the page is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "troubleshooting.md"


def main() -> int:
    from netdiag.render.troubleshooting import troubleshooting_markdown

    parser = argparse.ArgumentParser(description="Generate docs/troubleshooting.md from the catalog.")
    parser.add_argument("--check", action="store_true", help="only report whether the page is stale")
    options = parser.parse_args()
    wanted = troubleshooting_markdown()
    if options.check:
        fresh = PAGE.exists() and PAGE.read_text(encoding="utf-8") == wanted
        if not fresh:
            print("docs/troubleshooting.md is stale: run python scripts/troubleshooting_page.py",
                  file=sys.stderr)
        return 0 if fresh else 1
    PAGE.write_text(wanted, encoding="utf-8")
    print("wrote docs/troubleshooting.md")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
