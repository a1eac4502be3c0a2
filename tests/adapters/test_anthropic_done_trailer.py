"""A ``data: [DONE]`` after an Anthropic stream's ``message_stop`` (gateways and proxies send one).

The SDK skips every SSE event without an event name, so the trailer changes nothing for it; we
take the same final message, the trailer belongs to the response it ends, and ``harness validate``
and ``harness replay`` agree about it, with recorded requests (a real two-request tool loop with a
trailer added after each response) and stream-only (the same two responses back to back).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.adapters.anthropic import AnthropicResponseReader
from harness.adapters.base import ResponseCompleted
from harness.scenario.runner import execute, scenario_for_transcript
from harness.testing import read_response, terminal_of
from harness.transcript import parse_transcript
from harness.transcript.lint import lint_transcript
from tests.adapters.test_anthropic_differential import our_view, run_endings, sdk_final_message, sdk_view

ROOT = Path(__file__).resolve().parents[2]
LOOP = ROOT / "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"
DONE = {"kind": "sse.done"}


def lines() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in LOOP.read_bytes().splitlines() if line.strip()]


def with_trailers(*, requests: bool) -> list[dict[str, Any]]:
    """The recording with ``[DONE]`` after each ``message_stop`` (and without its requests)."""
    out = []
    for line in lines():
        if line["type"] == "expect_outbound" and not requests:
            continue
        if not requests and line["type"] == "emit_inbound" and line["frame"].get("kind") == "http.response":
            continue
        out.append(line)
        frame = line.get("frame") or {}
        if line["type"] == "emit_inbound" and frame.get("kind") == "sse" and frame.get("event") == "message_stop":
            out.append({"type": "emit_inbound", "frame": DONE})
    return out


TRANSCRIPTS = {"with requests": True, "stream only": False}


def parsed(name: str) -> Any:
    text = "\n".join(orjson.dumps(line).decode() for line in with_trailers(requests=TRANSCRIPTS[name]))
    return parse_transcript(text, path="done.ndjson")


@pytest.mark.parametrize("name", sorted(TRANSCRIPTS))
def test_validate_and_replay_agree_that_the_trailer_belongs_to_the_response(name: str) -> None:
    transcript = parsed(name)
    assert sum(1 for e in transcript.entries if getattr(e, "frame", None) == DONE) == 2
    assert [str(issue) for issue in lint_transcript(transcript)] == []
    execution = execute(scenario_for_transcript(transcript), transcript=transcript)
    assert execution.driver.failure is None
    assert execution.driver.remaining == 0
    assert [e.data["rule"] for e in execution.events if e.type == "protocol.violation"] == []
    assert [status for _, _, status in execution.responses] == ["completed", "completed"]
    last = execution.events[-1]
    assert (last.type, last.data["status"]) == ("run.updated", "completed"), run_endings(execution)


def sse_body(frames: list[dict[str, Any]]) -> bytes:
    out = b""
    for frame in frames:
        if frame.get("kind") == "sse.done":
            out += b"data: [DONE]\n\n"
        elif frame.get("kind") == "sse":
            out += b"event: " + frame["event"].encode() + b"\ndata: " + orjson.dumps(frame["data"]) + b"\n\n"
    return out


def test_the_sdk_and_we_read_the_same_message_with_or_without_the_trailer() -> None:
    first = []
    for line in with_trailers(requests=True):
        frame = line.get("frame") or {}
        if line["type"] == "expect_outbound" and first:
            break
        if line["type"] == "emit_inbound":
            first.append(frame)
    with_done = sse_body(first)
    without = sse_body([f for f in first if f != DONE])
    assert with_done.endswith(b"data: [DONE]\n\n") and with_done != without
    assert sdk_view(sdk_final_message(with_done)) == sdk_view(sdk_final_message(without))
    ours = terminal_of(read_response(AnthropicResponseReader(), first))
    assert isinstance(ours, ResponseCompleted)
    assert our_view(ours.message) == sdk_view(sdk_final_message(with_done))


def test_the_reader_absorbs_only_done_and_only_after_message_stop() -> None:
    reader = AnthropicResponseReader()
    assert not reader.absorbs(DONE)  # before the response ended, [DONE] is simply nothing
    frames = [line["frame"] for line in lines() if line["type"] == "emit_inbound"]
    stop = next(i for i, f in enumerate(frames) if f.get("event") == "message_stop")
    for index, frame in enumerate(frames[: stop + 1]):
        reader.feed(frame, index)
    assert reader.done and reader.absorbs(DONE)
    assert not reader.absorbs({"kind": "sse", "event": "ping", "data": {"type": "ping"}})
    assert reader.feed(DONE, stop + 1) == []
    (late,) = reader.feed({"kind": "sse", "event": "ping", "data": {"type": "ping"}}, stop + 2)
    assert late.rule == "anthropic.frame.unexpected"  # type: ignore[attr-defined]
