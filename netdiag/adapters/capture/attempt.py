"""The observer of ``netdiag listen --observe``: a process of its own that captures the server's port.

Run as ``python -m netdiag.adapters.capture.attempt PORT BOUND_HOST`` by
``netdiag.adapters.servers.observer``. It captures TCP segments to or from PORT on every interface that
is up (a SYN to another local address than the bound one is what the client of a server bound to
127.0.0.1 sends), follows them with ``netdiag.core.attempts`` and writes one JSON object per line on
stdout: ``{"kind": "observing", ...}`` once the capture runs (or ``{"kind": "unavailable", "reason":
...}``), then one per attempt that never became a connection, and the rate limiter's summaries. It ends
when its stdin closes (the server stopping, or dying), writing the summaries still held back.

A process, not a thread: scapy's decoding of a burst of a thousand connections costs seconds of CPU,
which a thread would take from the server's own (the GIL). SIGINT is ignored: Ctrl-C in the terminal
reaches the whole process group, and the server decides when its observer stops.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from netdiag.adapters.capture.live import interfaces_down
from netdiag.adapters.capture.scapy_glue import (
    Recorder,
    interface_names,
    load_scapy,
    open_capture_socket,
    packet_to_segment,
)
from netdiag.core.attempts import Attempt, AttemptKind, AttemptWatch, LineLimiter, with_firewall, with_queue
from netdiag.core.failures import NetdiagError
from netdiag.core.handshake import Segment
from netdiag.core.observations import FirewallObservation

IDLE = 0.2
"""Seconds without a segment after which the capture counts as idle (timeouts are judged then)."""
QUEUE_LIMIT = 100_000
"""Segments decoded and not yet followed; beyond (a flood faster than we follow), they are dropped."""
FIREWALL_FRESH = 1.0
"""Seconds a reading of the firewall is reused (only the lines the limiter lets through read it, at most
a few per second: a rule added a moment ago must show)."""
ADDRESSES_FRESH = 10.0
"""Seconds between two readings of this host's addresses."""


class _InterfaceRecorder(Recorder):
    """The recorder, handing over each segment with the interface it was captured on."""

    def __init__(self, sockets: dict[Any, str], out: queue.Queue[tuple[Segment, str]]) -> None:
        super().__init__(sockets, lambda _segment: False, keep_packets=False)
        self._out = out
        self.dropped = 0

    def _on_packet(self, packet: Any) -> None:
        segment = packet_to_segment(packet)
        if segment is None:
            return
        try:
            self._out.put_nowait((segment, str(getattr(packet, "sniffed_on", "") or "?")))
        except queue.Full:
            self.dropped += 1


def local_addresses() -> set[str]:
    import psutil

    found = {"127.0.0.1", "::1"}
    with contextlib.suppress(OSError):
        for entries in psutil.net_if_addrs().values():
            found.update(entry.address.split("%", 1)[0] for entry in entries
                         if entry.family.name in ("AF_INET", "AF_INET6"))
    return found


class _Firewall:
    """What explains an attempt: the listener's accept queue (the socket table), else this host's INPUT
    rules for the port, read (read-only) when an attempt needs them, then reused."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._read_at = -FIREWALL_FRESH
        self._observation: FirewallObservation | None = None

    def explain(self, attempt: Attempt) -> Attempt:
        if attempt.kind is not AttemptKind.RESET_SENT:
            from netdiag.adapters.listing.listeners import tcp_listeners

            with contextlib.suppress(OSError):  # the table unreadable: the firewall may still explain it
                attempt = with_queue(attempt, tcp_listeners({self.port}))
        if attempt.kind is AttemptKind.HANDSHAKE_INCOMPLETE:
            return attempt
        now = time.monotonic()
        if now - self._read_at >= FIREWALL_FRESH:
            from netdiag.adapters.net.firewall import read_firewall

            self._observation = read_firewall(self.port)
            self._read_at = now
        return with_firewall(attempt, self._observation)


def capture_filter(port: int) -> str:
    """Only the SYNs (and SYN-ACKs) and RSTs of the port: data never reaches the observer, so a server
    moving megabytes costs it nothing (``ip6[53]``: the TCP flags of an IPv6 packet without extension
    headers; libpcap's ``tcp[]`` reads IPv4 only)."""
    return (f"tcp port {port} and ((ip and tcp[tcpflags] & (tcp-syn|tcp-rst) != 0) "
            "or (ip6 and ip6[53] & 0x06 != 0))")


def _write(kind: str, fields: dict[str, object]) -> None:
    """The observer process's channel to the server: one JSON object per line on its own stdout."""
    sys.stdout.write(json.dumps({"kind": kind, **fields}) + "\n")
    sys.stdout.flush()


def observe(port: int, bound: str, stop: threading.Event,
            emit: Callable[[str, dict[str, object]], None]) -> None:
    """Capture until ``stop`` is set, handing each failed attempt (and each summary) to ``emit``."""
    load_scapy(ipv6=True)
    names = interface_names()
    down = set(interfaces_down(names))
    sockets: dict[Any, str] = {}
    for name in names:
        if name in down:
            continue
        with contextlib.suppress(NetdiagError):  # went away, or went down, since the listing
            sockets[open_capture_socket(name, capture_filter(port))] = name
    if not sockets:
        raise NetdiagError("no interface could be captured on")
    arrived: queue.Queue[tuple[Segment, str]] = queue.Queue(maxsize=QUEUE_LIMIT)
    recorder = _InterfaceRecorder(sockets, arrived)
    recorder.start()
    try:
        watch = AttemptWatch(port, bound, local_addresses())
        addresses_at = time.monotonic()
        limiter = LineLimiter()
        firewall = _Firewall(port)
        emit("observing", {"port": port, "interfaces": sorted(sockets.values())})
        while not stop.is_set():
            try:
                segment, interface = arrived.get(timeout=IDLE)
            except queue.Empty:
                now = time.time()
                attempts = watch.expire(now, idle=True)
                if time.monotonic() - addresses_at >= ADDRESSES_FRESH:
                    watch.local_addresses = frozenset(local_addresses())
                    addresses_at = time.monotonic()
            else:
                now = segment.time
                attempts = watch.feed(segment, interface)
            for attempt in attempts:
                show, summaries = limiter.admit(attempt, now)
                for summary in summaries:
                    emit("repeated", summary.fields())
                if show:
                    _write(attempt.kind.value, firewall.explain(attempt).fields())
            for summary in limiter.tick(now):
                emit("repeated", summary.fields())
        for summary in limiter.flush():
            emit("repeated", summary.fields())
    finally:
        recorder.stop()


def main(argv: Sequence[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    port, bound = int(argv[0]), argv[1]
    stop = threading.Event()

    def wait_for_eof() -> None:
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(4096):
                pass
        stop.set()

    threading.Thread(target=wait_for_eof, name="netdiag-observer-stdin", daemon=True).start()
    try:
        observe(port, bound, stop, _write)
    except (BrokenPipeError, KeyboardInterrupt):  # the server went away: nobody to tell
        return 0
    except NetdiagError as exc:
        _write("unavailable", {"reason": str(exc)})
        return 1
    except OSError as exc:  # a capture socket that broke (its interface removed under it)
        _write("unavailable", {"reason": f"the capture failed: {exc.strerror or exc}"})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
