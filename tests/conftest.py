"""Shared fixtures: namespaces for root-only tests, a listening and a refusing loopback port; everything else
lives in tests/helpers/."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers.netns import Namespace, TwoHosts, can_make_namespaces, lone_host, two_hosts
from helpers.servers import ENGINES


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under ``-m portable`` (the CI subset on macOS and Windows) test files without the marker are not even
    imported: many import Linux-only modules (resource, the namespace helpers' tools) at the top."""
    if config.getoption("markexpr", "") != "portable" or collection_path.suffix != ".py":
        return None
    if not collection_path.name.startswith("test_"):
        return None
    return "pytest.mark.portable" not in collection_path.read_text(encoding="utf-8")


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


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each ``netdiag listen --engine`` in turn: a test taking ``engine`` runs once per engine (ids
    ``[asyncio]``, ``[threads]``). Module scope, so a module's shared servers can depend on it too."""
    return str(request.param)


@pytest.fixture
def listener() -> Iterator[int]:
    """A port on 127.0.0.1 where this test listens (it accepts nothing: the kernel completes handshakes)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@pytest.fixture
def ipv6_listener() -> Iterator[int]:
    """Like ``listener``, on ::1; the test is skipped, saying why, where this machine has no IPv6 loopback."""
    with socket.socket(socket.AF_INET6) as sock:
        try:
            sock.bind(("::1", 0))
        except OSError:
            pytest.skip("no IPv6 loopback on this machine")
        sock.listen(8)
        yield sock.getsockname()[1]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """Bound but not listening: connect() is refused and nobody else can take the port (STYLE.md)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
