"""The listen command's stderr words for a server's shortages (render/listen_view.py): the engines give
facts, this module adds the flags; the sentences are the ones the engines used to write themselves."""

from __future__ import annotations

from netdiag.core.protocols.events import ServerWarning, ShortageKind
from netdiag.render import listen_view
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


def test_every_interface_warns_then_says_where_others_connect() -> None:
    from netdiag.render.listen_view import every_interface_lines

    assert every_interface_lines("::", [("2001:db8::5", "eth0"), ("192.0.2.5", "eth0")], 8000) == [
        "listening on every interface of this machine (::): anyone who can reach it can connect. Use "
        "127.0.0.1 to keep it local.",
        "  other machines can use [2001:db8::5]:8000  (eth0)",
        "  other machines can use 192.0.2.5:8000  (eth0)",
    ]
    assert every_interface_lines("0.0.0.0", [], 1)[1:] == [
        "  this machine has no address outside loopback: other machines cannot reach it"]


def test_try_it_goes_through_loopback_for_a_wildcard() -> None:
    from netdiag.render.listen_view import try_it_line

    assert try_it_line("0.0.0.0", 8000, udp=False) == (
        "try it: netdiag connect 127.0.0.1:8000   (Ctrl-C stops the server)")
    assert try_it_line("::", 9, udp=True) == (
        "try it: netdiag connect [::1]:9 --udp   (Ctrl-C stops the server)")
    assert try_it_line("127.0.0.2", 9, udp=False).startswith("try it: netdiag connect 127.0.0.2:9 ")


def test_the_open_files_limit_in_words() -> None:
    from dataclasses import dataclass

    from netdiag.render.listen_view import fewer_clients_warning, too_few_files

    @dataclass(frozen=True)
    class Budget:
        limit: int = 16
        in_use: int = 4
        loop: int = 10
        udp: bool = False

        @property
        def fixed(self) -> int:
            return self.in_use + self.loop + 2

        @property
        def minimum(self) -> int:
            return self.fixed + 2

    assert too_few_files(Budget(), 4096, "asyncio", "uvloop") == (
        "Cannot serve: this process may open only 16 files (hard limit 4096), and netdiag listen needs at "
        "least 18 with the asyncio engine: 4 open already (standard streams, the listening socket), 10 for "
        "the event loop (uvloop), 2 spare, 1 per client and 1 to tell clients over the limit that the "
        "server is busy. Raise the limit: ulimit -n 1024 (--engine threads needs the fewest).")
    threads = too_few_files(Budget(loop=0, udp=True), 100, "threads", "threads")
    assert threads.endswith("Raise the limit: ulimit -Hn 1024 (as root), or LimitNOFILE= in a systemd unit.")
    assert fewer_clients_warning(64, 64, 1000, 40).startswith(
        "this process may open only 64 files (hard limit 64), fewer than --max-clients 1000 needs: serving "
        "at most 40 client(s) at once")


def test_out_of_files_advice_names_the_engine_option() -> None:
    text = listen_view.out_of_files_text("uvloop")
    assert text.startswith("Cannot serve: the event loop (uvloop) could not open the files it needs")
    assert "ulimit -n" in text and "--engine threads" in text


def test_observer_warnings_name_their_option() -> None:
    assert listen_view.observer_warning("cannot capture (x); the server runs as usual.") == \
        "--observe: cannot capture (x); the server runs as usual."
    assert listen_view.cannot_observe_note("netdiag listen 8000 --observe").startswith("--observe: ")
