"""Under pytest-xdist: workers run the scenarios, the controller writes the outputs."""

from __future__ import annotations

import duckdb
import pytest

pytest_plugins = ["pytester"]
pytest.importorskip("xdist")


def test_outputs_cover_the_scenarios_that_workers_ran(project):
    project.scenario("plain_text", golden=False)
    project.scenario("broken", status="failed", golden=False)
    project.scenario("third", golden=False)

    result = project.run("-n", "2", "--harness-report", "report", "--harness-db", "run.duckdb")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "created: 2/2 workers",
            "*report written to report (3 scenarios)",
            "DuckDB written to run.duckdb (*)",
        ]
    )
    with duckdb.connect(str(project.root / "run.duckdb"), read_only=True) as conn:
        verdicts = conn.execute("SELECT scenario, status, failure_count FROM verdicts ORDER BY scenario").fetchall()
    assert verdicts == [("broken", "failed", 1), ("plain_text", "passed", 0), ("third", "passed", 0)]


def test_failure_text_from_a_worker_keeps_the_reproduce_commands(project):
    project.scenario("broken", status="failed", golden=False)

    result = project.run("-n", "2")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "[[]expectation[]] run t1/run-1 ended 'completed', expected 'failed'",
            "",
            "reproduce: harness run scenarios/broken.yaml",
            "or: pytest scenarios/broken.yaml::broken",
        ]
    )
    project.assert_no_traceback(result)


def test_goldens_created_on_workers_are_listed_and_unused_ones_reported(project):
    project.scenario("plain_text")
    project.scenario("second")
    project.pytester.makepyfile(
        test_golden="""
        def test_golden(harness_replay, harness_golden):
            harness_golden.assert_match("from_test", harness_replay("transcripts/plain_text.ndjson"))
    """
    )
    project.golden("stale").parent.mkdir(parents=True)
    project.golden("stale").write_text("{}\n")

    result = project.run("-n", "2", "--harness-update-goldens")

    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "golden created: fixtures/goldens/from_test.ndjson",
            "golden created: fixtures/goldens/plain_text.ndjson",
            "golden created: fixtures/goldens/second.ndjson",
            "1 unused golden file in fixtures/goldens*",
            "  fixtures/goldens/stale.ndjson",
        ]
    )
