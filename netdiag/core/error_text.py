"""Reading a pasted error: a Python exception line, a Winsock message, curl/ssh/nc/java/node/go output,
a symbol such as ``ECONNREFUSED``, or a bare error number.

The text is searched for *clues*, strongest first: an explicit number with its platform
(``[WinError 10061]``, ``[Errno 111] Connection refused``), an errno symbol (``ECONNREFUSED``,
``WSAECONNREFUSED``, ``EAI_AGAIN``), an exception class (``ConnectionRefusedError``,
``java.net.UnknownHostException``), and the OS's own phrases ("actively refused", "Name or service not
known"). The strongest clue names the cause; the operation (bind or connect) and the port, when the text
shows them, refine "Permission denied" into a privileged port, a reserved port, or a local firewall.
Text with no clue is ``unknown``, said honestly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from netdiag.core.catalog import Cause
from netdiag.core.errno_tables import (
    PLATFORM_NAMES,
    PLATFORMS,
    ErrnoEntry,
    ErrorKind,
    Platform,
    entries_for_number,
    entries_for_symbol,
)
from netdiag.core.error_causes import Operation, permission_cause


@dataclass(frozen=True)
class ErrorReading:
    """What a pasted error says: the cause, the clues that led there, and each platform's reading."""

    text: str
    cause: Cause
    clues: tuple[str, ...]
    readings: tuple[ErrnoEntry, ...]
    platform: Platform | None
    operation: Operation | None
    port: int | None
    notes: tuple[str, ...]

    @property
    def recognised(self) -> bool:
        return self.cause != Cause.UNKNOWN


@dataclass(frozen=True)
class _Clue:
    cause: Cause
    strength: int  # 4 explicit number, 3 symbol, 2 exception class, 1 phrase
    what: str


C = Cause

# Exception and class names from Python, Java, .NET, Go, requests/urllib3, in the order they are tried.
_EXCEPTION_NAMES: tuple[tuple[str, Cause], ...] = (
    ("UnicodeDecodeError", C.DECODE_ERROR),
    ("ConnectionRefusedError", C.NOTHING_LISTENING),
    ("ConnectionResetError", C.CONNECTION_RESET),
    ("ConnectionAbortedError", C.CONNECTION_ABORTED),
    ("BrokenPipeError", C.BROKEN_PIPE),
    ("gaierror", C.DNS_FAILURE),
    ("UnknownHostException", C.DNS_FAILURE),
    ("NameResolutionError", C.DNS_FAILURE),
    ("NoRouteToHostException", C.HOST_UNREACHABLE),
    ("SocketTimeoutException", C.TIMEOUT),
    ("ConnectTimeoutError", C.TIMEOUT),
    ("ConnectTimeout", C.TIMEOUT),
    ("ReadTimeout", C.TIMEOUT),
    ("TimeoutError", C.TIMEOUT),
    ("socket.timeout", C.TIMEOUT),
    ("TimeoutException", C.TIMEOUT),
)

# The OS's and tools' own phrases (case-insensitive regular expressions).
_PHRASES: tuple[tuple[str, Cause], ...] = (
    (r"actively refused|connection refused|refused to connect|couldn't connect to server",
     C.NOTHING_LISTENING),
    (r"address already in use|only one usage of each socket address|address in use", C.ADDRESS_IN_USE),
    (r"can(?:not|'t) assign requested address|not valid in its context", C.ADDRESS_NOT_LOCAL),
    (r"forbidden by its access permissions|permission denied|access denied", C.PRIVILEGED_PORT),
    (r"operation not permitted", C.FIREWALL_DROP),
    (r"network is unreachable|unreachable network|network is down|dead network", C.NO_ROUTE),
    (r"no route to host|host is unreachable|unreachable host|host is down|destination host was down",
     C.HOST_UNREACHABLE),
    (r"reset by peer|connection reset|forcibly closed by the remote host", C.CONNECTION_RESET),
    (r"broken pipe|epipe", C.BROKEN_PIPE),
    (r"software caused connection abort|connection was aborted|connection aborted", C.CONNECTION_ABORTED),
    (r"name or service not known|nodename nor servname|temporary failure in name resolution|"
     r"no such host|getaddrinfo failed|could not resolve|couldn't resolve|name does not resolve|"
     r"no address associated with|non-recoverable failure in name resolution|\benotfound\b|"
     r"unknown host|name resolution", C.DNS_FAILURE),
    (r"timed out|timeout|did not properly respond|failed to respond", C.TIMEOUT),
    # The lab's own programming mistakes (Python's messages, then the OS's strerror texts).
    (r"bytes-like object is required", C.STR_NOT_BYTES),
    (r"codec can't decode", C.DECODE_ERROR),
    (r"port must be 0-65535", C.PORT_OUT_OF_RANGE),
    (r"bad file descriptor|operation on non-socket|something that is not a socket", C.SOCKET_CLOSED),
    (r"transport endpoint is not connected|socket is not connected", C.NOT_CONNECTED),
    (r"is already connected|already connected socket", C.ALREADY_CONNECTED),
    (r"invalid argument", C.INVALID_ARGUMENT),
    (r"too many open files|too many open sockets", C.TOO_MANY_OPEN_FILES),
)

