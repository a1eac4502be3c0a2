"""The rows of every analysis table, computed from transcripts, scenario results and recorded tests.

Pure functions: no DuckDB, no files, no clock. :func:`table_records` yields every table's rows as
*records*, one transcript, result or recorded test at a time, so that :mod:`harness.analysis.db`
can write each record as one NDJSON line and load the lines (with the explicit column types of
``load.sql``) without ever holding every row. A record is a plain dict keyed by the table's
column names (``schema.sql``): one row, except for the tables that grow with the length of a
recording or an event log (:data:`BLOCK_TABLES`: ``frames``, ``events``, ``test_events``). There
it is a *block* of up to :data:`BLOCK_ROWS` rows of one transcript, scenario or log: the key
columns hold one value for the whole block, every other column a list with one value per row,
which ``load.sql`` unnests. :func:`record_rows` turns a record back into rows and
:func:`collect_rows` gathers every table's rows in memory. Row order is the insertion order, so
the same inputs always give the same tables.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from harness.core.event_log import concrete_path, value_at
from harness.core.events import StoredEvent
from harness.errors import UnknownProtocolError, UsageError
from harness.scenario.recorded import RecordedTest
from harness.scenario.runner import ScenarioResult
from harness.transcript import EmitInbound, RuntimeExit, Transcript
from harness.transcript.protocols import get_protocol

Row = dict[str, Any]
#: One line of a table's row file: a row, or for :data:`BLOCK_TABLES` a block of rows.
Record = dict[str, Any]

#: The tables in load order; ``schema.sql`` creates them and ``load.sql`` names one INSERT each.
TABLES: tuple[str, ...] = (
    "transcripts",
    "frames",
    "verdicts",
    "events",
    "runs",
    "failures",
    "violations",
    "unused_goldens",
    "tests",
    "test_transcripts",
    "test_events",
    "test_violations",
    "test_goldens",
)

#: The tables whose records are blocks, with their key columns: one value for every row of the
#: block. Every other column of a block is a list with one value per row.
BLOCK_TABLES: Mapping[str, tuple[str, ...]] = {
    "frames": ("transcript_id",),
    "events": ("scenario",),
    "test_events": ("nodeid", "log"),
}

#: The most rows in one block: a longer recording or log is split into several blocks, which keeps
#: lines (and what DuckDB must buffer to read one) short.
BLOCK_ROWS = 2048

#: sse ``data.type`` values that open a new exchange in a recording without outbound entries:
#: Anthropic's ``message_start`` and OpenAI Responses' ``response.created``.
STREAM_START_TYPES = frozenset({"message_start", "response.created"})


@dataclass(slots=True)
class TableRows:
    """Rows for every table, keyed by table name, in insertion order."""

    tables: dict[str, list[Row]] = field(default_factory=lambda: {name: [] for name in TABLES})

    def __getitem__(self, table: str) -> list[Row]:
        return self.tables[table]


def display_path(path: str | PurePath, base: Path) -> str:
    """``path`` as stored in the database: relative to ``base`` when it lies under it, POSIX style.

    Relative paths are normalised (``scenarios/x/../../transcripts/t.ndjson`` becomes
    ``transcripts/t.ndjson``); an absolute path outside ``base`` stays absolute, since no
    relative form would survive a change of directory anyway.

    >>> display_path("/repo/transcripts/a.ndjson", Path("/repo"))
    'transcripts/a.ndjson'
    >>> display_path("scenarios/anthropic/../../transcripts/a.ndjson", Path("/repo"))
    'transcripts/a.ndjson'
    """
    normal = Path(os.path.normpath(path))
    if normal.is_absolute():
        for root in (base, base.resolve()):
            try:
                return normal.relative_to(root).as_posix()
            except ValueError:
                continue
    return normal.as_posix()


def transcript_id_of(transcript: Transcript, *, base: Path, ids: Mapping[str, str] | None = None) -> str:
    """The id a transcript gets: ``ids[transcript.path]`` when given, else its display path.

    A transcript built in memory (no path) is ``memory:<header.scenario>``.
    """
    if transcript.path is not None:
        if ids is not None and transcript.path in ids:
            return ids[transcript.path]
        return display_path(transcript.path, base)
    return f"memory:{transcript.header.scenario}"


def _transport(protocol: str) -> str | None:
    try:
        return get_protocol(protocol).transport
    except UnknownProtocolError:
        return None


def record_rows(table: str, record: Record) -> list[Row]:
    """The rows of one of ``table``'s records: the record itself, or every row of a block, in order."""
    keys = BLOCK_TABLES.get(table)
    if keys is None:
        return [record]
    key = {column: record[column] for column in keys}
    lists = [(column, values) for column, values in record.items() if column not in keys]
    return [{**key, **{column: values[i] for column, values in lists}} for i in range(len(lists[0][1]))]


