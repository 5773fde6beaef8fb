"""The socket listing against the kernel: real loopback sockets, compared with iproute2's ss."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from helpers.socket_set import SocketSet, controlled_sockets, run_ss
from helpers.unprivileged import nobody_runtime
from helpers.waiting import wait_until

from netdiag.adapters.listing import list_sockets, processes, psutil_backend
from netdiag.adapters.listing.psutil_backend import list_sockets_psutil
from netdiag.core.sockets import SocketListing, SocketRow, SocketState, sorted_rows
from netdiag.render.socket_views import socket_record

STATE_WORDS = {s.value for s in SocketState}


def check_row(row: SocketRow) -> None:
    """The invariants every row keeps, whatever the engine (psutil's tests have one such validator)."""
    assert row.proto in ("tcp", "udp", "unix")
    assert row.family in ("ipv4", "ipv6", "unix")
    assert row.state in STATE_WORDS and row.state != "UNKNOWN", row
    if row.proto != "unix":
        assert isinstance(row.local_port, int) and 0 <= row.local_port < 65536
        assert (row.remote_address is None) == (row.remote_port is None)
        assert ":" in row.local_address if row.family == "ipv6" else "." in row.local_address
    if row.process is not None:
        assert row.pid is not None
    if row.proto == "tcp" and row.state == "LISTEN":
        assert row.remote_address is None


def comparable(rows: list[SocketRow], opened: SocketSet) -> set[tuple[object, ...]]:
    return {(r.proto, r.local_address, r.local_port, r.remote_address, r.remote_port, r.state, r.pid)
            for r in rows if opened.ours(r.proto, r.local_address, r.local_port, r.remote_address,
                                         r.remote_port)}


def ss_view(opened: SocketSet) -> set[tuple[object, ...]]:
    """``ss -tunap``'s rows of the controlled set, in the fields ``comparable`` keeps."""
    return {(r.proto, r.local_address, r.local_port, r.remote_address, r.remote_port, r.state,
             next(iter(r.pids), None)) for r in run_ss("-tunap")
            if opened.ours(r.proto, r.local_address, r.local_port, r.remote_address, r.remote_port)}


def listing_at_one_moment(opened: SocketSet, engine: str) -> tuple[set[tuple[object, ...]], SocketListing]:
    """netdiag's listing taken between two identical ss views of the set: the kernel's truth then.

    The controlled sockets only change if the kernel changes them (a TIME_WAIT ending, an owner found
    late); when the two ss views differ the sandwich is retried, so a comparison never straddles a change.
    """
    def attempt() -> tuple[set[tuple[object, ...]], SocketListing] | None:
        before = ss_view(opened)
        listing = list_sockets(("tcp", "udp"), engine=engine)
        return (before, listing) if ss_view(opened) == before else None

    return wait_until(attempt, timeout=30, what="two identical ss views around netdiag's listing")


# What the set holds: 2 listeners, 2 pairs (4 rows), a TIME_WAIT, 2 UDP unconnected, 1 UDP connected.
CONTROLLED_STATES = sorted(["LISTEN"] * 2 + ["ESTABLISHED"] * 5 + ["TIME_WAIT"] + ["UNCONN"] * 2)


@pytest.mark.parametrize("engine", ["auto", "psutil"])
def test_listing_equals_ss_field_by_field(engine: str) -> None:
    with controlled_sockets() as opened:
        expected, listing = listing_at_one_moment(opened, engine)
    for row in listing.rows:
        check_row(row)
    assert sorted(str(fields[5]) for fields in expected) == CONTROLLED_STATES, "ss lost part of the set"
    assert comparable(listing.rows, opened) == expected


def test_owner_is_resolved_once_per_pid_and_time_wait_has_none() -> None:
    with controlled_sockets() as opened:
        rows = [r for r in list_sockets().rows
                if opened.ours(r.proto, r.local_address, r.local_port, r.remote_address, r.remote_port)]
    name = psutil.Process().name()
    for row in rows:
        if row.state == "TIME_WAIT":
            assert (row.pid, row.process) == (None, None)
        else:
            assert (row.pid, row.process) == (os.getpid(), name)


def test_process_names_looks_each_pid_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real_process, real_proc_name = psutil.Process, processes.proc_name

    def counting_process(pid: int) -> psutil.Process:
        calls.append(pid)
        return real_process(pid)

    def counting_proc_name(pid: int) -> str | None:
        calls.append(pid)
        return real_proc_name(pid)

    with controlled_sockets():
        monkeypatch.setattr(psutil, "Process", counting_process)
        monkeypatch.setattr(processes, "proc_name", counting_proc_name)
        rows = list_sockets_psutil().rows
    assert sum(1 for r in rows if r.pid == os.getpid()) >= 9  # nine sockets of ours ...
    assert calls.count(os.getpid()) == 1  # ... one name lookup


def test_unix_sockets_are_listed_with_their_path(tmp_path: Path) -> None:
    path = str(tmp_path / "lab.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen()
        rows = [r for r in list_sockets(("unix",)).rows if r.local_address == path]
    assert len(rows) == 1
    assert (rows[0].proto, rows[0].family, rows[0].pid, rows[0].state) == ("unix", "unix", os.getpid(),
                                                                          "LISTEN")


def test_other_users_sockets_appear_without_owner_and_one_note() -> None:
    nobody = nobody_runtime()  # from any checkout, a private one too (skips with the reason otherwise)
    probe = (
        "import json; "
        "from netdiag.adapters.listing import list_sockets; l = list_sockets(); "
        "from netdiag.render.socket_views import socket_record; "
        "print(json.dumps({'complete': l.complete, 'note': l.note, "
        "'rows': [socket_record(r) for r in l.rows]}))"
    )
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        result = subprocess.run(nobody.argv("-c", probe), capture_output=True, text=True, timeout=60,
                                env=nobody.env(), cwd="/")
    assert result.returncode == 0, result.stderr
    import json

    seen = json.loads(result.stdout)
    mine = [r for r in seen["rows"] if r["local_port"] == port]
    assert mine and mine[0]["state"] == "LISTEN"
    assert (mine[0]["pid"], mine[0]["process"]) == (None, None)
    assert seen["complete"] is False
    assert "sudo netdiag sockets" in seen["note"]


def test_refused_listing_falls_back_to_own_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS refuses net_connections without root; that OS cannot run here, so its refusal is simulated."""

    def refuse(kind: str = "inet") -> list[object]:
        raise psutil.AccessDenied()

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        monkeypatch.setattr(psutil, "net_connections", refuse)
        listing = psutil_backend.list_sockets_psutil(("tcp",))
    assert any(r.local_port == port and r.pid == os.getpid() for r in listing.rows)
    assert listing.complete is False
    assert listing.note is not None and "sudo" in listing.note


def test_netlink_fast_path_and_psutil_return_the_same_sockets(tmp_path: Path) -> None:
    path = str(tmp_path / "both.sock")
    with controlled_sockets() as opened, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
        unix.bind(path)
        unix.listen()
        fast = list_sockets(("tcp", "udp", "unix"), engine="netlink")
        portable = list_sockets(("tcp", "udp", "unix"), engine="psutil")
    for rows in (fast.rows, portable.rows):
        assert len(comparable(rows, opened)) == 10
    assert comparable(fast.rows, opened) == comparable(portable.rows, opened)
    # psutil cannot tell a listening Unix socket from an idle one; the rest of the row must agree.
    [fast_unix] = [r for r in fast.rows if r.local_address == path]
    [portable_unix] = [r for r in portable.rows if r.local_address == path]
    assert fast_unix.state == "LISTEN"
    assert socket_record(fast_unix) | {"state": None} == socket_record(portable_unix) | {"state": None}


def test_netlink_listing_is_in_the_one_sort_order() -> None:
    """The netlink reader builds its sort keys inline (a call per row showed at 20,000 rows): they must
    stay ``core.sockets.sort_key``'s order."""
    with controlled_sockets():
        rows = list_sockets(("tcp", "udp", "unix"), engine="netlink").rows
    assert len(rows) >= 10
    assert rows == sorted_rows(rows)


def test_long_process_names_are_completed_like_psutil(tmp_path: Path) -> None:
    """The kernel keeps 15 characters of a name; both engines complete it from argv[0] as psutil does."""
    program = tmp_path / "netdiag-a-long-process-name"
    program.symlink_to(os.path.realpath(sys.executable))
    child = subprocess.Popen(
        [str(program), "-c", "import socket, sys; s = socket.create_server(('127.0.0.1', 0)); "
                             "print(s.getsockname()[1], flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        expected = psutil.Process(child.pid).name()
        seen = {engine: [(r.pid, r.process) for r in list_sockets(("tcp",), engine=engine).rows
                         if r.local_port == port and r.state == "LISTEN"] for engine in ("netlink", "psutil")}
    finally:
        child.kill()
        child.communicate(timeout=10)
    assert expected == program.name
    assert seen == {"netlink": [(child.pid, expected)], "psutil": [(child.pid, expected)]}
