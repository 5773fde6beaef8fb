from __future__ import annotations

import pytest

from netdiag.core.failures import UsageError
from netdiag.core.loadplan import (
    HEADER_LEN,
    MAX_UDP_SIZE,
    LoadPlan,
    is_local_address,
    make_payload,
    remote_refusal,
)


@pytest.mark.parametrize(
    "bad",
    [
        {"clients": 0},
        {"clients": 10_001},
        {"duration": 0},
        {"duration": 301},
        {"size": 0},
        {"size": MAX_UDP_SIZE + 1, "udp": True},
        {"rate": 0},
        {"timeout": 0},
    ],
)
def test_every_bound_is_checked(bad: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        LoadPlan(host="127.0.0.1", port=1, **bad)  # type: ignore[arg-type]


def test_default_plan_is_bounded() -> None:
    plan = LoadPlan(host="127.0.0.1", port=1)
    assert plan.duration == 5.0
    assert plan.hard_stop == plan.duration + plan.timeout + 1.0
    assert LoadPlan(host="h", port=1, clients=10, rate=100).per_client_interval == 0.1


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("0.0.0.0", True),
        ("::ffff:127.0.0.1", True),
        ("198.18.0.1", True),  # listed as an interface address below
        ("198.18.0.2", False),
        ("192.0.2.1", False),
        ("2001:db8::1", False),
        ("fe80::1%eth0", True),
        ("not-an-address", False),
    ],
)
def test_locality(address: str, local: bool) -> None:
    assert is_local_address(address, ["198.18.0.1", "fe80::1%lo", "bogus"]) is local


def test_refusal_names_the_option() -> None:
    err = remote_refusal("example.test", "192.0.2.7")
    assert "example.test (192.0.2.7)" in err.message
    assert "--allow-remote" in err.message


@pytest.mark.parametrize("size", [1, 2, HEADER_LEN - 1, HEADER_LEN, HEADER_LEN + 1, 100, 70_000])
def test_payload_size_uniqueness_and_newline(size: int) -> None:
    first, second = make_payload(1, 1, size), make_payload(1, 2, size)
    assert len(first) == size
    assert first.endswith(b"\n")
    assert first.isascii()
    if size > HEADER_LEN:
        assert first != second
        assert make_payload(2, 1, size) != first
