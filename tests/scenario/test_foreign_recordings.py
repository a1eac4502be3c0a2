"""Recordings made by other clients replay through the core: semantic matching end to end, and
stream-only captures that end where the app's next request would go."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.errors import FrameMismatch, ScenarioError
from harness.scenario import load_scenario, replay_summary, replay_transcript, run_scenario
from harness.scenario.model import MatchSpec, Scenario
from harness.scenario.runner import execute, scenario_for_transcript
from harness.transcript import read_transcript

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
FOREIGN = sorted((ROOT / "scenarios" / "foreign").glob("*.yaml"))
GOLDENS = ROOT / "fixtures" / "goldens"

# Real pydantic-ai recordings whose second request the core spells differently (call ids, item ids).
REAL_FOREIGN = [
    "transcripts/openai/pydantic-ai-cassettes/openai-responses__function_call_then_text_multiturn_no_seqnum.ndjson",
    "transcripts/openai/pydantic-ai-cassettes/responses-compat-deepseek__reasoning_text_function_call.ndjson",
]
TOOL_USE_CAPTURE = "transcripts/anthropic/anthropic-sdk/tool_use_response.ndjson"
CHAT_TOOL_CAPTURE = "transcripts/openai/openai-sdk/chat__single_tool_call.ndjson"


def strictly(scenario: Scenario) -> Scenario:
    return scenario.model_copy(update={"match": MatchSpec(ignore=scenario.match.ignore)})


@pytest.mark.parametrize("path", REAL_FOREIGN, ids=[Path(p).stem for p in REAL_FOREIGN])
def test_harness_replay_matches_an_imported_recording_semantically(path: str) -> None:
    transcript = read_transcript(ROOT / path)
    implied = scenario_for_transcript(transcript, path=path)
    assert implied.match.mode == "semantic"  # the header says `harness import` made it
    execution = execute(implied, transcript=transcript)
    summary = replay_summary(execution, events=False)
    assert (summary["status"], summary["error"], summary["match"]) == ("completed", None, "semantic")
    assert execution.driver.remaining == 0


@pytest.mark.parametrize("path", REAL_FOREIGN, ids=[Path(p).stem for p in REAL_FOREIGN])
def test_the_same_recording_fails_a_strict_replay(path: str) -> None:
    transcript = read_transcript(ROOT / path)
    execution = execute(strictly(scenario_for_transcript(transcript, path=path)), transcript=transcript)
    assert isinstance(execution.driver.failure, FrameMismatch)
    assert execution.driver.failure.recorded_at is None


def test_a_transcript_without_a_foreign_header_replays_strictly() -> None:
    transcript = read_transcript(ROOT / "transcripts/parity/exchange_rate.openai_chat.ndjson")
    assert transcript.header.metadata.get("format") == "derived"
    assert scenario_for_transcript(transcript).match.mode == "strict"


def test_the_foreign_scenarios_are_all_here() -> None:
    assert [p.stem for p in FOREIGN] == [
        "anthropic_tool_loop_respelled",
        "openai_chat_parallel_tool_calls_semantic",
        "openai_responses_compat_deepseek_semantic",
        "openai_responses_item_id_as_call_id_semantic",
    ]


@pytest.mark.parametrize("path", FOREIGN, ids=[p.stem for p in FOREIGN])
def test_a_foreign_scenario_passes_semantic_and_fails_strict(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.match == MatchSpec(mode="semantic")
    assert run_scenario(scenario, goldens_dir=GOLDENS).failures == []
    failure = execute(strictly(scenario)).driver.failure
    assert isinstance(failure, FrameMismatch), failure


def test_semantic_matching_is_refused_for_an_agent_runtime(tmp_path: Path) -> None:
    scenario = load_scenario(ROOT / "scenarios/t3code/codex/simple.yaml")
    semantic = scenario.model_copy(update={"match": MatchSpec(mode="semantic")})
    with pytest.raises(ScenarioError, match=r"\$\.match\.mode: codex\.app-server is an agent runtime"):
        execute(semantic)


def test_variants_keep_match_inside_each_variant() -> None:
    with pytest.raises(ValueError, match="`match` belong inside each variant"):
        Scenario.model_validate(
            {
                "name": "v",
                "variants": {"a": {"transcript": "a.ndjson"}, "b": {"transcript": "b.ndjson"}},
                "match": {"mode": "semantic"},
            }
        )


# -- stream-only captures ending in a tool call ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "stop_reason"),
    [(TOOL_USE_CAPTURE, "tool_use"), (CHAT_TOOL_CAPTURE, "tool_calls")],
    ids=["anthropic", "chat"],
)
def test_a_capture_ending_in_a_tool_call_completes_where_the_recording_ends(path: str, stop_reason: str) -> None:
    execution = replay_transcript(ROOT / path)
    summary = replay_summary(execution)
    assert (summary["status"], summary["error"], summary["recording_ended"]) == ("completed", None, True)
    assert [m["stop_reason"] for m in summary["messages"]] == [stop_reason]
    assert execution.driver.failure is None and execution.driver.remaining == 0
    events = summary["events"]
    # after the tool ran, the loop sent the next request: a new provider turn started
    steps: list[str] = []
    turns: set[str] = set()
    for event in events:
        if event["type"] == "tool_call.completed":
            steps.append("tool_call.completed")
        elif event["type"] == "provider-turn.updated" and event["data"]["provider_turn_id"] not in turns:
            turns.add(event["data"]["provider_turn_id"])
            steps.append("provider turn started")
    assert steps[-2:] == ["tool_call.completed", "provider turn started"]
    terminal = events[-1]
    assert (terminal["type"], terminal["data"]["status"]) == ("run.updated", "completed")
    # what the terminal snapshot adds to the running run's: no error, the stop reason, the capture's end
    running = next(e for e in events if e["type"] == "run.updated" and e["data"]["status"] == "running")
    added = {key: value for key, value in terminal["data"].items() if key not in running["data"]}
    assert added == {"error": None, "stop_reason": stop_reason, "recording_ended": True}


def test_a_complete_recording_does_not_say_it_ended_early() -> None:
    summary = replay_summary(replay_transcript(ROOT / "transcripts/foreign/anthropic_tool_loop_respelled.ndjson"))
    assert (summary["status"], summary["recording_ended"]) == ("completed", False)


def test_the_pytest_plugin_sees_the_same_outcome(pytester: pytest.Pytester) -> None:
    (pytester.path / "transcripts").mkdir()
    shutil.copy(ROOT / TOOL_USE_CAPTURE, pytester.path / "transcripts" / "capture.ndjson")
    pytester.makepyfile(
        test_capture="""
        from harness.scenario import replay_summary

        def test_capture(harness_replay):
            execution = harness_replay("transcripts/capture.ndjson")
            summary = replay_summary(execution, events=False)
            assert (summary["status"], summary["recording_ended"]) == ("completed", True)
            assert execution.runs[-1]["stop_reason"] == "tool_use"
    """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
