"""The thread engine's per-member outbox, without sockets: its writer takes everything queued at once.

During a chat burst the flooder's thread queues relays far faster than a writer thread that wrote one
line per ``sendall()`` (and waited for the interpreter between them) could send: readers that read fine
passed ``--max-queue`` and were dropped. ``take()`` returns the whole backlog as one write. (Queueing and
the limit are ``ThreadConnection.deliver``'s, tested through real sockets in tests/reliability.)
"""

from __future__ import annotations

from netdiag.adapters.servers.thread_connection import Outbox


def test_the_writer_takes_everything_queued_in_one_write() -> None:
    box = Outbox(limit=1000)
    for line in (b"a: 1\n", b"a: 2\n", b"b: 3\n"):
        box.items.append(line)
        box.size += len(line)
    assert box.take() == b"a: 1\na: 2\nb: 3\n"
    assert box.size == 0 and not box.items
    assert box.take() == b""
