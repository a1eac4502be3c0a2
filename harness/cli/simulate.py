"""``harness simulate``: seeded fault and schedule sweeps of a simulation target or a scenario.

``harness simulate TARGET [--seeds A..B | --seed N] [--plan P] [--schedule S] [--faults KINDS]
[--policy mixed|random|pct|fifo] [-j N] [--executor local|ray] [--crash-every] [--no-shrink]
[--report-dir reports]``

TARGET is ``path/to/file.py::name`` (a function declared with ``@harness.simulation``),
``package.module:name``, or a scenario file of the core. A sweep shows a progress bar, then a
table of failures grouped by signature, each with its shrunk one-line reproduction; ``--plan`` (and
``--schedule``) rerun one exact run and print its history; ``--crash-every`` crashes a scenario of
the core after every event in turn (on top of ``--plan``, if given) and recovers each time. Results go to
``<report-dir>/simulation.ndjson`` and the analysis database ``<report-dir>/harness.duckdb``
(tables ``sim_runs``, ``sim_faults``, ``sim_violations``, ``sim_groups``, replacing the previous
sweep's; the scenario tables and the history stay). Exit 0 when no run failed (vacuous runs
are reported, not failures), 1 when one did, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from harness.defaults import DEFAULT_REPORTS
from harness.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from harness.analysis.db import Invocation
    from harness.simulate.sweep import SweepResult

_RANGE = re.compile(r"^\s*(\d+)\s*\.\.\s*(\d+)\s*$")


def seed_range(text: str) -> range:
    """``A..B`` (both included) as a range; an ``argparse`` type."""
    match = _RANGE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected seeds as A..B (e.g. 0..199), found {text!r}")
    low, high = int(match.group(1)), int(match.group(2))
    if high < low:
        raise argparse.ArgumentTypeError(f"the seed range {text!r} is empty: {high} < {low}")
    return range(low, high + 1)


def register(commands: Any) -> None:
    """Add ``harness simulate`` to the top-level subcommands."""
    p = commands.add_parser(
        "simulate",
        help="seeded fault and scheduling sweeps, with shrunk one-line reproductions",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("target", help="path/to/file.py::name, package.module:name, or a scenario .yaml")
    p.add_argument("--seeds", type=seed_range, default=range(0, 100), help="seed range A..B (default 0..99)")
    p.add_argument(
        "--seed", type=int, default=None, help="one seed (with --plan/--schedule: for the target's own randomness)"
    )
    p.add_argument(
        "--plan", default=None, help="an exact fault plan, e.g. 'reset@1.3;status@2:code=429' ('none': no fault)"
    )
    p.add_argument("--schedule", default=None, help="an exact decision list, e.g. '0*3,1,2' (needs --plan)")
    p.add_argument(
        "--faults", default=None, help="comma-separated fault kinds a seed may choose (default: the target's)"
    )
    p.add_argument("--policy", choices=("mixed", "random", "pct", "fifo"), default=None)
    p.add_argument("-j", "--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--executor", choices=("local", "ray"), default="local")
    p.add_argument("--ray-address", default=None, help="a Ray cluster to join (default: RAY_ADDRESS or a local one)")
    p.add_argument(
        "--crash-every",
        action="store_true",
        help="a scenario of the core: crash after every event in turn and recover (with --plan: on top of it)",
    )
    p.add_argument("--no-shrink", action="store_true", help="report failures without shrinking them")
    p.add_argument("--report-dir", type=Path, default=DEFAULT_REPORTS)
    p.add_argument(
        "--json", action="store_true", help="print the history (one run) or the runs (a sweep) as JSON lines"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from harness.analysis.db import Invocation
    from harness.cli import EXIT_FAILED, EXIT_OK

    kinds = [k.strip() for k in args.faults.split(",") if k.strip()] if args.faults else None
    if args.jobs < 1:
        raise UsageError(f"-j must be at least 1, found {args.jobs}")
    if args.schedule is not None and args.plan is None:
        raise UsageError("--schedule reproduces a run together with its --plan; give both")
    if args.crash_every:
        if args.schedule is not None:
            raise UsageError(
                "--crash-every runs the core one crash at a time, unscheduled: no schedule to replay; drop --schedule"
            )
        invocation, started = Invocation.start("harness simulate"), time.monotonic()
        result = _sweep(args, console, [], kinds)
        _write_results(args.report_dir, result, _timed(invocation, started))
        _print_sweep(console, result, json_lines=args.json)
        return EXIT_OK if result.ok else EXIT_FAILED
    if args.plan is not None:
        return _one(args, console, kinds)
    seeds: Sequence[int] = [args.seed] if args.seed is not None else args.seeds
    invocation, started = Invocation.start("harness simulate"), time.monotonic()
    result = _sweep(args, console, seeds, kinds)
    _write_results(args.report_dir, result, _timed(invocation, started))
    _print_sweep(console, result, json_lines=args.json)
    return EXIT_OK if result.ok else EXIT_FAILED


def _one(args: argparse.Namespace, console: Console, kinds: list[str] | None) -> int:
    from harness.cli import EXIT_FAILED, EXIT_OK
    from harness.simulate.sweep import repro_line, run_one

    history = run_one(
        args.target, seed=args.seed, plan=args.plan, schedule=args.schedule, policy=args.policy, kinds=kinds
    )
    if args.json:
        console.print(orjson.dumps(history.to_json(), option=orjson.OPT_SORT_KEYS).decode(), markup=False)
    console.print(f"{history.verdict}: plan {history.plan}, schedule {history.schedule or 'fifo'}", markup=False)
    console.print(f"history {history.digest()}, {history.steps} steps, {history.virtual_ms} virtual ms", markup=False)
    for fault in history.faults:
        state = (
            "fired" if fault.get("fired") else f"skipped: {fault['skipped']}" if "skipped" in fault else "did not fire"
        )
        console.print(f"  fault {fault['fault']}: {state}", markup=False)
    for finding in history.violations:
        console.print(f"  [{finding.rule}] {finding.message}", markup=False)
    if history.violations:
        console.print(f"reproduce: {repro_line(args.target, history)}", markup=False)
    return EXIT_FAILED if history.verdict == "fail" else EXIT_OK


def _sweep(args: argparse.Namespace, console: Console, seeds: Sequence[int], kinds: list[str] | None) -> SweepResult:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from harness.simulate.sweep import sweep

    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("seeds", total=len(seeds))

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        if args.crash_every:
            from harness.simulate.sweep import sweep_crashes

            return sweep_crashes(args.target, plan=args.plan or "none", on_batch=advance)
        return sweep(
            args.target,
            seeds,
            kinds=kinds,
            policy=args.policy,
            jobs=args.jobs,
            executor=args.executor,
            ray_address=args.ray_address,
            shrink_failures=not args.no_shrink,
            on_batch=advance,
        )


def _print_sweep(console: Console, result: SweepResult, *, json_lines: bool) -> None:
    from rich.table import Table

    if json_lines:
        for run_ in result.runs:
            console.print(orjson.dumps(run_, option=orjson.OPT_SORT_KEYS).decode(), markup=False)
    fired = sum(1 for r in result.runs for f in r["faults"] if f.get("fired"))
    console.print(
        f"{len(result.runs)} runs of {result.target}: {result.passed} passed, {result.failed} failed, "
        f"{result.vacuous} vacuous (no planned fault fired); {fired} faults fired",
        markup=False,
    )
    if not result.groups:
        return
    table = Table(title="failures by signature", show_lines=True)
    table.add_column("signature")
    table.add_column("runs", justify="right")
    table.add_column("first seed", justify="right")
    table.add_column("shrunk reproduction")
    for group in result.groups:
        first = str(group.seeds[0]) if group.seeds else f"crash@{group.crashes[0]}"
        table.add_row(group.signature, str(group.runs), first, group.repro)
    console.print(table)
    for group in result.groups:
        console.print(f"[{group.signature}] {group.message}", markup=False)
        console.print(f"  reproduce: {group.repro}", markup=False)


def _timed(invocation: Invocation, started: float) -> Invocation:
    """``invocation`` with the sweep's wall time: runs per second, for the report's sweep page."""
    return dataclasses.replace(invocation, elapsed_ms=round((time.monotonic() - started) * 1000))


def _write_results(report_dir: Path, result: SweepResult, invocation: Invocation) -> None:
    """``simulation.ndjson`` (one run per line) and the sweep's tables in ``harness.duckdb``."""
    from harness.analysis import build_simulation_database
    from harness.files import make_dirs, write_atomic
    from harness.report.writer import write_html_and_junit

    make_dirs(report_dir)
    lines = b"".join(
        orjson.dumps({"target": result.target, **run_}, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
        for run_ in result.runs
    )
    write_atomic(report_dir / "simulation.ndjson", lines, force=True)
    groups = [
        {
            "signature": group.signature,
            "runs": group.runs,
            "first_seed": group.seeds[0] if group.seeds else None,
            "message": group.message,
            "reproduce": group.repro,
            "timeline": group.shrunk.timeline,
        }
        for group in result.groups
    ]
    database = report_dir / "harness.duckdb"
    build_simulation_database(database, target=result.target, runs=result.runs, groups=groups, invocation=invocation)
    write_html_and_junit(report_dir, database)
