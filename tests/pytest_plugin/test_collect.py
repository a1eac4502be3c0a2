"""Scenario files as pytest items: collection rule, ids, failure text, goldens, collection errors."""

from __future__ import annotations

import hashlib

import pytest

pytest_plugins = ["pytester"]


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".toml"], ids=["yaml", "yml", "toml"])
def test_scenario_file_is_one_item_named_after_the_scenario(project, suffix):
    project.scenario("plain_text", golden=False, suffix=suffix)

    result = project.run("-v")

    result.stdout.fnmatch_lines([f"scenarios/plain_text{suffix}::plain_text PASSED*"])
    result.assert_outcomes(passed=1)


def test_nested_scenarios_directory_is_collected(project):
    project.scenario("deep", golden=False, where="suite/scenarios/anthropic")

    result = project.run("-v")

    result.stdout.fnmatch_lines(["suite/scenarios/anthropic/deep.yaml::deep PASSED*"])


def test_scenario_replays_from_the_rootdir_whatever_the_working_directory(project, monkeypatch):
    project.pytester.makeini("[pytest]\n")  # pins the rootdir above the invocation directory
    project.scenario("plain_text", where="suite/scenarios")
    monkeypatch.chdir(project.root / "suite")

    result = project.run("--harness-update-goldens")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["golden created: fixtures/goldens/plain_text.ndjson"])


def test_scenario_file_outside_a_scenarios_directory_is_not_collected(project):
    project.scenario("elsewhere", golden=False, where="data")

    result = project.run()

    result.assert_outcomes()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_harness_scenario_dirs_ini_names_the_collected_directories(project):
    project.pytester.makeini("[pytest]\nharness_scenario_dirs =\n    cases\n")
    project.scenario("in_cases", golden=False, where="cases")
    project.scenario("in_scenarios", golden=False, where="scenarios")

    result = project.run("-v")

    result.stdout.fnmatch_lines(["cases/in_cases.yaml::in_cases PASSED*"])
    result.assert_outcomes(passed=1)


def test_empty_harness_scenario_dirs_switches_collection_off(project):
    project.pytester.makeini("[pytest]\nharness_scenario_dirs =\n")
    project.scenario("plain_text", golden=False)

    result = project.run()

    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_failing_scenario_shows_each_failure_and_the_reproduce_commands(project):
    project.scenario("plain_text", status="failed", golden=False)

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ scenario plain_text _*",
            "[[]expectation[]] run t1/run-1 ended 'completed', expected 'failed'",
            "",
            "reproduce: harness run scenarios/plain_text.yaml",
            "or: pytest scenarios/plain_text.yaml::plain_text",
        ]
    )
    project.assert_no_traceback(result)


def test_tampered_golden_shows_the_first_divergence_and_the_diff(project):
    project.scenario("plain_text")
    project.run("--harness-update-goldens").assert_outcomes(passed=1)
    golden = project.golden("plain_text")
    golden.write_text(golden.read_text().replace("What is 1+1?", "What is 2+2?"))

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "[[]golden[]] fixtures/goldens/plain_text.ndjson: first divergence at event index 5 (message.updated), "
            '$.data.text: expected "What is 2+2?*", found "What is 1+1?*"*',
            "    --- golden",
            "    +++ actual",
            "*-*What is 2+2?*",
            "*+*What is 1+1?*",
            "reproduce: harness run scenarios/plain_text.yaml",
        ]
    )
    project.assert_no_traceback(result)


def test_missing_golden_fails_with_the_update_hint(project):
    project.scenario("plain_text")

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "[[]golden_missing[]] golden file fixtures/goldens/plain_text.ndjson does not exist; "
            "create it with `harness goldens update` or `pytest --harness-update-goldens`",
        ]
    )
    project.assert_no_traceback(result)


def test_update_goldens_creates_the_golden_and_a_rerun_passes(project):
    project.scenario("plain_text")

    created = project.run("--harness-update-goldens")

    created.assert_outcomes(passed=1)
    created.stdout.fnmatch_lines(["*- harness -*", "golden created: fixtures/goldens/plain_text.ndjson"])
    assert project.golden("plain_text").is_file()
    project.run().assert_outcomes(passed=1)


def test_harness_goldens_option_chooses_the_goldens_directory(project):
    project.scenario("plain_text")

    result = project.run("--harness-update-goldens", "--harness-goldens", "elsewhere")

    result.assert_outcomes(passed=1)
    assert (project.root / "elsewhere" / "plain_text.ndjson").is_file()
    assert not project.golden("plain_text").exists()


def _seeded_command_id(seed: int, number: int) -> str:
    return f"command-{hashlib.sha256(f'{seed}/command/{number}'.encode()).hexdigest()[:8]}"


def test_harness_seed_reaches_scenario_replays(project):
    # Generated ids come from the seed, so a golden written with the default seed diverges.
    project.scenario("plain_text")
    project.run("--harness-update-goldens").assert_outcomes(passed=1)

    result = project.run("--harness-seed", "3")

    result.assert_outcomes(failed=1)
    expected, found = _seeded_command_id(0, 1), _seeded_command_id(3, 1)
    result.stdout.fnmatch_lines(
        [
            "[[]golden[]] *first divergence at event index 0 (command.accepted), "
            f'$.command_id: expected "{expected}", found "{found}"*'
        ]
    )


def test_malformed_scenario_is_a_collection_error_naming_file_and_field(project):
    path = project.scenario("bad", golden=False)
    path.write_text(path.read_text().replace("status: completed", "status: done"))

    result = project.run()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting scenarios/bad.yaml*",
            "scenarios/bad.yaml: $.expect.status: Input should be 'completed', 'failed', 'interrupted' or "
            "'cancelled' (found \"done\")",
        ]
    )
    project.assert_no_traceback(result)


def test_scenario_with_a_missing_transcript_fails_with_the_message(project):
    path = project.scenario("lost", golden=False)
    path.write_text(path.read_text().replace("plain_text.ndjson", "gone.ndjson"))

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "ScenarioError: scenarios/lost.yaml: $.transcript: scenarios/../transcripts/gone.ndjson: "
            "no such transcript file",
            "",
            "reproduce: harness run scenarios/lost.yaml",
        ]
    )
    project.assert_no_traceback(result)


def _broken_replay(project):
    """A scenario whose dispatched text differs from the recording: its replay fails."""
    path = project.scenario("plain_text")
    path.write_text(path.read_text().replace("What is 1+1?", "What is 3+3?"))
    return path


def test_update_goldens_skips_the_golden_of_a_failed_replay(project):
    _broken_replay(project)

    result = project.run("--harness-update-goldens")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "[[]replay[]] *differs from the recording*",
            "golden fixtures/goldens/plain_text.ndjson not written: the replay failed, so the event log is not one "
            "to keep (pass --harness-update-failed-goldens to write it anyway)",
            "*- harness -*",
            "golden skipped: fixtures/goldens/plain_text.ndjson (the replay failed*",
        ]
    )
    assert not project.golden("plain_text").exists()


def test_update_failed_goldens_writes_the_golden_of_a_failed_replay(project):
    _broken_replay(project)

    result = project.run("--harness-update-failed-goldens")

    result.assert_outcomes(failed=1)  # the replay still fails; the golden is written as asked
    result.stdout.fnmatch_lines(["golden created: fixtures/goldens/plain_text.ndjson"])
    assert project.golden("plain_text").is_file()