# "Permission denied" about a file, not a port: a shell that cannot run a script (bash, zsh...), or Python
# naming the path it could not open. Bounded quantifiers: linear on any text.
_FILE_DENIED = re.compile(
    r"\b(?:ba|z|da|k|fi)?sh: (?:line \d{1,9}: )?[^\s:]{1,300}: permission denied"
    r"|\bzsh: permission denied: |permission denied: '[^'\n]{1,300}'",
    re.IGNORECASE,
)

# Error numbers have at most 10 digits (Windows' HRESULTs); a longer digit run is no error number, and is
# never given to int() (Python refuses more than 4,300 digits with a ValueError).
_MAX_DIGITS = 10
_BARE_NUMBER = re.compile(r"^\s*(-?\d+)\s*$")
_WINERROR = re.compile(r"\[WinError\s+(-?\d{1,10})\]", re.IGNORECASE)
_ERRNO = re.compile(r"\[Errno\s+(-?\d{1,10})\]\s*([^\n\]]*)|\berrno[\s:=]+(-?\d{1,10})(?!\d)"
                    r"|SocketException\s{0,5}\((-?\d{1,10})\)", re.IGNORECASE)  # .NET: the platform's number
_SYMBOL = re.compile(r"\b(WSA[A-Z_]+|EAI_[A-Z]+|E[A-Z]{3,14})\b")
_NODE_DNS = re.compile(r"\b(ENOTFOUND|ESERVFAIL|EAI_AGAIN)\b")
_PORT = re.compile(
    r"\bport(?:\s+|=)(\d{1,5})\b|\(\s*'[^']*'\s*,\s*(\d{1,5})\s*\)|(?:\d|\]|:|\blocalhost):(\d{1,5})\b",
    re.IGNORECASE,
)
_OPERATIONS: tuple[tuple[str, Operation], ...] = (
    (r"\bbind\b|\blisten\b|BindException|address already in use|only one usage", "bind"),
    (r"\bgetaddrinfo\b|\blookup\b|\bresolve", "resolve"),
    (r"\bconnect(?:ing)?\b|\bdial\b|ConnectException|connection to|failed to (?:connect|establish)",
     "connect"),
    (r"\bwrite\b|\bsend\b|\bsendall\b|broken pipe", "send"),
    (r"\bread\b|\brecv\b", "recv"),
)


def read_error_text(
    text: str, *, platform: Platform | None = None, running_on: Platform | None = None
) -> ErrorReading:
    """What ``text`` (a pasted error or a bare error number) means.

    ``platform`` is where the error came from when the user says so (``--platform``); ``running_on`` is
    this machine's platform, used only to order the readings of an ambiguous number.
    """
    whole = text
    text = scan_window(text)
    bare = _BARE_NUMBER.match(text)
    if bare:
        digits = bare.group(1).lstrip("-")
        if len(digits) > _MAX_DIGITS:
            note = (f"A number of {len(digits):,} digits is not an error number (they have at most "
                    f"{_MAX_DIGITS} digits).")
            return ErrorReading(whole, Cause.UNKNOWN, (), (), platform, None, None, (note,))
        return _read_number(whole, int(bare.group(1)), platform=platform, running_on=running_on)
    clues: list[_Clue] = []
    readings, said_platform = _number_clues(text, platform, clues)
    by_symbol = _symbol_clues(text, platform, clues)
    readings += by_symbol
    _name_clues(text, clues)
    operation = _operation_of(text)
    port = _port_of(text)
    source = platform or said_platform or (_only_platform(by_symbol) if by_symbol else None)
    cut = (_cut_note(whole),) if len(whole) > SCAN_LIMIT else ()
    if not clues:
        return ErrorReading(whole, Cause.UNKNOWN, (), (), source, operation, port,
                            (_unknown_note(text), *cut))
    best = max(clues, key=lambda clue: clue.strength)
    cause = _refine(best.cause, operation=operation, port=port, platform=source,
                    about_a_file=bool(_FILE_DENIED.search(text)))
    notes = _notes_for(cause, readings, source, ambiguous=False) + cut
    if cause == Cause.PRIVILEGED_PORT and operation is None and port is None:
        notes = (_NO_PORT_NOTE, *notes)
    return ErrorReading(whole, cause, tuple(dict.fromkeys(c.what for c in clues)), _unique(readings),
                        source, operation, port, notes)


