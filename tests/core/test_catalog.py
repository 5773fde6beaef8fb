"""The catalog is complete, readable, and its errno tables agree with this machine's own numbers."""

from __future__ import annotations

import errno
import os
import re
import socket
import sys

import pytest

from netdiag.core.catalog import CATALOG, Cause, explanation_for, fill_placeholders
from netdiag.core.errno_tables import ALL_ENTRIES, LINUX_ERRNO, LINUX_GAI, entries_for_number


@pytest.mark.parametrize("cause", list(Cause), ids=lambda c: c.value)
def test_every_cause_has_an_entry_that_reads_well(cause: Cause) -> None:
    entry = CATALOG[cause]
    assert entry.cause is cause
    assert entry.title and entry.meaning.endswith(".")
    if cause is not Cause.OK:
        assert entry.fixes, f"{cause.value} tells the user no fix"
    if cause not in (Cause.OK, Cause.UNKNOWN):
        assert entry.likely_causes, f"{cause.value} names no likely cause"


def test_explanation_for_falls_back_to_unknown() -> None:
    assert explanation_for(Cause.TIMEOUT).title == "Timed out"
    assert explanation_for("not-a-cause").cause is Cause.UNKNOWN  # type: ignore[arg-type]


def test_fill_placeholders_replaces_whole_words_only() -> None:
    text = "netdiag sockets --listening --port PORT; connect to HOST:PORT (REPORT stays)"
    assert fill_placeholders(text, host="127.0.0.1", port=8000) == \
        "netdiag sockets --listening --port 8000; connect to 127.0.0.1:8000 (REPORT stays)"
    assert fill_placeholders("HOST:PORT", port=1) == "HOST:1"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="checks the Linux table on Linux")
@pytest.mark.parametrize("entry", LINUX_ERRNO, ids=lambda e: e.symbol)
def test_linux_errno_table_matches_this_kernel(entry: object) -> None:
    assert getattr(errno, entry.symbol) == entry.number  # type: ignore[attr-defined]
    assert os.strerror(entry.number) == entry.message  # type: ignore[attr-defined]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="checks glibc's numbers on Linux")
@pytest.mark.parametrize("entry", LINUX_GAI, ids=lambda e: e.symbol)
def test_linux_getaddrinfo_table_matches_this_libc(entry: object) -> None:
    symbol = entry.symbol  # type: ignore[attr-defined]
    if hasattr(socket, symbol):
        assert getattr(socket, symbol) == entry.number  # type: ignore[attr-defined]


def test_the_same_number_has_different_readings_per_platform() -> None:
    assert {(e.platform, e.symbol) for e in entries_for_number(61)} == {("macos", "ECONNREFUSED")}
    assert {(e.platform, e.symbol) for e in entries_for_number(111)} == {("linux", "ECONNREFUSED")}
    assert {e.platform for e in entries_for_number(13)} == {"linux", "macos", "windows"}


def test_every_table_entry_points_to_a_cause_with_an_explanation() -> None:
    assert all(entry.cause in CATALOG for entry in ALL_ENTRIES)
    keys = [(e.platform, e.kind, e.number) for e in ALL_ENTRIES]
    assert len(keys) == len(set(keys)), "a number appears twice in one platform's table"


def test_explanation_for_fills_the_target_in_when_given() -> None:
    filled = explanation_for(Cause.ADDRESS_IN_USE, port=8000)
    assert any("--port 8000" in fix for fix in filled.fixes)
    assert not any(" PORT" in text for text in (*filled.fixes, *filled.likely_causes, filled.meaning))
    assert explanation_for(Cause.ADDRESS_IN_USE) is CATALOG[Cause.ADDRESS_IN_USE]
    both = explanation_for(Cause.NOTHING_LISTENING, host="127.0.0.1", port=9)
    assert any("netdiag explain 127.0.0.1:9" in fix for fix in both.fixes)


def test_no_fix_is_shown_with_a_bare_placeholder() -> None:
    from netdiag.core.catalog import CATALOG, fill_examples

    placeholder = re.compile(r"\b(HOST|PORT)\b")
    for cause, entry in CATALOG.items():
        for text in (entry.meaning, *entry.likely_causes, *entry.fixes):
            shown = fill_examples(text)
            assert not placeholder.search(shown), (cause, shown)
            if placeholder.search(text):
                assert "in place of" in shown  # the example says it is one


def test_examples_name_what_to_put_in_their_place() -> None:
    from netdiag.core.catalog import fill_examples

    assert fill_examples("netdiag explain HOST:PORT") == (
        "netdiag explain lab-pc:8000 (put your server's name or address in place of lab-pc, "
        "and its port in place of 8000).")
    assert fill_examples("netdiag sockets --port PORT.") == (
        "netdiag sockets --port 8000 (put your server's port in place of 8000).")
    assert fill_examples("nothing to fill") == "nothing to fill"
