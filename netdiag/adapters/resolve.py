"""Name resolution: a host name (or literal) in, the addresses the OS resolver returns out.

The only place probe and explain call ``getaddrinfo``; a failure becomes a ``NetworkFailure`` carrying the
catalog's ``dns-failure`` explanation, with the resolver's own words kept in the message.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.failures import NetworkFailure


def resolve_host(host: str, family: int = 0) -> list[str]:
    """The addresses ``host`` resolves to, IPv6 and IPv4, in the resolver's order, without duplicates.

    ``family`` is ``socket.AF_INET``/``AF_INET6`` to ask for one family only (0: both). Literals come
    back unchanged without touching DNS (``AI_NUMERICHOST`` is tried first).
    """
    literal = _numeric(host, family)
    if literal is not None:
        return literal
    try:
        infos = socket.getaddrinfo(host, None, family, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NetworkFailure(
            f"Cannot resolve '{host}': {exc.strerror or exc}.",
            explanation=explanation_for(Cause.DNS_FAILURE),
        ) from exc
    except UnicodeError as exc:  # a label longer than 63 characters fails in the idna codec
        raise NetworkFailure(
            f"Cannot resolve '{host}': it is not a valid host name ({exc}).",
            explanation=explanation_for(Cause.DNS_FAILURE),
        ) from exc
    return _unique(str(info[4][0]) for info in infos)


def _numeric(host: str, family: int) -> list[str] | None:
    if not host.isascii():  # no literal is; and bytes spare the idna codec's import (~3 ms start-up)
        return None
    try:
        infos = socket.getaddrinfo(host.encode(), None, family, socket.SOCK_STREAM, 0,
                                   socket.AI_NUMERICHOST)
    except socket.gaierror:
        return None
    return _unique(str(info[4][0]) for info in infos)


def _unique(addresses: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(addresses))


def lookup_service(name: str, proto: str) -> int | None:
    """The port of a service name from the system's services database (/etc/services), or None."""
    try:
        return socket.getservbyname(name, proto)
    except OSError:
        return None
