"""summary.md: rendered from the DuckDB file, deterministic, naming every failure and how to rerun it."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis import build_database
from harness.core.invariants import Violation
from harness.report import render_summary
from harness.report.summary import _cell, _fenced
from harness.scenario import ScenarioResult
from harness.scenario.recorded import EventLog, RecordedTest
from harness.transcript import Transcript

FAILING_SOURCE = "scenarios/report/expects_failure.yaml"


@pytest.fixture
def db(tmp_path: Path, results: list[ScenarioResult], timed_transcript: Transcript) -> Path:
    path = tmp_path / "harness.duckdb"
    build_database(
        path, transcripts=[timed_transcript], results=results, unused_goldens=[Path("fixtures/goldens/orphan.ndjson")]
    )
    return path


def test_summary_renders_identically_twice(db: Path) -> None:
    assert render_summary(db) == render_summary(db)


def test_summary_is_the_same_for_a_rebuilt_database(
    tmp_path: Path, db: Path, results: list[ScenarioResult], timed_transcript: Transcript
) -> None:
    again = tmp_path / "again.duckdb"
    build_database(
        again, transcripts=[timed_transcript], results=results, unused_goldens=[Path("fixtures/goldens/orphan.ndjson")]
    )
    assert render_summary(again) == render_summary(db)


def test_header_counts_passed_and_failed(db: Path) -> None:
    assert "2 scenarios: 1 passed, 1 failed." in render_summary(db)


def test_scenario_table_has_a_row_per_scenario_in_run_order(db: Path, results: list[ScenarioResult]) -> None:
    lines = render_summary(db).splitlines()
    rows = [line for line in lines if line.startswith(("| tool_loop ", "| expects_failure "))]
    # tool_loop's two tool calls: the provider-run tool search and the harness's get_exchange_rate
    calls = [e.data["name"] for e in results[0].execution.events if e.type == "tool_call.requested"]
    assert calls == ["tool_search_tool_bm25", "get_exchange_rate"]
    assert rows[0].startswith("| tool_loop | passed | anthropic.messages | 1 | completed | end_turn | 2 |")
    assert rows[1].startswith("| expects_failure | failed | anthropic.messages | 1 | completed | end_turn | 0 |")


def test_failing_scenario_section_has_its_failures_and_reproduce_command(
    db: Path, results: list[ScenarioResult]
) -> None:
    text = render_summary(db)
    section = text.split("### `expects_failure`", 1)[1].split("\n## ", 1)[0]
    for failure in results[1].failures:
        assert failure.message in section
    assert f"harness run {FAILING_SOURCE}" in section
    assert "### `tool_loop`" not in text


def test_timed_transcript_shows_time_to_first_token(db: Path) -> None:
    assert "| synthetic/timed.ndjson | 1 | content_block_delta | 132 |" in render_summary(db)


def test_unused_goldens_are_listed(db: Path) -> None:
    assert "- `fixtures/goldens/orphan.ndjson`" in render_summary(db)


def test_summary_has_no_timestamps_or_absolute_paths(db: Path) -> None:
    text = render_summary(db)
    assert str(Path.cwd()) not in text
    assert str(db.parent) not in text


def test_table_cells_escape_pipes_and_newlines() -> None:
    assert _cell("a|b\nc") == "a\\|b c"


def test_fenced_block_outlasts_backticks_in_its_content() -> None:
    assert _fenced("x ``` y") == ["````text", "x ``` y", "````"]


def test_summary_without_recorded_tests_has_no_test_sections(db: Path) -> None:
    text = render_summary(db)
    assert "recorded test" not in text
    assert "## Tests" not in text and "## Test violations" not in text


def test_recorded_tests_get_counts_a_table_a_failure_section_and_their_violations(
    tmp_path: Path, results: list[ScenarioResult]
) -> None:
    tests = [
        RecordedTest("tests/test_app.py::test_ok", logs={"events": EventLog([{"type": "a"}])}),
        RecordedTest(
            "tests/test_app.py::test_bad",
            position=1,
            status="failed",
            message="1 rule violation in log 'events':",
            detail="  [app.seq] event 0: $.seq is 5 where 1 was due",
            logs={"events": EventLog([{"type": "a", "seq": 5}])},
            violations=[("events", Violation("app.seq", "error", 0, "$.seq is 5 where 1 was due", subject=None))],
            goldens=[("fixtures/goldens/app.ndjson", "matched")],
        ),
    ]
    path = tmp_path / "h.duckdb"
    build_database(path, results=results, tests=tests)
    text = render_summary(path)
    assert "2 scenarios: 1 passed, 1 failed.\n2 recorded tests: 1 passed, 1 failed, 0 skipped." in text
    assert "| tests/test_app.py::test_ok | passed | 0 | 1 | 0 |  |" in text
    assert "| tests/test_app.py::test_bad | failed | 0 | 1 | 1 | matched |" in text
    section = text.split("### `tests/test_app.py::test_bad`", 1)[1].split("\n## ", 1)[0]
    assert "$.seq is 5 where 1 was due" in section and "pytest tests/test_app.py::test_bad" in section
    assert "| tests/test_app.py::test_bad | events | app.seq | error | 0 |  | $.seq is 5 where 1 was due |" in text
    assert render_summary(path) == text
