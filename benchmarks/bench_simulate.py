"""Simulated runs per second, each as a ratio to a plain replay of the same transcript.

Three targets, each measured on its own, its contenders interleaved in this process (round-robin,
the starting contender rotating each round, a ``gc.collect()`` before each timed run, one untimed
warm-up of each):

* ``http``: the core's scenario ``scenarios/anthropic/tool_loop_two_requests.yaml`` (Anthropic
  Messages over HTTP, two requests and a tool call);
* ``runtime``: the core's scenario ``scenarios/t3code/codex/multi_turn.yaml`` (Codex app-server,
  JSON-RPC over stdio, two turns);
* ``example``: the example orchestrator, ``examples/planted-bugs/sims.py``'s
  ``desk_simulation(frozenset())`` (every planted bug off), against its recorded tool loop
  ``examples/planted-bugs/transcripts/exchange_rate.ndjson``.

Contenders (one timed run of a contender = N runs: seeds 0..N-1, or the replay N times):

* ``replay`` (the baseline): the plain replay of the target's transcript through the core, as
  ``harness run`` does it: read the scenario and transcript, ``execute``, require a clean replay
  ending in the expected status, check the invariants, compare with a golden written once
  beforehand. For ``example`` this is the scenario ``harness replay`` implies for the bare
  transcript, with the one request field the core spells differently from the desk ignored (see
  ``EXAMPLE_IGNORE``): the desk has no non-simulated driver of its own in the repository.
* ``replay(parsed)``, derived from the same timed replays: their seconds less the ``read`` stage
  (parsing the scenario and the transcript). The simulator parses a scenario of the core and its
  transcript once per process (and replays it fault-free once, as the reference outcome), so
  against a scenario this is the replay it is fairest to compare with; a simulation target of the
  user's code reads its transcripts on every run.
* ``app(asyncio)`` (``example`` only): the desk's own code, not the core, on a stock asyncio loop
  over a plain ``HttpReplay`` of the transcript: no faults, no simulated loop; judged by the
  target's event rules and checks.
* ``sim``: ``harness.run_simulation(target, seed=s)``, seeds 0..N-1 (faults and schedule chosen by
  each seed).
* ``sim(no faults)``: ``harness.run_simulation(target, seed=s, plan="none", policy="fifo")``: the
  simulator's fixed cost, apart from faults.
* ``sweep``: ``harness.sweep_simulation(target, range(N), jobs=1, shrink_failures=False)``.

Ratios are per round (``sim/replay`` = simulated runs/s over replays/s = replay seconds over
simulated seconds) and reported as the median with the spread over rounds. Verdicts and fired
faults are counted over the seeds; a run that fails (or a replay that breaks) is printed and the
benchmark exits 1.

    python benchmarks/bench_simulate.py                         # 50 seeds, 5 rounds, all targets
    python benchmarks/bench_simulate.py --quick                 # 5 seeds, 2 rounds, no warm-up
    python benchmarks/bench_simulate.py --seeds 200 --rounds 3 --targets http,example --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import orjson
from bench_replay import BenchError, check_execution

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAMPLE = ROOT / "examples" / "planted-bugs"

TARGETS = ("http", "runtime", "example")
SCENARIOS = {
    "http": "scenarios/anthropic/tool_loop_two_requests.yaml",
    "runtime": "scenarios/t3code/codex/multi_turn.yaml",
}
EXAMPLE_REF = "examples/planted-bugs/sims.py::desk_simulation(frozenset())"
EXAMPLE_TRANSCRIPT = "examples/planted-bugs/transcripts/exchange_rate.ndjson"
#: The core's second request leaves out the ``caller`` member the Anthropic SDK echoes in the
#: desk's ``tool_use`` block; everything else the core sends matches the desk's recording.
EXAMPLE_IGNORE = ("$.body.messages[*].content[*].caller",)

CONTENDERS = ("replay", "app(asyncio)", "sim", "sim(no faults)", "sweep")
SIMULATED = ("sim", "sim(no faults)", "sweep")
PARSED = "replay(parsed)"
"""Not a contender of its own: the replay's seconds less its read stage, from the same timed runs."""
ROWS = ("replay", PARSED, "app(asyncio)", "sim", "sim(no faults)", "sweep")
RATIOS = (
    ("sim", "replay"),
    ("sim(no faults)", "replay"),
    ("sweep", "replay"),
    ("sim", PARSED),
    ("sim(no faults)", PARSED),
    ("sim", "app(asyncio)"),
    ("sim(no faults)", "app(asyncio)"),
)
STAGES = ("read", "execute", "check")
DEFAULT_SEEDS = 50
QUICK_SEEDS = 5
VERDICTS = ("pass", "fail", "vacuous")