_NO_PORT_NOTE = ("The text shows no bind() and no port: 'Permission denied' means a privileged port only on "
                 "a server's bind(). About a file (bash: ./server.py: Permission denied, or Python opening a "
                 "path) it is a file permission instead: python3 server.py, or chmod +x server.py.")

SCAN_LIMIT = 65536
"""Characters of a pasted text that are searched: its first and last ``SCAN_LIMIT // 2``. An error's clues
sit in its first lines (curl, nc) or its last (a traceback); the cap keeps the work linear in the input
whatever it holds (10 MB of adversarial text is read in the time 64 KiB takes)."""


def scan_window(text: str) -> str:
    """The part of ``text`` that is searched for clues: all of it up to ``SCAN_LIMIT`` characters, else
    its head and its tail (joined by a newline, so no clue is made up across the cut)."""
    if len(text) <= SCAN_LIMIT:
        return text
    half = SCAN_LIMIT // 2
    return f"{text[:half]}\n{text[-half:]}"


def _cut_note(text: str) -> str:
    return (f"The text has {len(text):,} characters: only its first and last {SCAN_LIMIT // 2:,} were read "
            "(an error's clues are in its first or last lines).")


_UNKNOWN_NOTE = ("netdiag found no error it knows in this text (no errno, no exception name, no known "
                 "phrase). Paste the last line of the traceback or the error number.")


# Bounded and without ``.*``: ``TCP connect to \(.*\) failed`` backtracked over the rest of the text from
# every "TCP connect to (", quadratic on a text repeating it (1 MB: 26 s).
_TEST_NETCONNECTION = re.compile(r"TcpTestSucceeded\s*:\s*False|TCP connect to \([^()\n]{0,300}\) failed",
                                 re.IGNORECASE)


def _unknown_note(text: str) -> str:
    """Why nothing was recognised: a tool that does not say why, a number that is not a socket error, or no
    clue at all."""
    if _TEST_NETCONNECTION.search(text):
        return ("Test-NetConnection says only that the TCP connection failed, not why: a refusal and a "
                "firewall look the same there. Run netdiag explain HOST:PORT from that machine, or see the "
                "real error in PowerShell: (New-Object Net.Sockets.TcpClient).Connect('HOST', PORT)")
    numbers = [f"WinError {m.group(1)}" for m in _WINERROR.finditer(text)]
    numbers += [f"errno {m.group(1) or m.group(3) or m.group(4)}" for m in _ERRNO.finditer(text)]
    if not numbers:
        return _UNKNOWN_NOTE
    return (f"{', '.join(dict.fromkeys(numbers))} is not a socket or name-resolution error netdiag knows "
            "(see docs/troubleshooting.md for the numbers it does know): read the message itself, or look "
            "the number up in your platform's error list.")


def _read_number(text: str, number: int, *, platform: Platform | None,
                 running_on: Platform | None) -> ErrorReading:
    readings = entries_for_number(number, platform=platform)
    if not readings:
        where = PLATFORM_NAMES[platform] if platform else "Linux, macOS or Windows"
        note = f"{number} is not a socket error number netdiag knows on {where}."
        return ErrorReading(text, Cause.UNKNOWN, (), (), platform, None, None, (note,))
    ordered = sorted(readings, key=lambda e: (_platform_rank(e.platform, running_on), e.kind != "errno"))
    chosen = ordered[0]
    causes = {entry.cause for entry in readings}
    notes = _notes_for(chosen.cause, tuple(ordered), platform, ambiguous=len(causes) > 1)
    clue = f"{chosen.symbol} ({chosen.number} on {PLATFORM_NAMES[chosen.platform]})"
    return ErrorReading(text, chosen.cause, (clue,), tuple(ordered), platform or _only_platform(readings),
                        None, None, notes)


def _platform_rank(platform: Platform, running_on: Platform | None) -> int:
    return -1 if platform == running_on else PLATFORMS.index(platform)


def _only_platform(readings: tuple[ErrnoEntry, ...]) -> Platform | None:
    platforms = {entry.platform for entry in readings}
    return platforms.pop() if len(platforms) == 1 else None


