"""How ``netdiag sockets`` looks: the listing, the summary, and the frames of ``--watch``.

The table joins address and port the way ss and netstat do (``127.0.0.1:8000``, ``[::1]:8000``, ``*`` for
"any"); JSON and CSV keep the stable separate fields of ``SOCKET_FIELDS``. ``--wide`` adds ``user`` and
``cmdline`` after them, so scripts reading the stable keys are never disturbed.

Process names, command lines, users and Unix socket paths are chosen by whoever runs the process (any
local user: ``exec -a``, ``prctl(PR_SET_NAME)``, ``bind()`` to any path), so the text formats (table,
``--wide``, CSV, the ``--watch`` frames) show every field through ``text.neutralise``: an escape sequence
or a bidi override in a name is printed as ``\\x1b[2J`` / ``\\u202e``, never acted on. JSON keeps the
exact values, those characters written as JSON escapes (``\\u202e``, ``\\u009b``; the encoder escapes
only C0 controls): a JSON reader gets the same text, a terminal showing the JSON nothing to act on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, Protocol

from netdiag.core.protocols.text import neutralise
from netdiag.core.sockets import SOCKET_FIELDS, SocketRow
from netdiag.core.targets import endpoint_host, format_endpoint
from netdiag.render.output import json_escape
from netdiag.render.records import cell, columns_table, lay_out, render_records, table_of
from netdiag.render.style import no_style

if TYPE_CHECKING:  # the summary and the watch load their modules when used: a plain listing never does
    from netdiag.core.socket_summary import SummaryLine
    from netdiag.core.socket_watch import SocketChange, WatchDelta

WIDE_FIELDS: tuple[str, ...] = ("user", "cmdline")
TABLE_COLUMNS = ("proto", "state", "local", "peer", "pid", "process")
TABLE_HEADERS = ("Proto", "State", "Local Address:Port", "Peer Address:Port", "PID", "Process")
WIDE_HEADERS = ("User", "Command")
# By ``socket_watch.Change`` value (a str enum: its members are these keys).
MARKS = {"same": " ", "appeared": "+", "state": "~", "gone": "-"}
MARK_STYLES = {"appeared": ("green", "bold"), "state": ("yellow", "bold"), "gone": ("red",)}


class Details(Protocol):
    """What ``--wide`` knows about a pid (``netdiag.adapters.listing.processes.ProcessDetails``)."""

    @property
    def user(self) -> str | None: ...

    @property
    def cmdline(self) -> str | None: ...


def socket_record(row: SocketRow) -> dict[str, Any]:
    """The JSON object of one socket (keys in ``SOCKET_FIELDS`` order: the documented, stable names).

    Written out rather than ``dataclasses.asdict``, which deep-copies every field: at 20,000 rows that
    copy alone took seconds.
    """
    return {"proto": row.proto, "family": row.family, "local_address": row.local_address,
            "local_port": row.local_port, "remote_address": row.remote_address,
            "remote_port": row.remote_port, "state": row.state, "pid": row.pid, "process": row.process}


def summary_record(line: SummaryLine) -> dict[str, object]:
    """``--summary``: one protocol in one state (``*``: all its states), counted per family."""
    return {"proto": line.proto, "state": line.state, "ipv4": line.ipv4, "ipv6": line.ipv6,
            "unix": line.unix, "total": line.total}


def socket_records(rows: Sequence[SocketRow], details: Mapping[int, Details] | None = None
                   ) -> list[dict[str, Any]]:
    """JSON/CSV records: the stable fields, plus ``user`` and ``cmdline`` with ``--wide``."""
    records = []
    for row in rows:
        record = socket_record(row)
        if details is not None:
            found = details.get(row.pid) if row.pid is not None else None
            record["user"] = found.user if found else None
            record["cmdline"] = found.cmdline if found else None
        records.append(record)
    return records


def render_sockets(rows: Sequence[SocketRow], fmt: str,
                   details: Mapping[int, Details] | None = None) -> str:
    """The listing in ``fmt`` (table, json or csv)."""
    if fmt == "json" and details is None:
        return _shown_json(_sockets_json(rows))
    if fmt == "table" and details is None and rows:
        cells, plain = _table_columns(rows)
        if plain:  # every cell is printable ASCII text without blanks: the layout needs no checks
            return lay_out(cells, TABLE_HEADERS)
        laid_out = columns_table(cells, TABLE_HEADERS)
        return laid_out if laid_out is not None else table_of(list(zip(*cells, strict=True)), TABLE_HEADERS)
    records = socket_records(rows, details)
    fields = SOCKET_FIELDS + (WIDE_FIELDS if details is not None else ())
    if fmt == "json":
        return _shown_json(records_json(records))
    if fmt == "csv":
        return render_records([_shown(record) for record in records], fmt, fields)
    table = [_table_record(_shown(record)) for record in records]
    columns = TABLE_COLUMNS + (WIDE_FIELDS if details is not None else ())
    headers = TABLE_HEADERS + (WIDE_HEADERS if details is not None else ())
    return render_records(table, "table", columns, headers)


def records_json(records: Sequence[Mapping[str, Any]]) -> str:
    """A JSON list with one socket object per line: ``grep`` and ``head`` work on it, and it is fast.

    Socket records hold only strings, numbers and None, so they go straight to the C encoder; the
    indented form of ``render_records`` runs json's pure-Python encoder, several seconds at 20,000 rows.
    """
    if not records:
        return "[]"
    return "[\n" + ",\n".join(map(_object_encoder(), records)) + "\n]"


class _Encoded(dict[str | None, str]):
    """Text values in their JSON form, each encoded once: a listing repeats the same few addresses,
    states and process names thousands of times."""

    def __missing__(self, value: str | None) -> str:
        encoded = self[value] = "null" if value is None else encode_basestring(value)
        return encoded


def _sockets_json(rows: Sequence[SocketRow]) -> str:
    """``json.dumps(socket_record(row), ensure_ascii=False)`` for each row, one per line, written directly:
    the keys are fixed, so only the values need encoding, and each distinct text is encoded once.
    Ports and pids are the plain ints the adapters give, written as json writes an int. At 20,000 rows
    this is 40% faster than a call per row and per field, and 4 times faster than a dict per row
    given to json's C encoder."""
    if not rows:
        return "[]"
    text = _Encoded()
    lines = [
        f'{{"proto": {text[r.proto]}, "family": {text[r.family]}, "local_address": {text[r.local_address]}, '
        f'"local_port": {"null" if r.local_port is None else r.local_port}, '
        f'"remote_address": {text[r.remote_address]}, '
        f'"remote_port": {"null" if r.remote_port is None else r.remote_port}, "state": {text[r.state]}, '
        f'"pid": {"null" if r.pid is None else r.pid}, "process": {text[r.process]}}}'
        for r in rows]
    lines[0] = "[\n" + lines[0]  # the brackets joined in: one copy of the 4 MB document, not three
    lines[-1] += "\n]"
    return ",\n".join(lines)


