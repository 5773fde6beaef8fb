"""Parsing what users type as an address: ``host:port``, ``[::1]:port``, ``PORT`` alone.

Pure string work; no name resolution happens here (that is an adapter's job), so every error is a
``UsageError`` with a sentence that shows the accepted forms.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from netdiag.core.failures import UsageError

MAX_PORT = 65535
MAX_PORT_DIGITS = len(str(MAX_PORT))
SHOWN_CHARS = 40

ENDPOINT_FORMS = "HOST:PORT, [IPv6]:PORT (for example 127.0.0.1:8000, localhost:8000, [::1]:8000)"
PROBE_TARGET_FORMS = (
    "HOST:PORTS or [IPv6]:PORTS, where PORTS is a list like 22,80,8000-8010 or service names "
    "(for example 127.0.0.1:8000, localhost:22,80,443, [::1]:http, 127.0.0.1:1-1024)"
)

ServiceLookup = Callable[[str, str], int | None]
"""``(name, proto) -> port`` (None when unknown); the CLI passes one backed by /etc/services."""


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


def literal_family(host: str) -> int | None:
    """4 or 6 when ``host`` is an IPv4 or IPv6 literal, None for a name (resolved later)."""
    if is_ipv6_literal(host):
        return 6
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return None
    return 4


def wanted_family(*, ipv4: bool, ipv6: bool) -> int | None:
    """4 for ``-4``, 6 for ``-6``, None for neither (both families); both at once is a usage error."""
    if ipv4 and ipv6:
        raise UsageError("-4 and -6 exclude each other: give one, or neither for both families.")
    return 4 if ipv4 else 6 if ipv6 else None


def check_family(host: str, wanted: int | None) -> None:
    """An IPv4 literal with -6 (or IPv6 with -4) is a contradiction in the command line, said before
    anything is resolved or sent (a name passes: it may have addresses of either family)."""
    family = literal_family(host)
    if wanted is not None and family is not None and family != wanted:
        raise UsageError(f"{host} is an IPv{family} address, but -{wanted} allows IPv{wanted} addresses "
                         f"only: drop -{wanted}, or give an IPv{wanted} address.")


def format_endpoint(host: str | None, port: int | None) -> str:
    """``127.0.0.1:80`` or ``[::1]:80``: the form users can paste back into netdiag.

    The one endpoint formatter of netdiag. A socket listing also has ends with nothing bound or connected
    (no address: ``*``, ``*:8000``) and Unix sockets, whose path has no port and is shown as it is.
    """
    if port is None:
        return host or "*"
    return f"{endpoint_host(host)}:{port}"


def endpoint_host(host: str | None) -> str:
    """The host part of ``format_endpoint``'s ``host:port``: ``*`` for any address, IPv6 in brackets
    (the socket table makes it once per distinct address)."""
    if not host:
        return "*"
    return f"[{host}]" if ":" in host else host


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` cut to ``limit`` characters (with an ellipsis and its length): messages quote what was typed,
    and a 5,000-digit "port" quoted in full would drown the sentence."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def parse_port(text: str, *, allow_zero: bool = False) -> int:
    """A decimal port number in 1..65535 (0 too when the caller binds and lets the OS choose)."""
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()):  # '¹'.isdigit() is True, int('¹') fails
        raise UsageError(f"'{shorten(text)}' is not a port number: use a number from 1 to {MAX_PORT}.")
    digits = stripped.lstrip("0")
    if len(digits) > MAX_PORT_DIGITS:  # never int() it: past 4,300 digits Python refuses (ValueError)
        raise UsageError(f"Port {shorten(stripped)} ({len(digits):,} digits) is out of range: ports go from "
                         f"{0 if allow_zero else 1} to {MAX_PORT}.")
    port = int(stripped)
    low = 0 if allow_zero else 1
    if not low <= port <= MAX_PORT:
        raise UsageError(f"Port {port} is out of range: ports go from {low} to {MAX_PORT}.")
    return port


def split_host_port(text: str) -> tuple[str, str]:
    """Split ``host:rest`` / ``[v6]:rest`` into host and the text after the colon, unparsed."""
    text = text.strip()
    if "://" in text:
        raise UsageError(url_message(text))
    if text.startswith("["):
        close = text.find("]")
        if close == len(text) - 1 and is_ipv6_literal(text[1:close]):
            raise UsageError(f"'{text}' has no port: give [IPv6]:PORT, for example {text}:8000.")
        if close == -1 or not text[close + 1 :].startswith(":"):
            raise UsageError(f"'{text}' is not a valid address: expected {ENDPOINT_FORMS}.")
        host, rest = text[1:close], text[close + 2 :]
        if not is_ipv6_literal(host):
            raise UsageError(f"'{host}' inside brackets is not an IPv6 address.")
        return host, rest
    if text.count(":") > 1:
        head, _, tail = text.rpartition(":")
        meant = f"[{head}]:{tail} if {tail} is the port" if tail.isdigit() and is_ipv6_literal(head) \
            else f"[{text}]:PORT"
        raise UsageError(
            f"'{text}' looks like an IPv6 address without brackets: write it as {meant} "
            "(the last colon would otherwise be ambiguous)."
        )
    host, sep, rest = text.rpartition(":")
    if not sep and text.isascii() and text.isdigit() and len(text) <= 5:
        raise UsageError(f"'{text}' is a port without a host: give HOST:PORT, for example 127.0.0.1:{text} "
                         "for a server on this machine.")
    if not sep and text and (literal_family(text) or _looks_like_name(text)):
        raise UsageError(f"'{text}' has no port: give HOST:PORT, for example {text}:8000.")
    if not sep or not host:
        raise UsageError(f"'{text}' has no host and port: expected {ENDPOINT_FORMS}.")
    return host, rest


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21, "ssh": 22}


def url_message(text: str) -> str:
    """What to type instead of a URL: netdiag works below HTTP, on HOST:PORT."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:  # a port out of range or not a number
        port = None
        parts = None
    if parts is None or not parts.hostname or port is None:
        return f"'{text}' is a URL: give HOST:PORT instead ({ENDPOINT_FORMS})."
    return (f"'{text}' is a URL: give HOST:PORT instead, here {format_endpoint(parts.hostname, port)} "
            "(netdiag works on the connection, below HTTP).")


