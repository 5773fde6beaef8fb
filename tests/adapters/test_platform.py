"""The platform module answers from the features themselves, checked against this (Linux) machine."""

from __future__ import annotations

import os
import resource
import select
import shutil
import socket
import types

from netdiag.adapters import doctor as doctor_report
from netdiag.adapters import platform


def test_capture_is_tried_by_root_or_with_cap_net_raw() -> None:
    assert platform.has_net_raw("Name:\tpython3\nCapInh:\t0000000000000000\nCapEff:\t0000000000002000\n")
    assert not platform.has_net_raw("CapEff:\t0000000000001000\n")  # CAP_NET_ADMIN alone cannot open raw
    assert not platform.has_net_raw("Name:\tpython3\n")
    with open("/proc/self/status", encoding="ascii") as status:
        assert platform.may_capture() is (os.geteuid() == 0 or platform.has_net_raw(status.read()))


def test_features_are_read_from_the_system() -> None:
    assert platform.os_name() == "linux"
    assert platform.has_epoll() is hasattr(select, "epoll")
    assert platform.has_fork() is True
    assert platform.open_files_limit() == resource.getrlimit(resource.RLIMIT_NOFILE)  # RLIM_INFINITY is -1
    expected_tools = tuple(t for t in ("iptables", "ip6tables", "nft") if shutil.which(t))
    assert platform.firewall_tools() == expected_tools


def test_netlink_answer_matches_opening_a_sock_diag_socket() -> None:
    try:
        socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4).close()
        opened = True
    except OSError:
        opened = False
    assert platform.has_netlink() is opened


def test_every_capability_says_why() -> None:
    found = doctor_report.capabilities()
    assert len({c.name for c in found}) == len(found) >= 8
    assert all(c.detail for c in found)
    by_name = {c.name: c for c in found}
    assert by_name["packet capture"].available is platform.may_capture()
    assert by_name["firewall readable"].available is (bool(platform.firewall_tools()) and platform.is_root())


def test_listeners_bind_exclusively_where_the_socket_module_offers_it() -> None:
    """Windows' SO_REUSEADDR would let a second server take the port: there SO_EXCLUSIVEADDRUSE is set."""
    windows_like = types.SimpleNamespace(SO_EXCLUSIVEADDRUSE=-5, SO_REUSEADDR=4)  # winsock's values
    assert platform.exclusive_bind_option(windows_like) == -5
    assert platform.exclusive_bind_option(types.SimpleNamespace(SO_REUSEADDR=2)) is None
    assert platform.exclusive_bind_option() is None  # this Linux socket module has no such option
    assert platform.listener_bind_option() == socket.SO_REUSEADDR  # Linux unchanged
