"""``netdiag probe`` as data and text: one record per result, the table (or JSON/CSV), and the causes
explained under it.

Pure: results in, records and lines out; colour comes in as a ``style`` function (``Output.style``).
Nothing heavy at import: the table is ``plain_table`` (tabulate's layout without its 40 ms import), and
JSON/CSV load ``records`` only when asked (tests/cli/test_probe.py checks what a probe imports).
"""

from __future__ import annotations

from collections.abc import Sequence

from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.probe import ProbeMethod, ProbeResult, probe_cause
from netdiag.render.style import Style, no_style

TABLE_COLUMNS = ("host", "address", "port", "service", "proto", "state", "reason", "rtt_ms")
STATE_STYLES = {"open": ("green",), "closed": ("red",), "filtered": ("yellow",),
                "open|filtered": ("yellow",), "unreachable": ("magenta",), "error": ("red", "bold")}


def probe_record(result: ProbeResult, *, explain: bool = False, service: str | None = None,
                 ) -> dict[str, object]:
    """The documented JSON object for one result (``cause`` and ``explanation`` with ``explain``);
    ``service`` is the port's name in the services database (/etc/services), when it has one."""
    record: dict[str, object] = {
        "host": result.host,
        "address": result.address,
        "port": result.port,
        "service": service,
        "proto": result.proto.value,
        "state": result.state.value,
        "reason": result.reason.value,
        "rtt_ms": result.rtt_ms,
        "method": result.method.value,
        "detail": result.detail,
    }
    if explain:
        cause = probe_cause(result)
        entry = explanation_for(cause)
        record["cause"] = cause.value
        record["explanation"] = {
            "title": entry.title,
            "meaning": entry.meaning,
            "likely_causes": list(entry.likely_causes),
            "fixes": list(entry.fixes),
        }
    return record


def probe_results_text(results: Sequence[ProbeResult], *, fmt: str, explain: bool,
                       services: dict[int, str], style: Style = no_style) -> str | None:
    """The results as ``fmt`` (table, json, csv); None for an empty table (nothing is printed then).

    The table's state is coloured by ``style``; with ``explain`` it gains a cause column (JSON has the
    whole explanation in each record instead)."""
    records = [probe_record(r, explain=explain, service=services.get(r.port)) for r in results]
    columns = list(TABLE_COLUMNS)
    if explain and fmt != "json":
        columns.append("cause")
    if fmt != "table":
        from netdiag.render.records import render_records

        return render_records(records, fmt, columns)
    if not records:
        return None
    from netdiag.render.plain_table import plain_table

    for record in records:
        record["state"] = style(str(record["state"]), *STATE_STYLES.get(str(record["state"]), ()))
    rows = [["-" if record.get(c) is None else record[c] for c in columns] for record in records]
    return plain_table(rows, [c.upper() for c in columns])


def cause_lines(results: Sequence[ProbeResult]) -> list[str]:
    """``--explain`` after the table (stderr): each distinct cause once, with an example result, what it
    means and how to fix it."""
    from netdiag.render.explanation import format_explanation  # only with --explain

    lines: list[str] = []
    seen: list[Cause] = []
    for result in results:
        cause = probe_cause(result)
        if cause == Cause.OK or cause in seen:
            continue
        seen.append(cause)
        entry = explanation_for(cause)
        lines.append(f"\n{cause.value}: {entry.title} "
                     f"(e.g. {result.host}:{result.port} {result.state.value}/{result.reason.value})")
        if result.detail is not None and result.method == ProbeMethod.SOCKET_TABLE:
            said = result.detail.split(" (read")[0]
            lines.append(f"  Read from this host's socket table, nothing sent: {said}.")
        lines.extend(format_explanation(entry))
    return lines
