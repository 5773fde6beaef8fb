"""The UDP probe's datagram (--payload): escapes, the default, and what is refused. No socket."""

from __future__ import annotations

import pytest

from netdiag.core.failures import UsageError
from netdiag.core.payload import DEFAULT_PAYLOAD, MAX_PAYLOAD, parse_payload, udp_payload


@pytest.mark.parametrize(("text", "data"), [
    ("hello", b"hello"),
    ("hello\\n", b"hello\n"),
    ("a\\r\\n\\t\\0\\\\b", b"a\r\n\t\x00\\b"),
    ("\\x00\\x01\\xff", b"\x00\x01\xff"),
    ("h\u00e9", "h\u00e9".encode()),
])
def test_escapes_are_decoded(text: str, data: bytes) -> None:
    assert parse_payload(text) == data


@pytest.mark.parametrize(("text", "words"), [
    ("", "--payload is empty"),
    ("a\\q", "unknown escape at position 2"),
    ("trailing\\", "unknown escape"),
    ("\\xZZ", "unknown escape"),
    ("x" * (MAX_PAYLOAD + 1), "a UDP datagram holds at most 65,507"),
])
def test_bad_payloads_are_usage_errors(text: str, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        parse_payload(text)


def test_default_is_hello_and_tcp_takes_no_payload() -> None:
    assert udp_payload(None, udp=True) == DEFAULT_PAYLOAD == b"hello"
    assert udp_payload(None, udp=False) == b"hello"  # unused by TCP probes: nothing is refused
    with pytest.raises(UsageError, match="add --udp"):
        udp_payload("x", udp=False)
