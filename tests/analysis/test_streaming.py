"""build_database streams: rows go to DuckDB one transcript, result or test at a time, in blocks
and row files of bounded size, loaded while the next ones are written; none of that shows in
the tables."""

from __future__ import annotations

import dataclasses
import re
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.analysis import TABLES, build_database, query
from harness.analysis import db as analysis_db
from harness.analysis import rows as analysis_rows
from harness.analysis.db import SIM_TABLES
from harness.analysis.rows import BLOCK_TABLES, collect_rows, record_rows, result_records, transcript_records
from harness.core.invariants import Violation
from harness.errors import UsageError
from harness.scenario import ScenarioResult
from harness.scenario.recorded import EventLog, RecordedTest
from harness.transcript import EmitInbound, Transcript, TranscriptHeader, read_transcript
from tests.analysis.conftest import request, response_head, sse, synthetic

pytestmark = pytest.mark.usefixtures("repo_root")

RunBundled = Callable[..., ScenarioResult]
MULTITURN = "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"
PLAIN_TEXT = "transcripts/anthropic/pydantic-ai-cassettes/anthropic__plain_text_stream.ndjson"
DUPLICATE_START = "transcripts/anthropic/vercel-ai-fixtures/anthropic-duplicate-message-start.ndjson"


def _recorded(nodeid: str, events: int) -> RecordedTest:
    return RecordedTest(
        nodeid=nodeid,
        status="failed",
        message="boom",
        detail="long text",
        transcripts=[PLAIN_TEXT, MULTITURN],
        logs={
            "events": EventLog(
                [{"type": f"t{i}", "n": i, "x": 0.5} if i % 3 else {"kind": None} for i in range(events)]
            ),
            "other": EventLog([{"kind": "c"}], "$.kind"),
            "empty": EventLog([]),
        },
        violations=[("events", Violation("app.seq", "warning", 1, "gap", subject="k", expected=2, found=3))],
        goldens=[("fixtures/goldens/app.ndjson", "differs")],
    )


@pytest.fixture
def inputs(run_bundled: RunBundled, timed_transcript: Transcript) -> dict[str, Any]:
    """Every table gets rows: scenarios (one failing, one with protocol violations, one with an
    invariant violation), a transcript no result replayed, recorded tests, an unused golden."""
    violated = run_bundled(PLAIN_TEXT, name="invariant")
    violated.invariant_violations = [
        Violation("core.run.single_terminal", "error", None, "run r has no terminal event", run_id="r", found=None)
    ]
    return {
        "transcripts": [timed_transcript, read_transcript(PLAIN_TEXT)],
        "results": [
            run_bundled(MULTITURN, name="tool_loop"),
            run_bundled(PLAIN_TEXT, name="expects_failure", status="failed"),
            run_bundled(DUPLICATE_START, name="duplicate_start", status="failed"),
            violated,
        ],
        "unused_goldens": [Path("fixtures/goldens/orphan.ndjson")],
        "tests": [_recorded("tests/test_app.py::test_a", 7), _recorded("tests/test_app.py::test_b", 2)],
    }


