from __future__ import annotations

import pytest

from netdiag.core.failures import UsageError
from netdiag.core.targets import (
    Endpoint,
    format_endpoint,
    literal_family,
    parse_endpoint,
    parse_listen_address,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:80", Endpoint("127.0.0.1", 80)),
        ("localhost:8000", Endpoint("localhost", 8000)),
        ("[::1]:443", Endpoint("::1", 443)),
        (" example.test:65535 ", Endpoint("example.test", 65535)),
    ],
)
def test_parse_endpoint_accepts(text: str, expected: Endpoint) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("127.0.0.1", "no host and port"),
        (":80", "no host and port"),
        ("host:0", "out of range"),
        ("host:65536", "out of range"),
        ("host:http", "not a port number"),
        ("::1:80", "without brackets"),
        ("[::1:80", "not a valid address"),
        ("[nothost]:80", "not an IPv6 address"),
    ],
)
def test_parse_endpoint_rejects_with_a_sentence(text: str, phrase: str) -> None:
    with pytest.raises(UsageError, match=phrase):
        parse_endpoint(text)


def test_listen_address_defaults_to_loopback_and_allows_port_zero() -> None:
    assert parse_listen_address("0") == Endpoint("127.0.0.1", 0)
    assert parse_listen_address("0.0.0.0:9000") == Endpoint("0.0.0.0", 9000)
    assert parse_listen_address("[::]:0") == Endpoint("::", 0)


def test_unbracketed_ipv6_suggests_the_brackets_the_user_meant() -> None:
    with pytest.raises(UsageError, match=r"write it as \[::1\]:80 if 80 is the port"):
        parse_endpoint("::1:80")
    with pytest.raises(UsageError, match=r"write it as \[fe80::1\]:PORT"):
        parse_endpoint("fe80::1")


def test_format_endpoint_round_trips() -> None:
    for endpoint in (Endpoint("::1", 1), Endpoint("127.0.0.1", 2), Endpoint("name", 3)):
        assert parse_endpoint(format_endpoint(endpoint.host, endpoint.port)) == endpoint


def test_literal_family() -> None:
    assert [literal_family(h) for h in ("127.0.0.1", "::1", "fe80::1%lo", "localhost", "1.2.3")] == [
        4, 6, 6, None, None]
