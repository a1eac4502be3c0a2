"""Simulating the user's own async code: targets, the :class:`Sim` handle and one simulated run.

A *simulation target* is an async function taking a :class:`Sim`, declared with
:func:`simulation` next to the recording it replays::

    @harness.simulation(transcripts=["transcripts/tool_loop.ndjson"], rules="event_rules.toml")
    async def answers_with_a_tool(sim: harness.Sim) -> None:
        app = MyOrchestrator(sim.async_anthropic(max_retries=0))
        await app.run("What is 1 USD in EUR?")
        sim.watch(app.events)          # the app's own events, checked by the rules

:func:`run_target` runs it once, for a seed (which chooses the fault plan and the scheduling
policy) or for an explicit plan and schedule, on a :class:`~harness.simulate.loop.SimLoop`, with
the first transcript rewritten by the plan (:mod:`harness.simulate.faults`) and served by an
:class:`~harness.replay.http.HttpReplay` (``pace="recorded"``: recorded delays and injected stalls
pass on the virtual clock). It returns the run's :class:`~harness.simulate.history.History`,
judged by the built-in rules below plus the target's event rules and checks.

Built-in rules (ids):

``sim.target.raised``       the target raised an exception
``sim.deadlock``            every task waits and no timer is pending
``sim.teardown.task_alive`` a task the target started is still alive after it returned
``sim.replay.diverged``     the boundary saw a request the recording does not have, or entries were
                            left unserved (a client that did not retry a retry fault ends here)
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from harness.core.event_log import json_event_log
from harness.core.event_rules import EventRules, check_event_rules, load_event_rules
from harness.core.invariants import Violation
from harness.core.live import point
from harness.errors import HarnessError, ReplayError, UsageError
from harness.simulate.faults import FAULT_KINDS, FaultedTranscript, FaultPlan, apply_plan, plan_for_seed
from harness.simulate.history import Finding, History, decode_schedule, history_timeline
from harness.simulate.loop import POLICIES, Deadlock, Policy, Replay, SimLoop, choose_policy, no_cyclic_gc
from harness.simulate.seeds import Rng, derive
from harness.transcript import Transcript, read_transcript

T = TypeVar("T")
Check = Callable[[History], Iterable[Finding | Violation | tuple[str, str]]]


class SimulatedToolError(HarnessError):
    """Raised by a tool wrapped with :meth:`Sim.tool` where the plan says ``tool_error@N``."""


@dataclass(frozen=True)
class SimulationTarget:
    """An async function under simulation and what it needs; made by :func:`simulation`."""

    fn: Callable[[Sim], Awaitable[Any]]
    name: str
    transcripts: tuple[Path, ...]
    faults: tuple[str, ...] | None = None
    rules: EventRules | None = None
    checks: tuple[Check, ...] = ()
    policy: str = "mixed"
    ref: str = ""
    """How the command line names it: ``path/to/file.py::name``."""
    ignore: tuple[str, ...] = ()
    """Request fields (JSON paths into the ``http.request`` frame) the replay does not compare."""
    root: Path | None = None
    """The folder of the defining file: the nearest ``pyproject.toml`` above it gives the project's
    redaction patterns (``[tool.harness.redact]``), so requests are redacted as when recorded."""

    def __call__(self, sim: Sim) -> Awaitable[Any]:
        return self.fn(sim)


def simulation(
    *,
    transcripts: Sequence[str | Path],
    faults: Iterable[str] | None = None,
    rules: EventRules | Mapping[str, Any] | str | Path | None = None,
    checks: Iterable[Check] = (),
    policy: str = "mixed",
    ignore: Iterable[str] = (),
) -> Callable[[Callable[[Sim], Awaitable[Any]]], SimulationTarget]:
    """Declare an async function as a simulation target (see the module docstring).

    ``transcripts`` and a rules file are relative to the file that defines the function. The first
    transcript is the one fault plans rewrite; more are served after it (an Anthropic and an OpenAI
    client may share one replay). ``faults`` limits the fault kinds a seed may choose (default: the
    retry and benign kinds of the transcript's transport); ``rules`` are event rules over the
    events the target records (:meth:`Sim.record`, :meth:`Sim.watch`); ``checks`` are Python
    functions of the :class:`History` returning findings. ``policy`` is ``mixed`` (each seed picks
    random or PCT), ``random``, ``pct`` or ``fifo``. ``ignore`` lists request fields the replay does
    not compare (``"$.headers"``, ``"$.body.metadata"``), as ``harness serve --ignore`` does.
    """
    if policy not in POLICIES:
        raise UsageError(f"policy must be one of {', '.join(POLICIES)}, found {policy!r}")

    def declare(fn: Callable[[Sim], Awaitable[Any]]) -> SimulationTarget:
        if not inspect.iscoroutinefunction(fn):
            raise UsageError(f"@simulation needs an async function; {fn.__qualname__} is not one")
        base = Path(inspect.getfile(fn)).parent
        loaded_rules: EventRules | None
        if rules is None or isinstance(rules, EventRules):
            loaded_rules = rules
        elif isinstance(rules, Mapping):
            loaded_rules = load_event_rules(rules)
        else:
            loaded_rules = load_event_rules(base / rules)
        return SimulationTarget(
            fn=fn,
            name=fn.__name__,
            transcripts=tuple(base / p for p in transcripts),
            faults=tuple(faults) if faults is not None else None,
            rules=loaded_rules,
            checks=tuple(checks),
            policy=policy,
            ref=f"{_display(Path(inspect.getfile(fn)))}::{fn.__name__}",
            root=base,
            ignore=tuple(ignore),
        )

    return declare


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def load_target(ref: str) -> SimulationTarget:
    """The target a reference names: ``path/to/file.py::name`` or ``package.module:name``."""
    if "::" in ref:
        file_name, _, name = ref.partition("::")
        path = Path(file_name)
        if not path.is_file():
            raise UsageError(f"{file_name}: no such file (from the target {ref!r})")
        folder = str(path.resolve().parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:10]
        module_name = f"_harness_sim_{path.stem}_{digest}"
        module = sys.modules.get(module_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(module_name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
    elif ":" in ref:
        module_name, _, name = ref.partition(":")
        module = importlib.import_module(module_name)
    else:
        raise UsageError(f"{ref!r} names no target; use path/to/file.py::name or package.module:name")
    found = getattr(module, name, None)
    if not isinstance(found, SimulationTarget):
        what = "nothing" if found is None else type(found).__name__
        raise UsageError(f"{ref}: expected a function declared with @harness.simulation(...), found {what}")
    return found


class Sim:
    """The handle a target gets: its clients over the faulted replay, randomness, events, yield points."""

    def __init__(self, *, seed: int | None, plan: FaultPlan, loop: SimLoop, replay: Any, history: History) -> None:
        self.seed = seed
        self.plan = plan
        self.loop = loop
        self.replay = replay
        """The :class:`~harness.replay.http.HttpReplay` serving the (faulted) recording."""
        self._history = history
        self._events: list[Mapping[str, Any]] = []
        self._watched: list[Sequence[Any]] = []
        self._tool_calls = 0
        self.tool_faults_fired: set[str] = set()
        self.exchange_steps: list[int] = []
        """The loop step at which each exchange of the replay was requested (for the report)."""
        self.tool_fault_steps: dict[str, int] = {}

    # -- clients ------------------------------------------------------------------------------

    def transport(self) -> Any:
        """An async ``httpx2``/``httpx`` transport over the replay (all share one cursor)."""
        from harness.replay.http import AsyncReplayTransport

        sim = self

        class Stepped(AsyncReplayTransport):
            """Notes the loop step of every request it hands to the replay."""

            async def handle_async_request(self, request: Any) -> Any:
                before = len(self.replay.exchanges)
                try:
                    return await super().handle_async_request(request)
                finally:
                    step = getattr(sim.loop, "steps", None)  # a Sim on a stock loop has no steps
                    if step is not None:
                        sim.exchange_steps.extend([step] * (len(self.replay.exchanges) - before))

        return Stepped(self.replay)

    def async_anthropic(self, **options: Any) -> Any:
        """``anthropic.AsyncAnthropic`` over the replay; ``options`` go to the client (``max_retries``...)."""
        import anthropic
        import httpx2

        options.setdefault("api_key", "sim-key")
        return anthropic.AsyncAnthropic(http_client=httpx2.AsyncClient(transport=self.transport()), **options)

    def async_openai(self, **options: Any) -> Any:
        """``openai.AsyncOpenAI`` over the replay; ``options`` go to the client."""
        import httpx2
        import openai

        options.setdefault("api_key", "sim-key")
        return openai.AsyncOpenAI(http_client=httpx2.AsyncClient(transport=self.transport()), **options)

    # -- randomness, time and yield points ----------------------------------------------------

    def rng(self, name: str) -> Rng:
        """A random stream of the target's own, derived from the seed and ``name``."""
        return Rng(derive(self.seed if self.seed is not None else 0, "target", name))

    @property
    def now_ms(self) -> int:
        """Virtual time, in milliseconds."""
        return self.loop.now_ms

    async def point(self, name: str, detail: str | None = None) -> None:
        """A named yield point: recorded in the history, and a place where the scheduler may switch
        (the same as :func:`harness.point`, which code that has no ``Sim`` handle can call)."""
        await point(name, detail)

    # -- events --------------------------------------------------------------------------------

    def record(self, event: Mapping[str, Any]) -> None:
        """Add one of the app's events to the history (checked by the target's rules)."""
        self._events.append(event)

    def watch(self, events: Sequence[Any]) -> None:
        """A list the app appends its events to; read when the run ends."""
        self._watched.append(events)

    def events(self) -> list[dict[str, Any]]:
        collected: list[Any] = list(self._events)
        for watched in self._watched:
            collected.extend(watched)
        return json_event_log(collected)

    # -- tools -----------------------------------------------------------------------------------

    def tool(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` (sync or async) with the plan's tool faults: ``tool_error@N`` raises
        :class:`SimulatedToolError` at the N-th call of any wrapped tool, ``tool_timeout@N`` never
        answers (it sleeps on the virtual clock until cancelled). The result is always async."""
        faults = {(f.kind, f.at) for f in self.plan.faults if f.kind in ("tool_error", "tool_timeout")}

        @functools.wraps(fn)
        async def wrapped(*args: Any, **kwargs: Any) -> Any:
            self._tool_calls += 1
            number = self._tool_calls
            if ("tool_error", number) in faults:
                self.tool_faults_fired.add(f"tool_error@{number}")
                self.tool_fault_steps[f"tool_error@{number}"] = getattr(self.loop, "steps", 0)
                raise SimulatedToolError(f"{fn.__name__}: tool call {number} failed (fault tool_error@{number})")
            if ("tool_timeout", number) in faults:
                self.tool_faults_fired.add(f"tool_timeout@{number}")
                self.tool_fault_steps[f"tool_timeout@{number}"] = getattr(self.loop, "steps", 0)
                await asyncio.sleep(10**9)
            result = fn(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return wrapped


def _as_findings(found: Iterable[Finding | Violation | tuple[str, str]]) -> list[Finding]:
    out: list[Finding] = []
    for item in found:
        if isinstance(item, Finding):
            out.append(item)
        elif isinstance(item, Violation):
            out.append(Finding(item.rule, item.message, item.sequence))
        else:
            rule, message = item
            out.append(Finding(rule, message))
    return out


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_target(
    target: SimulationTarget,
    *,
    seed: int | None = None,
    plan: FaultPlan | str | None = None,
    schedule: Sequence[int] | str | None = None,
    policy: str | None = None,
    kinds: Iterable[str] | None = None,
    transcripts: Sequence[Transcript] | None = None,
) -> History:
    """Run ``target`` once and judge it; see the module docstring.

    With a ``seed``, the plan and the policy come from it unless given; an explicit ``plan``
    (object or its string) and ``schedule`` (decision list or its string) reproduce a run exactly.
    """
    loaded = list(transcripts) if transcripts is not None else [read_transcript(p) for p in target.transcripts]
    if not loaded:
        raise UsageError(f"{target.ref or target.name}: a simulation target needs at least one transcript")
    if isinstance(plan, str):
        plan = FaultPlan.parse(plan)
    if plan is None:
        wanted = kinds if kinds is not None else target.faults
        plan = plan_for_seed(seed, loaded[0], wanted) if seed is not None else FaultPlan(faults=())
    chosen: Policy
    if schedule is not None:
        chosen = Replay(decode_schedule(schedule) if isinstance(schedule, str) else schedule)
    else:
        chosen = choose_policy(seed, policy or target.policy)
    faulted = apply_plan(plan, loaded[0])
    history = History(target=target.ref or target.name, seed=seed, plan=plan.encode(), policy=chosen.name)
    return _run(target, faulted, loaded[1:], plan, chosen, history)


def _run(
    target: SimulationTarget,
    faulted: FaultedTranscript,
    others: Sequence[Transcript],
    plan: FaultPlan,
    policy: Policy,
    history: History,
) -> History:
    from harness.record.redact import Redactor
    from harness.replay.http import HttpReplay
    from harness.replay.matcher import FrameMatcher

    redactor = Redactor.for_project(target.root) if target.root is not None else None
    replay = HttpReplay(
        [faulted.transcript, *others],
        pace="recorded",
        sleep=lambda _: None,
        chunker=faulted.chunker,
        redactor=redactor,
        matcher=FrameMatcher.from_paths(target.ignore) if target.ignore else None,
    )
    with no_cyclic_gc():
        sim, findings = _drive(target, replay, plan, policy, history)
    return _finish(target, replay, faulted, sim, findings, history)


def _drive(
    target: SimulationTarget, replay: Any, plan: FaultPlan, policy: Policy, history: History
) -> tuple[Sim, list[Finding]]:
    """Run the target on a fresh simulated loop to the end and tear the loop down."""
    loop = SimLoop(policy)
    loop.on_point = lambda name, detail: history.points.append([name, detail, loop.steps])
    sim = Sim(seed=history.seed, plan=plan, loop=loop, replay=replay, history=history)
    findings: list[Finding] = []
    main = loop.create_task(_guarded(target, sim), name="task-0")
    try:
        loop.run_until_complete(main)
    except Deadlock as exc:
        history.outcome = "deadlock"
        findings.append(Finding("sim.deadlock", str(exc)))
    except Exception as exc:  # the target's own failure is a finding, not a crash of the simulator
        history.outcome = f"raised {type(exc).__name__}"
        findings.append(Finding("sim.target.raised", _describe(exc)))
    loop.settle()
    alive = [t for t in loop.alive() if t is not main]
    if alive:
        names = ", ".join(f"{t.get_name()} ({getattr(t.get_coro(), '__qualname__', '?')})" for t in alive)
        findings.append(
            Finding("sim.teardown.task_alive", f"{len(alive)} task(s) alive after the target returned: {names}")
        )
    loop.shutdown()
    history.steps = loop.steps
    history.virtual_ms = loop.now_ms
    history.decisions = list(loop.decisions)
    loop.close()
    return sim, findings


def _finish(
    target: SimulationTarget,
    replay: Any,
    faulted: FaultedTranscript,
    sim: Sim,
    findings: list[Finding],
    history: History,
) -> History:
    diverged: Finding | None = None
    try:
        replay.finish()
    except ReplayError as exc:
        diverged = Finding("sim.replay.diverged", str(exc))
    history.exchanges = [
        {
            "status": e.status,
            "parts": len(e.parts),
            "delivered": e.delivered,
            "cut": e.cut is not None,
            "replayed": e.replayed,
        }
        for e in replay.exchanges
    ]
    driver = replay.drivers[0]
    fired = faulted.fired(driver.cursor)
    faults: list[dict[str, Any]] = []
    for applied, did in zip(faulted.applied, fired, strict=True):
        encoded = applied.fault.encode()
        faults.append({"fault": encoded, "fired": did or encoded in sim.tool_faults_fired})
    for skipped in faulted.skipped:
        faults.append({"fault": skipped.fault.encode(), "fired": False, "skipped": skipped.reason})
    history.faults = faults
    if diverged is not None:
        # A run may rightly leave the recording after a fault it cannot recover from (a failed
        # tool, a dead runtime, corrupted data); after retry or benign faults it may not.
        terminal = [f["fault"] for f in faults if f.get("fired") and _category(f["fault"]) in EXCUSING]
        if terminal:
            history.outcome += f"; left the recording after {terminal[0]}"
        else:
            findings.append(diverged)
    history.timeline = history_timeline(
        decisions=sim.loop.decision_log,
        points=history.points,
        exchanges=history.exchanges,
        exchange_steps=sim.exchange_steps,
        faults=history.faults,
        fault_steps={**_fault_steps(faulted, replay.exchanges, sim.exchange_steps), **sim.tool_fault_steps},
    )
    history.events = sim.events()
    if target.rules is not None:
        findings.extend(_as_findings(check_event_rules(history.events, target.rules)))
    history.violations = findings
    for check in target.checks:
        history.violations.extend(_as_findings(check(history)))
    return history


def _fault_steps(faulted: FaultedTranscript, exchanges: Sequence[Any], steps: Sequence[int]) -> dict[str, int]:
    """The loop step of the request whose answer served each rewritten-transcript fault: the first
    exchange that reached the fault's marker entry."""
    found: dict[str, int] = {}
    # An exchange reached its last part's entry, and the cut entry after it when it was cut.
    reached = [
        max((p.entry_index for p in e.parts if p.entry_index is not None), default=-1) + (e.cut is not None)
        for e in exchanges
    ]
    for applied in faulted.applied:
        if applied.marker is None:
            continue
        for number, last in enumerate(reached):
            if last >= applied.marker and number < len(steps):
                found[applied.fault.encode()] = steps[number]
                break
    return found


EXCUSING = frozenset({"tool", "exit", "corrupt", "crash"})
"""Fault categories after which leaving the recording is not a violation."""


def _category(encoded: str) -> str:
    kind = encoded.partition("@")[0]
    info = FAULT_KINDS.get(kind)
    return info.category if info is not None else ""


async def _guarded(target: SimulationTarget, sim: Sim) -> None:
    await target.fn(sim)
