"""Sweeps: many seeds of one target, failures grouped by signature, each shrunk to a one-line reproduction.

A *target* is a simulation target of the user's code (:class:`~harness.simulate.target.SimulationTarget`,
named ``path/to/file.py::name`` or ``package.module:name``) or a scenario file of the harness's own
core (``scenarios/.../x.yaml``, :mod:`harness.simulate.core`). :func:`run_one` runs one seed (or one
explicit plan and schedule) of either; :func:`sweep` runs a range of seeds, in this process or in
batches on worker processes or a Ray cluster (:mod:`harness.simulate.executors`), and returns the
runs sorted by seed, so the result never depends on how the seeds were split.

Shrinking (:func:`shrink`) is deterministic and independent of Hypothesis: it removes faults one at
a time while the failure keeps its signature, then tries the FIFO schedule, the shortest failing
prefix of the decision list and zeroed decisions, within a budget of runs. The reproduction line
holds the decisions themselves (``--plan '...' --schedule '...'``), so it reproduces the run exactly
whatever version of Hypothesis or of this module chose them.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.simulate.faults import Fault, FaultPlan
from harness.simulate.history import History
from harness.simulate.target import SimulationTarget, load_target, run_target

Target = SimulationTarget | str
SHRINK_BUDGET = 250
"""Most runs a shrink may spend."""


def is_scenario_ref(ref: str) -> bool:
    return ref.endswith((".yaml", ".yml")) and "::" not in ref


def _resolve(target: Target) -> SimulationTarget | str:
    """A user target object, or the path of a scenario file."""
    if isinstance(target, SimulationTarget):
        return target
    if is_scenario_ref(target):
        if not Path(target).is_file():
            raise UsageError(f"{target}: no such scenario file")
        from harness.simulate.core import _loaded

        _loaded(target)  # a scenario that cannot be simulated says so before any seed runs
        return target
    return load_target(target)


def ref_of(target: Target) -> str:
    if isinstance(target, SimulationTarget):
        return target.ref or target.name
    return target


def run_one(
    target: Target,
    *,
    seed: int | None = None,
    plan: FaultPlan | str | None = None,
    schedule: Sequence[int] | str | None = None,
    policy: str | None = None,
    kinds: Iterable[str] | None = None,
) -> History:
    """One simulated run of ``target`` (user code or a scenario of the core)."""
    resolved = _resolve(target)
    if isinstance(resolved, SimulationTarget):
        return run_target(resolved, seed=seed, plan=plan, schedule=schedule, policy=policy, kinds=kinds)
    from harness.simulate.core import run_scenario

    return run_scenario(resolved, seed=seed, plan=plan, schedule=schedule, policy=policy, kinds=kinds)


def _work(
    target: Target, kinds: tuple[str, ...] | None, policy: str | None, seeds: Sequence[int]
) -> list[dict[str, Any]]:
    """One batch of seeds (a module-level function, so that workers can unpickle it)."""
    out = []
    for seed in seeds:
        history = run_one(target, seed=seed, kinds=kinds, policy=policy)
        out.append(summary(history))
    return out


def summary(history: History) -> dict[str, Any]:
    """What a sweep keeps of a run (the events stay behind)."""
    return {
        "seed": history.seed,
        "plan": history.plan,
        "policy": history.policy,
        "schedule": history.schedule,
        "decisions": len(history.decisions),
        "verdict": history.verdict,
        "signature": history.signature,
        "digest": history.digest(),
        "faults": history.faults,
        "violations": [v.to_json() for v in history.violations],
        "outcome": history.outcome,
        "steps": history.steps,
        "virtual_ms": history.virtual_ms,
        "events": len(history.events),
    }


@dataclass
class FailureGroup:
    """The failing runs of one signature, and the shrunk reproduction of the first."""

    signature: str
    seeds: list[int]
    shrunk: History
    repro: str
    message: str
    crashes: list[int] = field(default_factory=list)
    """In a sweep of crash points (:func:`sweep_crashes`): the events after which a crash failed this way."""

    @property
    def runs(self) -> int:
        return len(self.seeds) or len(self.crashes)


@dataclass
class SweepResult:
    target: str
    runs: list[dict[str, Any]]
    groups: list[FailureGroup] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.runs if r["verdict"] == "fail")

    @property
    def vacuous(self) -> int:
        return sum(1 for r in self.runs if r["verdict"] == "vacuous")

    @property
    def passed(self) -> int:
        return sum(1 for r in self.runs if r["verdict"] == "pass")

    @property
    def ok(self) -> bool:
        return self.failed == 0


def sweep(
    target: Target,
    seeds: Sequence[int],
    *,
    kinds: Iterable[str] | None = None,
    policy: str | None = None,
    jobs: int = 1,
    executor: str = "local",
    ray_address: str | None = None,
    shrink_failures: bool = True,
    on_batch: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run ``target`` for every seed, group failures by signature and shrink one of each.

    With ``jobs > 1`` or the Ray executor, ``target`` must be a reference (a string) the workers can
    load; the results are the same as with ``jobs=1``.
    """
    from harness.simulate.executors import sweep as run_sweep

    kinds_tuple = tuple(kinds) if kinds is not None else None
    resolved = _resolve(target)
    if (jobs > 1 or executor != "local") and not isinstance(target, str):
        raise UsageError(
            "a sweep on several workers needs the target by reference (path/to/file.py::name or a scenario path)"
        )
    work = partial(_work, target if isinstance(target, str) else resolved, kinds_tuple, policy)
    runs = run_sweep(work, list(seeds), jobs=jobs, executor=executor, ray_address=ray_address, on_batch=on_batch)  # type: ignore[arg-type]
    result = SweepResult(target=ref_of(target), runs=sorted(runs, key=lambda r: r["seed"]))
    by_signature: dict[str, list[dict[str, Any]]] = {}
    for run in result.runs:
        if run["verdict"] == "fail":
            by_signature.setdefault(run["signature"], []).append(run)
    for signature in sorted(by_signature, key=lambda s: (by_signature[s][0]["seed"], s)):
        failing = by_signature[signature]
        first = failing[0]
        history = run_one(resolved, seed=first["seed"], kinds=kinds_tuple, policy=policy)
        if shrink_failures:
            history = shrink(resolved, history)
        result.groups.append(
            FailureGroup(
                signature=signature,
                seeds=[r["seed"] for r in failing],
                shrunk=history,
                repro=repro_line(ref_of(target), history),
                message=history.violations[0].message if history.violations else "",
            )
        )
    return result


