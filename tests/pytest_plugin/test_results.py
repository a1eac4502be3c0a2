"""The harness_results fixture: an ordinary test's transcripts, events and verdict in the report."""

from __future__ import annotations

import json

import duckdb
import pytest

pytest_plugins = ["pytester"]

RULES_TOML = """\
[[rules]]
id = "app.run.single_terminal"
kind = "single_terminal"
key = "$.run_id"
terminal = ["run.completed", "run.failed"]

[[rules]]
id = "app.tool.paired"
kind = "paired"
request = "tool.requested"
complete = "tool.completed"
key = "$.call_id"
"""

APP_TESTS = """
    import pytest

    GOOD = [
        {"type": "run.started", "run_id": "r1"},
        {"type": "tool.requested", "run_id": "r1", "call_id": "c1"},
        {"type": "tool.completed", "run_id": "r1", "call_id": "c1"},
        {"type": "run.completed", "run_id": "r1"},
    ]

    def test_good(harness_replay, harness_results, harness_golden):
        harness_replay("transcripts/plain_text.ndjson")
        harness_results.assert_invariants(GOOD, "rules.toml")
        harness_golden.assert_match("app/good", GOOD)

    def test_unpaired(harness_results):
        harness_results.add_transcript("transcripts/plain_text.ndjson")
        harness_results.assert_invariants(GOOD[:2] + GOOD[3:], "rules.toml")

    def test_skipped(harness_results):
        pytest.skip("not today")

    def test_not_recorded():
        pass
"""


def _write_app(project) -> None:
    (project.root / "rules.toml").write_text(RULES_TOML)
    project.pytester.makepyfile(test_app=APP_TESTS)


def _rows(db, sql):
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_assert_invariants_fails_with_each_error_violation(project):
    _write_app(project)

    result = project.run("test_app.py::test_unpaired")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "1 rule violation in log 'events':",
            "  [[]app.tool.paired[]] event 1: tool.requested for $.call_id c1 is never followed by a tool.completed",
        ]
    )
    project.assert_no_traceback(result)


def test_a_malformed_rule_file_fails_the_test_naming_file_and_path(project):
    (project.root / "rules.toml").write_text('[[rules]]\nid = "x"\nkind = "paired"\n')
    project.pytester.makepyfile(
        test_app="""
        def test_app(harness_results):
            harness_results.assert_invariants([], "rules.toml")
    """
    )

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["harness_results.assert_invariants: */rules.toml: $.rules[[]0[]].request: Field required*"]
    )


def test_recorded_tests_land_in_the_database_beside_the_scenarios(project):
    _write_app(project)
    project.scenario("plain_text", golden=False)

    result = project.run("--harness-update-goldens", "--harness-db", "out/run.duckdb")

    result.assert_outcomes(passed=3, failed=1, skipped=1)
    db = project.root / "out" / "run.duckdb"
    assert _rows(db, "SELECT nodeid, status, message FROM tests ORDER BY position") == [
        ("test_app.py::test_good", "passed", None),
        ("test_app.py::test_unpaired", "failed", "1 rule violation in log 'events':"),
        ("test_app.py::test_skipped", "skipped", "Skipped: not today"),
    ]
    assert _rows(db, "SELECT kind, name, status FROM outcomes WHERE status <> 'skipped' ORDER BY kind, name") == [
        ("scenario", "plain_text", "passed"),
        ("test", "test_app.py::test_good", "passed"),
        ("test", "test_app.py::test_unpaired", "failed"),
    ]
    assert _rows(db, "SELECT DISTINCT nodeid, transcript_id FROM test_transcripts ORDER BY nodeid") == [
        ("test_app.py::test_good", "transcripts/plain_text.ndjson"),
        ("test_app.py::test_unpaired", "transcripts/plain_text.ndjson"),
    ]
    assert _rows(db, "SELECT transcript_id FROM transcripts") == [("transcripts/plain_text.ndjson",)]
    events = _rows(db, "SELECT event_index, type, data FROM test_events WHERE nodeid = 'test_app.py::test_good'")
    assert [(i, t) for i, t, _ in events] == [
        (0, "run.started"),
        (1, "tool.requested"),
        (2, "tool.completed"),
        (3, "run.completed"),
    ]
    assert json.loads(events[1][2]) == {"type": "tool.requested", "run_id": "r1", "call_id": "c1"}
    assert _rows(db, "SELECT nodeid, rule, event_index, subject, detail->>'$.expected' FROM test_violations") == [
        ("test_app.py::test_unpaired", "app.tool.paired", 1, "c1", "tool.completed")
    ]
    assert _rows(db, "SELECT nodeid, path, outcome FROM test_goldens") == [
        ("test_app.py::test_good", "fixtures/goldens/app/good.ndjson", "created")
    ]


def test_recorded_tests_land_in_the_report(project):
    _write_app(project)

    result = project.run("--harness-report", "report")

    result.assert_outcomes(passed=1, failed=2, skipped=1)  # test_good's golden is missing
    result.stdout.fnmatch_lines(["report written to report (0 scenarios, 3 recorded tests)"])
    summary = (project.root / "report" / "summary.md").read_text()
    assert "3 recorded tests: 0 passed, 2 failed, 1 skipped." in summary
    assert "| test_app.py::test_unpaired | failed | 1 | 3 | 1 |  |" in summary
    assert "| test_app.py::test_good | failed | 1 | 4 | 0 | missing |" in summary
    assert "### `test_app.py::test_unpaired`" in summary
    assert "pytest test_app.py::test_unpaired" in summary
    assert "| test_app.py::test_unpaired | events | app.tool.paired | error | 1 | c1 |" in summary
    logs = sorted(p.name for p in (project.root / "report" / "test-events").iterdir())
    assert logs == ["test_app.py__test_good.events.ndjson", "test_app.py__test_unpaired.events.ndjson"]


def test_a_failure_outside_the_call_is_recorded_with_its_phase(project):
    project.pytester.makepyfile(
        test_app="""
        import pytest

        @pytest.fixture
        def broken():
            yield
            raise RuntimeError("teardown broke")

        def test_app(harness_results, broken):
            harness_results.add_events([{"type": "a"}])
    """
    )

    project.run("--harness-db", "run.duckdb")

    assert _rows(project.root / "run.duckdb", "SELECT status, message FROM tests") == [
        ("failed", "error at teardown: RuntimeError: teardown broke")
    ]


def test_recorded_tests_travel_from_xdist_workers(project):
    pytest.importorskip("xdist")
    _write_app(project)
    project.scenario("plain_text", golden=False)

    result = project.run("-n", "2", "--harness-update-goldens", "--harness-db", "run.duckdb", "--harness-report", "r")

    result.assert_outcomes(passed=3, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*report written to r (1 scenarios, 3 recorded tests)"])
    db = project.root / "run.duckdb"
    assert _rows(db, "SELECT nodeid, status FROM tests ORDER BY position") == [
        ("test_app.py::test_good", "passed"),
        ("test_app.py::test_unpaired", "failed"),
        ("test_app.py::test_skipped", "skipped"),
    ]
    assert _rows(db, "SELECT count(*) FROM test_events") == [(7,)]
    assert _rows(db, "SELECT rule FROM test_violations") == [("app.tool.paired",)]
    assert _rows(db, "SELECT outcome FROM test_goldens") == [("created",)]
    assert _rows(db, "SELECT transcript_id FROM transcripts") == [("transcripts/plain_text.ndjson",)]
    assert _rows(db, "SELECT scenario, status FROM verdicts") == [("plain_text", "passed")]
