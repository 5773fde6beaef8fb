"""The kernel's listener matching, applied to a socket table without connecting (core.socket_table)."""

from __future__ import annotations

import pytest

from netdiag.core.probe import PortState, Reason
from netdiag.core.socket_table import Listener, serves, table_outcome

ANY4 = Listener(4, "0.0.0.0", 8000)
LOOP4 = Listener(4, "127.0.0.1", 8000)
DUAL = Listener(6, "::", 8000, v6only=False)
V6ONLY = Listener(6, "::", 8000, v6only=True)
MAPPED = Listener(6, "::ffff:127.0.0.1", 8000, v6only=False)


@pytest.mark.parametrize(
    ("listener", "address", "expected"),
    [
        (ANY4, "198.18.0.2", True),  # 0.0.0.0 takes every IPv4 address
        (ANY4, "::1", False),  # ... and no IPv6 one
        (LOOP4, "127.0.0.1", True),
        (LOOP4, "198.18.0.2", False),  # bound to loopback: another address of this host is refused
        (LOOP4, "127.0.0.2", False),  # 127.0.0.0/8 is loopback, but the bound address is one of them
        (LOOP4, "0.0.0.0", True),  # a connect to 0.0.0.0 goes to 127.0.0.1
        (DUAL, "::1", True),
        (DUAL, "127.0.0.1", True),  # :: without IPV6_V6ONLY takes IPv4 too
        (V6ONLY, "127.0.0.1", False),
        (V6ONLY, "::1", True),
        (Listener(6, "::", 8000), "127.0.0.1", True),  # v6only unknown (psutil): Linux's default is dual
        (MAPPED, "127.0.0.1", True),
        (Listener(6, "::1", 8000), "127.0.0.1", False),
        (Listener(6, "fe80::1", 8000), "fe80::1%eth0", True),
    ],
)
def test_serves_follows_the_kernels_lookup(listener: Listener, address: str, expected: bool) -> None:
    assert serves(listener, address, 8000) is expected


def test_another_port_is_never_served() -> None:
    assert not serves(ANY4, "127.0.0.1", 8001)


def test_outcome_names_the_listener_and_its_accept_queue() -> None:
    queued = Listener(4, "127.0.0.1", 8000, queued=0, backlog=5, pid=42, process="python3")
    state, reason, detail = table_outcome("127.0.0.1", 8000, [queued])
    assert (state, reason) == (PortState.OPEN, Reason.LISTENER)
    assert detail == ("listener on 127.0.0.1:8000 (pid 42 python3), accept queue 0 of 5 "
                      "(read from this host's socket table)")


def test_a_full_accept_queue_is_said() -> None:
    full = Listener(4, "0.0.0.0", 8000, queued=6, backlog=5)
    _, _, detail = table_outcome("127.0.0.1", 8000, [full])
    assert detail is not None and "accept queue 6 of 5: full" in detail


def test_no_listener_is_a_refusal_read_from_the_table() -> None:
    state, reason, detail = table_outcome("198.18.0.2", 8000, [LOOP4, V6ONLY])
    assert (state, reason) == (PortState.CLOSED, Reason.NO_LISTENER)
    assert detail is not None and "would be refused" in detail and "socket table" in detail
