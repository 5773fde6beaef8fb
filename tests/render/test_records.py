"""The one place formats are made: CSV and JSON say the same words for the same values."""

from __future__ import annotations

import csv
import io
import json

from netdiag.render.records import render_records


def test_csv_booleans_are_written_as_json_writes_them() -> None:
    records = [{"name": "lo", "loopback": True, "up": False, "speed": None}]
    text = render_records(records, "csv", ["name", "loopback", "up", "speed"])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == [{"name": "lo", "loopback": "true", "up": "false", "speed": "-"}]
    assert json.loads(render_records(records, "json", ["name"]))[0]["loopback"] is True
