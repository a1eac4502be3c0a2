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


def test_harness_golden_reports_a_corrupt_golden_as_a_located_failure(project):
    golden = project.golden("corrupt")
    golden.parent.mkdir(parents=True)
    golden.write_bytes(b'{"scenario": "corrupt"}\nnot json\n')
    project.pytester.makepyfile(
        test_golden="""
        def test_golden(harness_golden):
            harness_golden.assert_match("corrupt", [{"type": "a"}])
    """
    )

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*harness_golden.assert_match('corrupt'): fixtures/goldens/corrupt.ndjson:2: *"])
    project.assert_no_traceback(result)


def test_harness_golden_rejects_a_symlinked_subdirectory_leading_outside(project):
    outside = project.root / "elsewhere"
    outside.mkdir()
    goldens = project.root / "fixtures" / "goldens"
    goldens.mkdir(parents=True)
    (goldens / "linked").symlink_to(outside, target_is_directory=True)
    project.pytester.makepyfile(
        test_golden="""
        def test_golden(harness_golden):
            harness_golden.assert_match("linked/escape", [{"type": "a"}])
    """
    )

    result = project.run("--harness-update-goldens")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["harness_golden: golden name 'linked/escape' must be a relative path inside *"])
    assert not list(outside.iterdir())


# -- harness_golden on a user's own event log (plain mappings) -----------------------------------

APP_TEST = """
    from harness import CoalesceDeltas, GoldenNormalization

    NORMALIZATION = GoldenNormalization(
        volatile=["$.at"],
        ids=["$.run_id", "$.parent_run_id"],
        coalesce=[CoalesceDeltas(type="text.delta", text="$.text", group_by=["$.run_id"])],
    )

    def app_events(answer="Hello"):
        return [
            {"type": "run.started", "run_id": "run-7f3a", "at": 1733000000.1},
            {"type": "text.delta", "run_id": "run-7f3a", "text": answer[:3], "at": 1733000000.2},
            {"type": "text.delta", "run_id": "run-7f3a", "text": answer[3:], "at": 1733000000.3},
            {"type": "run.completed", "run_id": "run-7f3a", "at": 1733000000.4},
            {"type": "run.started", "run_id": "run-0b12", "parent_run_id": "run-7f3a", "at": 1733000001.0},
        ]

    def test_app(harness_golden):
        assert harness_golden.assert_match("app/run", app_events(), normalization=NORMALIZATION) in (
            "created", "matched"
        )
"""


def _app_golden(project):
    return [line for line in project.golden("app/run").read_text().splitlines()]


def test_plain_events_golden_is_created_normalized_and_a_rerun_matches(project):
    project.pytester.makepyfile(test_app=APP_TEST)

    created = project.run("--harness-update-goldens")

    created.assert_outcomes(passed=1)
    created.stdout.fnmatch_lines(["golden created: fixtures/goldens/app/run.ndjson"])
    assert _app_golden(project) == [
        '{"events":4,"format":"replay-harness.golden/v1","owner":"test","scenario":"app/run"}',
        '{"at":"<volatile>","run_id":"<id-1>","type":"run.started"}',
        '{"at":"<volatile>","fragments":2,"run_id":"<id-1>","text":"Hello","type":"text.delta"}',
        '{"at":"<volatile>","run_id":"<id-1>","type":"run.completed"}',
        '{"at":"<volatile>","parent_run_id":"<id-1>","run_id":"<id-2>","type":"run.started"}',
    ]
    project.run().assert_outcomes(passed=1)


def test_plain_events_golden_mismatch_names_the_first_divergence(project):
    project.pytester.makepyfile(test_app=APP_TEST)
    project.run("--harness-update-goldens").assert_outcomes(passed=1)
    project.pytester.makepyfile(test_app=APP_TEST.replace("app_events()", 'app_events("Howdy")'))

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "golden fixtures/goldens/app/run.ndjson does not match:",
            "fixtures/goldens/app/run.ndjson: first divergence at event index 1 (text.delta), "
            '$.text: expected "Hello", found "Howdy"*',
        ]
    )
    project.assert_no_traceback(result)


def test_plain_events_with_a_non_json_value_fail_naming_index_and_path(project):
    project.pytester.makepyfile(
        test_app="""
        import datetime

        def test_app(harness_golden):
            harness_golden.assert_match("app", [{"type": "a"}, {"type": "b", "at": datetime.date(2026, 1, 1)}])
    """
    )

    result = project.run("--harness-update-goldens")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["harness_golden.assert_match('app'): event 1, $.at: date value datetime.date(2026, 1, 1) is not JSON;*"]
    )
    assert not project.golden("app").exists()
    project.assert_no_traceback(result)


def test_deltas_option_is_refused_for_plain_events(project):
    project.pytester.makepyfile(
        test_app="""
        def test_app(harness_golden):
            harness_golden.assert_match("app", [{"type": "a"}], deltas="full")
    """
    )

    result = project.run("--harness-update-goldens")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*deltas= applies to this harness's own stored events; *GoldenNormalization(coalesce=*"]
    )


def test_stored_event_golden_from_a_test_carries_the_owner_marker(project):
    project.pytester.makepyfile(test_golden=GOLDEN_TEST)

    project.run("--harness-update-goldens").assert_outcomes(passed=1)

    header = project.golden("from_test").read_text().splitlines()[0]
    assert header.startswith('{"deltas":"coalesced","events":') and '"owner":"test"' in header


def test_an_old_stored_event_golden_without_owner_asks_for_one_rewrite(project):
    project.pytester.makepyfile(test_golden=GOLDEN_TEST)
    project.run("--harness-update-goldens").assert_outcomes(passed=1)
    golden = project.golden("from_test")
    golden.write_text(golden.read_text().replace(',"owner":"test"', "", 1))

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*golden header*$.owner*rewrite this one once with --harness-update-goldens)"])


FAILED_REPLAY_GOLDEN_TEST = """
    def test_golden(harness_replay, harness_golden):
        execution = harness_replay(
            "transcripts/plain_text.ndjson",
            commands=[{"type": "thread.create", "thread_id": "t1"},
                      {"type": "message.dispatch", "thread_id": "t1", "text": "Something else"}],
        )
        assert execution.driver.failure is not None
        harness_golden.assert_match("broken_replay", execution)
"""


def test_update_does_not_write_the_golden_of_a_failed_replay(project):
    project.pytester.makepyfile(test_golden=FAILED_REPLAY_GOLDEN_TEST)

    result = project.run("--harness-update-goldens")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "golden fixtures/goldens/broken_replay.ndjson not written: the replay failed (*). Fix the replay, "
            "or pass --harness-update-failed-goldens to write it anyway.",
            "golden skipped: fixtures/goldens/broken_replay.ndjson (the replay failed*",
        ]
    )
    assert not project.golden("broken_replay").exists()


def test_update_failed_goldens_writes_the_golden_of_a_failed_replay(project):
    project.pytester.makepyfile(test_golden=FAILED_REPLAY_GOLDEN_TEST)

    result = project.run("--harness-update-failed-goldens")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["golden created: fixtures/goldens/broken_replay.ndjson"])
