"""``netdiag explain`` as text and as data: the checklist and verdict, and the reading of a pasted error.

Pure: data in, lines or records out. Colour comes in as a ``style`` function (``Output.style``), so the
same code draws plain text for pipes and tests and coloured text on a terminal. The JSON records use the
documented keys of docs/explain.md.
"""

from __future__ import annotations

from typing import Any

from netdiag.core.catalog import Cause, Explanation, explanation_for, fill_examples
from netdiag.core.errno_tables import PLATFORM_NAMES
from netdiag.core.error_text import ErrorReading
from netdiag.core.observations import Diagnosis, Observations, StepStatus
from netdiag.core.targets import format_endpoint
from netdiag.render.style import Style, no_style

MARKS: dict[StepStatus, tuple[str, tuple[str, ...]]] = {
    StepStatus.OK: ("[ ok ]", ("green",)),
    StepStatus.WARNING: ("[warn]", ("yellow",)),
    StepStatus.FAILED: ("[FAIL]", ("red", "bold")),
    StepStatus.SKIPPED: ("[skip]", ("dim",)),
}
STEP_TITLES = {
    "resolve": "name",
    "route": "route",
    "listeners": "listeners",
    "connect": "connect",
    "firewall": "firewall",
    "os-firewall": "OS firewall",
}


def checklist_lines(obs: Observations, diagnosis: Diagnosis, *, style: Style = no_style) -> list[str]:
    """The checklist, one line per step (facts indented below), then the verdict and numbered fixes."""
    target = format_endpoint(obs.host, obs.port)
    lines = [style(f"Checking {target} ({obs.proto.value})", "bold"), ""]
    width = max(len(title) for title in STEP_TITLES.values())
    for step in diagnosis.steps:
        mark, colours = MARKS[step.status]
        title = STEP_TITLES.get(step.name, step.name).ljust(width)
        lines.append(f"  {style(mark, *colours)} {title}  {step.summary}")
        lines.extend(f"  {' ' * len(mark)} {' ' * width}    {detail}" for detail in step.details)
    lines.append("")
    lines.extend(verdict_lines(diagnosis, style=style))
    return lines


def verdict_lines(diagnosis: Diagnosis, *, style: Style = no_style) -> list[str]:
    entry = explanation_for(diagnosis.cause)
    colour = ("green", "bold") if diagnosis.ok else ("red", "bold")
    lines = [style(f"Verdict: {diagnosis.title or entry.title}  [cause: {diagnosis.cause.value}]", *colour)]
    lines.extend(f"  {reason}" for reason in diagnosis.reasons)
    if not diagnosis.ok:
        lines.append(f"  What it means: {entry.meaning}")
    if diagnosis.fixes:
        lines.append("  How to fix it:")
        lines.extend(f"    {n}. {fix}" for n, fix in enumerate(diagnosis.fixes, start=1))
    return lines


def diagnosis_record(obs: Observations, diagnosis: Diagnosis) -> dict[str, Any]:
    """``netdiag explain TARGET --format json``."""
    entry = explanation_for(diagnosis.cause)
    return {
        "target": format_endpoint(obs.host, obs.port),
        "host": obs.host,
        "port": obs.port,
        "proto": obs.proto.value,
        "addresses": list(obs.addresses),
        "cause": diagnosis.cause.value,
        "ok": diagnosis.ok,
        "title": diagnosis.title or entry.title,
        "verdict": diagnosis.verdict,
        "reasons": list(diagnosis.reasons),
        "meaning": diagnosis.meaning or entry.meaning,
        "fixes": list(diagnosis.fixes),
        "steps": [{"name": s.name, "status": s.status.value, "summary": s.summary, "details": list(s.details)}
                  for s in diagnosis.steps],
        "attempts": [{"address": a.address, "state": a.state.value, "reason": a.reason.value,
                      "rtt_ms": a.rtt_ms, "errno": a.errno, "icmp_from": a.icmp_from,
                      "method": a.method.value}
                     for a in obs.attempts],
    }


def error_reading_lines(reading: ErrorReading, *, style: Style = no_style) -> list[str]:
    """``explain --error TEXT`` as text: the cause, each platform's reading, meaning, causes, fixes."""
    entry = explanation_for(reading.cause, port=reading.port)
    colour = ("yellow", "bold") if reading.cause == Cause.UNKNOWN else ("red", "bold")
    lines = [style(f"{entry.title}  [cause: {reading.cause.value}]", *colour)]
    if reading.clues:
        lines.append(f"  Recognised: {', '.join(reading.clues)}")
    if reading.platform is not None:
        lines.append(f"  From: {PLATFORM_NAMES[reading.platform]}")
    if reading.readings:
        lines.append("  Error numbers:")
        lines.extend(f"    {PLATFORM_NAMES[e.platform]:8} {e.number:>6}  {e.symbol:18} {e.message}"
                     + (f"  -> {e.cause.value}" if e.cause != reading.cause else "")
                     for e in reading.readings)
    lines.extend(format_explanation(entry))
    lines.extend(f"  Note: {note}" for note in reading.notes)
    return lines


def error_reading_record(reading: ErrorReading) -> dict[str, Any]:
    """``netdiag explain --error TEXT --format json``."""
    entry = explanation_for(reading.cause, port=reading.port)
    return {
        "input": reading.text,
        "cause": reading.cause.value,
        "recognised": reading.recognised,
        "title": entry.title,
        "meaning": entry.meaning,
        "likely_causes": [fill_examples(cause) for cause in entry.likely_causes],
        "fixes": [fill_examples(fix) for fix in entry.fixes],
        "clues": list(reading.clues),
        "platform": reading.platform,
        "operation": reading.operation,
        "port": reading.port,
        "readings": [{"platform": e.platform, "kind": e.kind, "number": e.number, "symbol": e.symbol,
                      "message": e.message, "cause": e.cause.value} for e in reading.readings],
        "notes": list(reading.notes),
    }


def format_explanation(explanation: Explanation) -> list[str]:
    """The plain-text form of an explanation, shared by every command and the docs.

    Placeholders the command could not fill (no target known) become example values said to be examples.
    """
    lines = [f"  What it means: {fill_examples(explanation.meaning)}"]
    if explanation.likely_causes:
        lines.append("  Likely causes:")
        lines.extend(f"    - {fill_examples(cause)}" for cause in explanation.likely_causes)
    if explanation.fixes:
        lines.append("  How to fix it:")
        lines.extend(f"    {n}. {fill_examples(fix)}" for n, fix in enumerate(explanation.fixes, start=1))
    return lines
