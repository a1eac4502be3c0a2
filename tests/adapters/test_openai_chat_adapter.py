"""The OpenAI Chat Completions adapter on small synthetic frame lists: one behaviour per test.

Frames are written the way the transcript stores them (``{"kind": "sse", "event": None, "data":
<chunk>}``); the builders below keep each test down to the chunks that matter for it.
"""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.adapters.base import (
    AssistantMessage,
    AssistantTurn,
    ContentItem,
    ItemCompleted,
    ItemDelta,
    ItemStarted,
    ProtocolViolation,
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
from harness.adapters.openai_chat import (
    RULES,
    OpenAIChatAdapter,
    OpenAIChatResponseReader,
    adapt_frames,
    error_type_of,
)
from harness.record import translate_transcript
from harness.scenario import replay_summary, replay_transcript
from harness.testing import describe_event, protocol_violations, read_response, terminal_of
from harness.transcript import ExpectOutbound, read_transcript

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "transcripts" / "openai" / "pydantic-ai-cassettes"

# -- frame builders ---------------------------------------------------------------------------


def sse(data: Any, event: str | None = None) -> dict[str, Any]:
    return {"kind": "sse", "event": event, "data": data}


def chunk(*choices: dict[str, Any], chunk_id: str = "chatcmpl-1", **top: Any) -> dict[str, Any]:
    """One chunk frame with the given choice objects (``choice(...)``)."""
    data = {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "gpt-test",
        "choices": list(choices),
    }
    return sse({**data, **top})


def choice(index: int = 0, finish_reason: str | None = None, **delta: Any) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


def role(index: int = 0, content: str | None = "") -> dict[str, Any]:
    return chunk(choice(index, role="assistant", content=content))


def text(content: str, index: int = 0) -> dict[str, Any]:
    return chunk(choice(index, content=content))


def finish(reason: str = "stop", index: int = 0) -> dict[str, Any]:
    return chunk(choice(index, reason))


def usage(prompt: int = 10, completion: int = 5) -> dict[str, Any]:
    return chunk(usage={"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})


def done() -> dict[str, Any]:
    return {"kind": "sse.done"}


def tool_start(tool: int, name: str = "get_weather", call_id: str | None = None, index: int = 0) -> dict[str, Any]:
    call = {
        "index": tool,
        "id": call_id or f"call_{tool}",
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }
    return chunk(choice(index, tool_calls=[call]))


def tool_args(tool: int, fragment: str, index: int = 0) -> dict[str, Any]:
    return chunk(choice(index, tool_calls=[{"index": tool, "function": {"arguments": fragment}}]))


def tool_call(tool: int, *fragments: str, name: str = "get_weather", index: int = 0) -> list[dict[str, Any]]:
    return [tool_start(tool, name, index=index), *(tool_args(tool, f, index) for f in fragments)]


def stream(*parts: dict[str, Any] | list[dict[str, Any]], reason: str = "stop") -> list[dict[str, Any]]:
    """A complete single-choice stream: role chunk, the parts, finish, usage, [DONE]."""
    frames = [role()]
    for part in parts:
        frames.extend(part if isinstance(part, list) else [part])
    return [*frames, finish(reason), usage(), done()]


# -- running the adapter ------------------------------------------------------------------------


def feed_one_reader(frames: list[Any], *, finish: bool = True) -> list[ProviderEvent]:
    """Every event one reader produces for ``frames`` (no splitting into responses), then finish."""
    return read_response(OpenAIChatResponseReader(), frames, finish=finish)


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


# -- content ----------------------------------------------------------------------------------


def test_content_fragments_concatenate_into_one_text_item() -> None:
    msg = final_message(stream(text("Hello"), text(" there"), text("!")))
    assert msg.text == "Hello there!"
    assert [i.to_json() for i in msg.items] == [
        {"index": 0, "kind": "text", "block_type": "content", "text": "Hello there!", "complete": True}
    ]
    assert (msg.native_id, msg.model, msg.stop_reason) == ("chatcmpl-1", "gpt-test", "stop")


def test_content_fragments_are_reported_as_they_arrive() -> None:
    events = feed_one_reader(stream(text("Hel"), text("lo")))
    assert [(e.index, e.kind, e.text) for e in events if isinstance(e, ItemDelta)] == [
        (0, "text", "Hel"),
        (0, "text", "lo"),
    ]
    assert isinstance(events[0], ResponseStarted)
    assert (events[0].native_id, events[0].model, events[0].frame_index) == ("chatcmpl-1", "gpt-test", 0)


@pytest.mark.parametrize("content", ["", None], ids=["empty-string", "null"])
def test_the_role_chunk_opens_no_item(content: str | None) -> None:
    events = feed_one_reader([role(content=content), finish(), done()])
    assert not [e for e in events if isinstance(e, ItemStarted)]
    assert final_message([role(content=content), finish(), done()]).items == []


REFUSAL = [
    chunk(choice(role="assistant", content=None, refusal="")),
    chunk(choice(refusal="I'm sorry")),
    chunk(choice(refusal=", no.")),
    finish(),
    done(),
]


def test_a_refusal_stays_out_of_the_text_in_an_other_item_with_block_type_refusal() -> None:
    msg = final_message(REFUSAL)
    assert [i.to_json() for i in msg.items] == [
        {
            "index": 0,
            "kind": "other",
            "block_type": "refusal",
            "block": {"type": "refusal", "refusal": "I'm sorry, no."},
            "complete": True,
        }
    ]
    assert msg.text == ""


def test_a_refusal_is_the_stop_details_as_the_responses_adapter_reports_it() -> None:
    assert final_message(REFUSAL).stop_details == {"type": "refusal", "refusal": "I'm sorry, no."}
    assert final_message(stream(text("x"))).stop_details is None


def test_refusal_fragments_are_other_deltas_carrying_the_fragment() -> None:
    deltas = [(e.kind, e.data) for e in feed_one_reader(REFUSAL) if isinstance(e, ItemDelta)]
    assert deltas == [("other", {"refusal": "I'm sorry"}), ("other", {"refusal": ", no."})]


def test_a_refusal_and_content_in_one_choice_keep_the_text_to_the_content() -> None:
    msg = final_message(stream(text("Well. "), chunk(choice(refusal="No."))))
    assert (msg.text, msg.stop_details) == ("Well. ", {"type": "refusal", "refusal": "No."})


def test_a_failed_response_s_partial_message_has_its_refusal_sealed() -> None:
    frames = [*REFUSAL[:3], OPENROUTER_ERROR]
    partial = failure(frames).partial
    assert partial.items[0].block == {"type": "refusal", "refusal": "I'm sorry, no."}
    assert partial.stop_details == {"type": "refusal", "refusal": "I'm sorry, no."}


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_fields_make_one_reasoning_item_named_after_the_field(field: str) -> None:
    frames = stream(chunk(choice(**{field: "Let me "})), chunk(choice(**{field: "think."})), text("Answer"))
    msg = final_message(frames)
    assert msg.items[0].to_json() == {
        "index": 0,
        "kind": "reasoning",
        "block_type": field,
        "text": "Let me think.",
        "signature": None,
        "complete": True,
    }
    assert (msg.reasoning, msg.text) == ("Let me think.", "Answer")


def test_a_delta_with_both_reasoning_fields_is_read_once_preferring_reasoning_content() -> None:
    item = only_item(stream(chunk(choice(reasoning_content="a", reasoning="a")), chunk(choice(reasoning="b"))))
    assert (item.block_type, item.text) == ("reasoning_content", "ab")


def test_item_indexes_follow_first_appearance_within_a_choice() -> None:
    frames = stream(
        chunk(choice(reasoning="hmm")),
        text("Checking."),
        *[tool_call(0, "{}", name="a"), tool_call(1, "{}", name="b")],
        reason="tool_calls",
    )
    assert [(i.index, i.kind, i.block_type, i.name) for i in final_message(frames).items] == [
        (0, "reasoning", "reasoning", None),
        (1, "text", "content", None),
        (2, "tool_call", "function", "a"),
        (3, "tool_call", "function", "b"),
    ]


def test_within_one_delta_reasoning_comes_before_content_and_tool_calls() -> None:
    call = {"index": 0, "id": "call_0", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    frames = stream(chunk(choice(tool_calls=[call], content="text", reasoning="why")), reason="tool_calls")
    assert [i.kind for i in final_message(frames).items] == ["reasoning", "text", "tool_call"]


TOOL_JSON = r'{"city": "Caf\u00e9", "days": [1, 2.5], "ok": true}'
TOOL_ARGUMENTS = {"city": "Café", "days": [1, 2.5], "ok": True}


@pytest.mark.parametrize("split", range(len(TOOL_JSON) + 1))
def test_tool_arguments_split_at_any_position_give_the_same_arguments(split: int) -> None:
    # Some splits fall inside the \u00e9 escape.
    item = only_item(stream(tool_call(0, TOOL_JSON[:split], TOOL_JSON[split:]), reason="tool_calls"))
    assert item.arguments == TOOL_ARGUMENTS
    assert item.arguments_json == TOOL_JSON
    assert item.complete is True


@settings(max_examples=100, derandomize=True, database=None, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(TOOL_JSON)), max_size=8))
def test_tool_arguments_in_any_number_of_fragments_give_the_same_arguments(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(TOOL_JSON)]
    fragments = [TOOL_JSON[a:b] for a, b in itertools.pairwise(points)]
    assert only_item(stream(tool_call(0, *fragments), reason="tool_calls")).arguments == TOOL_ARGUMENTS


def test_parallel_tool_calls_are_assembled_by_their_index() -> None:
    frames = stream(
        tool_start(0, "get_weather", "call_a"),
        tool_start(1, "get_stock", "call_b"),
        tool_args(1, '{"ticker": '),
        tool_args(0, '{"city": "Paris"}'),
        tool_args(1, '"AAPL"}'),
        reason="tool_calls",
    )
    calls = final_message(frames).tool_calls
    assert [(c.index, c.native_id, c.name, c.arguments) for c in calls] == [
        (0, "call_a", "get_weather", {"city": "Paris"}),
        (1, "call_b", "get_stock", {"ticker": "AAPL"}),
    ]


def test_a_whole_tool_call_in_one_fragment_as_groq_sends_it() -> None:
    call = {"id": "fc_1", "type": "function", "function": {"name": "f", "arguments": '{"name":"x"}'}, "index": 0}
    (item,) = final_message(stream(chunk(choice(tool_calls=[call])), reason="tool_calls")).tool_calls
    assert (item.native_id, item.name, item.arguments, item.arguments_json) == (
        "fc_1",
        "f",
        {"name": "x"},
        '{"name":"x"}',
    )


def test_an_id_and_name_repeated_in_later_fragments_concatenate_as_in_the_sdk() -> None:
    # The SDK's accumulate_delta concatenates every string of a delta, ids and names included.
    again = {"index": 0, "id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    item = only_item(stream(tool_start(0), chunk(choice(tool_calls=[again])), reason="tool_calls"))
    assert (item.native_id, item.name, item.arguments) == ("call_0call_0", "get_weatherget_weather", {})


def test_a_name_streamed_in_pieces_is_joined() -> None:
    rest = {"index": 0, "function": {"name": "weather", "arguments": "{}"}}
    item = only_item(stream(tool_start(0, "get_"), chunk(choice(tool_calls=[rest])), reason="tool_calls"))
    assert (item.native_id, item.name) == ("call_0", "get_weather")


def test_null_and_empty_id_and_name_in_later_fragments_change_nothing() -> None:
    quiet = {"index": 0, "id": None, "type": None, "function": {"name": "", "arguments": None}}
    item = only_item(stream(tool_start(0), chunk(choice(tool_calls=[quiet])), tool_args(0, "{}"), reason="tool_calls"))
    assert (item.native_id, item.name, item.arguments) == ("call_0", "get_weather", {})


def test_null_argument_fragments_add_nothing() -> None:
    start = {"index": 0, "id": "call_0", "type": "function", "function": {"name": "f", "arguments": None}}
    frames = stream(
        chunk(choice(tool_calls=[start])),
        tool_args(0, '{"a": '),
        chunk(choice(tool_calls=[{"index": 0, "function": {"arguments": None}}])),
        tool_args(0, "1}"),
        reason="tool_calls",
    )
    item = only_item(frames)
    assert (item.arguments, item.arguments_json) == ({"a": 1}, '{"a": 1}')
    assert [e.text for e in feed_one_reader(frames) if isinstance(e, ItemDelta)] == ['{"a": ', "1}"]


def test_a_repeated_legacy_function_call_name_concatenates_as_in_the_sdk() -> None:
    frames = [
        role(content=None),
        chunk(choice(function_call={"name": "f", "arguments": ""})),
        chunk(choice(function_call={"name": "f", "arguments": "{}"})),
        finish("function_call"),
        done(),
    ]
    (call,) = final_message(frames).tool_calls
    assert (call.name, call.arguments) == ("ff", {})


def test_a_tool_call_without_argument_fragments_has_empty_arguments() -> None:
    item = only_item(stream(tool_start(0), reason="tool_calls"))
    assert (item.arguments, item.arguments_json, item.complete) == ({}, "", True)


def test_a_tool_call_of_another_type_is_carried_as_other() -> None:
    call = {
        "index": 0,
        "id": "ct_1",
        "type": "custom",
        "custom": {"name": "grep", "input": "x"},
        "function": {"name": "grep"},
    }
    item = only_item(stream(chunk(choice(tool_calls=[call])), reason="tool_calls"))
    assert (item.kind, item.block_type, item.block) == ("other", "custom", call)
    assert final_message(stream(chunk(choice(tool_calls=[call])), reason="tool_calls")).tool_calls == []


def test_the_legacy_function_call_is_one_tool_call_without_id() -> None:
    frames = [
        role(content=None),
        chunk(choice(function_call={"name": "get_weather", "arguments": ""})),
        chunk(choice(function_call={"arguments": '{"city": '})),
        chunk(choice(function_call={"arguments": '"Oslo"}'})),
        finish("function_call"),
        done(),
    ]
    msg = final_message(frames)
    (call,) = msg.tool_calls
    assert (call.block_type, call.native_id, call.name, call.arguments) == (
        "function_call",
        None,
        "get_weather",
        {"city": "Oslo"},
    )
    assert OpenAIChatAdapter().next_step(msg) == "run_tools"


# -- stop reasons and next_step ------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["stop", "tool_calls", "length", "content_filter", "function_call"])
def test_finish_reason_is_the_stop_reason_verbatim(reason: str) -> None:
    assert final_message(stream(text("x"), reason=reason)).stop_reason == reason


@pytest.mark.parametrize("reason", ["length", "content_filter"])
def test_a_truncating_finish_completes_open_items_as_incomplete_with_partial_arguments(reason: str) -> None:
    frames = stream(text("Let me"), tool_call(0, '{"city": "Paris", "days": [1, 2'), reason=reason)
    msg = final_message(frames)
    assert [(i.kind, i.complete) for i in msg.items] == [("text", False), ("tool_call", False)]
    assert msg.items[1].arguments == {"city": "Paris", "days": [1, 2]}
    assert OpenAIChatAdapter().next_step(msg) == "stop"


def test_items_complete_at_their_choice_finish_before_the_usage_chunk() -> None:
    events = feed_one_reader(stream(text("x")))
    completed = next(i for i, e in enumerate(events) if isinstance(e, ItemCompleted))
    assert events[completed].frame_index == 2  # the finish chunk, not [DONE]


@pytest.mark.parametrize(
    ("reason", "step"),
    [("tool_calls", "run_tools"), ("function_call", "run_tools"), ("stop", "stop"), ("length", "stop")],
)
def test_next_step_runs_tools_only_after_a_tool_finish_reason(reason: str, step: str) -> None:
    msg = final_message(stream(tool_call(0, "{}"), reason=reason))
    assert OpenAIChatAdapter().next_step(msg) == step


def test_next_step_stops_on_tool_calls_without_a_complete_call() -> None:
    assert OpenAIChatAdapter().next_step(final_message(stream(text("no calls"), reason="tool_calls"))) == "stop"


# -- usage ------------------------------------------------------------------------------------


def test_the_usage_only_chunk_gives_the_message_usage() -> None:
    msg = final_message(stream(text("x")))
    assert msg.usage == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    assert (msg.input_tokens, msg.output_tokens) == (10, 5)


def test_usage_on_the_finish_chunk_as_groq_sends_it_and_null_usage_is_ignored() -> None:
    frames = [
        role(),
        chunk(choice(content="x"), usage=None),
        chunk(choice(finish_reason="stop"), usage={"prompt_tokens": 3, "completion_tokens": 1}),
        done(),
    ]
    assert final_message(frames).usage == {"prompt_tokens": 3, "completion_tokens": 1}


def test_without_a_usage_chunk_the_usage_is_empty() -> None:
    assert final_message([role(), text("x"), finish(), done()]).usage == {}


# -- several choices (n > 1) --------------------------------------------------------------------

N2 = [
    role(0),
    text("A", 0),
    role(1),
    text("B", 1),
    text("a", 0),
    *tool_call(0, "{}", index=1),
    finish("stop", 0),
    finish("tool_calls", 1),
    usage(7, 4),
    done(),
]


def test_each_choice_is_its_own_message_and_choice_0_carries_the_others() -> None:
    msg = final_message(N2)
    (other,) = msg.alternatives
    assert (msg.choice, msg.text, msg.stop_reason) == (0, "Aa", "stop")
    assert (other.choice, other.text, other.stop_reason, [c.name for c in other.tool_calls]) == (
        1,
        "B",
        "tool_calls",
        ["get_weather"],
    )
    assert [(i.index, i.choice) for i in other.items] == [(0, 1), (1, 1)]
    assert (other.native_id, other.model) == (msg.native_id, msg.model)


def test_usage_belongs_to_the_response_and_sits_on_choice_0() -> None:
    msg = final_message(N2)
    assert msg.usage == {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11}
    assert msg.alternatives[0].usage == {}


def test_item_events_carry_their_choice() -> None:
    events = feed_one_reader(N2)
    assert [(e.choice, e.index) for e in events if isinstance(e, ItemStarted)] == [(0, 0), (1, 0), (1, 1)]
    assert [(e.choice, e.text) for e in events if isinstance(e, ItemDelta) and e.kind == "text"] == [
        (0, "A"),
        (1, "B"),
        (0, "a"),
    ]
    assert [e.item.choice for e in events if isinstance(e, ItemCompleted)] == [0, 1, 1]


def test_the_loop_goes_on_with_choice_0() -> None:
    assert OpenAIChatAdapter().next_step(final_message(N2)) == "stop"


def test_several_choices_in_one_chunk_are_applied_in_array_order() -> None:
    frames = [
        chunk(choice(0, content="x"), choice(1, content="y")),
        chunk(choice(0, "stop"), choice(1, "stop")),
        done(),
    ]
    msg = final_message(frames)
    assert (msg.text, msg.alternatives[0].text) == ("x", "y")


# -- the end of a stream ---------------------------------------------------------------------------


def test_a_capture_without_done_completes_when_every_choice_finished() -> None:
    msg = final_message([role(), text("x"), finish(), usage()])
    assert (msg.text, msg.usage["prompt_tokens"]) == ("x", 10)


@pytest.mark.parametrize("end", [[done()], []], ids=["done", "end-of-capture"])
def test_a_stream_without_finish_reason_completes_with_what_it_received(end: list[dict[str, Any]]) -> None:
    events = feed_one_reader([role(), text("Hel"), text("lo"), usage(), *end])
    assert violations(events) == []
    terminal = terminal_of(events)
    assert isinstance(terminal, ResponseCompleted)
    msg = terminal.message
    assert (msg.text, msg.stop_reason, msg.input_tokens) == ("Hello", None, 10)
    assert [i.complete for i in msg.items] == [True]
    assert OpenAIChatAdapter().next_step(msg) == "stop"


def test_without_finish_reason_the_items_complete_at_the_end_of_the_stream() -> None:
    events = feed_one_reader([role(), text("x"), done()])
    (completed,) = [e for e in events if isinstance(e, ItemCompleted)]
    assert completed.frame_index == 2
    assert isinstance(events[-1], ResponseCompleted) and events[-1].frame_index == 2


@pytest.mark.parametrize("arguments", ["{}", '{"city": "Paris"}'])
def test_tool_calls_streamed_whole_without_finish_reason_are_parsed_and_run(arguments: str) -> None:
    msg = final_message([role(content=None), *tool_call(0, arguments), done()])
    (call,) = msg.tool_calls
    assert (call.arguments, call.complete, msg.stop_reason) == (json.loads(arguments), True, None)
    assert OpenAIChatAdapter().next_step(msg) == "run_tools"


def test_a_tool_call_cut_inside_its_arguments_without_finish_reason_is_incomplete_and_not_run() -> None:
    msg = final_message([role(content=None), *tool_call(0, '{"city": "Paris", "days": [1, 2'), done()])
    (call,) = msg.tool_calls
    assert (call.arguments, call.complete) == ({"city": "Paris", "days": [1, 2]}, False)
    assert OpenAIChatAdapter().next_step(msg) == "stop"


def test_arguments_that_are_not_json_even_partially_fail_without_finish_reason_too() -> None:
    failed = failure([role(content=None), *tool_call(0, '{"a" 1}'), done()])
    assert failed.rule == "openai.chat.tool_arguments.invalid_json"
    assert "the stream ended without a finish_reason" in failed.message


def test_an_unfinished_choice_beside_a_finished_one_keeps_stop_reason_null() -> None:
    msg = final_message([role(0), role(1), text("a", 0), text("b", 1), finish("stop", 0), done()])
    assert (msg.stop_reason, msg.alternatives[0].stop_reason, msg.alternatives[0].text) == ("stop", None, "b")


def test_done_after_only_a_usage_chunk_completes_with_no_choice_as_the_sdk_does() -> None:
    msg = final_message([usage(), done()])
    assert (msg.items, msg.stop_reason, msg.usage["prompt_tokens"]) == ([], None, 10)


def test_chunk_ids_that_change_mid_stream_keep_the_first_id_and_the_whole_text() -> None:
    frames = [
        role(),
        sse({**text("Hel")["data"], "id": "chatcmpl-2"}),
        sse({**text("lo")["data"], "id": "chatcmpl-3"}),
        sse({**finish()["data"], "id": "chatcmpl-4"}),
        done(),
    ]
    events = feed_one_reader(frames)
    assert violations(events) == []
    msg = final_message(frames)
    assert (msg.native_id, msg.text, msg.stop_reason) == ("chatcmpl-1", "Hello", "stop")


def test_done_ends_the_response_at_that_frame() -> None:
    events = feed_one_reader(stream(text("x")), finish=False)
    assert isinstance(events[-1], ResponseCompleted) and events[-1].frame_index == 4


# -- errors -----------------------------------------------------------------------------------

OPENROUTER_ERROR = chunk(
    choice(role="assistant", content=""),
    chunk_id="chatcmpl-1",
    error={"code": 400, "message": "Token limit reached"},
    usage={"prompt_tokens": 43, "completion_tokens": 10},
)


def test_an_error_chunk_fails_the_response_with_the_provider_error() -> None:
    # As OpenRouter sends it: finish_reason length twice, then the error chunk (then [DONE], which the
    # core drains as a discarded frame).
    frames = [role(), chunk(choice(reasoning="We need")), finish("length"), finish("length"), OPENROUTER_ERROR]
    events = feed_one_reader(frames, finish=False)
    failed = events[-1]
    assert isinstance(failed, ResponseFailed)
    assert (failed.error_type, failed.message, failed.rule) == ("http_400", "Token limit reached", None)
    assert failed.provider_error == OPENROUTER_ERROR["data"]
    assert (failed.partial.reasoning, failed.partial.stop_reason) == ("We need", "length")
    assert violations(events) == []
    assert failed.frame_index == 4


GROQ_ERROR = {
    "error": {
        "message": "Tool call validation failed: parameters for tool get_something_by_name did not match schema",
        "type": "invalid_request_error",
        "code": "tool_use_failed",
        "failed_generation": '{"name": "get_something_by_name", "arguments": {\n  "invalid_param": "value"\n}}',
        "status_code": 400,
    }
}


def test_an_error_event_fails_the_response_with_the_provider_code() -> None:
    failed = failure([role(), chunk(choice(reasoning="We")), sse(GROQ_ERROR, "error")])
    assert (failed.error_type, failed.rule) == ("tool_use_failed", None)
    assert failed.message == GROQ_ERROR["error"]["message"]
    assert failed.provider_error == GROQ_ERROR


def test_a_groq_failed_generation_is_kept_as_a_finished_tool_call_of_the_partial_message() -> None:
    events = feed_one_reader([role(), chunk(choice(reasoning="We")), sse(GROQ_ERROR, "error")])
    failed = events[-1]
    assert isinstance(failed, ResponseFailed)
    reasoning, call = failed.partial.items
    assert (reasoning.kind, reasoning.complete) == ("reasoning", False)
    assert call.to_json() == {
        "index": 1,
        "kind": "tool_call",
        "block_type": "failed_generation",
        "native_id": None,
        "name": "get_something_by_name",
        "arguments": {"invalid_param": "value"},
        "complete": True,
    }
    assert call.arguments_json == '{"invalid_param":"value"}'
    assert [describe(e)[0] for e in events[-4:]] == ["ItemStarted", "ItemDelta", "ItemCompleted", "ResponseFailed"]


def test_an_error_before_any_chunk_fails_without_item_events() -> None:
    events = feed_one_reader([sse(GROQ_ERROR, "error")])
    assert [type(e).__name__ for e in events] == ["ResponseFailed"]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"message": "m", "type": "server_error", "code": None}, "server_error"),
        ({"message": "m", "type": "requests", "code": "rate_limit_exceeded"}, "rate_limit_exceeded"),
        ({"code": 400, "message": "Token limit reached"}, "http_400"),
        ({"message": "m"}, "error"),
        ("not an object", "error"),
    ],
    ids=["type", "string-code-wins", "integer-code", "neither", "not-an-object"],
)
def test_error_type_is_the_most_specific_identifier(error: Any, expected: str) -> None:
    assert error_type_of(error) == expected