def sweep_crashes(
    scenario: str, *, plan: FaultPlan | str = "none", on_batch: Callable[[int, int], None] | None = None
) -> SweepResult:
    """Crash the core after every event ``k`` of the run (``crash@1`` to ``crash@N``), recover each
    time on the same durable store, and judge every run; ``plan`` adds the same other faults to each.

    Exhaustive where a seed sweep samples crash points. Runs carry ``seed`` null; failures are
    grouped by signature, the first crash point of each is its reproduction (a single crash fault
    needs no shrinking).
    """
    from harness.simulate.core import crash_points

    if not is_scenario_ref(scenario):
        raise UsageError(f"{scenario}: crashing after every event needs a scenario of the core (a .yaml file)")
    _resolve(scenario)
    base = FaultPlan.parse(plan) if isinstance(plan, str) else plan
    if any(f.kind == "crash" for f in base.faults):
        raise UsageError(f"the plan {base.encode()!r} already crashes; every crash point is tried in turn")
    points = crash_points(scenario, base)
    histories: list[History] = []
    for done, after in enumerate(points, start=1):
        crash = FaultPlan(faults=(*base.faults, Fault(kind="crash", at=after)))
        histories.append(run_one(scenario, plan=crash))
        if on_batch is not None:
            on_batch(done, len(points))
    result = SweepResult(target=scenario, runs=[summary(h) for h in histories])
    failing: dict[str, list[tuple[int, History]]] = {}
    for after, history in zip(points, histories, strict=True):
        if history.verdict == "fail":
            failing.setdefault(history.signature, []).append((after, history))
    for signature, found in failing.items():
        history = found[0][1]
        result.groups.append(
            FailureGroup(
                signature=signature,
                seeds=[],
                shrunk=history,
                repro=repro_line(scenario, history),
                message=history.violations[0].message,
                crashes=[after for after, _ in found],
            )
        )
    return result


def shrink(target: Target, history: History, *, budget: int = SHRINK_BUDGET) -> History:
    """A smaller run with the same failure signature: fewer faults, then a simpler schedule."""
    signature = history.signature
    if not signature:
        return history
    spent = 0

    def attempt(plan: FaultPlan, decisions: Sequence[int]) -> History | None:
        nonlocal spent
        if spent >= budget:
            return None
        spent += 1
        found = run_one(target, seed=history.seed, plan=plan, schedule=list(decisions))
        if found.verdict == "fail" and found.signature == signature:
            return found
        return None

    plan = FaultPlan.parse(history.plan)
    best = history
    # The run replayed from its own plan and decisions must fail the same way; if the target is
    # not deterministic it does not, and shrinking would chase noise.
    again = attempt(plan, best.decisions)
    if again is None:
        return history
    best = again
    changed = True
    while changed and spent < budget:
        changed = False
        for index in reversed(range(len(plan.faults))):
            candidate = plan.without(index)
            found = attempt(candidate, best.decisions)
            if found is not None:
                plan, best, changed = candidate, found, True
    decisions = list(best.decisions)
    fifo = attempt(plan, [])
    if fifo is not None:
        return fifo
    # The shortest failing prefix (the rest defaults to FIFO), by bisection.
    low, high = 0, len(decisions)
    while low < high and spent < budget:
        middle = (low + high) // 2
        found = attempt(plan, decisions[:middle])
        if found is not None:
            high, best = middle, found
        else:
            low = middle + 1
    decisions = decisions[:high]
    for index in reversed(range(len(decisions))):
        if spent >= budget:
            break
        if decisions[index] == 0:
            continue
        zeroed = [*decisions[:index], 0, *decisions[index + 1 :]]
        found = attempt(plan, zeroed)
        if found is not None:
            decisions, best = zeroed, found
    return best


def repro_line(ref: str, history: History) -> str:
    """The command that reruns exactly this run: its plan and its decisions."""
    parts = ["harness", "simulate", ref]
    if history.seed is not None:
        parts += ["--seed", str(history.seed)]
    parts += ["--plan", history.plan]
    schedule = history.schedule
    if history.policy == "crash":
        return shlex.join(parts)  # a crash run of the core is not scheduled
    parts += ["--schedule", schedule] if schedule else ["--policy", "fifo"]
    return shlex.join(parts)