# -- the targets ------------------------------------------------------------------------------------


def desk_target() -> Any:
    """The example orchestrator's simulation target, every planted bug off."""
    if str(EXAMPLE) not in sys.path:
        sys.path.insert(0, str(EXAMPLE))  # sims.py imports the package `planted` next to it
    from sims import desk_simulation  # type: ignore[import-not-found]

    return desk_simulation(frozenset())


@dataclass
class Target:
    """One target: what ``run_simulation`` takes, and how it is replayed plainly."""

    name: str
    ref: str  # how the output names it (relative to the repository)
    simulated: Any  # a SimulationTarget or the absolute path of a scenario file
    load: Callable[[], tuple[Any, Any]]  # the baseline's (scenario, transcript), read afresh
    baseline: str  # what the baseline is, in words
    app: Callable[[], None] | None = None


def _scenario_loader(path: Path) -> Callable[[], tuple[Any, Any]]:
    def load() -> tuple[Any, Any]:
        import harness

        scenario = harness.load_scenario(path)
        return scenario, harness.read_transcript(scenario.transcript_path())

    return load


def _implied_loader(path: Path, ignore: Sequence[str]) -> Callable[[], tuple[Any, Any]]:
    def load() -> tuple[Any, Any]:
        import harness

        transcript = harness.read_transcript(path)
        scenario = harness.scenario_for_transcript(transcript, path=str(path))
        match = scenario.match.model_copy(update={"ignore": [*scenario.match.ignore, *ignore]})
        return scenario.model_copy(update={"match": match}), transcript

    return load


def make_target(name: str) -> Target:
    if name in SCENARIOS:
        path = ROOT / SCENARIOS[name]
        return Target(name, SCENARIOS[name], str(path), _scenario_loader(path), "harness run's replay of the scenario")
    if name == "example":
        simulated = desk_target()
        transcript = ROOT / EXAMPLE_TRANSCRIPT
        return Target(
            name,
            EXAMPLE_REF,
            simulated,
            _implied_loader(transcript, EXAMPLE_IGNORE),
            f"the core's replay of {EXAMPLE_TRANSCRIPT} (the scenario `harness replay` implies, "
            f"match.ignore {', '.join(EXAMPLE_IGNORE)})",
            app=lambda: app_once(simulated),
        )
    raise ValueError(f"unknown target {name!r}; one of {', '.join(TARGETS)}")


# -- the contenders ---------------------------------------------------------------------------------


def write_golden(target: Target, golden: Path) -> None:
    """The golden the timed replays compare against, produced once by the same replay."""
    import harness
    from harness.scenario import golden_bytes

    scenario, transcript = target.load()
    harness.check_golden(golden, golden_bytes(harness.execute(scenario, transcript=transcript)), update=True)


def replay_once(target: Target, golden: Path, stages: dict[str, float]) -> None:
    """The baseline: read, replay through the core, check status, invariants and golden."""
    import harness
    from harness.scenario import golden_content

    clock = time.perf_counter
    start = clock()
    scenario, transcript = target.load()
    read = clock()
    execution = harness.execute(scenario, transcript=transcript)
    executed = clock()
    check_execution(scenario, execution, "replay")
    harness.check_golden(golden, golden_content(execution))
    done = clock()
    for name, seconds in zip(STAGES, (read - start, executed - read, done - executed), strict=True):
        stages[name] = stages.get(name, 0.0) + seconds


