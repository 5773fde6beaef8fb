"""Exit codes shared by every command, so scripts can tell *why* netdiag stopped."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """The process exit codes, documented in docs/ and in ``netdiag --help``.

    ``NETWORK_SAID_NO`` covers every answer from the network that is not success (refused, timed out,
    filtered, reset, name not resolved): the command itself worked, the connection did not.
    """

    OK = 0
    NETWORK_SAID_NO = 1
    USAGE = 2
    NO_PRIVILEGES = 3
    DAMAGED_INPUT = 4
    INTERRUPTED = 130

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS: dict[ExitStatus, str] = {
    ExitStatus.OK: "success (every target open, every message answered)",
    ExitStatus.NETWORK_SAID_NO: "the network said no: refused, timed out, filtered, reset, not resolved",
    ExitStatus.USAGE: "usage error: bad option, bad target, bad address",
    ExitStatus.NO_PRIVILEGES: "missing privileges (capture, privileged port, firewall reading)",
    ExitStatus.DAMAGED_INPUT: "the input file is damaged or cut short: the result covers what came before",
    ExitStatus.INTERRUPTED: "interrupted (Ctrl-C)",
}
