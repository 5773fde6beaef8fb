"""Parsing what users type as an address: ``host:port``, ``[::1]:port``, ``PORT`` alone.

Pure string work; no name resolution happens here (that is an adapter's job), so every error is a
``UsageError`` with a sentence that shows the accepted forms.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from netdiag.core.failures import UsageError

MAX_PORT = 65535

ENDPOINT_FORMS = "HOST:PORT, [IPv6]:PORT (for example 127.0.0.1:8000, localhost:8000, [::1]:8000)"


@dataclass(frozen=True)
class Endpoint:
    """One host and one port, exactly as the user meant them (the host is not resolved)."""

    host: str
    port: int

    @property
    def is_ipv6_literal(self) -> bool:
        return is_ipv6_literal(self.host)

    def __str__(self) -> str:
        return format_endpoint(self.host, self.port)


def is_ipv6_literal(host: str) -> bool:
    """True for ``::1`` or ``fe80::1%lo`` (a zone index is allowed), False for names and IPv4."""
    try:
        ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def format_endpoint(host: str, port: int) -> str:
    """``127.0.0.1:80`` or ``[::1]:80``: the form users can paste back into netdiag."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_port(text: str, *, allow_zero: bool = False) -> int:
    """A decimal port number in 1..65535 (0 too when the caller binds and lets the OS choose)."""
    stripped = text.strip()
    if not stripped.isdigit():
        raise UsageError(f"'{text}' is not a port number: use a number from 1 to {MAX_PORT}.")
    port = int(stripped)
    low = 0 if allow_zero else 1
    if not low <= port <= MAX_PORT:
        raise UsageError(f"Port {port} is out of range: ports go from {low} to {MAX_PORT}.")
    return port


def split_host_port(text: str) -> tuple[str, str]:
    """Split ``host:rest`` / ``[v6]:rest`` into host and the text after the colon, unparsed."""
    text = text.strip()
    if text.startswith("["):
        close = text.find("]")
        if close == -1 or not text[close + 1 :].startswith(":"):
            raise UsageError(f"'{text}' is not a valid address: expected {ENDPOINT_FORMS}.")
        host, rest = text[1:close], text[close + 2 :]
        if not is_ipv6_literal(host):
            raise UsageError(f"'{host}' inside brackets is not an IPv6 address.")
        return host, rest
    if text.count(":") > 1:
        raise UsageError(
            f"'{text}' looks like an IPv6 address without brackets: write it as [{text}]:PORT "
            "(the last colon would otherwise be ambiguous)."
        )
    host, sep, rest = text.rpartition(":")
    if not sep or not host:
        raise UsageError(f"'{text}' has no host and port: expected {ENDPOINT_FORMS}.")
    return host, rest


def parse_endpoint(text: str, *, allow_zero_port: bool = False) -> Endpoint:
    """Parse ``HOST:PORT`` or ``[IPv6]:PORT`` into an ``Endpoint``."""
    host, port_text = split_host_port(text)
    return Endpoint(host=host, port=parse_port(port_text, allow_zero=allow_zero_port))


def parse_listen_address(text: str, *, default_host: str = "127.0.0.1") -> Endpoint:
    """Parse ``[HOST:]PORT`` for servers: a bare port binds the default (loopback) host; 0 is allowed."""
    stripped = text.strip()
    if stripped.isdigit():
        return Endpoint(host=default_host, port=parse_port(stripped, allow_zero=True))
    return parse_endpoint(stripped, allow_zero_port=True)
