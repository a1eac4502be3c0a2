"""The simulator finds each planted bug within its seed budget, shrinks it to a short reproduction
that replays exactly, and finds nothing in the desk with every switch off."""

from __future__ import annotations

import functools

import harness
import pytest

from planted import BUGS
from sims import desk_simulation

# bug -> (the rule that catches it, how many seeds a sweep gets to find it). Each budget is about
# three times the most seeds a sweep needed to find the bug, from any start in 0..999 (README).
CAUGHT_BY: dict[str, tuple[str, int]] = {
    "read_then_subscribe": ("desk.ui.saw_every_event", 60),
    "duplicate_terminal": ("desk.run.one_outcome", 75),
    "non_atomic_initialize": ("desk.runtime.one_initialize", 45),
    "leaked_task": ("sim.teardown.task_alive", 35),
    "session_leak": ("desk.session.closed", 35),
    "no_retry_mid_stream": ("sim.replay.diverged", 40),
    "repeat_partial_text": ("desk.text.shown_once", 40),
}
CLEAN_SEEDS = 500


@functools.cache
def target(bugs: frozenset[str]) -> harness.SimulationTarget:
    return desk_simulation(bugs)


def test_every_planted_bug_has_a_proof() -> None:
    assert set(CAUGHT_BY) == BUGS


def test_the_request_matches_the_recording() -> None:
    history = harness.run_simulation(target(frozenset()), seed=0, plan="none", policy="fifo")
    assert history.verdict == "pass", history.violations
    assert [e["type"] for e in history.events if e.get("type") in ("run.completed", "run.failed")] == ["run.completed"]
    assert all(exchange["replayed"] for exchange in history.exchanges)


@pytest.mark.parametrize("bug", sorted(CAUGHT_BY))
def test_the_simulator_finds_shrinks_and_reproduces(bug: str) -> None:
    rule, budget = CAUGHT_BY[bug]
    sim = target(frozenset({bug}))
    result = harness.sweep_simulation(sim, range(budget), jobs=1)
    assert result.groups, f"{bug}: no failure in {budget} seeds"
    group = result.groups[0]
    assert rule in group.signature.split("+"), group.signature
    shrunk = group.shrunk
    assert shrunk.signature == group.signature
    assert len(harness.FaultPlan.parse(shrunk.plan).faults) <= 2, shrunk.plan
    assert sum(1 for decision in shrunk.decisions if decision) <= 40, shrunk.schedule
    again = harness.run_simulation(sim, seed=shrunk.seed, plan=shrunk.plan, schedule=shrunk.decisions)
    assert again.signature == shrunk.signature
    assert again.digest() == shrunk.digest()


def test_the_shipped_desk_survives_every_seed() -> None:
    result = harness.sweep_simulation(target(frozenset()), range(CLEAN_SEEDS), jobs=1)
    assert result.failed == 0, [(g.signature, g.repro, g.message) for g in result.groups]
    assert result.passed > CLEAN_SEEDS // 2
