"""Pure socket logic: state words, filters, summary and the --watch diff (no socket needed)."""

from __future__ import annotations

import dataclasses

import pytest

from netdiag.core.failures import UsageError
from netdiag.core.socket_filters import SocketFilter, kinds_for, parse_states
from netdiag.core.socket_summary import summarize
from netdiag.core.socket_watch import Change, diff_listings
from netdiag.core.sockets import (
    KERNEL_TCP_STATES,
    PSUTIL_STATES,
    SOCKET_FIELDS,
    SocketRow,
    new_socket_row,
    parse_state,
    unowned_count,
)
from netdiag.core.targets import format_endpoint
from netdiag.render.socket_views import socket_record, summary_record


def row(proto: str = "tcp", local: str = "127.0.0.1", lport: int | None = 8000, remote: str | None = None,
        rport: int | None = None, state: str = "LISTEN", pid: int | None = 10,
        process: str | None = "python3") -> SocketRow:
    family = "unix" if proto == "unix" else "ipv6" if ":" in local else "ipv4"
    return SocketRow(proto, family, local, lport, remote, rport, state, pid, process)


LISTENER = row()
CLIENT = row(lport=50000, remote="127.0.0.1", rport=8000, state="ESTABLISHED", pid=20, process="curl")
SERVER_SIDE = row(remote="127.0.0.1", rport=50000, state="ESTABLISHED")
UDP6 = row("udp", "::1", 5353, state="UNCONN", pid=30, process="avahi")
UNIX = row("unix", "/run/lab.sock", None, state="LISTEN", pid=40, process="sshd")
ROWS = [LISTENER, CLIENT, SERVER_SIDE, UDP6, UNIX]


def test_json_keys_are_the_documented_stable_schema() -> None:
    assert list(socket_record(LISTENER)) == list(SOCKET_FIELDS) == [
        "proto", "family", "local_address", "local_port", "remote_address", "remote_port", "state", "pid",
        "process"]


@pytest.mark.parametrize(("word", "state"), [
    ("ESTAB", "ESTABLISHED"), ("established", "ESTABLISHED"), ("time-wait", "TIME_WAIT"),
    ("TIME_WAIT", "TIME_WAIT"), ("FIN-WAIT-1", "FIN_WAIT_1"), ("fin_wait1", "FIN_WAIT_1"),
    ("syn-recv", "SYN_RECV"), ("listen", "LISTEN"), ("UNCONN", "UNCONN"), ("close", "UNCONN"),
    ("close-wait", "CLOSE_WAIT"),
])
def test_every_common_spelling_of_a_state(word: str, state: str) -> None:
    found = parse_state(word)
    assert found is not None and found.value == state


def test_kernel_and_psutil_states_use_ss_words() -> None:
    assert KERNEL_TCP_STATES[1].value == "ESTABLISHED"
    assert KERNEL_TCP_STATES[7].value == "UNCONN"  # ss calls TCP_CLOSE UNCONN
    assert KERNEL_TCP_STATES[12].value == "SYN_RECV"  # request sockets
    assert PSUTIL_STATES["FIN_WAIT2"].value == "FIN_WAIT_2"


@pytest.mark.parametrize(("selection", "expected"), [
    (SocketFilter(), ROWS),
    (SocketFilter(protos=frozenset({"udp"})), [UDP6]),
    (SocketFilter(listening=True), [LISTENER, UDP6, UNIX]),
    (SocketFilter(port=8000), [LISTENER, CLIENT, SERVER_SIDE]),  # local or remote
    (SocketFilter(port=50000), [CLIENT, SERVER_SIDE]),
    (SocketFilter(families=frozenset({"ipv6"})), [UDP6]),
    (SocketFilter(states=frozenset({"ESTABLISHED"}), pid=20), [CLIENT]),
    (SocketFilter(process="PYTHON*"), [LISTENER, SERVER_SIDE]),
    (SocketFilter(process="python"), []),  # whole name unless a wildcard says otherwise
    (SocketFilter(port=8000, listening=True, families=frozenset({"ipv4"})), [LISTENER]),  # AND
    (SocketFilter(port=8000, process="avahi"), []),
])
def test_filters_combine_with_and(selection: SocketFilter, expected: list[SocketRow]) -> None:
    assert selection.apply(ROWS) == expected


def test_parse_states_accepts_lists_and_refuses_unknown_words() -> None:
    assert parse_states("estab, time-wait") == {"ESTABLISHED", "TIME_WAIT"}
    with pytest.raises(UsageError, match=r"Unknown socket state 'open'.*LISTEN"):
        parse_states("listen,open")
    with pytest.raises(UsageError):
        parse_states(",")


@pytest.mark.parametrize(("flags", "kinds"), [
    ({}, ("tcp", "udp")), ({"tcp": True}, ("tcp",)), ({"udp": True, "unix": True}, ("udp", "unix")),
    ({"unix": True}, ("tcp", "udp", "unix")),
])
def test_kinds(flags: dict[str, bool], kinds: tuple[str, ...]) -> None:
    assert kinds_for(**{"tcp": False, "udp": False, "unix": False, **flags}) == kinds


