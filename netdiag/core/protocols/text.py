"""Text from strangers (clients, servers, other processes) made safe to print or relay.

One rule, ``neutralise``: every character that a terminal would act on instead of showing is written
as an escape (``\\x1b``, ``\\u202e``, ``\\n``), or dropped where the text is relayed as plain text.
"Shown" is what ``str.isprintable`` calls printable, so the rule covers the C0 and C1 controls (ESC,
CSI, BEL ...) and every invisible or layout character of Unicode: the format characters (category Cf:
the bidi overrides U+202A-202E and isolates U+2066-2069 that reorder a line, U+200E/F, U+061C, the
zero-width U+200B-200D, U+FEFF), the separators U+2028/2029 (Zl, Zp), spaces other than the space
itself, surrogates, private-use and unassigned code points. A name or message can therefore neither
drive the terminal (clear it, set its title) nor spoof what a line says (an RLO turning ``exe.txt``
into ``txt.exe``).

Its users: ``printable`` (the server's event log: exact, backslashes and invalid UTF-8 escaped too),
``clean_for_relay`` (chat: escape sequences removed whole, other such characters dropped),
``reply_text`` (what ``netdiag connect`` prints) and the text formats of ``netdiag sockets`` (names,
paths and command lines of other processes).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# ECMA-48: CSI (ESC [ ... final byte), OSC/DCS/PM/APC strings (ESC ] ... BEL or ST), 8-bit CSI (\x9b),
# then any other two-byte escape (ESC + one character).
_TERMINAL_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -~]?"
)


def neutralise(text: str, *, keep: str = "", escape: Callable[[str], str] | None = None) -> str:
    """``text`` with every character that is not shown as itself (see the module) escaped.

    ``keep`` names characters to let through anyway (``"\\n\\t"`` for a reply printed line by line).
    ``escape`` writes one such character: by default as Python writes it (``\\x1b``, ``\\u202e``); ``removed``
    drops it; a JSON document passes a JSON escape. Text that needs nothing is returned as is, after one
    ``isprintable`` call (at C speed, which matters for a 20,000-row listing).
    """
    shown = text
    for char in keep:
        shown = shown.replace(char, "")
    if shown.isprintable():
        return text
    write = escape or _escape_char
    return "".join(char if char.isprintable() or char in keep else write(char) for char in text)


def removed(char: str) -> str:
    """The ``escape`` of ``neutralise`` that drops the character (the chat relay)."""
    return ""


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
        shown = text  # the common case, without splitting
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
    return neutralise(part.replace("\\", "\\\\"))


def clean_for_relay(data: bytes) -> str:
    """Plain text for other chat clients: escape sequences and every other unshown character but tab
    removed (``neutralise``); invalid UTF-8 as ``\\xNN``."""
    text = data.decode("utf-8", errors="backslashreplace")
    return neutralise(_TERMINAL_SEQUENCE.sub("", text), keep="\t", escape=removed)
