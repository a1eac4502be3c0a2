"""The orchestrator over an HTTP model API: commands in, a contiguous event log out, with the agent
loop and its tools (:class:`~harness.adapters.http_runtime.HttpRuntime`).

Most tests replay a scripted stream-only Anthropic transcript: its responses, one after the other,
answer the loop's requests in order, and the driver keeps the requests it was sent
(``driver.sent``); the fold test replays a real two-request recording instead.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.anthropic import AnthropicMessagesAdapter
from harness.adapters.base import ContentItem, RequestTemplate
from harness.adapters.http_runtime import HttpRuntime
from harness.core import (
    InMemoryEventStore,
    MessageDispatch,
    Orchestrator,
    Outcome,
    ScenarioTools,
    StoredEvent,
    ThreadCreate,
    ToolRunner,
    ToolSpec,
    fold,
)
from harness.core.invariants import check_invariants
from harness.core.projection import TERMINAL_RUN_STATUSES
from harness.core.store import EventStore
from harness.errors import UsageError
from harness.replay import ReplayDriver
from harness.replay.driver import ReplayLink
from harness.scenario import load_scenario
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
TOOL_LOOP_SCENARIO = ROOT / "scenarios" / "anthropic" / "tool_loop_two_requests.yaml"

Frames = list[dict[str, Any]]

#: The template every scripted request is built from (the scenario's ``request``).
TEMPLATE = RequestTemplate(params={"model": "claude-test", "max_tokens": 1024, "stream": True})
#: How a terminal ``run.updated`` says the run ended: its status and error, and what the HTTP loop
#: adds when it has it.
RUN_ENDING = ("status", "error", "stop_reason", "ended_by_tool", "recording_ended", "frames_discarded", "rule")


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


def scripted(responses: list[Frames]) -> ReplayDriver:
    """A driver over a stream-only transcript of ``responses``: request k is answered by the k-th
    response; the requests are kept in ``driver.sent``, not checked."""
    header = {
        "type": "transcript_start",
        "provider": "anthropic",
        "protocol": "anthropic.messages",
        "version": "test",
        "scenario": "scripted",
    }
    entries = [{"type": "emit_inbound", "frame": frame} for frames in responses for frame in frames]
    lines = [json.dumps(header), *(json.dumps(entry) for entry in entries)]
    return ReplayDriver(read_transcript(lines, path="scripted.ndjson"))


def orchestrator(
    responses: list[Frames],
    tools: ToolRunner | None = None,
    *,
    adapter: AnthropicMessagesAdapter | None = None,
    store: EventStore | None = None,
    seed: int | None = None,
    max_requests_per_run: int = 25,
) -> tuple[Orchestrator, ReplayDriver]:
    """The core driving the HTTP agent loop over ``responses``, as a scenario replay builds it."""
    driver = scripted(responses)
    runtime = HttpRuntime(
        adapter or AnthropicMessagesAdapter(),
        tools=tools or ScenarioTools({}),
        template=TEMPLATE,
        max_requests_per_run=max_requests_per_run,
    )
    return Orchestrator(adapter=runtime, link=ReplayLink(driver), store=store, seed=seed), driver


def run_one(
    responses: list[Frames], tools: ToolRunner | None = None, **options: Any
) -> tuple[Orchestrator, ReplayDriver]:
    """thread.create then one message.dispatch; returns the orchestrator and its driver for inspection."""
    orch, driver = orchestrator(responses, tools, **options)
    orch.dispatch(ThreadCreate(thread_id="t1", command_id="c-thread"))
    orch.dispatch(MessageDispatch(thread_id="t1", text="What's the weather?", command_id="c-message"))
    return orch, driver


def types(events: list[StoredEvent]) -> list[str]:
    return [e.type for e in events]


def only(events: list[StoredEvent], type_: str) -> StoredEvent:
    found = [e for e in events if e.type == type_]
    assert len(found) == 1, types(events)
    return found[0]


def terminals(events: list[StoredEvent], run_id: str) -> list[StoredEvent]:
    """The run's terminal ``run.updated`` snapshots."""
    return [
        e
        for e in events
        if e.type == "run.updated" and e.run_id == run_id and e.data["status"] in TERMINAL_RUN_STATUSES
    ]


