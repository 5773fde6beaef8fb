"""Socket rows as ``ss`` shows them: the shared data type of ``sockets``, ``explain`` and the tour."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SocketRow:
    """One socket; field names are the documented, stable JSON keys of ``netdiag sockets``.

    ``state`` uses ss's words (``LISTEN``, ``ESTAB`` is written ``ESTABLISHED``, ``TIME_WAIT`` ...; UDP
    sockets are ``UNCONN`` unless connected). ``pid``/``process`` are None when the owner is unknown
    (another user's process without privileges, or a socket with no owner such as TIME_WAIT).
    """

    proto: str  # "tcp", "udp", "unix"
    family: str  # "ipv4", "ipv6", "unix"
    local_address: str
    local_port: int | None
    remote_address: str | None
    remote_port: int | None
    state: str
    pid: int | None
    process: str | None
