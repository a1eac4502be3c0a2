"""The orchestrator: commands in, a contiguous event log out, with the agent loop and its tools.

Most tests drive it through :class:`ScriptedTransport`, which answers request k with the k-th
scripted list of SSE frames; the fold test replays a real two-request recording instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.anthropic import AnthropicMessagesAdapter
from harness.adapters.base import ContentItem
from harness.core import (
    TERMINAL_RUN_EVENTS,
    InMemoryEventStore,
    MessageDispatch,
    Orchestrator,
    Outcome,
    ScenarioTools,
    StoredEvent,
    ThreadCreate,
    ToolSpec,
    fold,
)
from harness.core.invariants import check_invariants
from harness.errors import UsageError
from harness.replay.driver import Inbound
from harness.scenario.runner import execute, scenario_for_transcript
from harness.transcript import read_transcript

ROOT = Path(__file__).resolve().parents[2]
MULTITURN = (
    ROOT
    / "transcripts"
    / "anthropic"
    / "pydantic-ai-cassettes"
    / "anthropic__tool_use_then_tool_result_multiturn.ndjson"
)

Frames = list[dict[str, Any]]


# -- a scripted provider ------------------------------------------------------------------------


def sse(event: str, **data: Any) -> dict[str, Any]:
    return {"kind": "sse", "event": event, "data": {"type": event, **data}}


def response(*blocks: Frames, stop_reason: str = "end_turn", message_id: str = "msg") -> Frames:
    start = sse(
        "message_start",
        message={
            "id": message_id,
            "model": "claude-test",
            "content": [],
            "usage": {"input_tokens": 3, "output_tokens": 1},
        },
    )
    end = [
        sse("message_delta", delta={"stop_reason": stop_reason, "stop_sequence": None}, usage={"output_tokens": 2}),
        sse("message_stop"),
    ]
    return [start, *(frame for block in blocks for frame in block), *end]


def text(index: int, value: str) -> Frames:
    return [
        sse("content_block_start", index=index, content_block={"type": "text", "text": ""}),
        sse("content_block_delta", index=index, delta={"type": "text_delta", "text": value}),
        sse("content_block_stop", index=index),
    ]


def tool_use(index: int, name: str, arguments: str, tool_id: str) -> Frames:
    return [
        sse(
            "content_block_start",
            index=index,
            content_block={"type": "tool_use", "id": tool_id, "name": name, "input": {}},
        ),
        sse("content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": arguments}),
        sse("content_block_stop", index=index),
    ]


class ScriptedTransport:
    """Answers the k-th request with the k-th scripted response (or ``script(k)`` when callable)."""

    def __init__(self, script: list[Frames] | Callable[[int], Frames]) -> None:
        self.script = script
        self.sent: list[dict[str, Any]] = []
        self.pending: Frames = []
        self.delivered = 0

    def send(self, frame: Any) -> None:
        self.sent.append(frame)
        k = len(self.sent) - 1
        self.pending = list(self.script(k) if callable(self.script) else self.script[k])

    def receive(self) -> Inbound | None:
        if not self.pending:
            return None
        self.delivered += 1
        return Inbound(frame=self.pending.pop(0), label=None, entry_index=self.delivered - 1, line=None, at_ms=0)


def orchestrator(transport: ScriptedTransport, tools: ScenarioTools | None = None, **options: Any) -> Orchestrator:
    return Orchestrator(
        adapter=AnthropicMessagesAdapter(), transport=transport, tools=tools or ScenarioTools({}), **options
    )


def run_one(transport: ScriptedTransport, tools: ScenarioTools | None = None, **options: Any) -> Orchestrator:
    """thread.create then one message.dispatch; returns the orchestrator for inspection."""
    orch = orchestrator(transport, tools, **options)
    orch.dispatch(ThreadCreate(thread_id="t1", command_id="c-thread"))
    orch.dispatch(MessageDispatch(thread_id="t1", text="What's the weather?", command_id="c-message"))
    return orch


def types(events: list[StoredEvent]) -> list[str]:
    return [e.type for e in events]


def only(events: list[StoredEvent], type_: str) -> StoredEvent:
    found = [e for e in events if e.type == type_]
    assert len(found) == 1, types(events)
    return found[0]


WEATHER_LOOP = [
    response(text(0, "Checking."), tool_use(1, "get_weather", '{"city": "Paris"}', "toolu_1"), stop_reason="tool_use"),
    response(text(0, "Sunny."), message_id="msg2"),
]


# -- the event log ------------------------------------------------------------------------------


def test_events_have_contiguous_sequences_from_one() -> None:
    orch = run_one(ScriptedTransport([response(text(0, "Hi."))]))
    events = orch.store.read()
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert [e.event_id for e in events] == [f"event:{e.sequence}" for e in events]


def test_a_plain_answer_gives_the_documented_event_order() -> None:
    orch = run_one(ScriptedTransport([response(text(0, "Hi."))]))
    assert types(orch.store.read()) == [
        "thread.created",
        "message.added",
        "run.created",
        "run.started",
        "request.sent",
        "response.started",
        "item.started",
        "item.delta",
        "item.completed",
        "response.completed",
        "run.completed",
    ]


def test_exactly_one_terminal_event_per_run() -> None:
    orch = orchestrator(ScriptedTransport([response(text(0, "one")), response(text(0, "two"))]))
    orch.dispatch(ThreadCreate(thread_id="t1"))
    first = orch.dispatch(MessageDispatch(thread_id="t1", text="1"))
    second = orch.dispatch(MessageDispatch(thread_id="t1", text="2"))
    for result in (first, second):
        terminals = [e for e in orch.store.read() if e.run_id == result.run_id and e.type in TERMINAL_RUN_EVENTS]
        assert len(terminals) == 1
    assert check_invariants(orch.store.read()) == []


def test_command_result_holds_exactly_the_events_it_stored() -> None:
    orch = orchestrator(ScriptedTransport([response(text(0, "Hi."))]))
    created = orch.dispatch(ThreadCreate(thread_id="t1"))
    dispatched = orch.dispatch(MessageDispatch(thread_id="t1", text="hello"))
    assert created.events + dispatched.events == orch.store.read()
    assert {e.command_id for e in dispatched.events} == {dispatched.command_id}
    assert (dispatched.thread_id, dispatched.run_id) == ("t1", "t1/run-1")


# -- the tool loop ------------------------------------------------------------------------------


def test_tool_call_is_requested_then_completed_with_a_succeeded_outcome() -> None:
    tools = ScenarioTools({"get_weather": ToolSpec(output="sunny, 21C")})
    events = run_one(ScriptedTransport(WEATHER_LOOP), tools).store.read()
    requested, completed = only(events, "tool_call.requested"), only(events, "tool_call.completed")
    assert requested.sequence < completed.sequence
    assert requested.data["name"] == "get_weather"
    assert requested.data["arguments"] == {"city": "Paris"}
    assert completed.data == {
        "tool_call_id": requested.data["tool_call_id"],
        "outcome": {"status": "succeeded", "output": "sunny, 21C"},
    }
    assert only(events, "run.completed").data == {"stop_reason": "end_turn"}
    assert check_invariants(events) == []


def test_the_next_request_carries_the_tool_result() -> None:
    transport = ScriptedTransport(WEATHER_LOOP)
    run_one(transport, ScenarioTools({"get_weather": ToolSpec(output="sunny")}))
    messages = transport.sent[1]["body"]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"][1] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    assert messages[2]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": [{"type": "text", "text": "sunny"}],
            "is_error": False,
        }
    ]


def test_a_declared_error_tool_fails_and_the_result_says_is_error() -> None:
    transport = ScriptedTransport(WEATHER_LOOP)
    events = run_one(transport, ScenarioTools({"get_weather": ToolSpec(error="service down")})).store.read()
    assert only(events, "tool_call.completed").data["outcome"] == {"status": "failed", "error": "service down"}
    (result,) = transport.sent[1]["body"]["messages"][2]["content"]
    assert (result["is_error"], result["content"]) == (True, [{"type": "text", "text": "service down"}])


def test_an_undeclared_tool_fails_naming_the_declared_tools() -> None:
    tools = ScenarioTools({"search": ToolSpec(output="x"), "calendar": ToolSpec(output="y")})
    events = run_one(ScriptedTransport(WEATHER_LOOP), tools).store.read()
    outcome = only(events, "tool_call.completed").data["outcome"]
    assert outcome["status"] == "failed"
    assert "'get_weather' is not declared" in outcome["error"]
    assert "declared: calendar, search" in outcome["error"]


def test_every_complete_tool_call_of_a_response_runs_in_order() -> None:
    first = response(tool_use(0, "a", "{}", "toolu_a"), tool_use(1, "b", '{"n": 2}', "toolu_b"), stop_reason="tool_use")
    transport = ScriptedTransport([first, response(text(0, "done"))])
    events = run_one(transport, ScenarioTools({}, default=ToolSpec(output="ok"))).store.read()
    assert [e.data["name"] for e in events if e.type == "tool_call.requested"] == ["a", "b"]
    assert [b["tool_use_id"] for b in transport.sent[1]["body"]["messages"][2]["content"]] == ["toolu_a", "toolu_b"]


def test_pause_turn_sends_another_request_without_tool_results() -> None:
    transport = ScriptedTransport([response(text(0, "..."), stop_reason="pause_turn"), response(text(0, "done"))])
    events = run_one(transport).store.read()
    assert len(transport.sent) == 2
    assert [m["role"] for m in transport.sent[1]["body"]["messages"]] == ["user", "assistant"]
    assert only(events, "run.completed").data == {"stop_reason": "end_turn"}


def test_loop_limit_fails_the_run() -> None:
    forever = ScriptedTransport(lambda k: response(tool_use(0, "again", "{}", f"toolu_{k}"), stop_reason="tool_use"))
    events = run_one(forever, ScenarioTools({"again": ToolSpec(output="more")}), max_requests_per_run=3).store.read()
    assert len(forever.sent) == 3
    failed = only(events, "run.failed")
    assert failed.data["error"]["type"] == "loop_limit"
    assert "limit of 3 requests" in failed.data["error"]["message"]
    assert check_invariants(events) == []


def test_a_raising_tool_is_a_failed_outcome_and_the_loop_goes_on() -> None:
    class BrokenTool:
        def run(self, call: ContentItem) -> Outcome:
            raise RuntimeError("tool crashed")

    transport = ScriptedTransport(WEATHER_LOOP)
    orch = Orchestrator(adapter=AnthropicMessagesAdapter(), transport=transport, tools=BrokenTool())
    orch.dispatch(ThreadCreate(thread_id="t1"))
    orch.dispatch(MessageDispatch(thread_id="t1", text="go"))
    events = orch.store.read()
    completed = only(events, "tool_call.completed")
    assert completed.data["outcome"] == {"status": "failed", "error": "RuntimeError: tool crashed"}
    assert transport.sent[1]["body"]["messages"][-1]["content"][0]["is_error"] is True
    assert only(events, "run.completed").data == {"stop_reason": "end_turn"}
    assert check_invariants(events) == []


def test_an_exception_inside_the_adapter_fails_the_run_and_is_re_raised() -> None:
    class BrokenAdapter(AnthropicMessagesAdapter):
        def new_response(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("adapter bug")

    orch = Orchestrator(adapter=BrokenAdapter(), transport=ScriptedTransport(WEATHER_LOOP), tools=ScenarioTools({}))
    orch.dispatch(ThreadCreate(thread_id="t1"))
    with pytest.raises(RuntimeError, match="adapter bug"):
        orch.dispatch(MessageDispatch(thread_id="t1", text="go"))
    events = orch.store.read()
    failed = only(events, "run.failed")
    assert failed.data["error"] == {"type": "internal_error", "message": "RuntimeError: adapter bug"}
    assert [e.type for e in events if e.type in TERMINAL_RUN_EVENTS] == ["run.failed"]
    assert check_invariants(events) == []


# -- provider failures ------------------------------------------------------------------------------


def test_a_provider_error_ends_the_run_with_its_type() -> None:
    error = {
        "kind": "sse",
        "event": "error",
        "data": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    }
    events = run_one(ScriptedTransport([[*response(text(0, "Hi"))[:3], error]])).store.read()
    assert only(events, "response.failed").data["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert only(events, "run.failed").data == {"error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert check_invariants(events) == []


def test_a_protocol_violation_ends_the_run_with_its_rule_and_drains_the_response() -> None:
    bad = response(text(0, "x"))
    bad.insert(1, bad[0])  # the same message_start twice
    events = run_one(ScriptedTransport([bad])).store.read()
    assert only(events, "protocol.violation").data["rule"] == "anthropic.message_start.duplicate"
    failed = only(events, "run.failed").data
    assert (failed["error"]["type"], failed["rule"]) == ("protocol_violation", "anthropic.message_start.duplicate")
    assert failed["frames_discarded"] == len(bad) - 2
    assert check_invariants(events) == []


def test_a_truncated_response_fails_the_run() -> None:
    events = run_one(ScriptedTransport([response(text(0, "x"))[:-2]])).store.read()
    assert only(events, "run.failed").data["rule"] == "anthropic.stream.truncated"


# -- commands ----------------------------------------------------------------------------------------


def test_a_repeated_command_id_returns_the_first_result_and_stores_nothing() -> None:
    transport = ScriptedTransport([response(text(0, "Hi."))])
    orch = orchestrator(transport)
    orch.dispatch(ThreadCreate(thread_id="t1", command_id="c-thread"))
    first = orch.dispatch(MessageDispatch(thread_id="t1", text="hello", command_id="c-message"))
    stored = orch.store.last_sequence
    again = orch.dispatch(MessageDispatch(thread_id="t1", text="something else", command_id="c-message"))
    assert again is first
    assert orch.store.last_sequence == stored
    assert len(transport.sent) == 1


def test_message_dispatch_to_a_missing_thread_is_a_usage_error() -> None:
    orch = orchestrator(ScriptedTransport([]))
    orch.dispatch(ThreadCreate(thread_id="t1"))
    with pytest.raises(UsageError, match="no thread 'nope'"):
        orch.dispatch(MessageDispatch(thread_id="nope", text="hi"))
    assert types(orch.store.read()) == ["thread.created"]


def test_creating_an_existing_thread_is_a_usage_error() -> None:
    orch = orchestrator(ScriptedTransport([]))
    orch.dispatch(ThreadCreate(thread_id="t1"))
    with pytest.raises(UsageError, match="already exists"):
        orch.dispatch(ThreadCreate(thread_id="t1"))


def test_commands_may_be_given_as_dicts() -> None:
    orch = orchestrator(ScriptedTransport([response(text(0, "Hi."))]))
    orch.dispatch({"type": "thread.create", "thread_id": "t1"})
    result = orch.dispatch({"type": "message.dispatch", "text": "hello"})
    assert result.thread_id == "t1"
    assert only(orch.store.read(), "run.completed").run_id == "t1/run-1"


# -- projections ---------------------------------------------------------------------------------


def test_fold_of_the_stored_log_equals_the_live_projection_on_a_recorded_tool_loop() -> None:
    transcript = read_transcript(MULTITURN)
    execution = execute(scenario_for_transcript(transcript), transcript=transcript)
    assert execution.driver.failure is None
    assert "tool_call.completed" in types(execution.events)  # the recording really loops
    assert fold(execution.events).to_json() == execution.orchestrator.projection.to_json()


def test_fold_equals_the_live_projection_after_a_failed_tool() -> None:
    orch = run_one(ScriptedTransport(WEATHER_LOOP), ScenarioTools({"get_weather": ToolSpec(error="down")}))
    assert fold(orch.store.read()).to_json() == orch.projection.to_json()


def test_a_given_store_receives_the_events() -> None:
    store = InMemoryEventStore()
    orch = run_one(ScriptedTransport([response(text(0, "Hi."))]), store=store)
    assert orch.store is store
    assert store.last_sequence == len(store.read()) > 0