def ending(events: list[StoredEvent], run_id: str = "t1/run-1") -> dict[str, Any]:
    """How the run ended, from its one terminal snapshot."""
    found = terminals(events, run_id)
    statuses = [e.data["status"] for e in events if e.type == "run.updated" and e.run_id == run_id]
    assert len(found) == 1, f"run {run_id} has {len(found)} terminal snapshots (its statuses: {statuses})"
    return {key: found[0].data[key] for key in RUN_ENDING if key in found[0].data}


def provider_turns(events: list[StoredEvent]) -> list[dict[str, Any]]:
    """Each provider turn's last snapshot, in the order the turns started."""
    turns: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.type == "provider-turn.updated":
            turns[event.data["provider_turn_id"]] = event.data
    return list(turns.values())


WEATHER_LOOP = [
    response(text(0, "Checking."), tool_use(1, "get_weather", '{"city": "Paris"}', "toolu_1"), stop_reason="tool_use"),
    response(text(0, "Sunny."), message_id="msg2"),
]


# -- the event log ------------------------------------------------------------------------------


def test_events_have_contiguous_sequences_from_one() -> None:
    orch, _ = run_one([response(text(0, "Hi."))])
    events = orch.store.read()
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert [e.event_id for e in events] == [f"event:{e.sequence}" for e in events]


def test_a_plain_answer_gives_this_event_order() -> None:
    orch, _ = run_one([response(text(0, "Hi."))])
    assert types(orch.store.read()) == [
        # thread.create
        "command.accepted",
        "thread.created",
        "provider-thread.updated",
        # message.dispatch: the run, its user message, its attempt and root node
        "command.accepted",
        "run.created",
        "message.updated",
        "run.updated",
        "run-attempt.created",
        "node.updated",
        "run.updated",
        "turn-item.updated",
        "provider-thread.updated",
        # the request: a provider turn
        "provider-turn.updated",
        "run-attempt.updated",
        "turn-item.updated",
        "provider-session.updated",
        "provider-thread.updated",
        "run.updated",
        # the response: its id and model, the text item streamed, the usage, its end
        "provider-turn.updated",
        "node.updated",
        "turn-item.updated",
        "turn-item.delta",
        "turn-item.updated",
        "node.updated",
        "message.updated",
        "provider-turn.updated",
        "provider-turn.updated",
        # the run's end
        "node.updated",
        "provider-thread.updated",
        "provider-session.updated",
        "run-attempt.updated",
        "run.updated",
    ]


def test_a_plain_answer_is_one_provider_turn_and_one_assistant_message() -> None:
    orch, driver = run_one([response(text(0, "Hi."))])
    events = orch.store.read()
    (turn,) = provider_turns(events)
    assert (turn["status"], turn["native_ref"], turn["model"], turn["stop_reason"]) == (
        "completed",
        "msg",
        "claude-test",
        "end_turn",
    )
    assert turn["usage"] == {"input_tokens": 3, "output_tokens": 2}
    (delta,) = [e for e in events if e.type == "turn-item.delta"]
    assert delta.data == {"turn_item_id": "t1/run-1/item-2", "field": "text", "delta": "Hi."}
    item = orch.projection.turn_items["t1/run-1/item-2"]
    assert (item["type"], item["status"], item["native_ref"], item["data"]["text"]) == (
        "assistant_message",
        "completed",
        "request-1/choice-0/item-0",
        "Hi.",
    )
    replies = [m["text"] for m in orch.projection.messages.values() if m["role"] == "assistant"]
    assert replies == ["Hi."]
    assert ending(events) == {"status": "completed", "error": None, "stop_reason": "end_turn"}
    assert len(driver.sent) == 1
    assert driver.sent[0]["body"] == {
        **TEMPLATE.params,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "What's the weather?"}]}],
    }


def test_exactly_one_terminal_event_per_run() -> None:
    orch, _ = orchestrator([response(text(0, "one")), response(text(0, "two"))])
    orch.dispatch(ThreadCreate(thread_id="t1"))
    first = orch.dispatch(MessageDispatch(thread_id="t1", text="1"))
    second = orch.dispatch(MessageDispatch(thread_id="t1", text="2"))
    for result in (first, second):
        assert len(terminals(orch.store.read(), result.run_id or "")) == 1
    assert (first.run_id, second.run_id) == ("t1/run-1", "t1/run-2")
    assert check_invariants(orch.store.read()) == []


