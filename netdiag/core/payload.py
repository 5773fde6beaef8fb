"""The datagram a UDP probe sends (``probe``/``explain``/``load --udp --payload TEXT``). Pure.

Why a default that is not empty: an empty datagram tells a server nothing, so most ignore it, and then a
server that is up looks exactly like a firewall that drops packets (open|filtered). ``hello`` is what the
lab's own UDP client sends when given no message and what a lab server prints readably (``Received:
hello``); the lab's echo server returns it and its reply server answers ``accepted``, so the common lab
servers answer and the port shows ``open`` instead of ``open|filtered``. No newline: the lab's programs
compare whole datagrams, and a line-based server takes a datagram as a line anyway.
"""

from __future__ import annotations

import re

from netdiag.core.failures import UsageError

DEFAULT_PAYLOAD_TEXT = "hello"
DEFAULT_PAYLOAD = DEFAULT_PAYLOAD_TEXT.encode()
MAX_PAYLOAD = 65507  # the largest UDP payload over IPv4 (65,535 - 8 UDP - 20 IP header bytes)

_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|[nrt0\\])|\\")
_SIMPLE = {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\x00", "\\": b"\\"}


def parse_payload(text: str) -> bytes:
    """``text`` as UTF-8 bytes, with the escapes ``\\n \\r \\t \\0 \\\\ \\xNN`` decoded (``hello\\n``).

    Raises ``UsageError`` for an empty payload (that is what this option exists to avoid), a lone or
    unknown backslash escape, or more than a datagram can hold.
    """
    parts: list[bytes] = []
    at = 0
    for match in _ESCAPE.finditer(text):
        parts.append(text[at:match.start()].encode())
        code = match.group(1)
        if code is None:
            raise UsageError(f"--payload {text!r}: unknown escape at position {match.start() + 1}; use "
                             "\\n \\r \\t \\0 \\\\ or \\xNN.")
        parts.append(bytes([int(code[1:], 16)]) if code.startswith("x") else _SIMPLE[code])
        at = match.end()
    parts.append(text[at:].encode())
    payload = b"".join(parts)
    if not payload:
        raise UsageError("--payload is empty: an empty datagram tells a server nothing and most ignore it, "
                         "so silence would mean nothing; give at least one byte (default "
                         f"{DEFAULT_PAYLOAD_TEXT!r}).")
    if len(payload) > MAX_PAYLOAD:
        raise UsageError(f"--payload is {len(payload):,} bytes; a UDP datagram holds at most "
                         f"{MAX_PAYLOAD:,}.")
    return payload


def udp_payload(text: str | None, *, udp: bool) -> bytes:
    """What ``--payload`` asks for (the default when not given); refused without ``--udp``, where a probe
    sends no data at all."""
    if text is None:
        return DEFAULT_PAYLOAD
    if not udp:
        raise UsageError("--payload is the datagram of a UDP probe: add --udp (a TCP probe sends no data).")
    return parse_payload(text)
