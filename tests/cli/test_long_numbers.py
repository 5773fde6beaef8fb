"""Numbers past Python's 4,300-digit ``int()`` limit, typed into every command that reads a number: a usage
error (exit 2) or "not recognised" (exit 1), one sentence, never a traceback. Also non-finite floats
(``nan``, ``inf``, ``1e999``), which used to pass the range checks of options (``nan`` compares false to
every bound) and crash ``connect`` in ``settimeout``."""

from __future__ import annotations

import pytest
from helpers.cli import invoke_netdiag

from netdiag.core.exit_status import ExitStatus

LONG = "9" * 5000


@pytest.mark.parametrize("args", [
    ("probe", f"127.0.0.1:{LONG}"),
    ("probe", f"127.0.0.1:1-{LONG}"),
    ("listen", LONG),
    ("listen", f"127.0.0.1:{LONG}"),
    ("connect", f"127.0.0.1:{LONG}"),
    ("explain", f"127.0.0.1:{LONG}"),
    ("handshake", f"127.0.0.1:{LONG}"),
    ("load", f"127.0.0.1:{LONG}"),
    ("connect", "127.0.0.1:1", "--timeout", LONG),
    ("connect", "127.0.0.1:1", "--timeout", "nan"),
    ("connect", "127.0.0.1:1", "--timeout", "1e300"),
    ("probe", "127.0.0.1:1", "--timeout", "nan"),
    ("sockets", "--pid", LONG),
], ids=lambda a: " ".join(x if len(x) < 20 else "LONG" for x in a))
def test_usage_error_not_traceback(args: tuple[str, ...]) -> None:
    result = invoke_netdiag(*args)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == ExitStatus.USAGE, result.stderr[-2000:]
    assert len(result.stderr) < 2000, "the message quotes the whole number"


@pytest.mark.parametrize("text", [LONG, f"-{LONG}", f"[Errno {LONG}] Connection refused",
                                  f"OSError: [WinError {LONG}] x", f"errno={LONG}"],
                         ids=["bare", "negative", "errno", "winerror", "errno="])
def test_explain_error_with_a_long_number_is_not_recognised(text: str) -> None:
    result = invoke_netdiag("explain", "--error", text)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode in (ExitStatus.OK, ExitStatus.NETWORK_SAID_NO), result.stderr[-2000:]
    if text != f"[Errno {LONG}] Connection refused":  # the phrase alone is recognised
        assert result.returncode == ExitStatus.NETWORK_SAID_NO