def _blocks(key: Record, columns: Mapping[str, Sequence[Any]]) -> Iterator[Record]:
    """Equal-length ``columns`` under ``key``, in blocks of at most :data:`BLOCK_ROWS` rows."""
    length = len(next(iter(columns.values())))
    if 0 < length <= BLOCK_ROWS:
        yield {**key, **columns}
        return
    for start in range(0, length, BLOCK_ROWS):
        yield {**key, **{column: values[start : start + BLOCK_ROWS] for column, values in columns.items()}}


def _positions(values: list[Any], wanted: Any) -> Iterator[int]:
    """The indexes of ``wanted`` in ``values``, in order (found by ``list.index``, not a Python loop)."""
    start = 0
    while True:
        try:
            start = values.index(wanted, start) + 1
        except ValueError:
            return
        yield start - 1


def _gather(records: Iterator[tuple[str, Record]], tables: Sequence[str]) -> dict[str, list[Row]]:
    rows: dict[str, list[Row]] = {table: [] for table in tables}
    for table, record in records:
        rows[table].extend(record_rows(table, record))
    return rows


def transcript_records(transcript: Transcript, transcript_id: str, *, base: Path) -> Iterator[tuple[str, Record]]:
    """The ``frames`` blocks of one transcript, then its ``transcripts`` row, as ``(table, record)``.

    The entries are read a block of :data:`BLOCK_ROWS` at a time (an indexed transcript's frames
    come back from disk as they are read), so a long recording is never held whole.

    ``exchange`` numbers request/response exchanges from 1. With outbound entries, each
    ``expect_outbound`` starts one (for HTTP that is each ``http.request``); without them, each
    inbound sse frame whose ``data.type`` is in :data:`STREAM_START_TYPES` does. Entries before
    the first start belong to exchange 1.
    """
    header = transcript.header
    transport = _transport(header.protocol)
    http = transport == "http"
    stream_only = not transcript.has_outbound
    entries = transcript.entries
    count = len(entries)
    exchange = 0
    exit_status: str | None = None
    outbound = inbound = 0
    for start in range(0, count, BLOCK_ROWS):
        directions: list[str] = []
        labels: list[str | None] = []
        kinds: list[str | None] = []
        sse_events: list[str | None] = []
        data_types: list[str | None] = []
        after_mss: list[int | None] = []
        exchanges: list[int] = []
        frames: list[Any] = []
        # One pass, no calls per entry beyond dict.get: this loop is the Python cost of a frame.
        for entry in entries[start : start + BLOCK_ROWS]:
            sse_event = data_type = after_ms = label = None
            kind: str | None
            if isinstance(entry, RuntimeExit):
                direction = "exit"
                kind = exit_status = entry.status
                frame: Any = {"status": entry.status, "error": entry.error}
            else:
                frame = entry.frame
                label = entry.label
                kind = None
                if isinstance(frame, dict):
                    if http:
                        kind = frame.get("kind")
                    else:
                        kind = frame.get("method")
                        if not (kind and isinstance(kind, str)):
                            kind = frame.get("type")
                    if not isinstance(kind, str):
                        kind = None
                    elif kind == "sse":
                        sse_event = frame.get("event")
                        if not isinstance(sse_event, str):
                            sse_event = None
                        data = frame.get("data")
                        if isinstance(data, dict):
                            data_type = data.get("type")
                            if not isinstance(data_type, str):
                                data_type = None
                if isinstance(entry, EmitInbound):
                    direction = "inbound"
                    inbound += 1
                    after_ms = entry.after_ms
                    if stream_only and data_type in STREAM_START_TYPES:
                        exchange += 1
                else:
                    direction = "outbound"
                    outbound += 1
                    exchange += 1
            directions.append(direction)
            labels.append(label)
            kinds.append(kind)
            sse_events.append(sse_event)
            data_types.append(data_type)
            after_mss.append(after_ms)
            exchanges.append(exchange or 1)
            frames.append(frame)
        size = len(frames)
        lines = list(transcript.lines[start : start + size])
        yield (
            "frames",
            {
                "transcript_id": transcript_id,
                "entry_index": list(range(start, start + size)),
                "line": lines + [None] * (size - len(lines)),  # as Transcript.line_of
                "direction": directions,
                "label": labels,
                "kind": kinds,
                "sse_event": sse_events,
                "data_type": data_types,
                "after_ms": after_mss,
                "exchange": exchanges,
                "frame": frames,
            },
        )
    yield (
        "transcripts",
        {
            "transcript_id": transcript_id,
            "path": display_path(transcript.path, base) if transcript.path is not None else None,
            "provider": header.provider,
            "protocol": header.protocol,
            "transport": transport,
            "version": header.version,
            "scenario": header.scenario,
            "metadata": header.metadata,
            "entry_count": count,
            "outbound_count": outbound,
            "inbound_count": inbound,
            "exit_status": exit_status,
        },
    )