def app_once(target: Any) -> None:
    """The user's target function on a stock asyncio loop over a plain replay of its transcripts.

    The ``Sim`` handle is built directly, without a simulated loop (the desk uses its clients,
    tools and event lists, not its virtual clock); the run is judged by the target's event rules
    and checks, and the replay must serve every recorded entry.
    """
    import asyncio

    import harness
    from harness.simulate.target import Sim

    replay = harness.HttpReplay(
        [harness.read_transcript(p) for p in target.transcripts],
        redactor=harness.Redactor.for_project(target.root) if target.root is not None else None,
        matcher=harness.FrameMatcher.from_paths(target.ignore) if target.ignore else None,
    )
    history = harness.History(target=target.ref or target.name, seed=None, plan="none", policy="asyncio")
    sim = Sim(seed=None, plan=harness.FaultPlan(), loop=cast(Any, None), replay=replay, history=history)
    asyncio.run(target.fn(sim))
    try:
        replay.finish()
    except harness.ReplayError as exc:
        raise BenchError(f"the app left the recording: {exc}") from None
    history.events = sim.events()
    found: list[tuple[str, str]] = []
    if target.rules is not None:
        found += [(v.rule, v.message) for v in harness.check_event_rules(history.events, target.rules)]
    for check in target.checks:
        for item in check(history):
            found.append((item[0], item[1]) if isinstance(item, tuple) else (item.rule, item.message))
    if found:
        raise BenchError(f"the app broke {found[0][0]}: {found[0][1]}")


@dataclass(frozen=True)
class RunSummary:
    """What the benchmark keeps of one simulated run."""

    seed: int
    verdict: str
    signature: str
    message: str
    planned: int
    fired: int
    digest: str


def summarize_history(history: Any) -> RunSummary:
    return RunSummary(
        seed=history.seed,
        verdict=history.verdict,
        signature=history.signature,
        message=history.violations[0].message if history.violations else "",
        planned=len(history.faults),
        fired=history.fired,
        digest=history.digest(),
    )


def summarize_sweep_run(run: dict[str, Any]) -> RunSummary:
    return RunSummary(
        seed=run["seed"],
        verdict=run["verdict"],
        signature=run["signature"],
        message=run["violations"][0]["message"] if run["violations"] else "",
        planned=len(run["faults"]),
        fired=sum(1 for f in run["faults"] if f.get("fired")),
        digest=run["digest"],
    )


def contenders(target: Target, golden: Path, seeds: range, stages: dict[str, float]) -> dict[str, Callable[[], Any]]:
    """One callable per contender; a simulated one returns what its runs did, summarized after timing."""
    import harness

    simulated = target.simulated

    def replay() -> None:
        for _ in seeds:
            replay_once(target, golden, stages)

    def sim() -> list[Any]:
        return [harness.run_simulation(simulated, seed=s) for s in seeds]

    def sim_no_faults() -> list[Any]:
        return [harness.run_simulation(simulated, seed=s, plan="none", policy="fifo") for s in seeds]

    def sweep() -> Any:
        return harness.sweep_simulation(simulated, seeds, jobs=1, shrink_failures=False)

    runs: dict[str, Callable[[], Any]] = {"replay": replay}
    if target.app is not None:
        app = target.app

        def app_runs() -> None:
            for _ in seeds:
                app()

        runs["app(asyncio)"] = app_runs
    runs.update({"sim": sim, "sim(no faults)": sim_no_faults, "sweep": sweep})
    return runs


def summarize(name: str, outcome: Any) -> list[RunSummary]:
    if name == "sweep":
        return [summarize_sweep_run(run) for run in outcome.runs]
    if name in SIMULATED:
        return [summarize_history(history) for history in outcome]
    return []


# -- timing -----------------------------------------------------------------------------------------


@dataclass
class Measured:
    """The rounds of one target: seconds per contender per round, and what the simulated runs did."""

    target: Target
    seeds: int
    contenders: list[str]
    seconds: dict[str, list[float]] = field(default_factory=dict)
    runs: dict[str, list[RunSummary]] = field(default_factory=dict)  # the first measured pass's
    changed: dict[str, int] = field(default_factory=dict)  # passes whose digests differed from the first
    failed: dict[str, str] = field(default_factory=dict)
    stages: list[dict[str, float]] = field(default_factory=list)  # the replay's, per round, per run

    def median(self, name: str) -> float | None:
        values = self.seconds.get(name, [])
        return statistics.median(values) if values else None

    def rate(self, name: str) -> float | None:
        median = self.median(name)
        return self.seeds / median if median else None

    def ratios(self, a: str, b: str) -> list[float]:
        """Per round: runs/s of ``a`` over runs/s of ``b`` (= seconds of b over seconds of a)."""
        pairs = zip(self.seconds.get(a, []), self.seconds.get(b, []), strict=False)
        return [tb / ta for ta, tb in pairs if ta and tb]

    def verdicts(self, name: str) -> dict[str, int]:
        runs = self.runs.get(name, [])
        return {v: sum(1 for r in runs if r.verdict == v) for v in VERDICTS}