def test_http_error_status_with_an_error_body_fails_with_its_code() -> None:
    body = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
    failed = failure([{"kind": "http.response", "status": 429, "headers": {}}, {"kind": "http.body", "body": body}])
    assert (failed.error_type, failed.message, failed.rule) == ("rate_limit_exceeded", "Rate limit reached", None)


def test_http_error_status_without_an_error_body_fails_with_the_status() -> None:
    frames = [{"kind": "http.response", "status": 502, "headers": {}}, {"kind": "http.body", "body": "Bad Gateway"}]
    failed = failure(frames)
    assert (failed.error_type, failed.message) == ("http_502", "HTTP 502")


def test_a_non_streamed_completion_gives_the_same_message_as_the_stream() -> None:
    streamed = stream(
        chunk(choice(reasoning_content="Hmm.")),
        text("Let me look."),
        tool_call(0, '{"city": "Paris"}', name="get_weather"),
        reason="tool_calls",
    )
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-test",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Let me look.",
                    "reasoning_content": "Hmm.",
                    "refusal": None,
                    "tool_calls": [
                        {
                            "id": "call_0",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }
    from_body = final_message(
        [{"kind": "http.response", "status": 200, "headers": {}}, {"kind": "http.body", "body": body}]
    )
    assert from_body.to_json() == final_message(streamed).to_json()


# -- provider extras ----------------------------------------------------------------------------


def test_azure_filter_annotations_and_obfuscation_change_nothing() -> None:
    filters = {"hate": {"filtered": False, "severity": "safe"}}
    prompt_filter = sse(
        {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": [{"prompt_index": 0}],
        }
    )
    plain = stream(text("Capital"), text(" of Denmark."))
    azure = [prompt_filter]
    for frame in plain:
        if frame["kind"] == "sse":
            data = copy.deepcopy(frame["data"])
            data["obfuscation"] = "x1y2"
            for c in data["choices"]:
                c["content_filter_results"] = filters
            frame = sse(data)
        azure.append(frame)
    events = feed_one_reader(azure)
    assert not [e for e in events if isinstance(e, (UnrecognizedFrame, ProtocolViolation))]
    assert final_message(azure).to_json() == final_message(plain).to_json()


def test_known_metadata_delta_fields_change_nothing_and_are_not_reported() -> None:
    frames = stream(chunk(choice(content="x", channel="analysis", reasoning_details=[{"index": 0, "text": "t"}])))
    assert final_message(frames).text == "x"
    assert not [e for e in feed_one_reader(frames) if isinstance(e, UnrecognizedFrame)]


def test_another_delta_field_is_accumulated_into_an_other_item_named_after_it() -> None:
    frames = stream(
        chunk(choice(content="x", audio={"id": "audio_1", "data": "Ukl", "transcript": "he"})),
        chunk(choice(audio={"data": "GR", "transcript": "llo"})),
    )
    events = feed_one_reader(frames)
    assert not [e for e in events if isinstance(e, (UnrecognizedFrame, ProtocolViolation))]
    msg = final_message(frames)
    assert msg.text == "x"
    assert msg.items[1].to_json() == {
        "index": 1,
        "kind": "other",
        "block_type": "audio",
        "block": {"type": "audio", "audio": {"id": "audio_1", "data": "UklGR", "transcript": "hello"}},
        "complete": True,
    }
    assert [e.data for e in events if isinstance(e, ItemDelta) and e.kind == "other"] == [
        {"audio": {"id": "audio_1", "data": "Ukl", "transcript": "he"}},
        {"audio": {"data": "GR", "transcript": "llo"}},
    ]


@pytest.mark.parametrize(
    ("fragments", "value"),
    [
        (["a", "b"], "ab"),
        ([1, 2], 3),
        ([[1], [2, 3]], [1, 2, 3]),
        ([{"n": "a", "k": [1]}, {"n": "b", "k": [2]}], {"n": "ab", "k": [1, 2]}),
        ([{"type": "x"}, {"type": "y"}], {"type": "y"}),
        (
            [[{"index": 0, "t": "a"}], [{"index": 0, "t": "b"}, {"index": 1, "t": "c"}]],
            [
                {"index": 0, "t": "ab"},
                {"index": 1, "t": "c"},
            ],
        ),
        ([[{"t": "a"}], [{"t": "b"}]], [{"t": "a"}, {"t": "b"}]),
        (["a", None, "b"], "ab"),
        (["a", {"x": 1}], "a"),
    ],
    ids=[
        "strings-concatenate",
        "numbers-add",
        "scalar-lists-extend",
        "objects-merge",
        "type-is-replaced",
        "indexed-lists-merge",
        "unindexed-lists-append",
        "null-adds-nothing",
        "another-type-keeps-the-first",
    ],
)
def test_another_delta_field_accumulates_as_the_sdk_s_accumulate_delta(fragments: list[Any], value: Any) -> None:
    frames = stream(*(chunk(choice(provider_extra=f)) for f in fragments))
    (item,) = final_message(frames).items
    assert (item.kind, item.block_type, item.block) == (
        "other",
        "provider_extra",
        {"type": "provider_extra", "provider_extra": value},
    )


def test_accumulating_another_delta_field_never_mutates_the_frames() -> None:
    frames = stream(chunk(choice(extra={"k": [1]})), chunk(choice(extra={"k": [2]})))
    before = copy.deepcopy(frames)
    final_message(frames)
    assert frames == before


def test_an_empty_other_delta_field_opens_no_item() -> None:
    assert final_message(stream(text("x"), chunk(choice(extra="")), chunk(choice(extra=[])))).items[1:] == []


def test_annotations_become_citations_of_the_content_item() -> None:
    first = {"type": "url_citation", "url_citation": {"url": "https://a.example", "start_index": 0, "end_index": 2}}
    second = {"type": "url_citation", "url_citation": {"url": "https://b.example", "start_index": 3, "end_index": 5}}
    frames = stream(text("ab cd"), chunk(choice(annotations=[first])), chunk(choice(annotations=[second])))
    events = feed_one_reader(frames)
    assert not [e for e in events if isinstance(e, (UnrecognizedFrame, ProtocolViolation))]
    (item,) = final_message(frames).items
    assert (item.text, item.citations) == ("ab cd", [first, second])
    assert [(e.kind, e.data) for e in events if isinstance(e, ItemDelta) and e.kind == "citation"] == [
        ("citation", first),
        ("citation", second),
    ]


def test_annotations_before_any_content_open_the_content_item() -> None:
    note = {"type": "url_citation", "url_citation": {"url": "u"}}
    msg = final_message(stream(chunk(choice(annotations=[note])), text("x")))
    assert [(i.block_type, i.text, i.citations) for i in msg.items] == [("content", "x", [note])]


def test_an_extra_delta_field_after_the_finish_is_carried_not_applied() -> None:
    late = chunk(choice(annotations=[{"type": "url_citation"}]))
    frames = [role(), text("x"), finish(), late, done()]
    events = feed_one_reader(frames)
    assert [(e.name, e.frame_index) for e in events if isinstance(e, UnrecognizedFrame)] == [
        ("chat.completion.chunk", 3)
    ]
    assert violations(events) == []
    assert final_message(frames).items[0].citations == []


def test_an_unknown_sse_event_is_carried_as_an_unrecognized_frame() -> None:
    odd = sse({"type": "keepalive"}, "keepalive")
    events = feed_one_reader([*stream(text("x"))[:2], odd, *stream(text("x"))[2:]])
    (unrecognized,) = [e for e in events if isinstance(e, UnrecognizedFrame)]
    assert (unrecognized.name, unrecognized.frame_index) == ("keepalive", 2)


def test_a_chunk_of_another_object_type_is_carried_as_an_unrecognized_frame() -> None:
    other = sse({"object": "thread.message.delta", "choices": []})
    events = feed_one_reader([role(), other, finish(), done()])
    assert [e.name for e in events if isinstance(e, UnrecognizedFrame)] == ["thread.message.delta"]


def test_a_delta_field_of_an_unknown_shape_is_carried_and_not_applied() -> None:
    frames = stream(chunk(choice(content=[{"type": "text", "text": "x"}])), text("y"))
    events = feed_one_reader(frames)
    assert [e.name for e in events if isinstance(e, UnrecognizedFrame)] == ["chat.completion.chunk"]
    assert final_message(frames).text == "y"


def test_an_unknown_frame_kind_is_carried_as_an_unrecognized_frame() -> None:
    events = feed_one_reader([{"kind": "websocket", "data": 1}, *stream(text("hi"))])
    assert [e.name for e in events if isinstance(e, UnrecognizedFrame)] == ["websocket"]


# -- protocol rules ---------------------------------------------------------------------------

# rule id -> (frames fed to one reader, fatal)
RULE_CASES: dict[str, tuple[list[dict[str, Any]], bool]] = {
    "openai.chat.stream.empty": ([], True),
    "openai.chat.choice.index": ([role(0), text("x", 2), finish(), done()], True),
    "openai.chat.choice.after_finish": ([role(), text("x"), finish(), text("late"), done()], True),
    "openai.chat.tool_call.index": ([role(), tool_start(1), finish("tool_calls"), done()], True),
    "openai.chat.tool_call.unknown_index": ([role(), tool_args(0, "{}"), finish("tool_calls"), done()], True),
    "openai.chat.tool_arguments.invalid_json": (
        [role(), *tool_call(0, '{"a": 1,'), finish("tool_calls"), done()],
        True,
    ),
    "openai.chat.frame.unexpected": ([*stream(text("x")), text("after")], False),
    "openai.chat.frame.shape": ([role(), chunk({"index": 0, "delta": [{"content": "x"}]}), finish(), done()], True),
}

# Rules in RULES that never appear as a ProtocolViolation, and why.
# (A provider error is the provider speaking, not a broken protocol, so it is not a rule at all.)
NOT_REPORTED_AS_VIOLATIONS: set[str] = set()


def test_every_rule_has_a_case_here() -> None:
    assert set(RULE_CASES) | NOT_REPORTED_AS_VIOLATIONS == set(RULES)


@pytest.mark.parametrize("rule", sorted(RULE_CASES))
def test_rule_is_reported_with_its_id(rule: str) -> None:
    frames, fatal = RULE_CASES[rule]
    events = feed_one_reader(frames)
    found = violations(events)
    assert found, events
    assert (found[0].rule, found[0].fatal) == (rule, fatal)
    terminal = [e for e in events if isinstance(e, (ResponseCompleted, ResponseFailed))]
    assert len(terminal) == 1
    if fatal:
        assert isinstance(terminal[0], ResponseFailed)
        assert (terminal[0].error_type, terminal[0].rule) == ("protocol_violation", rule)
    else:
        assert isinstance(terminal[0], ResponseCompleted)


@pytest.mark.parametrize(
    "frames",
    [[done()], [{"kind": "http.response", "status": 200, "headers": {}}, done()]],
    ids=["done-only", "head-then-done"],
)
def test_done_before_any_chunk_is_an_empty_stream(frames: list[dict[str, Any]]) -> None:
    assert failure(frames).rule == "openai.chat.stream.empty"


def test_a_repeated_finish_with_an_empty_delta_is_tolerated() -> None:
    # OpenRouter repeats finish_reason length with role/content "" and reasoning null.
    again = chunk(choice(finish_reason="length", role="assistant", content="", reasoning=None, reasoning_details=[]))
    events = feed_one_reader([role(), text("x"), finish("length"), again, done()])
    assert violations(events) == []


def test_a_different_finish_after_finish_is_a_violation() -> None:
    assert (
        failure([role(), text("x"), finish("stop"), finish("length"), done()]).rule == "openai.chat.choice.after_finish"
    )


def test_done_after_a_provider_error_is_the_failed_stream_s_terminator() -> None:
    events = feed_one_reader([role(), text("x"), OPENROUTER_ERROR, done()])
    assert violations(events) == []
    assert isinstance(events[-1], ResponseFailed)


def test_a_chunk_after_a_provider_error_is_unexpected() -> None:
    events = feed_one_reader([role(), OPENROUTER_ERROR, text("late")])
    assert [(v.rule, v.fatal) for v in violations(events)] == [("openai.chat.frame.unexpected", False)]


def test_nothing_after_a_failure_is_applied() -> None:
    events = feed_one_reader([role(), text("x", 3), text("ignored"), finish(), done()])
    failed = next(e for e in events if isinstance(e, ResponseFailed))
    assert failed.partial.items == []
    assert all(v.rule == "openai.chat.frame.unexpected" for v in violations(events)[1:])


def test_finish_after_completion_adds_nothing() -> None:
    reader = OpenAIChatResponseReader()
    for index, frame in enumerate(stream(text("x"))):
        reader.feed(frame, index)
    assert reader.done
    assert reader.finish(99) == []


# -- adapt_frames -----------------------------------------------------------------------------


def test_adapt_frames_splits_back_to_back_responses_at_done() -> None:
    events = adapt_frames([*stream(text("one")), *stream(text("two"))])
    completed = [e for e in events if isinstance(e, ResponseCompleted)]
    assert [c.message.text for c in completed] == ["one", "two"]
    assert violations(events) == []


def test_adapt_frames_keeps_the_done_after_an_error_with_the_failed_response() -> None:
    events = adapt_frames([role(), OPENROUTER_ERROR, done(), *stream(text("next"))])
    terminals = [e for e in events if isinstance(e, (ResponseCompleted, ResponseFailed))]
    assert [type(t).__name__ for t in terminals] == ["ResponseFailed", "ResponseCompleted"]
    assert violations(events) == []


def test_adapt_frames_is_pure() -> None:
    frames = stream(
        chunk(choice(reasoning="t")), text("a"), text("b"), tool_call(0, "", '{"x": [1, ', "2]}"), reason="tool_calls"
    )
    before = copy.deepcopy(frames)
    first, second = adapt_frames(frames), adapt_frames(frames)
    assert [describe(e) for e in first] == [describe(e) for e in second]
    assert frames == before


# -- build_request ----------------------------------------------------------------------------


def _call(index: int, native_id: str | None, name: str, arguments: Any, raw: str = "", **extra: Any) -> ContentItem:
    return ContentItem(
        index,
        "tool_call",
        extra.pop("block_type", "function"),
        native_id=native_id,
        name=name,
        arguments=arguments,
        arguments_json=raw,
        complete=True,
        **extra,
    )


def test_build_request_renders_the_frame_from_the_template() -> None:
    template = RequestTemplate(
        path="/v1/chat/completions",
        headers={"content-type": "application/json"},
        params={"model": "gpt-test", "stream": True},
    )
    frame = OpenAIChatAdapter().build_request(template, [UserTurn(text="Hi")])
    assert frame == {
        "kind": "http.request",
        "method": "POST",
        "path": "/v1/chat/completions",
        "query": {},
        "headers": {"content-type": "application/json"},
        "body": {"model": "gpt-test", "stream": True, "messages": [{"role": "user", "content": "Hi"}]},
    }


def test_build_request_sends_template_messages_first() -> None:
    system = {"role": "system", "content": "Be concise."}
    template = RequestTemplate(params={"model": "m", "messages": [system]})
    frame = OpenAIChatAdapter().build_request(template, [UserTurn(text="Hi")])
    assert frame["body"]["messages"] == [system, {"role": "user", "content": "Hi"}]


def test_build_request_sends_verbatim_user_content_unchanged() -> None:
    parts = [{"type": "text", "text": "Hi"}, {"type": "image_url", "image_url": {"url": "https://x.example/a.png"}}]
    frame = OpenAIChatAdapter().build_request(RequestTemplate(), [UserTurn(text="Hi", content=parts)])
    assert frame["body"]["messages"] == [{"role": "user", "content": parts}]


def test_build_request_renders_an_assistant_turn_with_tool_calls_and_content_null() -> None:
    message = AssistantMessage(
        items=[_call(0, "call_a", "f", {"x": 1}, '{"x": 1}'), _call(1, "call_b", "g", {})], stop_reason="tool_calls"
    )
    frame = OpenAIChatAdapter().build_request(RequestTemplate(), [AssistantTurn(message)])
    assert frame["body"]["messages"] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
                {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}},
            ],
        }
    ]


