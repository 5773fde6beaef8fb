"""The prober against real sockets: loopback on ephemeral ports, range scans in a private namespace."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator

import pytest
from helpers.netns import Namespace, namespace_resolv_conf

from netdiag.adapters.net.resolve import lookup_service, resolve_host
from netdiag.adapters.probing.scan import (
    ProbeJob,
    probe_tcp,
    probe_udp,
    scan_tcp,
    scan_udp_without_sending,
)
from netdiag.adapters.probing.workers import worker_count
from netdiag.core.catalog import Cause
from netdiag.core.failures import NetworkFailure
from netdiag.core.probe import PortState, ProbeMethod, ProbeResult, Proto, Reason


def test_open_port(listener: int) -> None:
    result = probe_tcp("127.0.0.1", listener, host="localhost")
    assert (result.state, result.reason, result.proto) == (PortState.OPEN, Reason.SYN_ACK, Proto.TCP)
    assert (result.host, result.address, result.port) == ("localhost", "127.0.0.1", listener)
    assert result.rtt_ms is not None and 0 <= result.rtt_ms < 2000


def test_closed_port(closed_port: int) -> None:
    result = probe_tcp("127.0.0.1", closed_port)
    assert (result.state, result.reason) == (PortState.CLOSED, Reason.CONN_REFUSED)
    assert result.host == "127.0.0.1"
    assert result.errno == 111


def test_ipv6_loopback(ipv6_listener: int) -> None:
    assert probe_tcp("::1", ipv6_listener).state == PortState.OPEN


def test_results_keep_the_order_of_the_jobs(listener: int, closed_port: int) -> None:
    jobs = [ProbeJob("a", "127.0.0.1", closed_port), ProbeJob("b", "127.0.0.1", listener)] * 3
    results = scan_tcp(jobs, concurrency=2)
    assert [(r.host, r.state) for r in results] == [("a", PortState.CLOSED), ("b", PortState.OPEN)] * 3


def test_fast_built_results_equal_normal_ones(listener: int) -> None:
    built = probe_tcp("127.0.0.1", listener)
    normal = ProbeResult(built.host, built.address, built.port, built.proto, built.state, built.reason,
                         built.rtt_ms, built.errno, built.icmp_from)
    assert built == normal and hash(built) == hash(normal) and repr(built) == repr(normal)


@pytest.fixture
def udp_echo() -> Iterator[int]:
    """A UDP socket that answers one datagram from a thread (probe 'open' needs a reply)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)

    def answer() -> None:
        try:
            _, peer = sock.recvfrom(2048)
            sock.sendto(b"hello", peer)
        except OSError:
            pass  # the test ended first

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    sock.close()
    thread.join(timeout=10)


def test_udp_reply_means_open(udp_echo: int) -> None:
    result = probe_udp("127.0.0.1", udp_echo, timeout=5)
    assert (result.state, result.reason, result.proto) == (PortState.OPEN, Reason.UDP_RESPONSE, Proto.UDP)


def test_udp_port_unreachable_means_closed() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # reserve a port, then free it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = probe_udp("127.0.0.1", port, timeout=5)
    assert (result.state, result.reason) == (PortState.CLOSED, Reason.PORT_UNREACH)


def test_udp_silence_means_open_or_filtered() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # bound, never answers
        sock.bind(("127.0.0.1", 0))
        result = probe_udp("127.0.0.1", sock.getsockname()[1], timeout=0.3)
        assert sock.recv(100) == b"hello"  # the probe (and its retransmission) did arrive: never empty
    assert (result.state, result.reason, result.rtt_ms) == (PortState.OPEN_FILTERED, Reason.NO_RESPONSE, None)


def test_resolve_literals_and_localhost_without_dns() -> None:
    assert resolve_host("127.0.0.1") == ["127.0.0.1"]
    assert resolve_host("::1") == ["::1"]
    assert "127.0.0.1" in resolve_host("localhost", socket.AF_INET)


