"""Name resolution: a host name (or literal) in, the addresses the OS resolver returns out.

``lookup`` is the one place netdiag calls ``getaddrinfo`` on a name the user typed (probe, explain,
connect, load, listen): a failure becomes a ``ResolveFailure`` carrying the catalog's ``dns-failure``
explanation, with the resolver's own words kept in its ``reason`` (and so in its message). Both ways a
name fails are translated there: ``socket.gaierror``, and ``UnicodeError`` from the idna codec (a label
longer than 63 characters, an empty label).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence
from typing import Any

from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.failures import ResolveFailure

AddressInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]
"""One entry of ``getaddrinfo``'s answer: family, type, protocol, canonical name, socket address."""


def lookup(host: str, port: int | None = None, *, family: int = 0, kind: int = socket.SOCK_STREAM,
           flags: int = 0) -> Sequence[AddressInfo]:
    """``getaddrinfo(host, port, family, kind, 0, flags)``, its failures raised as ``ResolveFailure``.

    The failure names ``host`` and ``port`` and keeps the resolver's words (``reason``) and its
    getaddrinfo code (``errno``) as fields; the explanation is the catalog's, with its placeholders left
    for the caller to fill if it wants to.
    """
    try:
        return socket.getaddrinfo(host, port, family, kind, 0, flags)
    except socket.gaierror as exc:
        raise ResolveFailure(host, exc.strerror or str(exc), port=port, errno=exc.errno,
                             explanation=explanation_for(Cause.DNS_FAILURE)) from exc
    except UnicodeError as exc:  # a label longer than 63 characters fails in the idna codec
        raise ResolveFailure(host, f"it is not a valid host name ({exc})", port=port,
                             explanation=explanation_for(Cause.DNS_FAILURE)) from exc


def resolve_host(host: str, family: int = 0) -> list[str]:
    """The addresses ``host`` resolves to, IPv6 and IPv4, in the resolver's order, without duplicates.

    ``family`` is ``socket.AF_INET``/``AF_INET6`` to ask for one family only (0: both). Literals come
    back unchanged without touching DNS (``AI_NUMERICHOST`` is tried first). A name that does not
    resolve raises ``ResolveFailure`` (``lookup``).
    """
    literal = _numeric(host, family)
    if literal is not None:
        return literal
    return _unique(str(info[4][0]) for info in lookup(host, family=family))


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


SERVICES_FILES = ("/etc/services", r"C:\Windows\System32\drivers\etc\services")
_ASK_EACH_UP_TO = 64  # getservbyport reads the database once per call: ~50 us, 3.5 s for 65,535 ports


def service_names(ports: Iterable[int], proto: str) -> dict[int, str]:
    """The name of each port that has one in the services database (``ssh`` for 22/tcp).

    A few ports are asked one by one (``getservbyport``, the system's own lookup); a big scan reads the
    services file once instead.
    """
    wanted = set(ports)
    if len(wanted) <= _ASK_EACH_UP_TO:
        names = {}
        for port in wanted:
            try:
                names[port] = socket.getservbyport(port, proto)
            except (OSError, OverflowError):
                continue
        return names
    table = _services_file(proto)
    return {port: table[port] for port in wanted if port in table}


def _services_file(proto: str) -> dict[int, str]:
    for path in SERVICES_FILES:
        try:
            with open(path, encoding="utf-8", errors="replace") as lines:
                table: dict[int, str] = {}
                for line in lines:
                    words = line.split("#", 1)[0].split()
                    if len(words) < 2:
                        continue
                    number, _, kind = words[1].partition("/")
                    if kind == proto and number.isdigit():
                        table.setdefault(int(number), words[0])
                return table
        except OSError:
            continue
    return {}


def lookup_service(name: str, proto: str) -> int | None:
    """The port of a service name from the system's services database (/etc/services), or None."""
    try:
        return socket.getservbyname(name, proto)
    except OSError:
        return None
