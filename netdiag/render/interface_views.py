"""How ``netdiag interfaces`` looks: a table of addresses, then the lab's question answered in words."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from netdiag.core.interfaces import Interface, ReachAdvice
from netdiag.render.records import render_records, to_json

ADDRESS_FIELDS = ("interface", "state", "mtu", "speed_mbps", "loopback", "family", "address", "netmask",
                  "prefix_length")
TABLE_COLUMNS = ("interface", "state", "mtu", "speed", "family", "address", "prefix", "note")
TABLE_HEADERS = ("Interface", "State", "MTU", "Speed", "Family", "Address", "Prefix", "")


def interface_record(interface: Interface) -> dict[str, Any]:
    return {
        "name": interface.name, "up": interface.up, "mtu": interface.mtu, "speed_mbps": interface.speed_mbps,
        "loopback": interface.loopback, "default_route": interface.default_route, "mac": interface.mac,
        "addresses": [{"family": a.family, "address": a.address, "netmask": a.netmask,
                       "prefix_length": a.prefix_length} for a in interface.addresses],
    }


def advice_record(advice: ReachAdvice) -> dict[str, Any]:
    return {
        "address": advice.address, "interface": advice.interface, "reason": advice.reason,
        "other_addresses": [{"address": a, "interface": i} for a, i in advice.others],
        "bind_meanings": [{"bind": bind, "meaning": meaning} for bind, meaning in advice.bind_meanings()],
    }


def address_records(interfaces: Sequence[Interface]) -> list[dict[str, Any]]:
    """One flat record per address (an interface without addresses still gets one line)."""
    records = []
    for interface in interfaces:
        base = {"interface": interface.name, "state": "up" if interface.up else "down", "mtu": interface.mtu,
                "speed_mbps": interface.speed_mbps, "loopback": interface.loopback}
        for address in interface.addresses or (None,):
            records.append({**base, "family": address.family if address else None,
                            "address": address.address if address else None,
                            "netmask": address.netmask if address else None,
                            "prefix_length": address.prefix_length if address else None})
    return records


def render_interfaces(interfaces: Sequence[Interface], advice: ReachAdvice, fmt: str) -> str:
    if fmt == "json":
        return to_json({"interfaces": [interface_record(i) for i in interfaces],
                        "reach": advice_record(advice)})
    records = address_records(interfaces)
    if fmt == "csv":
        return render_records(records, "csv", ADDRESS_FIELDS)
    notes = {i.name: _note(i, advice) for i in interfaces}
    table = render_records(
        [{**r, "speed": f"{r['speed_mbps']} Mb/s" if r["speed_mbps"] else None,
          "prefix": f"/{r['prefix_length']}" if r["prefix_length"] is not None else None,
          "note": notes[r["interface"]] if r["address"] in (None, advice.address) or "loopback" in
          notes[r["interface"]] else ""} for r in records],
        "table", TABLE_COLUMNS, TABLE_HEADERS,
    )
    return f"{table}\n\n" + "\n".join(advice_lines(advice))


def _note(interface: Interface, advice: ReachAdvice) -> str:
    if interface.loopback:
        return "loopback: this machine only"
    if interface.name == advice.interface:
        return "<- classmates use this" + (" (default route)" if interface.default_route else "")
    return "default route" if interface.default_route else ""


def advice_lines(advice: ReachAdvice, text_width: int = 100) -> list[str]:
    """The plain-words answer printed under the table."""
    lines = ["Which address should a classmate's machine use to reach this one?"]
    if advice.address is None:
        lines.append(f"  None yet: {advice.reason}")
    else:
        lines.append(f"  {advice.address}  ({advice.reason}).")
        lines.append(f"  From a machine on the same network: netdiag connect {_host(advice.address)}:PORT")
        if advice.others:
            others = ", ".join(f"{address} ({name})" for address, name in advice.others)
            lines.append(f"  Other addresses that may work, depending on the network: {others}.")
    lines.append("")
    lines.append("What a server's bind address means:")
    width = max(len(bind) for bind, _ in advice.bind_meanings())
    indent = " " * (width + 4)
    for bind, meaning in advice.bind_meanings():
        lines.extend(textwrap.wrap(f"  {bind:<{width}}  {meaning}", text_width, subsequent_indent=indent))
    return lines


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address
