"""`netdiag explain --pcap FILE --format svg|html`: a capture's connection drawn for slides (no root).

The captures are made by hand (tests/helpers/pcap_bytes.py); the drawing is the one of
`handshake --format svg` (render/ladder.py), so it is checked against the JSON of the same connection.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import pcap_bytes as pb
from helpers.browser import chromium_path
from helpers.cli import invoke_netdiag

from netdiag.core.exit_status import ExitStatus

SVG = "{http://www.w3.org/2000/svg}"
C, S = "198.18.0.1", "198.18.0.2"


def frame(src: str, dst: str, sport: int, dport: int, flags: int, seq: int = 0, ack: int = 0,
          payload: bytes = b"") -> bytes:
    return pb.ethernet(pb.ipv4(src, dst, 6, pb.tcp(sport, dport, flags, seq, ack, payload)))


GOOD = [  # connection 1: handshake, 5 bytes of data, both FINs
    frame(C, S, 40000, 80, pb.SYN, 100), frame(S, C, 80, 40000, pb.SYN | pb.ACK, 500, 101),
    frame(C, S, 40000, 80, pb.ACK, 101, 501), frame(C, S, 40000, 80, pb.PSH | pb.ACK, 101, 501, b"hello"),
    frame(S, C, 80, 40000, pb.ACK, 501, 106), frame(C, S, 40000, 80, pb.FIN | pb.ACK, 106, 501),
    frame(S, C, 80, 40000, pb.FIN | pb.ACK, 501, 107), frame(C, S, 40000, 80, pb.ACK, 107, 502),
]
REFUSED = [frame(C, S, 40001, 81, pb.SYN, 7), frame(S, C, 81, 40001, pb.RST | pb.ACK, 0, 8)]  # connection 2
UNANSWERED = [frame(C, S, 40002, 82, pb.SYN, 9), frame(C, S, 40002, 82, pb.SYN, 9)]  # connection 3


def write(tmp_path: Path, frames: list[bytes], name: str = "c.pcap") -> str:
    path = tmp_path / name
    path.write_bytes(pb.pcap(1, [(1000.0 + i / 1000, f) for i, f in enumerate(frames)]))
    return str(path)


def arrows(svg: str) -> list[dict[str, str]]:
    root = ET.fromstring(svg)  # valid XML, or this raises
    assert root.tag == f"{SVG}svg"
    return [g.attrib for g in root.iter(f"{SVG}g") if "seg" in g.attrib.get("class", "").split()]


def json_segments(path: str, number: int) -> list[dict[str, object]]:
    doc = json.loads(invoke_netdiag("explain", "--pcap", path, "--connection", str(number), "-f",
                                    "json").stdout)
    (record,) = [c for c in doc["connections"] if c["number"] == number]
    segments: list[dict[str, object]] = record["segments"]
    return segments


def assert_same_segments(svg: str, segments: list[dict[str, object]]) -> None:
    drawn = arrows(svg)
    assert len(drawn) == len(segments) > 0
    for arrow, record in zip(drawn, segments, strict=True):
        assert arrow["data-flags"] == record["flags"]
        assert arrow["data-direction"] == record["direction"]
        assert int(arrow["data-seq"]) == record["seq"] and int(arrow["data-rseq"]) == record["relative_seq"]
        assert arrow["data-ack"] == ("" if record["ack"] is None else str(record["ack"]))
        assert int(arrow["data-len"]) == record["len"]


def test_connection_n_as_svg_carries_the_json_segments(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + REFUSED)
    result = invoke_netdiag("explain", "--pcap", path, "--connection", "1", "--format", "svg")
    assert result.returncode == ExitStatus.OK, result.stderr
    assert_same_segments(result.stdout, json_segments(path, 1))
    assert [a["data-flags"] for a in arrows(result.stdout)][:4] == ["SYN", "SYN,ACK", "ACK", "PSH,ACK"]
    text = "".join(ET.fromstring(result.stdout).itertext())
    assert "198.18.0.1:40000" in text and "198.18.0.2:80" in text
    assert "Connection 1: completed" in text and "Reading:" in text


def test_without_connection_the_one_failure_is_drawn(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + REFUSED)
    result = invoke_netdiag("explain", "--pcap", path, "-f", "svg")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO, result.stderr
    assert_same_segments(result.stdout, json_segments(path, 2))
    assert [a["class"] for a in arrows(result.stdout)] == ["seg syn", "seg rst"]
    text = "".join(ET.fromstring(result.stdout).itertext())
    assert "refused" in text and "First fix:" in text


def test_unanswered_syns_are_crossed_out(tmp_path: Path) -> None:
    result = invoke_netdiag("explain", "--pcap", write(tmp_path, GOOD + UNANSWERED), "-f", "svg")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO, result.stderr
    assert [a["class"] for a in arrows(result.stdout)] == ["seg syn lost"] * 2


def test_html_is_a_self_contained_page(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + REFUSED)
    result = invoke_netdiag("explain", "--pcap", path, "--connection", "2", "--format", "html")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO, result.stderr
    page = result.stdout
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "</html>" in page
    for external in ("http://", "https://", "//cdn", "<link", "<script", "src="):
        assert external not in page.replace("http://www.w3.org/2000/svg", ""), external
    svg = page[page.index("<svg"):page.index("</svg>") + len("</svg>")]
    assert_same_segments(svg, json_segments(path, 2))


def test_drawing_needs_pcap_and_one_connection(tmp_path: Path) -> None:
    two_failed = write(tmp_path, GOOD + REFUSED + UNANSWERED)
    cases = [(("127.0.0.1:9", "-f", "svg"), "--pcap"), (("--error", "ECONNREFUSED", "-f", "html"), "--pcap"),
             (("--pcap", two_failed, "-f", "svg"), "--connection"),
             (("--pcap", write(tmp_path, GOOD, "good.pcap"), "-f", "html"), "--connection")]
    for args, said in cases:
        result = invoke_netdiag("explain", *args)
        assert result.returncode == ExitStatus.USAGE, (args, result.stderr)
        assert said in result.stderr and "Traceback" not in result.stderr and not result.stdout, args
    drawn = invoke_netdiag("explain", "--pcap", two_failed, "-f", "svg")
    assert "2 connections failed (2, 3)" in drawn.stderr


def test_a_udp_flow_has_no_ladder(tmp_path: Path) -> None:
    udp = pb.ethernet(pb.ipv4(C, S, 17, pb.udp(5000, 53, b"q")))
    result = invoke_netdiag("explain", "--pcap", write(tmp_path, [udp]), "--connection", "1", "-f", "svg")
    assert result.returncode == ExitStatus.USAGE and "UDP flow" in result.stderr, result.stderr


@pytest.mark.skipif(chromium_path() is None, reason="needs chromium")
def test_svg_from_a_capture_renders_in_chromium(tmp_path: Path) -> None:
    from helpers.browser import headless_browser
    from helpers.waiting import wait_until

    result = invoke_netdiag("explain", "--pcap", write(tmp_path, GOOD + REFUSED), "-n", "1", "-f", "svg")
    drawing = tmp_path / "connection1.svg"
    drawing.write_text(result.stdout)
    with headless_browser() as browser:
        page = browser.open(drawing.as_uri())
        size = wait_until(lambda: page.evaluate(
            "(() => { const s = document.querySelector('svg'); if (!s) return null;"
            " const b = s.getBBox(); return b.width * b.height; })()"), timeout=10, what="the SVG laid out")
        assert size > 100_000


def test_a_long_connection_and_an_icmp_error_are_said_under_the_arrows(tmp_path: Path) -> None:
    """The arrows are the kept segments (first and last ones, as in the JSON); the notes say what is not."""
    data = [frame(C, S, 40000, 80, pb.PSH | pb.ACK, 101 + i, 501, b"x") for i in range(60)]
    syn = pb.ipv4(C, S, 6, pb.tcp(40003, 9001, pb.SYN, 11))
    icmp = pb.ethernet(pb.ipv4(S, C, 1, pb.icmp4_unreachable(13, syn)))
    path = write(tmp_path, GOOD[:3] + data + GOOD[5:] + [pb.ethernet(syn), icmp])
    long = invoke_netdiag("explain", "--pcap", path, "-n", "1", "-f", "svg")
    assert long.returncode == ExitStatus.OK, long.stderr
    doc = json.loads(invoke_netdiag("explain", "--pcap", path, "-n", "1", "-f", "json").stdout)
    left_out = doc["connections"][0]["segments_left_out"]
    assert left_out > 0
    assert_same_segments(long.stdout, json_segments(path, 1))
    assert f"{left_out} segments between the first 24" in "".join(ET.fromstring(long.stdout).itertext())
    rejected = invoke_netdiag("explain", "--pcap", path, "-f", "svg")  # connection 2 is the one failure
    assert rejected.returncode == ExitStatus.NETWORK_SAID_NO, rejected.stderr
    text = "".join(ET.fromstring(rejected.stdout).itertext())
    assert "ICMP communication administratively prohibited" in text and "firewall-reject" in text
