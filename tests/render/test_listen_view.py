"""The listen command's stderr words for a server's shortages (render/listen_view.py): the engines give
facts, this module adds the flags; the sentences are the ones the engines used to write themselves."""

from __future__ import annotations

from netdiag.core.protocols.events import ServerWarning, ShortageKind
from netdiag.render.listen_view import server_warning_text


def test_accept_out_of_files_names_max_clients() -> None:
    text = server_warning_text(ServerWarning(ShortageKind.ACCEPT_OUT_OF_FILES, "Too many open files"))
    assert text == ("cannot accept more connections now (Too many open files): new clients wait in the "
                    "backlog until others close; raise the open-files limit (ulimit -n) or lower "
                    "--max-clients.")


def test_accept_failed_says_when_it_retries() -> None:
    text = server_warning_text(ServerWarning(ShortageKind.ACCEPT_FAILED, "Protocol error", retry_after=1.0))
    assert text == ("accepting a connection failed (Protocol error); retrying in 1 s, new clients wait in "
                    "the backlog meanwhile.")


def test_out_of_threads_names_the_other_engine() -> None:
    text = server_warning_text(ServerWarning(ShortageKind.OUT_OF_THREADS, "can't start new thread"))
    assert text.startswith("cannot start a thread for another client (can't start new thread): ")
    assert text.endswith("Raise the limit, or use --engine asyncio (no thread per client).")
