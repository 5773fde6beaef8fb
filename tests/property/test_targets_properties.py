"""Properties of the address parsers: what format_endpoint writes, parse_endpoint reads back; any other
text is either parsed or refused with a UsageError, never another exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netdiag.core.failures import UsageError
from netdiag.core.targets import (
    format_endpoint,
    format_port_list,
    parse_endpoint,
    parse_listen_address,
    parse_port,
    parse_port_spec,
)

FAST = settings(max_examples=150, deadline=None)

hostnames = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
ports = st.integers(min_value=1, max_value=65535)


@FAST
@given(host=st.one_of(hostnames, ipv4, ipv6), port=ports)
def test_format_then_parse_round_trips(host: str, port: int) -> None:
    endpoint = parse_endpoint(format_endpoint(host, port))
    assert (endpoint.host, endpoint.port) == (host, port)
    assert str(endpoint) == format_endpoint(host, port)


@FAST
@given(host=st.one_of(hostnames, ipv4, ipv6), port=ports, pad=st.sampled_from(["", " ", "\t", "  \n"]))
def test_surrounding_whitespace_is_ignored(host: str, port: int, pad: str) -> None:
    assert parse_endpoint(pad + format_endpoint(host, port) + pad) == parse_endpoint(
        format_endpoint(host, port))


@FAST
@given(st.text(max_size=40))
def test_any_text_is_parsed_or_refused_with_a_usage_error(text: str) -> None:
    for parse in (parse_endpoint, parse_listen_address, parse_port):
        try:
            parse(text)
        except UsageError as err:
            assert err.message  # a sentence for the user, never empty


@FAST
@given(st.integers(min_value=-10**6, max_value=10**6))
def test_port_numbers_outside_the_range_are_refused(number: int) -> None:
    try:
        assert parse_port(str(number)) == number
        assert 1 <= number <= 65535
    except UsageError:
        assert not 1 <= number <= 65535


@FAST
@given(st.lists(ports, min_size=1, max_size=30))
def test_port_list_format_and_spec_agree(port_list: list[int]) -> None:
    compact = format_port_list(tuple(port_list))
    assert sorted(parse_port_spec(compact)) == sorted(set(port_list))
