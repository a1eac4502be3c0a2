"""Long replays: indexed transcripts, a spilled event log, streamed output, no rescans, flat memory.

The transcripts here are bundled recordings whose last response is inflated with extra text
deltas, so they stay valid (the final response is restated nowhere) and replay ``completed``.
"""

from __future__ import annotations

import os
import sys
import tracemalloc
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import orjson
import pytest

from harness.cli import main
from harness.core.store import FileEventStore
from harness.errors import TranscriptError
from harness.scenario.runner import (
    execute,
    replay_summary,
    replay_transcript,
    scenario_for_transcript,
    write_replay_summary,
)
from harness.transcript import Transcript, read_transcript
from harness.transcript.io import IndexedEntries

ROOT = Path(__file__).resolve().parents[2]
TOOL_LOOP = ROOT / "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"
BUNDLED = [
    TOOL_LOOP,
    ROOT / "transcripts/anthropic/anthropic-sdk/basic_response.ndjson",
    ROOT / "transcripts/openai/pydantic-ai-cassettes/openai-responses__reasoning_summary_multipart.ndjson",
    ROOT / "transcripts/openai/pydantic-ai-cassettes/openai-chat__parallel_tool_calls_multiturn.ndjson",
    ROOT / "transcripts/t3code-extra/tool_call_restricted_granular__codex_transcript.ndjson",
]


def inflated(tmp_path: Path, extra: int, name: str = "long.ndjson") -> Path:
    """TOOL_LOOP with ``extra`` more text deltas in its last response (after its last request)."""
    lines = TOOL_LOOP.read_bytes().splitlines()
    last_request = max(i for i, line in enumerate(lines) if line.startswith(b'{"type":"expect_outbound"'))
    at = next(i for i in range(last_request, len(lines)) if b'"text_delta"' in lines[i])
    delta = orjson.loads(lines[at])
    out = tmp_path / name
    with open(out, "wb") as handle:
        handle.write(b"\n".join(lines[: at + 1]) + b"\n")
        for n in range(extra):
            delta["frame"]["data"]["delta"]["text"] = f" w{n}"
            handle.write(orjson.dumps(delta) + b"\n")
        handle.write(b"\n".join(lines[at + 1 :]) + b"\n")
    return out


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_an_indexed_transcript_reads_the_same_entries_lines_and_outbound(path: Path) -> None:
    whole = read_transcript(path, index=False)
    indexed = read_transcript(path, index=True)
    assert isinstance(indexed.entries, IndexedEntries) and isinstance(whole.entries, tuple)
    assert indexed.header == whole.header
    assert len(indexed.entries) == len(whole.entries)
    assert list(indexed.entries) == list(whole.entries)
    assert [indexed.line_of(i) for i in range(len(whole.entries))] == list(whole.lines)
    assert list(indexed.outbound()) == list(whole.outbound())
    assert indexed.has_outbound == whole.has_outbound
    assert indexed.entries[-1] == whole.entries[-1]
    assert indexed.entries[2:5] == whole.entries[2:5]


def test_an_indexed_transcript_reports_a_bad_line_exactly_as_a_whole_read(tmp_path: Path) -> None:
    lines = TOOL_LOOP.read_bytes().splitlines()
    lines[7] = b'{"type":"emit_inbound","frame":{"kind":"sse","data":{},"extra":1}}'
    path = tmp_path / "bad.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(TranscriptError) as whole:
        read_transcript(path, index=False)
    with pytest.raises(TranscriptError) as indexed:
        read_transcript(path, index=True)
    assert str(indexed.value) == str(whole.value)
    assert f"{path}:8:" in str(whole.value)


def test_a_transcript_file_that_changes_during_the_replay_is_an_error_not_other_frames(tmp_path: Path) -> None:
    path = inflated(tmp_path, 2000)
    transcript = read_transcript(path, index=True)
    assert transcript.entries[1] is not None  # first chunk read
    with open(path, "ab") as handle:
        handle.write(b"\n")
    with pytest.raises(TranscriptError, match="changed while it was being replayed") as raised:
        transcript.entries[len(transcript.entries) - 1 - 1]
    assert str(path) in str(raised.value)


def test_a_large_transcript_file_is_indexed_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.transcript.io as transcript_io

    path = inflated(tmp_path, 50)
    assert isinstance(read_transcript(path).entries, tuple)
    monkeypatch.setattr(transcript_io, "INDEX_THRESHOLD_BYTES", path.stat().st_size - 1)
    assert isinstance(read_transcript(path).entries, IndexedEntries)


def test_a_long_replay_through_the_index_and_a_spilled_log_equals_the_in_memory_one(tmp_path: Path) -> None:
    path = inflated(tmp_path, 3000)
    in_memory = replay_transcript(path)
    transcript = read_transcript(path, index=True)
    spilled = execute(
        scenario_for_transcript(transcript, path=str(path)),
        transcript=transcript,
        store=FileEventStore(tmp_path / "events.ndjson"),
    )
    assert spilled.driver.failure is None and replay_summary(in_memory)["status"] == "completed"
    assert list(spilled.iter_events()) == in_memory.events
    written: list[bytes] = []
    count = write_replay_summary(spilled, written.append)
    assert count == len(in_memory.events)
    assert b"".join(written) == orjson.dumps(replay_summary(in_memory)) + b"\n"


def test_harness_replay_json_of_a_large_transcript_prints_what_a_small_one_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    import harness.transcript.io as transcript_io

    path = inflated(tmp_path, 500)
    assert main(["replay", "--json", str(path)]) == 0
    small = capsysbinary.readouterr().out
    monkeypatch.setattr(transcript_io, "INDEX_THRESHOLD_BYTES", 0)
    assert main(["replay", "--json", str(path)]) == 0
    assert capsysbinary.readouterr().out == small
    assert orjson.loads(small)["status"] == "completed"


