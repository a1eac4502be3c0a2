"""write_reports: event logs, the DuckDB file and summary.md, byte-deterministic."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson

from harness.analysis import query
from harness.report import event_log_name, render_junit, render_report, render_summary, write_reports
from harness.report.writer import recorded_log_names
from harness.scenario import ScenarioResult
from harness.scenario.recorded import EventLog, RecordedTest
from harness.transcript import Transcript


def test_event_log_is_one_sorted_key_stored_event_per_line(tmp_path: Path, results: list[ScenarioResult]) -> None:
    paths = write_reports(tmp_path / "reports", results=results, transcripts=[])
    events = results[0].execution.events
    lines = (paths.events_dir / "tool_loop.ndjson").read_bytes().splitlines()
    assert lines == [orjson.dumps(e.to_json(), option=orjson.OPT_SORT_KEYS) for e in events]


def test_writes_one_event_log_per_scenario_and_the_database(tmp_path: Path, results: list[ScenarioResult]) -> None:
    paths = write_reports(tmp_path / "reports", results=results, transcripts=[])
    assert sorted(p.name for p in paths.events_dir.iterdir()) == ["expects_failure.ndjson", "tool_loop.ndjson"]
    assert paths.database == tmp_path / "reports" / "harness.duckdb"
    assert query(paths.database, "SELECT count(*) FROM verdicts").rows == [(2,)]
    assert paths.database_summary.rows["verdicts"] == 2


def test_summary_file_is_rendered_from_the_database(tmp_path: Path, results: list[ScenarioResult]) -> None:
    paths = write_reports(tmp_path / "reports", results=results, transcripts=[])
    assert paths.summary.read_text(encoding="utf-8") == render_summary(paths.database)


def test_html_and_junit_are_rendered_from_the_database(tmp_path: Path, results: list[ScenarioResult]) -> None:
    paths = write_reports(tmp_path / "reports", results=results, transcripts=[])
    assert paths.html == tmp_path / "reports" / "index.html"
    assert paths.html.read_bytes() == render_report(paths.database)
    assert paths.junit.read_bytes() == render_junit(paths.database)


def test_report_files_get_the_umask_permissions(tmp_path: Path, results: list[ScenarioResult]) -> None:
    old = os.umask(0o022)
    try:
        paths = write_reports(tmp_path / "reports", results=results, transcripts=[])
    finally:
        os.umask(old)
    for path in (paths.html, paths.junit, paths.summary, paths.database, *paths.event_logs):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_two_writes_give_identical_bytes(
    tmp_path: Path, results: list[ScenarioResult], timed_transcript: Transcript
) -> None:
    first = write_reports(tmp_path / "a", results=results, transcripts=[timed_transcript])
    second = write_reports(tmp_path / "b", results=results, transcripts=[timed_transcript])
    assert first.summary.read_bytes() == second.summary.read_bytes()
    assert first.junit.read_bytes() == second.junit.read_bytes()
    for log in first.event_logs:
        assert log.read_bytes() == (second.events_dir / log.name).read_bytes()


def test_event_logs_of_scenarios_not_in_this_run_are_removed(tmp_path: Path, results: list[ScenarioResult]) -> None:
    stale = tmp_path / "reports" / "events" / "gone.ndjson"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}\n")
    write_reports(tmp_path / "reports", results=results, transcripts=[])
    assert not stale.exists()


def test_event_log_names_replace_characters_unsafe_in_paths() -> None:
    assert event_log_name("a/b c:d") == "a_b_c_d.ndjson"


def test_recorded_tests_get_their_event_logs_and_stale_ones_go(tmp_path: Path, results: list[ScenarioResult]) -> None:
    test = RecordedTest("tests/test_app.py::test_x", logs={"events": EventLog([{"type": "b", "a": 1}])})
    paths = write_reports(tmp_path / "reports", results=results, transcripts=[], tests=[test])
    log = tmp_path / "reports" / "test-events" / "tests_test_app.py__test_x.events.ndjson"
    assert log.read_bytes() == b'{"a":1,"type":"b"}\n'
    assert log in paths.event_logs
    assert query(paths.database, "SELECT nodeid FROM tests").rows == [("tests/test_app.py::test_x",)]
    write_reports(tmp_path / "reports", results=results, transcripts=[])
    assert list((tmp_path / "reports" / "test-events").iterdir()) == []


def test_colliding_test_log_names_get_a_hash() -> None:
    names = recorded_log_names(
        [RecordedTest("t.py::a[x y]", logs={"e": EventLog([])}), RecordedTest("t.py::a[x/y]", logs={"e": EventLog([])})]
    )
    assert len(set(names.values())) == 2
    assert all(name.startswith("t.py__a_x_y_.e-") for name in names.values())