def _record(result: Measured, name: str, outcome: Any) -> None:
    """Keep (or compare with the first) what a simulated contender's runs did; note failures."""
    runs = summarize(name, outcome)
    if not runs:
        return
    first = result.runs.setdefault(name, runs)
    if [r.digest for r in runs] != [r.digest for r in first]:
        result.changed[name] = result.changed.get(name, 0) + 1
    failing = [r for r in runs if r.verdict == "fail"]
    if failing:
        seeds = ", ".join(str(r.seed) for r in failing[:10]) + (", ..." if len(failing) > 10 else "")
        worst = failing[0]
        result.failed[name] = (
            f"{len(failing)} of {len(runs)} runs failed (seeds {seeds}); seed {worst.seed}: "
            f"{worst.signature}: {worst.message}"
        )


def _run(result: Measured, name: str, run: Callable[[], Any], *, record: bool = True) -> bool:
    """Time one run of a contender (when ``record``); False when it failed."""
    gc.collect()
    start = time.perf_counter()
    try:
        outcome = run()
    except BenchError as exc:
        result.failed[name] = str(exc)
        return False
    except Exception as exc:  # a golden mismatch, a target that cannot load: a failure, reported
        result.failed[name] = f"{type(exc).__name__}: {exc}"
        return False
    seconds = time.perf_counter() - start
    _record(result, name, outcome)
    del outcome
    if name in result.failed:
        return False
    if record:
        result.seconds[name].append(seconds)
    return True


def measure(
    target: Target, folder: Path, *, seeds: int, rounds: int, warmup: bool, log: Callable[[str], None]
) -> Measured:
    golden = folder / f"golden.{target.name}.ndjson"
    try:
        write_golden(target, golden)
    except Exception as exc:  # a baseline that cannot run is this target's failure, not a crash
        result = Measured(target, seeds, [])
        result.failed["replay"] = f"{type(exc).__name__}: {exc}"
        return result
    stages: dict[str, float] = {}
    runs = contenders(target, golden, range(seeds), stages)
    names = [n for n in CONTENDERS if n in runs]
    result = Measured(target, seeds, names, {n: [] for n in (*names, PARSED)})
    if warmup:
        for name in names:
            if not _run(result, name, runs[name], record=False):
                return result
        result.runs.clear()  # the timed passes are the ones reported (and compared with each other)
        result.changed.clear()
    for number in range(rounds):
        order = names[number % len(names) :] + names[: number % len(names)]
        for name in order:
            if name == "replay":
                stages.clear()
            if not _run(result, name, runs[name]):
                log(f"  {target.name}: {name} failed: {result.failed[name]}")
                return result
            if name == "replay":
                result.stages.append({k: v / seeds for k, v in stages.items()})
                result.seconds[PARSED].append(result.seconds[name][-1] - stages["read"])
        log(
            f"  round {number + 1}/{rounds}: "
            + "  ".join(f"{n} {result.seconds[n][-1]:.3f}s" for n in names if result.seconds[n])
        )
    return result


# -- output -----------------------------------------------------------------------------------------


def _human(rate: float | None) -> str:
    if rate is None:
        return "-"
    if rate >= 1e3:
        return f"{rate / 1e3:.2f}k/s"
    return f"{rate:.1f}/s"


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.2f}x [{min(values):.2f}x-{max(values):.2f}x]"


