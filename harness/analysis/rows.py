"""The rows of every analysis table, computed from transcripts, scenario results and recorded tests.

Pure functions: no DuckDB, no files, no clock. :mod:`harness.analysis.db` writes these rows to
NDJSON and loads them with the explicit column types of ``load.sql``. Each row is a plain dict
whose keys are the table's column names (``schema.sql``); row order is the insertion order, so
the same inputs always give the same tables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from harness.core.event_log import concrete_path, value_at
from harness.errors import UnknownProtocolError, UsageError
from harness.scenario.recorded import RecordedTest
from harness.scenario.runner import ScenarioResult
from harness.transcript import EmitInbound, ExpectOutbound, Transcript
from harness.transcript.protocols import get_protocol

Row = dict[str, Any]

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


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def transcript_rows(transcript: Transcript, transcript_id: str, *, base: Path) -> tuple[Row, list[Row]]:
    """The ``transcripts`` row and the ``frames`` rows of one transcript.

    ``exchange`` numbers request/response exchanges from 1. With outbound entries, each
    ``expect_outbound`` starts one (for HTTP that is each ``http.request``); without them, each
    inbound sse frame whose ``data.type`` is in :data:`STREAM_START_TYPES` does. Entries before
    the first start belong to exchange 1.
    """
    header = transcript.header
    transport = _transport(header.protocol)
    has_outbound = transcript.has_outbound
    frames: list[Row] = []
    exchange = 0
    exit_status: str | None = None
    for index, entry in enumerate(transcript.entries):
        sse_event = data_type = after_ms = label = None
        if isinstance(entry, (ExpectOutbound, EmitInbound)):
            frame: Any = entry.frame
            label = entry.label
            if transport == "http":
                kind = _text(_get(frame, "kind"))
            else:
                kind = _text(_get(frame, "method")) or _text(_get(frame, "type"))
            if kind == "sse":
                sse_event = _text(_get(frame, "event"))
                data_type = _text(_get(_get(frame, "data"), "type"))
            if isinstance(entry, ExpectOutbound):
                direction = "outbound"
                exchange += 1
            else:
                direction = "inbound"
                after_ms = entry.after_ms
                if not has_outbound and data_type in STREAM_START_TYPES:
                    exchange += 1
        else:
            direction = "exit"
            kind = exit_status = entry.status
            frame = {"status": entry.status, "error": entry.error}
        frames.append(
            {
                "transcript_id": transcript_id,
                "entry_index": index,
                "line": transcript.line_of(index),
                "direction": direction,
                "label": label,
                "kind": kind,
                "sse_event": sse_event,
                "data_type": data_type,
                "after_ms": after_ms,
                "exchange": max(exchange, 1),
                "frame": frame,
            }
        )
    row = {
        "transcript_id": transcript_id,
        "path": display_path(transcript.path, base) if transcript.path is not None else None,
        "provider": header.provider,
        "protocol": header.protocol,
        "transport": transport,
        "version": header.version,
        "scenario": header.scenario,
        "metadata": header.metadata,
        "entry_count": len(transcript.entries),
        "outbound_count": sum(1 for f in frames if f["direction"] == "outbound"),
        "inbound_count": sum(1 for f in frames if f["direction"] == "inbound"),
        "exit_status": exit_status,
    }
    return row, frames


def result_rows(result: ScenarioResult, *, position: int, transcript_id: str, base: Path) -> dict[str, list[Row]]:
    """The ``verdicts``, ``events``, ``runs``, ``failures`` and ``violations`` rows of one result."""
    scenario = result.scenario
    name = scenario.name
    execution = result.execution
    # A provider-neutral scenario's own row holds its verdict (parity included); its variants'
    # rows, added separately, hold the events, runs and violations.
    events = [] if result.variants else execution.events
    protocol = (
        "+".join(sorted({v.execution.transcript.protocol for v in result.variants}))
        if result.variants
        else execution.transcript.protocol
    )
    verdict = {
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
    }
    event_rows = [{"scenario": name, **event.to_json()} for event in events]
    created = {str(e.data.get("run_id")): e.sequence for e in events if e.type == "run.created"}
    run_rows = []
    for run in [] if result.variants else execution.runs:
        error = run.get("error") or {}
        if isinstance(error, str):  # agent runtimes say why a run failed in words (as replay --json shows)
            error = {"type": "runtime_error", "message": error}
        run_rows.append(
            {
                "scenario": name,
                "run_id": run["run_id"],
                "thread_id": run.get("thread_id"),
                "ordinal": run["ordinal"],
                "created_sequence": created.get(run["run_id"]),
                "status": run["status"],
                "stop_reason": run.get("stop_reason"),
                "error_type": error.get("type"),
                "error_message": error.get("message"),
                "requests": run.get("requests", 0),
                "responses": len(run.get("responses") or ()),
            }
        )
    failure_rows = [
        {
            "scenario": name,
            "ordinal": ordinal,
            "kind": failure.kind,
            "message": failure.message,
            "detail": failure.detail,
        }
        for ordinal, failure in enumerate(result.failures, start=1)
    ]
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
    for event in events:
        if event.type == "protocol.violation":
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
    return {
        "verdicts": [verdict],
        "events": event_rows,
        "runs": run_rows,
        "failures": failure_rows,
        "violations": violation_rows,
    }


def recorded_test_rows(test: RecordedTest, *, position: int, base: Path) -> dict[str, list[Row]]:
    """The ``tests``, ``test_transcripts``, ``test_events``, ``test_violations`` and
    ``test_goldens`` rows of one recorded test."""
    nodeid = test.nodeid
    test_row = {
        "nodeid": nodeid,
        "position": position,
        "path": test.path,
        "status": test.status,
        "message": test.message,
        "detail": test.detail,
        "reproduce": test.reproduce,
    }
    transcript_rows_ = [
        {"nodeid": nodeid, "ordinal": ordinal, "transcript_id": transcript_id}
        for ordinal, transcript_id in enumerate(dict.fromkeys(display_path(p, base) for p in test.transcripts), start=1)
    ]
    event_rows: list[Row] = []
    for log_name, log in test.logs.items():
        type_path = concrete_path(log.type_field)
        for index, event in enumerate(log.events):
            event_type = value_at(event, type_path)
            event_rows.append(
                {
                    "nodeid": nodeid,
                    "log": log_name,
                    "event_index": index,
                    "type": event_type if isinstance(event_type, str) else None,
                    "data": event,
                }
            )
    violation_rows = [
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
        }
        for ordinal, (log_name, violation) in enumerate(test.violations, start=1)
    ]
    golden_rows = [
        {"nodeid": nodeid, "ordinal": ordinal, "path": display_path(path, base), "outcome": outcome}
        for ordinal, (path, outcome) in enumerate(test.goldens, start=1)
    ]
    return {
        "tests": [test_row],
        "test_transcripts": transcript_rows_,
        "test_events": event_rows,
        "test_violations": violation_rows,
        "test_goldens": golden_rows,
    }


def collect_rows(
    *,
    transcripts: Sequence[Transcript],
    results: Sequence[ScenarioResult],
    base: Path,
    transcript_ids: Mapping[str, str] | None = None,
    unused_goldens: Sequence[PurePath | str] = (),
    tests: Sequence[RecordedTest] = (),
) -> TableRows:
    """Rows for every table.

    Transcripts are the given ones plus every replayed one, deduplicated by id (the first wins)
    and sorted by id. Results keep the given order; a scenario name may appear only once, since
    it keys every per-scenario table. Recorded tests keep the given order too, and a node id may
    appear only once. A test's transcripts are named by id only: pass the transcripts themselves
    in ``transcripts`` to load their frames.
    """
    rows = TableRows()
    by_id: dict[str, Transcript] = {}
    expanded = [item for result in results for item in (*result.variants, result)]
    for transcript in [*transcripts, *(r.execution.transcript for r in expanded)]:
        by_id.setdefault(transcript_id_of(transcript, base=base, ids=transcript_ids), transcript)
    for transcript_id in sorted(by_id):
        row, frames = transcript_rows(by_id[transcript_id], transcript_id, base=base)
        rows["transcripts"].append(row)
        rows["frames"].extend(frames)
    seen: dict[str, int] = {}
    for position, result in enumerate(expanded, start=1):
        name = result.scenario.name
        if name in seen:
            raise UsageError(
                f"scenario name {name!r} appears twice (results {seen[name]} and {position}); scenario "
                "names key the analysis tables, so give each scenario a distinct `name`"
            )
        seen[name] = position
        transcript_id = transcript_id_of(result.execution.transcript, base=base, ids=transcript_ids)
        for table, table_rows in result_rows(result, position=position, transcript_id=transcript_id, base=base).items():
            rows[table].extend(table_rows)
    for path in sorted({display_path(p, base) for p in unused_goldens}):
        rows["unused_goldens"].append({"path": path})
    nodeids: set[str] = set()
    for position, test in enumerate(tests, start=1):
        if test.nodeid in nodeids:
            raise UsageError(f"test {test.nodeid!r} was recorded twice; node ids key the test tables")
        nodeids.add(test.nodeid)
        for table, table_rows in recorded_test_rows(test, position=position, base=base).items():
            rows[table].extend(table_rows)
    return rows
