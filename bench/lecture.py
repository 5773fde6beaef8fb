"""The lecture page under a full room: 200 viewers while 1,000 handshakes happen on loopback.

``netdiag handshake --watch PORT -i lo --web --format json`` runs as users run it. This script opens a
server on 127.0.0.1 (accepts, reads to EOF, closes), connects VIEWERS server-sent-event clients to the
page's ``/events`` (one thread, non-blocking sockets, so the viewers cost the watch nothing but the
sending), then makes CONNECTIONS connections one after the other (connect, half-close, read to EOF), RATE per
second: the watch's capture (scapy, on ``lo``) itself loses segments when connections come faster than
a few hundred per second, with or without ``--web`` (measured: docs/performance.md), so the pace is
the room's, not a flood.

Checked and measured:

* the capture misses none: the watch's own JSON lines on stdout carry an ``opened`` and an ``ended``
  event for every connection, each ended one accepted and closed with FINs;
* every viewer receives every event (the SSE ``id`` of each frame, 1..N, none missing);
* latency from the packet to the viewer: the arrival time at viewer 0 minus the capture timestamp of the
  event's last segment, p50 and p99;
* memory: the watch process's peak RSS (psutil, sampled) with viewers, and in a run without ``--web``,
  and the page server process's (a child of the watch);
  the capture's pace: wall time of the connections in both runs.

    ./dev bench lecture [--viewers 200] [--connections 1000] [--max-seconds 300]

Needs root (packet capture). Traffic stays on 127.0.0.1. Bounded in count and in time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import psutil

NETDIAG_SCRIPT = shutil.which("netdiag", path=os.path.dirname(sys.executable))
NETDIAG = [NETDIAG_SCRIPT] if NETDIAG_SCRIPT else [sys.executable, "-m", "netdiag"]
URL = re.compile(r"Lecture page: http://127\.0\.0\.1:(\d+)/")


def serve(listener: socket.socket, stop: threading.Event) -> None:
    """Accept, read to EOF, close: each client's FIN is answered by ours."""
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        with conn:
            conn.settimeout(5)
            try:
                while conn.recv(4096):
                    pass
            except OSError:
                pass


@dataclass
class Viewer:
    sock: socket.socket
    buffer: bytes = b""
    ids: list[int] = field(default_factory=list)
    arrivals: list[tuple[float, bytes]] = field(default_factory=list)


