"""What the log shows and what chat relays, for the inputs that break naive servers."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from netdiag.core.protocols.text import clean_for_relay, neutralise, printable, removed

PRINTABLE_CASES = [
    (b"hello", "hello"),
    (b"line\r\n", "line\\r\\n"),
    (b"nul\x00", "nul\\x00"),
    (b"\xff\xfe", "\\xff\\xfe"),  # invalid UTF-8 shown escaped
    (b"back\\slash", "back\\\\slash"),  # a real backslash cannot pose as an escape
    (b"\x1b[2J", "\\x1b[2J"),  # the escape is shown, never interpreted
    ("café ✓".encode(), "café ✓"),
    (b"caf\xc3", "caf\\xc3"),  # UTF-8 cut in the middle of a character
    ("\u2028".encode(), "\\u2028"),
]


@pytest.mark.parametrize(("data", "shown"), PRINTABLE_CASES)
def test_printable_table(data: bytes, shown: str) -> None:
    assert printable(data) == shown


def test_printable_cuts_long_text() -> None:
    assert printable(b"a" * 20, limit=5) == "aaaaa..."


RELAY_CASES = [
    (b"plain", "plain"),
    (b"\x1b[1;31mred\x1b[0m", "red"),
    (b"\x1b]52;c;Y29weQ==\x07paste", "paste"),  # OSC 52 would write the reader's clipboard
    ("\x9b2Jc1".encode(), "c1"),  # C1 CSI, encoded in UTF-8
    (b"\x9b2J", "\\x9b2J"),  # the raw byte is invalid UTF-8: shown as harmless text
    (b"tab\tkept", "tab\tkept"),
    (b"\xffok", "\\xffok"),
]


@pytest.mark.parametrize(("data", "relayed"), RELAY_CASES)
def test_clean_for_relay_table(data: bytes, relayed: str) -> None:
    assert clean_for_relay(data) == relayed


# --- invisible and bidi characters: one rule for the log, chat, connect and sockets ------------------------

def _every_char_of(*categories: str) -> list[str]:
    return [chr(code) for code in range(sys.maxunicode + 1)
            if unicodedata.category(chr(code)) in categories]


INVISIBLE = _every_char_of("Cf", "Zl", "Zp")
"""Every format character (bidi controls, zero-width characters, BOM, ...) and both separators."""
NAMED = ["\u202e", "\u202c", "\u200b", "\u200d", "\u2028", "\u2029", "\ufeff", "\u2066", "\u2067", "\u2068",
         "\u2069", "\u200e", "\u200f", "\u061c", "\u202a", "\u202b", "\u202d", "\u00ad", "\U000e0001"]


def test_the_named_spoofing_characters_are_all_covered() -> None:
    assert set(NAMED) <= set(INVISIBLE)
    assert len(INVISIBLE) > 150  # about 160 Cf (the number grows with Unicode), 1 Zl, 1 Zp


def test_neutralise_escapes_every_invisible_character() -> None:
    for char in INVISIBLE:
        shown = neutralise(f"a{char}b")
        # \xad, \u202e, \U000e0001 ...
        assert shown.isprintable() and shown.endswith(f"{ord(char):x}b"), repr(char)


def test_relay_drops_every_invisible_character() -> None:
    for char in INVISIBLE:
        assert clean_for_relay(f"a{char}b".encode()) == "ab", repr(char)


def test_rlo_cannot_reverse_a_relayed_or_printed_name() -> None:
    spoof = "invoice\u202efdp.exe".encode()  # shows as "invoiceexe.pdf" once the terminal applies RLO
    assert clean_for_relay(spoof) == "invoicefdp.exe"
    assert printable(spoof) == "invoice\\u202efdp.exe"


def test_neutralise_keeps_printable_text_and_what_it_is_told_to_keep() -> None:
    assert neutralise("café ✓ 中 😀 \\") == "café ✓ 中 😀 \\"
    assert neutralise("a\tb\nc\x1b[2J", keep="\n\t") == "a\tb\nc\\x1b[2J"
    assert neutralise("a\x07\u200bb", escape=removed) == "ab"
    assert neutralise("[\n\u202e]", keep="\n", escape=lambda char: f"<{ord(char):x}>") == "[\n<202e>]"