def _object_encoder() -> Callable[[Mapping[str, Any]], str]:
    """One flat JSON object to text, as ``json.dumps(ensure_ascii=False)`` writes it.

    ``JSONEncoder.encode`` builds a new C encoder for every call; at 20,000 rows that setup was most of
    the cost, so one C encoder is built and reused (the pure-Python one where the C module is missing).
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.JSONEncoder(ensure_ascii=False).encode
    encoder = make(None, None, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)
    return lambda record: "".join(encoder(record, 0))


def _shown_json(document: str) -> str:
    """A JSON document of ours with every unshown character (only ever inside a string) JSON-escaped."""
    if document.isascii() and "\x7f" not in document:  # the common case, at once: the encoder escaped C0
        return document
    return neutralise(document, keep="\n", escape=json_escape)


def _shown(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record for a text format: every text field as ``neutralise`` shows it (see the module)."""
    return {key: neutralise(value) if isinstance(value, str) else value for key, value in record.items()}


def _table_columns(rows: Sequence[SocketRow]) -> tuple[list[list[Any]], bool]:
    """The columns of the table (``TABLE_COLUMNS``), every text through ``neutralise``, and whether they
    are plain: all text, printable ASCII without blanks (the pids written too), as ``lay_out`` takes it.

    The common case at once: the columns are made straight from the rows, the endpoints as
    ``format_endpoint`` writes them (each address's host part made once, ``_Hosts``), and when all
    their text is shown as itself (one ``isprintable`` over the whole table) ``neutralise`` would have
    returned every field unchanged, so they are the answer. Otherwise each row goes through ``_shown``.
    """
    hosts = _Hosts()
    local = [f"{hosts[r.local_address]}:{r.local_port}" if r.local_port is not None
             else r.local_address or "*" for r in rows]
    peer = [f"{hosts[r.remote_address]}:{r.remote_port}" if r.remote_port is not None
            else r.remote_address or "*" for r in rows]
    protos, states = [r.proto for r in rows], [r.state for r in rows]
    processes = ["-" if r.process is None else r.process for r in rows]
    text = "".join(chain(protos, states, local, peer, processes))
    if not text.isprintable():
        records = [_table_record(_shown(socket_record(row))) for row in rows]
        return [[cell(record[column]) for record in records] for column in TABLE_COLUMNS], False
    if text.isascii() and " " not in text:
        pids = ["-" if r.pid is None else str(r.pid) for r in rows]
        return [protos, states, local, peer, pids, processes], True
    return [protos, states, local, peer, ["-" if r.pid is None else r.pid for r in rows], processes], False