def test_command_result_holds_exactly_the_events_it_stored() -> None:
    orch, _ = orchestrator([response(text(0, "Hi."))])
    created = orch.dispatch(ThreadCreate(thread_id="t1"))
    dispatched = orch.dispatch(MessageDispatch(thread_id="t1", text="hello"))
    assert created.events + dispatched.events == orch.store.read()
    assert {e.command_id for e in dispatched.events} == {dispatched.command_id}
    assert (dispatched.thread_id, dispatched.run_id) == ("t1", "t1/run-1")


# -- the tool loop ------------------------------------------------------------------------------


def test_tool_call_is_requested_then_completed_with_a_succeeded_outcome() -> None:
    tools = ScenarioTools({"get_weather": ToolSpec(output="sunny, 21C")})
    orch, _ = run_one(WEATHER_LOOP, tools)
    events = orch.store.read()
    requested, completed = only(events, "tool_call.requested"), only(events, "tool_call.completed")
    assert requested.sequence < completed.sequence
    assert requested.data["name"] == "get_weather"
    assert requested.data["arguments"] == {"city": "Paris"}
    assert (requested.data["native_id"], requested.data["executor"]) == ("toolu_1", "harness")
    # The call is the response's tool turn item, run by the harness.
    item = orch.projection.turn_items[requested.data["tool_call_id"]]
    assert requested.data["item_id"] == item["turn_item_id"]
    assert (item["type"], item["status"], item["data"]["tool"], item["data"]["input"]) == (
        "dynamic_tool",
        "completed",
        "get_weather",
        {"city": "Paris"},
    )
    assert completed.data == {
        "tool_call_id": requested.data["tool_call_id"],
        "outcome": {"status": "succeeded", "output": "sunny, 21C"},
    }
    assert ending(events) == {"status": "completed", "error": None, "stop_reason": "end_turn"}
    assert check_invariants(events) == []


def test_the_tool_runs_between_its_response_and_the_next_request() -> None:
    orch, _ = run_one(WEATHER_LOOP, ScenarioTools({"get_weather": ToolSpec(output="sunny")}))
    events = orch.store.read()
    first, second = provider_turns(events)
    assert [(t["status"], t["stop_reason"]) for t in (first, second)] == [
        ("completed", "tool_use"),
        ("completed", "end_turn"),
    ]

    def position(type_: str, **data: Any) -> int:
        return next(i for i, e in enumerate(events) if e.type == type_ and data.items() <= e.data.items())

    first_ended = position("provider-turn.updated", provider_turn_id=first["provider_turn_id"], status="completed")
    second_started = position("provider-turn.updated", provider_turn_id=second["provider_turn_id"])
    assert first_ended < position("tool_call.requested") < position("tool_call.completed") < second_started


def test_the_next_request_carries_the_tool_result() -> None:
    _, driver = run_one(WEATHER_LOOP, ScenarioTools({"get_weather": ToolSpec(output="sunny")}))
    assert len(driver.sent) == 2
    assert driver.sent[1]["body"]["model"] == "claude-test"
    messages = driver.sent[1]["body"]["messages"]
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
    orch, driver = run_one(WEATHER_LOOP, ScenarioTools({"get_weather": ToolSpec(error="service down")}))
    events = orch.store.read()
    assert only(events, "tool_call.completed").data["outcome"] == {"status": "failed", "error": "service down"}
    call = orch.projection.turn_items[only(events, "tool_call.requested").data["tool_call_id"]]
    assert (call["status"], call["data"]["error"]) == ("failed", "service down")
    (result,) = driver.sent[1]["body"]["messages"][2]["content"]
    assert (result["is_error"], result["content"]) == (True, [{"type": "text", "text": "service down"}])


def test_an_undeclared_tool_fails_naming_the_declared_tools() -> None:
    tools = ScenarioTools({"search": ToolSpec(output="x"), "calendar": ToolSpec(output="y")})
    orch, _ = run_one(WEATHER_LOOP, tools)
    outcome = only(orch.store.read(), "tool_call.completed").data["outcome"]
    assert outcome["status"] == "failed"
    assert "'get_weather' is not declared" in outcome["error"]
    assert "declared: calendar, search" in outcome["error"]