def transcript_rows(transcript: Transcript, transcript_id: str, *, base: Path) -> tuple[Row, list[Row]]:
    """The ``transcripts`` row and the ``frames`` rows of one transcript (:func:`transcript_records`)."""
    frames: list[Row] = []
    row: Row = {}
    for table, record in transcript_records(transcript, transcript_id, base=base):
        if table == "frames":
            frames.extend(record_rows("frames", record))
        else:
            row = record
    return row, frames


def result_records(
    result: ScenarioResult, *, position: int, transcript_id: str, base: Path, variant_of: str | None = None
) -> Iterator[tuple[str, Record]]:
    """The ``verdicts``, ``events``, ``runs``, ``failures`` and ``violations`` records of one result
    (``variant_of``: the scenario whose variant it is)."""
    scenario = result.scenario
    name = scenario.name
    execution = result.execution
    # A provider-neutral scenario's own row holds its verdict (parity included); its variants'
    # rows, added separately, hold the events, runs and violations.
    protocol = (
        "+".join(sorted({v.execution.transcript.protocol for v in result.variants}))
        if result.variants
        else execution.transcript.protocol
    )
    yield (
        "verdicts",
        {
            "scenario": name,
            "position": position,
            "scenario_path": display_path(scenario.source, base) if scenario.source else None,
            "transcript_id": transcript_id,
            "protocol": protocol,
            "status": result.status,
            "failure_count": len(result.failures),
            "golden_path": display_path(result.golden_path, base) if result.golden_path is not None else None,
            "golden_outcome": result.golden_outcome,
            "reproduce": result.reproduce,
            "variant_of": variant_of,
        },
    )
    # The log is read from the store a block at a time (a spilled log is never held whole); one
    # comprehension per column: a slot read in a comprehension beats attrgetter and map.
    created: dict[str, int] = {}
    protocol_violations: list[StoredEvent] = []
    log = iter(()) if result.variants else execution.iter_events()
    while events := list(itertools.islice(log, BLOCK_ROWS)):
        columns: dict[str, list[Any]] = {
            "sequence": [e.sequence for e in events],
            "event_id": [e.event_id for e in events],
            "type": [e.type for e in events],
            "thread_id": [e.thread_id for e in events],
            "run_id": [e.run_id for e in events],
            "command_id": [e.command_id for e in events],
            "at_ms": [e.at_ms for e in events],
            "data": [e.data for e in events],
        }
        for i in _positions(columns["type"], "run.created"):
            created[str(events[i].data.get("run_id"))] = events[i].sequence
        protocol_violations.extend(events[i] for i in _positions(columns["type"], "protocol.violation"))
        yield "events", {"scenario": name, **columns}
    turns: dict[str, list[dict[str, Any]]] = {}
    for turn in [] if result.variants else execution.orchestrator.projection.provider_turns.values():
        turns.setdefault(str(turn.get("run_id")), []).append(turn)
    for run in [] if result.variants else execution.runs:
        error = run.get("error") or {}
        # Each request of an HTTP loop (each attempt of a runtime) is a provider turn; a turn that
        # began a response knows the response's native id or model.
        run_turns = turns.get(run["run_id"], [])
        answered = [t for t in run_turns if t.get("native_ref") is not None or t.get("model") is not None]
        yield (
            "runs",
            {
                "scenario": name,
                "run_id": run["run_id"],
                "thread_id": run.get("thread_id"),
                "protocol": execution.transcript.protocol,
                "ordinal": run["ordinal"],
                "created_sequence": created.get(run["run_id"]),
                "status": run["status"],
                "stop_reason": run.get("stop_reason"),
                "error_type": error.get("type"),
                "error_message": error.get("message"),
                "requests": len(run_turns),
                "responses": len(answered),
            },
        )
    for ordinal, failure in enumerate(result.failures, start=1):
        yield (
            "failures",
            {
                "scenario": name,
                "ordinal": ordinal,
                "kind": failure.kind,
                "message": failure.message,
                "detail": failure.detail,
            },
        )
    violation_rows: list[Row] = []
    for violation in [] if result.variants else result.invariant_violations:
        violation_rows.append(
            {
                "scenario": name,
                "source": "invariant",
                "rule": violation.rule,
                "severity": violation.severity,
                "sequence": violation.sequence,
                "message": violation.message,
                "run_id": violation.run_id,
                "detail": {"subject": violation.subject, "expected": violation.expected, "found": violation.found},
            }
        )
    for event in protocol_violations:
        data = event.data
        violation_rows.append(
            {
                # The adapter marks a violation fatal when it ends the response; others are
                # recorded and the stream goes on, so they count as warnings.
                "scenario": name,
                "source": "protocol",
                "rule": str(data.get("rule")),
                "severity": "error" if data.get("fatal") else "warning",
                "sequence": event.sequence,
                "message": str(data.get("message", "")),
                "run_id": event.run_id,
                "detail": data,
            }
        )
    for ordinal, row in enumerate(violation_rows, start=1):
        row["ordinal"] = ordinal
        yield "violations", row


