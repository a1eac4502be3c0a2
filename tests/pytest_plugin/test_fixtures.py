"""The harness_replay and harness_golden fixtures, used from plain test functions."""

from __future__ import annotations

pytest_plugins = ["pytester"]


def test_harness_replay_replays_a_transcript_relative_to_the_rootdir(project):
    project.pytester.makepyfile(
        test_replay="""
        def test_replay(harness_replay, tmp_path, monkeypatch):
            monkeypatch.chdir(tmp_path)  # the fixture resolves against the rootdir, not the cwd
            execution = harness_replay("transcripts/plain_text.ndjson")
            assert execution.driver.failure is None
            assert execution.runs[-1]["status"] == "completed"
            assert execution.responses[-1][1].text == "2"
    """
    )

    project.run().assert_outcomes(passed=1)


def test_harness_replay_applies_overrides_to_a_scenario_file(project):
    project.scenario("plain_text", golden=False)
    project.pytester.makepyfile(
        test_replay="""
        def test_replay(harness_replay):
            recorded = harness_replay("scenarios/plain_text.yaml")
            changed = harness_replay(
                "scenarios/plain_text.yaml",
                commands=[{"type": "thread.create", "thread_id": "t1"},
                          {"type": "message.dispatch", "thread_id": "t1", "text": "Something else"}],
            )
            assert recorded.driver.failure is None
            assert "differs from the recording at $.body.messages" in str(changed.driver.failure)
    """
    )

    project.run("test_replay.py").assert_outcomes(passed=1)


def test_harness_replay_reports_a_bad_path_without_a_traceback(project):
    project.pytester.makepyfile(
        test_replay="""
        def test_replay(harness_replay):
            harness_replay("transcripts/nope.ndjson")
    """
    )

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "harness_replay('transcripts/nope.ndjson'): transcripts/nope.ndjson: no such transcript file",
        ]
    )
    project.assert_no_traceback(result)


def test_harness_replay_rejects_an_invalid_override(project):
    project.pytester.makepyfile(
        test_replay="""
        def test_replay(harness_replay):
            harness_replay("transcripts/plain_text.ndjson", seed="many")
    """
    )

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*invalid override: $.seed: *"])


def test_harness_seed_reaches_harness_replay(project):
    project.pytester.makepyfile(
        test_replay="""
        from harness import execute, load_scenario, read_transcript, scenario_for_transcript

        def test_replay(harness_replay, request):
            seeded = harness_replay("transcripts/plain_text.ndjson")
            transcript = read_transcript(request.config.rootpath / "transcripts/plain_text.ndjson")
            expected = execute(scenario_for_transcript(transcript), transcript=transcript, seed=5)
            default = execute(scenario_for_transcript(transcript), transcript=transcript)
            assert seeded.events[0].command_id == expected.events[0].command_id
            assert seeded.events[0].command_id != default.events[0].command_id
    """
    )

    project.run("--harness-seed", "5").assert_outcomes(passed=1)


GOLDEN_TEST = """
    def test_golden(harness_replay, harness_golden):
        execution = harness_replay("transcripts/plain_text.ndjson")
        harness_golden.assert_match("from_test", execution.events)
"""


def test_harness_golden_missing_fails_with_the_update_hint(project):
    project.pytester.makepyfile(test_golden=GOLDEN_TEST)

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "golden file fixtures/goldens/from_test.ndjson does not exist; create it with "
            "`harness goldens update` or `pytest --harness-update-goldens`"
        ]
    )
    project.assert_no_traceback(result)


def test_harness_golden_update_creates_the_golden_and_a_rerun_passes(project):
    project.pytester.makepyfile(test_golden=GOLDEN_TEST)

    created = project.run("--harness-update-goldens")

    created.assert_outcomes(passed=1)
    created.stdout.fnmatch_lines(["golden created: fixtures/goldens/from_test.ndjson"])
    assert project.golden("from_test").read_text().startswith('{"deltas":"coalesced"')
    project.run().assert_outcomes(passed=1)


def test_harness_golden_mismatch_fails_with_the_divergence_and_the_diff(project):
    project.pytester.makepyfile(test_golden=GOLDEN_TEST)
    project.run("--harness-update-goldens").assert_outcomes(passed=1)
    golden = project.golden("from_test")
    golden.write_text(golden.read_text().replace('"end_turn"', '"max_tokens"'))

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "golden fixtures/goldens/from_test.ndjson does not match:",
            "fixtures/goldens/from_test.ndjson: first divergence at event index * "
            '$.data.stop_reason: expected "max_tokens", found "end_turn"*',
            "",
            "--- golden",
            "+++ actual",
        ]
    )
    project.assert_no_traceback(result)


def test_harness_golden_rejects_a_name_outside_the_goldens_directory(project):
    project.pytester.makepyfile(
        test_golden="""
        def test_golden(harness_golden):
            harness_golden.assert_match("../escape", [])
    """
    )

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["harness_golden: golden name '../escape' must be a relative path inside *"])
