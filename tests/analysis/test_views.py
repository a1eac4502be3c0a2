"""The views: run_summary, time_to_first_token, tool_calls_per_run, events_by_type."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.analysis import build_database, query
from harness.scenario import ScenarioResult, execute, run_scenario, scenario_for_transcript
from harness.scenario.model import ToolDecl
from harness.transcript import Transcript

pytestmark = pytest.mark.usefixtures("repo_root")

RunBundled = Callable[..., ScenarioResult]
MULTITURN = "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"

TTFT_COLUMNS = "transcript_id, exchange, first_content_index, first_content_type, inbound_frames, timed_frames, ttft_ms"


def ttft(tmp_path: Path, *transcripts: Transcript) -> list[tuple[object, ...]]:
    db = tmp_path / "h.duckdb"
    build_database(db, transcripts=transcripts, results=[])
    return query(db, f"SELECT {TTFT_COLUMNS} FROM time_to_first_token").rows


def test_ttft_sums_after_ms_up_to_the_first_content_delta_per_exchange(
    tmp_path: Path, timed_transcript: Transcript
) -> None:
    assert ttft(tmp_path, timed_transcript) == [
        ("synthetic/timed.ndjson", 1, 5, "content_block_delta", 5, 4, 132),
        ("synthetic/timed.ndjson", 2, 13, "content_block_delta", 3, 3, 100),
    ]


def test_ttft_numbers_stream_only_exchanges_by_message_start_and_ignores_message_delta(
    tmp_path: Path, stream_only_transcript: Transcript
) -> None:
    assert ttft(tmp_path, stream_only_transcript) == [
        ("synthetic/stream_only.ndjson", 1, 2, "content_block_delta", 3, 3, 40),
    ]


def test_ttft_counts_dot_delta_data_types(tmp_path: Path, responses_api_transcript: Transcript) -> None:
    assert ttft(tmp_path, responses_api_transcript) == [
        ("synthetic/responses_api.ndjson", 1, 4, "response.output_text.delta", 4, 4, 110),
    ]


def test_ttft_is_null_when_the_recording_has_no_timings(tmp_path: Path, untimed_transcript: Transcript) -> None:
    assert ttft(tmp_path, untimed_transcript) == [
        ("synthetic/untimed.ndjson", 1, 3, "content_block_delta", 3, 0, None),
    ]


def test_ttft_agrees_with_the_replay_clock_at_the_first_turn_item_delta(
    tmp_path: Path, timed_stream_transcript: Transcript
) -> None:
    execution = execute(scenario_for_transcript(timed_stream_transcript), transcript=timed_stream_transcript)
    db = tmp_path / "h.duckdb"
    build_database(db, results=[ScenarioResult(execution=execution)])
    events = {e.type: e.at_ms for e in reversed(execution.events)}  # the first of each type wins
    # The provider turn's first snapshot is taken once its request went out.
    first_token_ms = events["turn-item.delta"] - events["provider-turn.updated"]
    assert query(db, "SELECT ttft_ms FROM time_to_first_token").rows == [(first_token_ms,)] == [(40,)]
    assert query(db, "SELECT status, stop_reason, requests, responses, tool_calls FROM run_summary").rows == [
        ("completed", "end_turn", 1, 1, 0),
    ]


def tool_calls_by_executor(result: ScenarioResult) -> list[tuple[str, str]]:
    return [(e.data["executor"], e.data["name"]) for e in result.execution.events if e.type == "tool_call.requested"]


@pytest.fixture
def tool_loop_db(tmp_path: Path, run_bundled: RunBundled) -> tuple[Path, ScenarioResult]:
    result = run_bundled(MULTITURN, name="tool_loop")
    db = tmp_path / "h.duckdb"
    build_database(db, results=[result])
    return db, result


def test_run_summary_has_one_row_per_run_with_its_counts(tool_loop_db: tuple[Path, ScenarioResult]) -> None:
    db, result = tool_loop_db
    (run,) = result.execution.runs
    run_events = sum(1 for e in result.execution.events if e.run_id == run["run_id"])
    # Two tool calls: the provider-run tool search, then the harness's get_exchange_rate.
    assert tool_calls_by_executor(result) == [("provider", "tool_search_tool_bm25"), ("harness", "get_exchange_rate")]
    assert query(db, "SELECT * FROM run_summary").rows == [
        ("tool_loop", run["run_id"], "anthropic.messages", "completed", "end_turn", None, 2, 2, 2, run_events),
    ]


def test_tool_calls_per_run_counts_the_succeeded_calls_in_the_tool_loop(
    tool_loop_db: tuple[Path, ScenarioResult],
) -> None:
    db, result = tool_loop_db
    # The provider-run tool search and the harness's get_exchange_rate both succeed.
    assert tool_calls_by_executor(result) == [("provider", "tool_search_tool_bm25"), ("harness", "get_exchange_rate")]
    assert query(db, "SELECT * FROM tool_calls_per_run").rows == [
        ("tool_loop", result.execution.runs[0]["run_id"], 2, 2, 0),
    ]


def test_tool_calls_per_run_counts_failed_outcomes(tmp_path: Path, run_bundled: RunBundled) -> None:
    result = run_bundled(MULTITURN, name="tool_fails")
    scenario = result.scenario.model_copy(update={"tools": {"get_exchange_rate": ToolDecl(error="rate service down")}})
    failing = run_scenario(scenario, goldens_dir=tmp_path / "goldens")
    build_database(tmp_path / "h.duckdb", results=[failing])
    # The provider-run tool search still succeeds; the harness's get_exchange_rate fails.
    outcomes = {
        e.data["tool_call_id"]: e.data["outcome"]["status"]
        for e in failing.execution.events
        if e.type == "tool_call.completed"
    }
    names = {
        e.data["tool_call_id"]: e.data["name"] for e in failing.execution.events if e.type == "tool_call.requested"
    }
    assert {names[call]: status for call, status in outcomes.items()} == {
        "tool_search_tool_bm25": "succeeded",
        "get_exchange_rate": "failed",
    }
    assert query(tmp_path / "h.duckdb", "SELECT tool_calls, succeeded, failed FROM tool_calls_per_run").rows == [
        (2, 1, 1),
    ]


def test_events_by_type_has_one_row_per_scenario_and_type(tool_loop_db: tuple[Path, ScenarioResult]) -> None:
    db, result = tool_loop_db
    rows = query(db, "SELECT scenario, type, count FROM events_by_type").rows
    types = sorted({e.type for e in result.execution.events})
    assert [row[1] for row in rows] == types
    assert sum(int(row[2]) for row in rows) == len(result.execution.events)


def test_run_summary_names_the_protocol_of_every_run(tmp_path: Path) -> None:
    from harness.scenario import load_scenario

    paths = [
        "scenarios/anthropic/tool_loop_two_requests.yaml",
        "scenarios/openai/chat/openai_chat_refusal.yaml",
        "scenarios/openai/responses/openai_responses_custom_tool_call.yaml",
        "scenarios/t3code/codex/simple.yaml",
        "scenarios/t3code/claude/simple.yaml",
    ]
    results = [run_scenario(load_scenario(path), goldens_dir=tmp_path / "goldens") for path in paths]
    db = tmp_path / "h.duckdb"
    build_database(db, results=results)
    rows = query(db, "SELECT DISTINCT protocol FROM run_summary ORDER BY 1").rows
    assert rows == [
        ("anthropic.messages",),
        ("claude-agent-sdk.query",),
        ("codex.app-server",),
        ("openai.chat",),
        ("openai.responses",),
    ]
