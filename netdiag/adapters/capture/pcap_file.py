"""Reading a capture file from disk for ``netdiag explain --pcap``: chunks in, the flow table out.

The parsing is pure (``netdiag.core.pcap_format``, ``pcap_packets``, ``capture_flows``); this module only
opens the file, reads it in chunks (memory stays bounded whatever the file's size) and turns what can go
wrong into netdiag's errors: a missing or unreadable file is a usage error, a file that is not a capture
at all too; a capture that is cut short or damaged in the middle is *not* an error here: what was read
before the damage is analysed, and ``damage`` says where and why, so the caller reports a partial result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from netdiag.core.capture_flows import FlowTable
from netdiag.core.failures import UsageError
from netdiag.core.pcap_format import CaptureDamaged, CaptureFormatError, CaptureStream

CHUNK = 1 << 20


@dataclass
class CaptureFile:
    """What was read: the flow table, the container's facts, and the damage when the file is damaged."""

    path: str
    size: int
    stream: CaptureStream
    table: FlowTable
    damage: str | None = None
    damage_offset: int | None = None


def read_capture(path: str, *, keep: frozenset[int] = frozenset(),
                 max_flows: int | None = None) -> CaptureFile:
    """Read every packet of ``path`` into a ``FlowTable`` (``keep``: connections whose ladder to keep)."""
    table = FlowTable(keep=keep) if max_flows is None else FlowTable(keep=keep, max_flows=max_flows)
    stream = CaptureStream()
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after the loop that may raise
    except FileNotFoundError as exc:
        raise UsageError(f"No capture file {path}: check the path.") from exc
    except IsADirectoryError as exc:
        raise UsageError(f"{path} is a folder, not a capture file.") from exc
    except PermissionError as exc:
        raise UsageError(f"Cannot read {path}: permission denied (the file belongs to another user; "
                         "tcpdump -w as root writes files only root can read: sudo chmod a+r it).") from exc
    except OSError as exc:
        raise UsageError(f"Cannot open {path}: {exc.strerror or exc}.") from exc
    result = CaptureFile(path=path, size=0, stream=stream, table=table)
    with handle:
        try:
            result.size = os.fstat(handle.fileno()).st_size
            while stream.damage is None and (chunk := handle.read(CHUNK)):
                table.add_records(stream.feed(chunk))
            stream.finish()
        except CaptureFormatError as exc:
            raise UsageError(f"{path} is not a capture file: {exc}. netdiag reads pcap and pcapng files "
                             "(tcpdump -w, Wireshark, dumpcap).") from exc
        except CaptureDamaged as exc:
            result.damage, result.damage_offset = str(exc), exc.offset
        except OSError as exc:
            result.damage = f"reading the file failed: {exc.strerror or exc}"
            result.damage_offset = stream._consumed
    return result