def test_lookup_service_uses_the_services_database() -> None:
    assert lookup_service("http", "tcp") == 80
    assert lookup_service("no-such-service-name", "tcp") is None


RESOLVE_IN_NAMESPACE = """
import json, sys
from netdiag.adapters.net.resolve import resolve_host
from netdiag.core.failures import NetworkFailure
try:
    print(json.dumps(resolve_host(sys.argv[1])))
except NetworkFailure as failure:
    print(json.dumps({"message": failure.message, "cause": failure.explanation.cause.value}))
"""


@pytest.mark.root
def test_resolution_failure_is_a_network_failure_with_the_dns_explanation(
        private_loopback: Namespace) -> None:
    # The namespace's resolver points at its own loopback, where nothing answers port 53.
    with namespace_resolv_conf(private_loopback, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"):
        out = private_loopback.run(sys.executable, "-c", RESOLVE_IN_NAMESPACE, "nothing.invalid")
    answer = json.loads(out.stdout)
    assert answer["cause"] == Cause.DNS_FAILURE.value
    assert "Cannot resolve 'nothing.invalid'" in answer["message"]


def test_resolve_rejects_an_invalid_name_without_a_traceback() -> None:
    with pytest.raises(NetworkFailure, match="Cannot resolve"):
        resolve_host("a" * 300 + ".invalid")


SELF_CONNECT = """
import json, socket, sys
from netdiag.adapters.probing.scan import probe_tcp
port = int(sys.argv[1])
naive = 0
for _ in range(20):  # what a naive scanner sees: connect() "succeeds" to nobody
    s = socket.socket()
    if s.connect_ex(("127.0.0.1", port)) == 0 and s.getsockname() == s.getpeername():
        naive += 1
    s.close()
result = probe_tcp("127.0.0.1", port)
print(json.dumps({"naive": naive, "state": result.state.value}))
"""


@pytest.mark.root
def test_self_connections_are_not_reported_open(private_loopback: Namespace) -> None:
    # With a two-port ephemeral range, connecting to one of those ports picks it as source port half
    # the time: TCP simultaneous open connects the socket to itself.
    private_loopback.run("sysctl", "-qw", "net.ipv4.ip_local_port_range=40000 40001")
    out = private_loopback.run(sys.executable, "-c", SELF_CONNECT, "40000")
    answer = json.loads(out.stdout)
    assert answer["naive"] > 0, "the trap did not occur: this test would prove nothing"
    assert answer["state"] == "closed"


def test_big_scans_use_one_worker_per_cpu_and_small_ones_none() -> None:
    assert worker_count(10) == 1
    assert 1 <= worker_count(65535) <= 4


RANGE_SCAN = """
import json, socket, sys
from netdiag.adapters.probing.scan import ProbeJob, scan_tcp
listeners = []
for port in (22, 8000, 40000, 65535):
    s = socket.socket(); s.bind(("127.0.0.1", port)); s.listen(); listeners.append(s)
jobs = [ProbeJob("127.0.0.1", "127.0.0.1", p) for p in range(1, 65536)]
report = {}
share = [ProbeJob("127.0.0.1", "127.0.0.1", p) for p in range(37000, 43000)]
for workers, scanned in ((1, jobs), (2, share)):  # one process for every port; forked workers for 6,000
    results = scan_tcp(scanned, workers=workers)
    report[workers] = {
        "ports": [r.port for r in results] == [job.port for job in scanned],
        "open": [r.port for r in results if r.state.value == "open"],
        "closed": sum(r.state.value == "closed" and r.reason.value == "conn-refused" for r in results),
    }
print(json.dumps(report))
"""


@pytest.mark.root
def test_full_range_scan_in_one_process_and_a_range_in_workers(private_loopback: Namespace) -> None:
    out = private_loopback.run(sys.executable, "-c", RANGE_SCAN, timeout=120)
    report = json.loads(out.stdout)
    assert report["1"] == {"ports": True, "open": [22, 8000, 40000, 65535], "closed": 65531}
    assert report["2"] == {"ports": True, "open": [40000], "closed": 5999}


IN_FLIGHT = """
import json, sys
from netdiag.adapters.probing import scan as prober
from netdiag.adapters.probing.engine import TcpScan

most = 0

class CountingScan(TcpScan):
    def track(self, *args, **kwargs):
        global most
        super().track(*args, **kwargs)
        most = max(most, len(self.in_flight))

prober.TcpScan = CountingScan  # the class the prober's scan factory instantiates
jobs = [prober.ProbeJob("127.0.0.1", "127.0.0.1", p) for p in range(2000, 2012)]
results = prober.scan_tcp(jobs, timeout=0.1, concurrency=int(sys.argv[1]), workers=1)
print(json.dumps({"most": most, "states": sorted({r.state.value for r in results})}))
"""


@pytest.mark.root
def test_concurrency_bounds_the_probes_in_flight(private_loopback: Namespace) -> None:
    # Dropped SYNs keep every probe in flight until its timeout: without a bound all 12 would be.
    private_loopback.iptables("-A", "INPUT", "-p", "tcp", "--dport", "2000:2011", "-j", "DROP")
    for concurrency in (1, 5):
        out = private_loopback.run(sys.executable, "-c", IN_FLIGHT, str(concurrency))
        assert json.loads(out.stdout) == {"most": concurrency, "states": ["filtered"]}


def test_forked_workers_never_exceed_the_concurrency() -> None:
    # Each worker keeps concurrency // workers probes in flight: more workers than that would overshoot.
    assert worker_count(65535, concurrency=1) == 1
    assert worker_count(65535, concurrency=2, workers=4) == 2
    assert worker_count(3, concurrency=100, workers=4) == 3


def test_syn_segment_checksum_verifies_over_the_pseudo_header() -> None:
    """A receiver sums pseudo-header + segment to 0xFFFF (one's complement 0): the kernel drops a SYN
    whose checksum is wrong, and the probe would read as filtered."""
    import struct

    from netdiag.adapters.probing.half_open import _checksum, syn_segment

    segment = syn_segment("198.18.0.1", "198.18.0.2", 40000, 8000, 0x12345678, socket.AF_INET)
    pseudo = socket.inet_aton("198.18.0.1") + socket.inet_aton("198.18.0.2") + \
        struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(segment))
    assert _checksum(pseudo + segment) == 0
    assert struct.unpack("!HHIIBB", segment[:14]) == (40000, 8000, 0x12345678, 0, 6 << 4, 0x02)
    six = syn_segment("fd00::1", "fd00::2", 40000, 8000, 7, socket.AF_INET6)
    pseudo6 = socket.inet_pton(socket.AF_INET6, "fd00::1") + socket.inet_pton(socket.AF_INET6, "fd00::2") + \
        struct.pack("!I3xB", len(six), socket.IPPROTO_TCP)
    assert _checksum(pseudo6 + six) == 0


def test_udp_port_of_this_host_is_read_from_the_table_another_host_gets_the_payload() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        jobs = [ProbeJob("127.0.0.1", "127.0.0.1", sock.getsockname()[1])]
        [local] = scan_udp_without_sending(jobs, timeout=0.3)
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            sock.recv(100)  # read from the socket table: nothing sent
        # the same port taken for another host's (how a remote target is asked): the payload is sent
        [remote] = scan_udp_without_sending(jobs, timeout=0.3, payload=b"ping\n", this_host=lambda _: False)
        assert sock.recv(100) == b"ping\n"
    assert (local.state, local.reason, local.method) == (PortState.OPEN, Reason.LISTENER,
                                                         ProbeMethod.SOCKET_TABLE)
    assert (remote.state, remote.reason, remote.method) == (PortState.OPEN_FILTERED, Reason.NO_RESPONSE,
                                                            ProbeMethod.CONNECT)
