"""Differential test: every recorded Anthropic stream means the same to us as to the official SDK.

For each stream in the corpus, the exact recorded bytes are served to ``anthropic.Anthropic``
through an ``httpx2.MockTransport`` and read with ``client.messages.stream(...)`` ->
``get_final_message()``. The transcript imported from the same recording is replayed through our
adapter and core (``execute(scenario_for_transcript(t))``). Response k of the replay must mean what
stream k means to the SDK: same text, thinking and signatures, citations, tool calls (name and parsed
input), block types in order, stop reason, and input/output token usage.

Where the two disagree on purpose, the case is listed below with the reason:

* :data:`KNOWN_STRICTER`: the SDK accumulates the stream without complaint, we fail the run with a
  named protocol rule.
* :data:`BETA_ACCUMULATOR`: the stream uses a beta-only block, which only the SDK's beta
  accumulator (``client.beta.messages.stream``) understands; that one is the reference there.

A stream the SDK rejects (raises) must be one our replay fails with a named error.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import orjson
import pytest
import yaml

from harness.adapters.base import AssistantMessage
from harness.core.projection import TERMINAL_RUN_STATUSES
from harness.scenario.runner import Execution, execute, scenario_for_transcript
from harness.transcript import parse_transcript, read_transcript

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "fixtures" / "corpus"
TRANSCRIPTS = ROOT / "transcripts" / "anthropic"

# Streams the SDK accepts and we reject, with the rule we report.
KNOWN_STRICTER: dict[str, str] = {
    # The SDK's accumulator ignores a message_start once it has a snapshot.
    "anthropic-duplicate-message-start.ndjson": "anthropic.message_start.duplicate",
    # The SDK ignores the second message_start and appends the restarted message's blocks to the
    # first one (4 blocks, tool input {"value": "Spark{"}); we stop at the splice.
    "anthropic-spliced-message-start.ndjson": "anthropic.message_start.spliced",
}

# Source files whose reference is the SDK's beta accumulator, and why.
BETA_ACCUMULATOR: dict[str, str] = {
    # mcp_tool_use is a beta block: the GA MessageStream does not track its input_json_delta
    # (TRACKS_TOOL_INPUT has only ToolUseBlock and ServerToolUseBlock) and leaves input {}; the
    # beta one does. The recording itself was made with ?beta=true.
    "anthropic__mcp_tool_use_stream.yaml": "mcp_tool_use input is only accumulated by the beta stream",
}


@dataclass(frozen=True)
class RecordedStream:
    """One HTTP response body of the corpus and the transcript it was imported into."""

    source: Path
    index: int
    count: int
    body: bytes
    transcript: Path

    @property
    def id(self) -> str:
        return self.source.name if self.count == 1 else f"{self.source.name}#{self.index}"


def _sdk_files() -> list[RecordedStream]:
    out = []
    for path in sorted((CORPUS / "anthropic-sdk").glob("*.sse.txt")):
        transcript = TRANSCRIPTS / "anthropic-sdk" / (path.name.removesuffix(".sse.txt") + ".ndjson")
        out.append(RecordedStream(path, 0, 1, path.read_bytes(), transcript))
    return out


def _cassettes() -> list[RecordedStream]:
    out = []
    for path in sorted((CORPUS / "pydantic-ai-cassettes").glob("anthropic__*.yaml")):
        interactions = yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]
        transcript = TRANSCRIPTS / "pydantic-ai-cassettes" / (path.stem + ".ndjson")
        for index, interaction in enumerate(interactions):
            body = interaction["response"]["body"]["string"].encode()
            out.append(RecordedStream(path, index, len(interactions), body, transcript))
    return out


def vercel_messages(payload: bytes) -> list[bytes]:
    """SSE bytes rebuilt from one-data-payload-per-line, one byte stream per message.

    A message ends at ``message_stop``; a ``message_start`` while a message is still open is the
    anomaly some fixtures test, not a boundary, so it stays in the same stream.
    """
    streams: list[bytes] = []
    current = b""
    for line in payload.splitlines():
        if not line.strip():
            continue
        event_type = orjson.loads(line)["type"]
        current += b"event: " + event_type.encode() + b"\ndata: " + line + b"\n\n"
        if event_type == "message_stop":
            streams.append(current)
            current = b""
    if current:
        streams.append(current)
    return streams


def _vercel_files() -> list[RecordedStream]:
    out = []
    for path in sorted((CORPUS / "vercel-ai-fixtures").glob("anthropic-*.ndjson")):
        transcript = TRANSCRIPTS / "vercel-ai-fixtures" / path.name
        streams = vercel_messages(path.read_bytes())
        out.extend(RecordedStream(path, i, len(streams), body, transcript) for i, body in enumerate(streams))
    return out


STREAMS = [*_sdk_files(), *_cassettes(), *_vercel_files()]
AGREED = [s for s in STREAMS if s.source.name not in KNOWN_STRICTER]
STRICTER = [s for s in STREAMS if s.source.name in KNOWN_STRICTER]
SOURCES = sorted({s.source for s in STREAMS})


# -- the two readers ----------------------------------------------------------------------------


def sdk_final_message(body: bytes, *, beta: bool = False) -> Any:
    """What the official SDK makes of ``body`` served as a 200 text/event-stream response."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream; charset=utf-8"}, content=body)

    http_client = httpx2.Client(transport=httpx2.MockTransport(handler))
    client = anthropic.Anthropic(api_key="test", http_client=http_client, max_retries=0)
    messages: Any = client.beta.messages if beta else client.messages
    with (
        http_client,
        messages.stream(model="claude-test", max_tokens=1024, messages=[{"role": "user", "content": "hi"}]) as stream,
    ):
        return stream.get_final_message()


