"""Every part of scapy's private internals netdiag relies on, in one place (checked by
tests/adapters/capture/test_scapy_private.py against the installed scapy).

netdiag uses scapy's public API everywhere else (``netdiag.adapters.capture.scapy_glue``). Two things need
its insides, both about the packet socket scapy opens on Linux (``scapy.arch.linux.L2ListenSocket``):

* on loopback, keeping only the arriving copy of each packet (the kernel hands a packet socket every
  loopback packet twice, leaving and arriving; libpcap drops the leaving one, scapy does not). The
  subclass below overrides ``recv_raw`` with scapy's own body minus the leaving copies, so it calls
  what that body calls: the private ``_recv_raw(sock, size) -> (bytes, sockaddr_ll, timestamp | None)``,
  the ``ins`` attribute (the ``socket.socket`` read from), ``LL`` (the link-layer class scapy picked
  when it opened the socket) and ``scapy.arch.linux.get_last_packet_timestamp``;
* reaching the ``socket.socket`` itself (``ins``), to give it a larger kernel receive queue;
* whether an ``AsyncSniffer``'s thread still runs (its ``thread`` attribute, undocumented), while
  waiting for it to start.

A scapy release may rename or reshape any of it without notice; when it does, the tests fail naming what
changed, and this module is the only one to adapt. scapy is imported inside the functions, as everywhere
in netdiag: only ``netdiag handshake`` (and an explain that captures) pays for it.
"""

from __future__ import annotations

import socket
from typing import Any

_LISTEN_CLASSES: dict[bool, Any] = {}


def listen_socket_class(*, loopback: bool) -> Any:
    """scapy's Linux packet socket class (``L2ListenSocket``), or on loopback a subclass that keeps only
    the arriving copy of each packet; made once per process."""
    if loopback in _LISTEN_CLASSES:
        return _LISTEN_CLASSES[loopback]
    from scapy.arch.linux import L2ListenSocket, get_last_packet_timestamp
    from scapy.data import MTU

    if not loopback:
        _LISTEN_CLASSES[loopback] = L2ListenSocket
        return L2ListenSocket

    class InboundLoopbackSocket(L2ListenSocket):
        """Drops PACKET_OUTGOING copies: on lo each segment is delivered out and in (libpcap does this)."""

        def recv_raw(self, x: int = MTU) -> tuple[Any, Any, Any]:
            pkt, sa_ll, ts = self._recv_raw(self.ins, x)
            if sa_ll[2] == socket.PACKET_OUTGOING:
                return None, None, None
            if ts is None:
                ts = get_last_packet_timestamp(self.ins)
            return self.LL, pkt, ts

    _LISTEN_CLASSES[loopback] = InboundLoopbackSocket
    return InboundLoopbackSocket


def raw_socket(capture_socket: Any) -> socket.socket | None:
    """The ``socket.socket`` a scapy capture socket reads from (its ``ins``), or None when it has none
    (another platform's socket class, or one scapy reshaped)."""
    raw = getattr(capture_socket, "ins", None)
    return raw if isinstance(raw, socket.socket) else None


def sniffer_alive(sniffer: Any) -> bool:
    """Whether a started ``scapy.sendrecv.AsyncSniffer``'s thread still runs (False once it died, for
    example on a capture error)."""
    thread = getattr(sniffer, "thread", None)
    return thread is not None and thread.is_alive()