def report(results: list[Measured], seeds: int, rounds: int, warmup: bool, print_: Callable[[str], None]) -> None:
    names = [r.target.name for r in results]
    print_("")
    print_(
        f"Runs per second (median over {rounds} rounds of seeds 0..{seeds - 1}"
        f"{', after one warm-up' if warmup else ', no warm-up'}; the replays: the same transcript {seeds} times)"
    )
    print_(f"{'contender':<32}" + "".join(f"{n:>24}" for n in names))
    for row in ROWS:
        cells = [_human(r.rate(row)) if r.seconds.get(row) else "n/a" for r in results]
        print_(f"{row:<32}" + "".join(f"{c:>24}" for c in cells))
    print_("")
    print_("Ratios of runs/s, computed per round, median [min-max] (below 1x: fewer simulated runs than the other)")
    print_(f"{'ratio':<32}" + "".join(f"{n:>24}" for n in names))
    for a, b in RATIOS:
        cells = [_spread(r.ratios(a, b)) if r.seconds.get(a) and r.seconds.get(b) else "n/a" for r in results]
        print_(f"{f'{a} / {b}':<32}" + "".join(f"{c:>24}" for c in cells))
    width = max([len(n) for n in names] + [6])
    print_("")
    print_(f"Verdicts over seeds 0..{seeds - 1} (the first timed pass; every pass must match it digest for digest)")
    print_(
        f"{'target':<{width}} {'contender':<15} {'pass':>6} {'fail':>6} {'vacuous':>8} "
        f"{'faults fired/planned':>21} {'same every pass':>16}"
    )
    for r in results:
        for name in SIMULATED:
            if name not in r.runs:
                continue
            counts = r.verdicts(name)
            fired = sum(x.fired for x in r.runs[name])
            planned = sum(x.planned for x in r.runs[name])
            same = "no" if r.changed.get(name) else "yes"
            print_(
                f"{r.target.name:<{width}} {name:<15} {counts['pass']:>6} {counts['fail']:>6} "
                f"{counts['vacuous']:>8} {f'{fired}/{planned}':>21} {same:>16}"
            )
    print_("")
    print_("Replay stages, ms per run (median over rounds; replay(parsed) leaves out `read`)")
    print_(f"{'target':<{width}} " + " ".join(f"{s:>10}" for s in (*STAGES, "total")))
    for r in results:
        if r.stages:
            per = [statistics.median(s[n] for s in r.stages) * 1e3 for n in STAGES]
            total = statistics.median(sum(s.values()) for s in r.stages) * 1e3
            print_(f"{r.target.name:<{width}} " + " ".join(f"{v:>10.2f}" for v in (*per, total)))
    print_("")
    for r in results:
        print_(f"{r.target.name}: {r.target.ref}; replay = {r.target.baseline}")
    for r in results:
        for name, why in r.failed.items():
            print_(f"FAILED {r.target.name}: {name}: {why}")
        for name, count in r.changed.items():
            print_(f"{r.target.name}: {name}: {count} pass(es) differed from the first (same seeds, other digests)")


def as_json(results: list[Measured], seeds: int, rounds: int, warmup: bool) -> dict[str, Any]:
    return {
        "seeds": seeds,
        "rounds": rounds,
        "warmup": warmup,
        "targets": [
            {
                "target": r.target.name,
                "ref": r.target.ref,
                "baseline": r.target.baseline,
                "contenders": r.contenders,
                "seconds": r.seconds,
                "runs_per_second": {c: r.rate(c) for c in r.seconds if r.seconds[c]},
                "ratios": {f"{a}/{b}": r.ratios(a, b) for a, b in RATIOS if r.seconds.get(a) and r.seconds.get(b)},
                "verdicts": {name: r.verdicts(name) for name in r.runs},
                "faults": {
                    name: {"planned": sum(x.planned for x in runs), "fired": sum(x.fired for x in runs)}
                    for name, runs in r.runs.items()
                },
                "changed": r.changed,
                "failed": r.failed,
                "replay_stages": r.stages,
            }
            for r in results
        ],
    }


# -- main -------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, help=f"seeds 0..N-1 per round (default {DEFAULT_SEEDS})")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per target (default 5)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SEEDS} seeds, 2 rounds, no warm-up")
    parser.add_argument(
        "--targets",
        type=lambda s: tuple(x for x in s.split(",") if x),
        default=TARGETS,
        help=f"comma-separated (default: {','.join(TARGETS)})",
    )
    parser.add_argument("--json", type=Path, help="also write every round's seconds, ratios and verdicts as JSON")
    args = parser.parse_args(argv)
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown or not args.targets:
        parser.error(f"unknown target {unknown[0] if unknown else ''!r}; one of {', '.join(TARGETS)}")
    if args.quick:
        args.seeds = args.seeds or QUICK_SEEDS
        args.rounds = min(args.rounds, 2)
    args.seeds = args.seeds or DEFAULT_SEEDS
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (a ratio's spread needs rounds)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warmup = not args.quick

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results: list[Measured] = []
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-simulate-")))
        for name in args.targets:
            target = make_target(name)
            log(f"{name}: {target.ref} ({args.seeds} seeds, {args.rounds} rounds)")
            results.append(measure(target, folder, seeds=args.seeds, rounds=args.rounds, warmup=warmup, log=log))
    report(results, args.seeds, args.rounds, warmup, print)
    if args.json is not None:
        data = as_json(results, args.seeds, args.rounds, warmup)
        args.json.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return 1 if any(r.failed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
