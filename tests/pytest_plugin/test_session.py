"""End-of-run behaviour: options in --help, unused goldens, the report and the DuckDB file."""

from __future__ import annotations

import duckdb
import pytest

pytest_plugins = ["pytester"]

OPTIONS = [
    "--harness-update-goldens",
    "--harness-update-failed-goldens",
    "--harness-goldens=DIR",
    "--harness-seed=N",
    "--harness-report=DIR",
    "--harness-db=PATH",
    "--harness-record-mode={none,once,new_episodes,all}",
    "--harness-sim-seeds=A..B",
]


def test_every_option_is_listed_in_the_harness_group_of_help(pytester):
    result = pytester.runpytest("--help")

    lines = result.stdout.lines
    start = lines.index("replay-harness scenarios and goldens:")
    group = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        group.append(line)
    listed = [line.split()[0] for line in group if line.lstrip().startswith("--")]
    assert listed == OPTIONS
    result.stdout.fnmatch_lines(["  harness_scenario_dirs (linelist):*"])
    for ini in ("harness_goldens_dir", "harness_reports_dir", "harness_transcripts_dir"):
        result.stdout.fnmatch_lines([f"  {ini} (string):*"])


def test_unused_golden_is_reported_after_a_whole_run(project):
    project.scenario("plain_text")
    project.run("--harness-update-goldens").assert_outcomes(passed=1)
    stale = project.golden("stale")
    stale.write_text("{}\n")

    result = project.run()

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*- harness -*",
            "1 unused golden file in fixtures/goldens (no collected scenario or harness_golden call*",
            "  fixtures/goldens/stale.ndjson",
        ]
    )
    result.stdout.no_fnmatch_line("  fixtures/goldens/plain_text.ndjson")


def test_golden_checked_through_harness_golden_counts_as_used(project):
    project.pytester.makepyfile(
        test_golden="""
        def test_golden(harness_replay, harness_golden):
            harness_golden.assert_match("from_test", harness_replay("transcripts/plain_text.ndjson"))
    """
    )
    project.run("--harness-update-goldens").assert_outcomes(passed=1)

    result = project.run()

    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*unused golden*")


@pytest.mark.parametrize(
    "selection",
    [("scenarios",), ("-k", "plain_text"), ("--deselect", "scenarios/other.yaml::other"), ("-x",)],
    ids=["path", "keyword", "deselect", "exitfirst"],
)
def test_unused_goldens_are_not_reported_for_a_partial_run(project, selection):
    project.scenario("plain_text", status="failed", golden=False)
    project.scenario("other", golden=False)
    project.golden("stale").parent.mkdir(parents=True)
    project.golden("stale").write_text("{}\n")
    assert "fixtures/goldens/stale.ndjson" in project.run().stdout.str()  # a whole run reports it

    result = project.run(*selection)

    result.stdout.no_fnmatch_line("*unused golden*")
    assert "fixtures/goldens/stale.ndjson" not in result.stdout.str()


def test_report_and_database_are_written_at_session_finish(project):
    project.scenario("plain_text", golden=False)
    project.scenario("broken", status="failed", golden=False)

    result = project.run("--harness-report", "out/report", "--harness-db", "out/run.duckdb")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "report written to out/report (2 scenarios)",
            "DuckDB written to out/run.duckdb (*2 verdicts*)",
        ]
    )
    assert "broken" in (project.root / "out" / "report" / "summary.md").read_text()
    with duckdb.connect(str(project.root / "out" / "run.duckdb"), read_only=True) as conn:
        verdicts = conn.execute("SELECT scenario, status FROM verdicts ORDER BY scenario").fetchall()
    assert verdicts == [("broken", "failed"), ("plain_text", "passed")]


def test_database_includes_transcripts_replayed_by_the_fixture(project):
    project.pytester.makepyfile(
        test_replay="""
        def test_replay(harness_replay):
            harness_replay("transcripts/plain_text.ndjson")
    """
    )

    project.run("--harness-db", "run.duckdb").assert_outcomes(passed=1)

    with duckdb.connect(str(project.root / "run.duckdb"), read_only=True) as conn:
        ids = conn.execute("SELECT transcript_id FROM transcripts").fetchall()
    assert ids == [("transcripts/plain_text.ndjson",)]


# -- directories resolve against the rootdir, never the working directory --------------------------


def _from_subdirectory(project, monkeypatch, ini: str = "") -> None:
    """Pin the rootdir with an ini file and start pytest from a subdirectory of it."""
    project.pytester.makeini("[pytest]\n" + ini)
    (project.root / "sub").mkdir()
    monkeypatch.chdir(project.root / "sub")


def test_path_options_resolve_against_the_rootdir_from_a_subdirectory(project, monkeypatch):
    project.scenario("plain_text")
    _from_subdirectory(project, monkeypatch)

    result = project.run(
        str(project.root),
        "--harness-update-goldens",
        "--harness-goldens",
        "golden_files",
        "--harness-report",
        "out/report",
        "--harness-db",
        "out/run.duckdb",
    )

    result.assert_outcomes(passed=1)
    assert (project.root / "golden_files" / "plain_text.ndjson").is_file()
    assert (project.root / "out" / "report" / "summary.md").is_file()
    assert (project.root / "out" / "run.duckdb").is_file()
    assert not (project.root / "sub" / "golden_files").exists()
    assert not (project.root / "sub" / "out").exists()


def test_directory_ini_options_resolve_against_the_rootdir_from_a_subdirectory(project, monkeypatch):
    project.scenario("plain_text")
    project.pytester.makepyfile(
        test_dirs="""
        from harness.pytest_plugin import get_session

        def test_dirs(request):
            assert get_session(request.config).transcripts_dir == request.config.rootpath / "recordings"
    """
    )
    _from_subdirectory(
        project,
        monkeypatch,
        "harness_goldens_dir = golden_files\nharness_reports_dir = out/report\nharness_transcripts_dir = recordings\n",
    )

    result = project.run(str(project.root), "--harness-update-goldens")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["report written to out/report (1 scenarios)"])
    assert (project.root / "golden_files" / "plain_text.ndjson").is_file()
    assert (project.root / "out" / "report" / "summary.md").is_file()
    assert not (project.root / "sub" / "out").exists()


def test_the_command_line_overrides_the_goldens_ini_option(project):
    project.pytester.makeini("[pytest]\nharness_goldens_dir = golden_files\n")
    project.scenario("plain_text")

    project.run("--harness-update-goldens", "--harness-goldens", "other").assert_outcomes(passed=1)

    assert (project.root / "other" / "plain_text.ndjson").is_file()
    assert not (project.root / "golden_files").exists()
