"""The simulation benchmark runs, reports a ratio per target, and refuses to time failing runs.

``benchmarks/bench_simulate.py`` times simulated runs against a plain replay of the same
transcript; these tests run it on tiny settings and check what it reports, never how fast.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import orjson
import pytest

import harness

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_simulate  # noqa: E402

SEEDS = 2


def test_a_quick_run_on_every_target(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_json = tmp_path / "out.json"
    assert bench_simulate.main(["--quick", "--seeds", str(SEEDS), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    for name in bench_simulate.TARGETS:
        assert re.search(rf"^{name}: \S+; replay = ", out, re.MULTILINE), name
    assert re.search(r"^sim / replay +\d+\.\d\dx \[", out, re.MULTILINE)
    data = orjson.loads(out_json.read_bytes())
    assert data["seeds"] == SEEDS and data["rounds"] == 2 and data["warmup"] is False
    by_target = {t["target"]: t for t in data["targets"]}
    assert set(by_target) == set(bench_simulate.TARGETS)
    for name, measured in by_target.items():
        assert not measured["failed"], name
        assert len(measured["seconds"]["replay"]) == 2
        for ratio in ("sim/replay", "sim(no faults)/replay", "sweep/replay", "sim/replay(parsed)"):
            assert len(measured["ratios"][ratio]) == 2 and all(r > 0 for r in measured["ratios"][ratio]), ratio
        for contender in bench_simulate.SIMULATED:
            counts = measured["verdicts"][contender]
            assert sum(counts.values()) == SEEDS and counts["fail"] == 0, (name, contender)
        assert measured["faults"]["sim(no faults)"] == {"planned": 0, "fired": 0}
        assert not measured["changed"]  # the same seeds did the same work in both rounds
    assert len(by_target["example"]["ratios"]["sim/app(asyncio)"]) == 2
    assert "sim/app(asyncio)" not in by_target["http"]["ratios"]


def test_a_failing_run_makes_the_benchmark_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The desk with ``duplicate_terminal`` on fails at seed 0 (the scheduler interleaves the two
    paths that finalize the run): the benchmark reports it instead of timing it."""
    bench_simulate.desk_target()  # puts examples/planted-bugs on sys.path
    from sims import desk_simulation

    monkeypatch.setattr(bench_simulate, "desk_target", lambda: desk_simulation(frozenset({"duplicate_terminal"})))
    assert bench_simulate.main(["--quick", "--seeds", "1", "--targets", "example"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^FAILED example: sim: 1 of 1 runs failed \(seeds 0\); seed 0: desk\.run\.one_outcome", out, re.M)


def test_a_broken_replay_is_a_failure(tmp_path: Path) -> None:
    """The baseline checks its replay: a golden that does not match is a failure, not a time."""
    target = bench_simulate.make_target("http")
    golden = tmp_path / "golden.ndjson"
    bench_simulate.write_golden(target, golden)
    stages: dict[str, float] = {}
    bench_simulate.replay_once(target, golden, stages)
    assert set(stages) == set(bench_simulate.STAGES)
    golden.write_bytes(golden.read_bytes().replace(b"thread.created", b"thread.renamed", 1))
    with pytest.raises(harness.GoldenMismatch):
        bench_simulate.replay_once(target, golden, stages)
