"""Binding and its explanations: errno -> failure type and words, who holds a port (real psutil)."""

from __future__ import annotations

import errno
import os
import resource
import socket

import psutil
import pytest
from helpers.waiting import wait_until

from netdiag.adapters.servers.binding import (
    bind_failure,
    describe_port_holders,
    open_listener,
    raise_open_files_limit,
    resolve_bind_host,
)
from netdiag.core.catalog import Cause
from netdiag.core.failures import NetworkFailure, PrivilegeError


@pytest.mark.parametrize(("code", "port", "kind", "cause", "phrase"), [
    (errno.EACCES, 80, PrivilegeError, Cause.PRIVILEGED_PORT, "ports below 1024 need root"),
    (errno.EACCES, 5000, PrivilegeError, Cause.PORT_RESERVED, "permission denied"),
    (errno.EADDRNOTAVAIL, 5000, NetworkFailure, Cause.ADDRESS_NOT_LOCAL, "not an address of this machine"),
    (errno.EADDRINUSE, 5000, NetworkFailure, Cause.ADDRESS_IN_USE, "already in use"),
])
def test_bind_errors_become_explained_failures(code: int, port: int, kind: type, cause: Cause,
                                               phrase: str) -> None:
    failure = bind_failure(OSError(code, os.strerror(code)), "127.0.0.1", port, udp=False)
    assert type(failure) is kind
    assert phrase in failure.message
    assert failure.explanation is not None and failure.explanation.cause is cause
    assert (failure.cause, failure.errno, failure.host, failure.port) == (cause, code, "127.0.0.1", port)


def test_a_bind_name_that_does_not_resolve_says_so_with_the_resolvers_words() -> None:
    host = "a" * 64 + ".example"  # the idna codec refuses it before any query (one ``lookup`` for all)
    with pytest.raises(NetworkFailure) as caught:
        resolve_bind_host(host)
    assert caught.value.message.startswith(
        f"Cannot listen on {host}: the name does not resolve to an address (it is not a valid host name (")
    assert (caught.value.cause, caught.value.host) == (Cause.DNS_FAILURE, host)


def test_a_live_listener_is_named_with_its_process() -> None:
    with socket.create_server(("127.0.0.1", 0)) as holder:
        text = describe_port_holders(holder.getsockname()[1], udp=False)
    assert text == f"It is held by {psutil.Process().name()} (pid {os.getpid()})."


def test_udp_holder_is_named_too() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        with pytest.raises(NetworkFailure, match="already in use") as caught:
            open_listener("127.0.0.1", holder.getsockname()[1], udp=True)
    assert f"(pid {os.getpid()})" in caught.value.explanation.meaning  # type: ignore[union-attr]


def test_time_wait_leftovers_are_told_apart_from_a_listener() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    accepted, _ = listener.accept()
    listener.close()
    accepted.close()  # the server side closes first: its end (port PORT) goes to TIME_WAIT
    assert client.recv(10) == b""
    client.close()

    def time_wait_seen() -> bool:
        return any(c.laddr and c.laddr.port == port and c.status == psutil.CONN_TIME_WAIT
                   for c in psutil.net_connections("tcp"))

    wait_until(time_wait_seen, what="a TIME_WAIT socket on the port")
    assert "only TIME_WAIT leftovers" in describe_port_holders(port, udp=False)
    with open_listener("127.0.0.1", port) as sock:  # SO_REUSEADDR: TIME_WAIT does not block us
        assert sock.getsockname()[1] == port


def test_nobody_visible_is_said_plainly() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        free = probe.getsockname()[1]
    assert "No socket visible" in describe_port_holders(free, udp=False)


def test_names_resolve_for_binding_from_the_hosts_file() -> None:
    family, address = resolve_bind_host("localhost")
    assert (family, address) in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1"))
    assert resolve_bind_host("::") == (socket.AF_INET6, "::")


def test_open_files_soft_limit_is_raised_to_the_hard_limit() -> None:
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(before[1], 1024), before[1]))
        soft, hard = raise_open_files_limit()
        assert soft == hard == before[1] == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)
