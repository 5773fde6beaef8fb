"""``--web [HOST:PORT]`` for the watch commands: serve the lecture page next to the terminal view.

``--web`` alone serves on 127.0.0.1 and a free port; ``--web HOST:PORT`` chooses. click has no option
whose value may be left out, so ``WebOptionCommand`` fills in the default value when ``--web`` is not
followed by something that looks like HOST:PORT. The web server (``netdiag.adapters.web.server``, run in
a process of its own by ``netdiag.adapters.web.process``) and the page renderer are imported only with
``--web``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from netdiag.cli.common import output
from netdiag.cli.plain_coercion import PlainCoercionCommand
from netdiag.cli.typer_shim import Context
from netdiag.core.failures import NetworkFailure, UsageError
from netdiag.core.targets import parse_endpoint

if TYPE_CHECKING:
    from netdiag.adapters.web.process import LectureProcess

DEFAULT_WEB = "127.0.0.1:0"
_ADDRESS = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+|)?:\d+$")
_WILDCARDS = ("0.0.0.0", "::", "[::]")

WebOption = Annotated[str | None, typer.Option(
    "--web", metavar="[HOST:PORT]",
    help="Also serve the live lecture page (default 127.0.0.1 and a free port; the URL goes to stderr).")]


class WebOptionCommand(PlainCoercionCommand):
    """A command whose ``--web`` may be given without a value (then it means 127.0.0.1, a free port)."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        filled: list[str] = []
        for index, arg in enumerate(args):
            filled.append(arg)
            if arg == "--web":
                following = args[index + 1] if index + 1 < len(args) else None
                if following is None or not _ADDRESS.match(following):
                    filled.append(DEFAULT_WEB)
        return super().parse_args(ctx, filled)


def _host_port(address: str) -> tuple[str, int]:
    if address.startswith(":"):
        address = "127.0.0.1" + address
    endpoint = parse_endpoint(address, allow_zero_port=True)
    return endpoint.host, endpoint.port


@contextlib.contextmanager
def lecture_server(address: str | None, encode: Callable[[Any], str]) -> Iterator[LectureProcess | None]:
    """The running lecture server for ``--web address`` (None without ``--web``), closed on exit."""
    if address is None:
        yield None
        return
    try:
        host, port = _host_port(address)
    except (UsageError, ValueError) as exc:
        raise UsageError(f"--web takes HOST:PORT (for example 127.0.0.1:8080 or 0.0.0.0:8080), "
                         f"not {address!r}.") from exc
    from netdiag.adapters.web.process import LectureProcess
    from netdiag.core.causes import Cause
    from netdiag.render.lecture import lecture_page

    server = LectureProcess(lecture_page(), encode, host=host, port=port)
    try:
        server.start()
    except NetworkFailure as failure:
        if failure.cause is not Cause.ADDRESS_IN_USE:
            raise
        raise NetworkFailure(f"{failure.message} Leave the port out (--web alone picks a free one) or "
                             "choose another.", explanation=failure.explanation, port=port) from failure
    out = output()
    try:
        if host in _WILDCARDS:
            out.warn(f"the lecture page is served on every interface ({address}): anyone who can reach "
                     "this machine can read the captured connections (read-only). Open it at:")
            for url in _reachable_urls(server):
                out.info(f"  {url}")
        else:
            out.info(f"Lecture page: {server.url()}  (open it in a browser; read-only)")
        yield server
    finally:
        server.close()


def _reachable_urls(server: LectureProcess) -> list[str]:
    from netdiag.adapters.net.interfaces import list_interfaces

    urls = []
    for interface in list_interfaces():
        if not interface.up:
            continue
        for ip in interface.addresses:
            if ip.family == "ipv4" or (server.host == "::" and not ip.address.startswith("fe80")):
                urls.append(f"{server.url(ip.address)}  ({interface.name})")
    return urls or [server.url()]