def test_build_request_sends_reasoning_back_in_think_tags_before_the_text() -> None:
    message = AssistantMessage(
        items=[
            ContentItem(0, "reasoning", "reasoning", text="Hmm."),
            ContentItem(1, "text", "content", text="Answer."),
            ContentItem(2, "text", "refusal", text="No."),
        ]
    )
    (rendered,) = OpenAIChatAdapter().build_request(RequestTemplate(), [AssistantTurn(message)])["body"]["messages"]
    assert rendered == {"role": "assistant", "content": "<think>\nHmm.\n</think>\n\nAnswer.", "refusal": "No."}


def test_build_request_joins_adjacent_text_items_as_the_message_text_does() -> None:
    # Messages translated from protocols with several text blocks: the text is one part, exactly
    # AssistantMessage.text, so a translated stream (which carries that text) reads back the same.
    message = AssistantMessage(
        items=[
            ContentItem(0, "text", "text", text="One."),
            ContentItem(1, "text", "text", text="Two."),
            ContentItem(2, "reasoning", "thinking", text="Hmm."),
            ContentItem(3, "text", "text", text="Three."),
        ]
    )
    (rendered,) = OpenAIChatAdapter().build_request(RequestTemplate(), [AssistantTurn(message)])["body"]["messages"]
    assert rendered["content"] == "One.Two.\n\n<think>\nHmm.\n</think>\n\nThree."


