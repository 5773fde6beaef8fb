"""The capture container reader: pcap and pcapng, both byte orders, timestamp units, chunking, damage."""

from __future__ import annotations

import pytest
from helpers import pcap_bytes as pb

from netdiag.core.pcap_format import CaptureDamaged, CaptureFormatError, CaptureStream

FRAME_A = pb.ethernet(pb.ipv4("198.18.0.1", "198.18.0.2", 6, pb.tcp(40000, 80, pb.SYN)))
FRAME_B = pb.ethernet(pb.ipv4("198.18.0.2", "198.18.0.1", 6, pb.tcp(80, 40000, pb.SYN | pb.ACK)))


def read_all(data: bytes, chunk: int | None = None) -> tuple[CaptureStream, list[tuple[int, float, bytes]]]:
    stream = CaptureStream()
    records = []
    step = chunk or len(data) or 1
    for start in range(0, len(data), step):
        records += stream.feed(data[start:start + step])
    stream.finish()
    return stream, records


@pytest.mark.parametrize("order", ["<", ">"], ids=["little-endian", "big-endian"])
@pytest.mark.parametrize("nanoseconds", [False, True], ids=["usec", "nsec"])
def test_pcap_byte_orders_and_timestamp_units(order: str, nanoseconds: bool) -> None:
    data = pb.pcap(1, [(1700000000.25, FRAME_A), (1700000001.000123, FRAME_B)], order=order,
                   nanoseconds=nanoseconds)
    stream, records = read_all(data)
    assert (stream.format, stream.byte_order, stream.nanoseconds) == ("pcap", order, nanoseconds)
    assert [(link, data) for link, _, data in records] == [(1, FRAME_A), (1, FRAME_B)]
    assert records[0][1] == pytest.approx(1700000000.25, abs=1e-6)
    assert records[1][1] == pytest.approx(1700000001.000123, abs=1e-6)


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_any_chunking_gives_the_same_records(chunk: int) -> None:
    pcap = pb.pcap(1, [(1.0, FRAME_A), (2.0, FRAME_B)] * 3)
    assert read_all(pcap, chunk)[1] == read_all(pcap)[1]
    ng = (pb.pcapng_section() + pb.pcapng_interface(1) + pb.pcapng_packet(0, 1_000_000, FRAME_A)
          + pb.pcapng_other() + pb.pcapng_packet(0, 2_000_000, FRAME_B))
    assert read_all(ng, chunk)[1] == read_all(ng)[1]
    assert len(read_all(ng, chunk)[1]) == 2


@pytest.mark.parametrize("order", ["<", ">"], ids=["little-endian", "big-endian"])
def test_pcapng_interfaces_link_types_and_resolutions(order: str) -> None:
    data = (pb.pcapng_section(order)
            + pb.pcapng_interface(1, order=order)                      # default: microseconds
            + pb.pcapng_interface(101, order=order, tsresol=9)          # nanoseconds (10^-9)
            + pb.pcapng_interface(113, order=order, tsresol=0x80 | 10, tsoffset=100)  # 2^-10 s, +100 s
            + pb.pcapng_packet(0, 1_500_000, FRAME_A, order=order)
            + pb.pcapng_packet(1, 2_500_000_000, FRAME_A[14:], order=order)
            + pb.pcapng_packet(2, 1024 * 3, b"sll", order=order)
            + pb.pcapng_simple(FRAME_B, order=order))
    stream, records = read_all(data)
    assert stream.format == "pcapng" and stream.link_types == [1, 101, 113]
    assert [r[0] for r in records] == [1, 101, 113, 1]
    assert [r[1] for r in records] == pytest.approx([1.5, 2.5, 103.0, 103.0])  # SPB: previous time
    assert records[1][2] == FRAME_A[14:] and records[3][2] == FRAME_B


def test_a_new_section_restarts_interface_numbers_and_may_change_byte_order() -> None:
    data = (pb.pcapng_section("<") + pb.pcapng_interface(1) + pb.pcapng_packet(0, 1_000_000, FRAME_A)
            + pb.pcapng_section(">") + pb.pcapng_interface(229, order=">")
            + pb.pcapng_packet(0, 2_000_000, b"v6", order=">"))
    _, records = read_all(data)
    assert [(r[0], r[2]) for r in records] == [(1, FRAME_A), (229, b"v6")]


def test_cut_short_file_keeps_the_whole_records_and_says_where() -> None:
    data = pb.pcap(1, [(1.0, FRAME_A), (2.0, FRAME_B)])
    stream = CaptureStream()
    records = stream.feed(data[:-5])
    assert [r[2] for r in records] == [FRAME_A]
    with pytest.raises(CaptureDamaged, match="ends in the middle of a record") as caught:
        stream.finish()
    assert caught.value.offset == 24 + 16 + len(FRAME_A)


@pytest.mark.parametrize("damage", ["length", "trailer", "interface"])
def test_damaged_pcapng_block_is_reported_with_its_offset(damage: str) -> None:
    good = pb.pcapng_section() + pb.pcapng_interface(1) + pb.pcapng_packet(0, 1_000_000, FRAME_A)
    bad = bytearray(pb.pcapng_packet(0, 2_000_000, FRAME_B))
    if damage == "length":
        bad[4:8] = (13).to_bytes(4, "little")
    elif damage == "trailer":
        bad[-4:] = (8).to_bytes(4, "little")
    else:
        bad[8:12] = (5).to_bytes(4, "little")
    stream = CaptureStream()
    assert [r[2] for r in stream.feed(good + bytes(bad))] == [FRAME_A]  # the good record before it
    assert stream.feed(b"more bytes") == []
    with pytest.raises(CaptureDamaged) as caught:
        stream.finish()
    assert caught.value.offset == len(good)


def test_pcap_record_with_an_absurd_length_is_damage() -> None:
    data = bytearray(pb.pcap(1, [(1.0, FRAME_A), (2.0, FRAME_B)]))
    data[24 + 16 + len(FRAME_A) + 8:24 + 16 + len(FRAME_A) + 12] = (1 << 30).to_bytes(4, "little")
    stream = CaptureStream()
    assert len(stream.feed(bytes(data))) == 1
    with pytest.raises(CaptureDamaged, match="claims"):
        stream.finish()


@pytest.mark.parametrize("data", [b"", b"\x00\x01", b"root:x:0:0:root:/root:/bin/bash\n"])
def test_not_a_capture(data: bytes) -> None:
    with pytest.raises(CaptureFormatError):
        read_all(data)