def result_rows(
    result: ScenarioResult, *, position: int, transcript_id: str, base: Path, variant_of: str | None = None
) -> dict[str, list[Row]]:
    """The ``verdicts``, ``events``, ``runs``, ``failures`` and ``violations`` rows of one result."""
    records = result_records(result, position=position, transcript_id=transcript_id, base=base, variant_of=variant_of)
    return _gather(records, ("verdicts", "events", "runs", "failures", "violations"))


def recorded_test_records(test: RecordedTest, *, position: int, base: Path) -> Iterator[tuple[str, Record]]:
    """The ``tests``, ``test_transcripts``, ``test_events``, ``test_violations`` and
    ``test_goldens`` records of one recorded test."""
    nodeid = test.nodeid
    yield (
        "tests",
        {
            "nodeid": nodeid,
            "position": position,
            "path": test.path,
            "status": test.status,
            "message": test.message,
            "detail": test.detail,
            "reproduce": test.reproduce,
        },
    )
    transcript_ids = dict.fromkeys(display_path(p, base) for p in test.transcripts)
    for ordinal, transcript_id in enumerate(transcript_ids, start=1):
        yield "test_transcripts", {"nodeid": nodeid, "ordinal": ordinal, "transcript_id": transcript_id}
    for log_name, log in test.logs.items():
        type_path = concrete_path(log.type_field)
        types = [value_at(event, type_path) for event in log.events]
        columns: dict[str, list[Any]] = {
            "event_index": list(range(len(log.events))),
            "type": [t if isinstance(t, str) else None for t in types],
            "data": list(log.events),
        }
        for block in _blocks({"nodeid": nodeid, "log": log_name}, columns):
            yield "test_events", block
    for ordinal, (log_name, violation) in enumerate(test.violations, start=1):
        yield (
            "test_violations",
            {
                "nodeid": nodeid,
                "ordinal": ordinal,
                "log": log_name,
                "rule": violation.rule,
                "severity": violation.severity,
                "event_index": violation.sequence,
                "message": violation.message,
                "subject": violation.subject,
                "detail": {"run_id": violation.run_id, "expected": violation.expected, "found": violation.found},
            },
        )
    for ordinal, (path, outcome) in enumerate(test.goldens, start=1):
        yield (
            "test_goldens",
            {"nodeid": nodeid, "ordinal": ordinal, "path": display_path(path, base), "outcome": outcome},
        )


