"""``harness db build`` at scale: :func:`build_database` against a raw DuckDB ``read_json`` ingest.

The input is N scenario results of 2,000 stored events each (so 1,000 scenarios give 2M event
rows): one synthetic Anthropic text stream of 1,990 deltas is replayed once and its result cloned
under distinct scenario names, all replaying the same transcript (with ``--own-transcripts``,
each its own copy, so ``frames`` gets as many rows as ``events``). The baseline is the cheapest
load of the same event rows DuckDB can do: ``CREATE TABLE ... AS SELECT * FROM read_json(file,
columns={...})`` of an NDJSON file written beforehand, with the same explicit column types, into
a fresh database file. Runs are interleaved and the median of each is reported, with ``raw /
build`` (1.0 = as fast as the raw ingest; the goal is >= 0.5), the same ratio of CPU seconds
(all threads; steadier than wall time on a busy machine) and the build's peak memory, measured
in a child process::

    python benchmarks/bench_db.py [--scenarios N] [--rounds R] [--own-transcripts] [--no-memory]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import orjson

from harness.analysis import build_database
from harness.scenario import ScenarioResult, run_scenario, scenario_for_transcript
from harness.transcript import read_transcript

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "transcripts/anthropic/pydantic-ai-cassettes/anthropic__plain_text_stream.ndjson"
DELTAS = 1990  # + 10 lifecycle events = 2,000 events per scenario

EVENT_COLUMNS = (
    "{scenario: 'VARCHAR', sequence: 'INTEGER', event_id: 'VARCHAR', type: 'VARCHAR', thread_id: 'VARCHAR', "
    "run_id: 'VARCHAR', command_id: 'VARCHAR', at_ms: 'BIGINT', data: 'JSON'}"
)


def synthetic_transcript(directory: Path) -> Path:
    """The bundled plain-text stream with its one text delta replaced by ``DELTAS`` timed ones."""
    lines = SOURCE.read_bytes().splitlines()
    (delta_at,) = [i for i, line in enumerate(lines) if b'"label":"content_block_delta"' in line]
    deltas = [
        orjson.dumps(
            {
                "type": "emit_inbound",
                "label": "content_block_delta",
                "afterMs": 3 + i % 7,
                "frame": {
                    "kind": "sse",
                    "event": "content_block_delta",
                    "data": {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": f"w{i} "},
                    },
                },
            }
        )
        for i in range(DELTAS)
    ]
    path = directory / "bench_stream.ndjson"
    path.write_bytes(b"\n".join([*lines[:delta_at], *deltas, *lines[delta_at + 1 :]]) + b"\n")
    return path


def scenario_results(scenarios: int, directory: Path, *, own_transcripts: bool = False) -> list[ScenarioResult]:
    """``scenarios`` results with distinct names sharing one replay (its events are not copied);
    with ``own_transcripts`` each replayed a transcript of its own (entries shared, path not)."""
    path = synthetic_transcript(directory)
    scenario = scenario_for_transcript(read_transcript(path))
    scenario = scenario.model_copy(
        update={"transcript": str(path), "expect": scenario.expect.model_copy(update={"golden": False})}
    )
    result = run_scenario(scenario, goldens_dir=directory / "goldens")
    assert result.passed and len(result.execution.events) == DELTAS + 10, result.failures
    clones = []
    for i in range(scenarios):
        execution = result.execution
        if own_transcripts:
            transcript = dataclasses.replace(execution.transcript, path=str(directory / f"bench_{i:05d}.ndjson"))
            execution = dataclasses.replace(execution, transcript=transcript)
        name = f"bench_{i:05d}"
        clones.append(
            dataclasses.replace(result, execution=execution, declared=scenario.model_copy(update={"name": name}))
        )
    return clones


def write_event_rows(path: Path, results: list[ScenarioResult]) -> int:
    """The ``events`` rows of ``results`` as NDJSON, as the raw baseline reads them; the row count."""
    count = 0
    with open(path, "wb") as handle:
        for result in results:
            name = result.scenario.name
            for event in result.execution.events:
                handle.write(orjson.dumps({"scenario": name, **event.to_json()}, option=orjson.OPT_APPEND_NEWLINE))
                count += 1
    return count


def raw_ingest(rows_file: Path, db_path: Path) -> None:
    with duckdb.connect(str(db_path)) as conn:
        conn.execute(
            "CREATE TABLE events AS SELECT * FROM "
            f"read_json(?, format = 'newline_delimited', columns = {EVENT_COLUMNS})",
            [str(rows_file)],
        )
        conn.execute("CHECKPOINT")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the process, DuckDB's included
    return usage.ru_utime + usage.ru_stime


def _timed(func: Callable[[], Any]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``func()``."""
    start, cpu = time.perf_counter(), _cpu()
    func()
    return time.perf_counter() - start, _cpu() - cpu


