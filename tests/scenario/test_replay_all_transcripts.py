"""Every bundled Anthropic recording replays through the core with a faithful, documented outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.invariants import check_invariants
from harness.scenario import replay_summary, replay_transcript

ROOT = Path(__file__).resolve().parents[2]
TRANSCRIPTS = sorted((ROOT / "transcripts" / "anthropic").rglob("*.ndjson"))

# Recordings whose run does not complete, and why. Everything else must complete.
NOT_COMPLETED = {
    "anthropic-duplicate-message-start": "protocol_violation",
    "anthropic-spliced-message-start": "protocol_violation",
    "midstream_overloaded_error": "overloaded_error",
}
# Stream-only captures of one response that ends in tool_use: the run completes where the capture
# ends (request 2 has no recorded answer), with stop_reason tool_use and recording_ended.
RECORDING_ENDS = {"tool_use_response", "anthropic-text-then-tool_use", "anthropic-tool_use-empty-input"}


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_recording_replays_with_its_documented_outcome(path: Path) -> None:
    execution = replay_transcript(path)
    summary = replay_summary(execution)
    assert execution.driver.failure is None
    assert execution.driver.remaining == 0
    assert check_invariants(execution.events) == []
    expected_error = NOT_COMPLETED.get(path.stem)
    if expected_error is None:
        assert summary["status"] == "completed", summary["error"]
        assert summary["error"] is None
        assert summary["recording_ended"] is (path.stem in RECORDING_ENDS)
        if path.stem in RECORDING_ENDS:
            assert summary["messages"][-1]["stop_reason"] == "tool_use"
    else:
        assert summary["status"] == "failed"
        assert summary["error"]["type"] == expected_error


def test_the_corpus_is_all_here() -> None:
    assert len(TRANSCRIPTS) == 25  # 7 SDK fixtures, 8 cassettes, 9 vercel payload files, 1 derived
