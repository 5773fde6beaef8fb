"""A real headless Chromium driven over the DevTools protocol, through a pipe (no websocket, no library).

``--remote-debugging-pipe`` makes Chromium read protocol messages (JSON, each ending in a NUL byte) on
its file descriptor 3 and write its answers on 4. ``headless_browser()`` starts it, ``Page.open(url)``
opens a tab; tests then wait on DOM conditions with ``page.evaluate`` (through ``wait_until``) and take
screenshots with ``page.screenshot(path)``. Skips the test when Chromium is not installed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
PROTOCOL_TIMEOUT = 30.0


def chromium_path() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


class BrowserError(AssertionError):
    """Chromium answered with an error, or went away."""


class Browser:
    """One Chromium process and its protocol pipe."""

    def __init__(self, process: subprocess.Popen[bytes], to_browser: int, from_browser: int) -> None:
        self.process = process
        self._out = to_browser
        self._in = from_browser
        self._buffer = b""
        self._next_id = 0

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        """Send one command and return its result (events arriving meanwhile are skipped)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read_message()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def _read_message(self) -> dict[str, Any]:
        import select

        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._in], [], [], PROTOCOL_TIMEOUT)
            chunk = os.read(self._in, 1 << 20) if ready else b""
            if not chunk:
                raise BrowserError("Chromium did not answer (it exited, or hung)")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)  # type: ignore[no-any-return]

    def open(self, url: str, width: int = 1400, height: int = 1000) -> Page:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        page.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        page.call("Page.navigate", {"url": url})
        return page


class Page:
    """One tab: evaluate JavaScript, take screenshots."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self.browser.call(method, params, self.session)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-serialisable values only)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def screenshot(self, path: Path, *, scale: float = 0.6) -> Path:
        """A PNG of the viewport, scaled (0.6: small enough to keep, large enough to read)."""
        width, height = self.evaluate("[window.innerWidth, window.innerHeight]")
        params: dict[str, Any] = {"format": "png",
                                  "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": scale}}
        data = self.call("Page.captureScreenshot", params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def headless_browser(netns: str | None = None) -> Iterator[Browser]:
    """A headless Chromium for the duration of the block, inside network namespace ``netns`` when given
    (so it reaches that namespace's 127.0.0.1); skips the test when Chromium is not installed."""
    binary = chromium_path()
    if binary is None:
        pytest.skip("needs Chromium (Debian package chromium; ./dev test installs it)")
    to_read, to_browser = os.pipe()
    from_browser, to_write = os.pipe()

    def give_pipes() -> None:  # in the child: the protocol wants exactly fds 3 and 4
        read_end, write_end = os.dup(to_read), os.dup(to_write)
        os.dup2(read_end, 3)
        os.dup2(write_end, 4)

    profile = tempfile.mkdtemp(prefix="netdiag-chromium-")
    prefix = ["ip", "netns", "exec", netns] if netns else []
    process = subprocess.Popen(
        [*prefix, binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions",
         "--disable-background-networking", "--disable-sync", "--hide-scrollbars", "--mute-audio",
         f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
        preexec_fn=give_pipes, close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    os.close(to_read)
    os.close(to_write)
    browser = Browser(process, to_browser, from_browser)
    try:
        yield browser
    finally:
        with suppress(BrowserError, OSError):
            browser.call("Browser.close")
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        os.close(to_browser)
        os.close(from_browser)
        shutil.rmtree(profile, ignore_errors=True)
