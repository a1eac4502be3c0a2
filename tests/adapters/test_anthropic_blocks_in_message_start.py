"""Whole content blocks inside ``message_start.message``, as programmatic tool calling sends them.

The code execution tool runs a program that calls client tools; the API then streams a message
whose ``message_start`` already holds the ``server_tool_use`` block and the ``tool_use`` calls the
program made (``caller`` names the program's tool), with ``stop_reason`` and ``usage`` set, and any
streamed block continues the numbering after them. The same bytes go to the official SDK
(``client.messages.stream(...).get_final_message()``) and through our adapter; then a two-request
recording with such a message is replayed through the core, which must run the calls and send
every recorded request.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from harness.adapters.anthropic import AnthropicMessagesAdapter, AnthropicResponseReader
from harness.adapters.base import AssistantMessage, ResponseCompleted
from harness.scenario.runner import execute, scenario_for_transcript
from harness.testing import read_response, terminal_of
from harness.transcript import parse_transcript
from tests.adapters.test_anthropic_differential import (
    our_view,
    run_endings,
    sdk_final_message,
    sdk_view,
    sse_bytes,
)

CALLER = {"type": "code_execution_20250825", "tool_id": "srvtoolu_prog"}
SERVER_CALL = {"type": "server_tool_use", "id": "srvtoolu_prog", "name": "code_execution", "input": {"code": "f()"}}
CLIENT_CALL = {
    "type": "tool_use",
    "id": "toolu_prog_1",
    "name": "get_weather",
    "input": {"city": "Paris", "days": [1, 2]},
    "caller": CALLER,
}


def frame(event: str, **data: Any) -> dict[str, Any]:
    return {"kind": "sse", "event": event, "data": {"type": event, **data}}


def start_with(content: list[dict[str, Any]], *, stop_reason: str | None, usage: dict[str, int]) -> dict[str, Any]:
    message = {
        "id": "msg_prog",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }
    return frame("message_start", message=message)


def text_block(index: int, text: str) -> list[dict[str, Any]]:
    return [
        frame("content_block_start", index=index, content_block={"type": "text", "text": ""}),
        frame("content_block_delta", index=index, delta={"type": "text_delta", "text": text}),
        frame("content_block_stop", index=index),
    ]


def ending(stop_reason: str | None, **usage: int) -> list[dict[str, Any]]:
    return [
        frame("message_delta", delta={"stop_reason": stop_reason, "stop_sequence": None}, usage=usage),
        frame("message_stop"),
    ]


def ours(frames: list[dict[str, Any]]) -> AssistantMessage:
    terminal = terminal_of(read_response(AnthropicResponseReader(), frames))
    assert isinstance(terminal, ResponseCompleted), terminal
    return terminal.message


#: name -> the frames of one message; each is served to the SDK as SSE bytes.
STREAMS: dict[str, list[dict[str, Any]]] = {
    "tool calls only in message_start": [
        start_with([SERVER_CALL, CLIENT_CALL], stop_reason="tool_use", usage={"input_tokens": 30, "output_tokens": 9}),
        *ending("tool_use", output_tokens=12),
    ],
    "streamed text continues the numbering": [
        start_with([SERVER_CALL, CLIENT_CALL], stop_reason=None, usage={"input_tokens": 30, "output_tokens": 9}),
        *text_block(2, "Checking the weather."),
        *ending("tool_use", output_tokens=20),
    ],
    "usage from message_start survives a delta without it": [
        start_with([CLIENT_CALL], stop_reason="tool_use", usage={"input_tokens": 41, "output_tokens": 3}),
        *ending("tool_use", output_tokens=7),
    ],
}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_final_message_equals_the_sdk(name: str) -> None:
    frames = STREAMS[name]
    mine = ours(frames)
    assert our_view(mine) == sdk_view(sdk_final_message(sse_bytes(frames)))
    assert "get_weather" in [c.name for c in mine.tool_calls]


def test_stop_reason_in_message_start_is_kept_until_a_delta_changes_it() -> None:
    frames = [start_with([CLIENT_CALL], stop_reason="tool_use", usage={"input_tokens": 1, "output_tokens": 1})]
    # message_delta without stop fields: the SDK sets stop_reason from the delta (null), as we do.
    frames += [frame("message_delta", delta={}, usage={"output_tokens": 2}), frame("message_stop")]
    theirs = sdk_final_message(sse_bytes(frames))
    assert ours(frames).stop_reason == theirs.stop_reason is None
    mine = ours([*frames[:1], *ending("tool_use", output_tokens=2)])
    assert mine.stop_reason == "tool_use"


def test_whole_tool_use_blocks_are_complete_calls_the_loop_runs() -> None:
    message = ours(STREAMS["streamed text continues the numbering"])
    (call,) = message.tool_calls
    assert (call.index, call.native_id, call.arguments, call.complete) == (
        1,
        "toolu_prog_1",
        CLIENT_CALL["input"],
        True,
    )
    assert AnthropicMessagesAdapter().next_step(message) == "run_tools"


def test_a_streamed_block_may_not_reuse_an_index_of_message_start() -> None:
    frames = [
        start_with([CLIENT_CALL], stop_reason=None, usage={"input_tokens": 1, "output_tokens": 1}),
        *text_block(0, "x"),
        *ending("end_turn", output_tokens=2),
    ]
    failed = terminal_of(read_response(AnthropicResponseReader(), frames))
    assert getattr(failed, "rule", None) == "anthropic.content_block.index"
    assert "content_block_start index 0, expected 1" in failed.message  # type: ignore[union-attr]


# -- a two-request recording ----------------------------------------------------------------------

PARAMS = {"model": "claude-test", "max_tokens": 1024, "stream": True}
USER = {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}
TOOL_RESULT = {
    "type": "tool_result",
    "tool_use_id": "toolu_prog_1",
    "content": [{"type": "text", "text": "sunny"}],
    "is_error": False,
}


def request(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kind": "http.request",
        "method": "POST",
        "path": "/v1/messages",
        "query": {},
        "headers": {},
        "body": {**PARAMS, "messages": messages},
    }


def transcript_text() -> str:
    # The client sends the message back as the API gave it: the program's call, then the call it
    # made with its caller, and the tool_result for that call.
    assistant = {"role": "assistant", "content": [SERVER_CALL, CLIENT_CALL]}
    second = [
        start_with([], stop_reason=None, usage={"input_tokens": 50, "output_tokens": 1}),
        *text_block(0, "It is sunny."),
        *ending("end_turn", output_tokens=4),
    ]
    lines: list[dict[str, Any]] = [
        {
            "type": "transcript_start",
            "provider": "anthropic",
            "protocol": "anthropic.messages",
            "version": "test",
            "scenario": "programmatic-tool-call",
        },
        {"type": "expect_outbound", "frame": request([USER])},
        {"type": "emit_inbound", "frame": {"kind": "http.response", "status": 200, "headers": {}}},
        *({"type": "emit_inbound", "frame": f} for f in STREAMS["tool calls only in message_start"]),
        {"type": "expect_outbound", "frame": request([USER, assistant, {"role": "user", "content": [TOOL_RESULT]}])},
        {"type": "emit_inbound", "frame": {"kind": "http.response", "status": 200, "headers": {}}},
        *({"type": "emit_inbound", "frame": f} for f in second),
    ]
    return "\n".join(orjson.dumps(line).decode() for line in lines)


def test_two_request_replay_runs_the_call_and_sends_every_recorded_request() -> None:
    transcript = parse_transcript(transcript_text(), path="programmatic.ndjson")
    execution = execute(scenario_for_transcript(transcript), transcript=transcript)
    last = execution.events[-1]
    assert (last.type, last.data["status"]) == ("run.updated", "completed"), run_endings(execution)
    assert execution.driver.failure is None
    assert execution.driver.remaining == 0
    # The harness runs the client call the program made; the program itself is the provider's.
    calls = [e.data for e in execution.events if e.type == "tool_call.requested"]
    assert sorted(call["executor"] for call in calls) == ["harness", "provider"]
    (requested,) = [call for call in calls if call["executor"] == "harness"]
    assert (requested["name"], requested["native_id"]) == ("get_weather", "toolu_prog_1")
    assert [status for _, _, status in execution.responses] == ["completed", "completed"]
    assert execution.responses[-1][1].text == "It is sunny."
