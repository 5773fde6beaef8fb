"""Reading capture files, pcap and pcapng, as a stream of records: pure bytes in, records out.

Why our own reader: ``netdiag explain --pcap`` must read what tcpdump, Wireshark and dumpcap write, without
root, without scapy (start-up rule) and fast enough for a million packets. The file formats are small:

* classic pcap (https://www.tcpdump.org/manpages/pcap-savefile.5.html): a 24-byte header whose magic says
  the byte order and the timestamp unit (``a1b2c3d4`` microseconds, ``a1b23c4d`` nanoseconds), then
  records of 16-byte header + captured bytes;
* pcapng (IETF draft-ietf-opsawg-pcapng): blocks of ``type, length, body, length``; a Section Header Block
  (SHB) sets the byte order, Interface Description Blocks (IDB) give each interface its link type and
  timestamp resolution (``if_tsresol``, ``if_tsoffset``), Enhanced (EPB), Simple (SPB) and obsolete
  Packet Blocks carry the packets. Other blocks (name resolution, statistics, ...) are skipped.

``CaptureStream.feed(chunk)`` takes the file in chunks of any size (the adapter reads it; core does no I/O)
and returns the complete records seen so far; ``finish()`` says whether the file ended cleanly. A record
is ``(link_type, timestamp, data)``. At damage, ``feed`` returns the good records before it and sets
``damage``; ``finish()`` then raises it (``CaptureDamaged``, with the offset), so the caller can report a
partial result.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

Record = tuple[int, float, bytes]
"""(link type, capture time in seconds since the epoch, captured bytes)."""

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER = 0x1A2B3C4D
PCAPNG_IDB = 1
PCAPNG_PB = 2  # obsolete Packet Block
PCAPNG_SPB = 3
PCAPNG_EPB = 6

MAX_RECORD = 256 * 1024 * 1024  # larger than any snap length a tool writes: a bigger length is damage

_PCAP_HEADER = 24
_PCAP_RECORD = 16


class CaptureFormatError(ValueError):
    """The bytes are not a pcap or pcapng capture at all (the first bytes say so)."""


class CaptureDamaged(ValueError):
    """The capture is damaged at ``offset``: records before it were returned and are good."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass
class _Interface:
    link_type: int
    divisor: float = 1e6  # timestamp units per second (if_tsresol; pcapng's default is microseconds)
    offset: int = 0  # if_tsoffset, seconds
    snaplen: int = 0


