"""Agent-runtime scenarios through the runner: placeholders, handoff masking, replay entry points."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ScenarioError
from harness.replay.matcher import FrameMatcher
from harness.scenario.model import Scenario, load_scenario
from harness.scenario.runner import execute, replay_summary, replay_transcript, run_scenario

ROOT = Path(__file__).parents[2]
SCENARIOS = ROOT / "scenarios" / "t3code"
FORK = ROOT / "transcripts" / "t3code" / "thread_fork_native" / "claude_transcript.ndjson"
RECORDED_DIR = "/tmp/claude-replay-thread_fork_native"


def with_workspace_placeholder(tmp_path: Path) -> Path:
    """The fork transcript with its recorded working directory replaced by ``<workspace>``."""
    path = tmp_path / "fork.ndjson"
    path.write_text(FORK.read_text(encoding="utf-8").replace(RECORDED_DIR, "<workspace>"), encoding="utf-8")
    return path


def fork_scenario(tmp_path: Path, transcript: Path, cwd: str, workspace: str | None) -> Scenario:
    scenario = load_scenario(SCENARIOS / "claude" / "thread_fork_native.yaml")
    create = scenario.commands[0]
    runtime = create.runtime.model_copy(update={"cwd": cwd})  # type: ignore[union-attr]
    commands = [create.model_copy(update={"runtime": runtime}), *scenario.commands[1:]]
    return scenario.model_copy(
        update={"transcript": str(transcript), "commands": commands, "workspace": workspace, "source": None}
    )


def test_the_workspace_placeholder_stands_for_the_scenario_workspace(tmp_path: Path) -> None:
    transcript = with_workspace_placeholder(tmp_path)
    elsewhere = "/srv/checkouts/project"
    execution = execute(fork_scenario(tmp_path, transcript, cwd=elsewhere, workspace=elsewhere))
    assert execution.driver.failure is None
    assert execution.driver.remaining == 0


def test_a_workspace_that_differs_from_the_cwd_fails_at_the_fork_frame(tmp_path: Path) -> None:
    transcript = with_workspace_placeholder(tmp_path)
    execution = execute(fork_scenario(tmp_path, transcript, cwd="/srv/a", workspace="/srv/b"))
    message = str(execution.driver.failure)
    assert ":11:" in message and "$.options.dir" in message and "/srv/b" in message


def test_a_merge_back_handoff_is_compared_without_its_summary() -> None:
    matcher = FrameMatcher(handoff_summaries=True)
    recorded = "Context handoff (merge_back / fork_delta_summary):\nrecorded words\n\nUser message:\nGo on."
    ours = "Context handoff (merge_back / fork_delta_summary):\nour own words\n\nUser message:\nGo on."
    assert matcher.compare({"text": recorded}, {"text": ours}) is None
    path, _, _ = matcher.compare({"text": recorded}, {"text": ours.replace("Go on.", "Stop.")}) or ("", None, None)
    assert path == "$.text"


def test_a_bare_runtime_transcript_asks_for_a_scenario() -> None:
    with pytest.raises(ScenarioError, match="agent runtime: a bare transcript does not say what the app did"):
        replay_transcript(ROOT / "transcripts" / "t3code" / "simple" / "codex_transcript.ndjson")


def test_replay_json_of_a_runtime_scenario_lists_each_runs_assistant_message() -> None:
    summary = replay_summary(replay_transcript(SCENARIOS / "codex" / "multi_turn.yaml"))
    assert summary["status"] == "completed"
    assert [(m["run_id"], m["text"]) for m in summary["messages"]] == [
        ("main/run-1", "first fixture turn complete"),
        ("main/run-2", "second fixture turn complete"),
    ]
    json.dumps(summary)


def test_a_wrong_expected_status_is_an_expectation_failure(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / "codex" / "turn_interrupt.yaml")
    wrong = scenario.model_copy(update={"expect": scenario.expect.model_copy(update={"runs": ["completed"]})})
    result = run_scenario(wrong, goldens_dir=ROOT / "fixtures" / "goldens")
    assert [f.message for f in result.failures] == ["runs statuses ['interrupted'], expected ['completed']"]


def test_an_http_scenario_may_not_use_runtime_steps() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "anthropic" / "code_execution_server_tool.yaml")
    steps = [*scenario.commands, {"type": "run.interrupt"}]
    bad = scenario.model_validate({**scenario.model_dump(), "commands": steps, "source": scenario.source})
    with pytest.raises(ScenarioError, match=r"'run\.interrupt' needs an agent-runtime transcript"):
        execute(bad)