def test_summary_counts_per_protocol_and_state() -> None:
    time_wait = row(lport=50001, remote="127.0.0.1", rport=8000, state="TIME_WAIT", pid=None, process=None)
    lines = [summary_record(line) for line in summarize([*ROWS, time_wait])]
    assert lines == [
        {"proto": "tcp", "state": "*", "ipv4": 4, "ipv6": 0, "unix": 0, "total": 4},
        {"proto": "tcp", "state": "ESTABLISHED", "ipv4": 2, "ipv6": 0, "unix": 0, "total": 2},
        {"proto": "tcp", "state": "TIME_WAIT", "ipv4": 1, "ipv6": 0, "unix": 0, "total": 1},
        {"proto": "tcp", "state": "LISTEN", "ipv4": 1, "ipv6": 0, "unix": 0, "total": 1},
        {"proto": "udp", "state": "*", "ipv4": 0, "ipv6": 1, "unix": 0, "total": 1},
        {"proto": "udp", "state": "UNCONN", "ipv4": 0, "ipv6": 1, "unix": 0, "total": 1},
        {"proto": "unix", "state": "*", "ipv4": 0, "ipv6": 0, "unix": 1, "total": 1},
        {"proto": "unix", "state": "LISTEN", "ipv4": 0, "ipv6": 0, "unix": 1, "total": 1},
    ]


def test_watch_marks_nothing_on_the_first_refresh() -> None:
    delta = diff_listings(None, ROWS)
    assert [c.change for c in delta.changes] == [Change.SAME] * len(ROWS)


def test_watch_marks_appeared_changed_and_gone() -> None:
    closing = row(lport=50000, remote="127.0.0.1", rport=8000, state="TIME_WAIT", pid=None, process=None)
    newcomer = row(lport=50002, remote="127.0.0.1", rport=8000, state="SYN_SENT", pid=21, process="curl")
    delta = diff_listings(ROWS, [LISTENER, closing, newcomer, UDP6, UNIX])
    marks = [(c.change, c.row.local_port, c.previous_state) for c in delta.changes]
    assert marks == [
        (Change.SAME, 8000, None),
        (Change.STATE, 50000, "ESTABLISHED"),  # the owner went away with the state: still the same socket
        (Change.APPEARED, 50002, None),
        (Change.SAME, 5353, None),
        (Change.SAME, None, None),
        (Change.GONE, 8000, None),  # the server side of the closed connection
    ]
    assert (delta.count(Change.APPEARED), delta.count(Change.STATE), delta.count(Change.GONE)) == (1, 1, 1)
    assert not delta.quiet


def test_watch_pairs_sockets_that_share_endpoints() -> None:
    unnamed = [row("unix", "", None, state="UNCONN", pid=p, process="x") for p in (1, 2, 3)]
    delta = diff_listings(unnamed, [*unnamed[:2], row("unix", "", None, state="LISTEN", pid=3)])
    assert [c.change for c in delta.changes] == [Change.SAME, Change.SAME, Change.STATE]
    assert diff_listings(unnamed, unnamed[:2]).count(Change.GONE) == 1


def test_endpoints_and_unowned_rows() -> None:
    assert format_endpoint("::1", 8000) == "[::1]:8000"
    assert format_endpoint("127.0.0.1", 8000) == "127.0.0.1:8000"
    assert format_endpoint(None, None) == "*"
    assert format_endpoint("/run/lab.sock", None) == "/run/lab.sock"
    assert format_endpoint(None, 8000) == format_endpoint("", 8000) == "*:8000"
    time_wait = row(state="TIME_WAIT", pid=None, process=None)
    hidden = row(pid=None, process=None)
    assert unowned_count([time_wait, hidden, LISTENER]) == 1


def test_a_row_is_a_frozen_value() -> None:
    """SocketRow's hand-written __init__ keeps what the dataclass one gave: keyword and positional
    construction, equality, hashing, replace(), and no assignment afterwards."""
    row = SocketRow("tcp", "ipv4", "127.0.0.1", 8000, None, None, "LISTEN", 42, "python3")
    same = SocketRow(proto="tcp", family="ipv4", local_address="127.0.0.1", local_port=8000,
                     remote_address=None, remote_port=None, state="LISTEN", pid=42, process="python3")
    assert row == same and hash(row) == hash(same) and len({row, same}) == 1
    assert dataclasses.replace(row, pid=7).pid == 7 and row.pid == 42
    assert dataclasses.astuple(row) == ("tcp", "ipv4", "127.0.0.1", 8000, None, None, "LISTEN", 42, "python3")
    assert repr(row).startswith("SocketRow(proto='tcp', family='ipv4'")
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.pid = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        SocketRow("tcp", "ipv4", "127.0.0.1", 8000, None, None, "LISTEN", 42)  # type: ignore[call-arg]


def test_the_listers_fast_row_is_the_same_frozen_row() -> None:
    """``new_socket_row`` (a draft whose class becomes SocketRow) makes what SocketRow(...) makes."""
    fields = ("tcp", "ipv6", "::1", 51334, "::1", 8000, "ESTABLISHED", None, None)
    made, expected = new_socket_row(*fields), SocketRow(*fields)
    assert type(made) is SocketRow and made == expected and hash(made) == hash(expected)
    assert repr(made) == repr(expected) and dataclasses.astuple(made) == dataclasses.astuple(expected)
    assert dataclasses.astuple(made) == fields and dataclasses.replace(made, pid=7).pid == 7
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.pid = 1  # type: ignore[misc]
    refusals = []
    for one in (made, expected):  # no other attribute either, refused the same way
        with pytest.raises((AttributeError, TypeError)) as refused:
            one.extra = 1  # type: ignore[attr-defined]
        refusals.append(refused.type)
    assert refusals[0] is refusals[1]