def recorded_test_rows(test: RecordedTest, *, position: int, base: Path) -> dict[str, list[Row]]:
    """The ``tests``, ``test_transcripts``, ``test_events``, ``test_violations`` and
    ``test_goldens`` rows of one recorded test."""
    records = recorded_test_records(test, position=position, base=base)
    return _gather(records, ("tests", "test_transcripts", "test_events", "test_violations", "test_goldens"))


def table_records(
    *,
    transcripts: Sequence[Transcript],
    results: Sequence[ScenarioResult],
    base: Path,
    transcript_ids: Mapping[str, str] | None = None,
    unused_goldens: Sequence[PurePath | str] = (),
    tests: Sequence[RecordedTest] = (),
) -> Iterator[tuple[str, Record]]:
    """Every table's records as ``(table, record)`` pairs, produced one transcript, result or test
    at a time; each table's records come in its row order.

    Transcripts are the given ones plus every replayed one, deduplicated by id (the first wins)
    and sorted by id. Results keep the given order; a scenario name may appear only once, since
    it keys every per-scenario table. Recorded tests keep the given order too, and a node id may
    appear only once. Both are checked before the first record is produced. A test's transcripts
    are named by id only: pass the transcripts themselves in ``transcripts`` to load their frames.
    """
    parents = {id(v): result.scenario.name for result in results for v in result.variants}
    expanded = [item for result in results for item in (*result.variants, result)]
    seen: dict[str, int] = {}
    for position, result in enumerate(expanded, start=1):
        name = result.scenario.name
        if name in seen:
            raise UsageError(
                f"scenario name {name!r} appears twice (results {seen[name]} and {position}); scenario "
                "names key the analysis tables, so give each scenario a distinct `name`"
            )
        seen[name] = position
    nodeids: set[str] = set()
    for test in tests:
        if test.nodeid in nodeids:
            raise UsageError(f"test {test.nodeid!r} was recorded twice; node ids key the test tables")
        nodeids.add(test.nodeid)
    by_id: dict[str, Transcript] = {}
    for transcript in [*transcripts, *(r.execution.transcript for r in expanded)]:
        by_id.setdefault(transcript_id_of(transcript, base=base, ids=transcript_ids), transcript)
    for transcript_id in sorted(by_id):
        yield from transcript_records(by_id[transcript_id], transcript_id, base=base)
    for position, result in enumerate(expanded, start=1):
        transcript_id = transcript_id_of(result.execution.transcript, base=base, ids=transcript_ids)
        yield from result_records(
            result, position=position, transcript_id=transcript_id, base=base, variant_of=parents.get(id(result))
        )
    for path in sorted({display_path(p, base) for p in unused_goldens}):
        yield "unused_goldens", {"path": path}
    for position, test in enumerate(tests, start=1):
        yield from recorded_test_records(test, position=position, base=base)


def collect_rows(
    *,
    transcripts: Sequence[Transcript],
    results: Sequence[ScenarioResult],
    base: Path,
    transcript_ids: Mapping[str, str] | None = None,
    unused_goldens: Sequence[PurePath | str] = (),
    tests: Sequence[RecordedTest] = (),
) -> TableRows:
    """Every table's rows as lists of dicts, in memory: :func:`table_records`, blocks expanded."""
    rows = TableRows()
    records = table_records(
        transcripts=transcripts,
        results=results,
        base=base,
        transcript_ids=transcript_ids,
        unused_goldens=unused_goldens,
        tests=tests,
    )
    for table, record in records:
        rows[table].extend(record_rows(table, record))
    return rows
