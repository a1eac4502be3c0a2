"""A ``data: [DONE]`` after a Responses stream's terminal event (OpenRouter sends one).

The SDK stops reading at ``[DONE]`` and its final response is the ``response.completed`` one; we
take the same response, and the trailer belongs to it: ``harness validate`` reports nothing and
``harness replay`` consumes it, with recorded requests (a two-request function-call loop) and in
stream-only mode (two responses back to back), on the very same transcripts.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from harness.adapters.base import ResponseCompleted
from harness.adapters.openai_responses import OpenAIResponsesReader, adapt_frames
from harness.scenario.runner import execute, scenario_for_transcript
from harness.testing import read_response
from harness.transcript import parse_transcript
from harness.transcript.lint import lint_transcript
from tests.adapters.test_openai_responses_call_items import ITEMS, request, sse_frames, stream
from tests.adapters.test_openai_responses_differential import (
    our_view,
    run_endings,
    sdk_final_response,
    sdk_view,
)

DONE = {"kind": "sse.done"}
USER = {"role": "user", "content": "Weather?"}
CALL = ITEMS["function_call"]
ANSWER = {"type": "function_call_output", "call_id": "call_fn", "output": "sunny"}
TEXT = {**ITEMS["message"], "content": [{"type": "output_text", "text": "Sunny.", "annotations": []}]}


def inbound(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": "emit_inbound", "frame": frame}


def header(name: str) -> dict[str, Any]:
    return {"type": "transcript_start", "provider": "openai", "protocol": "openai.responses", "version": "test",
            "scenario": name}  # fmt: skip


def with_requests() -> list[dict[str, Any]]:
    echoed = {"type": "function_call", "call_id": "call_fn", "name": "f", "arguments": '{"a": 1}', "id": "fc_1"}
    head = inbound({"kind": "http.response", "status": 200, "headers": {}})
    return [
        header("done-trailer-requests"),
        {"type": "expect_outbound", "frame": request([USER])},
        head,
        *(inbound(f) for f in sse_frames(stream(CALL))),
        inbound(DONE),
        {"type": "expect_outbound", "frame": request([USER, echoed, ANSWER])},
        head,
        *(inbound(f) for f in sse_frames(stream(TEXT))),
        inbound(DONE),
    ]


def stream_only() -> list[dict[str, Any]]:
    frames = [*sse_frames(stream(CALL)), DONE, *sse_frames(stream(TEXT)), DONE]
    return [header("done-trailer-stream-only"), *(inbound(f) for f in frames)]


TRANSCRIPTS = {"with requests": with_requests, "stream only": stream_only}


def parsed(name: str) -> Any:
    text = "\n".join(orjson.dumps(line).decode() for line in TRANSCRIPTS[name]())
    return parse_transcript(text, path="done.ndjson")


@pytest.mark.parametrize("name", sorted(TRANSCRIPTS))
def test_validate_and_replay_agree_that_the_trailer_belongs_to_the_response(name: str) -> None:
    transcript = parsed(name)
    assert [str(issue) for issue in lint_transcript(transcript)] == []
    execution = execute(scenario_for_transcript(transcript), transcript=transcript)
    assert execution.driver.failure is None
    assert execution.driver.remaining == 0
    assert [e.data["rule"] for e in execution.events if e.type == "protocol.violation"] == []
    assert [status for _, _, status in execution.responses] == ["completed", "completed"]
    last = execution.events[-1]
    assert (last.type, last.data["status"]) == ("run.updated", "completed"), run_endings(execution)
    assert execution.responses[-1][1].text == "Sunny."


def test_the_sdk_means_the_same_response_with_and_without_the_trailer() -> None:
    body = stream(CALL)
    with_done = body + b"data: [DONE]\n\n"
    (completed,) = [e for e in read_response(OpenAIResponsesReader(), [*sse_frames(body), DONE])
                    if isinstance(e, ResponseCompleted)]  # fmt: skip
    assert our_view(completed.message) == sdk_view_of(with_done) == sdk_view_of(body)


def sdk_view_of(body: bytes) -> dict[str, Any]:
    return sdk_view(sdk_final_response(body))


def test_a_finished_reader_absorbs_the_trailer_and_nothing_else() -> None:
    reader = OpenAIResponsesReader()
    read_response(reader, sse_frames(stream(TEXT)), finish=False)
    assert reader.done
    assert reader.absorbs(DONE)
    assert not reader.absorbs(sse_frames(stream(TEXT))[0])  # the next response's response.created
    assert reader.feed(DONE, 99) == []
    assert not OpenAIResponsesReader().absorbs(DONE)  # an open response has not ended yet


def test_adapt_frames_keeps_the_trailer_with_its_response() -> None:
    frames = [*sse_frames(stream(CALL)), DONE, *sse_frames(stream(TEXT)), DONE]
    events = adapt_frames(frames)
    assert [type(e).__name__ for e in events if type(e).__name__ in ("ResponseCompleted", "ProtocolViolation")] == [
        "ResponseCompleted",
        "ResponseCompleted",
    ]
