"""build_database and query: row counts, column types, ids, verdicts, errors, atomic replace."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import duckdb
import orjson
import pytest

from harness.analysis import TABLES, build_database, query
from harness.analysis.db import HISTORY_TABLES, SIM_TABLES, Invocation, load_statements
from harness.core.invariants import Violation
from harness.errors import UsageError
from harness.scenario import ScenarioResult
from harness.transcript import Transcript, read_transcript

pytestmark = pytest.mark.usefixtures("repo_root")

ROOT = Path(__file__).resolve().parents[2]
RunBundled = Callable[..., ScenarioResult]
MULTITURN = "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"
PLAIN_TEXT = "transcripts/anthropic/pydantic-ai-cassettes/anthropic__plain_text_stream.ndjson"
DUPLICATE_START = "transcripts/anthropic/vercel-ai-fixtures/anthropic-duplicate-message-start.ndjson"

EXPECTED_TYPES: dict[str, dict[str, str]] = {
    "transcripts": {
        "transcript_id": "VARCHAR",
        "path": "VARCHAR",
        "provider": "VARCHAR",
        "protocol": "VARCHAR",
        "transport": "VARCHAR",
        "version": "VARCHAR",
        "scenario": "VARCHAR",
        "metadata": "JSON",
        "entry_count": "INTEGER",
        "outbound_count": "INTEGER",
        "inbound_count": "INTEGER",
        "exit_status": "VARCHAR",
    },
    "frames": {
        "transcript_id": "VARCHAR",
        "entry_index": "INTEGER",
        "line": "INTEGER",
        "direction": "VARCHAR",
        "label": "VARCHAR",
        "kind": "VARCHAR",
        "sse_event": "VARCHAR",
        "data_type": "VARCHAR",
        "after_ms": "INTEGER",
        "exchange": "INTEGER",
        "frame": "JSON",
    },
    "verdicts": {
        "scenario": "VARCHAR",
        "position": "INTEGER",
        "scenario_path": "VARCHAR",
        "transcript_id": "VARCHAR",
        "protocol": "VARCHAR",
        "status": "VARCHAR",
        "failure_count": "INTEGER",
        "golden_path": "VARCHAR",
        "golden_outcome": "VARCHAR",
        "reproduce": "VARCHAR",
        "variant_of": "VARCHAR",
    },
    "events": {
        "scenario": "VARCHAR",
        "sequence": "INTEGER",
        "event_id": "VARCHAR",
        "type": "VARCHAR",
        "thread_id": "VARCHAR",
        "run_id": "VARCHAR",
        "command_id": "VARCHAR",
        "at_ms": "BIGINT",
        "data": "JSON",
    },
    "runs": {
        "scenario": "VARCHAR",
        "run_id": "VARCHAR",
        "thread_id": "VARCHAR",
        "protocol": "VARCHAR",
        "ordinal": "INTEGER",
        "created_sequence": "INTEGER",
        "status": "VARCHAR",
        "stop_reason": "VARCHAR",
        "error_type": "VARCHAR",
        "error_message": "VARCHAR",
        "requests": "INTEGER",
        "responses": "INTEGER",
    },
    "failures": {
        "scenario": "VARCHAR",
        "ordinal": "INTEGER",
        "kind": "VARCHAR",
        "message": "VARCHAR",
        "detail": "VARCHAR",
    },
    "violations": {
        "scenario": "VARCHAR",
        "ordinal": "INTEGER",
        "source": "VARCHAR",
        "rule": "VARCHAR",
        "severity": "VARCHAR",
        "sequence": "INTEGER",
        "message": "VARCHAR",
        "run_id": "VARCHAR",
        "detail": "JSON",
    },
    "unused_goldens": {"path": "VARCHAR"},
    "meta": {"key": "VARCHAR", "value": "VARCHAR"},
    "invocations": {
        "invocation": "INTEGER",
        "run_id": "VARCHAR",
        "started_at": "VARCHAR",
        "command": "VARCHAR",
        "kind": "VARCHAR",
        "scenarios": "INTEGER",
        "variants": "INTEGER",
        "passed": "INTEGER",
        "failed": "INTEGER",
        "tests": "INTEGER",
        "tests_failed": "INTEGER",
        "sim_runs": "INTEGER",
        "sim_failed": "INTEGER",
        "elapsed_ms": "BIGINT",
    },
    "verdict_history": {
        "invocation": "INTEGER",
        "scenario": "VARCHAR",
        "variant_of": "VARCHAR",
        "protocol": "VARCHAR",
        "status": "VARCHAR",
        "failure_count": "INTEGER",
        "events": "INTEGER",
        "tool_calls": "INTEGER",
        "violations": "INTEGER",
    },
    "sim_runs": {
        "run": "INTEGER",
        "target": "VARCHAR",
        "seed": "BIGINT",
        "plan": "VARCHAR",
        "policy": "VARCHAR",
        "schedule": "VARCHAR",
        "decisions": "INTEGER",
        "verdict": "VARCHAR",
        "signature": "VARCHAR",
        "digest": "VARCHAR",
        "faults_planned": "INTEGER",
        "faults_fired": "INTEGER",
        "steps": "INTEGER",
        "virtual_ms": "BIGINT",
        "outcome": "VARCHAR",
    },
    "sim_faults": {
        "run": "INTEGER",
        "target": "VARCHAR",
        "seed": "BIGINT",
        "fault": "VARCHAR",
        "kind": "VARCHAR",
        "fired": "BOOLEAN",
        "skipped": "VARCHAR",
    },
    "sim_violations": {
        "run": "INTEGER",
        "target": "VARCHAR",
        "seed": "BIGINT",
        "rule": "VARCHAR",
        "message": "VARCHAR",
        "event_index": "INTEGER",
    },
    "sim_steps": {
        "target": "VARCHAR",
        "signature": "VARCHAR",
        "ordinal": "INTEGER",
        "lane": "VARCHAR",
        "step": "INTEGER",
        "label": "VARCHAR",
        "detail": "VARCHAR",
    },
    "sim_groups": {
        "target": "VARCHAR",
        "signature": "VARCHAR",
        "runs": "INTEGER",
        "first_seed": "BIGINT",
        "message": "VARCHAR",
        "reproduce": "VARCHAR",
    },
    "tests": {
        "nodeid": "VARCHAR",
        "position": "INTEGER",
        "path": "VARCHAR",
        "status": "VARCHAR",
        "message": "VARCHAR",
        "detail": "VARCHAR",
        "reproduce": "VARCHAR",
    },
    "test_transcripts": {"nodeid": "VARCHAR", "ordinal": "INTEGER", "transcript_id": "VARCHAR"},
    "test_events": {
        "nodeid": "VARCHAR",
        "log": "VARCHAR",
        "event_index": "INTEGER",
        "type": "VARCHAR",
        "data": "JSON",
    },
    "test_violations": {
        "nodeid": "VARCHAR",
        "ordinal": "INTEGER",
        "log": "VARCHAR",
        "rule": "VARCHAR",
        "severity": "VARCHAR",
        "event_index": "INTEGER",
        "message": "VARCHAR",
        "subject": "VARCHAR",
        "detail": "JSON",
    },
    "test_goldens": {"nodeid": "VARCHAR", "ordinal": "INTEGER", "path": "VARCHAR", "outcome": "VARCHAR"},
}


@pytest.fixture
def results(run_bundled: RunBundled) -> list[ScenarioResult]:
    """A passing tool loop, a passing text stream and a scenario that fails its expectation."""
    return [
        run_bundled(MULTITURN, name="tool_loop"),
        run_bundled(PLAIN_TEXT, name="plain_text"),
        run_bundled(
            PLAIN_TEXT, name="expects_failure", source="scenarios/analysis/expects_failure.yaml", status="failed"
        ),
    ]


@pytest.fixture
def db(tmp_path: Path, results: list[ScenarioResult]) -> Path:
    path = tmp_path / "harness.duckdb"
    build_database(path, transcripts=[], results=results)
    return path


def scalar(db: Path, sql: str) -> object:
    return query(db, sql).rows[0][0]


def test_events_table_has_one_row_per_stored_event(db: Path, results: list[ScenarioResult]) -> None:
    rows = dict(query(db, "SELECT scenario, count(*) FROM events GROUP BY scenario").rows)
    assert rows == {r.scenario.name: len(r.execution.events) for r in results}


def test_events_keep_the_stored_event_fields(db: Path, results: list[ScenarioResult]) -> None:
    first = results[0].execution.events[0]
    row = query(
        db,
        "SELECT sequence, event_id, type, thread_id, run_id, command_id, at_ms, data FROM events "
        "WHERE scenario = 'tool_loop' ORDER BY sequence LIMIT 1",
    ).rows[0]
    assert row[:7] == (
        first.sequence,
        first.event_id,
        first.type,
        first.thread_id,
        first.run_id,
        first.command_id,
        first.at_ms,
    )
    assert orjson.loads(row[7]) == first.data


def test_frames_table_has_one_row_per_transcript_entry(db: Path) -> None:
    counts = dict(query(db, "SELECT transcript_id, count(*) FROM frames GROUP BY transcript_id").rows)
    assert counts == {
        MULTITURN: len(read_transcript(ROOT / MULTITURN).entries),
        PLAIN_TEXT: len(read_transcript(ROOT / PLAIN_TEXT).entries),
    }


def test_summary_row_counts_equal_python_side_counts(tmp_path: Path, results: list[ScenarioResult]) -> None:
    summary = build_database(
        tmp_path / "h.duckdb", transcripts=[], results=results, unused_goldens=[Path("fixtures/goldens/orphan.ndjson")]
    )
    assert dict(summary.rows) == {
        "transcripts": 2,
        "frames": len(read_transcript(ROOT / MULTITURN).entries) + len(read_transcript(ROOT / PLAIN_TEXT).entries),
        "verdicts": 3,
        "events": sum(len(r.execution.events) for r in results),
        "runs": sum(len(r.execution.runs) for r in results),
        "failures": sum(len(r.failures) for r in results),
        "violations": 0,
        "unused_goldens": 1,
        "tests": 0,
        "test_transcripts": 0,
        "test_events": 0,
        "test_violations": 0,
        "test_goldens": 0,
        "sim_runs": 0,
        "sim_faults": 0,
        "sim_violations": 0,
        "sim_groups": 0,
        "sim_steps": 0,
        "invocations": 1,
        "verdict_history": 3,
    }
    assert list(summary.rows) == [*TABLES, *SIM_TABLES, *HISTORY_TABLES]


@pytest.mark.parametrize("table", list(EXPECTED_TYPES), ids=list(EXPECTED_TYPES))
def test_column_types_match_the_documented_schema(db: Path, table: str) -> None:
    described = query(db, f"DESCRIBE {table}")
    name, type_ = described.columns.index("column_name"), described.columns.index("column_type")
    assert {row[name]: row[type_] for row in described.rows} == EXPECTED_TYPES[table]


def test_every_table_has_a_typed_load_statement() -> None:
    statements = load_statements()
    assert set(statements) == set(TABLES)
    for table, sql in statements.items():
        assert "columns" in sql and f"INSERT INTO {table} BY NAME" in sql


def test_transcript_ids_are_paths_relative_to_the_current_directory(db: Path) -> None:
    ids = [row[0] for row in query(db, "SELECT transcript_id FROM transcripts ORDER BY transcript_id").rows]
    assert ids == sorted([MULTITURN, PLAIN_TEXT])
    assert (
        scalar(db, "SELECT count(*) FROM verdicts WHERE transcript_id NOT IN (SELECT transcript_id FROM transcripts)")
        == 0
    )


def test_transcript_ids_mapping_overrides_the_path(tmp_path: Path) -> None:
    transcript = read_transcript(ROOT / PLAIN_TEXT)
    assert transcript.path is not None
    build_database(
        tmp_path / "h.duckdb", transcripts=[transcript], results=[], transcript_ids={transcript.path: "plain"}
    )
    assert query(tmp_path / "h.duckdb", "SELECT transcript_id, path FROM transcripts").rows == [("plain", PLAIN_TEXT)]


def test_given_transcripts_load_even_without_results(tmp_path: Path) -> None:
    stdio = read_transcript("transcripts/t3code/simple/codex_transcript.ndjson")
    build_database(tmp_path / "h.duckdb", transcripts=[stdio], results=[])
    rows = query(tmp_path / "h.duckdb", "SELECT transport, exit_status, entry_count FROM transcripts").rows
    assert rows == [("stdio", "success", len(stdio.entries))]


def test_runs_come_from_the_projection(db: Path, results: list[ScenarioResult]) -> None:
    (run,) = results[0].execution.runs
    row = query(
        db,
        "SELECT run_id, thread_id, ordinal, status, stop_reason, error_type, requests, responses "
        "FROM runs WHERE scenario = 'tool_loop'",
    ).rows
    # requests and responses are the run's provider turns: two, each of which began a response
    turns = {
        e.data["provider_turn_id"]: e.data.get("native_ref")
        for e in results[0].execution.events
        if e.type == "provider-turn.updated" and e.run_id == run["run_id"]
    }
    assert len(turns) == 2 and all(turns.values())
    assert row == [(run["run_id"], "thread-1", 1, "completed", "end_turn", None, 2, 2)]


def test_failing_scenario_appears_in_verdicts_and_failures(db: Path, results: list[ScenarioResult]) -> None:
    failing = results[2]
    assert not failing.passed
    verdict = query(
        db,
        "SELECT status, failure_count, scenario_path, reproduce, position FROM verdicts "
        "WHERE scenario = 'expects_failure'",
    ).rows
    assert verdict == [
        (
            "failed",
            len(failing.failures),
            "scenarios/analysis/expects_failure.yaml",
            "harness run scenarios/analysis/expects_failure.yaml",
            3,
        )
    ]
    failures = query(
        db, "SELECT ordinal, kind, message FROM failures WHERE scenario = 'expects_failure' ORDER BY ordinal"
    ).rows
    assert failures == [(i, f.kind, f.message) for i, f in enumerate(failing.failures, start=1)]
    assert scalar(db, "SELECT count(*) FROM verdicts WHERE status = 'passed'") == 2


def test_protocol_violation_events_become_violation_rows(tmp_path: Path, run_bundled: RunBundled) -> None:
    result = run_bundled(DUPLICATE_START, status="failed")
    build_database(tmp_path / "h.duckdb", results=[result])
    rows = query(tmp_path / "h.duckdb", "SELECT source, rule, severity, sequence FROM violations").rows
    events = [e for e in result.execution.events if e.type == "protocol.violation"]
    assert rows == [("protocol", e.data["rule"], "error", e.sequence) for e in events]
    assert rows


def test_invariant_violations_become_violation_rows(tmp_path: Path, run_bundled: RunBundled) -> None:
    result = run_bundled(PLAIN_TEXT)
    result.invariant_violations = [
        Violation(
            "core.run.single_terminal",
            "error",
            None,
            "run r has no terminal event",
            run_id="r",
            expected="a run.updated with status cancelled, completed, failed, interrupted",
            found=None,
        ),
    ]
    build_database(tmp_path / "h.duckdb", results=[result])
    rows = query(
        tmp_path / "h.duckdb",
        "SELECT ordinal, source, rule, severity, sequence, run_id, detail->>'$.expected' FROM violations",
    ).rows
    expected = "a run.updated with status cancelled, completed, failed, interrupted"
    assert rows == [(1, "invariant", "core.run.single_terminal", "error", None, "r", expected)]


def test_duplicate_scenario_names_are_a_usage_error(tmp_path: Path, run_bundled: RunBundled) -> None:
    twice = [run_bundled(PLAIN_TEXT, name="same"), run_bundled(PLAIN_TEXT, name="same")]
    with pytest.raises(UsageError, match="'same' appears twice"):
        build_database(tmp_path / "h.duckdb", results=twice)


def test_build_is_deterministic(tmp_path: Path, results: list[ScenarioResult]) -> None:
    first, second = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    build_database(first, transcripts=[], results=results)
    build_database(second, transcripts=[], results=list(results))
    for table in TABLES:
        assert query(first, f"SELECT * FROM {table}").rows == query(second, f"SELECT * FROM {table}").rows, table


def test_build_replaces_an_existing_file(tmp_path: Path, results: list[ScenarioResult]) -> None:
    path = tmp_path / "harness.duckdb"
    build_database(path, results=results[:1])
    assert scalar(path, "SELECT count(*) FROM verdicts") == 1
    build_database(path, results=results)
    assert scalar(path, "SELECT count(*) FROM verdicts") == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no build leftovers


def test_a_file_that_is_not_a_database_is_not_overwritten(tmp_path: Path, results: list[ScenarioResult]) -> None:
    path = tmp_path / "harness.duckdb"
    path.write_bytes(b"not a database")
    with pytest.raises(UsageError, match="is not a DuckDB database"):
        build_database(path, results=results[:1])
    assert path.read_bytes() == b"not a database"


def test_every_build_appends_an_invocation_and_keeps_the_history(tmp_path: Path, results: list[ScenarioResult]) -> None:
    path = tmp_path / "harness.duckdb"
    build_database(path, results=results[:1], invocation=Invocation("harness run", "2026-12-01T10:00:00Z"))
    build_database(path, results=results, invocation=Invocation("pytest", "2026-12-02T10:00:00Z"))
    rows = query(path, "SELECT invocation, run_id, started_at, command, scenarios FROM invocations ORDER BY 1").rows
    assert rows == [
        (1, "run-1", "2026-12-01T10:00:00Z", "harness run", 1),
        (2, "run-2", "2026-12-02T10:00:00Z", "pytest", 3),
    ]
    history = query(path, "SELECT invocation, count(*) FROM verdict_history GROUP BY 1 ORDER BY 1").rows
    assert history == [(1, 1), (2, 3)]
    assert scalar(path, "SELECT count(*) FROM verdicts") == 3  # the detail tables: the latest build only


def test_a_file_of_another_schema_version_starts_the_history_anew(
    tmp_path: Path, results: list[ScenarioResult]
) -> None:
    path = tmp_path / "harness.duckdb"
    build_database(path, results=results[:1])
    with duckdb.connect(str(path)) as conn:
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    build_database(path, results=results[:1])
    assert scalar(path, "SELECT count(*) FROM invocations") == 1


def test_the_invocation_time_comes_from_source_date_epoch(monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764842400")
    assert Invocation.start("harness run").started_at == "2025-12-04T10:00:00Z"
    assert Invocation.start("x", timestamp="2026-12-04T11:00:00+01:00").started_at == "2026-12-04T10:00:00Z"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(UsageError, match="SOURCE_DATE_EPOCH"):
        Invocation.start("harness run")
    with pytest.raises(UsageError, match="ISO 8601"):
        Invocation.start("x", timestamp="noon")


def test_failed_build_leaves_the_existing_file_untouched(
    tmp_path: Path, results: list[ScenarioResult], over_int_transcript: Transcript
) -> None:
    path = tmp_path / "harness.duckdb"
    build_database(path, results=results[:1])
    before = path.read_bytes()
    with pytest.raises(UsageError, match="could not build"):
        build_database(path, transcripts=[over_int_transcript], results=results)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_query_returns_columns_and_rows(db: Path) -> None:
    result = query(db, "SELECT scenario, position FROM verdicts ORDER BY position")
    assert result.columns == ["scenario", "position"]
    assert result.rows == [("tool_loop", 1), ("plain_text", 2), ("expects_failure", 3)]


def test_query_sql_error_raises_usage_error_with_duckdb_message(db: Path) -> None:
    with pytest.raises(UsageError, match="no_such_table"):
        query(db, "SELECT * FROM no_such_table")


def test_query_connection_is_read_only(db: Path) -> None:
    with pytest.raises(UsageError, match="read-only"):
        query(db, "DELETE FROM events")
    assert scalar(db, "SELECT count(*) > 0 FROM events") is True


def test_query_missing_database_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such database"):
        query(tmp_path / "missing.duckdb", "SELECT 1")


def test_events_by_type_counts_match_the_event_log(db: Path, results: list[ScenarioResult]) -> None:
    rows = query(db, "SELECT type, count FROM events_by_type WHERE scenario = 'tool_loop'").rows
    assert dict(rows) == Counter(e.type for e in results[0].execution.events)
