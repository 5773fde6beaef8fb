"""Properties of the text cleaners: whatever bytes a stranger sends, the log form is printable and the
chat form carries no terminal control, bidi or invisible character at all."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from netdiag.core.protocols.text import clean_for_relay, neutralise, printable

FAST = settings(max_examples=200, deadline=None)

# Bytes that lean towards the dangerous: escapes, CSI/OSC starters, C1 controls, NUL, invalid UTF-8.
hostile_bytes = st.lists(
    st.one_of(
        st.binary(max_size=8),
        st.sampled_from([b"\x1b[2J", b"\x1b]0;pwned\x07", b"\x1b[31m", b"\x9b1;1H", b"\x00", b"\xff\xfe",
                         b"\xc3(", b"\r", b"\x1bP", b"\x07", b"\x1b", "é".encode(), "😀".encode(),
                         *(char.encode() for char in "\u202e\u202c\u200b\u200d\u2028\u2029\ufeff\u2066"
                           "\u2069\u200e\u200f\u061c\U000e0001")]),
        st.characters(whitelist_categories=("Cc", "Cf", "Zl", "Zp", "Zs")).map(str.encode),
    ),
    max_size=20,
).map(b"".join)


@FAST
@given(hostile_bytes)
def test_log_form_is_printable(data: bytes) -> None:
    shown = printable(data)
    assert shown.isprintable()
    assert "\x1b" not in shown


@FAST
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Co", "Cn", "Cf")),
               max_size=50).filter(lambda t: t.isprintable() and "\\" not in t))
def test_log_form_keeps_printable_text_unchanged(text: str) -> None:
    assert printable(text.encode()) == text


UNSHOWN = ("Cc", "Cf", "Zl", "Zp")
"""Controls, format characters (bidi, zero-width) and separators: what a terminal acts on or hides."""


@FAST
@given(hostile_bytes)
def test_relay_form_has_no_control_or_invisible_characters(data: bytes) -> None:
    relayed = clean_for_relay(data)
    assert all(char == "\t" or unicodedata.category(char) not in UNSHOWN for char in relayed), repr(relayed)


@FAST
@given(st.text(max_size=50))
def test_neutralised_text_shows_every_character(text: str) -> None:
    shown = neutralise(text)
    assert shown.isprintable()
    assert not any(unicodedata.category(char) in UNSHOWN for char in shown), repr(shown)


@FAST
@given(hostile_bytes, st.integers(min_value=1, max_value=50))
def test_log_form_respects_its_limit(data: bytes, limit: int) -> None:
    assert len(printable(data, limit=limit)) <= limit + 3