def test_build_request_sends_only_choice_0_back() -> None:
    other = AssistantMessage(items=[ContentItem(0, "text", "content", text="B", choice=1)], choice=1)
    message = AssistantMessage(items=[ContentItem(0, "text", "content", text="A")], alternatives=[other])
    (rendered,) = OpenAIChatAdapter().build_request(RequestTemplate(), [AssistantTurn(message)])["body"]["messages"]
    assert rendered == {"role": "assistant", "content": "A"}


@pytest.mark.parametrize(
    ("result", "content"),
    [
        pytest.param(ToolResult("call_1", "f", "succeeded", output="sunny"), "sunny", id="succeeded-string"),
        pytest.param(ToolResult("call_1", "f", "succeeded", output={"temp": 21}), '{"temp":21}', id="succeeded-json"),
        pytest.param(
            ToolResult("call_1", "f", "succeeded", output=[{"type": "text", "text": "raw"}]),
            [{"type": "text", "text": "raw"}],
            id="succeeded-content-parts",
        ),
        pytest.param(ToolResult("call_1", "f", "failed", error="no such city"), "no such city", id="failed"),
    ],
)
def test_build_request_renders_each_tool_result_as_a_tool_message(result: ToolResult, content: Any) -> None:
    frame = OpenAIChatAdapter().build_request(RequestTemplate(), [ToolResultsTurn((result,))])
    assert frame["body"]["messages"] == [{"role": "tool", "tool_call_id": "call_1", "content": content}]


