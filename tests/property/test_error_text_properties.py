"""Properties of the pasted-error reader: any text gets a reading (never an exception), and the reading
of a real error line does not depend on what surrounds it (a traceback, blank lines, indentation)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netdiag.core.catalog import Cause
from netdiag.core.error_text import read_error_text

FAST = settings(max_examples=120, deadline=None)

KNOWN_LINES = {
    "ConnectionRefusedError: [Errno 111] Connection refused": Cause.NOTHING_LISTENING,
    "ConnectionResetError: [Errno 104] Connection reset by peer": Cause.CONNECTION_RESET,
    "socket.gaierror: [Errno -2] Name or service not known": Cause.DNS_FAILURE,
    "TimeoutError: timed out": Cause.TIMEOUT,
    "OSError: [Errno 98] Address already in use": Cause.ADDRESS_IN_USE,
    "BrokenPipeError: [Errno 32] Broken pipe": Cause.BROKEN_PIPE,
}

# Traceback frames with neutral names: no errno, symbol, exception name, port or operation word in them.
identifiers = st.from_regex(r"[a-z]{1,3}_[a-z]{1,3}", fullmatch=True)
frames = st.lists(
    st.builds(lambda f, n, fn: f'  File "/home/st/{f}.py", line {n}, in {fn}\n    {fn}()',
              identifiers, st.integers(1, 9999), identifiers),
    max_size=4,
)


@FAST
@given(st.text(max_size=200))
def test_any_text_gets_a_reading(text: str) -> None:
    reading = read_error_text(text)
    assert isinstance(reading.cause, Cause)
    assert reading.recognised == (reading.cause is not Cause.UNKNOWN)
    assert read_error_text(text).cause is reading.cause  # deterministic


@FAST
@given(line=st.sampled_from(sorted(KNOWN_LINES)), frame_lines=frames,
       before=st.sampled_from(["", "\n", "   ", "\n\n  "]), after=st.sampled_from(["", "\n", " \n\n"]))
def test_a_known_line_reads_the_same_inside_a_traceback(line: str, frame_lines: list[str], before: str,
                                                        after: str) -> None:
    pasted = before + "Traceback (most recent call last):\n" + "\n".join(frame_lines) + "\n" + line + after
    assert read_error_text(pasted).cause is KNOWN_LINES[line]
    assert read_error_text(line).cause is KNOWN_LINES[line]
