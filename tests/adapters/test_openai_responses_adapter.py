"""The OpenAI Responses adapter on small synthetic frame lists: one behaviour per test.

Frames are written the way the transcript stores them (``{"kind": "sse", "event": ..., "data":
...}``); the builders below keep each test down to the frames that matter for it. Sequence
numbers are added by :func:`numbered` where a test is about them; the Responses API has sent
streams both with and without them.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.adapters.anthropic import AnthropicMessagesAdapter
from harness.adapters.base import (
    AssistantMessage,
    AssistantTurn,
    ContentItem,
    ItemCompleted,
    ItemDelta,
    ItemStarted,
    ProviderEvent,
    RequestTemplate,
    ResponseCompleted,
    ResponseFailed,
    ResponseStarted,
    ToolResult,
    ToolResultsTurn,
    UnrecognizedFrame,
    UserTurn,
)
from harness.adapters.http_runtime import HttpRuntime
from harness.adapters.openai_responses import (
    NON_FATAL,
    RULES,
    OpenAIResponsesAdapter,
    OpenAIResponsesReader,
    adapt_frames,
)
from harness.core.commands import MessageDispatch, ThreadCreate
from harness.core.invariants import check_invariants
from harness.core.orchestrator import Orchestrator
from harness.core.tools import ScenarioTools
from harness.errors import UsageError
from harness.scenario import load_scenario
from harness.scenario.runner import Execution, execute, replay_transcript, scenario_for_transcript
from harness.testing import describe_event, protocol_violations, read_response, terminal_of
from harness.transcript import parse_transcript
from tests.adapters.test_openai_responses_differential import provider_turns

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios" / "openai" / "responses"

# -- frame builders ---------------------------------------------------------------------------


def sse(event: str, **data: Any) -> dict[str, Any]:
    """One SSE frame whose event name equals ``data.type``, as the API sends them."""
    return {"kind": "sse", "event": event, "data": {"type": event, **data}}


def snapshot(status: str = "in_progress", output: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "model": "gpt-test",
        "status": status,
        "output": output or [],
        **extra,
    }


def created(**extra: Any) -> dict[str, Any]:
    return sse("response.created", response=snapshot(**extra))


def in_progress() -> dict[str, Any]:
    return sse("response.in_progress", response=snapshot())


USAGE = {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}


def completed(output: list[Any] | None = None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """response.completed; without ``output`` the snapshot has none (the SDK then keeps the done items)."""
    body = snapshot("completed", output, usage=usage or USAGE)
    if output is None:
        del body["output"]
    return sse("response.completed", response=body)


def incomplete(reason: str = "max_output_tokens") -> dict[str, Any]:
    return sse(
        "response.incomplete",
        response=snapshot("incomplete", incomplete_details={"reason": reason}, usage=USAGE),
    )


def added(index: int, item: dict[str, Any]) -> dict[str, Any]:
    return sse("response.output_item.added", output_index=index, item=item)


def done(index: int, item: dict[str, Any]) -> dict[str, Any]:
    return sse("response.output_item.done", output_index=index, item=item)


def message_item(index: int, *texts: str, item_id: str | None = None, **extra: Any) -> dict[str, Any]:
    parts = [{"type": "output_text", "text": t, "annotations": []} for t in texts]
    return {"type": "message", "id": item_id or f"msg_{index}", "role": "assistant", "content": parts, **extra}


def text_item(index: int, *chunks: str, **extra: Any) -> list[dict[str, Any]]:
    """A message item with one output_text part streamed in ``chunks``."""
    item_id = f"msg_{index}"
    text = "".join(chunks)
    part = {"type": "output_text", "text": "", "annotations": []}
    where = {"output_index": index, "item_id": item_id, "content_index": 0}
    return [
        added(index, {**message_item(index, item_id=item_id, **extra), "content": [], "status": "in_progress"}),
        sse("response.content_part.added", **where, part=part),
        *(sse("response.output_text.delta", **where, delta=c, obfuscation="pad") for c in chunks),
        sse("response.output_text.done", **where, text=text),
        sse("response.content_part.done", **where, part={**part, "text": text}),
        done(index, {**message_item(index, text, item_id=item_id, **extra), "status": "completed"}),
    ]


def call_item(index: int, name: str = "get_weather", arguments: str = "", call_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc_{index}",
        "call_id": call_id or f"call_{index}",
        "name": name,
        "arguments": arguments,
    }


def call(index: int, *fragments: str, name: str = "get_weather", final: str | None = None) -> list[dict[str, Any]]:
    """A function_call item whose arguments stream in ``fragments``."""
    arguments = "".join(fragments) if final is None else final
    where = {"output_index": index, "item_id": f"fc_{index}"}
    return [
        added(index, {**call_item(index, name), "status": "in_progress"}),
        *(sse("response.function_call_arguments.delta", **where, delta=f, obfuscation="x") for f in fragments),
        sse("response.function_call_arguments.done", **where, arguments=arguments),
        done(index, {**call_item(index, name, arguments), "status": "completed"}),
    ]


def reasoning(index: int, *summaries: list[str], encrypted: str = "gAAA-secret") -> list[dict[str, Any]]:
    """A reasoning item with one summary part per list of chunks."""
    item_id = f"rs_{index}"
    frames = [added(index, {"type": "reasoning", "id": item_id, "summary": [], "encrypted_content": "gAAA-early"})]
    for k, chunks in enumerate(summaries):
        where = {"output_index": index, "item_id": item_id, "summary_index": k}
        text = "".join(chunks)
        frames.append(sse("response.reasoning_summary_part.added", **where, part={"type": "summary_text", "text": ""}))
        frames.extend(sse("response.reasoning_summary_text.delta", **where, delta=c) for c in chunks)
        frames.append(sse("response.reasoning_summary_text.done", **where, text=text))
        frames.append(sse("response.reasoning_summary_part.done", **where, part={"type": "summary_text", "text": text}))
    summary = [{"type": "summary_text", "text": "".join(c)} for c in summaries]
    frames.append(done(index, {"type": "reasoning", "id": item_id, "summary": summary, "encrypted_content": encrypted}))
    return frames


def response(*items: list[dict[str, Any]], terminal: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """A complete response: created, in_progress, the given item frame lists, a terminal event."""
    frames = [created(), in_progress()]
    for item in items:
        frames.extend(item)
    return [*frames, terminal or completed()]


def numbered(frames: list[dict[str, Any]], start: int = 0) -> list[dict[str, Any]]:
    """The same frames with sequence_number start, start + 1, ... on every SSE event."""
    out = copy.deepcopy(frames)
    for number, frame in enumerate(f for f in out if f["kind"] == "sse"):
        frame["data"]["sequence_number"] = start + number
    return out


# -- running the adapter ------------------------------------------------------------------------


def feed_one_reader(
    frames: list[Any], *, finish: bool = True, reader: OpenAIResponsesReader | None = None
) -> list[ProviderEvent]:
    """Every event one reader produces for ``frames`` (no splitting into responses), then finish."""
    return read_response(reader or OpenAIResponsesReader(), frames, finish=finish)


def final_message(frames: list[Any]) -> AssistantMessage:
    """The message of the single response in ``frames``, which must complete."""
    terminal = terminal_of(feed_one_reader(frames))
    assert isinstance(terminal, ResponseCompleted), terminal
    return terminal.message


def failure(frames: list[Any]) -> ResponseFailed:
    """The failure of the single response in ``frames``, which must fail."""
    terminal = terminal_of(feed_one_reader(frames))
    assert isinstance(terminal, ResponseFailed), terminal
    return terminal


violations = protocol_violations
describe = describe_event


def only_item(frames: list[Any]) -> ContentItem:
    (item,) = final_message(frames).items
    return item


# -- lifecycle --------------------------------------------------------------------------------


def test_lifecycle_events_start_the_response_once() -> None:
    frames = [created(), sse("response.queued", response=snapshot("queued")), in_progress(), completed()]
    events = feed_one_reader(frames)
    assert [describe(e) for e in events if isinstance(e, ResponseStarted)] == [
        ("ResponseStarted", {"native_id": "resp_1", "model": "gpt-test"})
    ]
    assert violations(events) == []


@pytest.mark.parametrize("first", ["response.queued", "response.in_progress"])
def test_any_lifecycle_event_may_come_first(first: str) -> None:
    msg = final_message([sse(first, response=snapshot()), completed()])
    assert (msg.native_id, msg.model, msg.stop_reason) == ("resp_1", "gpt-test", "completed")


def test_completed_sets_stop_reason_and_usage() -> None:
    msg = final_message(response(text_item(0, "hi")))
    assert (msg.stop_reason, msg.usage) == ("completed", USAGE)
    assert (msg.input_tokens, msg.output_tokens) == (11, 7)


# -- content ----------------------------------------------------------------------------------


def test_text_deltas_concatenate_into_one_text_item() -> None:
    msg = final_message(response(text_item(0, "Hello", " there", "!")))
    assert msg.text == "Hello there!"
    assert [i.to_json() for i in msg.items] == [
        {"index": 0, "kind": "text", "block_type": "message", "text": "Hello there!", "complete": True}
    ]


def test_text_deltas_are_reported_as_they_arrive() -> None:
    events = feed_one_reader(response(text_item(0, "Hel", "lo")))
    assert [(e.index, e.kind, e.text) for e in events if isinstance(e, ItemDelta)] == [
        (0, "text", "Hel"),
        (0, "text", "lo"),
    ]


def test_several_output_text_parts_join_in_content_index_order() -> None:
    where = {"output_index": 0, "item_id": "msg_0"}
    part = {"type": "output_text", "text": "", "annotations": []}
    frames = response(
        [
            added(0, {**message_item(0), "content": []}),
            sse("response.content_part.added", **where, content_index=0, part=part),
            sse("response.output_text.delta", **where, content_index=0, delta="one "),
            sse("response.content_part.added", **where, content_index=1, part=part),
            sse("response.output_text.delta", **where, content_index=1, delta="two"),
            done(0, message_item(0, "one ", "two")),
        ]
    )
    assert only_item(frames).text == "one two"


def test_annotations_are_citations_and_citation_deltas() -> None:
    citation = {"type": "url_citation", "start_index": 0, "end_index": 4, "url": "https://a.example", "title": "A"}
    frames = text_item(0, "Cite")
    frames.insert(3, sse("response.output_text.annotation.added", output_index=0, item_id="msg_0",
                         content_index=0, annotation_index=0, annotation=citation))  # fmt: skip
    frames[-1] = done(0, {**message_item(0, "Cite"), "content": [{**frames[-1]["data"]["item"]["content"][0],
                                                                   "annotations": [citation]}]})  # fmt: skip
    events = feed_one_reader(response(frames))
    assert [e.data for e in events if isinstance(e, ItemDelta) and e.kind == "citation"] == [citation]
    (item,) = final_message(response(frames)).items
    assert item.citations == [citation]
    assert item.to_json()["citations"] == [citation]


def test_refusal_stays_out_of_the_text_and_is_reported_in_stop_details() -> None:
    where = {"output_index": 0, "item_id": "msg_0", "content_index": 0}
    frames = response(
        [
            added(0, {**message_item(0), "content": []}),
            sse("response.content_part.added", **where, part={"type": "refusal", "refusal": ""}),
            sse("response.refusal.delta", **where, delta="I can't "),
            sse("response.refusal.delta", **where, delta="help."),
            sse("response.refusal.done", **where, refusal="I can't help."),
            done(0, {**message_item(0), "content": [{"type": "refusal", "refusal": "I can't help."}]}),
        ]
    )
    events = feed_one_reader(frames)
    msg = final_message(frames)
    assert msg.text == ""
    assert msg.stop_details == {"type": "refusal", "refusal": "I can't help."}
    assert msg.stop_reason == "completed"
    assert [e.data for e in events if isinstance(e, ItemDelta)] == [
        {"type": "response.refusal.delta", "content_index": 0, "delta": "I can't "},
        {"type": "response.refusal.delta", "content_index": 0, "delta": "help."},
    ]


TOOL_JSON = r'{"city": "Caf\u00e9", "days": [1, 2.5], "ok": true}'
TOOL_ARGUMENTS = {"city": "Café", "days": [1, 2.5], "ok": True}


@pytest.mark.parametrize("split", range(len(TOOL_JSON) + 1))
def test_arguments_split_at_any_position_give_the_same_arguments(split: int) -> None:
    item = only_item(response(call(0, TOOL_JSON[:split], TOOL_JSON[split:])))
    assert item.arguments == TOOL_ARGUMENTS
    assert item.arguments_json == TOOL_JSON
    assert item.complete is True


@settings(max_examples=100, derandomize=True, database=None, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(TOOL_JSON)), max_size=8))
def test_arguments_in_any_number_of_fragments_give_the_same_arguments(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(TOOL_JSON)]
    item = only_item(response(call(0, *[TOOL_JSON[a:b] for a, b in itertools.pairwise(points)])))
    assert item.arguments == TOOL_ARGUMENTS


def test_function_call_is_a_client_tool_call_keyed_by_call_id() -> None:
    msg = final_message(response(call(0, '{"q": 1}', name="lookup")))
    (tool,) = msg.tool_calls
    assert (tool.kind, tool.block_type, tool.native_id, tool.name, tool.arguments) == (
        "tool_call",
        "function_call",
        "call_0",
        "lookup",
        {"q": 1},
    )


def test_function_call_with_empty_arguments_has_empty_arguments() -> None:
    assert only_item(response(call(0, final=""))).arguments == {}


def test_custom_tool_call_input_is_the_raw_string() -> None:
    item = {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_c", "name": "write_sql", "input": ""}
    where = {"output_index": 0, "item_id": "ctc_1"}
    frames = response(
        [
            added(0, item),
            sse("response.custom_tool_call_input.delta", **where, delta="SELECT * "),
            sse("response.custom_tool_call_input.delta", **where, delta="FROM t"),
            done(0, {**item, "input": "SELECT * FROM t"}),
        ]
    )
    events = feed_one_reader(frames)
    assert [e.text for e in events if isinstance(e, ItemDelta)] == ["SELECT * ", "FROM t"]
    (tool,) = final_message(frames).tool_calls
    assert (tool.block_type, tool.native_id, tool.arguments, tool.arguments_json) == (
        "custom_tool_call",
        "call_c",
        "SELECT * FROM t",
        "SELECT * FROM t",
    )


def test_reasoning_summary_parts_join_with_a_blank_line() -> None:
    frames = response(reasoning(0, ["**Plan", "**"], ["Then ", "act."]))
    events = feed_one_reader(frames)
    (item,) = final_message(frames).items
    assert (item.kind, item.text, item.signature) == ("reasoning", "**Plan**\n\nThen act.", None)
    # The separator is a delta of its own, so the deltas concatenate to the final text.
    assert "".join(e.text for e in events if isinstance(e, ItemDelta)) == item.text


def test_reasoning_keeps_the_done_encrypted_content_for_the_next_request() -> None:
    (item,) = final_message(response(reasoning(0, ["x"], encrypted="gAAA-done"))).items
    assert item.block["encrypted_content"] == "gAAA-done"
    assert "encrypted_content" not in item.to_json()


def test_reasoning_without_summary_has_empty_text() -> None:
    (item,) = final_message(response(reasoning(0))).items
    assert (item.kind, item.text, item.complete) == ("reasoning", "", True)


def test_raw_reasoning_text_parts_are_reasoning_text() -> None:
    where = {"output_index": 0, "item_id": "r1", "content_index": 0}
    final = {"type": "reasoning", "id": "r1", "summary": [], "content": [{"type": "reasoning_text", "text": "Hmm."}]}
    frames = response(
        [
            added(0, {"type": "reasoning", "id": "r1", "summary": [], "content": []}),
            sse("response.content_part.added", **where, part={"type": "reasoning_text", "text": ""}),
            sse("response.reasoning_text.delta", **where, delta="Hm"),
            sse("response.reasoning_text.delta", **where, delta="m."),
            sse("response.reasoning_text.done", **where, text="Hmm."),
            sse("response.content_part.done", **where, part={"type": "reasoning_text", "text": "Hmm."}),
            done(0, final),
        ]
    )
    msg = final_message(frames)
    assert msg.reasoning == "Hmm."
    assert violations(feed_one_reader(frames)) == []


def test_web_search_call_is_a_server_tool_call_with_its_action() -> None:
    item = {"type": "web_search_call", "id": "ws_1", "status": "in_progress"}
    action = {"type": "search", "query": "tallest mountain"}
    where = {"output_index": 0, "item_id": "ws_1"}
    frames = response(
        [
            added(0, item),
            sse("response.web_search_call.in_progress", **where),
            sse("response.web_search_call.searching", **where),
            sse("response.web_search_call.completed", **where),
            done(0, {**item, "status": "completed", "action": action}),
        ]
    )
    events = feed_one_reader(frames)
    # Progress is carried as `other` deltas without the (possibly rotating) item id.
    assert [e.data for e in events if isinstance(e, ItemDelta)] == [
        {"type": "response.web_search_call.in_progress"},
        {"type": "response.web_search_call.searching"},
        {"type": "response.web_search_call.completed"},
    ]
    msg = final_message(frames)
    (server,) = msg.items
    assert (server.kind, server.native_id, server.name, server.arguments) == (
        "server_tool_call",
        "ws_1",
        "web_search",
        action,
    )
    assert msg.tool_calls == []


def test_unknown_item_type_is_carried_as_other_with_its_payload() -> None:
    item = {"type": "compaction", "id": "cmp_1", "encrypted_content": "E"}
    (found,) = final_message(response([added(0, item), done(0, item)])).items
    assert (found.kind, found.block_type, found.block) == ("other", "compaction", item)


def test_items_are_keyed_by_output_index_with_gaps_allowed() -> None:
    msg = final_message(response(text_item(0, "a"), text_item(2, "b")))
    assert [(i.index, i.text) for i in msg.items] == [(0, "a"), (2, "b")]


def test_unknown_event_type_is_carried_as_an_unrecognized_frame() -> None:
    odd = sse("response.teleport", output_index=0, x=1)
    frames = response(text_item(0, "hi"))
    with_odd = [*frames[:3], odd, *frames[3:]]
    (unrecognized,) = [e for e in feed_one_reader(with_odd) if isinstance(e, UnrecognizedFrame)]
    assert (unrecognized.name, unrecognized.frame, unrecognized.frame_index) == ("response.teleport", odd["data"], 3)
    assert final_message(with_odd).to_json() == final_message(frames).to_json()


def test_unknown_frame_kind_is_carried_as_an_unrecognized_frame() -> None:
    events = feed_one_reader([{"kind": "websocket", "data": 1}, *response(text_item(0, "hi"))])
    assert [e.name for e in events if isinstance(e, UnrecognizedFrame)] == ["websocket"]


# -- terminals --------------------------------------------------------------------------------


def test_incomplete_completes_with_the_reason_and_closes_open_items_as_incomplete() -> None:
    frames = [
        created(),
        *text_item(0, "Done text"),
        added(1, call_item(1)),
        sse("response.function_call_arguments.delta", output_index=1, item_id="fc_1", delta='{"city": "Paris", "d'),
        incomplete("max_output_tokens"),
    ]
    events = feed_one_reader(frames)
    msg = final_message(frames)
    assert (msg.stop_reason, msg.stop_details) == ("max_output_tokens", {"reason": "max_output_tokens"})
    last = msg.items[1]
    assert (last.arguments, last.arguments_json, last.complete) == ({"city": "Paris"}, '{"city": "Paris", "d', False)
    assert [e.item.complete for e in events if isinstance(e, ItemCompleted)] == [True, False]
    assert OpenAIResponsesAdapter().next_step(msg) == "stop"


def test_incomplete_with_arguments_that_are_not_even_partial_json_fails_with_a_rule() -> None:
    frames = [created(), added(0, call_item(0)), sse("response.function_call_arguments.delta", output_index=0,
                                                     delta="}{"), incomplete()]  # fmt: skip
    assert failure(frames).rule == "openai.responses.function_call.invalid_json"


def test_response_failed_fails_with_the_error_code_and_message() -> None:
    error = {"code": "server_error", "message": "boom"}
    frames = [created(), *text_item(0, "par"), sse("response.failed", response=snapshot("failed", error=error))]
    failed = failure(frames)
    assert (failed.error_type, failed.message, failed.rule) == ("server_error", "boom", None)
    assert failed.partial.text == "par"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"code": "rate_limit_exceeded", "message": "slow down", "param": None}, id="top-level"),
        pytest.param({"error": {"type": "rate_limit_exceeded", "message": "slow down"}}, id="nested-type"),
        pytest.param(
            {"error": {"type": "x", "code": "rate_limit_exceeded", "message": "slow down", "param": None}},
            id="nested-code-wins",
        ),
    ],
)
def test_error_event_in_both_shapes_fails_with_the_provider_error(data: dict[str, Any]) -> None:
    failed = failure([created(), sse("error", **data)])
    assert (failed.error_type, failed.message, failed.rule) == ("rate_limit_exceeded", "slow down", None)
    assert failed.provider_error == {"type": "error", **data}


def test_error_event_without_code_or_type_is_error() -> None:
    assert failure([sse("error", message="?")]).error_type == "error"


def test_response_failed_after_an_error_is_absorbed_not_a_second_terminal() -> None:
    error = {"code": "insufficient_quota", "message": "quota"}
    frames = [
        created(),
        sse("error", error={**error, "type": "insufficient_quota"}),
        sse("response.failed", response=snapshot("failed", error=error)),
    ]
    events = feed_one_reader(frames)
    assert [type(e).__name__ for e in events] == ["ResponseStarted", "ResponseFailed"]


def test_response_failed_first_fails_without_starting() -> None:
    events = feed_one_reader([sse("response.failed", response=snapshot("failed", error={"code": "c", "message": "m"}))])
    assert [type(e).__name__ for e in events] == ["ResponseFailed"]


def test_done_sentinel_is_accepted_silently_after_and_before_the_terminal() -> None:
    frames = [*response(text_item(0, "x")), {"kind": "sse.done"}]
    assert violations(feed_one_reader(frames)) == []
    assert final_message([{"kind": "sse.done"}, *response(text_item(0, "x"))]).text == "x"


def test_completed_snapshot_items_are_taken_when_nothing_streamed() -> None:
    items = [message_item(0, "from snapshot"), call_item(1, arguments='{"a": 1}')]
    msg = final_message([created(), completed(output=items)])
    assert (msg.text, msg.tool_calls[0].arguments) == ("from snapshot", {"a": 1})


# -- rules ------------------------------------------------------------------------------------

_TEXT = text_item(0, "x")
_NUMBERED = numbered([created(), *_TEXT, completed()])


def renumbered(change: Any) -> list[dict[str, Any]]:
    """The numbered text response with each sequence_number n replaced by change(n)."""
    out = copy.deepcopy(_NUMBERED)
    for frame in out:
        frame["data"]["sequence_number"] = change(frame["data"]["sequence_number"])
    return out


# rule id -> (frames fed to one reader, fatal)
RULE_CASES: dict[str, tuple[list[dict[str, Any]], bool]] = {
    "openai.responses.created.missing": ([*_TEXT, completed()], True),
    "openai.responses.created.duplicate": ([created(), created(), completed()], True),
    "openai.responses.response_id.changed": (
        [created(), sse("response.in_progress", response={**snapshot(), "id": "resp_2"}), completed()],
        False,
    ),
    "openai.responses.output_index.duplicate": ([created(), added(0, call_item(0)), added(0, call_item(0))], True),
    "openai.responses.output_index.unknown": (
        [created(), sse("response.output_text.delta", output_index=3, content_index=0, delta="x")],
        True,
    ),
    "openai.responses.item.after_done": (
        [created(), *_TEXT, sse("response.output_text.delta", output_index=0, content_index=0, delta="late")],
        True,
    ),
    "openai.responses.item.type_mismatch": (
        [created(), added(0, call_item(0)), sse("response.output_text.delta", output_index=0, delta="x")],
        True,
    ),
    "openai.responses.item_id.changed": (
        [
            created(),
            *[{**f, "data": {**f["data"], "item_id": "msg_rotated"}} if "item_id" in f["data"] else f for f in _TEXT],
            completed(),
        ],
        False,
    ),
    "openai.responses.content_part.missing": (
        [created(), added(0, message_item(0)), sse("response.output_text.delta", output_index=0, content_index=0)],
        True,
    ),
    "openai.responses.item.unclosed": ([created(), added(0, call_item(0)), completed()], True),
    "openai.responses.function_call.invalid_json": (
        [created(), *call(0, '{"a": ', '"never closed'), completed()],
        True,
    ),
    "openai.responses.delta.done_mismatch": ([created(), *call(0, '{"a":', final='{"a": 2}'), completed()], False),
    "openai.responses.completed.output_mismatch": (
        [created(), *text_item(0, "streamed"), completed(output=[message_item(0, "other")])],
        False,
    ),
    "openai.responses.sequence_number.gap": (renumbered(lambda n: n + 5 if n >= 3 else n), False),
    "openai.responses.sequence_number.repeat": ([*_NUMBERED[:4], *_NUMBERED[3:]], True),
    "openai.responses.sequence_number.backwards": ([*_NUMBERED[:3], _NUMBERED[4], _NUMBERED[3], *_NUMBERED[5:]], True),
    "openai.responses.sequence_number.mixed": ([*numbered([created(), *_TEXT]), completed()], False),
    "openai.responses.stream.truncated": ([created(), *_TEXT], True),
    "openai.responses.stream.empty": ([], True),
    "openai.responses.sse.event_mismatch": (
        [{"kind": "sse", "event": "response.created", "data": {**created()["data"], "type": "x"}}, completed()],
        False,
    ),
    "openai.responses.frame.unexpected": ([*response(_TEXT), in_progress()], False),
    "openai.responses.frame.shape": ([created(), sse("response.output_item.added", output_index=False)], True),
}

# Rules in RULES that need more than one reader fed from the start, with the test that shows them.
NOT_IN_RULE_CASES = {"openai.responses.resume.mismatch": "test_resume_reader_reports_a_different_response"}


def test_every_rule_has_a_case_here() -> None:
    assert set(RULE_CASES) | set(NOT_IN_RULE_CASES) == set(RULES)


def test_fatal_rules_are_the_ones_not_listed_as_non_fatal() -> None:
    assert set(RULES) >= NON_FATAL
    assert {rule for rule, (_, fatal) in RULE_CASES.items() if not fatal} == NON_FATAL - set(NOT_IN_RULE_CASES)


@pytest.mark.parametrize("rule", sorted(RULE_CASES))
def test_rule_is_reported_with_its_id(rule: str) -> None:
    frames, fatal = RULE_CASES[rule]
    events = feed_one_reader(frames)
    found = [v for v in violations(events) if v.rule == rule]
    assert found, events
    assert found[0].fatal is fatal
    terminal = [e for e in events if isinstance(e, (ResponseCompleted, ResponseFailed))]
    assert len(terminal) == 1
    if fatal:
        assert isinstance(terminal[0], ResponseFailed)
        assert (terminal[0].error_type, terminal[0].rule) == ("protocol_violation", rule)
    else:
        assert isinstance(terminal[0], ResponseCompleted)


def test_text_delta_on_a_refusal_part_is_a_type_mismatch() -> None:
    where = {"output_index": 0, "item_id": "msg_0", "content_index": 0}
    frames = [
        created(),
        added(0, {**message_item(0), "content": []}),
        sse("response.content_part.added", **where, part={"type": "refusal", "refusal": ""}),
        sse("response.output_text.delta", **where, delta="x"),
    ]
    assert failure(frames).rule == "openai.responses.item.type_mismatch"


def test_out_of_order_sequence_number_names_both_numbers() -> None:
    # Event 4 arrives before event 3: a (non-fatal) gap, then the step back, which is fatal.
    all_found = violations(feed_one_reader(RULE_CASES["openai.responses.sequence_number.backwards"][0]))
    found = [v for v in all_found if ".sequence_number." in v.rule]
    assert [(v.rule, v.fatal) for v in found] == [
        ("openai.responses.sequence_number.gap", False),
        ("openai.responses.sequence_number.backwards", True),
    ]
    assert found[1].message.startswith("sequence_number 3 ('response.output_text.delta') after 4")


def test_sequence_numbers_are_optional() -> None:
    assert violations(feed_one_reader(response(text_item(0, "x")))) == []


def test_sequence_numbers_restart_at_zero_per_response() -> None:
    first, second = numbered(response(text_item(0, "one"))), numbered(response(text_item(0, "two")))
    events = adapt_frames([*first, *second])
    assert [c.message.text for c in events if isinstance(c, ResponseCompleted)] == ["one", "two"]
    assert violations(events) == []


def test_rotating_ids_are_reported_once_per_item_and_once_per_response() -> None:
    frames = response(text_item(0, "a", "b", "c"), text_item(1, "d", "e"))
    rotated = []
    for number, frame in enumerate(copy.deepcopy(frames)):
        data = frame["data"]
        if "item_id" in data:
            data["item_id"] = f"id-{number}"
        if "response" in data:
            data["response"]["id"] = f"resp_{number}"
        rotated.append(frame)
    events = feed_one_reader(rotated)
    assert [v.rule for v in violations(events)] == [
        "openai.responses.response_id.changed",
        "openai.responses.item_id.changed",
        "openai.responses.item_id.changed",
    ]
    assert final_message(rotated).text == "abcde"


def test_nothing_after_a_failure_is_applied() -> None:
    frames = [created(), added(0, call_item(0)), added(0, call_item(0)), *_TEXT]
    events = feed_one_reader(frames)
    failed = next(e for e in events if isinstance(e, ResponseFailed))
    assert [i.index for i in failed.partial.items] == [0]
    assert all(v.rule == "openai.responses.frame.unexpected" for v in violations(events)[1:])


def test_finish_after_completion_adds_nothing() -> None:
    reader = OpenAIResponsesReader()
    for index, frame in enumerate(response(_TEXT)):
        reader.feed(frame, index)
    assert reader.done
    assert reader.finish(99) == []


def test_adapt_frames_is_pure() -> None:
    frames = response(reasoning(0, ["a", "b"]), text_item(1, "x", "y"), call(2, "", '{"x": [1, ', "2]}"))
    before = copy.deepcopy(frames)
    first, second = adapt_frames(frames), adapt_frames(frames)
    assert [describe(e) for e in first] == [describe(e) for e in second]
    assert frames == before


def test_adapt_frames_keeps_the_failed_echo_of_an_error_in_the_same_response() -> None:
    frames = [created(), sse("error", code="c", message="m"), sse("response.failed", response=snapshot("failed"))]
    assert [type(e).__name__ for e in adapt_frames(frames)] == ["ResponseStarted", "ResponseFailed"]


# -- non-streamed bodies ------------------------------------------------------------------------


def test_non_streamed_body_gives_the_same_message_as_the_stream() -> None:
    stream = response(reasoning(0, ["Plan."]), text_item(1, "Look", "ing."), call(2, '{"city": "Paris"}'))
    body = snapshot(
        "completed",
        [
            {"type": "reasoning", "id": "rs_0", "summary": [{"type": "summary_text", "text": "Plan."}],
             "encrypted_content": "gAAA-secret"},
            message_item(1, "Looking."),
            {**call_item(2, arguments='{"city": "Paris"}'), "status": "completed"},
        ],
        usage=USAGE,
    )  # fmt: skip
    frames = [{"kind": "http.response", "status": 200, "headers": {}}, {"kind": "http.body", "body": body}]
    assert final_message(frames).to_json() == final_message(stream).to_json()


def test_http_error_body_fails_with_the_provider_error() -> None:
    body = {"error": {"message": "Invalid model", "type": "invalid_request_error", "code": "model_not_found"}}
    frames = [{"kind": "http.response", "status": 404, "headers": {}}, {"kind": "http.body", "body": body}]
    failed = failure(frames)
    assert (failed.error_type, failed.message, failed.rule) == ("model_not_found", "Invalid model", None)


def test_http_error_without_a_body_fails_with_the_status() -> None:
    frames = [{"kind": "http.response", "status": 502, "headers": {}}, {"kind": "http.body", "body": "Bad Gateway"}]
    assert (failure(frames).error_type, failure(frames).message) == ("http_502", "HTTP 502")


# -- next_step ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frames", "step"),
    [
        pytest.param(response(call(0, "{}")), "run_tools", id="completed-with-call"),
        pytest.param(response(text_item(0, "hi")), "stop", id="completed-text-only"),
        pytest.param([created(), *call(0, "{}"), incomplete()], "stop", id="incomplete-with-call"),
    ],
)
def test_next_step(frames: list[dict[str, Any]], step: str) -> None:
    assert OpenAIResponsesAdapter().next_step(final_message(frames)) == step


# -- build_request ----------------------------------------------------------------------------

TEMPLATE = RequestTemplate(
    path="/v1/responses",
    headers={"accept": "application/json", "content-type": "application/json"},
    params={"model": "gpt-test", "stream": True},
)


def test_build_request_renders_the_frame_from_the_template() -> None:
    frame = OpenAIResponsesAdapter().build_request(TEMPLATE, [UserTurn(text="Hi")])
    assert frame == {
        "kind": "http.request",
        "method": "POST",
        "path": "/v1/responses",
        "query": {},
        "headers": {"accept": "application/json", "content-type": "application/json"},
        "body": {"model": "gpt-test", "stream": True, "input": [{"role": "user", "content": "Hi"}]},
    }


def test_build_request_sends_verbatim_user_content_unchanged() -> None:
    content = [{"type": "input_text", "text": "Hi"}]
    frame = OpenAIResponsesAdapter().build_request(TEMPLATE, [UserTurn(text="Hi", content=content)])
    assert frame["body"]["input"] == [{"role": "user", "content": content}]


def test_build_request_echoes_the_output_items_as_recorded_clients_do() -> None:
    frames = response(
        reasoning(0, ["Plan."], encrypted="gAAA-done"),
        text_item(1, "Checking.", phase="commentary"),
        call(2, '{"country":"X"}', name="get_capital"),
    )
    frame = OpenAIResponsesAdapter().build_request(TEMPLATE, [UserTurn("Q"), AssistantTurn(final_message(frames))])
    assert frame["body"]["input"][1:] == [
        {
            "type": "reasoning",
            "id": "rs_0",
            "summary": [{"type": "summary_text", "text": "Plan."}],
            "encrypted_content": "gAAA-done",
        },
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "phase": "commentary",
            "content": [{"type": "output_text", "text": "Checking.", "annotations": []}],
        },
        {
            "type": "function_call",
            "id": "fc_2",
            "call_id": "call_2",
            "name": "get_capital",
            "arguments": '{"country":"X"}',
        },
    ]


def test_build_request_echoes_raw_reasoning_content_and_a_missing_encrypted_content() -> None:
    final = {"type": "reasoning", "id": "r1", "summary": [], "content": [{"type": "reasoning_text", "text": "Hmm."}]}
    msg = final_message(response([added(0, {**final, "content": []}), done(0, final)]))
    frame = OpenAIResponsesAdapter().build_request(TEMPLATE, [AssistantTurn(msg)])
    assert frame["body"]["input"] == [{**final, "encrypted_content": None}]


@pytest.mark.parametrize(
    ("result", "output"),
    [
        pytest.param(ToolResult("call_0", "f", "succeeded", output="sunny"), "sunny", id="succeeded-string"),
        pytest.param(ToolResult("call_0", "f", "succeeded", output={"temp": 21}), '{"temp":21}', id="succeeded-json"),
        pytest.param(
            ToolResult("call_0", "f", "succeeded", output=[{"type": "input_text", "text": "raw"}], verbatim=True),
            [{"type": "input_text", "text": "raw"}],
            id="succeeded-verbatim",
        ),
        pytest.param(ToolResult("call_0", "f", "failed", error="no such city"), "no such city", id="failed"),
    ],
)
def test_build_request_renders_tool_results_as_function_call_outputs(result: ToolResult, output: Any) -> None:
    msg = final_message(response(call(0, "{}")))
    frame = OpenAIResponsesAdapter().build_request(TEMPLATE, [AssistantTurn(msg), ToolResultsTurn((result,))])
    assert frame["body"]["input"][-1] == {"type": "function_call_output", "call_id": "call_0", "output": output}


def test_build_request_answers_a_custom_tool_with_a_custom_tool_call_output() -> None:
    item = {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_c", "name": "sql", "input": "SELECT 1"}
    msg = final_message(response([added(0, item), done(0, item)]))
    result = ToolResult("call_c", "sql", "succeeded", output="1")
    frame = OpenAIResponsesAdapter().build_request(TEMPLATE, [AssistantTurn(msg), ToolResultsTurn((result,))])
    assert frame["body"]["input"] == [
        {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_c", "name": "sql", "input": "SELECT 1"},
        {"type": "custom_tool_call_output", "call_id": "call_c", "output": "1"},
    ]


def test_build_resume_request_is_a_get_for_the_response() -> None:
    frame = OpenAIResponsesAdapter().build_resume_request(TEMPLATE, "resp_1", 3)
    assert frame == {
        "kind": "http.request",
        "method": "GET",
        "path": "/v1/responses/resp_1",
        "query": {"starting_after": "3", "stream": "true"},
        "headers": {"accept": "application/json"},
        "body": None,
    }


# -- split_request / recorded_tool_result ---------------------------------------------------------


def _request(input_items: Any, **params: Any) -> dict[str, Any]:
    return {"kind": "http.request", "method": "POST", "path": "/v1/responses", "query": {}, "headers": {},
            "body": {**params, "input": input_items}}  # fmt: skip


def test_split_request_takes_params_and_the_user_message() -> None:
    template, user = OpenAIResponsesAdapter().split_request(_request([{"role": "user", "content": "Q?"}], model="m"))
    assert (template.path, template.params, user) == ("/v1/responses", {"model": "m"}, UserTurn(text="Q?"))


def test_split_request_keeps_list_content_verbatim() -> None:
    content = [{"type": "input_text", "text": "Q?"}]
    _, user = OpenAIResponsesAdapter().split_request(_request([{"role": "user", "content": content}]))
    assert user == UserTurn(text="Q?", content=content)


@pytest.mark.parametrize(
    "input_items",
    [
        pytest.param("just a string", id="bare-string"),
        pytest.param([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], id="two-items"),
        pytest.param([{"type": "function_call_output", "call_id": "c", "output": "x"}], id="not-a-user-message"),
    ],
)
def test_split_request_refuses_what_is_not_one_user_message(input_items: Any) -> None:
    with pytest.raises(ValueError, match="first recorded request"):
        OpenAIResponsesAdapter().split_request(_request(input_items))


def test_recorded_tool_result_finds_the_output_by_call_id_or_by_old_item_id() -> None:
    msg = final_message(response(call(0, "{}")))
    (tool,) = msg.tool_calls
    adapter = OpenAIResponsesAdapter()
    by_call = _request([{"type": "function_call_output", "call_id": "call_0", "output": "A"}])
    by_item = _request([{"type": "function_call_output", "call_id": "fc_0", "output": "B"}])
    assert adapter.recorded_tool_result(by_call, tool) == ToolResult(
        "call_0", "get_weather", "succeeded", "A", None, True
    )
    assert adapter.recorded_tool_result(by_item, tool) == ToolResult(
        "call_0", "get_weather", "succeeded", "B", None, True
    )
    assert adapter.recorded_tool_result(_request([]), tool) is None


# -- resume ---------------------------------------------------------------------------------------


def _resume_reader(previous_frames: list[dict[str, Any]], after: int) -> OpenAIResponsesReader:
    previous = final_message(previous_frames)
    return OpenAIResponsesAdapter().resume_response(previous, after, verify=True)


def test_resume_reader_drops_events_up_to_starting_after() -> None:
    frames = numbered(response(text_item(0, "a", "b")))
    events = feed_one_reader(frames, reader=_resume_reader(frames, 0))
    assert violations(events) == []
    assert [e.text for e in events if isinstance(e, ItemDelta)] == ["a", "b"]


def test_resume_reader_takes_items_added_before_the_resume_point_from_the_response() -> None:
    frames = numbered(response(text_item(0, "a", "b", "c")))
    # Resume after the first text delta (sequence 4): the item was added at 2, its part at 3.
    events = feed_one_reader(frames, reader=_resume_reader(frames, 4))
    assert isinstance(events[0], ResponseStarted) and isinstance(events[1], ItemStarted)
    assert [e.text for e in events if isinstance(e, ItemDelta)] == ["b", "c"]
    (completed_event,) = [e for e in events if isinstance(e, ResponseCompleted)]
    assert completed_event.message.text == "abc"
    assert violations(events) == []


def test_resume_reader_reports_a_different_response() -> None:
    frames = numbered(response(text_item(0, "a")))
    other = numbered(response(text_item(0, "b")))
    events = feed_one_reader(other, reader=_resume_reader(frames, 0))
    assert [(v.rule, v.fatal) for v in violations(events)] == [("openai.responses.resume.mismatch", False)]


# -- through the core -----------------------------------------------------------------------------


def stream_only(frames: list[dict[str, Any]], name: str = "synthetic") -> Execution:
    header = {"type": "transcript_start", "provider": "openai", "protocol": "openai.responses",
              "version": "unknown", "scenario": name}  # fmt: skip
    lines = [header, *({"type": "emit_inbound", "frame": f} for f in frames)]
    transcript = parse_transcript("\n".join(orjson.dumps(line).decode() for line in lines), path=f"{name}.ndjson")
    return execute(scenario_for_transcript(transcript), transcript=transcript)


def event_types(execution: Execution) -> list[str]:
    return [e.type for e in execution.events]


def outcome_events(execution: Execution) -> list[tuple[str, str | None]]:
    """``(type, status)`` of the events that say how items, provider turns and runs went: streamed
    fragments, rule breaks, provider turn and run snapshots (statuses of snapshots only)."""
    kinds = ("turn-item.delta", "protocol.violation", "provider-turn.updated", "run.updated")
    return [(e.type, e.data.get("status")) for e in execution.events if e.type in kinds]


def http_runtime(execution: Execution) -> HttpRuntime:
    adapter = execution.orchestrator.adapter
    assert isinstance(adapter, HttpRuntime)
    return adapter


def test_core_out_of_order_sequence_number_fails_the_run_with_the_rule() -> None:
    execution = stream_only(RULE_CASES["openai.responses.sequence_number.backwards"][0])
    failed = execution.events[-1]
    assert (failed.type, failed.data["status"], failed.data["rule"]) == (
        "run.updated",
        "failed",
        "openai.responses.sequence_number.backwards",
    )
    assert failed.data["error"]["type"] == "protocol_violation"
    assert check_invariants(execution.events) == []


def test_core_unknown_event_becomes_provider_frame_unrecognized() -> None:
    odd = sse("response.teleport", x=1)
    execution = stream_only([created(), odd, *_TEXT, completed()])
    (event,) = [e for e in execution.events if e.type == "provider.frame.unrecognized"]
    assert event.data == {"reason": "an unrecognized response.teleport frame", "frame": odd["data"]}
    # It is transcript entry 1, read by the run's one provider turn (its one response) while open.
    assert execution.origins[event.sequence][0] == execution.transcript.line_of(1)
    assert event.run_id == "thread-1/run-1"
    turn = [e for e in execution.events if e.type == "provider-turn.updated"]
    assert {e.data["provider_turn_id"] for e in turn} == {"thread-1/provider-thread/turn-1"}
    assert turn[0].sequence < event.sequence < turn[-1].sequence
    assert turn[-1].data["status"] == "completed"
    last = execution.events[-1]
    assert (last.type, last.data["status"]) == ("run.updated", "completed")


def test_core_arguments_that_never_close_fail_the_run_not_the_harness() -> None:
    execution = stream_only([created(), *call(0, '{"city": "Par'), completed()])
    assert outcome_events(execution)[-4:] == [
        ("turn-item.delta", None),
        ("protocol.violation", None),
        ("provider-turn.updated", "failed"),
        ("run.updated", "failed"),
    ]
    assert execution.events[-1].type == "run.updated"
    assert execution.events[-1].data["rule"] == "openai.responses.function_call.invalid_json"
    assert check_invariants(execution.events) == []


def test_core_multi_turn_tool_loop_matches_the_recorded_second_request_strictly() -> None:
    scenario = load_scenario(SCENARIOS / "openai_responses_reasoning_commentary_function_call.yaml")
    execution = execute(scenario)
    assert execution.driver.failure is None
    assert execution.driver.remaining == 0
    # Two requests (provider turns): the first with the user's turn, the second with the
    # assistant's turn and the tool results added (the last turn is the final answer).
    assert len(provider_turns(execution)) == len(execution.driver.sent) == 2
    (conversation,) = http_runtime(execution).conversations.values()
    assert [type(t).__name__ for t in conversation] == ["UserTurn", "AssistantTurn", "ToolResultsTurn", "AssistantTurn"]
    user = conversation[0]
    assert isinstance(user, UserTurn)
    assert execution.driver.sent[0]["body"]["input"] == [{"role": "user", "content": user.text}]
    second = execution.driver.sent[1]["body"]["input"]
    assert [i.get("type", i.get("role")) for i in second] == [
        "user",
        "reasoning",
        "message",
        "function_call",
        "function_call_output",
    ]


def test_core_resume_stores_the_resume_request_and_the_resumed_response() -> None:
    execution = execute(load_scenario(SCENARIOS / "openai_responses_background_resume.yaml"))
    assert execution.driver.failure is None
    # The resume request is a provider turn of its own, after the first one, which it re-attaches
    # to: a GET of the first response, with no conversation, starting after event 0.
    first, resume = provider_turns(execution)
    assert (first["status"], first.get("resumed"), resume["status"]) == ("completed", True, "completed")
    assert "resumed" not in resume
    sent = execution.driver.sent[1]
    assert (sent["method"], sent["path"], sent["body"]) == ("GET", f"/v1/responses/{first['native_ref']}", None)
    assert sent["query"]["starting_after"] == "0"
    # One response per provider turn: the second is the resumed one.
    assert [r[0] for r in execution.responses] == ["thread-1/response-1", "thread-1/response-2"]
    assert [e.data for e in execution.events if e.type == "protocol.violation"] == []
    assert check_invariants(execution.events) == []
    # The conversation holds the response once: the resumed stream re-delivered it.
    (conversation,) = http_runtime(execution).conversations.values()
    assert [type(t).__name__ for t in conversation] == ["UserTurn", "AssistantTurn"]


def test_core_resume_after_a_truncated_stream_takes_the_resumed_response() -> None:
    full = numbered(response(text_item(0, "a", "b")))
    cut = full[:5]  # created, in_progress, added, part, "a": the connection drops
    header = {"type": "transcript_start", "provider": "openai", "protocol": "openai.responses",
              "version": "unknown", "scenario": "cut"}  # fmt: skip
    request = {"kind": "http.request", "method": "POST", "path": "/v1/responses", "query": {}, "headers": {},
               "body": {"model": "m", "input": [{"role": "user", "content": "Q"}]}}  # fmt: skip
    resume = {"kind": "http.request", "method": "GET", "path": "/v1/responses/resp_1",
              "query": {"starting_after": "4", "stream": "true"}, "headers": {}, "body": None}  # fmt: skip
    lines: list[Any] = [header, {"type": "expect_outbound", "frame": request}]
    lines += [{"type": "emit_inbound", "frame": f} for f in cut]
    lines += [{"type": "expect_outbound", "frame": resume}]
    lines += [{"type": "emit_inbound", "frame": f} for f in full[5:]]
    transcript = parse_transcript("\n".join(orjson.dumps(line).decode() for line in lines), path="cut.ndjson")
    scenario = scenario_for_transcript(transcript).model_copy(
        update={"commands": [ThreadCreate(thread_id="thread-1"), MessageDispatch(text="Q", resume_starting_after=4)]}
    )
    execution = execute(scenario, transcript=transcript)
    assert execution.driver.failure is None
    assert [(r[0].rsplit("/", 1)[-1], r[1].text, r[2]) for r in execution.responses] == [
        ("response-1", "a", "failed"),
        ("response-2", "ab", "completed"),
    ]
    # The second response is the resume request's: its provider turn follows the one it resumed.
    assert [(t["status"], t.get("resumed")) for t in provider_turns(execution)] == [
        ("failed", True),
        ("completed", None),
    ]
    last = execution.events[-1]
    assert (last.type, last.data["status"]) == ("run.updated", "completed")
    assert check_invariants(execution.events) == []


def test_core_recording_that_ends_after_a_function_call_has_no_answer_for_the_tool_output() -> None:
    # The recorded client (pydantic-ai, output tool final_result) stopped after the call; the
    # core runs the tool and sends the output, which a strict recording cannot answer. This is
    # why the transcript has no scenario (see docs/events-openai-responses.md).
    transcript = (
        ROOT / "transcripts/openai/pydantic-ai-cassettes/openai-responses__reasoning_item_plus_function_call.ndjson"
    )
    execution = replay_transcript(transcript)
    assert [status for _, _, status in execution.responses] == ["completed"]
    assert type(execution.driver.failure).__name__ == "UnexpectedOutbound"
    last = execution.events[-1]
    assert (last.type, last.data["status"], last.data["error"]["type"]) == ("run.updated", "failed", "transport_error")


def test_core_resume_needs_an_adapter_that_can_resume() -> None:
    runtime = HttpRuntime(AnthropicMessagesAdapter(), tools=ScenarioTools({}))
    orchestrator = Orchestrator(adapter=runtime, link=None)  # type: ignore[arg-type]
    orchestrator.dispatch(ThreadCreate(thread_id="t"))
    with pytest.raises(UsageError, match="cannot"):
        orchestrator.dispatch(MessageDispatch(thread_id="t", text="x", resume_starting_after=0))


# -- goldens stay free of volatile values ---------------------------------------------------------


def _all_scenarios() -> list[Path]:
    return sorted(SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("path", _all_scenarios(), ids=[p.stem for p in _all_scenarios()])
def test_no_rotating_item_id_or_obfuscation_reaches_the_event_log(path: Path) -> None:
    execution = execute(load_scenario(path))
    text = orjson.dumps([e.data for e in execution.events]).decode()
    assert '"obfuscation"' not in text
    # Item ids (msg_, rs_, fc_, ws_, ...) appear only where goldens normalize them (whole values).
    assert "capture-id-3" not in text and "capture-id-9" not in text
