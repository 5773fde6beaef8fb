"""Socket error numbers per platform: the same number means different things on Linux, macOS and Windows.

``111`` is ECONNREFUSED on Linux, ``61`` on macOS, ``10061`` (WSAECONNREFUSED) on Windows; ``61`` on
Linux is ENODATA, not a socket error at all. getaddrinfo has its own numbers too (``socket.gaierror``):
EAI_NONAME is -2 with glibc, 8 on macOS, and Windows reports WSAHOST_NOT_FOUND (11001).

These tables are data: ``netdiag explain --error`` reads them, and docs/troubleshooting.md prints them.
Only socket-related numbers are listed; a number missing here is "not a socket error netdiag knows" on
that platform. Messages are the platform's own strerror()/FormatMessage() texts, so pasted text matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from netdiag.core.catalog import Cause

Platform = Literal["linux", "macos", "windows"]
PLATFORMS: tuple[Platform, ...] = ("linux", "macos", "windows")
PLATFORM_NAMES: dict[Platform, str] = {"linux": "Linux", "macos": "macOS", "windows": "Windows"}

ErrorKind = Literal["errno", "getaddrinfo"]


@dataclass(frozen=True)
class ErrnoEntry:
    """One error number on one platform: its symbol, the OS's own message, and the cause it points to."""

    platform: Platform
    kind: ErrorKind
    number: int
    symbol: str
    message: str
    cause: Cause


def _table(platform: Platform, kind: ErrorKind,
           rows: tuple[tuple[int, str, str, Cause], ...]) -> tuple[ErrnoEntry, ...]:
    return tuple(ErrnoEntry(platform, kind, number, symbol, message, cause)
                 for number, symbol, message, cause in rows)


C = Cause

LINUX_ERRNO = _table("linux", "errno", (
    (1, "EPERM", "Operation not permitted", C.FIREWALL_DROP),
    (13, "EACCES", "Permission denied", C.PRIVILEGED_PORT),
    (32, "EPIPE", "Broken pipe", C.BROKEN_PIPE),
    (98, "EADDRINUSE", "Address already in use", C.ADDRESS_IN_USE),
    (99, "EADDRNOTAVAIL", "Cannot assign requested address", C.ADDRESS_NOT_LOCAL),
    (100, "ENETDOWN", "Network is down", C.NO_ROUTE),
    (101, "ENETUNREACH", "Network is unreachable", C.NO_ROUTE),
    (103, "ECONNABORTED", "Software caused connection abort", C.CONNECTION_ABORTED),
    (104, "ECONNRESET", "Connection reset by peer", C.CONNECTION_RESET),
    (110, "ETIMEDOUT", "Connection timed out", C.TIMEOUT),
    (111, "ECONNREFUSED", "Connection refused", C.NOTHING_LISTENING),
    (112, "EHOSTDOWN", "Host is down", C.HOST_UNREACHABLE),
    (113, "EHOSTUNREACH", "No route to host", C.HOST_UNREACHABLE),
    (9, "EBADF", "Bad file descriptor", C.SOCKET_CLOSED),
    (22, "EINVAL", "Invalid argument", C.INVALID_ARGUMENT),
    (24, "EMFILE", "Too many open files", C.TOO_MANY_OPEN_FILES),
    (88, "ENOTSOCK", "Socket operation on non-socket", C.SOCKET_CLOSED),
    (106, "EISCONN", "Transport endpoint is already connected", C.ALREADY_CONNECTED),
    (107, "ENOTCONN", "Transport endpoint is not connected", C.NOT_CONNECTED),
))

MACOS_ERRNO = _table("macos", "errno", (
    (1, "EPERM", "Operation not permitted", C.FIREWALL_DROP),
    (13, "EACCES", "Permission denied", C.PRIVILEGED_PORT),
    (32, "EPIPE", "Broken pipe", C.BROKEN_PIPE),
    (48, "EADDRINUSE", "Address already in use", C.ADDRESS_IN_USE),
    (49, "EADDRNOTAVAIL", "Can't assign requested address", C.ADDRESS_NOT_LOCAL),
    (50, "ENETDOWN", "Network is down", C.NO_ROUTE),
    (51, "ENETUNREACH", "Network is unreachable", C.NO_ROUTE),
    (53, "ECONNABORTED", "Software caused connection abort", C.CONNECTION_ABORTED),
    (54, "ECONNRESET", "Connection reset by peer", C.CONNECTION_RESET),
    (60, "ETIMEDOUT", "Operation timed out", C.TIMEOUT),
    (61, "ECONNREFUSED", "Connection refused", C.NOTHING_LISTENING),
    (64, "EHOSTDOWN", "Host is down", C.HOST_UNREACHABLE),
    (65, "EHOSTUNREACH", "No route to host", C.HOST_UNREACHABLE),
    (9, "EBADF", "Bad file descriptor", C.SOCKET_CLOSED),
    (22, "EINVAL", "Invalid argument", C.INVALID_ARGUMENT),
    (24, "EMFILE", "Too many open files", C.TOO_MANY_OPEN_FILES),
    (38, "ENOTSOCK", "Socket operation on non-socket", C.SOCKET_CLOSED),
    (56, "EISCONN", "Socket is already connected", C.ALREADY_CONNECTED),
    (57, "ENOTCONN", "Socket is not connected", C.NOT_CONNECTED),
))

