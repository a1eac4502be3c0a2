"""The Anthropic Messages adapter on small synthetic frame lists: one behaviour per test.

Frames are written the way the transcript stores them (``{"kind": "sse", "event": ..., "data":
...}``); the builders below keep each test down to the frames that matter for it.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.adapters.anthropic import RULES, AnthropicMessagesAdapter, AnthropicResponseReader, adapt_frames
from harness.adapters.base import (
    AssistantMessage,
    AssistantTurn,
    ContentItem,
    ItemCompleted,
    ItemDelta,
    ProviderEvent,
    RequestTemplate,
    ResponseCompleted,
    ResponseFailed,
    ToolResult,
    ToolResultsTurn,
    UnrecognizedFrame,
    UserTurn,
)
from harness.testing import describe_event, protocol_violations, read_response, terminal_of

# -- frame builders ---------------------------------------------------------------------------


def sse(event: str, **data: Any) -> dict[str, Any]:
    """One SSE frame whose event name equals ``data.type``, as Anthropic sends them."""
    return {"kind": "sse", "event": event, "data": {"type": event, **data}}


def message_start(message_id: str = "msg_1", **usage: int) -> dict[str, Any]:
    return sse(
        "message_start",
        message={
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage or {"input_tokens": 10, "output_tokens": 1},
        },
    )


def block_start(index: int, **block: Any) -> dict[str, Any]:
    return sse("content_block_start", index=index, content_block=block)


def text_start(index: int) -> dict[str, Any]:
    return block_start(index, type="text", text="")


def tool_start(index: int, name: str = "get_weather", block_type: str = "tool_use", **extra: Any) -> dict[str, Any]:
    return block_start(index, type=block_type, id=f"toolu_{index}", name=name, input={}, **extra)


def block_delta(index: int, **delta: Any) -> dict[str, Any]:
    return sse("content_block_delta", index=index, delta=delta)


def text_delta(index: int, text: str) -> dict[str, Any]:
    return block_delta(index, type="text_delta", text=text)


def json_delta(index: int, partial_json: str) -> dict[str, Any]:
    return block_delta(index, type="input_json_delta", partial_json=partial_json)


def block_stop(index: int) -> dict[str, Any]:
    return sse("content_block_stop", index=index)


def message_delta(
    stop_reason: str | None = "end_turn", usage: dict[str, Any] | None = None, **delta: Any
) -> dict[str, Any]:
    return sse(
        "message_delta",
        delta={"stop_reason": stop_reason, "stop_sequence": None, **delta},
        usage=usage if usage is not None else {"output_tokens": 5},
    )


def message_stop() -> dict[str, Any]:
    return sse("message_stop")


def ping() -> dict[str, Any]:
    return {"kind": "sse", "event": "ping", "data": {"type": "ping"}}


def message(*blocks: list[dict[str, Any]], stop_reason: str = "end_turn", **delta: Any) -> list[dict[str, Any]]:
    """A complete message: message_start, the given block frame lists, message_delta, message_stop."""
    frames = [message_start()]
    for block in blocks:
        frames.extend(block)
    return [*frames, message_delta(stop_reason, **delta), message_stop()]


def text_block(index: int, *chunks: str) -> list[dict[str, Any]]:
    return [text_start(index), *(text_delta(index, c) for c in chunks), block_stop(index)]


def tool_block(
    index: int, *fragments: str, name: str = "get_weather", block_type: str = "tool_use"
) -> list[dict[str, Any]]:
    return [tool_start(index, name, block_type), *(json_delta(index, f) for f in fragments), block_stop(index)]


# -- running the adapter ------------------------------------------------------------------------


def feed_one_reader(frames: list[Any], *, finish: bool = True) -> list[ProviderEvent]:
    """Every event one reader produces for ``frames`` (no splitting into responses), then finish."""
    return read_response(AnthropicResponseReader(), frames, finish=finish)


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


def test_text_deltas_concatenate_into_one_text_item() -> None:
    msg = final_message(message(text_block(0, "Hello", " there", "!")))
    assert msg.text == "Hello there!"
    assert [i.to_json() for i in msg.items] == [
        {"index": 0, "kind": "text", "block_type": "text", "text": "Hello there!", "complete": True}
    ]
    assert (msg.native_id, msg.model, msg.stop_reason) == ("msg_1", "claude-test", "end_turn")


def test_text_deltas_are_reported_as_they_arrive() -> None:
    events = feed_one_reader(message(text_block(0, "Hel", "lo")))
    assert [(e.index, e.kind, e.text) for e in events if isinstance(e, ItemDelta)] == [
        (0, "text", "Hel"),
        (0, "text", "lo"),
    ]


PLAIN = message(text_block(0, "a", "b"), tool_block(1, '{"x":', " 1}"), stop_reason="tool_use")


@pytest.mark.parametrize("position", range(len(PLAIN)), ids=[f"before-frame-{i}" for i in range(len(PLAIN))])
def test_ping_anywhere_changes_nothing(position: int) -> None:
    # Positions cover before message_start, inside an open block, between blocks and before message_stop.
    with_ping = [*PLAIN[:position], ping(), *PLAIN[position:]]
    assert [describe(e) for e in feed_one_reader(with_ping)] == [describe(e) for e in feed_one_reader(PLAIN)]


TOOL_JSON = r'{"city": "Caf\u00e9", "days": [1, 2.5], "ok": true}'
TOOL_ARGUMENTS = {"city": "Café", "days": [1, 2.5], "ok": True}


@pytest.mark.parametrize("split", range(len(TOOL_JSON) + 1))
def test_input_json_split_at_any_position_gives_the_same_arguments(split: int) -> None:
    # The first fragment is empty, as the API sends it; some splits fall inside the \u00e9 escape.
    item = only_item(message(tool_block(0, "", TOOL_JSON[:split], TOOL_JSON[split:]), stop_reason="tool_use"))
    assert item.arguments == TOOL_ARGUMENTS
    assert item.arguments_json == TOOL_JSON
    assert item.complete is True


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(TOOL_JSON)), max_size=8))
def test_input_json_in_any_number_of_fragments_gives_the_same_arguments(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(TOOL_JSON)]
    fragments = [TOOL_JSON[a:b] for a, b in itertools.pairwise(points)]
    item = only_item(message(tool_block(0, *fragments), stop_reason="tool_use"))
    assert item.arguments == TOOL_ARGUMENTS


def test_tool_with_only_an_empty_fragment_has_empty_arguments() -> None:
    item = only_item(message(tool_block(0, ""), stop_reason="tool_use"))
    assert item.arguments == {}
    assert item.complete is True


def test_tool_use_is_a_client_tool_call() -> None:
    msg = final_message(message(tool_block(0, '{"q": 1}', name="lookup"), stop_reason="tool_use"))
    (call,) = msg.tool_calls
    assert (call.kind, call.native_id, call.name, call.arguments) == ("tool_call", "toolu_0", "lookup", {"q": 1})


def test_thinking_deltas_and_signature_delta_make_one_reasoning_item() -> None:
    frames = message(
        [
            block_start(0, type="thinking", thinking="", signature=""),
            block_delta(0, type="thinking_delta", thinking="Let me "),
            block_delta(0, type="thinking_delta", thinking="think."),
            block_delta(0, type="signature_delta", signature="sig-abc"),
            block_stop(0),
        ],
        text_block(1, "Answer"),
    )
    msg = final_message(frames)
    assert msg.reasoning == "Let me think."
    assert msg.items[0].to_json() == {
        "index": 0,
        "kind": "reasoning",
        "block_type": "thinking",
        "text": "Let me think.",
        "signature": "sig-abc",
        "complete": True,
    }
    assert msg.text == "Answer"


def test_redacted_thinking_is_carried_with_its_data() -> None:
    item = only_item(message([block_start(0, type="redacted_thinking", data="EqkECkYIBxgC"), block_stop(0)]))
    assert item.kind == "redacted_reasoning"
    assert item.block == {"type": "redacted_thinking", "data": "EqkECkYIBxgC"}
    assert item.to_json()["block"] == {"type": "redacted_thinking", "data": "EqkECkYIBxgC"}
    assert item.complete is True


SEARCH_RESULT = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": [{"type": "web_search_result", "title": "T", "url": "https://example.com", "encrypted_content": "Et"}],
}


def test_server_tool_use_and_its_result_are_kept_and_not_run_by_the_client() -> None:
    frames = message(
        [
            block_start(0, type="server_tool_use", id="srvtoolu_1", name="web_search", input={}),
            json_delta(0, '{"query": "news"}'),
            block_stop(0),
        ],
        [block_start(1, **SEARCH_RESULT), block_stop(1)],
    )
    msg = final_message(frames)
    server_call, result = msg.items
    assert (server_call.kind, server_call.name, server_call.arguments) == (
        "server_tool_call",
        "web_search",
        {"query": "news"},
    )
    assert result.kind == "server_tool_result"
    assert result.block == SEARCH_RESULT
    assert msg.tool_calls == []


def test_citations_deltas_are_collected_on_their_text_item() -> None:
    first = {"type": "web_search_result_location", "cited_text": "a", "url": "https://a.example", "title": "A"}
    second = {"type": "web_search_result_location", "cited_text": "b", "url": "https://b.example", "title": "B"}
    frames = message(
        [
            text_start(0),
            block_delta(0, type="citations_delta", citation=first),
            block_delta(0, type="citations_delta", citation=second),
            text_delta(0, "cited"),
            block_stop(0),
        ]
    )
    item = only_item(frames)
    assert item.citations == [first, second]
    assert item.to_json()["citations"] == [first, second]
    assert item.text == "cited"


def test_mcp_tool_use_is_a_server_tool_call_with_its_server_name() -> None:
    frames = message(
        [
            block_start(0, type="mcp_tool_use", id="mcptoolu_1", name="ask_question", input={}, server_name="deepwiki"),
            json_delta(0, ""),
            json_delta(0, '{"repoName": "a/b"}'),
            block_stop(0),
        ]
    )
    msg = final_message(frames)
    (item,) = msg.items
    assert (item.kind, item.block_type, item.name, item.arguments) == (
        "server_tool_call",
        "mcp_tool_use",
        "ask_question",
        {"repoName": "a/b"},
    )
    assert item.block["server_name"] == "deepwiki"
    assert msg.tool_calls == []


def test_compaction_delta_sets_the_content_of_its_compaction_block() -> None:
    frames = message(
        [
            block_start(0, type="compaction", content=None, encrypted_content=None),
            block_delta(0, type="compaction_delta", content="Summary.", encrypted_content="Ep"),
            block_stop(0),
        ]
    )
    item = only_item(frames)
    assert item.kind == "other"
    assert item.block == {"type": "compaction", "content": "Summary.", "encrypted_content": "Ep"}


def test_unknown_block_type_is_carried_as_other() -> None:
    item = only_item(message([block_start(0, type="container_upload", file_id="f1"), block_stop(0)]))
    assert (item.kind, item.block) == ("other", {"type": "container_upload", "file_id": "f1"})


# -- stop reasons -----------------------------------------------------------------------------


def test_end_turn() -> None:
    msg = final_message(message(text_block(0, "done")))
    assert (msg.stop_reason, msg.stop_sequence) == ("end_turn", None)


def test_tool_use_stop_reason() -> None:
    msg = final_message(message(tool_block(0, "{}"), stop_reason="tool_use"))
    assert msg.stop_reason == "tool_use"
    assert len(msg.tool_calls) == 1


def test_stop_sequence_carries_the_sequence() -> None:
    msg = final_message(message(text_block(0, "one two"), stop_reason="stop_sequence", stop_sequence="three"))
    assert (msg.stop_reason, msg.stop_sequence) == ("stop_sequence", "three")


def test_max_tokens_keeps_an_unclosed_tool_block_with_partial_arguments() -> None:
    frames = [
        message_start(),
        tool_start(0),
        json_delta(0, ""),
        json_delta(0, '{"city": "Paris", "days": [1, 2'),
        message_delta("max_tokens"),
        message_stop(),
    ]
    msg = final_message(frames)
    (item,) = msg.items
    assert item.arguments == {"city": "Paris", "days": [1, 2]}
    assert item.arguments_json == '{"city": "Paris", "days": [1, 2'
    assert item.complete is False
    assert msg.stop_reason == "max_tokens"


def test_max_tokens_with_tool_input_that_is_not_even_partial_json_fails_with_a_rule() -> None:
    frames = [message_start(), tool_start(0), json_delta(0, "xyz"), message_delta("max_tokens"), message_stop()]
    failed = failure(frames)
    assert failed.rule == "anthropic.tool_input.invalid_json"


def test_refusal_with_no_blocks() -> None:
    details = {"type": "refusal", "category": "cyber", "explanation": "no"}
    msg = final_message(message(stop_reason="refusal", stop_details=details))
    assert msg.items == []
    assert msg.stop_reason == "refusal"
    assert msg.stop_details == details


def test_pause_turn_asks_the_loop_to_continue() -> None:
    adapter = AnthropicMessagesAdapter()
    assert adapter.next_step(final_message(message(text_block(0, "..."), stop_reason="pause_turn"))) == "continue"
    assert adapter.next_step(final_message(message(text_block(0, "done")))) == "stop"


# -- usage ------------------------------------------------------------------------------------


def test_message_delta_usage_overwrites_and_keeps_absent_values() -> None:
    frames = [
        message_start(input_tokens=43, cache_read_input_tokens=7, output_tokens=1),
        *text_block(0, "pong"),
        message_delta("end_turn", usage={"input_tokens": 61, "output_tokens": 2}),
        message_stop(),
    ]
    assert final_message(frames).usage == {"input_tokens": 61, "cache_read_input_tokens": 7, "output_tokens": 2}


# -- errors -----------------------------------------------------------------------------------


def test_error_event_fails_the_response_with_the_provider_error() -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    frames = [message_start(), text_start(0), text_delta(0, "Hel"), {"kind": "sse", "event": "error", "data": error}]
    events = feed_one_reader(frames)
    failed = events[-1]
    assert isinstance(failed, ResponseFailed)
    assert (failed.error_type, failed.message, failed.rule) == ("overloaded_error", "Overloaded", None)
    assert failed.provider_error == error
    assert failed.partial.text == "Hel"
    assert violations(events) == []


def test_unknown_event_name_is_carried_as_an_unrecognized_frame() -> None:
    odd = {"kind": "sse", "event": "content_block_teleport", "data": {"type": "content_block_teleport", "index": 0}}
    frames = message(text_block(0, "hi"))
    events = feed_one_reader([*frames[:2], odd, *frames[2:]])
    (unrecognized,) = [e for e in events if isinstance(e, UnrecognizedFrame)]
    assert (unrecognized.name, unrecognized.frame_index) == ("content_block_teleport", 2)
    assert final_message([*frames[:2], odd, *frames[2:]]).to_json() == final_message(frames).to_json()


def test_unknown_frame_kind_is_carried_as_an_unrecognized_frame() -> None:
    events = feed_one_reader([{"kind": "websocket", "data": 1}, *message(text_block(0, "hi"))])
    assert [e.name for e in events if isinstance(e, UnrecognizedFrame)] == ["websocket"]


def test_http_error_status_with_error_body_fails_with_the_provider_error_type() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    frames = [{"kind": "http.response", "status": 529, "headers": {}}, {"kind": "http.body", "body": body}]
    failed = failure(frames)
    assert (failed.error_type, failed.message, failed.rule) == ("overloaded_error", "Overloaded", None)
    assert failed.provider_error == body


def test_http_error_status_without_an_error_body_fails_with_the_status() -> None:
    frames = [{"kind": "http.response", "status": 502, "headers": {}}, {"kind": "http.body", "body": "Bad Gateway"}]
    failed = failure(frames)
    assert (failed.error_type, failed.message) == ("http_502", "HTTP 502")


def test_non_streamed_body_gives_the_same_message_as_the_stream() -> None:
    stream = [
        message_start(input_tokens=10, output_tokens=1),
        block_start(0, type="thinking", thinking="", signature=""),
        block_delta(0, type="thinking_delta", thinking="Hmm."),
        block_delta(0, type="signature_delta", signature="sig"),
        block_stop(0),
        *text_block(1, "Let me look ", "that up."),
        block_start(2, type="server_tool_use", id="srvtoolu_1", name="web_search", input={}),
        json_delta(2, '{"query": "x"}'),
        block_stop(2),
        block_start(3, **SEARCH_RESULT),
        block_stop(3),
        *tool_block(4, '{"city": "Paris"}'),
        message_delta("tool_use", usage={"output_tokens": 30}),
        message_stop(),
    ]
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [
            {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
            {"type": "text", "text": "Let me look that up."},
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
            SEARCH_RESULT,
            {"type": "tool_use", "id": "toolu_4", "name": "get_weather", "input": {"city": "Paris"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 30},
    }
    from_body = final_message(
        [{"kind": "http.response", "status": 200, "headers": {}}, {"kind": "http.body", "body": body}]
    )
    assert from_body.to_json() == final_message(stream).to_json()


# -- protocol rules ---------------------------------------------------------------------------

_ERROR_EVENT = {
    "kind": "sse",
    "event": "error",
    "data": {"type": "error", "error": {"type": "api_error", "message": "x"}},
}

# rule id -> (frames fed to one reader, fatal)
RULE_CASES: dict[str, tuple[list[dict[str, Any]], bool]] = {
    "anthropic.message_start.duplicate": ([message_start(), message_start(), *message(text_block(0, "x"))[1:]], True),
    "anthropic.message_start.spliced": (
        [message_start("msg_a"), tool_start(0), json_delta(0, '{"v": "Spa'), *message(tool_block(0, "{}"))],
        True,
    ),
    "anthropic.message_start.missing": ([text_start(0), *message(text_block(0, "x"))], True),
    "anthropic.content_block.index": ([message_start(), *text_block(1, "gap"), message_delta(), message_stop()], True),
    "anthropic.content_block.unknown_index": (
        [message_start(), text_delta(0, "x"), message_delta(), message_stop()],
        True,
    ),
    "anthropic.content_block.delta_after_stop": (
        [message_start(), *text_block(0, "x"), text_delta(0, "late"), message_delta(), message_stop()],
        True,
    ),
    "anthropic.content_block.unclosed": (
        [message_start(), text_start(0), text_delta(0, "x"), message_delta(), message_stop()],
        True,
    ),
    "anthropic.delta.type_mismatch": ([message_start(), tool_start(0), text_delta(0, "x")], True),
    "anthropic.tool_input.invalid_json": (
        [message_start(), *tool_block(0, '{"a": 1,'), message_delta("tool_use"), message_stop()],
        True,
    ),
    "anthropic.message_delta.missing": ([message_start(), *text_block(0, "x"), message_stop()], True),
    "anthropic.stream.truncated": ([message_start(), *text_block(0, "x")], True),
    "anthropic.stream.empty": ([], True),
    "anthropic.sse.event_mismatch": (
        [
            message_start(),
            {"kind": "sse", "event": "content_block_start", "data": text_start(0)["data"] | {"type": "x"}},
            text_delta(0, "x"),
            block_stop(0),
            message_delta(),
            message_stop(),
        ],
        False,
    ),
    "anthropic.frame.unexpected": ([*message(text_block(0, "x")), ping()], False),
    "anthropic.frame.shape": ([message_start(), text_start(0), block_delta(0, type="text_delta", text=7)], True),
}

# Rules in RULES that never appear as a ProtocolViolation, and why.
# (An HTTP error is the provider speaking, not a broken protocol, so it is not a rule at all.)
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


def test_spliced_message_start_names_the_open_block() -> None:
    (first, *_) = violations(feed_one_reader(RULE_CASES["anthropic.message_start.spliced"][0]))
    assert "block(s) [0] are open" in first.message


def test_error_event_is_not_a_protocol_violation() -> None:
    events = feed_one_reader([message_start(), _ERROR_EVENT])
    assert violations(events) == []
    assert isinstance(events[-1], ResponseFailed) and events[-1].error_type == "api_error"


def test_http_error_is_not_a_protocol_violation() -> None:
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    events = feed_one_reader(
        [{"kind": "http.response", "status": 429, "headers": {}}, {"kind": "http.body", "body": body}]
    )
    assert violations(events) == []


def test_nothing_after_a_failure_is_applied() -> None:
    frames = [message_start(), *text_block(1, "gap"), text_start(0), text_delta(0, "ignored")]
    events = feed_one_reader(frames)
    failed = next(e for e in events if isinstance(e, ResponseFailed))
    assert failed.partial.items == []
    assert all(v.rule == "anthropic.frame.unexpected" for v in violations(events)[1:])


def test_finish_after_completion_adds_nothing() -> None:
    reader = AnthropicResponseReader()
    for index, frame in enumerate(message(text_block(0, "x"))):
        reader.feed(frame, index)
    assert reader.done
    assert reader.finish(99) == []


# -- adapt_frames -----------------------------------------------------------------------------


def test_adapt_frames_splits_back_to_back_messages_into_responses() -> None:
    events = adapt_frames([*message(text_block(0, "one")), *message(text_block(0, "two"))])
    completed = [e for e in events if isinstance(e, ResponseCompleted)]
    assert [c.message.text for c in completed] == ["one", "two"]
    assert violations(events) == []


def test_adapt_frames_is_pure() -> None:
    frames = message(
        [
            block_start(0, type="thinking", thinking="", signature=""),
            block_delta(0, type="thinking_delta", thinking="t"),
            block_delta(0, type="signature_delta", signature="s"),
            block_stop(0),
        ],
        text_block(1, "a", "b"),
        tool_block(2, "", '{"x": [1, ', "2]}"),
        stop_reason="tool_use",
    )
    before = copy.deepcopy(frames)
    first, second = adapt_frames(frames), adapt_frames(frames)
    assert first == second
    assert [describe(e) for e in first] == [describe(e) for e in second]
    assert frames == before


def test_item_completed_carries_the_final_item() -> None:
    events = feed_one_reader(message(text_block(0, "x")))
    (done,) = [e for e in events if isinstance(e, ItemCompleted)]
    assert done.item.text == "x" and done.item.complete is True


# -- build_request ----------------------------------------------------------------------------


def _assistant_message() -> AssistantMessage:
    return AssistantMessage(
        native_id="msg_1",
        items=[
            ContentItem(0, "reasoning", "thinking", text="Hmm.", signature="sig"),
            ContentItem(1, "text", "text", text="Looking."),
            ContentItem(
                2,
                "server_tool_call",
                "server_tool_use",
                native_id="srvtoolu_1",
                name="web_search",
                arguments={"query": "x"},
                block={"type": "server_tool_use", "id": "srvtoolu_1"},
            ),
            ContentItem(3, "server_tool_result", "web_search_tool_result", block=SEARCH_RESULT),
            ContentItem(
                4, "tool_call", "tool_use", native_id="toolu_4", name="get_weather", arguments={"city": "Paris"}
            ),
            ContentItem(5, "redacted_reasoning", "redacted_thinking", block={"type": "redacted_thinking", "data": "E"}),
        ],
        stop_reason="tool_use",
    )


def test_build_request_renders_the_frame_from_the_template() -> None:
    template = RequestTemplate(
        path="/v1/messages",
        query={"beta": "true"},
        headers={"anthropic-version": "2023-06-01"},
        params={"model": "claude-test", "max_tokens": 100, "stream": True},
    )
    frame = AnthropicMessagesAdapter().build_request(template, [UserTurn(text="Hi")])
    assert frame == {
        "kind": "http.request",
        "method": "POST",
        "path": "/v1/messages",
        "query": {"beta": "true"},
        "headers": {"anthropic-version": "2023-06-01"},
        "body": {
            "model": "claude-test",
            "max_tokens": 100,
            "stream": True,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        },
    }


def test_build_request_sends_verbatim_user_content_unchanged() -> None:
    frame = AnthropicMessagesAdapter().build_request(RequestTemplate(), [UserTurn(text="Hi", content="Hi")])
    assert frame["body"]["messages"] == [{"role": "user", "content": "Hi"}]


def test_build_request_renders_assistant_items_in_order() -> None:
    frame = AnthropicMessagesAdapter().build_request(
        RequestTemplate(), [UserTurn("Hi"), AssistantTurn(_assistant_message())]
    )
    assert frame["body"]["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
            {"type": "text", "text": "Looking."},
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
            SEARCH_RESULT,
            {"type": "tool_use", "id": "toolu_4", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "redacted_thinking", "data": "E"},
        ],
    }


def test_build_request_keeps_the_mcp_server_name() -> None:
    item = ContentItem(
        0,
        "server_tool_call",
        "mcp_tool_use",
        native_id="mcptoolu_1",
        name="ask",
        arguments={},
        block={"type": "mcp_tool_use", "server_name": "deepwiki"},
    )
    frame = AnthropicMessagesAdapter().build_request(RequestTemplate(), [AssistantTurn(AssistantMessage(items=[item]))])
    assert frame["body"]["messages"][0]["content"] == [
        {"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "ask", "input": {}, "server_name": "deepwiki"}
    ]


def test_build_request_sends_a_compaction_block_back_with_its_content() -> None:
    frames = message(
        [
            block_start(0, type="compaction", content=None, encrypted_content=None),
            block_delta(0, type="compaction_delta", content="Summary.", encrypted_content="Ep"),
            block_stop(0),
        ]
    )
    frame = AnthropicMessagesAdapter().build_request(RequestTemplate(), [AssistantTurn(final_message(frames))])
    assert frame["body"]["messages"][0]["content"] == [
        {"type": "compaction", "content": "Summary.", "encrypted_content": "Ep"}
    ]


@pytest.mark.parametrize(
    ("result", "block"),
    [
        pytest.param(
            ToolResult("toolu_1", "f", "succeeded", output="sunny"),
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": [{"type": "text", "text": "sunny"}],
                "is_error": False,
            },
            id="succeeded-string",
        ),
        pytest.param(
            ToolResult("toolu_1", "f", "succeeded", output={"temp": 21}),
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": [{"type": "text", "text": '{"temp":21}'}],
                "is_error": False,
            },
            id="succeeded-json",
        ),
        pytest.param(
            ToolResult("toolu_1", "f", "succeeded", output=[{"type": "text", "text": "raw"}], verbatim=True),
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": [{"type": "text", "text": "raw"}],
                "is_error": False,
            },
            id="succeeded-verbatim-list",
        ),
        pytest.param(
            ToolResult("toolu_1", "f", "failed", error="no such city"),
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": [{"type": "text", "text": "no such city"}],
                "is_error": True,
            },
            id="failed",
        ),
    ],
)
def test_build_request_renders_tool_results_in_a_user_message(result: ToolResult, block: dict[str, Any]) -> None:
    frame = AnthropicMessagesAdapter().build_request(RequestTemplate(), [ToolResultsTurn((result,))])
    assert frame["body"]["messages"] == [{"role": "user", "content": [block]}]
