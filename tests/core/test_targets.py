from __future__ import annotations

import pytest

from netdiag.core.failures import UsageError
from netdiag.core.targets import (
    Endpoint,
    format_endpoint,
    joined_target,
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
        ("127.0.0.1", "has no port: give HOST:PORT, for example 127.0.0.1:8000"),
        ("localhost", "has no port: give HOST:PORT, for example localhost:8000"),
        ("8000", "port without a host: give HOST:PORT, for example 127.0.0.1:8000"),
        ("http://127.0.0.1:8000/", "is a URL: give HOST:PORT instead, here 127.0.0.1:8000 "),
        ("https://localhost", "is a URL: give HOST:PORT instead, here localhost:443 "),
        ("http://[::1]:8080/x", r"here \[::1\]:8080 "),
        ("gopher://h", "is a URL: give HOST:PORT instead \\(HOST:PORT"),
        (":80", "no host and port"),
        ("host:0", "out of range"),
        ("host:65536", "out of range"),
        ("host:http", "not a port number"),
        ("::1:80", "without brackets"),
        ("[::1:80", "not a valid address"),
        ("[::1]", r"has no port: give \[IPv6\]:PORT, for example \[::1\]:8000"),
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


@pytest.mark.parametrize("text", ["127.0.0.1", "localhost", "lab-pc.local", "[::1]"])
def test_a_listen_address_without_a_port_asks_for_one(text: str) -> None:
    with pytest.raises(UsageError, match=r"has no port: give a port, as in .*:8000 \(or just 8000"):
        parse_listen_address(text)


@pytest.mark.parametrize(
    ("words", "meant"),
    [
        (["127.0.0.1", "8000"], "127.0.0.1:8000"),
        (["localhost", "80", "hello"], "localhost:80"),
        (["[::1]", "8000"], "[::1]:8000"),
        (["::1", "22"], "[::1]:22"),
        (["127.0.0.1:8000", "9000"], None),  # already joined: the second word is something else
        (["127.0.0.1", "70000"], None),  # not a port
        (["8000", "9000"], None),
        (["hello", "world"], None),
    ],
)
def test_joined_target_names_host_and_port_typed_as_two_words(words: list[str], meant: str | None) -> None:
    assert joined_target(words) == meant


def test_one_address_family_check_for_every_command() -> None:
    from netdiag.core.targets import check_family, wanted_family

    assert wanted_family(ipv4=False, ipv6=False) is None
    assert wanted_family(ipv4=True, ipv6=False) == 4
    assert wanted_family(ipv4=False, ipv6=True) == 6
    with pytest.raises(UsageError, match="-4 and -6 exclude each other"):
        wanted_family(ipv4=True, ipv6=True)
    check_family("localhost", 6)  # a name may have addresses of either family
    check_family("::1", 6)
    check_family("127.0.0.1", None)
    with pytest.raises(UsageError, match=r"^127\.0\.0\.1 is an IPv4 address, but -6 allows IPv6 addresses"):
        check_family("127.0.0.1", 6)
    with pytest.raises(UsageError, match=r"^fe80::1%lo is an IPv6 address, but -4"):
        check_family("fe80::1%lo", 4)