def test_every_complete_tool_call_of_a_response_runs_in_order() -> None:
    first = response(tool_use(0, "a", "{}", "toolu_a"), tool_use(1, "b", '{"n": 2}', "toolu_b"), stop_reason="tool_use")
    orch, driver = run_one([first, response(text(0, "done"))], ScenarioTools({}, default=ToolSpec(output="ok")))
    events = orch.store.read()
    assert [e.data["name"] for e in events if e.type == "tool_call.requested"] == ["a", "b"]
    assert [e.data["arguments"] for e in events if e.type == "tool_call.requested"] == [{}, {"n": 2}]
    assert [b["tool_use_id"] for b in driver.sent[1]["body"]["messages"][2]["content"]] == ["toolu_a", "toolu_b"]


def test_pause_turn_sends_another_request_without_tool_results() -> None:
    orch, driver = run_one([response(text(0, "..."), stop_reason="pause_turn"), response(text(0, "done"))])
    events = orch.store.read()
    assert len(driver.sent) == 2
    assert [m["role"] for m in driver.sent[1]["body"]["messages"]] == ["user", "assistant"]
    assert [t["stop_reason"] for t in provider_turns(events)] == ["pause_turn", "end_turn"]
    assert ending(events) == {"status": "completed", "error": None, "stop_reason": "end_turn"}


def test_loop_limit_fails_the_run() -> None:
    forever = [response(tool_use(0, "again", "{}", f"toolu_{k}"), stop_reason="tool_use") for k in range(3)]
    orch, driver = run_one(forever, ScenarioTools({"again": ToolSpec(output="more")}), max_requests_per_run=3)
    events = orch.store.read()
    assert len(driver.sent) == 3
    assert len(provider_turns(events)) == 3
    failed = ending(events)
    assert failed["status"] == "failed"
    assert failed["error"]["type"] == "loop_limit"
    assert "limit of 3 requests" in failed["error"]["message"]
    assert check_invariants(events) == []


def test_a_raising_tool_is_a_failed_outcome_and_the_loop_goes_on() -> None:
    class BrokenTool:
        def run(self, call: ContentItem) -> Outcome:
            raise RuntimeError("tool crashed")

    orch, driver = orchestrator(WEATHER_LOOP, BrokenTool())
    orch.dispatch(ThreadCreate(thread_id="t1"))
    orch.dispatch(MessageDispatch(thread_id="t1", text="go"))
    events = orch.store.read()
    completed = only(events, "tool_call.completed")
    assert completed.data["outcome"] == {"status": "failed", "error": "RuntimeError: tool crashed"}
    assert driver.sent[1]["body"]["messages"][-1]["content"][0]["is_error"] is True
    assert ending(events) == {"status": "completed", "error": None, "stop_reason": "end_turn"}
    assert check_invariants(events) == []