class CountingEntries(Sequence[Any]):
    """A transcript's entries that count how many entries anyone looked at."""

    def __init__(self, entries: Sequence[Any]) -> None:
        self.entries = entries
        self.reads = 0

    def __len__(self) -> int:
        return len(self.entries)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        found = self.entries[index]
        self.reads += len(found) if isinstance(index, slice) else 1
        return found

    def __iter__(self) -> Iterator[Any]:
        for entry in self.entries:
            self.reads += 1
            yield entry


def test_a_replay_looks_at_each_entry_a_bounded_number_of_times(tmp_path: Path) -> None:
    path = inflated(tmp_path, 4000)
    whole = read_transcript(path)
    counting = CountingEntries(whole.entries)
    transcript = Transcript(header=whole.header, entries=counting, lines=whole.lines, path=whole.path)
    execution = execute(scenario_for_transcript(transcript), transcript=transcript)
    assert execution.driver.failure is None
    assert counting.reads <= 3 * len(counting)


def _peak_bytes(path: Path, tmp_path: Path) -> int:
    tracemalloc.start()
    try:
        transcript = read_transcript(path, index=True)
        execution = execute(
            scenario_for_transcript(transcript),
            transcript=transcript,
            store=FileEventStore(tmp_path / f"{path.stem}.events.ndjson"),
        )
        write_replay_summary(execution, lambda data: None)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="tracemalloc figures are CPython's")
def test_peak_memory_of_a_long_replay_does_not_grow_with_its_length(tmp_path: Path) -> None:
    short = _peak_bytes(inflated(tmp_path, 1000, "short.ndjson"), tmp_path)
    long = _peak_bytes(inflated(tmp_path, 8000, "long.ndjson"), tmp_path)
    # Eight times the events; what may grow is the text itself (about 7 bytes a delta, held in a
    # few places) and the index (9 bytes an entry), never a Python object per event (60 bytes or
    # more each, several per event before this was made flat).
    assert long - short < 7000 * 40 + 256 * 1024, (short, long)
    assert os.environ.get("PYTHONTRACEMALLOC") is None


def test_event_origins_keep_a_line_per_event_and_read_the_label_back() -> None:
    from harness.scenario.runner import EventOrigins

    transcript = read_transcript(TOOL_LOOP)
    origins = EventOrigins(transcript)
    origins[3] = (transcript.line_of(4), transcript.entries[4].label)  # type: ignore[union-attr]
    origins[5] = (None, "made in memory")
    assert origins[3] == (transcript.line_of(4), transcript.entries[4].label)  # type: ignore[union-attr]
    assert origins[5] == (None, "made in memory")
    assert origins.get(4) is None and origins.get(99) is None
    assert list(origins) == [3, 5] and len(origins) == 2
    del origins[3]
    assert list(origins) == [5]
    with pytest.raises(KeyError):
        del origins[3]


def test_harness_replay_of_a_scenario_with_a_large_transcript_spills_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    import harness.core.store as store_module
    import harness.scenario.runner as runner_module
    import harness.transcript.io as transcript_io

    scenario = ROOT / "scenarios/t3code/codex/provider_thread_resume.yaml"
    assert main(["replay", "--json", str(scenario)]) == 0
    small = capsysbinary.readouterr().out
    made: list[Path] = []

    class Recorded(store_module.FileEventStore):
        def __init__(self, path: Path | str) -> None:
            made.append(Path(path))
            super().__init__(path)

    monkeypatch.setattr(runner_module, "FileEventStore", Recorded)
    monkeypatch.setattr(transcript_io, "INDEX_THRESHOLD_BYTES", 0)
    assert main(["replay", "--json", str(scenario)]) == 0
    assert capsysbinary.readouterr().out == small
    assert len(made) == 1 and not made[0].exists()  # the scratch log is gone afterwards


@pytest.mark.parametrize(
    "scenario",
    ["scenarios/anthropic/tool_loop_two_requests.yaml", "scenarios/t3code/codex/provider_thread_resume.yaml"],
)
def test_a_scenario_run_on_a_large_transcript_spills_and_reports_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: str
) -> None:
    import harness.transcript.io as transcript_io
    from harness.analysis import query
    from harness.report.writer import write_reports
    from harness.scenario import load_scenario, run_scenario

    def run(folder: str) -> tuple[Any, dict[str, bytes]]:
        result = run_scenario(load_scenario(ROOT / scenario), goldens_dir=ROOT / "fixtures" / "goldens")
        write_reports(tmp_path / folder, results=[result], transcripts=[result.execution.transcript])
        logs = {p.name: p.read_bytes() for p in sorted((tmp_path / folder / "events").glob("*.ndjson"))}
        return result, logs

    small, small_logs = run("small")
    assert small.execution.scratch is None
    monkeypatch.setattr(transcript_io, "INDEX_THRESHOLD_BYTES", 0)
    large, large_logs = run("large")
    assert isinstance(large.execution.orchestrator.store, FileEventStore)  # the log spilled to disk
    scratch = Path(large.execution.scratch.name) if large.execution.scratch else None
    assert scratch is not None and scratch.is_dir()
    assert large.failures == [] and large.golden_outcome == "matched"
    assert large_logs == small_logs and large_logs
    for table in ("events", "runs", "violations", "verdicts"):
        rows = f"SELECT * FROM {table} ORDER BY ALL"
        in_memory = query(tmp_path / "small" / "harness.duckdb", rows).rows
        assert query(tmp_path / "large" / "harness.duckdb", rows).rows == in_memory, table
    large.execution.close()
    assert not scratch.exists()
