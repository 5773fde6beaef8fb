"""`netdiag doctor`: versions, platform and what works here, the first thing a bug report needs.

It asks ``netdiag.adapters.platform`` (the one module that knows what this platform can do); nothing is
sent on the network and nothing is changed.
"""

from __future__ import annotations

import typer

from netdiag.cli.common import ReportFormat, ReportFormatOption, examples, output
from netdiag.cli.plain_coercion import PlainCoercionCommand

HELP = """Show netdiag's version, Python, the platform, dependency versions and what works here.

What works here: the kernel socket table (netlink), the fast scanner (epoll), parallel workers (fork),
packet capture (root or CAP_NET_RAW; BPF on macOS; Npcap on Windows), signal handling, the open-files
limit, whether the firewall can be read, and uvloop. Each line says why, or what to do.
Paste its output into a bug report. Nothing is sent on the network.

Exit codes: 0 ok, 2 usage error.
"""

EPILOG = examples(
    "netdiag doctor",
    "netdiag doctor --format json",
)


def register(app: typer.Typer) -> None:
    app.command(name="doctor", help=HELP, epilog=EPILOG, cls=PlainCoercionCommand)(doctor_command)


def doctor_command(fmt: ReportFormatOption = ReportFormat.text) -> None:
    import platform as stdlib_platform

    from netdiag import __version__
    from netdiag.adapters.doctor import capabilities, dependency_versions
    from netdiag.adapters.platform import os_name
    from netdiag.render.doctor_view import DoctorReport, render_doctor

    report = DoctorReport(
        netdiag=__version__, python=stdlib_platform.python_version(), platform=stdlib_platform.platform(),
        os_name=os_name(), dependencies=dependency_versions(), capabilities=capabilities(),
    )
    output().data(render_doctor(report, fmt.value))