def _looks_like_name(text: str) -> bool:
    """A host name as people type it (``localhost``, ``lab-pc.local``), not a port or a stray word."""
    return (bool(text) and not text.isdigit() and text[0].isalnum()
            and all(c.isalnum() or c in "-._" for c in text))


def joined_target(words: list[str]) -> str | None:
    """``['127.0.0.1', '8000']`` typed as two words: the one ``HOST:PORT`` the user most likely meant."""
    for host, port in itertools.pairwise(words):
        if not (port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) <= MAX_PORT):
            continue
        bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if literal_family(bare) or (":" not in bare and bare[:1].isalpha() and _looks_like_name(bare)):
            return format_endpoint(bare, int(port))
    return None


def parse_endpoint(text: str, *, allow_zero_port: bool = False) -> Endpoint:
    """Parse ``HOST:PORT`` or ``[IPv6]:PORT`` into an ``Endpoint``."""
    host, port_text = split_host_port(text)
    return Endpoint(host=host, port=parse_port(port_text, allow_zero=allow_zero_port))


def parse_listen_address(text: str, *, default_host: str = "127.0.0.1") -> Endpoint:
    """Parse ``[HOST:]PORT`` for servers: a bare port binds the default (loopback) host; 0 is allowed."""
    stripped = text.strip()
    if stripped.isdigit():
        return Endpoint(host=default_host, port=parse_port(stripped, allow_zero=True))
    bare = stripped[1:-1] if stripped.startswith("[") and stripped.endswith("]") else stripped
    if (bare != stripped and is_ipv6_literal(bare)) or (":" not in bare and (literal_family(bare)
                                                                            or _looks_like_name(bare))):
        raise UsageError(f"'{stripped}' has no port: give a port, as in {format_endpoint(bare, 8000)} "
                         f"(or just 8000 for {format_endpoint(default_host, 8000)}).")
    return parse_endpoint(stripped, allow_zero_port=True)


