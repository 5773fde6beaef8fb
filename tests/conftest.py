"""Shared fixtures: namespaces for root-only tests; everything else lives in tests/helpers/."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers.netns import Namespace, TwoHosts, can_make_namespaces, lone_host, two_hosts


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``root`` with the reason, when this process cannot build namespaces."""
    ok, reason = can_make_namespaces()
    if ok:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def net() -> Iterator[TwoHosts]:
    """Two hosts on a veth link in fresh namespaces (root only), torn down after the test."""
    with two_hosts() as hosts:
        yield hosts


@pytest.fixture
def private_loopback() -> Iterator[Namespace]:
    """A namespace whose 127.0.0.1 carries nothing but what the test starts (root only)."""
    with lone_host() as ns:
        yield ns
