"""Decoding frames of every supported link type down to TCP, UDP and ICMP facts."""

from __future__ import annotations

import pytest
from helpers import pcap_bytes as pb

from netdiag.core.pcap_packets import ICMP, OTHER, TCP, UDP, address_text, decode, flag_letters, parse_options

SEG4 = pb.ipv4("198.18.0.1", "198.18.0.2", 6, pb.tcp(40000, 80, pb.SYN | pb.ACK, seq=7, ack=9,
                                                         payload=b"hello", window=512))
SEG6 = pb.ipv6("2001:db8::1", "2001:db8::2", 6, pb.tcp(40000, 80, pb.PSH | pb.ACK, payload=b"hi"))


def facts(decoded: tuple[object, ...] | None) -> tuple[object, ...]:
    assert decoded is not None and decoded[0] == TCP
    _, src, dst, sport, dport, seq, ack, flags, window, length, _options = decoded
    return (address_text(src), address_text(dst), sport, dport, seq, ack, flags, window, length)  # type: ignore[arg-type]


V4 = ("198.18.0.1", "198.18.0.2", 40000, 80, 7, 9, pb.SYN | pb.ACK, 512, 5)
V6 = ("2001:db8::1", "2001:db8::2", 40000, 80, 0, 0, pb.PSH | pb.ACK, 1000, 2)


@pytest.mark.parametrize(("link", "frame", "expected"), [
    (1, pb.ethernet(SEG4), V4),
    (1, pb.ethernet(SEG6), V6),
    (1, pb.ethernet(SEG4)[:12] + b"\x81\x00\x00\x05" + pb.ethernet(SEG4)[12:], V4),  # 802.1Q tag
    (0, pb.null_loopback(SEG4, "<"), V4),
    (0, pb.null_loopback(SEG6, ">"), V6),
    (108, pb.null_loopback(SEG4, ">"), V4),
    (101, SEG4, V4), (101, SEG6, V6), (228, SEG4, V4), (229, SEG6, V6),
    (113, pb.sll(SEG4), V4), (113, pb.sll(SEG6), V6),
    (276, pb.sll2(SEG4), V4), (276, pb.sll2(SEG6), V6),
], ids=["ether4", "ether6", "vlan", "null-le", "null-be6", "loop", "raw4", "raw6", "ipv4", "ipv6",
        "sll4", "sll6", "sll2-4", "sll2-6"])
def test_link_types(link: int, frame: bytes, expected: tuple[object, ...]) -> None:
    assert facts(decode(link, frame)) == expected


def test_cooked_capture_skips_the_outgoing_copy_of_loopback_packets() -> None:
    assert decode(113, pb.sll(SEG4, packet_type=4, hatype=772)) is None
    assert decode(276, pb.sll2(SEG4, packet_type=4, hatype=772)) is None
    assert decode(113, pb.sll(SEG4, packet_type=0, hatype=772)) is not None  # the received copy
    assert decode(276, pb.sll2(SEG4, packet_type=4, hatype=1)) is not None  # outgoing on a real NIC


def test_ethernet_trailer_padding_is_not_payload() -> None:
    bare = pb.ipv4("198.18.0.1", "198.18.0.2", 6, pb.tcp(1, 2, pb.ACK))
    assert facts(decode(1, pb.ethernet(bare) + b"\x00" * 6))[-1] == 0


def test_ipv6_extension_headers_are_followed() -> None:
    body = pb.tcp(40000, 80, pb.SYN)
    hop_by_hop = bytes([6, 0]) + b"\x00" * 6
    frame = pb.ipv6("2001:db8::1", "2001:db8::2", 0, hop_by_hop + body)
    assert facts(decode(101, frame))[2:4] == (40000, 80)


def test_udp_and_other_protocols() -> None:
    assert decode(101, pb.ipv4("198.18.0.1", "198.18.0.2", 17, pb.udp(5000, 53, b"q")))[:6] == (
        UDP, bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2]), 5000, 53, 1)
    assert decode(101, pb.ipv4("198.18.0.1", "198.18.0.2", 47, b"gre"))[0] == OTHER
    assert decode(1, b"\xff" * 12 + b"\x08\x06" + b"\x00" * 28) is None  # ARP


def test_icmp_unreachable_quotes_the_datagram_it_answers() -> None:
    syn = pb.ipv4("198.18.0.1", "198.18.0.2", 6, pb.tcp(40000, 80, pb.SYN))
    decoded = decode(101, pb.ipv4("198.18.0.2", "198.18.0.1", 1, pb.icmp4_unreachable(13, syn)))
    assert decoded is not None and decoded[0] == ICMP
    _, sender, family, code, proto, qsrc, qdst, qsport, qdport = decoded
    assert (address_text(sender), family, code, proto, address_text(qsrc), address_text(qdst),  # type: ignore[arg-type]
            qsport, qdport) == ("198.18.0.2", 4, 13, 6, "198.18.0.1", "198.18.0.2", 40000, 80)
    syn6 = pb.ipv6("2001:db8::1", "2001:db8::2", 17, pb.udp(5000, 53))
    decoded6 = decode(101, pb.ipv6("2001:db8::2", "2001:db8::1", 58, pb.icmp6_unreachable(4, syn6)))
    assert decoded6 is not None and decoded6[2:] == (6, 4, 17, syn6[8:24], syn6[24:40], 5000, 53)


def test_flags_and_options_read_as_people_do() -> None:
    assert flag_letters(pb.SYN | pb.ACK) == "SA" and flag_letters(pb.FIN | pb.PSH | pb.ACK) == "FPA"
    raw = bytes([2, 4, 0x05, 0xB4, 4, 2, 8, 10]) + (7).to_bytes(4, "big") + (0).to_bytes(4, "big") + bytes(
        [1, 3, 3, 7])
    options = parse_options(raw)
    assert (options.mss, options.sack_permitted, options.timestamp, options.wscale) == (1460, True, (7, 0), 7)
    assert parse_options(bytes([2, 40])).mss is None  # a length past the end: stop, no exception
