"""The thread engine's per-client outbox, without sockets: its writer takes everything queued at once.

During a chat burst the flooder's thread queues relays far faster than a writer thread that wrote one
line per ``sendall()`` (and waited for the interpreter between them) could send: readers that read fine
passed ``--max-queue`` and were dropped. One ``get()`` now returns the whole backlog as one write.
"""

from __future__ import annotations

from netdiag.adapters.servers.threads import Outbox


def test_the_writer_takes_everything_queued_in_one_write() -> None:
    box = Outbox(limit=1000)
    for line in (b"a: 1\n", b"a: 2\n", b"b: 3\n"):
        assert box.put(line)
    assert box.get() == b"a: 1\na: 2\nb: 3\n"
    assert box.size == 0


def test_the_end_comes_after_everything_queued_before_it() -> None:
    box = Outbox(limit=1000)
    box.put(b"bye\n")
    box.put(None)
    assert box.get() == b"bye\n"
    assert box.get() is None


def test_the_limit_counts_what_waits_and_frees_what_was_taken() -> None:
    box = Outbox(limit=10)
    assert box.put(b"12345") and box.put(b"67890")
    assert not box.put(b"x")
    box.get()
    assert box.put(b"x" * 10)
