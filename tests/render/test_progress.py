from __future__ import annotations

import io

from netdiag.render.progress import SHOW_FROM, progress_bar


def test_no_bar_into_a_pipe_or_for_short_work() -> None:
    assert progress_bar(io.StringIO(), interactive=False, total=65535, label="x") is None
    assert progress_bar(io.StringIO(), interactive=True, total=SHOW_FROM - 1, label="x") is None


def test_bar_redraws_in_place_and_erases_itself() -> None:
    stream = io.StringIO()
    bar = progress_bar(stream, interactive=True, total=1000, label="probing")
    assert bar is not None
    bar.update(500, 1000)
    bar.update(1000, 1000)
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") == 3 and "\n" not in text
    assert "probing [###############...............] 500/1000  50%" in text
    assert text.endswith("\r\x1b[K")
