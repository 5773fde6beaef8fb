"""`netdiag interfaces`: the interfaces of this machine and the address others should use to reach it.

Only typer and cheap modules load with the CLI; psutil and the renderer are imported inside the command.
"""

from __future__ import annotations

import typer

from netdiag.cli.common import FormatOption, OutputFormat, examples, output
from netdiag.cli.plain_coercion import PlainCoercionCommand

HELP = """List network interfaces and the address others should use to reach this machine.

For each interface: up or down, MTU, link speed, IPv4 and IPv6 addresses with their prefix (netmask);
loopback is marked. Then the lab's question in plain words: which address a classmate's machine should
use to reach this one (the interface of the default route first; loopback, link-local and bridges of
containers never), and what a server bound to 127.0.0.1, to 0.0.0.0 and to that address accepts.

Exit codes: 0 ok, 2 usage error.
"""

EPILOG = examples(
    "netdiag interfaces",
    "netdiag interfaces --format json | jq -r .reach.address  # the address to give a classmate",
    "netdiag interfaces --format csv",
)


def register(app: typer.Typer) -> None:
    app.command(name="interfaces", help=HELP, epilog=EPILOG, cls=PlainCoercionCommand)(interfaces_command)


def interfaces_command(fmt: FormatOption = OutputFormat.table) -> None:
    from netdiag.adapters.net.interfaces import list_interfaces
    from netdiag.core.interfaces import choose_address_for_others
    from netdiag.render.interface_views import render_interfaces

    interfaces = list_interfaces()
    output().data(render_interfaces(interfaces, choose_address_for_others(interfaces), fmt.value))
