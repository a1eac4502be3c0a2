"""Replay-pipeline cost, as ratios against a baseline measured in the same process.

The baseline is the cheapest thing a replay must do anyway: ``orjson.loads`` of every line of the
transcript. Each stage is reported as a multiple of it, so numbers compare across machines::

    python benchmarks/bench_replay.py [TRANSCRIPT ...] [--repeat N]

Stages: ``read`` (read_transcript: parse + validate), ``adapter`` (the Anthropic adapter over the
inbound frames), ``official SDK`` (the anthropic SDK's own accumulator over the same events, for
scale), ``execute`` (the full replay through the core), ``golden`` (normalize + serialize).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from harness.adapters.anthropic import adapt_frames
from harness.golden import dump_golden, normalize_events
from harness.scenario import execute, scenario_for_transcript
from harness.transcript import EmitInbound, read_transcript

DEFAULT = [
    Path("transcripts/anthropic/pydantic-ai-cassettes/anthropic__web_search_citations_stream.ndjson"),
    Path("transcripts/anthropic/pydantic-ai-cassettes/anthropic__thinking_plus_web_search_stream.ndjson"),
    Path("transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"),
]


def best_of(repeat: int, func: Callable[[], Any]) -> float:
    """The median of ``repeat`` runs, in seconds (the clock is only read here, never by the harness)."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def sdk_accumulate(frames: list[Any]) -> None:
    from anthropic.lib.streaming._messages import accumulate_event

    snapshot = None
    buffers: dict[int, bytes] = {}
    for frame in frames:
        data = frame.get("data") if isinstance(frame, dict) else None
        if isinstance(data, dict) and data.get("type") not in (None, "ping", "error"):
            snapshot = accumulate_event(event=data, current_snapshot=snapshot, json_bufs=buffers)  # type: ignore[arg-type]


def bench(path: Path, repeat: int) -> dict[str, float]:
    raw_lines = path.read_bytes().splitlines()
    transcript = read_transcript(path)
    frames = [e.frame for e in transcript.entries if isinstance(e, EmitInbound)]
    scenario = scenario_for_transcript(transcript)
    events = execute(scenario, transcript=transcript).events
    baseline = best_of(repeat, lambda: [orjson.loads(line) for line in raw_lines])
    stages = {
        "read": lambda: read_transcript(path),
        "adapter": lambda: adapt_frames(frames),
        "official SDK": lambda: sdk_accumulate(frames),
        "execute": lambda: execute(scenario, transcript=transcript),
        "golden": lambda: dump_golden("b", normalize_events(events), deltas="coalesced"),
    }
    return {name: best_of(repeat, func) / baseline for name, func in stages.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("transcripts", nargs="*", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(
        f"{'transcript':<60} " + " ".join(f"{s:>13}" for s in ("read", "adapter", "official SDK", "execute", "golden"))
    )
    for path in args.transcripts:
        ratios = bench(path, args.repeat)
        print(f"{path.name[:60]:<60} " + " ".join(f"{ratios[s]:>12.1f}x" for s in ratios))


if __name__ == "__main__":
    main()