def read_viewers(viewers: list[Viewer], stop: threading.Event, keep_frames: int) -> None:
    """Read every viewer's stream in one thread; viewer 0 keeps its frames for the latency figures."""
    selector = selectors.DefaultSelector()
    for index, viewer in enumerate(viewers):
        viewer.sock.setblocking(False)
        selector.register(viewer.sock, selectors.EVENT_READ, (index, viewer))
    while not stop.is_set():
        for key, _ in selector.select(0.2):
            index, viewer = key.data
            try:
                chunk = viewer.sock.recv(1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                selector.unregister(viewer.sock)
                continue
            now = time.time()
            viewer.buffer += chunk
            *frames, viewer.buffer = viewer.buffer.split(b"\n\n")
            for frame in frames:
                if frame.startswith(b"id: "):
                    viewer.ids.append(int(frame[4:frame.index(b"\n")]))
                    if index < keep_frames:
                        viewer.arrivals.append((now, frame))
    selector.close()


def open_viewer(port: int) -> Viewer:
    sock = socket.create_connection(("127.0.0.1", port), 10)
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert b" 200 " in head.split(b"\r\n")[0], head
    return Viewer(sock)


def run(viewers_wanted: int, connections: int, rate: float, deadline: float, web: bool) -> dict[str, float]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop_server = threading.Event()
    threading.Thread(target=serve, args=(listener, stop_server), daemon=True).start()
    args = [*NETDIAG, "handshake", "--watch", str(port), "-i", "lo", "--format", "json"]
    watch = subprocess.Popen([*args, "--web"] if web else args, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, bufsize=1,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert watch.stderr is not None and watch.stdout is not None
    web_port = None
    err_lines = []
    for line in watch.stderr:
        err_lines.append(line)
        if (match := URL.search(line)) is not None:
            web_port = int(match.group(1))
        if "Watching TCP port" in line:
            break
    stdout_lines: list[str] = []
    stdout_times: list[float] = []

    def read_stdout() -> None:
        for line in watch.stdout or []:
            stdout_times.append(time.time())
            stdout_lines.append(line)

    threading.Thread(target=read_stdout, daemon=True).start()
    viewers: list[Viewer] = []
    stop_viewers = threading.Event()
    if web:
        assert web_port is not None, "".join(err_lines)
        viewers = [open_viewer(web_port) for _ in range(viewers_wanted)]
        threading.Thread(target=read_viewers, args=(viewers, stop_viewers, 1), daemon=True).start()
    proc = psutil.Process(watch.pid)
    peak = 0
    server_peak = 0

    def sample() -> None:
        nonlocal peak, server_peak
        try:
            peak = max(peak, proc.memory_info().rss)
            server_peak = max(server_peak, sum(c.memory_info().rss for c in proc.children()))
        except psutil.Error:
            pass
    began = time.monotonic()
    made = 0
    while made < connections and time.monotonic() < deadline:
        pause = began + made / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)  # the pace of a room connecting: --rate per second
        with socket.create_connection(("127.0.0.1", port), 5) as client:
            client.shutdown(socket.SHUT_WR)
            client.settimeout(5)
            while client.recv(100):
                pass
        made += 1
        if made % 50 == 0:
            sample()
    sent = time.monotonic() - began

    def ended() -> int:
        return sum('"event": "ended"' in line for line in list(stdout_lines))

    while ended() < made and time.monotonic() < deadline:
        sample()
        time.sleep(0.1)  # pacing the polls of a bench, not synchronisation in a test
    captured = time.monotonic() - began
    def printed() -> int:  # every event the terminal shows is published to the page
        return sum(line.startswith("{") for line in list(stdout_lines))

    while web and time.monotonic() < deadline and min(len(v.ids) for v in viewers) < printed():
        sample()
        time.sleep(0.1)
    delivered = time.monotonic() - began
    cpu = sum(proc.cpu_times()[:2])
    watch.terminate()
    watch.wait(10)
    stop_viewers.set()
    stop_server.set()
    events = [json.loads(line) for line in stdout_lines if line.startswith("{")]
    expected_events = len(events)
    complete = sum(1 for e in events if e["event"] == "ended" and e["summary"]["outcome"] == "accepted"
                   and e["summary"]["teardown"] == "fin")
    terminal = sorted(at - e["segments"][-1]["timestamp"]
                      for at, e in zip(stdout_times, (json.loads(x) for x in stdout_lines), strict=True)
                      if e["segments"])
    figures = {"connections": made, "captured_complete": complete, "seconds_connecting": sent,
               "seconds_until_captured": captured, "watch_cpu_s": cpu, "peak_rss_mb": peak / 2**20,
               "server_process_peak_rss_mb": server_peak / 2**20,
               "terminal_latency_p50_ms": percentile(terminal, 0.5) * 1000,
               "terminal_latency_p99_ms": percentile(terminal, 0.99) * 1000}
    if web:
        full = sum(1 for v in viewers if v.ids == list(range(1, expected_events + 1)))
        latencies = []
        for arrived, frame in viewers[0].arrivals:
            data = json.loads(frame.split(b"data: ", 1)[1])
            if data["packet_time"] is not None:
                latencies.append(arrived - data["packet_time"])
        figures.update({
            "viewers": len(viewers), "viewers_with_every_event": full,
            "seconds_until_delivered": delivered,
            "latency_p50_ms": percentile(latencies, 0.5) * 1000,
            "latency_p99_ms": percentile(latencies, 0.99) * 1000,
            "events": expected_events,
        })
        for v in viewers:
            v.sock.close()
    return figures


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100)[int(fraction * 100) - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100, help="connections per second")
    parser.add_argument("--max-seconds", type=float, default=300, help="per run (two runs)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/lecture.py needs root (packet capture)", file=sys.stderr)
        return 2
    for web in (False, True):
        deadline = time.monotonic() + args.max_seconds
        figures = run(args.viewers, args.connections, args.rate, deadline, web)
        label = f"--web, {args.viewers} viewers" if web else "no --web"
        print(f"{label}: " + ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                                       for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