@dataclass
class CaptureStream:
    """Incremental reader of one capture file: ``feed`` chunks in file order, then ``finish``."""

    format: str = ""  # "pcap" or "pcapng" once the first bytes are read
    byte_order: str = ""  # "<" or ">"
    nanoseconds: bool = False  # pcap only
    link_types: list[int] = field(default_factory=list)  # pcap: one; pcapng: one per interface, in order
    records: int = 0
    _buffer: bytes = b""
    _consumed: int = 0  # file offset of _buffer[0]
    _interfaces: list[_Interface] = field(default_factory=list)
    _used: int = 0  # bytes of the current data fully read
    _last_time: float = 0.0
    damage: CaptureDamaged | None = None

    def feed(self, chunk: bytes) -> list[Record]:
        """The complete records in ``chunk`` and what was left over from the previous one.

        Nothing more is read once ``damage`` is set (there is no safe way to find the next record).
        """
        if self.damage is not None:
            return []
        data = self._buffer + chunk if self._buffer else chunk
        if not self.format:
            if len(data) < 4:
                self._buffer = data
                return []
            self._start(data)
        out: list[Record] = []
        self._used = 0
        try:
            if self.format == "pcap":
                self._pcap_records(data, out)
            else:
                self._pcapng_blocks(data, out)
        except CaptureDamaged as exc:
            self.damage = exc
        used = self._used
        self._buffer = data[used:] if self.damage is None else b""
        self._consumed += used
        self.records += len(out)
        return out

    def finish(self) -> None:
        """Raise ``CaptureDamaged`` when the file is damaged or ended in the middle of a record."""
        if self.damage is not None:
            raise self.damage
        if not self.format:
            raise CaptureFormatError("the file is empty or too short to be a capture" if not self._buffer
                                     else "the file is too short to be a capture")
        if self._buffer:
            what = "record" if self.format == "pcap" else "block"
            raise CaptureDamaged(
                f"the file ends in the middle of a {what} ({len(self._buffer)} bytes left over): it was "
                "cut short (a capture still being written, or a copy that stopped)",
                self._consumed)

    # --- classic pcap -------------------------------------------------------------------------------

    def _start(self, data: bytes) -> None:
        magic_le = struct.unpack_from("<I", data)[0]
        magic_be = struct.unpack_from(">I", data)[0]
        if magic_le == PCAPNG_SHB:
            self.format = "pcapng"
            return
        for order, magic in (("<", magic_le), (">", magic_be)):
            if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
                self.format, self.byte_order = "pcap", order
                self.nanoseconds = magic == PCAP_MAGIC_NS
                return
        raise CaptureFormatError(
            f"not a pcap or pcapng capture (it starts with bytes {data[:4].hex()}; a pcap file starts with "
            "a1b2c3d4 or d4c3b2a1, a pcapng file with 0a0d0d0a)")

    def _pcap_records(self, data: bytes, out: list[Record]) -> None:
        pos = 0
        order = self.byte_order
        if not self.link_types:
            if len(data) < _PCAP_HEADER:
                return
            major, _minor, _zone, _sigfigs, snaplen, link = struct.unpack_from(order + "HHiIII", data, 4)
            if major != 2:
                raise CaptureDamaged(f"unsupported pcap version {major} (2 is the only one)", 0)
            self.link_types.append(link & 0x0FFFFFFF)  # the top bits may carry FCS information
            self._interfaces.append(_Interface(link & 0x0FFFFFFF, 1e9 if self.nanoseconds else 1e6, 0,
                                               snaplen))
            pos = _PCAP_HEADER
        link = self.link_types[0]
        divisor = 1e9 if self.nanoseconds else 1e6
        unpack = struct.Struct(order + "IIII").unpack_from
        append = out.append
        end = len(data)
        while pos + _PCAP_RECORD <= end:
            seconds, fraction, captured, _original = unpack(data, pos)
            self._used = pos
            if captured > MAX_RECORD:
                raise CaptureDamaged(f"record {self.records + len(out) + 1} claims {captured} bytes: the "
                                     "file is damaged here", self._consumed + pos)
            stop = pos + _PCAP_RECORD + captured
            if stop > end:
                break
            append((link, seconds + fraction / divisor, data[pos + _PCAP_RECORD:stop]))
            pos = stop
        self._used = pos

    # --- pcapng -------------------------------------------------------------------------------------

    def _pcapng_blocks(self, data: bytes, out: list[Record]) -> None:
        pos = 0
        end = len(data)
        while pos + 12 <= end:
            self._used = pos
            if data[pos:pos + 4] == b"\x0a\x0d\x0d\x0a":
                if pos + 12 > end:
                    break
                self._section(data, pos)
            order = self.byte_order
            block_type, length = struct.unpack_from(order + "II", data, pos)
            if length < 12 or length % 4 or length > MAX_RECORD:
                raise CaptureDamaged(f"a pcapng block claims a length of {length} bytes: the file is "
                                     "damaged here", self._consumed + pos)
            if pos + length > end:
                break
            trailer = struct.unpack_from(order + "I", data, pos + length - 4)[0]
            if trailer != length:
                raise CaptureDamaged("a pcapng block's two length fields disagree: the file is damaged "
                                     "here", self._consumed + pos)
            if block_type in (PCAPNG_EPB, PCAPNG_PB):
                out.append(self._enhanced(data, pos, length, block_type))
            elif block_type == PCAPNG_SPB:
                out.append(self._simple(data, pos, length))
            elif block_type == PCAPNG_IDB:
                self._interface(data, pos, length)
            pos += length
        self._used = pos

    def _section(self, data: bytes, pos: int) -> None:
        if struct.unpack_from("<I", data, pos + 8)[0] == PCAPNG_BYTE_ORDER:
            self.byte_order = "<"
        elif struct.unpack_from(">I", data, pos + 8)[0] == PCAPNG_BYTE_ORDER:
            self.byte_order = ">"
        else:
            raise CaptureDamaged("a pcapng section header has no valid byte-order magic: the file is "
                                 "damaged here", self._consumed + pos)
        self._interfaces = []  # interface numbers start again in each section

    def _interface(self, data: bytes, pos: int, length: int) -> None:
        order = self.byte_order
        link, _reserved, snaplen = struct.unpack_from(order + "HHI", data, pos + 8)
        iface = _Interface(link, snaplen=snaplen)
        opt, stop = pos + 16, pos + length - 4
        while opt + 4 <= stop:
            code, size = struct.unpack_from(order + "HH", data, opt)
            if code == 0:
                break
            value = data[opt + 4:opt + 4 + size]
            if code == 9 and size >= 1:  # if_tsresol: 10^-n, or 2^-n when the top bit is set
                resolution = value[0]
                iface.divisor = float(2 ** (resolution & 0x7F)) if resolution & 0x80 else 10.0 ** resolution
            elif code == 14 and size >= 8:  # if_tsoffset: seconds added to every timestamp
                iface.offset = struct.unpack_from(order + "q", value)[0]
            opt += 4 + size + (-size % 4)
        self._interfaces.append(iface)
        self.link_types.append(link)

    def _iface(self, number: int, pos: int) -> _Interface:
        if number >= len(self._interfaces):
            raise CaptureDamaged(f"a packet names interface {number}, which no interface block described: "
                                 "the file is damaged here", self._consumed + pos)
        return self._interfaces[number]

    def _enhanced(self, data: bytes, pos: int, length: int, block_type: int) -> Record:
        order = self.byte_order
        if block_type == PCAPNG_EPB:
            number, high, low, captured, _original = struct.unpack_from(order + "IIIII", data, pos + 8)
        else:  # obsolete Packet Block: a 16-bit interface id and a drops count
            number, _drops, high, low, captured, _original = struct.unpack_from(order + "HHIIII", data,
                                                                                pos + 8)
        if 28 + captured + 4 > length:
            raise CaptureDamaged("a packet block's captured length does not fit in the block: the file "
                                 "is damaged here", self._consumed + pos)
        iface = self._iface(number, pos)
        time = ((high << 32) | low) / iface.divisor + iface.offset
        self._last_time = time
        return iface.link_type, time, data[pos + 28:pos + 28 + captured]

    def _simple(self, data: bytes, pos: int, length: int) -> Record:
        iface = self._iface(0, pos)
        original = struct.unpack_from(self.byte_order + "I", data, pos + 8)[0]
        captured = min(original, length - 16, iface.snaplen or original)
        # a simple packet block carries no timestamp: it is shown at the time of the packet before it
        return iface.link_type, self._last_time, data[pos + 12:pos + 12 + captured]