@functools.cache
def replay(transcript: Path) -> Execution:
    loaded = read_transcript(transcript)
    return execute(scenario_for_transcript(loaded), transcript=loaded)


_INPUT_BLOCKS = ("tool_use", "server_tool_use", "mcp_tool_use")


def sdk_view(message: Any) -> dict[str, Any]:
    blocks = message.content
    return {
        "text": "".join(b.text for b in blocks if b.type == "text"),
        "thinking": "".join(b.thinking for b in blocks if b.type == "thinking"),
        "signatures": [b.signature for b in blocks if b.type == "thinking"],
        "citations": [[c.to_dict() for c in b.citations or []] for b in blocks if b.type == "text"],
        "tool_calls": [(b.type, b.name, b.input) for b in blocks if b.type in _INPUT_BLOCKS],
        "block_types": [b.type for b in blocks],
        "stop_reason": message.stop_reason,
        "usage": {"input_tokens": message.usage.input_tokens, "output_tokens": message.usage.output_tokens},
    }


def our_view(message: AssistantMessage) -> dict[str, Any]:
    items = message.items
    return {
        "text": message.text,
        "thinking": message.reasoning,
        "signatures": [i.signature for i in items if i.block_type == "thinking"],
        "citations": [i.citations for i in items if i.block_type == "text"],
        "tool_calls": [(i.block_type, i.name, i.arguments) for i in items if i.block_type in _INPUT_BLOCKS],
        "block_types": [i.block_type for i in items],
        "stop_reason": message.stop_reason,
        "usage": {
            "input_tokens": message.usage.get("input_tokens"),
            "output_tokens": message.usage.get("output_tokens"),
        },
    }


def run_endings(execution: Execution) -> list[dict[str, Any]]:
    """The terminal snapshots (``run.updated`` with a terminal status) of the replay's runs, in order."""
    return [e.data for e in execution.events if e.type == "run.updated" and e.data["status"] in TERMINAL_RUN_STATUSES]


def run_failure(execution: Execution) -> dict[str, Any]:
    """The terminal snapshot of the (single) run, which must have failed."""
    ended = run_endings(execution)
    assert [run["status"] for run in ended] == ["failed"], [(e.type, e.data.get("status")) for e in execution.events]
    return ended[0]


# -- the corpus ---------------------------------------------------------------------------------


def test_the_corpus_holds_every_anthropic_stream() -> None:
    counts = {
        folder: len({s.source for s in STREAMS if s.source.parent.name == folder})
        for folder in ("anthropic-sdk", "pydantic-ai-cassettes", "vercel-ai-fixtures")
    }
    assert counts == {"anthropic-sdk": 7, "pydantic-ai-cassettes": 8, "vercel-ai-fixtures": 9}
    assert all(s.transcript.is_file() for s in STREAMS)


def test_the_listed_exceptions_are_in_the_corpus() -> None:
    names = {s.source.name for s in STREAMS}
    assert set(KNOWN_STRICTER) <= names
    assert set(BETA_ACCUMULATOR) <= names


