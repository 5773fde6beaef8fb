"""``--max-clients`` slots on both engines: a slot is free by the time the client's ``close`` is logged.

A script (or a test) that sees ``close`` and connects again must be admitted. The case that shows it:
a client cut off for an over-long line is logged as closed at once, but the server keeps draining its
socket for up to 2 s so it can read why (docs/listen.md); that drain must not hold the slot.
"""

from __future__ import annotations

from helpers.servers import connect, peer_of, recv_line, running_server


def test_the_slot_is_free_once_the_close_is_logged(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "reply", "--max-clients", "1", "--max-line", "10") \
            as server, connect(server) as first:
        first.sendall(b"x" * 100 + b"\n")
        assert b"longer than 10 bytes" in recv_line(first)
        server.wait_for_event("close", peer=peer_of(first), reason="line-too-long")
        # The first client's socket is still open (the server lingers, draining it): its slot is not.
        with connect(server) as second:
            second.sendall(b"hello\n")
            assert recv_line(second) == b"accepted\n", "the second client was refused"
            assert server.of("refused") == []


def test_a_client_that_quits_frees_its_slot_for_the_next(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "reply", "--max-clients", "1") as server:
        for round_number in range(20):
            with connect(server) as client:
                client.sendall(b"close\n")
                assert recv_line(client) == b"closed\n", f"round {round_number}: refused"
                server.wait_for_event("close", peer=peer_of(client), reason="quit")
        assert server.of("refused") == []
