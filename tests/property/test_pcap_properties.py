"""Properties of the capture reader: any bytes, any damage, never an exception other than the two that say
"not a capture" and "damaged here"; any frame content decodes or is skipped, and verdicts always follow."""

from __future__ import annotations

from helpers import pcap_bytes as pb
from hypothesis import given, settings
from hypothesis import strategies as st

from netdiag.core.capture_flows import FlowTable
from netdiag.core.capture_verdicts import verdicts
from netdiag.core.pcap_format import CaptureDamaged, CaptureFormatError, CaptureStream
from netdiag.core.pcap_packets import LINK_NAMES, decode

FAST = settings(max_examples=200, deadline=None)
C, S = "198.18.0.1", "198.18.0.2"
SYN = pb.ipv4(C, S, 6, pb.tcp(40000, 80, pb.SYN, 1, options=bytes([2, 4, 5, 180])))
GOOD = [pb.ethernet(SYN), pb.ethernet(pb.ipv4(S, C, 6, pb.tcp(80, 40000, pb.RST | pb.ACK, 0, 2))),
        pb.ethernet(pb.ipv4(S, C, 1, pb.icmp4_unreachable(3, SYN))),
        pb.ethernet(pb.ipv6("2001:db8::1", "2001:db8::2", 17, pb.udp(1, 2, b"x")))]
PCAP = pb.pcap(1, [(1.0 + i, f) for i, f in enumerate(GOOD)])
PCAPNG = (pb.pcapng_section() + pb.pcapng_interface(1) + pb.pcapng_interface(101, tsresol=9)
          + b"".join(pb.pcapng_packet(i % 2, 10**6 * i, f if i % 2 == 0 else f[14:])
                     for i, f in enumerate(GOOD)))


def read_everything(data: bytes, chunk: int) -> FlowTable:
    stream, table = CaptureStream(), FlowTable()
    try:
        for start in range(0, len(data), chunk):
            table.add_records(stream.feed(data[start:start + chunk]))
        stream.finish()
    except (CaptureDamaged, CaptureFormatError):
        pass
    verdicts(table)
    return table


@FAST
@given(st.sampled_from([PCAP, PCAPNG]), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                                 max_size=8),
       st.integers(1, 2000), st.integers(0, 400))
def test_damaged_captures_never_raise_anything_else(original: bytes, flips: list[tuple[int, int]],
                                                    chunk: int, cut: int) -> None:
    data = bytearray(original[:len(original) - cut] if cut < len(original) else original)
    for position, value in flips:
        if data:
            data[position % len(data)] = value
    read_everything(bytes(data), chunk)


@FAST
@given(st.sampled_from(sorted(LINK_NAMES)), st.binary(max_size=120))
def test_any_frame_content_decodes_or_is_skipped(link: int, frame: bytes) -> None:
    decode(link, frame)
    FlowTable().add_records([(link, 0.0, frame)])


@FAST
@given(st.sampled_from(GOOD), st.integers(0, 80), st.binary(min_size=1, max_size=4))
def test_mangled_headers_of_real_frames_decode_or_are_skipped(frame: bytes, at: int, junk: bytes) -> None:
    mangled = frame[:at] + junk + frame[at + len(junk):]
    for cut in (len(mangled), at + 1, 20, 34, 54):
        table = FlowTable()
        table.add_records([(1, 0.0, mangled[:cut]), (1, 1.0, mangled[:cut])])
        verdicts(table)
