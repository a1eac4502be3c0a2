"""Tool calls a runtime executes are tool_call.requested / tool_call.completed events, as the HTTP
agent loop's are: one of each per tool item, the outcome union saying how the item ended.

Checked on the real t3code recordings (Codex app-server and Claude Agent SDK).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from harness.analysis import build_database, query
from harness.core.events import StoredEvent
from harness.core.invariants import check_invariants
from harness.core.orchestrator import TOOL_CALL_ITEMS, TOOL_RESULT_FIELDS, _outcome
from harness.scenario import load_scenario, run_scenario
from harness.scenario.runner import execute

SCENARIOS = Path(__file__).parents[2] / "scenarios" / "t3code"
WITH_TOOLS = [
    "claude/subagent.yaml",
    "claude/tool_call_read_only.yaml",
    "claude/tool_call_restricted_granular.yaml",
    "claude/turn_interrupt_mid_tool.yaml",
    "claude/web_search.yaml",
    "codex/tool_call_restricted_granular.yaml",
    "codex/turn_interrupt_mid_tool.yaml",
    "codex/web_search.yaml",
]


@cache
def replayed(name: str) -> tuple[StoredEvent, ...]:
    return tuple(execute(load_scenario(SCENARIOS / name)).events)


def tool_items(events: tuple[StoredEvent, ...]) -> dict[str, list[dict[str, Any]]]:
    """Every snapshot of every tool turn item, by item id, in log order."""
    items: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event.type == "turn-item.updated" and event.data["type"] in TOOL_CALL_ITEMS:
            items.setdefault(event.data["turn_item_id"], []).append(event.data)
    return items


@pytest.mark.parametrize("name", WITH_TOOLS)
def test_every_tool_item_is_requested_once_and_completed_once(name: str) -> None:
    events = replayed(name)
    items = tool_items(events)
    assert items, f"{name} has no tool item"
    requested = [e.data["tool_call_id"] for e in events if e.type == "tool_call.requested"]
    completed = [e.data["tool_call_id"] for e in events if e.type == "tool_call.completed"]
    assert sorted(requested) == sorted(items)
    assert sorted(completed) == sorted(items)
    assert check_invariants(events) == []


@pytest.mark.parametrize("name", WITH_TOOLS)
def test_a_call_is_requested_with_the_first_snapshot_and_completed_with_the_final_one(name: str) -> None:
    events = replayed(name)
    for item_id, snapshots in tool_items(events).items():
        positions = [
            i for i, e in enumerate(events) if e.type == "turn-item.updated" and e.data["turn_item_id"] == item_id
        ]
        (request,) = [e for e in events if e.type == "tool_call.requested" and e.data["tool_call_id"] == item_id]
        (completion,) = [e for e in events if e.type == "tool_call.completed" and e.data["tool_call_id"] == item_id]
        first, final = snapshots[0], snapshots[-1]
        assert events.index(request) == positions[0] + 1  # right after the item first appears
        assert request.data["native_id"] == first["data"].get("native_id", first["native_ref"])
        assert request.data["name"] == first["data"].get("tool", first["type"])
        assert request.data["executor"] == first["data"].get("executor", "runtime")
        not_arguments = {*TOOL_RESULT_FIELDS, "executor", "native_id"}
        expected_arguments = first["data"].get(
            "input", {k: v for k, v in first["data"].items() if k not in not_arguments}
        )
        assert request.data["arguments"] == expected_arguments
        assert completion.data["outcome"] == expected_outcome(final)


def expected_outcome(final: dict[str, Any]) -> dict[str, Any]:
    """The outcome a tool item's final snapshot stands for: its plain output, or output and exit
    code together when it has an exit code; else its error, or how it ended."""
    data = final["data"]
    if final["status"] == "completed":
        if data.get("exit_code") is not None:
            return {"status": "succeeded", "output": {k: data[k] for k in ("output", "exit_code") if k in data}}
        return {"status": "succeeded", "output": data.get("output")}
    if isinstance(data.get("error"), str):
        return {"status": "failed", "error": data["error"]}
    if data.get("exit_code") is not None:
        return {"status": "failed", "error": f"{final['status']} with exit code {data['exit_code']}"}
    return {"status": "failed", "error": final["status"]}


@pytest.mark.parametrize("name", WITH_TOOLS)
def test_a_runtime_runs_its_own_tool_calls(name: str) -> None:
    executors = {e.data["executor"] for e in replayed(name) if e.type == "tool_call.requested"}
    assert executors == {"runtime"}


@pytest.mark.parametrize(
    ("status", "data", "outcome"),
    [
        ("completed", {"output": "ok"}, {"status": "succeeded", "output": "ok"}),
        ("completed", {"output": {"rows": 2}}, {"status": "succeeded", "output": {"rows": 2}}),
        ("completed", {}, {"status": "succeeded", "output": None}),
        ("completed", {"output": "hi", "exit_code": None}, {"status": "succeeded", "output": "hi"}),
        (
            "completed",
            {"output": "hi", "exit_code": 0},
            {"status": "succeeded", "output": {"output": "hi", "exit_code": 0}},
        ),
        ("failed", {"error": "denied", "exit_code": 1}, {"status": "failed", "error": "denied"}),
        ("failed", {"output": "", "exit_code": 2}, {"status": "failed", "error": "failed with exit code 2"}),
        ("failed", {"error": {"code": 5}}, {"status": "failed", "error": "failed"}),
        ("declined", {}, {"status": "failed", "error": "declined"}),
        ("interrupted", {"output": "partial"}, {"status": "failed", "error": "interrupted"}),
    ],
)
def test_the_outcome_of_a_finished_tool_item(status: str, data: dict[str, Any], outcome: dict[str, Any]) -> None:
    final = {"status": status, "data": data}
    assert _outcome(final) == expected_outcome(final) == outcome


def test_a_command_that_exits_non_zero_fails_with_its_exit_code() -> None:
    events = replayed("codex/tool_call_restricted_granular.yaml")
    outcomes = [e.data["outcome"] for e in events if e.type == "tool_call.completed"]
    assert {"status": "failed", "error": "failed with exit code -1"} in outcomes  # the sandbox refused it


def test_a_tool_interrupted_with_its_turn_fails_as_interrupted() -> None:
    events = replayed("claude/turn_interrupt_mid_tool.yaml")
    outcomes = [e.data["outcome"] for e in events if e.type == "tool_call.completed"]
    assert {"status": "failed", "error": "interrupted"} in outcomes


def test_run_summary_counts_the_tool_calls_of_every_protocol(tmp_path: Path) -> None:
    paths = [
        "scenarios/anthropic/tool_loop_two_requests.yaml",
        "scenarios/openai/chat/openai_chat_parallel_tool_calls_capture_ends.yaml",
        "scenarios/openai/responses/openai_responses_custom_tool_call.yaml",
        *(f"scenarios/t3code/{name}" for name in ("codex/web_search.yaml", "claude/tool_call_read_only.yaml")),
    ]
    root = Path(__file__).parents[2]
    results = [run_scenario(load_scenario(root / path), goldens_dir=tmp_path) for path in paths]
    db = tmp_path / "h.duckdb"
    build_database(db, results=results)
    rows = query(db, "SELECT protocol, sum(tool_calls) FROM run_summary GROUP BY 1 ORDER BY 1").rows
    assert [protocol for protocol, _ in rows] == [
        "anthropic.messages",
        "claude-agent-sdk.query",
        "codex.app-server",
        "openai.chat",
        "openai.responses",
    ]
    assert all(count > 0 for _, count in rows), rows
