"""Scenario results and transcripts the analysis tests load into DuckDB."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.scenario import ScenarioResult, run_scenario, scenario_for_transcript
from harness.transcript import EmitInbound, ExpectOutbound, Transcript, TranscriptHeader, read_transcript

ROOT = Path(__file__).resolve().parents[2]

RunBundled = Callable[..., ScenarioResult]


@pytest.fixture
def run_bundled(tmp_path: Path) -> RunBundled:
    """Run a bundled transcript's implied scenario without a golden.

    ``name`` and ``source`` override the scenario's; other keywords override its expectations.
    """

    def run(relative: str, *, name: str | None = None, source: str | None = None, **expect: Any) -> ScenarioResult:
        path = ROOT / relative
        scenario = scenario_for_transcript(read_transcript(path))
        update: dict[str, Any] = {
            "transcript": str(path),
            "expect": scenario.expect.model_copy(update={"golden": False, **expect}),
        }
        if name is not None:
            update["name"] = name
        if source is not None:
            update["source"] = source
        return run_scenario(scenario.model_copy(update=update), goldens_dir=tmp_path / "goldens")

    return run


def sse(data_type: str, after_ms: int | None = None, **data: Any) -> EmitInbound:
    frame = {"kind": "sse", "event": data_type, "data": {"type": data_type, **data}}
    return EmitInbound(label=data_type, frame=frame, after_ms=after_ms)


def request() -> ExpectOutbound:
    frame = {"kind": "http.request", "method": "POST", "path": "/v1/messages", "body": {}}
    return ExpectOutbound(label="POST /v1/messages", frame=frame)


def response_head(after_ms: int | None) -> EmitInbound:
    return EmitInbound(label="http.response", frame={"kind": "http.response", "status": 200}, after_ms=after_ms)


def synthetic(path: str, *entries: Any) -> Transcript:
    header = TranscriptHeader(
        provider="anthropic", protocol="anthropic.messages", version="test", scenario=Path(path).stem
    )
    return Transcript(header=header, entries=tuple(entries), path=path)


@pytest.fixture
def timed_transcript() -> Transcript:
    """Two exchanges with afterMs values: TTFT 100+20+5+0+7 = 132 ms, then 50+10+40 = 100 ms."""
    return synthetic(
        "synthetic/timed.ndjson",
        request(),
        response_head(100),
        sse("message_start", 20),
        sse("content_block_start", 5, index=0),
        sse("ping"),  # no afterMs: counts as 0, as in replay
        sse("content_block_delta", 7, index=0),
        sse("content_block_delta", 3, index=0),
        sse("content_block_stop", 1, index=0),
        sse("message_delta", 1),
        sse("message_stop", 1),
        request(),
        response_head(50),
        sse("message_start", 10),
        sse("content_block_delta", 40, index=0),
        sse("message_stop", 2),
    )


@pytest.fixture
def stream_only_transcript() -> Transcript:
    """No outbound entries; two message_start frames open two exchanges; the second has no content."""
    return synthetic(
        "synthetic/stream_only.ndjson",
        sse("message_start", 30),
        sse("content_block_start", 4, index=0),
        sse("content_block_delta", 6, index=0),
        sse("message_stop"),
        sse("message_start", 9),
        sse("message_delta", 2),  # a stop reason is not content: no TTFT row for exchange 2
        sse("message_stop"),
    )


@pytest.fixture
def responses_api_transcript() -> Transcript:
    """OpenAI Responses-style data types: the first content frame ends in '.delta'."""
    return synthetic(
        "synthetic/responses_api.ndjson",
        request(),
        response_head(80),
        sse("response.created", 10),
        sse("response.output_item.added", 5),
        sse("response.output_text.delta", 15),
        sse("response.completed", 1),
    )


@pytest.fixture
def untimed_transcript() -> Transcript:
    """Content but no afterMs anywhere: TTFT is unknown (NULL), not 0."""
    return synthetic(
        "synthetic/untimed.ndjson",
        request(),
        response_head(None),
        sse("message_start"),
        sse("content_block_delta", index=0),
    )


@pytest.fixture
def over_int_transcript() -> Transcript:
    """afterMs beyond INTEGER: DuckDB rejects the frames load halfway through a build."""
    return synthetic("synthetic/broken.ndjson", request(), response_head(2**40))


@pytest.fixture
def timed_stream_transcript() -> Transcript:
    """A complete, replayable stream-only text response with afterMs on every frame (TTFT 40 ms)."""
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 1, "output_tokens": 0},
    }
    return synthetic(
        "synthetic/timed_stream.ndjson",
        sse("message_start", 30, message=message),
        sse("content_block_start", 4, index=0, content_block={"type": "text", "text": ""}),
        sse("content_block_delta", 6, index=0, delta={"type": "text_delta", "text": "hi"}),
        sse("content_block_stop", 2, index=0),
        sse("message_delta", 1, delta={"stop_reason": "end_turn", "stop_sequence": None}, usage={"output_tokens": 1}),
        sse("message_stop", 1),
    )