# Python on Windows reports Winsock errors as [WinError N] (and sets errno to the same N); EPIPE (32) and
# EACCES (13) come from the C runtime and keep their POSIX numbers.
WINDOWS_ERRNO = _table("windows", "errno", (
    (13, "EACCES", "Permission denied", C.PORT_RESERVED),
    (32, "EPIPE", "Broken pipe", C.BROKEN_PIPE),
    (10013, "WSAEACCES",
     "An attempt was made to access a socket in a way forbidden by its access permissions", C.PORT_RESERVED),
    (10048, "WSAEADDRINUSE",
     "Only one usage of each socket address (protocol/network address/port) is normally permitted",
     C.ADDRESS_IN_USE),
    (10049, "WSAEADDRNOTAVAIL", "The requested address is not valid in its context", C.ADDRESS_NOT_LOCAL),
    (10050, "WSAENETDOWN", "A socket operation encountered a dead network", C.NO_ROUTE),
    (10051, "WSAENETUNREACH", "A socket operation was attempted to an unreachable network", C.NO_ROUTE),
    (10053, "WSAECONNABORTED",
     "An established connection was aborted by the software in your host machine", C.CONNECTION_ABORTED),
    (10054, "WSAECONNRESET", "An existing connection was forcibly closed by the remote host",
     C.CONNECTION_RESET),
    (10060, "WSAETIMEDOUT",
     "A connection attempt failed because the connected party did not properly respond after a period of "
     "time, or established connection failed because connected host has failed to respond", C.TIMEOUT),
    (10061, "WSAECONNREFUSED",
     "No connection could be made because the target machine actively refused it", C.NOTHING_LISTENING),
    (10064, "WSAEHOSTDOWN", "A socket operation failed because the destination host was down",
     C.HOST_UNREACHABLE),
    (10065, "WSAEHOSTUNREACH", "A socket operation was attempted to an unreachable host", C.HOST_UNREACHABLE),
    (10009, "WSAEBADF", "The file handle supplied is not valid", C.SOCKET_CLOSED),
    (10022, "WSAEINVAL", "An invalid argument was supplied", C.INVALID_ARGUMENT),
    (10024, "WSAEMFILE", "Too many open sockets", C.TOO_MANY_OPEN_FILES),
    (10038, "WSAENOTSOCK", "An operation was attempted on something that is not a socket", C.SOCKET_CLOSED),
    (10056, "WSAEISCONN", "A connect request was made on an already connected socket", C.ALREADY_CONNECTED),
    (10057, "WSAENOTCONN",
     "A request to send or receive data was disallowed because the socket is not connected and (when "
     "sending on a datagram socket using a sendto call) no address was supplied", C.NOT_CONNECTED),
))

LINUX_GAI = _table("linux", "getaddrinfo", (
    (-2, "EAI_NONAME", "Name or service not known", C.DNS_FAILURE),
    (-3, "EAI_AGAIN", "Temporary failure in name resolution", C.DNS_FAILURE),
    (-4, "EAI_FAIL", "Non-recoverable failure in name resolution", C.DNS_FAILURE),
    (-5, "EAI_NODATA", "No address associated with hostname", C.DNS_FAILURE),
    (-9, "EAI_ADDRFAMILY", "Address family for hostname not supported", C.DNS_FAILURE),
))

MACOS_GAI = _table("macos", "getaddrinfo", (
    (1, "EAI_ADDRFAMILY", "Address family for nodename not supported", C.DNS_FAILURE),
    (2, "EAI_AGAIN", "Temporary failure in name resolution", C.DNS_FAILURE),
    (4, "EAI_FAIL", "Non-recoverable failure in name resolution", C.DNS_FAILURE),
    (7, "EAI_NODATA", "No address associated with nodename", C.DNS_FAILURE),
    (8, "EAI_NONAME", "nodename nor servname provided, or not known", C.DNS_FAILURE),
))

WINDOWS_GAI = _table("windows", "getaddrinfo", (
    (11001, "WSAHOST_NOT_FOUND", "No such host is known (getaddrinfo failed)", C.DNS_FAILURE),
    (11002, "WSATRY_AGAIN",
     "This is usually a temporary error during hostname resolution and means that the local server did "
     "not receive a response from an authoritative server", C.DNS_FAILURE),
    (11003, "WSANO_RECOVERY", "A non-recoverable error occurred during a database lookup", C.DNS_FAILURE),
    (11004, "WSANO_DATA",
     "The requested name is valid, but no data of the requested type was found", C.DNS_FAILURE),
))

ALL_ENTRIES: tuple[ErrnoEntry, ...] = (
    LINUX_ERRNO + MACOS_ERRNO + WINDOWS_ERRNO + LINUX_GAI + MACOS_GAI + WINDOWS_GAI
)


def entries_for_number(number: int, *, platform: Platform | None = None,
                       kind: ErrorKind | None = None) -> tuple[ErrnoEntry, ...]:
    """Every reading of ``number`` (on ``platform`` and of ``kind`` when given), Linux first."""
    return tuple(entry for entry in ALL_ENTRIES
                 if entry.number == number
                 and (platform is None or entry.platform == platform)
                 and (kind is None or entry.kind == kind))


def entries_for_symbol(symbol: str) -> tuple[ErrnoEntry, ...]:
    """Every entry whose symbol is ``symbol`` (case-insensitive; ``WSAECONNREFUSED`` is Windows only)."""
    wanted = symbol.upper()
    return tuple(entry for entry in ALL_ENTRIES if entry.symbol == wanted)


def platform_of(sys_platform: str) -> Platform:
    """Our platform word for a Python platform name (anything not Windows or macOS reads as Linux)."""
    if sys_platform.startswith(("win", "cygwin")):
        return "windows"
    if sys_platform == "darwin":
        return "macos"
    return "linux"
