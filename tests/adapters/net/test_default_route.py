"""Where the default route comes from: /proc on Linux, the command platform.py names elsewhere, run for real
(``printf`` stands in for macOS's ``route`` and Windows' ``route``, printing their output)."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
from core.test_default_route_outputs import MACOS_ROUTE_GET, WINDOWS_ROUTE_PRINT_GERMAN

from netdiag.adapters import platform
from netdiag.adapters.net import interfaces


def test_linux_reads_proc_and_runs_no_command() -> None:
    assert platform.default_route_command() is None
    expected = {line.split()[0] for line in Path("/proc/net/route").read_text().splitlines()[1:]
                if line.split()[1] == "00000000" and line.split()[7] == "00000000"}
    assert expected <= interfaces.default_route_interfaces()


def test_macos_takes_the_interface_route_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "default_route_command", lambda: (("printf", "%s", MACOS_ROUTE_GET),
                                                                    "route-get"))
    assert interfaces.default_route_interfaces() == {"en0"}


def test_windows_maps_the_route_address_to_the_adapter_holding_it(monkeypatch: pytest.MonkeyPatch) -> None:
    name = next(n for n, addrs in psutil.net_if_addrs().items()
                if any(a.address == "127.0.0.1" for a in addrs))
    output = WINDOWS_ROUTE_PRINT_GERMAN.replace("192.0.2.130", "127.0.0.1 ")
    monkeypatch.setattr(platform, "default_route_command", lambda: (("printf", "%s", output), "route-print"))
    assert interfaces.default_route_interfaces() == {name}


def test_a_failing_route_command_means_no_default_route(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "default_route_command", lambda: (("false",), "route-get"))
    assert interfaces.default_route_interfaces() == set()