class ProbeTarget(NamedTuple):
    """A host and the ports to probe on it, as typed (the host is not resolved here).

    A named tuple, like the probe's other internal records: a frozen dataclass costs about 1 ms of
    start-up to define (it generates its methods with ``exec``), and ``netdiag probe`` defines few."""

    host: str
    ports: tuple[int, ...]

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{format_port_list(self.ports)}"


def parse_probe_target(
    text: str,
    *,
    lookup: ServiceLookup | None = None,
    proto: str = "tcp",
    default_ports: tuple[int, ...] | None = None,
) -> ProbeTarget:
    """Parse ``HOST:PORTS`` / ``[IPv6]:PORTS`` (or a bare ``HOST`` when ``default_ports`` is given).

    ``PORTS`` is a comma list of numbers, ranges (``8000-8010``, ``1-`` up to 65535, ``-1024`` from 1)
    and service names, looked up with ``lookup`` for ``proto``; duplicates are dropped, order is kept.
    """
    stripped = text.strip()
    if not stripped:
        raise UsageError(f"An empty target: expected {PROBE_TARGET_FORMS}.")
    if default_ports is not None and _is_bare_host(stripped):
        return ProbeTarget(host=stripped.strip("[]"), ports=default_ports)
    try:
        host, port_text = split_host_port(stripped)
    except UsageError as err:
        raise UsageError(f"{err.message} Probe targets are {PROBE_TARGET_FORMS}.") from None
    return ProbeTarget(host=host, ports=parse_port_spec(port_text, lookup=lookup, proto=proto))


def parse_port_spec(text: str, *, lookup: ServiceLookup | None = None, proto: str = "tcp") -> tuple[int, ...]:
    """``22,80,8000-8010,http`` -> the ports, in the order given, without duplicates."""
    if not text.strip():
        raise UsageError("No port given: add one after the colon, for example HOST:80 or HOST:1-1024.")
    ports: dict[int, None] = {}
    for item in text.split(","):
        for port in _parse_port_item(item.strip(), lookup, proto):
            ports[port] = None
    return tuple(ports)


def format_port_list(ports: tuple[int, ...]) -> str:
    """``(1, 2, 3, 80)`` -> ``1-3,80``: the compact form users type (and nmap prints)."""
    parts: list[str] = []
    start = previous = None
    for port in sorted(set(ports)):
        if previous is not None and port == previous + 1:
            previous = port
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = port
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ",".join(parts)


def _is_bare_host(text: str) -> bool:
    if text.startswith("[") and text.endswith("]"):
        return is_ipv6_literal(text[1:-1])
    return ":" not in text or is_ipv6_literal(text)


def _parse_port_item(item: str, lookup: ServiceLookup | None, proto: str) -> range | tuple[int]:
    if not item:
        raise UsageError("An empty item in the port list (two commas in a row?): write it like 22,80,443.")
    if "-" in item and item.replace("-", "").isdigit():
        low_text, _, high_text = item.partition("-")
        low = parse_port(low_text) if low_text else 1
        high = parse_port(high_text) if high_text else MAX_PORT
        if low > high:
            raise UsageError(f"The range {item} goes backwards: write {high}-{low}.")
        return range(low, high + 1)
    if item.isdigit():
        return (parse_port(item),)
    return (_lookup_service(item, lookup, proto),)


def _lookup_service(name: str, lookup: ServiceLookup | None, proto: str) -> int:
    valid_name = name.replace("-", "").replace("_", "").isalnum() and not name.startswith("-")
    if not valid_name:
        raise UsageError(
            f"'{name}' is neither a port, a range nor a service name: use forms like 80, 8000-8010, http.")
    port = lookup(name.lower(), proto) if lookup is not None else None
    if port is None:
        raise UsageError(
            f"Unknown service name '{name}' for {proto.upper()}: use the port number instead "
            "(see /etc/services for known names).")
    return port
