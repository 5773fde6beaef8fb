"""The ladder drawing on in-memory segments: valid SVG, the same segments as the JSON, the same notes as
the terminal (no root, no socket)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from netdiag.core.connection_tracker import ConnectionTracker, WatchEvent, WatchEventKind
from netdiag.core.handshake import Segment, TcpOptions, analyse_connection
from netdiag.core.watch_notes import event_notes
from netdiag.render.ladder import Numbers, ladder_html, ladder_svg, summary_notes
from netdiag.render.lecture import handshake_update, lecture_page
from netdiag.render.sequence import analysis_document

SVG = "{http://www.w3.org/2000/svg}"
CLIENT = ("127.0.0.1", 50000)
SERVER = ("127.0.0.1", 8000)
C, S = 4_294_967_000, 1_000


def seg(t: float, to_server: bool, flags: str, seq: int, ack: int = 0, length: int = 0) -> Segment:
    src, dst = (CLIENT, SERVER) if to_server else (SERVER, CLIENT)
    return Segment(time=100.0 + t, src=src[0], sport=src[1], dst=dst[0], dport=dst[1], flags=flags,
                   seq=seq % 2**32, ack=ack % 2**32, length=length, window=65495,
                   options=TcpOptions(mss=65495) if "S" in flags else TcpOptions())


CONVERSATION = [
    seg(0.0, True, "S", C), seg(0.0001, False, "SA", S, C + 1), seg(0.0002, True, "A", C + 1, S + 1),
    seg(0.01, True, "PA", C + 1, S + 1, 5), seg(0.011, False, "A", S + 1, C + 6),
    seg(0.02, True, "FA", C + 6, S + 1), seg(0.021, False, "FA", S + 1, C + 7),
    seg(0.022, True, "A", C + 7, S + 2),
]
REFUSED = [seg(0.0, True, "S", C), seg(0.00001, False, "RA", 0, C + 1)]
DROPPED = [seg(0.0, True, "S", C), seg(1.0, True, "S", C), seg(2.0, True, "S", C)]


def arrows(svg: str) -> list[dict[str, str]]:
    root = ET.fromstring(svg)
    return [g.attrib for g in root.iter(f"{SVG}g") if "seg" in g.attrib.get("class", "").split()]


def test_svg_is_xml_and_carries_the_json_segments() -> None:
    analysis = analyse_connection(CONVERSATION)
    svg = ladder_svg(analysis, notes=summary_notes(analysis))
    drawn = arrows(svg)
    expected = analysis_document(analysis)["segments"]
    assert len(drawn) == len(expected) == 8
    for arrow, record in zip(drawn, expected, strict=True):
        assert arrow["data-flags"] == record["flags"]
        assert arrow["data-direction"] == record["direction"]
        assert int(arrow["data-seq"]) == record["seq"] and int(arrow["data-rseq"]) == record["relative_seq"]
        assert arrow["data-ack"] == ("" if record["ack"] is None else str(record["ack"]))
        assert int(arrow["data-len"]) == record["len"]
    text = "".join(ET.fromstring(svg).itertext())
    assert "SYN,ACK seq=0 ack=1" in text and "Reading: 8 segments" in text
    assert f"seq={C}" not in text, "relative numbers unless asked"


def test_absolute_and_both_numbers() -> None:
    analysis = analyse_connection(CONVERSATION)
    absolute = "".join(ET.fromstring(ladder_svg(analysis, numbers=Numbers.ABSOLUTE)).itertext())
    assert f"SYN seq={C} ack=-" in absolute and "seq=0 ack=-" not in absolute
    both = ET.fromstring(ladder_svg(analysis, numbers=Numbers.BOTH))
    classes = [t.attrib.get("class") for t in both.iter(f"{SVG}text")]
    assert classes.count("rel") == classes.count("abs") == 8


def test_refused_is_red_and_dropped_syns_are_crossed_out() -> None:
    refused = arrows(ladder_svg(analyse_connection(REFUSED)))
    assert [a["class"] for a in refused] == ["seg syn", "seg rst"]
    dropped = ladder_svg(analyse_connection(DROPPED), notes=[("warning", "no answer yet")])
    assert [a["class"] for a in arrows(dropped)] == ["seg syn lost"] * 3
    assert dropped.count('class="cross"') == 3 and 'class="note warning"' in dropped
    assert "retransmission #2" in "".join(ET.fromstring(dropped).itertext())


def test_html_export_is_self_contained() -> None:
    page = ladder_html(analyse_connection(CONVERSATION))
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def events_for(segments: list[Segment]) -> list[WatchEvent]:
    tracker = ConnectionTracker()
    return [event for s in segments for event in tracker.feed(s)]


def test_page_update_says_what_the_terminal_says() -> None:
    """Every explanation line the terminal prints under an event is in the page's update, word for word."""
    for segments in (CONVERSATION, REFUSED, DROPPED):
        for event in events_for(segments):
            update = json.loads(handshake_update(event))
            lines = [n["text"] for n in update["notes"]]
            assert [text for _, text in event_notes(event)] == lines[-len(event_notes(event)):]
            drawn = "".join(ET.fromstring(update["svg"]).itertext())
            for line in lines:
                assert line.split()[0] in drawn
    ended = events_for(REFUSED)[-1]
    assert ended.kind is WatchEventKind.ENDED
    notes = [n["text"] for n in json.loads(handshake_update(ended))["notes"]]
    assert notes[0].startswith("refused: the SYN was answered with RST,ACK")
    assert notes[1].startswith("Reading:")
    unanswered = json.loads(handshake_update(events_for(DROPPED)[-1]))
    assert unanswered["event"] == "unanswered" and unanswered["notes"][0]["tone"] == "warning"


def test_the_page_is_package_data_without_external_resources() -> None:
    page = lecture_page().decode()
    assert "EventSource(\"/events\")" in page
    for external in ("http://", "https://", "//cdn", "<link"):
        assert external not in page.replace("http://www.w3.org/2000/svg", "")