class _Hosts(dict[str | None, str]):
    """Each address's ``endpoint_host`` (``*``, ``[::1]``), made once per address: a listing repeats the
    same few addresses thousands of times."""

    def __missing__(self, address: str | None) -> str:
        host = self[address] = endpoint_host(address)
        return host


def _table_record(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **record,
        "local": format_endpoint(record["local_address"], record["local_port"]),
        "peer": format_endpoint(record["remote_address"], record["remote_port"]),
    }


def render_summary(lines: Sequence[SummaryLine], fmt: str) -> str:
    """``--summary``: counts per protocol and state; state ``*`` is the protocol's total."""
    from netdiag.core.socket_summary import SUMMARY_FIELDS

    total = sum(line.total for line in lines if line.state == "*")
    records = [summary_record(line) for line in lines]
    if fmt in ("json", "csv"):
        return render_records(records, fmt, SUMMARY_FIELDS)
    table = render_records(
        [{**r, "state": "(all)" if r["state"] == "*" else r["state"]} for r in records], "table",
        SUMMARY_FIELDS, ("Proto", "State", "IPv4", "IPv6", "Unix", "Total"),
    )
    return f"Total: {total} sockets\n\n{table}" if records else f"Total: {total} sockets"


class Styler(Protocol):
    def __call__(self, text: str, *styles: str) -> str: ...


def render_watch_frame(delta: WatchDelta, *, refresh: int, clock: str, interval: float,
                       style: Styler = no_style) -> str:
    """One refresh of ``--watch``: a header with what changed, then the table with a mark per row.

    ``+`` appeared, ``~`` changed state (the State column says from what), ``-`` went away since the
    previous refresh. The first refresh marks nothing.
    """
    from netdiag.core.socket_watch import Change

    records = [_watch_record(change, style) for change in delta.changes]
    table = render_records(records, "table", ("mark", *TABLE_COLUMNS), (" ", *TABLE_HEADERS)) \
        if records else "(no socket matches)"
    if refresh == 1:
        what = f"{len(delta.changes)} sockets"
    else:
        what = (f"{delta.count(Change.APPEARED)} appeared, {delta.count(Change.STATE)} changed state, "
                f"{delta.count(Change.GONE)} went away")
    header = (f"netdiag sockets --watch  refresh {refresh} at {clock}  every {interval:g}s  {what}  "
              "(+ appeared, ~ changed state, - went away; Ctrl-C stops)")
    return f"{header}\n{table}"


def _watch_record(change: SocketChange, style: Styler) -> dict[str, Any]:
    from netdiag.core.socket_watch import Change

    record = _table_record(_shown(socket_record(change.row)))
    mark = MARKS[change.change]
    state = record["state"]
    if change.change is Change.STATE:
        state = f"{change.previous_state} -> {state}"
    if change.change is not Change.SAME:
        styles = MARK_STYLES[change.change]
        mark, state = style(mark, *styles), style(state, *styles)
    return {**record, "mark": mark, "state": state}


def watch_events(delta: WatchDelta, *, refresh: int, time: float) -> list[str]:
    """``--watch --format json``: one JSON object per line for each change (the first refresh: every row)."""
    from netdiag.core.socket_watch import Change

    lines = []
    for change in delta.changes:
        if refresh > 1 and change.change is Change.SAME:
            continue
        event = {"refresh": refresh, "time": round(time, 3),
                 "change": "present" if refresh == 1 else change.change.value,
                 "previous_state": change.previous_state, **socket_record(change.row)}
        lines.append(_shown_json(json.dumps(event)))
    return lines
