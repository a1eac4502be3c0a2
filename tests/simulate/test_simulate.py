"""Simulated runs of user code and of the core: verdicts, rules, shrinking, reproduction, sweeps."""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from harness.cli import main
from harness.core import Orchestrator, StoredEvent
from harness.core.live import Subscription, point
from harness.simulate.core import run_scenario
from harness.simulate.history import History
from harness.simulate.sweep import repro_line, run_one, shrink, sweep, sweep_crashes

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REF = "tests/simulate/sim_targets.py"


def _targets():  # the module as the command line loads it, so references and objects agree
    spec = importlib.util.spec_from_file_location("sim_targets", HERE / "sim_targets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


T = _targets()


# -- one run -------------------------------------------------------------------------------------


def test_a_correct_client_passes_the_unfaulted_recording() -> None:
    history = run_one(T.correct, plan="none")
    assert history.verdict == "pass"
    assert history.violations == []
    assert [e["type"] for e in history.events][-1] == "run.completed"
    assert [x["replayed"] for x in history.exchanges] == [True, True]


def test_a_correct_client_recovers_from_every_retry_fault() -> None:
    history = run_one(T.correct, plan="status@1:code=529;reset@2.3;truncate@1.2")
    assert history.verdict == "pass", history.violations
    assert [f["fired"] for f in history.faults] == [True, True, True]


def test_a_client_that_does_not_retry_a_cut_stream_leaves_the_recording() -> None:
    history = run_one(T.no_retry_mid_stream, plan="reset@2.3")
    assert history.verdict == "fail"
    assert history.signature == "sim.replay.diverged+sim.target.raised"


def test_partial_text_shown_again_breaks_the_text_rule() -> None:
    history = run_one(T.shows_partial_twice, plan="reset@2.5")
    assert history.signature == "t.text.shown_once"


def test_a_task_alive_after_the_target_returned_is_a_violation() -> None:
    history = run_one(T.leaks_a_task, plan="none")
    assert history.signature == "sim.teardown.task_alive"
    assert "heartbeat (Event.wait)" in history.violations[0].message


def test_a_target_that_waits_forever_is_a_deadlock_not_a_hang() -> None:
    history = run_one(T.waits_forever, plan="none")
    assert history.outcome == "deadlock"
    assert history.signature == "sim.deadlock"


def test_a_fault_whose_position_does_not_exist_makes_a_vacuous_run() -> None:
    history = run_one(T.correct, plan="stall@2.500")
    assert history.verdict == "vacuous"
    assert "skipped" in history.faults[0]


def test_the_same_seed_gives_the_same_history() -> None:
    first, second = run_one(T.racy_counter, seed=5), run_one(T.racy_counter, seed=5)
    assert first.digest() == second.digest()
    assert first.decisions == second.decisions


def test_the_history_digest_is_the_same_in_another_process_and_hash_seed() -> None:
    script = (
        "import sys; from harness.simulate.sweep import run_one; "
        f"print(run_one({REF + '::racy_counter'!r}, seed=11).digest())"
    )
    digests = set()
    for hash_seed in ("1", "987"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT, check=True
        )
        digests.add(done.stdout.strip())
    assert len(digests) == 1
    os.chdir(ROOT)
    assert run_one(f"{REF}::racy_counter", seed=11).digest() in digests


def test_a_schedule_replays_the_decisions_it_was_given() -> None:
    original = run_one(T.racy_counter, seed=3)
    again = run_one(T.racy_counter, seed=3, plan=original.plan, schedule=original.schedule)
    assert again.signature == original.signature
    assert again.decisions[: len(original.decisions)] == original.decisions
    assert again.policy == "replay"


def test_a_run_replayed_from_its_plan_and_schedule_has_the_same_digest() -> None:
    for seed in range(6):
        original = run_one(T.racy_counter, seed=seed)
        again = run_one(T.racy_counter, seed=seed, plan=original.plan, schedule=original.schedule)
        assert again.digest() == original.digest(), seed


def test_the_printed_reproduction_reruns_to_the_shrunk_digest(tmp_path: Path, capsys) -> None:
    result = sweep(f"{REF}::no_retry_mid_stream", range(20))
    group = result.groups[0]
    capsys.readouterr()
    argv = shlex.split(group.repro)
    assert argv[:2] == ["harness", "simulate"]
    assert main(argv[1:]) == 1
    assert f"history {group.shrunk.digest()}" in capsys.readouterr().out


def test_the_timeline_places_decisions_points_exchanges_and_faults_at_loop_steps() -> None:
    history = run_one(T.no_retry_mid_stream, seed=1)
    lanes: dict[str, list[list[object]]] = {}
    for row in history.timeline:
        lanes.setdefault(str(row[0]), []).append(row)
    assert len(lanes["decision"]) == len(history.decisions)
    assert len(lanes["exchange"]) == len(history.exchanges)
    fired = [f["fault"] for f in history.faults if f["fired"]]
    assert [row[2] for row in lanes["fault"]] == fired
    requests = [row[1] for row in lanes["exchange"]]
    for row in lanes["fault"]:
        assert row[1] in requests, row  # at the step its exchange was requested
    assert all(
        isinstance(row[1], int) and 0 < row[1] <= history.steps for row in history.timeline if row[1] is not None
    )


def test_the_timeline_is_not_part_of_the_digest() -> None:
    history = run_one(T.no_retry_mid_stream, seed=1)
    digest = history.digest()
    history.timeline = []
    assert history.digest() == digest


# -- sweeps, shrinking, reproduction ----------------------------------------------------------------


def test_a_sweep_finds_and_shrinks_the_no_retry_bug_to_one_fault() -> None:
    result = sweep(T.no_retry_mid_stream, range(20))
    assert not result.ok
    (group,) = result.groups
    plan = group.shrunk.plan
    assert ";" not in plan and plan.split("@")[0] in ("reset", "stream_error", "truncate")
    assert "--plan" in group.repro and "harness simulate" in group.repro
    again = run_one(T.no_retry_mid_stream, seed=group.shrunk.seed, plan=plan, schedule=group.shrunk.decisions)
    assert again.signature == group.signature
    assert again.digest() == group.shrunk.digest()


def test_a_correct_client_survives_a_sweep_with_faults_firing() -> None:
    result = sweep(T.correct, range(60))
    assert result.ok
    assert result.passed > 40
    assert sum(1 for r in result.runs for f in r["faults"] if f.get("fired")) > 30


def test_shrinking_a_schedule_bug_keeps_its_signature() -> None:
    failing = next(h for h in (run_one(T.racy_counter, seed=s) for s in range(20)) if h.verdict == "fail")
    shrunk = shrink(T.racy_counter, failing)
    assert shrunk.signature == failing.signature
    assert len(shrunk.plan.split(";")) <= len(failing.plan.split(";"))
    assert len(shrunk.schedule) <= len(failing.schedule)


def test_a_passing_run_is_not_shrunk() -> None:
    passing = run_one(T.correct, plan="none")
    assert shrink(T.correct, passing) is passing


def test_results_do_not_depend_on_how_seeds_are_split_across_workers(repo_root: Path) -> None:
    one = sweep(f"{REF}::no_retry_mid_stream", range(24), jobs=1, shrink_failures=False)
    two = sweep(f"{REF}::no_retry_mid_stream", range(24), jobs=2, shrink_failures=False)
    assert one.runs == two.runs


def test_several_workers_need_the_target_by_reference() -> None:
    from harness.errors import UsageError

    with pytest.raises(UsageError, match="by reference"):
        sweep(T.correct, range(4), jobs=2)


def test_the_reproduction_line_names_seed_plan_and_schedule() -> None:
    history = History(target="x.py::t", seed=4, plan="reset@1.2", policy="random", decisions=[0, 2, 0])
    assert repro_line("x.py::t", history) == "harness simulate x.py::t --seed 4 --plan reset@1.2 --schedule 0,2"
    history.decisions = []
    assert repro_line("x.py::t", history).endswith("--policy fifo")


# -- the command line ------------------------------------------------------------------------------


def test_simulate_reports_failures_by_signature_and_exits_1(repo_root: Path, tmp_path: Path, capsys) -> None:
    code = main(["simulate", f"{REF}::no_retry_mid_stream", "--seeds", "0..9", "--report-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "failures by signature" in out
    assert "reproduce: harness simulate tests/simulate/sim_targets.py::no_retry_mid_stream --seed" in out
    db = duckdb.connect(str(tmp_path / "harness.duckdb"), read_only=True)
    runs = db.execute("select count(*), count(*) filter (where verdict = 'fail') from sim_runs").fetchone()
    fired = db.execute("select count(*) from sim_faults where fired").fetchone()
    rules = db.execute("select distinct rule from sim_violations order by 1").fetchall()
    assert runs is not None and runs[0] == 10 and runs[1] > 0
    assert fired is not None and fired[0] > 0
    assert ("sim.replay.diverged",) in rules
    assert (tmp_path / "simulation.ndjson").read_text().count("\n") == 10


def test_simulate_with_a_plan_reruns_one_exact_run(repo_root: Path, tmp_path: Path, capsys) -> None:
    code = main(["simulate", f"{REF}::no_retry_mid_stream", "--plan", "reset@2.3", "--policy", "fifo"])
    out = capsys.readouterr().out
    assert code == 1
    assert "fault reset@2.3: fired" in out
    assert "[sim.replay.diverged]" in out
    assert main(["simulate", f"{REF}::correct", "--plan", "reset@2.3", "--policy", "fifo"]) == 0


def test_simulate_passes_a_correct_target(repo_root: Path, tmp_path: Path, capsys) -> None:
    assert main(["simulate", f"{REF}::correct", "--seeds", "0..9", "--report-dir", str(tmp_path)]) == 0
    assert "10 runs" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "9..2"], "is empty"),
        (["--seeds", "a..b"], "expected seeds as A..B"),
        (["--schedule", "0,1"], "give both"),
        (["-j", "0"], "at least 1"),
        (["--plan", "bogus@1"], "unknown fault kind"),
    ],
)
def test_simulate_usage_errors(repo_root: Path, capsys, argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) if argv[0] == "--seeds" else _no_raise():
        code = main(["simulate", f"{REF}::correct", *argv])
        assert code == 2
    captured = capsys.readouterr()
    assert message in captured.err


