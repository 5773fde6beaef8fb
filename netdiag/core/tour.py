"""What each step of ``netdiag tour`` says: the facts observed, what to look at, and why it matters.

Pure text built from facts the tour adapter observed on real loopback sockets (ports, socket rows, probe
results), so the wording can be tested without a socket and stays next to nothing that does I/O. Each
step's ``look`` is two or three sentences: where the eye should go, and what it teaches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netdiag.core.catalog import Explanation
from netdiag.core.handshake import HandshakeAnalysis
from netdiag.core.probe import ProbeResult
from netdiag.core.sockets import SocketRow
from netdiag.core.targets import format_endpoint


@dataclass(frozen=True)
class TourStep:
    """One step: a title, what happened (``facts``), what to look at and why, and commands to try."""

    title: str
    facts: tuple[str, ...]
    look: str
    rows: tuple[SocketRow, ...] = ()
    handshake: HandshakeAnalysis | None = None
    try_it: tuple[str, ...] = ()
    available: bool = True
    last: bool = False  # lecture mode waits for Enter before each next step, and after this one there is none


def _probe_words(result: ProbeResult) -> str:
    rtt = f" in {result.rtt_ms:.2f} ms" if result.rtt_ms is not None else ""
    return f"{result.state.value} ({result.reason.value}){rtt}"


def listening_step(port: int, rows: Sequence[SocketRow], *, server_pid: int | None,
                   builtin_server: bool = False) -> TourStep:
    owner = f"process {server_pid}" if server_pid is not None else "the tour itself"
    facts = [f"An echo server listens on 127.0.0.1:{port} ({owner})."]
    if builtin_server:
        facts.append("netdiag listen is not available here, so the tour uses a minimal built-in echo server.")
    if not any(row.state == "LISTEN" for row in rows):
        facts.append("The socket listing did not show the listener (see the note above the table).")
    return TourStep(
        title="A server listens",
        facts=tuple(facts),
        look=(f"The LISTEN row: local address 127.0.0.1:{port}, no peer yet, and the process that owns "
              "it. Port 0 asked the kernel for any free port; 127.0.0.1 means only this machine can "
              "connect. A listening socket never carries data: it only accepts new connections."),
        rows=tuple(rows),
        try_it=(f"netdiag sockets --listening --port {port}", "netdiag listen 8000 --mode echo"),
    )


def exchange_step(port: int, client_port: int, sent: bytes, reply: bytes) -> TourStep:
    echoed = "the same bytes" if reply == sent else "different bytes"
    return TourStep(
        title="A client connects and exchanges a message",
        facts=(f"The client 127.0.0.1:{client_port} connected to 127.0.0.1:{port}.",
               f"It sent {sent!r} and got back {reply!r} ({echoed})."),
        look=(f"The client's port {client_port} was not chosen by anyone: the kernel gave it an ephemeral "
              "port when connect() ran. The three-way handshake (SYN, SYN-ACK, ACK) happened inside "
              "connect(); by the time it returned, the connection was established."),
        try_it=(f"netdiag connect 127.0.0.1:{port} --message hello",),
    )


def established_step(port: int, client_port: int, rows: Sequence[SocketRow]) -> TourStep:
    established = [row for row in rows if row.state == "ESTABLISHED"]
    return TourStep(
        title="Both ends are ESTABLISHED",
        facts=(f"{len(established)} ESTABLISHED socket(s) for this connection; the listener is still in "
               "LISTEN.",),
        look=(f"One connection, two sockets: 127.0.0.1:{client_port} -> 127.0.0.1:{port} on the client's "
              f"side and 127.0.0.1:{port} -> 127.0.0.1:{client_port} on the server's, local and peer "
              "swapped. That is what the two ESTABLISHED lines of `netstat -an` are. The listener stays "
              "in LISTEN, ready for the next client: accept() made a new socket for this one."),
        rows=tuple(rows),
        try_it=(f"netdiag sockets --port {port}", f"netdiag sockets --port {port} --watch"),
    )


def time_wait_step(port: int, client_port: int, rows: Sequence[SocketRow], *, seen: bool) -> TourStep:
    if seen:
        facts = (f"The client closed first; its socket 127.0.0.1:{client_port} is now in TIME_WAIT, "
                 "owned by no process.",)
    else:
        facts = (f"The client closed first, but no TIME_WAIT socket for 127.0.0.1:{client_port} showed "
                 "up in the listing before the deadline.",)
    return TourStep(
        title="Closing: TIME_WAIT on the side that closed first",
        facts=facts,
        look=("The side that sends the first FIN keeps its socket in TIME_WAIT for about a minute, so "
              "late packets of this connection cannot be mistaken for a new one; the server's side, "
              "which closed second, is already gone. TIME_WAIT is normal, not a leak, and it is why a "
              "restarted server can fail with 'Address already in use' unless it sets SO_REUSEADDR."),
        rows=tuple(rows),
        try_it=("netdiag sockets --state time-wait",),
    )


def refused_step(result: ProbeResult, explanation: Explanation) -> TourStep:
    facts = [f"Probing 127.0.0.1:{result.port}, where nothing listens: {_probe_words(result)}.",
             f"What it means: {explanation.meaning}"]
    if explanation.fixes:
        facts.append(f"First fix to try: {explanation.fixes[0]}")
    return TourStep(
        title="A closed port refuses",
        facts=tuple(facts),
        look=("This is the lab's ConnectionRefusedError. The host is there and answered at once, with "
              "a TCP reset, because no socket listens on that port; a firewall that drops packets would "
              "make you wait for a timeout instead. 'Refused' almost always means: the server is not "
              "running, or it uses another port or address."),
        try_it=(f"netdiag probe 127.0.0.1:{result.port}", f"netdiag explain 127.0.0.1:{result.port}"),
    )


def loopback_only_step(port: int, on_bound: ProbeResult, on_other: ProbeResult,
                       lan_addresses: Sequence[str]) -> TourStep:
    facts = [f"127.0.0.1:{port} (the address the server bound): {_probe_words(on_bound)}.",
             f"{format_endpoint(on_other.address or on_other.host, port)} (also this machine, another "
             "loopback address): "
             f"{_probe_words(on_other)}."]
    if lan_addresses:
        facts.append(f"This machine's other addresses ({', '.join(lan_addresses)}) and every other "
                     "machine would be refused the same way (not tried: the tour stays on loopback).")
    return TourStep(
        title="What a loopback-only bind means",
        facts=tuple(facts),
        look=("A server bound to 127.0.0.1 only accepts connections addressed to exactly 127.0.0.1: even "
              "another address of this same machine is refused, and so is a classmate's laptop. To be "
              "reachable from other machines, bind 0.0.0.0 (every interface) or the LAN address; "
              "`netdiag explain` names this mistake (cause loopback-only-bind)."),
        try_it=("netdiag listen 0.0.0.0:8000   # every interface: prints the addresses others should use",
                "netdiag interfaces"),
    )


def handshake_step(port: int, analysis: HandshakeAnalysis | None, *, unavailable: str | None) -> TourStep:
    how = (f"sudo netdiag handshake 127.0.0.1:{port}" if analysis is not None
           else "netdiag listen 8000   # then, in another terminal: sudo netdiag handshake 127.0.0.1:8000")
    if analysis is not None:
        facts: tuple[str, ...] = (f"Captured one connection to 127.0.0.1:{port} on the loopback interface.",)
        look = ("Read the arrows top to bottom: SYN from the client, SYN-ACK from the server, ACK from the "
                "client; only then data flows, and FIN/ACK pairs close each direction. The SYN-ACK "
                "acknowledges the client's sequence number plus one, and the final ACK the server's.")
    else:
        facts = (unavailable or "Capturing packets needs root.",)
        look = ("Capturing packets needs root (or CAP_NET_RAW), so this step only says how to see it. "
                "Run the tour with sudo, or start a server and capture one connection to it with the "
                "commands below: you will see SYN, SYN-ACK, ACK, the data, and the FIN/ACK teardown.")
    return TourStep(title="The three-way handshake", facts=facts, look=look, handshake=analysis,
                    try_it=(how,), available=analysis is not None)


def next_steps_step() -> TourStep:
    return TourStep(
        title="Where to go next",
        facts=("The tour stops its server now. Nothing was sent beyond 127.0.0.0/8.",),
        look=("Each step above has its command: run them with your own server, or with the lab's. When a "
              "connection fails, `netdiag explain HOST:PORT` checks name, route, listener and firewall "
              "and ends with the fix; a capture made elsewhere (Wireshark, tcpdump) is read by "
              "`netdiag explain --pcap FILE`; on the server, `sudo netdiag listen PORT --observe` also "
              "logs the attempts that never became a connection. To teach with it, `sudo netdiag "
              "handshake --watch 8000 --web` draws each connection live in a browser for the projector."),
        try_it=("netdiag --help", "netdiag listen 8000 --mode reply", "netdiag connect 127.0.0.1:8000",
                "netdiag explain --error 'ConnectionRefusedError: [Errno 111] Connection refused'",
                "netdiag explain --pcap capture.pcapng"),
        last=True,
    )


def unavailable_step(title: str, what: str, reason: str) -> TourStep:
    """A step whose building block is missing or failed: say so plainly instead of pretending."""
    return TourStep(title=title, facts=(f"{what} is not available: {reason}",),
                    look=("This step is skipped; the others do not depend on it. The line above says "
                          "which part of netdiag is missing: reinstall it with `./dev tour`."),
                    available=False)
