"""The lecture view in a real headless Chromium: `handshake --watch --web` and `sockets --watch --web`.

Each scenario starts the watch as users do, opens its page in Chromium (DevTools protocol over a pipe:
tests/helpers/browser.py), makes real connections, waits on the DOM (never a sleep), and saves a
screenshot into the test's tmp dir. The handshake scenarios run in a namespace the test creates, where
a DROP rule cannot touch the machine: the watch, the clients and the browser all run inside it.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.browser import Page, headless_browser
from helpers.cli import invoke_netdiag, popen_netdiag, run_netdiag
from helpers.netns import Namespace
from helpers.servers import running_server
from helpers.streams import LineReader
from helpers.waiting import wait_until

from netdiag.core.exit_status import ExitStatus

PORT = 9100
_URL = re.compile(r"Lecture page: (http://\S+)")


@dataclass
class LiveWatch:
    process: subprocess.Popen[str]
    out: LineReader
    err: LineReader
    url: str


@contextmanager
def live(*args: str, netns: str | None = None) -> Iterator[LiveWatch]:
    """``netdiag ARGS`` (a watch with --web), yielded once it printed the page's URL; interrupted at the end,
    and it must then exit 0 without a traceback."""
    process = popen_netdiag(*args, netns=netns)
    out, err = LineReader(process.stdout), LineReader(process.stderr)
    try:
        match = wait_until(lambda: _URL.search(err.text()) or process.poll() is not None, timeout=20,
                           what="the lecture page's URL on stderr")
        assert process.poll() is None and not isinstance(match, bool), err.text()
        yield LiveWatch(process, out, err, match.group(1))
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
        assert process.returncode == ExitStatus.OK, err.text()
        assert "Traceback" not in err.text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        out.join()
        err.join()


CARD = "document.querySelector('.conn')"


def card_state(page: Page) -> dict | None:
    """The newest connection card: its outcome, last event, arrows (flags, classes) and note lines."""
    return page.evaluate(f"""(() => {{ const c = {CARD}; if (!c) return null;
        return {{outcome: c.dataset.outcome, event: c.dataset.event,
                 flags: [...c.querySelectorAll('g.seg')].map(g => g.dataset.flags),
                 classes: [...c.querySelectorAll('g.seg')].map(g => g.getAttribute('class')),
                 notes: [...c.querySelectorAll('.notes p')].map(p => p.textContent),
                 drawn: c.querySelector('svg').textContent}}; }})()""")


def in_namespace(ns: Namespace, code: str) -> subprocess.CompletedProcess[str]:
    return ns.run(sys.executable, "-c", code, str(PORT), timeout=30)


CLIENT = ("import socket,sys\n"
          "c=socket.create_connection(('127.0.0.1', int(sys.argv[1])), 5); c.sendall(b'hi\\n'); c.recv(10)\n"
          "c.shutdown(socket.SHUT_WR); c.recv(10); c.close()")
REFUSED = ("import socket,sys\n"
           "try: socket.create_connection(('127.0.0.1', int(sys.argv[1])), 5)\n"
           "except ConnectionRefusedError: print('refused')")


@pytest.mark.root
def test_completed_connection_pause_and_clear(private_loopback: Namespace, tmp_path: Path) -> None:
    ns = private_loopback
    with running_server("--mode", "echo", address=f"127.0.0.1:{PORT}", netns=ns.name), \
            live("handshake", "--watch", str(PORT), "-i", "lo", "--web", netns=ns.name) as watch, \
            headless_browser(netns=ns.name) as browser:
        page = browser.open(watch.url)
        wait_until(lambda: page.evaluate("document.getElementById('status')?.textContent") == "live",
                   timeout=15, what="the page to connect to its event stream")
        in_namespace(ns, CLIENT)
        card = wait_until(lambda: (c := card_state(page)) and c["event"] == "ended" and c, timeout=15,
                          what="the connection drawn to its end")
        assert card["flags"][:3] == ["SYN", "SYN,ACK", "ACK"]
        assert "PSH,ACK" in card["flags"] and sum("FIN" in f for f in card["flags"]) == 2
        assert card["outcome"] == "accepted" and card["notes"][0].startswith("handshake done, RTT ")
        terminal = watch.out.text()
        for note in card["notes"]:  # the same words as the terminal, from one source
            assert note in terminal
        assert "SYN,ACK seq=0 ack=1" in card["drawn"]
        page.screenshot(tmp_path / "completed.png")

        page.click("#absolute")
        shown = page.evaluate("getComputedStyle(document.querySelector('.conn text.abs')).display")
        assert shown != "none"
        page.click("#clear")
        assert page.evaluate("document.querySelectorAll('.conn').length") == 0
        page.click("#pause")
        in_namespace(ns, CLIENT)
        wait_until(lambda: watch.out.text().count("Reading: ") == 2, timeout=15,
                   what="the terminal to show the second connection")
        assert page.evaluate("document.querySelectorAll('.conn').length") == 0, "paused: nothing drawn"
        page.click("#pause")
        wait_until(lambda: (c := card_state(page)) and c["event"] == "ended", timeout=10,
                   what="the held connection drawn on resume")


@pytest.mark.root
def test_refused_connection_is_red_with_the_terminal_explanation(private_loopback: Namespace,
                                                                  tmp_path: Path) -> None:
    ns = private_loopback
    with live("handshake", "--watch", str(PORT), "-i", "lo", "--web", netns=ns.name) as watch, \
            headless_browser(netns=ns.name) as browser:
        page = browser.open(watch.url)
        assert in_namespace(ns, REFUSED).stdout.strip() == "refused"
        card = wait_until(lambda: (c := card_state(page)) and c["event"] == "ended" and c, timeout=15,
                          what="the refused attempt drawn")
        assert card["flags"] == ["SYN", "RST,ACK"] and card["classes"] == ["seg syn", "seg rst"]
        assert card["outcome"] == "refused"
        assert card["notes"][0].startswith("refused: the SYN was answered with RST,ACK")
        note = card["notes"][0]  # the page and the terminal are two outputs: either may come first
        wait_until(lambda: note in watch.out.text(), timeout=10, what="the same explanation in the terminal")
        border = page.evaluate(f"getComputedStyle({CARD}).borderTopColor")
        assert border == "rgb(196, 0, 26)", "a refused connection stands out in red"
        page.screenshot(tmp_path / "refused.png")


@pytest.mark.root
def test_dropped_syn_is_drawn_at_each_retransmission(private_loopback: Namespace, tmp_path: Path) -> None:
    ns = private_loopback
    ns.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(PORT), "-j", "DROP")
    with live("handshake", "--watch", str(PORT), "-i", "lo", "--web", netns=ns.name) as watch, \
            headless_browser(netns=ns.name) as browser:
        page = browser.open(watch.url)
        attempt = ns.popen(sys.executable, "-c", (
            "import socket,sys\n"
            "try: socket.create_connection(('127.0.0.1', int(sys.argv[1])), 2.5)\n"
            "except TimeoutError: print('timed out')"), str(PORT))
        card = wait_until(lambda: (c := card_state(page)) and len(c["flags"]) >= 3 and c, timeout=15,
                          what="the SYN and two retransmissions drawn")
        out, _ = attempt.communicate(timeout=15)
        assert out.strip() == "timed out", "the DROP rule did not drop the SYN"
        assert card["outcome"] == "filtered" and card["event"] == "unanswered"
        assert set(card["flags"]) == {"SYN"} and set(card["classes"]) == {"seg syn lost"}
        assert card["notes"] == ["no answer yet: SYN sent 3 times (a firewall drops it, or no host is there)"]
        assert card["notes"][0] in watch.out.text()
        assert "retransmission #2" in card["drawn"]
        page.screenshot(tmp_path / "dropped.png")


def test_sockets_watch_moves_sockets_across_the_state_diagram(listener: int, tmp_path: Path) -> None:
    """A client connects to a listener that never accepts, then closes: FIN-WAIT-2 and CLOSE-WAIT."""
    with live("sockets", "--watch", "--port", str(listener), "--interval", "0.2", "--web") as watch, \
            headless_browser() as browser:
        page = browser.open(watch.url)

        def chips(state: str) -> list[str]:
            return page.evaluate(f"[...document.querySelectorAll('.state[data-state=\"{state}\"] .chip')]"
                                 ".map(c => c.textContent)") or []

        wait_until(lambda: chips("LISTEN"), timeout=15, what="the listener in the LISTEN box")
        client = socket.create_connection(("127.0.0.1", listener), 5)
        local = f"127.0.0.1:{client.getsockname()[1]}"
        wait_until(lambda: len(chips("ESTABLISHED")) == 2, timeout=15, what="both ends ESTABLISHED")
        page.screenshot(tmp_path / "sockets-established.png")
        client.close()
        moved = wait_until(lambda: [c for c in chips("FIN_WAIT_2") if c.startswith(local)], timeout=15,
                           what="the client's socket moved to FIN-WAIT-2")
        assert "was ESTABLISHED" in moved[0] or len(chips("CLOSE_WAIT")) == 1
        wait_until(lambda: len(chips("CLOSE_WAIT")) == 1, timeout=15, what="the server end in CLOSE-WAIT")
        page.screenshot(tmp_path / "sockets-closing.png")


@pytest.mark.root
def test_svg_export_renders_in_chromium(tmp_path: Path) -> None:
    with running_server("--mode", "echo") as server:
        result = run_netdiag("handshake", f"127.0.0.1:{server.port}", "-m", "hello", "--format", "svg")
    assert result.returncode == ExitStatus.OK, result.stderr
    root = ET.fromstring(result.stdout)  # valid XML
    flags = [g.get("data-flags") for g in root.iter("{http://www.w3.org/2000/svg}g")]
    assert flags[:3] == ["SYN", "SYN,ACK", "ACK"] and sum("FIN" in (f or "") for f in flags) == 2
    drawing = tmp_path / "handshake.svg"
    drawing.write_text(result.stdout)
    with headless_browser() as browser:
        page = browser.open(drawing.as_uri())
        size = wait_until(lambda: page.evaluate(
            "(() => { const s = document.querySelector('svg'); if (!s) return null;"
            " const b = s.getBBox(); return b.width * b.height; })()"), timeout=10, what="the SVG laid out")
        assert size > 100_000
        shot = page.screenshot(tmp_path / "handshake-svg.png")
    assert shot.stat().st_size > 10_000


def test_web_needs_a_watch_and_a_valid_address() -> None:
    for args in (["handshake", "127.0.0.1:9", "--web"], ["sockets", "--web"],
                 ["sockets", "--watch", "--web", "nonsense:port"], ["sockets", "--watch", "--web", "x:99999"],
                 ["handshake", "--watch", "9", "-f", "svg"]):
        result = invoke_netdiag(*args)
        assert result.returncode == ExitStatus.USAGE, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_help_does_not_load_the_web_server() -> None:
    probe = ("import sys; from netdiag.cli.main import main; code = main(['handshake', '--help']); "
             "print(sorted(m for m in sys.modules if m in ('netdiag.adapters.web.server', 'http.server')))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr


@pytest.mark.root
def test_every_interface_only_when_asked_with_a_warning(private_loopback: Namespace) -> None:
    """In a namespace the test made (only lo), so serving on every interface exposes nothing."""
    result = run_netdiag("sockets", "--watch", "--count", "1", "--web", "0.0.0.0:0",
                         netns=private_loopback.name)
    assert result.returncode == ExitStatus.OK, result.stderr
    assert "warning: the lecture page is served on every interface (0.0.0.0:0)" in result.stderr
    assert re.search(r"http://127\.0\.0\.1:\d+/ +\(lo\)", result.stderr), result.stderr
    default = run_netdiag("sockets", "--watch", "--count", "1", "--web", netns=private_loopback.name)
    assert re.search(r"Lecture page: http://127\.0\.0\.1:\d+/", default.stderr), default.stderr
    assert "warning" not in default.stderr


def test_a_web_port_in_use_is_explained(listener: int) -> None:
    result = run_netdiag("sockets", "--watch", "--count", "1", "--web", f"127.0.0.1:{listener}")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO, result.stderr
    assert f"Cannot serve the lecture page on 127.0.0.1:{listener}: the port is in use. Leave the port out " \
           "(--web alone picks a free one) or choose another." in result.stderr
    assert "Traceback" not in result.stderr