def _fresh(path: Path) -> Path:
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    return path


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def peak_memory(scenarios: int, *, own_transcripts: bool = False) -> dict[str, float]:
    """The build's own peak memory, in a child process: its peak resident set during the build less
    its resident set before it (Linux: the high-water mark is reset first; elsewhere ru_maxrss)."""
    command = [sys.executable, __file__, "--child-build", str(scenarios)]
    if own_transcripts:
        command.append("--own-transcripts")
    child = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(child.stdout.splitlines()[-1]))


def _child_build(scenarios: int, *, own_transcripts: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench_db_") as tmp:
        directory = Path(tmp)
        results = scenario_results(scenarios, directory, own_transcripts=own_transcripts)
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident set
            before = _status_kib("VmRSS")
        except OSError:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        seconds, _ = _timed(lambda: build_database(directory / "build.duckdb", results=results))
        try:
            after = _status_kib("VmHWM")
        except OSError:
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = {"inputs_mib": before / 1024, "peak_mib": after / 1024, "build_mib": (after - before) / 1024}
    print(json.dumps({**report, "seconds": seconds}))


def measure(
    scenarios: int = 1000, rounds: int = 3, *, memory: bool = True, own_transcripts: bool = False
) -> dict[str, Any]:
    """Time ``build_database`` and the raw ingest over the same event rows (median of ``rounds``,
    interleaved); with ``memory``, also the build's peak memory in a child process."""
    with tempfile.TemporaryDirectory(prefix="bench_db_") as tmp:
        directory = Path(tmp)
        results = scenario_results(scenarios, directory, own_transcripts=own_transcripts)
        rows_file = directory / "events.ndjson"
        event_rows = write_event_rows(rows_file, results)
        raw_times: list[tuple[float, float]] = []
        build_times: list[tuple[float, float]] = []
        total_rows = 0

        def build() -> None:
            nonlocal total_rows
            summary = build_database(_fresh(directory / "build.duckdb"), results=results)
            total_rows = sum(summary.rows.values())

        for round_ in range(rounds):
            steps = [
                (raw_times, lambda: raw_ingest(rows_file, _fresh(directory / "raw.duckdb"))),
                (build_times, build),
            ]
            for times, func in steps if round_ % 2 == 0 else reversed(steps):
                times.append(_timed(func))
    raw, built = statistics.median(t for t, _ in raw_times), statistics.median(t for t, _ in build_times)
    raw_cpu, build_cpu = statistics.median(c for _, c in raw_times), statistics.median(c for _, c in build_times)
    report: dict[str, Any] = {
        "scenarios": scenarios,
        "event_rows": event_rows,
        "build_rows": total_rows,
        "raw_s": raw,
        "build_s": built,
        "ratio": raw / built,
        "raw_cpu_s": raw_cpu,
        "build_cpu_s": build_cpu,
        "cpu_ratio": raw_cpu / build_cpu,
        "raw_rows_per_s": event_rows / raw,
        "build_rows_per_s": total_rows / built,
    }
    if memory:
        measured = peak_memory(scenarios, own_transcripts=own_transcripts)
        report.update({f"memory_{key}": value for key, value in measured.items()})
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scenarios", type=int, default=1000, help="scenario results of 2,000 events each")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--own-transcripts", action="store_true", help="one transcript per scenario (2M frames too)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory child process")
    parser.add_argument("--child-build", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_build is not None:
        _child_build(args.child_build, own_transcripts=args.own_transcripts)
        return
    r = measure(args.scenarios, args.rounds, memory=not args.no_memory, own_transcripts=args.own_transcripts)
    print(f"{r['scenarios']} scenarios, {r['event_rows']:,} event rows ({r['build_rows']:,} rows in all tables)")
    for label, key, rows in (("raw read_json ingest", "raw", "event_rows"), ("build_database", "build", "build_rows")):
        seconds, cpu = r[f"{key}_s"], r[f"{key}_cpu_s"]
        print(f"  {label:<20}  {seconds:8.2f} s  {r[rows] / seconds:>12,.0f} rows/s  {cpu:8.2f} s CPU")
    print(f"  raw / build           {r['ratio']:8.2f}    (goal >= 0.5; CPU time: {r['cpu_ratio']:.2f})")
    if args.own_transcripts:
        print("  (the raw ingest loads the event rows only; the build loads as many frame rows besides)")
    if "memory_build_mib" in r:
        print(
            f"  build peak memory     {r['memory_build_mib']:8.0f} MiB above the inputs "
            f"({r['memory_inputs_mib']:.0f} MiB before the build, {r['memory_peak_mib']:.0f} MiB peak RSS; "
            f"{r['memory_seconds']:.1f} s in the child)"
        )


if __name__ == "__main__":
    main()