def test_a_call_without_provider_id_is_sent_back_with_one_placeholder_id_on_both_sides() -> None:
    message = AssistantMessage(items=[_call(1, None, "f", {"a": 1}, block_type="failed_generation")])
    conversation = [AssistantTurn(message), ToolResultsTurn((ToolResult(None, "f", "succeeded", output="bad args"),))]
    assistant, tool = OpenAIChatAdapter().build_request(RequestTemplate(), conversation)["body"]["messages"]
    assert assistant["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    ]
    assert tool == {"role": "tool", "tool_call_id": "call_1", "content": "bad args"}


def test_a_legacy_function_call_is_sent_back_with_a_function_message() -> None:
    message = AssistantMessage(items=[_call(0, None, "f", {}, "{}", block_type="function_call")])
    conversation = [AssistantTurn(message), ToolResultsTurn((ToolResult(None, "f", "succeeded", output="ok"),))]
    assistant, result = OpenAIChatAdapter().build_request(RequestTemplate(), conversation)["body"]["messages"]
    assert assistant == {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}}
    assert result == {"role": "function", "name": "f", "content": "ok"}


# -- the recorded follow-up requests ----------------------------------------------------------------


def recorded_exchanges(path: Path) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each recorded request with the inbound frames that answered it."""
    out: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for entry in read_transcript(path).entries:
        if isinstance(entry, ExpectOutbound):
            out.append((entry.frame, []))
        else:
            out[-1][1].append(entry.frame)  # type: ignore[union-attr]
    return out


def conversation_before(path: Path, request: int) -> tuple[RequestTemplate, list[Any]]:
    """The conversation the recorded client had built when it sent request ``request`` (0-based):
    our reading of each earlier response plus the recorded tool outcomes."""
    adapter = OpenAIChatAdapter()
    exchanges = recorded_exchanges(path)
    template, user = adapter.split_request(exchanges[0][0])
    conversation: list[Any] = [user]
    for position, (_, frames) in enumerate(exchanges[:request]):
        terminal = feed_one_reader(frames)[-1]
        message = terminal.message if isinstance(terminal, ResponseCompleted) else terminal.partial  # type: ignore[union-attr]
        conversation.append(AssistantTurn(message))
        next_request = exchanges[position + 1][0]
        results = [adapter.recorded_tool_result(next_request, c) for c in message.tool_calls if c.complete]
        assert all(results)
        conversation.append(ToolResultsTurn(tuple(r for r in results if r is not None)))
    return template, conversation


def test_build_request_reproduces_the_recorded_tool_loop_follow_up() -> None:
    path = CASSETTES / "openai-chat__tool_call_then_text_usage_chunk.ndjson"
    template, conversation = conversation_before(path, 1)
    assert OpenAIChatAdapter().build_request(template, conversation) == recorded_exchanges(path)[1][0]


@pytest.mark.parametrize("request_number", [1, 2])
def test_build_request_reproduces_the_groq_follow_ups_but_the_client_invented_ids(request_number: int) -> None:
    # The recorded client gave the failed generation its own random id (pyd_ai_<hex>); everything
    # else, the <think> echo of the reasoning included, is what we send.
    path = CASSETTES / "chat-compat-groq__midstream_event_error_then_retry.ndjson"
    template, conversation = conversation_before(path, request_number)
    ours = OpenAIChatAdapter().build_request(template, conversation)
    recorded = copy.deepcopy(recorded_exchanges(path)[request_number][0])
    invented = recorded["body"]["messages"][2]["tool_calls"][0]["id"]
    assert invented.startswith("pyd_ai_")
    assert recorded["body"]["messages"][3]["tool_call_id"] == invented
    recorded["body"]["messages"][2]["tool_calls"][0]["id"] = recorded["body"]["messages"][3]["tool_call_id"] = "call_1"
    assert ours == recorded


def test_the_recorded_parallel_loop_differs_only_in_content_key_presence() -> None:
    # Recorded with an older pydantic-ai that left out `content` on tool-call-only assistant turns;
    # the newer recording (and the API's own response message) has `content: null`, which we send.
    path = CASSETTES / "openai-chat__parallel_tool_calls_multiturn.ndjson"
    template, conversation = conversation_before(path, 2)
    ours = OpenAIChatAdapter().build_request(template, conversation)
    for index in (1, 4):
        assert ours["body"]["messages"][index].pop("content") is None
    assert ours == recorded_exchanges(path)[2][0]


# -- split_request and recorded_tool_result ----------------------------------------------------------


def _request(*messages: dict[str, Any]) -> dict[str, Any]:
    body = {"model": "m", "stream": True, "messages": list(messages)}
    return {
        "kind": "http.request",
        "method": "POST",
        "path": "/v1/chat/completions",
        "query": {},
        "headers": {},
        "body": body,
    }


def test_split_request_takes_the_user_message_and_keeps_the_rest_as_template() -> None:
    template, user = OpenAIChatAdapter().split_request(_request({"role": "user", "content": "Hi"}))
    assert (template.path, template.params) == ("/v1/chat/completions", {"model": "m", "stream": True})
    assert (user.text, user.content) == ("Hi", None)


def test_split_request_keeps_leading_system_messages_in_the_template() -> None:
    system = {"role": "system", "content": "Be concise."}
    template, user = OpenAIChatAdapter().split_request(_request(system, {"role": "user", "content": "Hi"}))
    assert template.params["messages"] == [system]
    assert OpenAIChatAdapter().build_request(template, [user]) == _request(system, {"role": "user", "content": "Hi"})


def test_split_request_keeps_content_parts_verbatim() -> None:
    parts = [{"type": "text", "text": "Look: "}, {"type": "image_url", "image_url": {"url": "u"}}]
    _, user = OpenAIChatAdapter().split_request(_request({"role": "user", "content": parts}))
    assert (user.text, user.content) == ("Look: ", parts)


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}],
        [{"role": "user", "content": "a", "name": "bob"}],
    ],
    ids=["no-messages", "a-conversation", "extra-user-keys"],
)
def test_split_request_refuses_anything_but_one_user_turn(messages: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError, match="not system/developer messages followed by one user message"):
        OpenAIChatAdapter().split_request(_request(*messages))


def test_recorded_tool_result_is_the_tool_message_with_the_call_id() -> None:
    frame = _request(
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "London"},
    )
    found = OpenAIChatAdapter().recorded_tool_result(frame, _call(0, "call_1", "f", {}))
    assert found == ToolResult("call_1", "f", "succeeded", output="London", verbatim=True)
    assert OpenAIChatAdapter().recorded_tool_result(frame, _call(0, "call_2", "f", {})) is None


def test_recorded_tool_result_finds_a_call_without_id_by_name_and_arguments() -> None:
    frame = _request(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "pyd_ai_1", "type": "function", "function": {"name": "f", "arguments": '{"a":2}'}},
                {"id": "pyd_ai_2", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "pyd_ai_1", "content": "two"},
        {"role": "tool", "tool_call_id": "pyd_ai_2", "content": "one"},
    )
    found = OpenAIChatAdapter().recorded_tool_result(frame, _call(1, None, "f", {"a": 1}))
    assert found is not None and found.output == "one"


# -- translation into openai.chat ----------------------------------------------------------------------


def test_an_anthropic_tool_loop_translated_into_openai_chat_replays_to_the_same_conversation(tmp_path: Path) -> None:
    source = ROOT / "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"
    out = tmp_path / "t.ndjson"
    translate_transcript(source, out, protocol="openai.chat")
    original, translated = replay_summary(replay_transcript(source)), replay_transcript(out)
    assert translated.driver.failure is None and translated.driver.remaining == 0
    summary = replay_summary(translated)
    assert summary["status"] == "completed"

    def portable(s: dict[str, Any]) -> list[Any]:
        return [(m["text"], [(c["name"], c["arguments"]) for c in m["tool_calls"]]) for m in s["messages"]]

    assert portable(summary) == portable(original)


def test_an_azure_annotation_chunk_with_content_is_kept_in_the_log_but_not_applied() -> None:
    annotation = sse(
        {
            "id": "",
            "object": "",
            "created": 0,
            "model": "",
            "choices": [{"index": 0, "delta": {"content": "late"}, "content_filter_results": {}}],
        }
    )
    frames = stream(text("x"), annotation)
    (unrecognized,) = [e for e in feed_one_reader(frames) if isinstance(e, UnrecognizedFrame)]
    assert unrecognized.name == "azure.annotation"
    assert final_message(frames).text == "x"


def test_a_streamed_refusal_is_sent_back_as_the_refusal_with_content_null() -> None:
    (rendered,) = OpenAIChatAdapter().build_request(RequestTemplate(), [AssistantTurn(final_message(REFUSAL))])["body"][
        "messages"
    ]
    assert rendered == {"role": "assistant", "content": None, "refusal": "I'm sorry, no."}
