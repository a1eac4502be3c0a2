"""Simulating the harness's own core: a scenario under seeded faults and crash-restart.

:func:`run_scenario` replays a scenario file through the :class:`~harness.core.Orchestrator` with
its transcript rewritten by a fault plan (:mod:`harness.simulate.faults`) and judges the run:

* the core's invariants (:mod:`harness.core.invariants`) hold on the log, every run ends in a
  terminal status, and no run ends with ``internal_error`` (an exception escaped the core);
* when every fault that fired is *benign* (stalls, slow streams, reordered JSON-RPC answers) or
  none fired, the outcome is the fault-free run's: the same projection apart from timestamps, and
  the recording wholly served. The reference core does not retry, so after a *retry* fault the run
  must end ``failed``, cleanly; after a runtime ``exit`` or corrupted data it must fail closed.

``crash@K`` crashes the orchestrator right after the K-th event is durable in a SQLite store
(:class:`SimulatedCrash` is a ``BaseException``: nothing in the core may catch it), then recovers
the way an event-sourced process does: a new instance re-executes the scenario's commands from the
start against a fresh runtime adapter and replay, with the reopened store checking that every
event it would write up to K is the one already stored (:class:`RecoveringStore`) and appending
the rest. The run passes when the recovered log is contiguous, equal to the uninterrupted run's
log, and dispatching every command again with its id returns the stored receipt and writes nothing.

Rules (ids): ``core.*``/``integrity.*`` (the invariant catalogue), ``sim.core.run_not_terminal``
(a run left starting, running or waiting),
``sim.core.internal_error``, ``sim.core.outcome_changed``, ``sim.replay.diverged``,
``sim.core.nondeterministic``, ``sim.core.sequence_gap``, ``sim.core.receipt_not_idempotent``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from harness.core import Orchestrator, Projection
from harness.core.commands import MessageDispatch, ThreadCreate
from harness.core.events import NewEvent, StoredEvent
from harness.core.invariants import check_invariants
from harness.core.live import LiveCore, Subscription
from harness.core.projection import ACTIVE_RUN_STATUSES
from harness.core.sqlite_store import SqliteEventStore
from harness.errors import HarnessError, UsageError
from harness.replay.driver import ReplayDriver, ReplayLink
from harness.scenario.model import OrchestratorRestart, Scenario, load_scenario
from harness.scenario.runner import StepRunner, _execute, _http_runtime, _runtime_adapter_options
from harness.simulate.faults import FAULT_KINDS, Fault, FaultPlan, apply_plan, plan_for_seed
from harness.simulate.history import Finding, History, decode_schedule, history_timeline
from harness.simulate.loop import Deadlock, Policy, Replay, SimLoop, choose_policy, no_cyclic_gc
from harness.simulate.seeds import Rng, derive
from harness.transcript import Transcript, read_transcript

VOLATILE = ("at_ms", "started_at", "ended_at", "updated_at", "created_at", "completed_at")
CORE_KINDS = ("status", "stream_error", "reset", "truncate", "stall", "slow", "exit", "reorder", "crash")
"""Fault kinds a seed chooses among for a scenario by default (those that apply to its transport)."""


class SimulatedCrash(BaseException):
    """The orchestrator process dies here (a ``BaseException``, so the core cannot handle it)."""


class CrashingStore:
    """A store that lets ``after`` events become durable, then crashes on the next append."""

    def __init__(self, inner: SqliteEventStore, after: int) -> None:
        self.inner = inner
        self.after = after

    def batch(self) -> contextlib.AbstractContextManager[None]:
        return self.inner.batch()

    def append(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        if self.inner.last_sequence + len(events) > self.after:
            keep = self.after - self.inner.last_sequence
            if keep > 0:
                self.inner.append(events[:keep])
            raise SimulatedCrash(f"crash after event {self.after}")
        return self.inner.append(events)

    def read(self, after: int = 0) -> list[StoredEvent]:
        return self.inner.read(after)

    def iter_events(self, after: int = 0) -> Iterator[StoredEvent]:
        return self.inner.iter_events(after)

    @property
    def last_sequence(self) -> int:
        return self.inner.last_sequence


class Nondeterminism(HarnessError):
    """The recovering instance would write an event other than the one stored at that sequence."""


class RecoveringStore:
    """The reopened durable store as a recovering instance sees it: it starts empty; each append
    up to the durable tail must equal the stored event (it is not written again); later appends
    are written."""

    def __init__(self, durable: SqliteEventStore) -> None:
        self.durable = durable
        self.stored = durable.read()
        self._position = 0

    def batch(self) -> contextlib.AbstractContextManager[None]:
        return self.durable.batch() if self._position >= len(self.stored) else contextlib.nullcontext()

    def append(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        out: list[StoredEvent] = []
        for new in events:
            if self._position < len(self.stored):
                recorded = self.stored[self._position]
                candidate = new.stored(self._position + 1)
                if _identity(candidate) != _identity(recorded):
                    raise Nondeterminism(
                        f"event {recorded.sequence}: the recovering instance writes {_identity(candidate)} "
                        f"where the store holds {_identity(recorded)}"
                    )
                self._position += 1
                out.append(recorded)
            else:
                out.extend(self.durable.append([new]))
                self._position += 1
        return out

    def read(self, after: int = 0) -> list[StoredEvent]:
        return list(self.iter_events(after))

    def iter_events(self, after: int = 0) -> Iterator[StoredEvent]:
        for event in self.durable.iter_events(after):
            if event.sequence > self._position:
                break
            yield event

    @property
    def last_sequence(self) -> int:
        return self._position


def _identity(event: StoredEvent) -> dict[str, Any]:
    return {
        "type": event.type,
        "data": event.data,
        "thread_id": event.thread_id,
        "run_id": event.run_id,
        "command_id": event.command_id,
        "at_ms": event.at_ms,
    }


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def outcome_of(events: Iterable[StoredEvent]) -> dict[str, Any]:
    """The projection of a log without its timestamps: what faults that only delay must not change."""
    projection = Projection()
    for event in events:
        projection.apply(event)
    return _strip(projection.to_json())  # type: ignore[no-any-return]


def _first_difference(a: Any, b: Any, path: str = "$") -> str | None:
    if type(a) is not type(b):
        return f"{path}: {str(a)[:80]} vs {str(b)[:80]}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}: present in only one"
            found = _first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} elements"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {str(a)[:80]} vs {str(b)[:80]}"


@cache
def _loaded(path: str) -> tuple[Scenario, Transcript]:
    scenario = load_scenario(path)
    if scenario.variants:
        raise UsageError(
            f"{path}: a scenario with variants compares several recordings; simulate each variant's own "
            "scenario (one transcript) instead"
        )
    return scenario, read_transcript(scenario.transcript_path())


@cache
def _baseline(path: str) -> tuple[list[StoredEvent], dict[str, Any]]:
    scenario, transcript = _loaded(path)
    execution = _execute(scenario, transcript, store=None, seed=scenario.seed)
    events = list(execution.iter_events())
    return events, outcome_of(events)


def run_scenario(
    path: str,
    *,
    seed: int | None = None,
    plan: FaultPlan | str | None = None,
    schedule: Sequence[int] | str | None = None,
    policy: str | None = None,
    kinds: Iterable[str] | None = None,
) -> History:
    """One simulated run of a scenario of the core; see the module docstring.

    With a ``seed``, the plan and the scheduling policy come from it unless given; an explicit
    ``plan`` and ``schedule`` (a decision list or its text) reproduce a run exactly.
    """
    scenario, transcript = _loaded(path)
    baseline_events, baseline = _baseline(path)
    if isinstance(plan, str):
        plan = FaultPlan.parse(plan)
    if plan is None:
        plan = _plan(seed, transcript, tuple(kinds) if kinds is not None else CORE_KINDS, len(baseline_events))
    crash = next((f for f in plan.faults if f.kind == "crash"), None)
    faulted = apply_plan(FaultPlan(faults=tuple(f for f in plan.faults if f.kind != "crash")), transcript)
    chosen: Policy
    if schedule is not None:
        chosen = Replay(decode_schedule(schedule) if isinstance(schedule, str) else schedule)
    else:
        chosen = choose_policy(seed, policy or "mixed")
    history = History(target=path, seed=seed, plan=plan.encode(), policy="crash" if crash else chosen.name)
    history.commands = [step.model_dump(mode="json", exclude_none=True) for step in scenario.commands]
    findings: list[Finding] = []
    if crash is not None:
        events, cursor, failure, crashed = _crash_and_recover(scenario, faulted.transcript, crash.at, findings)
    else:
        runner = LiveRunner(chosen, seed, history)
        with no_cyclic_gc():
            try:
                execution = _execute(scenario, faulted.transcript, store=None, seed=scenario.seed, runner=runner)
            finally:
                runner.close()
        events = list(execution.iter_events())
        cursor, failure = execution.driver.cursor, execution.driver.failure
        findings.extend(runner.findings)
        findings.extend(runner.check(events[-1].sequence if events else 0))
    fired = faulted.fired(cursor)
    history.faults = [{"fault": a.fault.encode(), "fired": did} for a, did in zip(faulted.applied, fired, strict=True)]
    history.faults += [{"fault": s.fault.encode(), "fired": False, "skipped": s.reason} for s in faulted.skipped]
    if crash is not None:
        history.faults.append({"fault": crash.encode(), "fired": crashed})
    history.events = [e.to_json() for e in events]
    for violation in check_invariants(events):
        if violation.severity == "error":
            findings.append(Finding(violation.rule, violation.message, violation.sequence))
    outcome = outcome_of(events)
    for run in outcome["runs"]:
        if run["status"] in ACTIVE_RUN_STATUSES:
            findings.append(Finding("sim.core.run_not_terminal", f"run {run['run_id']} ends {run['status']!r}"))
        error = run.get("error")
        if isinstance(error, dict) and error.get("type") == "internal_error":
            findings.append(Finding("sim.core.internal_error", f"run {run['run_id']}: {error.get('message')}"))
    categories = {FAULT_KINDS[f["fault"].partition("@")[0]].category for f in history.faults if f.get("fired")}
    if categories <= {"benign", "crash"}:
        difference = _first_difference(baseline, outcome)
        if difference is not None:
            findings.append(Finding("sim.core.outcome_changed", f"the fault-free run differs at {difference}"))
        if failure is not None and crash is None:
            findings.append(Finding("sim.replay.diverged", str(failure)))
    history.violations = findings
    history.virtual_ms = events[-1].at_ms if events else 0
    if crash is not None:
        history.steps = len(events)
    # The core's recording is served by the replay driver, not over a transport: its faults are
    # listed without a step.
    history.timeline = history_timeline(
        decisions=[] if crash is not None else runner.loop.decision_log, points=history.points, faults=history.faults
    )
    return history


class LiveRunner(StepRunner):
    """Runs a scenario's steps through a :class:`~harness.core.live.LiveCore` on a
    :class:`~harness.simulate.loop.SimLoop`, with two subscribers following the log.

    The first subscribes to the whole log before the first step; the second joins before a
    step the seed chooses, from a sequence the seed chooses (a reader resuming from its
    checkpoint). Each step runs on the loop while the subscribers run alongside it, in the order
    the policy decides; the named yield points passed go into the history. When the steps are
    done the core is closed and the subscribers drain; :meth:`check` then holds each to having
    received every event after its starting point exactly once, in order.
    """

    def __init__(self, policy: Policy, seed: int | None, history: History) -> None:
        self.loop = SimLoop(policy)
        self.history = history
        self.loop.on_point = self._point
        self.rng = Rng(derive(seed if seed is not None else 0, "subscribers"))
        self.live: LiveCore | None = None
        self.step = 0
        self.join_at = 1 + self.rng.below(max(1, len(history.commands) or 2))
        self.readers: list[tuple[Subscription, list[int], asyncio.Task[None]]] = []
        self.findings: list[Finding] = []

    def _point(self, name: str, detail: str | None) -> None:
        self.history.points.append([name, detail, self.loop.steps])

    def _follow(self, after: int) -> None:
        assert self.live is not None
        subscription = self.live.subscribe(after)
        received: list[int] = []

        async def read() -> None:
            async for event in subscription:
                received.append(event.sequence)

        self.readers.append((subscription, received, self.loop.create_task(read())))

    def run(self, orchestrator: Orchestrator, operation: Callable[[], Any], name: str, detail: str | None) -> Any:
        if self.live is None:
            self.live = LiveCore(orchestrator)
            self._follow(0)
        self.live.orchestrator = orchestrator
        self.step += 1
        if self.step == self.join_at:
            self._follow(self.rng.between(0, orchestrator.store.last_sequence))
        return self.loop.run_until_complete(self.live.call(operation, name, detail))

    def finish(self, orchestrator: Orchestrator) -> None:
        if self.live is None:
            return
        self.live.close()
        tasks = [task for _, _, task in self.readers]
        try:
            results = self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        except Deadlock as exc:
            self.findings.append(Finding("sim.deadlock", str(exc)))
            return
        for (subscription, _, _), result in zip(self.readers, results, strict=True):
            if isinstance(result, BaseException):
                self.findings.append(
                    Finding("sim.core.subscriber_raised", f"{subscription.name}: {type(result).__name__}: {result}")
                )

    def close(self) -> None:
        self.history.steps = self.loop.steps
        self.history.decisions = list(self.loop.decisions)
        self.loop.shutdown()
        self.loop.close()

    def check(self, last: int) -> list[Finding]:
        """Every subscriber received each event after its starting point once, in order."""
        findings: list[Finding] = []
        for subscription, received, _ in self.readers:
            who = f"{subscription.name} (after {subscription.after})"
            due = range(subscription.after + 1, last + 1)
            counts = collections.Counter(received)
            twice = sorted(sequence for sequence, count in counts.items() if count > 1)
            lost = [sequence for sequence in due if sequence not in counts]
            if lost:
                findings.append(
                    Finding(
                        "sim.core.subscriber_lost", f"{who} never received {_ranges(lost)} of {_ranges(due)}", lost[0]
                    )
                )
            if twice:
                findings.append(
                    Finding("sim.core.subscriber_duplicate", f"{who} received {_ranges(twice)} twice", twice[0])
                )
            if not lost and not twice and received != list(due):
                at = next(i for i, (a, b) in enumerate(zip(received, due, strict=False)) if a != b)
                findings.append(
                    Finding(
                        "sim.core.subscriber_out_of_order",
                        f"{who} received {received[at]} where {due[at]} was due",
                        received[at],
                    )
                )
        return findings


def _ranges(sequences: Iterable[int]) -> str:
    """``[1, 2, 3, 7]`` as ``1..3, 7``."""
    parts: list[str] = []
    run: list[int] = []
    for sequence in sequences:
        if run and sequence == run[-1] + 1:
            run.append(sequence)
            continue
        if run:
            parts.append(f"{run[0]}..{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [sequence]
    if run:
        parts.append(f"{run[0]}..{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(parts) or "nothing"


def crash_points(path: str, plan: FaultPlan | None = None) -> range:
    """Every event a crash can follow: ``1`` to ``N - 1``, for the ``N`` events of the run under
    ``plan`` (the fault-free run without one). The process crashes on the append after event
    ``K``; after the last event there is none, so ``crash@N`` would never fire."""
    if plan is None or not plan.faults:
        events, _ = _baseline(path)
        return range(1, len(events))
    return range(1, len(run_scenario(path, plan=plan).events))


def _plan(seed: int | None, transcript: Transcript, kinds: tuple[str, ...], events: int) -> FaultPlan:
    if seed is None:
        return FaultPlan(faults=())
    rewriting = tuple(k for k in kinds if k != "crash")
    plan = plan_for_seed(seed, transcript, rewriting) if rewriting else FaultPlan(faults=())
    if "crash" in kinds and events > 1 and Rng(derive(seed, "crash")).chance(500):
        at = Rng(derive(seed, "crash", "at")).between(1, events - 1)
        plan = FaultPlan(faults=(*plan.faults, Fault(kind="crash", at=at)))
    return plan


def _crash_and_recover(
    scenario: Scenario, transcript: Transcript, after: int, findings: list[Finding]
) -> tuple[list[StoredEvent], int, Any, bool]:
    """Crash after event ``after``, recover by re-execution; returns the final log, cursor, failure
    and whether the crash happened (it does not when no event is appended after ``after``)."""
    with tempfile.TemporaryDirectory(prefix="harness-crash-") as folder:
        path = Path(folder) / "events.sqlite"
        first = SqliteEventStore(path)
        crashed = True
        try:
            _execute(scenario, transcript, store=CrashingStore(first, after), seed=scenario.seed)
            crashed = False
        except SimulatedCrash:
            pass
        finally:
            first.close()
        durable = SqliteEventStore(path)
        try:
            if crashed:
                recovering = RecoveringStore(durable)
                try:
                    execution = _execute(scenario, transcript, store=recovering, seed=scenario.seed)
                except Nondeterminism as exc:
                    findings.append(Finding("sim.core.nondeterministic", str(exc)))
                    return durable.read(), 0, None, crashed
                cursor, failure = execution.driver.cursor, execution.driver.failure
            else:
                cursor, failure = len(transcript.entries), None
            events = durable.read()
            for due, event in enumerate(events, start=1):
                if event.sequence != due:
                    findings.append(Finding("sim.core.sequence_gap", f"sequence {event.sequence} where {due} was due"))
                    break
            _check_receipts(scenario, transcript, durable, findings)
            return events, cursor, failure, crashed
        finally:
            durable.close()


def _check_receipts(
    scenario: Scenario, transcript: Transcript, store: SqliteEventStore, findings: list[Finding]
) -> None:
    """Every command dispatched again with its stored id returns its receipt and writes nothing."""
    from harness.adapters import get_runtime_adapter, is_runtime_protocol
    from harness.adapters.runtime import RuntimeAdapter

    accepted = [e for e in store.read() if e.type == "command.accepted"]
    http = not is_runtime_protocol(transcript.protocol)
    steps: list[Any] = [s for s in scenario.commands if not isinstance(s, OrchestratorRestart)]
    if http and not steps:
        steps = [ThreadCreate(thread_id="thread-1"), MessageDispatch()]
    if len(accepted) != len(steps):
        return  # a step the core refused stored no receipt: no one-to-one map from steps to receipts
    driver = ReplayDriver(Transcript(header=transcript.header, entries=()))
    link = ReplayLink(driver)
    adapter: RuntimeAdapter
    if http:
        adapter = _http_runtime(scenario, transcript, driver)()
    else:
        adapter = get_runtime_adapter(transcript.protocol, **_runtime_adapter_options(transcript))
    orchestrator = Orchestrator(adapter=adapter, link=link, store=store, seed=scenario.seed)
    before = store.last_sequence
    for step, receipt in zip(steps, accepted, strict=True):
        again = step.model_copy(update={"command_id": receipt.data["command_id"]})
        try:
            replayed = orchestrator.dispatch(again).replayed
        except HarnessError:
            replayed = False
        if not replayed or store.last_sequence != before:
            findings.append(
                Finding(
                    "sim.core.receipt_not_idempotent",
                    f"{step.type} {receipt.data['command_id']} dispatched again was not answered from its receipt",
                )
            )
            return