@pytest.mark.parametrize("source", SOURCES, ids=[s.name for s in SOURCES])
def test_one_response_per_recorded_stream(source: Path) -> None:
    streams = [s for s in STREAMS if s.source == source]
    assert len(replay(streams[0].transcript).responses) == len(streams)


@pytest.mark.parametrize("stream", AGREED, ids=[s.id for s in AGREED])
def test_same_final_message_as_the_sdk(stream: RecordedStream) -> None:
    execution = replay(stream.transcript)
    try:
        expected = sdk_view(sdk_final_message(stream.body, beta=stream.source.name in BETA_ACCUMULATOR))
    except Exception as exc:  # the SDK rejects the stream: so must we, by name
        error = run_failure(execution)["error"]
        assert error["type"], f"the SDK raised {exc!r}; our run must fail with a named error, not {error}"
        return
    _, message, status = execution.responses[stream.index]
    assert status == "completed", run_failure(execution)
    assert our_view(message) == expected


@pytest.mark.parametrize("stream", STRICTER, ids=[s.id for s in STRICTER])
def test_stricter_than_the_sdk_with_a_named_rule(stream: RecordedStream) -> None:
    sdk_view(sdk_final_message(stream.body))  # the SDK accepts the stream
    execution = replay(stream.transcript)
    failed = run_failure(execution)
    assert failed["error"]["type"] == "protocol_violation"
    assert failed["rule"] == KNOWN_STRICTER[stream.source.name]
    assert execution.responses[stream.index][2] == "failed"


def test_mcp_stream_needs_the_beta_accumulator() -> None:
    # Remove the BETA_ACCUMULATOR entry when this fails: the GA accumulator then tracks mcp input.
    (stream,) = [s for s in STREAMS if s.source.name == "anthropic__mcp_tool_use_stream.yaml"]
    ga, beta = sdk_view(sdk_final_message(stream.body)), sdk_view(sdk_final_message(stream.body, beta=True))
    assert [call[2] for call in ga["tool_calls"]] == [{}]
    assert {**ga, "tool_calls": None} == {**beta, "tool_calls": None}
    assert ga["tool_calls"] != beta["tool_calls"]


# -- a mid-stream provider error -----------------------------------------------------------------

OVERLOADED_FRAMES: list[dict[str, Any]] = [
    {
        "kind": "sse",
        "event": "message_start",
        "data": {
            "type": "message_start",
            "message": {
                "id": "msg_overloaded",
                "type": "message",
                "role": "assistant",
                "model": "claude-test",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 12, "output_tokens": 1},
            },
        },
    },
    {
        "kind": "sse",
        "event": "content_block_start",
        "data": {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    },
    {"kind": "sse", "event": "ping", "data": {"type": "ping"}},
    {
        "kind": "sse",
        "event": "content_block_delta",
        "data": {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
    },
    {
        "kind": "sse",
        "event": "error",
        "data": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    },
]


def sse_bytes(frames: list[dict[str, Any]]) -> bytes:
    return b"".join(b"event: " + f["event"].encode() + b"\ndata: " + orjson.dumps(f["data"]) + b"\n\n" for f in frames)


def stream_only_transcript(frames: list[dict[str, Any]]) -> str:
    header = {
        "type": "transcript_start",
        "provider": "anthropic",
        "protocol": "anthropic.messages",
        "version": "unknown",
        "scenario": "overloaded",
    }
    lines = [header, *({"type": "emit_inbound", "frame": f} for f in frames)]
    return "\n".join(orjson.dumps(line).decode() for line in lines)


def test_midstream_overloaded_error_fails_both_with_the_provider_error() -> None:
    with pytest.raises(anthropic.APIStatusError) as raised:
        sdk_final_message(sse_bytes(OVERLOADED_FRAMES))
    assert raised.value.body["error"]["type"] == "overloaded_error"

    transcript = parse_transcript(stream_only_transcript(OVERLOADED_FRAMES), path="overloaded.ndjson")
    execution = execute(scenario_for_transcript(transcript), transcript=transcript)
    failed = run_failure(execution)
    assert failed["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert "rule" not in failed
    (_, partial, status) = execution.responses[0]
    assert (status, partial.text) == ("failed", "Hel")