def test_an_exception_inside_the_adapter_fails_the_run_and_is_re_raised() -> None:
    class BrokenAdapter(AnthropicMessagesAdapter):
        def new_response(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("adapter bug")

    orch, _ = orchestrator(WEATHER_LOOP, adapter=BrokenAdapter())
    orch.dispatch(ThreadCreate(thread_id="t1"))
    with pytest.raises(RuntimeError, match="adapter bug"):
        orch.dispatch(MessageDispatch(thread_id="t1", text="go"))
    events = orch.store.read()
    failed = ending(events)
    assert failed["status"] == "failed"
    assert failed["error"] == {"type": "internal_error", "message": "RuntimeError: adapter bug"}
    assert check_invariants(events) == []


# -- provider failures ------------------------------------------------------------------------------


def test_a_provider_error_ends_the_run_with_its_type() -> None:
    error = {
        "kind": "sse",
        "event": "error",
        "data": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    }
    orch, _ = run_one([[*response(text(0, "Hi"))[:3], error]])
    events = orch.store.read()
    (turn,) = provider_turns(events)
    assert (turn["status"], turn["error"]) == ("failed", {"type": "overloaded_error", "message": "Overloaded"})
    assert ending(events) == {"status": "failed", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert check_invariants(events) == []


def test_a_protocol_violation_ends_the_run_with_its_rule_and_drains_the_response() -> None:
    bad = response(text(0, "x"))
    bad.insert(1, bad[0])  # the same message_start twice
    orch, driver = run_one([bad])
    events = orch.store.read()
    assert only(events, "protocol.violation").data["rule"] == "anthropic.message_start.duplicate"
    failed = ending(events)
    assert (failed["status"], failed["error"]["type"], failed["rule"]) == (
        "failed",
        "protocol_violation",
        "anthropic.message_start.duplicate",
    )
    assert failed["frames_discarded"] == len(bad) - 2
    assert driver.remaining == 0
    assert check_invariants(events) == []


def test_a_truncated_response_fails_the_run() -> None:
    orch, _ = run_one([response(text(0, "x"))[:-2]])
    failed = ending(orch.store.read())
    assert (failed["status"], failed["rule"]) == ("failed", "anthropic.stream.truncated")


# -- commands ----------------------------------------------------------------------------------------


def test_a_repeated_command_id_returns_the_first_result_and_stores_nothing() -> None:
    orch, driver = orchestrator([response(text(0, "Hi."))])
    orch.dispatch(ThreadCreate(thread_id="t1", command_id="c-thread"))
    first = orch.dispatch(MessageDispatch(thread_id="t1", text="hello", command_id="c-message"))
    stored = orch.store.last_sequence
    again = orch.dispatch(MessageDispatch(thread_id="t1", text="something else", command_id="c-message"))
    assert (again.replayed, first.replayed) == (True, False)
    assert (again.command_id, again.thread_id, again.run_id) == (first.command_id, first.thread_id, first.run_id)
    assert again.events == first.events
    assert orch.store.last_sequence == stored
    assert len(driver.sent) == 1


def test_message_dispatch_to_a_missing_thread_is_a_usage_error() -> None:
    orch, _ = orchestrator([])
    orch.dispatch(ThreadCreate(thread_id="t1"))
    before = orch.store.read()
    with pytest.raises(UsageError, match="no thread 'nope'"):
        orch.dispatch(MessageDispatch(thread_id="nope", text="hi"))
    assert orch.store.read() == before
    assert types(before) == ["command.accepted", "thread.created", "provider-thread.updated"]


def test_creating_an_existing_thread_is_a_usage_error() -> None:
    orch, _ = orchestrator([])
    orch.dispatch(ThreadCreate(thread_id="t1"))
    stored = orch.store.last_sequence
    with pytest.raises(UsageError, match="already exists"):
        orch.dispatch(ThreadCreate(thread_id="t1"))
    assert orch.store.last_sequence == stored


def test_commands_may_be_given_as_dicts() -> None:
    orch, _ = orchestrator([response(text(0, "Hi."))])
    orch.dispatch({"type": "thread.create", "thread_id": "t1"})
    result = orch.dispatch({"type": "message.dispatch", "text": "hello"})
    assert result.thread_id == "t1"
    (terminal,) = terminals(orch.store.read(), "t1/run-1")
    assert (terminal.run_id, terminal.data["status"]) == ("t1/run-1", "completed")


def test_queue_after_active_starts_at_once_on_an_http_thread() -> None:
    orch, _ = orchestrator([response(text(0, "Hi."))])
    orch.dispatch(ThreadCreate(thread_id="t1"))
    result = orch.dispatch({"type": "message.dispatch", "text": "hello", "mode": "queue_after_active"})
    run = orch.projection.runs[result.run_id or ""]
    assert (run["status"], run["dispatch_mode"], run["queue_position"]) == ("completed", "queue_after_active", None)


# -- command ids ----------------------------------------------------------------------------------


def command_ids(seed: int | None, count: int = 3, store: EventStore | None = None) -> list[str]:
    """The ids a fresh orchestrator gives ``count`` commands dispatched without one."""
    orch, _ = orchestrator([], seed=seed, store=store)
    first = len(orch.projection.threads)
    return [orch.dispatch(ThreadCreate(thread_id=f"t{first + n}")).command_id for n in range(count)]


def test_the_same_seed_gives_the_same_command_ids() -> None:
    assert command_ids(seed=7) == command_ids(seed=7)


def test_different_seeds_give_different_command_ids() -> None:
    assert command_ids(seed=1) != command_ids(seed=2)


def test_seeded_command_ids_are_command_and_eight_hex_digits_of_a_hash_of_the_seed() -> None:
    ids = command_ids(seed=0)
    for value in ids:
        assert re.fullmatch(r"command-[0-9a-f]{8}", value)
    assert ids == [f"command-{hashlib.sha256(f'0/command/{n}'.encode()).hexdigest()[:8]}" for n in (1, 2, 3)]


def test_without_a_seed_command_ids_count_from_one() -> None:
    assert command_ids(seed=None) == ["command-1", "command-2", "command-3"]


def test_successive_command_ids_of_one_orchestrator_differ() -> None:
    assert len(set(command_ids(seed=3, count=100))) == 100


def test_a_restarted_orchestrator_continues_the_command_ids() -> None:
    store = InMemoryEventStore()
    before = command_ids(seed=5, count=2, store=store)
    after = command_ids(seed=5, count=1, store=store)
    assert before + after == command_ids(seed=5, count=3)


def test_command_ids_do_not_depend_on_what_the_commands_stored() -> None:
    def ids(responses: list[Frames]) -> list[str]:
        orch, _ = orchestrator(responses, ScenarioTools({"get_weather": ToolSpec(output="sunny")}), seed=9)
        results = [
            orch.dispatch(ThreadCreate(thread_id="t1")),
            orch.dispatch(MessageDispatch(thread_id="t1", text="weather?")),
            orch.dispatch(ThreadCreate(thread_id="t2")),
        ]
        return [result.command_id for result in results]

    assert ids(WEATHER_LOOP) == ids([response(text(0, "Hi."))])


def test_a_scenario_replay_names_its_commands_from_its_seed() -> None:
    scenario = load_scenario(TOOL_LOOP_SCENARIO)
    assert scenario.seed == 0

    def ids(execution: Any) -> list[str]:
        return list(dict.fromkeys(e.command_id for e in execution.events))

    expected = [f"command-{hashlib.sha256(f'0/command/{n}'.encode()).hexdigest()[:8]}" for n in (1, 2)]
    assert ids(execute(scenario)) == expected
    assert ids(execute(scenario, seed=0)) == expected
    assert ids(execute(scenario, seed=1)) != expected


def test_runs_are_numbered_per_thread_and_items_and_provider_turns_from_one() -> None:
    orch, _ = orchestrator([response(text(0, "a")), response(text(0, "b")), response(text(0, "c"))])
    orch.dispatch(ThreadCreate(thread_id="t1"))
    orch.dispatch(ThreadCreate(thread_id="t2"))
    runs = [orch.dispatch(MessageDispatch(thread_id=thread, text="x")).run_id for thread in ("t1", "t1", "t2")]
    assert runs == ["t1/run-1", "t1/run-2", "t2/run-1"]
    assert [(r["run_id"], r["ordinal"]) for r in orch.projection.runs.values()] == [
        ("t1/run-1", 1),
        ("t1/run-2", 2),
        ("t2/run-1", 1),
    ]
    for run_id in runs:
        items = orch.projection.run_items(run_id or "")
        assert [(i["turn_item_id"], i["ordinal"]) for i in items] == [(f"{run_id}/item-1", 1), (f"{run_id}/item-2", 2)]
    assert [(t["provider_turn_id"], t["ordinal"]) for t in orch.projection.provider_turns.values()] == [
        ("t1/provider-thread/turn-1", 1),
        ("t1/provider-thread/turn-2", 2),
        ("t2/provider-thread/turn-1", 1),
    ]


# -- projections ---------------------------------------------------------------------------------


def test_fold_of_the_stored_log_equals_the_live_projection_on_a_recorded_tool_loop() -> None:
    transcript = read_transcript(MULTITURN)
    execution = execute(scenario_for_transcript(transcript), transcript=transcript)
    assert execution.driver.failure is None
    assert "tool_call.completed" in types(execution.events)  # the recording really loops
    assert fold(execution.events).to_json() == execution.orchestrator.projection.to_json()


def test_fold_equals_the_live_projection_after_a_failed_tool() -> None:
    orch, _ = run_one(WEATHER_LOOP, ScenarioTools({"get_weather": ToolSpec(error="down")}))
    assert fold(orch.store.read()).to_json() == orch.projection.to_json()


def test_a_given_store_receives_the_events() -> None:
    store = InMemoryEventStore()
    orch, _ = run_one([response(text(0, "Hi."))], store=store)
    assert orch.store is store
    assert store.last_sequence == len(store.read()) > 0