def test_simulate_names_a_target_it_cannot_load(repo_root: Path, capsys) -> None:
    assert main(["simulate", "tests/simulate/nothing.py::x"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["simulate", f"{REF}::REQUESTS"]) == 2
    assert "expected a function declared with @harness.simulation" in capsys.readouterr().err
    assert main(["simulate", "scenarios/parity/parity_capital_france.yaml"]) == 2
    assert "variants" in capsys.readouterr().err


class _no_raise:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


# -- the core -------------------------------------------------------------------------------------

CODEX = "scenarios/t3code/codex/multi_turn.yaml"
HTTP = "scenarios/anthropic/tool_loop_two_requests.yaml"


@pytest.mark.parametrize("scenario", [CODEX, HTTP])
def test_the_core_recovers_from_a_crash_after_any_event(repo_root: Path, scenario: str) -> None:
    total = len(run_scenario(scenario, plan="none").events)
    for after in sorted({1, 2, total // 3, total // 2, total - 1}):
        history = run_scenario(scenario, plan=f"crash@{after}")
        assert history.verdict == "pass", (after, history.violations)
        assert [e["sequence"] for e in history.events] == list(range(1, total + 1))


def test_benign_faults_leave_the_cores_outcome_unchanged(repo_root: Path) -> None:
    history = run_scenario(CODEX, plan="stall@5:ms=40000;reorder@7")
    assert history.verdict == "pass", history.violations
    assert all(f["fired"] for f in history.faults)


def test_a_runtime_exit_ends_the_run_failed_with_its_invariants_intact(repo_root: Path) -> None:
    history = run_scenario(CODEX, plan="exit@3")
    assert history.verdict == "pass", history.violations
    runs = [e["data"] for e in history.events if e["type"] == "run.updated"]
    assert runs[-1]["status"] == "failed"


def test_the_core_does_not_retry_so_a_retry_fault_fails_the_run_cleanly(repo_root: Path) -> None:
    history = run_scenario(HTTP, plan="status@1:code=529")
    assert history.verdict == "pass", history.violations
    assert any(e["type"] == "run.updated" and e["data"]["status"] == "failed" for e in history.events)


def test_a_planted_instance_counter_is_caught_by_crash_recovery(repo_root: Path, monkeypatch) -> None:
    """Planted bug: command ids from a counter that lives in the process, not in the store."""
    counter = iter(range(10_000))
    monkeypatch.setattr(Orchestrator, "_command_name", lambda self, number: f"command-{next(counter)}")
    history = run_scenario(CODEX, plan="crash@20")
    assert "sim.core.nondeterministic" in history.signature


def test_a_planted_receipt_bug_is_caught_by_redispatching(repo_root: Path, monkeypatch) -> None:
    """Planted bug: dispatch forgets receipts, so a repeated command runs again."""
    original = Orchestrator.dispatch

    def forgetful(self: Orchestrator, command):  # type: ignore[no-untyped-def]
        self.projection.receipts.clear()
        return original(self, command)

    monkeypatch.setattr(Orchestrator, "dispatch", forgetful)
    history = run_scenario(CODEX, plan="crash@20")
    assert "sim.core.receipt_not_idempotent" in history.signature


def test_crashing_after_every_event_recovers_every_time(repo_root: Path) -> None:
    total = len(run_scenario(HTTP, plan="none").events)
    result = sweep_crashes(HTTP)
    assert result.ok, [g.repro for g in result.groups]
    assert [r["plan"] for r in result.runs] == [f"crash@{k}" for k in range(1, total)]
    assert all(f["fired"] for r in result.runs for f in r["faults"])


def test_crashing_after_every_event_adds_the_plan_to_each_crash(repo_root: Path) -> None:
    result = sweep_crashes(CODEX, plan="stall@3")
    assert result.ok
    assert [r["plan"] for r in result.runs][:2] == ["crash@1;stall@3", "crash@2;stall@3"]


def test_every_crash_point_finds_a_planted_counter_and_lists_where(repo_root: Path, monkeypatch) -> None:
    counter = iter(range(100_000))
    monkeypatch.setattr(Orchestrator, "_command_name", lambda self, number: f"command-{next(counter)}")
    result = sweep_crashes(CODEX)
    assert result.failed == len(result.runs)
    assert all("sim.core.nondeterministic" in group.signature for group in result.groups)
    assert sorted(k for group in result.groups for k in group.crashes) == list(range(1, len(result.runs) + 1))
    group = result.groups[0]
    assert group.runs == len(group.crashes)
    assert group.repro == f"harness simulate {CODEX} --plan crash@{group.crashes[0]}"


def test_a_crash_after_the_last_event_does_not_fire(repo_root: Path) -> None:
    total = len(run_scenario(HTTP, plan="none").events)
    history = run_scenario(HTTP, plan=f"crash@{total}")
    assert history.faults == [{"fault": f"crash@{total}", "fired": False}]
    assert history.verdict == "vacuous"


def test_crash_every_refuses_what_it_cannot_do(repo_root: Path, capsys) -> None:
    assert main(["simulate", f"{REF}::correct", "--crash-every"]) == 2
    assert "needs a scenario of the core" in capsys.readouterr().err
    assert main(["simulate", HTTP, "--crash-every", "--plan", "crash@3"]) == 2
    assert "already crashes" in capsys.readouterr().err
    assert main(["simulate", HTTP, "--crash-every", "--plan", "none", "--schedule", "1"]) == 2
    assert "no schedule" in capsys.readouterr().err


def test_crash_every_on_the_command_line(repo_root: Path, tmp_path: Path, capsys) -> None:
    assert main(["simulate", CODEX, "--crash-every", "--report-dir", str(tmp_path)]) == 0
    total = len(run_scenario(CODEX, plan="none").events)
    assert f"{total - 1} runs of {CODEX}: {total - 1} passed, 0 failed" in capsys.readouterr().out
    db = duckdb.connect(str(tmp_path / "harness.duckdb"), read_only=True)
    assert db.execute("select count(*) from sim_faults where kind = 'crash' and fired").fetchone() == (total - 1,)
    # Crash runs have no seed: the run number tells them apart, one crash fault each.
    joined = "select count(distinct f.run) from sim_faults f join sim_runs r using (run) where f.fault = r.plan"
    assert db.execute(joined).fetchone() == (total - 1,)


def test_a_core_sweep_passes_the_bundled_scenario(repo_root: Path) -> None:
    result = sweep(CODEX, range(30))
    assert result.ok
    assert any(f["fault"].startswith("crash@") for r in result.runs for f in r["faults"])


# -- the core's named yield points: dispatch, store.append, publish, subscribe ----------------------


async def _read_then_subscribe(self: Subscription) -> None:
    """Planted bug: read the store, then register for live events (the window loses events)."""
    self._pending.extend(self.core.store.read(self.last))
    await point("subscribe", self.name)
    self.core._subscriptions.append(self)
    self._wake.set()


async def _no_dedupe(self: Subscription) -> StoredEvent:
    """Planted bug: deliver whatever arrives, read and published alike."""
    if not self._started:
        self._started = True
        await self._start()
    while True:
        if self._pending:
            event = self._pending.popleft()
            self.last = event.sequence
            return event
        if self.core.closed:
            self.core._subscriptions.remove(self)
            raise StopAsyncIteration
        self._wake.clear()
        await self._wake.wait()


@pytest.mark.parametrize("scenario", [CODEX, HTTP])
def test_core_runs_are_scheduled_and_pass_their_yield_points(repo_root: Path, scenario: str) -> None:
    history = run_scenario(scenario, seed=3)
    assert history.policy in ("random", "pct")
    assert history.decisions
    names = {name for name, _, _ in history.points}
    assert names >= {"dispatch", "store.append", "publish", "subscribe"}


@pytest.mark.parametrize(
    ("planted", "rule", "budget"),
    [(_read_then_subscribe, "sim.core.subscriber_lost", 60), (_no_dedupe, "sim.core.subscriber_duplicate", 30)],
    ids=["read-then-subscribe", "no-dedupe"],
)
@pytest.mark.parametrize("scenario", [CODEX, HTTP])
def test_a_planted_subscription_bug_is_found_within_its_budget_and_shrunk(
    repo_root: Path, monkeypatch, capsys, scenario: str, planted, rule: str, budget: int
) -> None:
    monkeypatch.setattr(Subscription, "_start" if planted is _read_then_subscribe else "__anext__", planted)
    result = sweep(scenario, range(budget))
    assert not result.ok
    group = next(g for g in result.groups if g.signature == rule)
    assert group.shrunk.plan == "none"  # no fault is needed: the schedule alone loses or doubles events
    argv = shlex.split(group.repro)
    assert "--schedule" in argv or argv[-2:] == ["--policy", "fifo"]
    capsys.readouterr()
    assert main(argv[1:]) == 1
    out = capsys.readouterr().out
    assert rule in out
    assert f"history {group.shrunk.digest()}" in out


def test_the_correct_core_loses_and_doubles_nothing_over_a_sweep(repo_root: Path) -> None:
    for scenario in (CODEX, HTTP):
        result = sweep(scenario, range(150))
        assert result.ok, [g.repro for g in result.groups]


def test_a_core_run_replayed_from_its_schedule_has_the_same_digest(repo_root: Path) -> None:
    for seed in range(8):
        original = run_scenario(HTTP, seed=seed)
        again = run_scenario(HTTP, seed=seed, plan=original.plan, schedule=original.schedule)
        assert again.digest() == original.digest(), seed


def test_a_core_run_has_the_same_digest_in_another_process_and_hash_seed(repo_root: Path) -> None:
    script = f"from harness.simulate.core import run_scenario; print(run_scenario({CODEX!r}, seed=3).digest())"
    digests = set()
    for hash_seed in ("1", "987"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT, check=True
        )
        digests.add(done.stdout.strip())
    assert digests == {run_scenario(CODEX, seed=3).digest()}


# -- Hypothesis ---------------------------------------------------------------------------------------


def test_hypothesis_finds_and_shrinks_a_failing_plan_and_schedule() -> None:
    from hypothesis import find, settings

    from harness.strategies import fault_plans, schedules
    from harness.transcript import read_transcript

    recording = read_transcript(T.TRANSCRIPT)
    strategy = fault_plans(recording, kinds=["reset", "stall"])

    def fails(plan_and_schedule: tuple[object, list[int]]) -> bool:
        plan, schedule = plan_and_schedule
        return run_one(T.no_retry_mid_stream, plan=plan, schedule=schedule).verdict == "fail"  # type: ignore[arg-type]

    from hypothesis import strategies as st

    found = find(st.tuples(strategy, schedules()), fails, settings=settings(max_examples=200, database=None))
    plan, schedule = found
    assert [f.kind for f in plan.faults] == ["reset"]  # type: ignore[attr-defined]
    assert schedule == []
