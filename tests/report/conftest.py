"""Scenario results the report tests write out: one passing, one failing, one timed transcript."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.scenario import ScenarioResult, run_scenario, scenario_for_transcript
from harness.transcript import EmitInbound, ExpectOutbound, Transcript, TranscriptHeader, read_transcript

ROOT = Path(__file__).resolve().parents[2]
MULTITURN = "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"
PLAIN_TEXT = "transcripts/anthropic/pydantic-ai-cassettes/anthropic__plain_text_stream.ndjson"
FAILING_SOURCE = "scenarios/report/expects_failure.yaml"


def _run(relative: str, goldens: Path, *, name: str, source: str | None = None, **expect: Any) -> ScenarioResult:
    path = ROOT / relative
    scenario = scenario_for_transcript(read_transcript(path))
    update: dict[str, Any] = {
        "name": name,
        "source": source,
        "transcript": str(path),
        "expect": scenario.expect.model_copy(update={"golden": False, **expect}),
    }
    return run_scenario(scenario.model_copy(update=update), goldens_dir=goldens)


@pytest.fixture
def results(repo_root: Path, tmp_path: Path) -> list[ScenarioResult]:
    """``tool_loop`` passes; ``expects_failure`` expects a failed run from a stream that completes."""
    goldens = tmp_path / "goldens"
    return [
        _run(MULTITURN, goldens, name="tool_loop"),
        _run(PLAIN_TEXT, goldens, name="expects_failure", source=FAILING_SOURCE, status="failed"),
    ]


@pytest.fixture
def timed_transcript() -> Transcript:
    """One exchange whose first content delta arrives 100+20+12 = 132 ms after the request."""
    header = TranscriptHeader(provider="anthropic", protocol="anthropic.messages", version="test", scenario="timed")

    def sse(data_type: str, after_ms: int) -> EmitInbound:
        return EmitInbound(frame={"kind": "sse", "event": data_type, "data": {"type": data_type}}, after_ms=after_ms)

    entries = (
        ExpectOutbound(frame={"kind": "http.request", "method": "POST", "path": "/v1/messages"}),
        EmitInbound(frame={"kind": "http.response", "status": 200}, after_ms=100),
        sse("message_start", 20),
        sse("content_block_delta", 12),
    )
    return Transcript(header=header, entries=entries, path="synthetic/timed.ndjson")
