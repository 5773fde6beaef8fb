"""Bytes from strangers turned into text that is safe to print or relay.

Two uses, two rules:

* ``printable`` is for the event log: every byte stays visible, nothing is interpreted. Printable
  UTF-8 passes through; invalid UTF-8, control characters (NUL, ESC, ...) and backslashes become
  ``\\xNN`` / ``\\n`` / ``\\\\`` escapes, so a client can never move the cursor or recolour the
  instructor's terminal, and the log still shows exactly what arrived.
* ``clean_for_relay`` is for chat: terminal escape sequences (CSI, OSC, and lone ESC pairs) are removed,
  other control characters dropped (tab kept), invalid UTF-8 replaced by ``\\xNN``. What other clients
  receive is plain text.
"""

from __future__ import annotations

import re

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}

# ECMA-48: CSI (ESC [ ... final byte), OSC/DCS/PM/APC strings (ESC ] ... BEL or ST), 8-bit CSI (\x9b),
# then any other two-byte escape (ESC + one character).
_TERMINAL_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -~]?"
)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def _escape_char(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(data: bytes, *, limit: int | None = None) -> str:
    """The escaped, printable form of ``data`` for the log (cut to ``limit`` characters, with '...')."""
    text = data.decode("utf-8", errors="backslashreplace")
    if text.isprintable() and "\\" not in text:
        shown = text
    else:
        # backslashreplace already wrote invalid bytes as \xNN; escape real backslashes first so the two
        # cannot be confused, by escaping from the decoded characters of each valid run.
        shown = "".join(_escape_valid(part) for part in _split_valid(data))
    if limit is not None and len(shown) > limit:
        return shown[:limit] + "..."
    return shown


def _split_valid(data: bytes) -> list[str | bytes]:
    """Alternate runs of valid UTF-8 (as str) and invalid bytes (as bytes)."""
    parts: list[str | bytes] = []
    while data:
        try:
            parts.append(data.decode("utf-8"))
            break
        except UnicodeDecodeError as err:
            if err.start:
                parts.append(data[: err.start].decode("utf-8"))
            parts.append(data[err.start : err.end])
            data = data[err.end :]
    return parts


def _escape_valid(part: str | bytes) -> str:
    if isinstance(part, bytes):
        return "".join(f"\\x{byte:02x}" for byte in part)
    return "".join(_escape_char(char) if not char.isprintable() or char in _ESCAPES else char
                   for char in part)


def clean_for_relay(data: bytes) -> str:
    """Plain text for other chat clients: no escape sequences, no control characters but tab."""
    text = data.decode("utf-8", errors="backslashreplace")
    text = _TERMINAL_SEQUENCE.sub("", text)
    return _CONTROL.sub("", text)
