"""`netdiag explain --pcap` on files that need no root: damaged, cut short, not captures, filters, -n.

The captures are made by hand (tests/helpers/pcap_bytes.py); those made by real tools are in
test_explain_pcap.py.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from helpers import pcap_bytes as pb
from helpers.cli import invoke_netdiag

from netdiag.core.exit_status import ExitStatus

C, S = "198.18.0.1", "198.18.0.2"


def frame(src: str, dst: str, sport: int, dport: int, flags: int, seq: int = 0, ack: int = 0,
          payload: bytes = b"") -> bytes:
    return pb.ethernet(pb.ipv4(src, dst, 6, pb.tcp(sport, dport, flags, seq, ack, payload)))


STORY = [
    frame(C, S, 40000, 80, pb.SYN, 100), frame(S, C, 80, 40000, pb.SYN | pb.ACK, 500, 101),
    frame(C, S, 40000, 80, pb.ACK, 101, 501), frame(C, S, 40000, 80, pb.FIN | pb.ACK, 101, 501),
    frame(S, C, 80, 40000, pb.FIN | pb.ACK, 501, 102), frame(C, S, 40000, 80, pb.ACK, 102, 502),
    frame(C, S, 40001, 81, pb.SYN, 7), frame(S, C, 81, 40001, pb.RST | pb.ACK, 0, 8),
]


def write(tmp_path: Path, data: bytes, name: str = "c.pcap") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def capture(frames: list[bytes] = STORY) -> bytes:
    return pb.pcap(1, [(1000.0 + i / 1000, f) for i, f in enumerate(frames)])


def test_text_report_table_then_the_failed_ladder(tmp_path: Path) -> None:
    result = invoke_netdiag("explain", "--pcap", write(tmp_path, capture()))
    assert result.returncode == ExitStatus.NETWORK_SAID_NO, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Capture ") and "8 packets" in lines[0]
    assert "2 connection(s) shown, 1 failed" in lines[0]
    assert "completed" in result.stdout and "refused" in result.stdout
    ladder = result.stdout.split("Connection 2:", 1)[1]
    assert "|--- SYN seq=0" in ladder and "|<-- RST,ACK seq=0 ack=1" in ladder
    assert "Connection 1:" not in result.stdout  # it went well: no ladder unless asked


def test_connection_n_draws_a_good_connection_and_filters_select(tmp_path: Path) -> None:
    path = write(tmp_path, capture())
    one = invoke_netdiag("explain", "--pcap", path, "--connection", "1")
    assert one.returncode == ExitStatus.OK
    assert "Connection 1:" in one.stdout and "|<-- FIN,ACK" in one.stdout
    doc = json.loads(invoke_netdiag("explain", "--pcap", path, "--port", "80", "-f", "json").stdout)
    assert [c["number"] for c in doc["connections"]] == [1] and doc["complete"] is True
    doc = json.loads(invoke_netdiag("explain", "--pcap", path, "--host", S, "-f", "json").stdout)
    assert [c["number"] for c in doc["connections"]] == [1, 2]
    missing = invoke_netdiag("explain", "--pcap", path, "--connection", "9")
    assert missing.returncode == ExitStatus.USAGE and "no connection 9" in missing.stderr


def test_cut_short_file_gives_a_partial_result_and_its_own_exit_code(tmp_path: Path) -> None:
    data = capture()
    result = invoke_netdiag("explain", "--pcap", write(tmp_path, data[:-10]), "-f", "json")
    assert result.returncode == ExitStatus.DAMAGED_INPUT
    assert "Traceback" not in result.stderr and "cut short" in result.stderr
    doc = json.loads(result.stdout)
    assert doc["complete"] is False and doc["packets"] == 7 and doc["damage_offset"] > 0
    assert [c["outcome"] for c in doc["connections"]] == ["completed", "no-answer"]


def test_corrupt_pcapng_block_gives_a_partial_result(tmp_path: Path) -> None:
    good = pb.pcapng_section() + pb.pcapng_interface(1) + pb.pcapng_packet(0, 10**6, STORY[0])
    data = good + b"\x06\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 40
    result = invoke_netdiag("explain", "--pcap", write(tmp_path, data, "c.pcapng"))
    assert result.returncode == ExitStatus.DAMAGED_INPUT
    assert "Traceback" not in result.stderr and f"damaged at byte {len(good)}" in result.stderr
    assert "1 packets" in result.stdout


def test_not_a_capture_missing_file_and_bad_options_are_usage_errors(tmp_path: Path) -> None:
    text = write(tmp_path, b"hello, this is text\n", "notes.txt")
    cases = [("--pcap", text), ("--pcap", str(tmp_path / "absent.pcap")), ("--pcap", str(tmp_path)),
             ("--pcap", text, "--host", "not-an-address"), ("127.0.0.1:80", "--port", "80"),
             ("--pcap", text, "--udp")]
    for args in cases:
        result = invoke_netdiag("explain", *args)
        assert result.returncode == ExitStatus.USAGE, (args, result.stderr)
        assert "Traceback" not in result.stderr and result.stderr.strip(), args


def test_reading_does_not_import_scapy(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write(tmp_path, capture())
    probe = ("import sys; from netdiag.cli.main import main; code = main(['explain', '--pcap', "
             f"{path!r}]); print(sorted(m for m in sys.modules if m.split('.')[0] == 'scapy'))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr


@pytest.mark.root
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
def test_reading_needs_no_privileges() -> None:
    """Run as nobody (setpriv drops every privilege): the file is read and explained all the same."""
    import subprocess

    from helpers.unprivileged import nobody_runtime

    folder = Path(tempfile.mkdtemp(prefix="netdiag-pcap-"))
    try:
        folder.chmod(0o755)
        path = folder / "c.pcap"
        path.write_bytes(capture())
        path.chmod(0o644)
        runtime = nobody_runtime()  # readable copies when the checkout is private (0700), or skip
        result = subprocess.run(runtime.argv("-m", "netdiag", "explain", "--pcap", str(path), "-f", "json"),
                                capture_output=True, text=True, timeout=60, env=runtime.env(), cwd="/")
        assert result.returncode == ExitStatus.NETWORK_SAID_NO, result.stderr
        outcomes = [c["outcome"] for c in json.loads(result.stdout)["connections"]]
        assert outcomes == ["completed", "refused"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
