"""What netdiag.adapters.capture.scapy_private relies on in scapy's internals, checked against the installed
scapy.

When a scapy release renames or reshapes any of it, one of these fails and names what changed: adapt
scapy_private (and only it), then these tests. The first tests read scapy's classes (no root); the last
opens a real packet socket on lo (root).
"""

from __future__ import annotations

import inspect
import socket
import sys
import threading

import pytest

from netdiag.adapters.capture.scapy_glue import load_scapy
from netdiag.adapters.capture.scapy_private import listen_socket_class, raw_socket, sniffer_alive

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="scapy's Linux packet socket")


def _changed(what: str) -> str:
    import scapy

    return f"scapy {scapy.VERSION} changed {what}: adapt netdiag/adapters/capture/scapy_private.py"


@linux_only
def test_the_linux_socket_internals_exist_with_the_shapes_the_shim_expects() -> None:
    load_scapy()
    from scapy.arch.linux import L2ListenSocket, get_last_packet_timestamp
    from scapy.supersocket import SuperSocket

    assert issubclass(L2ListenSocket, SuperSocket), _changed("L2ListenSocket's base class")
    private = getattr(L2ListenSocket, "_recv_raw", None)
    assert callable(private), _changed("SuperSocket._recv_raw (gone)")
    assert list(inspect.signature(private).parameters) == ["self", "sock", "x"], \
        _changed("_recv_raw(self, sock, x)'s parameters")
    assert list(inspect.signature(get_last_packet_timestamp).parameters) == ["sock"], \
        _changed("get_last_packet_timestamp(sock)")
    # scapy's own recv_raw is the body the loopback class copies: the same names, in the same roles.
    source = inspect.getsource(L2ListenSocket.recv_raw)
    for fragment in ("self._recv_raw(self.ins, x)", "sa_ll[2] == socket.PACKET_OUTGOING",
                     "get_last_packet_timestamp(self.ins)", "return self.LL, pkt, ts"):
        assert fragment in source, _changed(f"L2Socket.recv_raw (no longer has {fragment!r})")


@linux_only
def test_the_loopback_class_is_scapys_socket_with_its_own_recv_raw() -> None:
    load_scapy()
    from scapy.arch.linux import L2ListenSocket

    loopback, other = listen_socket_class(loopback=True), listen_socket_class(loopback=False)
    assert other is L2ListenSocket and issubclass(loopback, L2ListenSocket)
    assert loopback.recv_raw is not L2ListenSocket.recv_raw
    assert listen_socket_class(loopback=True) is loopback  # made once


def test_the_sniffer_thread_is_where_the_shim_looks_for_it() -> None:
    load_scapy()
    from scapy.layers.inet import IP, TCP
    from scapy.sendrecv import AsyncSniffer

    sniffer = AsyncSniffer(offline=[IP() / TCP()], store=False)  # packets in memory: nothing is captured
    assert not sniffer_alive(sniffer)  # not started: no thread yet
    sniffer.start()
    assert isinstance(getattr(sniffer, "thread", None), threading.Thread), _changed("AsyncSniffer.thread")
    sniffer.join(timeout=10)  # an offline capture ends by itself, after its last packet
    assert not sniffer_alive(sniffer)


def test_without_a_raw_socket_none_is_said() -> None:
    class Elsewhere:
        ins = "not a socket"

    assert raw_socket(Elsewhere()) is None and raw_socket(object()) is None


@pytest.mark.root
@linux_only
def test_a_real_loopback_socket_has_the_fields_the_shim_reads() -> None:
    load_scapy()
    from scapy.config import conf

    opened = listen_socket_class(loopback=True)(iface=conf.loopback_name, filter=None)
    try:
        assert isinstance(raw_socket(opened), socket.socket), _changed("L2ListenSocket.ins (the socket)")
        assert isinstance(opened.LL, type), _changed("L2ListenSocket.LL (the link-layer class)")
    finally:
        opened.close()
