"""Routes and neighbours, read for real: on loopback here, and inside the test's own namespaces."""

from __future__ import annotations

import json
import sys

import pytest
from helpers.netns import CLIENT_ADDR, SERVER_ADDR, Namespace, TwoHosts
from helpers.scenarios import ABSENT_HOST, UNROUTED_HOST

from netdiag.adapters.net.route import local_addresses, route_to

_PROBE = """
import json, socket, sys
from netdiag.adapters.net.route import neighbour_answered, route_to
target = sys.argv[1]
if sys.argv[2] == "poke":  # one SYN, so the kernel resolves the neighbour (or fails to)
    s = socket.socket(); s.settimeout(float(sys.argv[3]))
    try:
        s.connect((target, 9))
    except OSError:
        pass
route = route_to(target)
print(json.dumps({"source": route.source_address, "interface": route.interface, "error": route.error,
                  "neighbour": neighbour_answered(target)}))
"""


def _in(ns: Namespace, target: str, *, poke: float = 0.0) -> dict[str, object]:
    done = ns.run(sys.executable, "-c", _PROBE, target, "poke" if poke else "-", str(poke), timeout=30)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_loopback_route_is_lo_from_loopback() -> None:
    route = route_to("127.0.0.1")
    assert (route.source_address, route.error) == ("127.0.0.1", None)
    assert route.interface is not None
    assert "127.0.0.1" in local_addresses()


@pytest.mark.root
def test_routes_and_neighbours_in_namespaces(net: TwoHosts) -> None:
    to_server = _in(net.client, SERVER_ADDR, poke=1.0)
    assert to_server["source"] == CLIENT_ADDR and str(to_server["interface"]).endswith("vc")
    assert to_server["neighbour"] is True  # it answered ARP for the SYN

    unrouted = _in(net.client, UNROUTED_HOST)
    assert unrouted["source"] is None and "unreachable" in str(unrouted["error"]).lower()


@pytest.mark.root
def test_an_absent_neighbour_is_not_reported_as_present(net: TwoHosts) -> None:
    absent = _in(net.client, ABSENT_HOST, poke=0.3)
    assert absent["neighbour"] is not True