def _number_clues(text: str, platform: Platform | None,
                  clues: list[_Clue]) -> tuple[tuple[ErrnoEntry, ...], Platform | None]:
    """Readings of ``[WinError N]`` / ``[Errno N] message`` / ``errno=N``, and the platform they show."""
    found: list[ErrnoEntry] = []
    said: Platform | None = None
    for match in _WINERROR.finditer(text):
        entries = entries_for_number(int(match.group(1)), platform="windows")
        said = "windows"
        found.extend(entries)
        clues.extend(_Clue(e.cause, 4, f"{e.symbol} (WinError {e.number})") for e in entries)
    gaierror = "gaierror" in text.lower()  # once, not per match: 64 Ki characters times each match
    for match in _ERRNO.finditer(text):
        number = int(match.group(1) or match.group(3) or match.group(4))
        message = (match.group(2) or "").strip().lower()
        kind: ErrorKind | None = "getaddrinfo" if number < 0 or gaierror else None
        entries = entries_for_number(number, platform=platform or said, kind=kind)
        by_message = tuple(e for e in entries if message and message.startswith(e.message.lower()[:20]))
        if by_message:
            entries = by_message
        platforms = {e.platform for e in entries}
        if len(platforms) == 1 and said is None:
            said = entries[0].platform
        found.extend(entries)
        causes = {e.cause for e in entries}
        if len(causes) == 1:
            entry = entries[0]
            clues.append(_Clue(entry.cause, 4, f"{entry.symbol} (errno {number})"))
    return tuple(found), said


def _symbol_clues(text: str, platform: Platform | None, clues: list[_Clue]) -> tuple[ErrnoEntry, ...]:
    found: list[ErrnoEntry] = []
    for match in _SYMBOL.finditer(text):
        entries = tuple(e for e in entries_for_symbol(match.group(1))
                        if platform is None or e.platform == platform)
        if entries:
            found.extend(entries)
            clues.append(_Clue(entries[0].cause, 3, entries[0].symbol))
    for match in _NODE_DNS.finditer(text):
        clues.append(_Clue(Cause.DNS_FAILURE, 3, match.group(1)))
    return tuple(found)


def _name_clues(text: str, clues: list[_Clue]) -> None:
    for name, cause in _EXCEPTION_NAMES:
        if name in text:
            clues.append(_Clue(cause, 2, name))
            break
    lowered = text.lower()
    for pattern, cause in _PHRASES:
        match = re.search(pattern, lowered)
        if match:
            clues.append(_Clue(cause, 1, f"'{match.group(0)}'"))


def _operation_of(text: str) -> Operation | None:
    for pattern, operation in _OPERATIONS:
        if re.search(pattern, text, re.IGNORECASE):
            return operation
    return None


def _port_of(text: str) -> int | None:
    for match in _PORT.finditer(text):
        value = int(next(group for group in match.groups() if group))
        if 0 < value <= 65535:
            return value
    return None


def _refine(cause: Cause, *, operation: Operation | None, port: int | None,
            platform: Platform | None, about_a_file: bool = False) -> Cause:
    """Permission errors mean different things by operation, port and platform (``permission_cause``, the
    rule live errors follow too); about a file (a shell that cannot run a script, a path Python cannot
    open) they are no network matter at all."""
    if cause not in (Cause.PRIVILEGED_PORT, Cause.PORT_RESERVED):
        return cause
    if about_a_file and operation != "bind" and port is None:
        return Cause.FILE_PERMISSION
    return permission_cause(operation, port, windows=platform == "windows")


def _notes_for(cause: Cause, readings: tuple[ErrnoEntry, ...], platform: Platform | None, *,
               ambiguous: bool) -> tuple[str, ...]:
    notes: list[str] = []
    if ambiguous:
        per_platform = "; ".join(f"{PLATFORM_NAMES[e.platform]}: {e.symbol} -> {e.cause.value}"
                                 for e in readings)
        notes.append(f"This number reads differently per platform ({per_platform}). "
                     "Say where it came from with --platform linux|macos|windows.")
    if cause == Cause.TIMEOUT:
        notes.append("A timeout alone cannot tell a firewall that drops packets from a host that is absent: "
                     "both are possible. netdiag explain HOST:PORT can often tell them apart.")
    if cause == Cause.PRIVILEGED_PORT and platform is None:
        notes.append("On Windows the same 'permission denied' on bind means a reserved port range "
                     "(see port-reserved): netsh int ipv4 show excludedportrange protocol=tcp")
    if cause == Cause.FIREWALL_DROP:
        notes.append("'Operation not permitted' / 'Permission denied' on connect or send comes from a rule "
                     "on THIS machine (for example an iptables OUTPUT DROP), not from the server.")
    return tuple(notes)


def _unique(entries: tuple[ErrnoEntry, ...]) -> tuple[ErrnoEntry, ...]:
    return tuple(dict.fromkeys(entries))
