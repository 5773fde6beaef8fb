"""How ``netdiag doctor`` looks: versions first, then one line per capability with yes/no and why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netdiag.render.records import to_json


@dataclass(frozen=True)
class DoctorReport:
    """What a bug report needs: netdiag's and Python's versions, the platform, dependencies, features."""

    netdiag: str
    python: str
    platform: str
    os_name: str
    dependencies: Mapping[str, str | None]
    capabilities: Sequence[Any]  # netdiag.adapters.doctor.Capability (render does not import adapters)


def doctor_record(report: DoctorReport) -> dict[str, Any]:
    return {
        "netdiag": report.netdiag, "python": report.python, "platform": report.platform,
        "os": report.os_name, "dependencies": dict(report.dependencies),
        "capabilities": [{"name": c.name, "available": c.available, "detail": c.detail}
                         for c in report.capabilities],
    }


def render_doctor(report: DoctorReport, fmt: str) -> str:
    if fmt == "json":
        return to_json(doctor_record(report))
    lines = [f"netdiag {report.netdiag}", f"Python {report.python}", f"Platform {report.platform}", "",
             "Dependencies:"]
    width = max(len(name) for name in report.dependencies)
    lines += [f"  {name:<{width}}  {version or 'not installed'}"
              for name, version in report.dependencies.items()]
    lines += ["", "What works here:"]
    width = max(len(c.name) for c in report.capabilities)
    lines += [f"  {c.name:<{width}}  {'yes' if c.available else 'no '}  {c.detail}"
              for c in report.capabilities]
    return "\n".join(lines)
