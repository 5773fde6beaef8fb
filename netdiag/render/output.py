"""One object that knows where text goes: data to stdout, everything else to stderr, colour only on terminals.

Decided once per process (explicit flag, then ``NO_COLOR`` / ``FORCE_COLOR``, then ``isatty``), so every
command renders the same way and nothing writes escape codes into a pipe.

The encoding is decided once too (``prepare_streams``): writing can never fail, whatever stdout's
encoding (``PYTHONIOENCODING=ascii``, a Windows code page, a redirect in a latin-1 locale). On a UTF-8
stdout nothing changes. On any other, netdiag writes ASCII, and each other character as the JSON escape
``\\uXXXX`` (``é`` as ``\\u00e9``, ``😀`` as ``\\ud83d\\ude00``): a person reads the code point instead of
mojibake, and JSON output, which only ever holds non-ASCII inside strings, stays valid UTF-8 JSON that
decodes to the exact text. Text and JSON share stdout, so one rule serves both.
"""

from __future__ import annotations

import codecs
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # the catalog is data for errors: `netdiag --help` need not load it
    from netdiag.core.catalog import Explanation

_STYLES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
}


def _is_terminal(stream: TextIO | None) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def colour_wanted(stream: TextIO, *, no_color_flag: bool = False,
                  shows_colour: Callable[[int], bool] | None = None) -> bool:
    """Colour on a terminal only; ``--no-color`` and ``NO_COLOR`` win, ``FORCE_COLOR`` forces it.

    ``shows_colour(fileno)`` says whether the terminal draws escape codes (the platform module's
    ``terminal_shows_colour``: a Windows console needs switching on); asked only for a terminal."""
    if no_color_flag or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if not _is_terminal(stream) or os.environ.get("TERM") == "dumb":
        return False
    if shows_colour is None:
        return True
    try:
        fileno = stream.fileno()
    except (OSError, ValueError):  # a terminal-like object without a descriptor (io.UnsupportedOperation)
        fileno = -1
    return shows_colour(fileno)


ESCAPE_ERRORS = "netdiag-escape"
"""The codec error handler of stdout and stderr: what the encoding cannot carry, as ``\\uXXXX``."""


def escape_unencodable(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: each character the encoding cannot carry as a JSON ``\\uXXXX`` escape."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(map(json_escape, error.object[error.start : error.end])), error.end


def json_escape(char: str) -> str:
    """``char`` as a JSON string escape: ``\\u00e9``; beyond U+FFFF a surrogate pair, as JSON spells it."""
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # beyond the BMP: a UTF-16 surrogate pair, as JSON writes it
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def prepare_streams() -> None:
    """Make writing to stdout and stderr unable to fail on a character (see the module); once per process.

    stdin keeps its encoding but shows undecodable bytes as ``\\xNN`` (``explain --error -``).
    """
    codecs.register_error(ESCAPE_ERRORS, escape_unencodable)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:  # closed (None), or replaced by something that is not a TextIOWrapper
            continue
        utf8 = codecs.lookup(stream.encoding).name == "utf-8"
        reconfigure(encoding=None if utf8 else "ascii", errors=ESCAPE_ERRORS)
    reconfigure = getattr(sys.stdin, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")


@dataclass
class Output:
    """Writes data to ``out`` (stdout) and messages to ``err`` (stderr), styled only when wanted."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    no_color: bool = False
    shows_colour: Callable[[int], bool] | None = None
    """Whether a terminal draws colour codes (given by the CLI: ``platform.terminal_shows_colour``)."""

    def __post_init__(self) -> None:
        self.out_colour = colour_wanted(self.out, no_color_flag=self.no_color, shows_colour=self.shows_colour)
        self.err_colour = colour_wanted(self.err, no_color_flag=self.no_color, shows_colour=self.shows_colour)

    @property
    def interactive(self) -> bool:
        """True when a person watches stderr: progress bars and live views are allowed."""
        return _is_terminal(self.err)

    @property
    def data_to_terminal(self) -> bool:
        """True when stdout is a terminal: tables for a person; otherwise a program may be reading."""
        return _is_terminal(self.out)

    def can_prompt(self, stdin: TextIO | None = None) -> bool:
        """True when a person can answer a prompt: stdin and stderr are both terminals."""
        return _is_terminal(stdin if stdin is not None else sys.stdin) and self.interactive

    def style(self, text: str, *styles: str, stream: str = "out") -> str:
        enabled = self.out_colour if stream == "out" else self.err_colour
        if not enabled or not styles:
            return text
        codes = ";".join(_STYLES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def data(self, text: str = "", end: str = "\n") -> None:
        """A line of the command's result (stdout); ``end=""`` for a piece of a line (a long reply)."""
        print(text, file=self.out, flush=True, end=end)

    def info(self, text: str = "") -> None:
        """A message for the person, not part of the data (stderr)."""
        print(text, file=self.err, flush=True)

    def warn(self, text: str) -> None:
        print(self.style("warning: ", "yellow", "bold", stream="err") + text, file=self.err, flush=True)

    def error(self, text: str) -> None:
        print(self.style("error: ", "red", "bold", stream="err") + text, file=self.err, flush=True)

    def explanation(self, explanation: Explanation, *, stream: str = "err") -> None:
        """Print a catalog entry: what it means, likely causes, numbered fixes."""
        from netdiag.render.explanation import format_explanation  # the checklist's module: loaded on errors

        write = self.info if stream == "err" else self.data
        for line in format_explanation(explanation):
            write(line)