def _dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table and view, rows in the order a plain SELECT returns them."""
    views = [row[0] for row in query(db, "SELECT view_name FROM duckdb_views() WHERE NOT internal").rows]
    return {name: query(db, f"SELECT * FROM {name}").rows for name in [*TABLES, *sorted(views)]}


def test_tables_hold_exactly_the_rows_collect_rows_gives(tmp_path: Path, inputs: dict[str, Any]) -> None:
    build_database(tmp_path / "h.duckdb", **inputs)
    expected = collect_rows(base=Path.cwd(), **inputs)
    for table in TABLES:
        json = {row[0] for row in query(tmp_path / "h.duckdb", f"DESCRIBE {table}").rows if row[1] == "JSON"}
        result = query(tmp_path / "h.duckdb", f"SELECT * FROM {table}")
        loaded = [
            {c: orjson.loads(v) if c in json and v is not None else v for c, v in zip(result.columns, row, strict=True)}
            for row in result.rows
        ]
        assert loaded == expected[table], table
        assert loaded, f"{table} is empty: the inputs should fill every table"


def test_blocks_and_row_files_of_any_size_give_the_same_database(
    tmp_path: Path, inputs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    build_database(tmp_path / "whole.duckdb", **inputs)
    # Two rows per block and a new row file after every line: many loads per table.
    monkeypatch.setattr(analysis_rows, "BLOCK_ROWS", 2)
    monkeypatch.setattr(analysis_db, "CHUNK_BYTES", 1)
    summary = build_database(tmp_path / "split.duckdb", **inputs)
    assert _dump(tmp_path / "split.duckdb") == _dump(tmp_path / "whole.duckdb")
    assert summary.rows["events"] > 2 and summary.rows["frames"] > 2 and summary.rows["test_events"] > 2


def test_a_long_recording_is_split_into_blocks_of_at_most_block_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis_rows, "BLOCK_ROWS", 2)
    transcript = synthetic("t.ndjson", request(), response_head(5), sse("message_start", 1), sse("ping"), sse("ping"))
    records = list(transcript_records(transcript, "t", base=Path.cwd()))
    assert [table for table, _ in records] == ["frames", "frames", "frames", "transcripts"]
    blocks = [record for table, record in records if table == "frames"]
    assert [len(block["entry_index"]) for block in blocks] == [2, 2, 1]
    assert records[-1][1]["entry_count"] == 5 and records[-1][1]["inbound_count"] == 4
    assert all(block["transcript_id"] == "t" for block in blocks)
    rows = [row for block in blocks for row in record_rows("frames", block)]
    assert [row["entry_index"] for row in rows] == [0, 1, 2, 3, 4]
    assert list(rows[0]) == ["transcript_id", *[c for c in blocks[0] if c not in BLOCK_TABLES["frames"]]]


def test_a_line_longer_than_read_jsons_default_limit_loads(tmp_path: Path) -> None:
    text = "x" * (17 << 20)  # one frame over DuckDB's 16 MiB default maximum_object_size
    frame = {"kind": "sse", "event": "content_block_delta", "data": {"type": "content_block_delta", "text": text}}
    transcript = synthetic("big.ndjson", request(), EmitInbound(label="delta", frame=frame))
    build_database(tmp_path / "h.duckdb", transcripts=[transcript])
    rows = query(tmp_path / "h.duckdb", "SELECT length(frame->>'$.data.text') FROM frames WHERE entry_index = 1").rows
    assert rows == [(len(text),)]


def _clones(result: ScenarioResult, count: int) -> list[ScenarioResult]:
    """``count`` results named apart that share one replay: the inputs cost no more memory."""
    return [
        dataclasses.replace(result, declared=result.scenario.model_copy(update={"name": f"s{i}"})) for i in range(count)
    ]


def _python_peak(func: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_build_holds_one_result_at_a_time(tmp_path: Path, run_bundled: RunBundled) -> None:
    result = run_bundled(MULTITURN)
    few, many = _clones(result, 10), _clones(result, 400)
    small = _python_peak(lambda: build_database(tmp_path / "few.duckdb", results=few))
    large = _python_peak(lambda: build_database(tmp_path / "many.duckdb", results=many))
    assert query(tmp_path / "many.duckdb", "SELECT count(*) FROM events").rows == [
        (400 * len(result.execution.events),)
    ]
    # Rows held all at once would take a few KiB per event: 40 times the events here would add
    # megabytes. Streaming adds only what is kept per result (its name), not its rows.
    per_result = (large - small) / (400 - 10)
    assert per_result < 2048, f"{per_result:.0f} bytes of Python memory per result"


def _no_loader_thread() -> bool:
    return not any(thread.name == "harness-db-load" for thread in threading.enumerate())


def _stop_after(records: Iterator[tuple[str, Any]], count: int, error: BaseException) -> Iterator[tuple[str, Any]]:
    for done, record in enumerate(records):
        if done == count:
            raise error
        yield record


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("boom")], ids=["ctrl-c", "bug"])
def test_a_build_stopped_while_writing_leaves_the_old_file_and_no_loader(
    tmp_path: Path, inputs: dict[str, Any], monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    path = tmp_path / "harness.duckdb"
    build_database(path, results=inputs["results"][:1])
    before = path.read_bytes()
    records = analysis_db.table_records
    monkeypatch.setattr(analysis_db, "table_records", lambda **kw: _stop_after(records(**kw), 20, error))
    monkeypatch.setattr(analysis_db, "CHUNK_BYTES", 1)  # loads are under way when the writer stops
    with pytest.raises(type(error)):
        build_database(path, **inputs)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["harness.duckdb"]
    assert _no_loader_thread()


def test_a_failed_load_stops_the_build_and_names_the_database(
    tmp_path: Path, inputs: dict[str, Any], over_int_transcript: Transcript, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analysis_db, "CHUNK_BYTES", 1)
    path = tmp_path / "harness.duckdb"
    transcripts = [*inputs["transcripts"], over_int_transcript]
    with pytest.raises(UsageError, match=re.escape(f"{path}: could not build the analysis database: ")):
        build_database(path, **{**inputs, "transcripts": transcripts})
    assert list(tmp_path.iterdir()) == []
    assert _no_loader_thread()


def test_duplicate_names_are_refused_before_anything_is_written(
    tmp_path: Path, inputs: dict[str, Any], run_bundled: RunBundled
) -> None:
    twice = [*inputs["results"], run_bundled(PLAIN_TEXT, name="tool_loop")]
    with pytest.raises(UsageError, match="'tool_loop' appears twice"):
        build_database(tmp_path / "h.duckdb", results=twice)
    test = inputs["tests"][0]
    with pytest.raises(UsageError, match="recorded twice"):
        build_database(tmp_path / "h.duckdb", tests=[test, test])
    assert list(tmp_path.iterdir()) == []


def test_an_empty_build_has_every_table_and_view(tmp_path: Path) -> None:
    summary = build_database(tmp_path / "h.duckdb")
    assert dict(summary.rows) == {
        **dict.fromkeys(TABLES, 0),
        **dict.fromkeys(SIM_TABLES, 0),
        "invocations": 1,
        "verdict_history": 0,
    }
    assert query(tmp_path / "h.duckdb", "SELECT count(*) FROM run_summary").rows == [(0,)]


def test_in_memory_transcript_frames_have_no_line(tmp_path: Path) -> None:
    header = TranscriptHeader(provider="anthropic", protocol="anthropic.messages", version="1", scenario="mem")
    transcript = Transcript(header=header, entries=(EmitInbound(frame={"kind": "sse", "data": None}),))
    build_database(tmp_path / "h.duckdb", transcripts=[transcript])
    rows = query(tmp_path / "h.duckdb", "SELECT transcript_id, entry_index, line, frame FROM frames").rows
    assert rows == [("memory:mem", 0, None, '{"kind":"sse","data":null}')]


def test_event_blocks_carry_every_field_of_a_stored_event(run_bundled: RunBundled) -> None:
    result = run_bundled(PLAIN_TEXT)
    records = result_records(result, position=1, transcript_id="t", base=Path.cwd())
    (block,) = [record for table, record in records if table == "events"]
    events = result.execution.events
    assert list(block) == ["scenario", *events[0].to_json()]
    assert record_rows("events", block) == [{"scenario": result.scenario.name, **e.to_json()} for e in events]
