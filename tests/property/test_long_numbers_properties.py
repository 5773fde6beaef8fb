"""Numbers longer than Python's 4,300-digit limit for ``int()`` (and any other digit run) reach every parser
that turns text into a number: each must refuse them with a ``UsageError`` or read them as "not
recognised", never raise ``ValueError`` (a traceback for the user)."""

from __future__ import annotations

import math
from typing import Annotated

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from netdiag.cli.plain_coercion import PlainCoercionCommand
from netdiag.core.catalog import Cause
from netdiag.core.error_text import read_error_text
from netdiag.core.failures import UsageError
from netdiag.core.targets import (
    parse_endpoint,
    parse_listen_address,
    parse_port,
    parse_port_spec,
    parse_probe_target,
)

FAST = settings(max_examples=60, deadline=None)

# Past 4,300 digits int() raises ValueError; the runs start at 4,290 to cover the edge from both sides.
long_digits = st.builds(lambda lead, n, fill: lead + fill * n, st.sampled_from("123456789"),
                        st.integers(4290, 12000), st.sampled_from("0123456789"))
any_digits = st.one_of(long_digits, st.text(alphabet="0123456789", min_size=1, max_size=40))


@FAST
@given(digits=long_digits)
def test_a_port_of_thousands_of_digits_is_a_usage_error(digits: str) -> None:
    for parse in (lambda: parse_port(digits), lambda: parse_endpoint(f"127.0.0.1:{digits}"),
                  lambda: parse_listen_address(digits), lambda: parse_listen_address(f"[::1]:{digits}"),
                  lambda: parse_port_spec(f"1-{digits}"), lambda: parse_port_spec(f"{digits}-"),
                  lambda: parse_probe_target(f"localhost:80,{digits}")):
        with pytest.raises(UsageError, match="out of range"):
            parse()


@FAST
@given(digits=any_digits)
def test_any_digit_run_as_port_is_parsed_or_refused(digits: str) -> None:
    try:
        port = parse_port(digits)
    except UsageError:
        return
    assert 1 <= port <= 65535


@FAST
@given(digits=any_digits, sign=st.sampled_from(["", "-"]),
       form=st.sampled_from(["{}", " {} ", "[Errno {}] Connection refused", "OSError: [WinError {}] x",
                             "errno={}", "errno: {}", "curl: (7) errno {} port {}", "x [Errno {}]",
                             "connect to ('127.0.0.1', {}) failed"]))
def test_any_error_number_is_read_or_not_recognised(digits: str, sign: str, form: str) -> None:
    text = form.format(sign + digits, sign + digits)
    reading = read_error_text(text)
    if len(digits.lstrip("0")) > 10:
        assert reading.cause is Cause.UNKNOWN or reading.clues  # a long number is never read as a number
        assert all(digits not in clue for clue in reading.clues)


def _coercion_app() -> typer.Typer:
    """A command with the option kinds netdiag's commands use, coerced by PlainCoercionCommand."""
    app = typer.Typer()

    def command(
        count: Annotated[int | None, typer.Option("--count", min=1)] = None,
        port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 0,
        timeout: Annotated[float, typer.Option("--timeout", min=0.01, max=86400)] = 5.0,
        rate: Annotated[float | None, typer.Option("--rate")] = None,
    ) -> None:
        print(count, port, timeout, rate)

    app.command(cls=PlainCoercionCommand)(command)
    return app


numbers = st.one_of(
    long_digits, long_digits.map(lambda d: "-" + d), long_digits.map(lambda d: d + ".5"),
    long_digits.map(lambda d: "1e" + d), st.sampled_from(["nan", "inf", "-inf", "NaN", "1e999", "1e300"]),
    st.text(alphabet="0123456789.e-+", min_size=1, max_size=30),
)


@FAST
@given(option=st.sampled_from(["--count", "--port", "--timeout", "--rate"]), value=numbers)
def test_option_values_are_coerced_or_refused_never_raised(option: str, value: str) -> None:
    result = CliRunner().invoke(_coercion_app(), [option, value])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert len(result.output) < 2000  # a message, not the 5,000-digit number quoted back
    if result.exit_code == 0:
        shown = result.output.split()
        assert all(word in ("None",) or math.isfinite(float(word)) for word in shown)
