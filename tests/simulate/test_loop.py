"""The deterministic event loop: virtual time, policies, recorded decisions, deadlocks, teardown."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys

import anyio
import pytest

from harness.simulate.history import decode_schedule, encode_schedule
from harness.simulate.loop import PCT, Deadlock, Fifo, RandomWalk, Replay, SimLoop
from harness.simulate.seeds import Rng, derive


async def _workers(log: list[tuple[int, int]], count: int = 3, rounds: int = 3) -> None:
    async def worker(number: int) -> None:
        for step in range(rounds):
            log.append((number, step))
            await asyncio.sleep(0)

    await asyncio.gather(*(worker(n) for n in range(count)))


def _run(policy: object, count: int = 3) -> tuple[list[tuple[int, int]], list[int]]:
    loop = SimLoop(policy)  # type: ignore[arg-type]
    log: list[tuple[int, int]] = []
    loop.run_until_complete(_workers(log, count))
    loop.close()
    return log, loop.decisions


def test_virtual_time_jumps_to_the_next_timer_instead_of_sleeping() -> None:
    loop = SimLoop()

    async def nap() -> float:
        await asyncio.sleep(3600)
        await asyncio.wait_for(asyncio.sleep(1), timeout=10)
        return asyncio.get_running_loop().time()

    assert loop.run_until_complete(nap()) == 3601.0
    assert loop.now_ms == 3_601_000
    loop.close()


def test_a_timeout_fires_on_the_virtual_clock() -> None:
    loop = SimLoop()

    async def slow() -> str:
        try:
            await asyncio.wait_for(asyncio.Event().wait(), timeout=30)
        except TimeoutError:
            return f"timed out at {asyncio.get_running_loop().time()}"
        return "answered"

    assert loop.run_until_complete(slow()) == "timed out at 30.0"
    loop.close()


def test_fifo_runs_ready_callbacks_in_the_standard_loops_order() -> None:
    log, decisions = _run(Fifo())
    assert log[:3] == [(0, 0), (1, 0), (2, 0)]
    assert set(decisions) == {0}


def test_random_policy_explores_other_orders_and_records_every_choice() -> None:
    orders = {tuple(_run(RandomWalk(Rng(derive(seed, "s"))))[0]) for seed in range(20)}
    assert len(orders) > 5
    _, decisions = _run(RandomWalk(Rng(7)))
    assert decisions and max(decisions) > 0


@pytest.mark.parametrize("policy", ["random", "pct"])
def test_replaying_the_recorded_decisions_reproduces_the_run(policy: str) -> None:
    chosen = RandomWalk(Rng(11)) if policy == "random" else PCT(Rng(11), depth=3, horizon=20)
    log, decisions = _run(chosen)
    replayed, again = _run(Replay(decisions))
    assert replayed == log
    assert again == decisions


def test_replay_past_its_end_takes_the_fifo_choice() -> None:
    assert _run(Replay([]))[0] == _run(Fifo())[0]


def test_replay_notes_an_index_that_no_longer_exists() -> None:
    policy = Replay([9])
    _run(policy)
    assert policy.diverged


def test_pct_lets_a_lower_priority_task_overtake_at_a_change_point() -> None:
    # depth 1: no change point, a task runs to completion before the next starts (no interleaving)
    log, _ = _run(PCT(Rng(3), depth=1))
    firsts = [n for n, step in log if step == 0]
    assert all(log[i][0] == log[i + 1][0] for i in range(len(log) - 1) if log[i][1] < 2)
    assert len(firsts) == 3
    interleaved = any(
        any(a[0] != b[0] and a[1] < 2 for a, b in itertools.pairwise(run))
        for run in (_run(PCT(Rng(derive(s, "p")), depth=3, horizon=10))[0] for s in range(30))
    )
    assert interleaved


def test_pct_needs_a_positive_depth() -> None:
    with pytest.raises(ValueError, match="depth"):
        PCT(Rng(1), depth=0)


def test_a_deadlock_names_the_tasks_that_wait() -> None:
    loop = SimLoop()

    async def stuck() -> None:
        await asyncio.Event().wait()

    with pytest.raises(Deadlock, match=r"task-1 \(.*stuck\)"):
        loop.run_until_complete(stuck())
    loop.cancel_all()
    loop.close()


def test_run_in_executor_runs_inline_so_asyncio_to_thread_is_deterministic() -> None:
    loop = SimLoop()

    async def main() -> int:
        return await asyncio.to_thread(lambda: 41) + 1

    assert loop.run_until_complete(main()) == 42
    loop.close()


def test_anyio_task_groups_and_threads_run_on_the_loop() -> None:
    async def main() -> tuple[float, int]:
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.sleep, 5)
        value = await anyio.to_thread.run_sync(lambda: 7)
        return anyio.current_time(), value

    result = anyio.run(main, backend="asyncio", backend_options={"loop_factory": lambda: SimLoop(RandomWalk(Rng(3)))})
    assert result == (5.0, 7)


def test_tasks_alive_after_the_work_are_listed_in_creation_order() -> None:
    loop = SimLoop()

    async def main() -> None:
        asyncio.get_running_loop().create_task(asyncio.sleep(100))
        asyncio.get_running_loop().create_task(asyncio.Event().wait())

    loop.run_until_complete(main())
    loop.settle()
    assert [t.get_name() for t in loop.alive()] == ["task-2", "task-3"]
    loop.cancel_all()
    assert loop.alive() == []
    loop.close()


def test_a_livelock_is_stopped_at_the_step_limit() -> None:
    loop = SimLoop(max_steps=1000)

    async def spin() -> None:
        while True:
            await asyncio.sleep(0)

    with pytest.raises(Exception, match="more than 1000 scheduling steps"):
        loop.run_until_complete(spin())
    loop.cancel_all()
    loop.close()


def test_schedules_round_trip_through_their_text() -> None:
    decisions = [0, 0, 0, 1, 2, 2, 0, 3, 0, 0]
    assert encode_schedule(decisions) == "0*3,1,2*2,0,3"
    assert decode_schedule("0*3,1,2*2,0,3") == decisions[:8]
    assert encode_schedule([0, 0]) == ""
    assert decode_schedule("") == []


def test_a_malformed_schedule_names_the_bad_part() -> None:
    from harness.errors import UsageError

    with pytest.raises(UsageError, match=r"schedule part 2 is 'x'"):
        decode_schedule("1,x")


def test_seed_streams_are_the_same_in_another_process_and_hash_seed() -> None:
    script = (
        "from harness.simulate.seeds import Rng, derive; r = Rng(derive(5, 'plan', 2)); "
        "print([r.below(1000) for _ in range(8)])"
    )
    local = Rng(derive(5, "plan", 2))
    expected = str([local.below(1000) for _ in range(8)])
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert found.stdout.strip() == expected


def test_rng_helpers_stay_in_range() -> None:
    rng = Rng(1)
    assert all(0 <= rng.below(3) < 3 for _ in range(200))
    assert all(2 <= rng.between(2, 4) <= 4 for _ in range(200))
    assert not any(rng.chance(0) for _ in range(100))
    assert all(rng.chance(1000) for _ in range(100))
    items = list(range(10))
    rng.shuffle(items)
    assert sorted(items) == list(range(10))
    with pytest.raises(ValueError):
        rng.below(0)
