"""Sweep executors: batch planning, in-process and worker-process runs, and a real local Ray instance."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sys
import tempfile
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError, UsageError
from harness.simulate.executors import (
    BATCHES_PER_WORKER,
    MIN_BATCH,
    Batch,
    BatchFailed,
    plan_batches,
    run_batches,
    sweep,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def workers_can_import_this_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker processes unpickle the work functions below by importing this module by name
    (``tests.simulate.test_executors``): they inherit ``sys.path``, so put the repository root on it."""
    monkeypatch.syspath_prepend(str(ROOT))


# -- work functions: module level, so that worker processes can unpickle them ---------------------


def digest(seed: int, salt: str = "") -> dict[str, Any]:
    value = int.from_bytes(hashlib.sha256(f"{salt}{seed}".encode()).digest()[:8], "big")
    return {"seed": seed, "value": value}


def digest_work(batch: Sequence[int], salt: str = "") -> list[dict[str, Any]]:
    return [digest(seed, salt) for seed in batch]


def cursed_work(batch: Sequence[int]) -> list[dict[str, Any]]:
    if 13 in batch:
        raise ValueError("seed 13 is cursed")
    return digest_work(batch)


def pid_work(batch: Sequence[int]) -> list[int]:
    return [os.getpid() for _ in batch]


def dying_work(batch: Sequence[int]) -> list[int]:
    os._exit(3)


def short_work(batch: Sequence[int]) -> list[dict[str, Any]]:
    return digest_work(batch)[1:]


def expected(seeds: Sequence[int], salt: str = "") -> list[dict[str, Any]]:
    return [digest(seed, salt) for seed in seeds]


# -- plan_batches ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 17, 64, 100, 1001])
@pytest.mark.parametrize("workers", [1, 2, 3, 16])
@pytest.mark.parametrize("target", [None, 1, 10])
def test_plan_batches_covers_every_seed_once_in_contiguous_slices(n: int, workers: int, target: int | None) -> None:
    seeds = [seed * 3 + 5 for seed in range(n)]
    batches = plan_batches(seeds, workers=workers, target=target)
    assert [seed for batch in batches for seed in batch.seeds] == seeds
    assert all(batch.seeds for batch in batches)
    starts = [batch.start for batch in batches]
    assert starts == [sum(len(b.seeds) for b in batches[:i]) for i in range(len(batches))]
    assert all(batch.seeds == tuple(seeds[batch.start : batch.stop]) for batch in batches)


def test_plan_batches_makes_about_four_batches_per_worker() -> None:
    sizes = [len(batch.seeds) for batch in plan_batches(range(1000), workers=2)]
    assert sizes == [125] * (BATCHES_PER_WORKER * 2)


def test_plan_batches_never_puts_fewer_than_min_batch_seeds_in_a_batch() -> None:
    for n in range(MIN_BATCH, 200):
        sizes = [len(batch.seeds) for batch in plan_batches(range(n), workers=8)]
        assert min(sizes) >= MIN_BATCH, (n, sizes)


def test_plan_batches_keeps_fewer_seeds_than_min_batch_in_one_batch() -> None:
    assert plan_batches([4, 5, 6], workers=4) == [Batch(seeds=(4, 5, 6), start=0)]


def test_plan_batches_sizes_differ_by_at_most_one_larger_first() -> None:
    sizes = [len(batch.seeds) for batch in plan_batches(range(1003), workers=2)]
    assert sizes == [126, 126, 126, 125, 125, 125, 125, 125]


def test_plan_batches_target_caps_the_batch_size() -> None:
    sizes = [len(batch.seeds) for batch in plan_batches(range(25), workers=1, target=10)]
    assert sizes == [9, 8, 8]


def test_plan_batches_depends_only_on_the_number_of_seeds() -> None:
    def shape(seeds: Sequence[int]) -> list[tuple[int, int]]:
        return [(batch.start, batch.stop) for batch in plan_batches(seeds, workers=3)]

    assert shape(range(77)) == shape(list(range(1000, 1077))[::-1]) == shape(range(77))


def test_plan_batches_of_no_seeds_is_empty() -> None:
    assert plan_batches([], workers=4) == []


@pytest.mark.parametrize(("workers", "target"), [(0, None), (-1, None), (True, None), (1, 0), (1, 2.5)])
def test_plan_batches_rejects_bad_workers_or_target(workers: Any, target: Any) -> None:
    with pytest.raises(UsageError):
        plan_batches(range(10), workers=workers, target=target)


def test_batch_label_names_its_seed_range() -> None:
    assert Batch(seeds=(8, 9, 10)).label == "seeds 8..10 (3 seeds)"
    assert Batch(seeds=(7,)).label == "seed 7"


# -- local executor ----------------------------------------------------------------------------


def test_run_batches_in_process_yields_batches_in_order() -> None:
    seen = list(run_batches(digest_work, range(40), jobs=1))
    assert [batch.start for batch, _ in seen] == [0, 10, 20, 30]  # four batches for one worker
    assert [result for _, results in seen for result in results] == expected(range(40))


def test_two_processes_give_the_same_results_as_in_process() -> None:
    seeds = list(range(100, 180))
    in_process = sweep(digest_work, seeds, jobs=1)
    two_processes = sweep(digest_work, seeds, jobs=2)
    assert in_process == two_processes == expected(seeds)


def test_two_processes_run_partial_work_in_other_processes() -> None:
    seeds = list(range(48))
    results = sweep(functools.partial(digest_work, salt="x"), seeds, jobs=2)
    assert results == expected(seeds, salt="x")
    pids = set(sweep(pid_work, seeds, jobs=2))
    assert os.getpid() not in pids


def test_sweep_orders_results_by_seed_position_not_by_value() -> None:
    seeds = [9, 3, 27, 3, 1, *range(50, 30, -1)]
    assert sweep(digest_work, seeds, jobs=2) == expected(seeds)


def test_non_picklable_work_raises_usage_error() -> None:
    def local_work(batch: Sequence[int]) -> list[int]:
        return list(batch)

    with pytest.raises(UsageError, match=r"does not pickle.*module level.*functools\.partial"):
        run_batches(local_work, range(20), jobs=2)


@pytest.mark.parametrize(("jobs", "first", "last"), [(1, 10, 19), (2, 8, 15)])
def test_exception_in_work_names_the_seed_range(jobs: int, first: int, last: int) -> None:
    with pytest.raises(BatchFailed) as caught:
        sweep(cursed_work, range(40), jobs=jobs)
    message = str(caught.value)
    assert f"seeds {first}..{last} ({last - first + 1} seeds)" in message
    assert "ValueError: seed 13 is cursed" in message
    assert isinstance(caught.value, HarnessError)
    assert caught.value.batch.seeds == tuple(range(first, last + 1))
    assert caught.value.error_type == "ValueError"
    assert caught.value.where is not None and "cursed_work" in caught.value.where


def test_exception_in_worker_process_keeps_the_worker_traceback() -> None:
    with pytest.raises(BatchFailed) as caught:
        sweep(cursed_work, range(40), jobs=2)
    assert caught.value.worker_traceback is not None
    assert "seed 13 is cursed" in caught.value.worker_traceback


def test_work_that_worker_processes_cannot_import_fails_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    phantom = types.ModuleType("phantom_sweep_work")  # importable here (in sys.modules), nowhere else

    def phantom_work(batch: Sequence[int]) -> list[int]:
        return list(batch)

    phantom_work.__module__ = phantom.__name__
    phantom_work.__qualname__ = phantom_work.__name__
    phantom.phantom_work = phantom_work  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, phantom.__name__, phantom)
    with pytest.raises(BatchFailed, match=r"seeds 0\.\.7 \(8 seeds\).*ModuleNotFoundError.*could not be loaded"):
        sweep(phantom_work, range(8), jobs=2)


def test_worker_process_that_dies_fails_the_sweep_with_batch_failed() -> None:
    with pytest.raises(BatchFailed, match=r"seeds \d+\.\.\d+ .*BrokenProcessPool: a worker process died"):
        sweep(dying_work, range(16), jobs=2)


def test_wrong_number_of_results_fails_the_batch() -> None:
    with pytest.raises(BatchFailed, match=r"seeds 0\.\.7 \(8 seeds\).*returned 7 results for 8 seeds"):
        sweep(short_work, range(8), jobs=1)


def test_on_batch_reports_seeds_done_after_each_batch() -> None:
    calls: list[tuple[int, int]] = []
    sweep(digest_work, range(40), jobs=2, on_batch=lambda done, total: calls.append((done, total)))
    assert calls == [(done, 40) for done in (8, 16, 24, 32, 40)]


def test_sweep_of_no_seeds_returns_nothing_and_reports_nothing() -> None:
    calls: list[tuple[int, int]] = []
    assert sweep(digest_work, [], jobs=2, on_batch=lambda done, total: calls.append((done, total))) == []
    assert calls == []


@pytest.mark.parametrize(("jobs", "executor"), [(0, "local"), (1, "dask")])
def test_bad_jobs_or_executor_raise_usage_error(jobs: int, executor: Any) -> None:
    with pytest.raises(UsageError):
        run_batches(digest_work, range(4), jobs=jobs, executor=executor)


def test_ray_executor_without_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(UsageError, match=r'pip install "replay-harness\[ray\]"'):
        run_batches(digest_work, range(4), executor="ray")


# -- ray executor: a real local instance ---------------------------------------------------------
# Ray is in the dev extra, so CI runs these; without it they skip, except under CI where they fail.


@dataclass(frozen=True)
class RayModule:
    ray: Any
    temp_dir: str  # short: Ray's unix socket paths must stay under 108 characters


@pytest.fixture(scope="module")
def ray_module() -> Iterator[RayModule]:
    if os.environ.get("CI"):
        import ray
    else:
        ray = pytest.importorskip("ray", reason='Ray is not installed: pip install "replay-harness[ray]"')
    handle = RayModule(ray=ray, temp_dir=tempfile.mkdtemp(prefix="ray"))
    try:
        yield handle
    finally:
        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(handle.temp_dir, ignore_errors=True)


@pytest.fixture
def ray_instance(ray_module: RayModule) -> Any:
    """One local Ray instance for the module's tests, started on first use; the ``ray`` module."""
    ray = ray_module.ray
    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            object_store_memory=100 * 1024 * 1024,
            _temp_dir=ray_module.temp_dir,
        )
    return ray


def test_ray_starts_and_stops_its_own_local_instance(ray_module: RayModule, monkeypatch: pytest.MonkeyPatch) -> None:
    ray = ray_module.ray
    if ray.is_initialized():  # the module's shared instance: the next Ray test starts it again
        ray.shutdown()
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_TMPDIR", ray_module.temp_dir)  # its temporary files go where the module cleans up
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    seeds = list(range(24))
    assert sweep(digest_work, seeds, jobs=2, executor="ray") == expected(seeds)
    assert not ray.is_initialized()


def test_ray_gives_the_same_results_as_local(ray_instance: Any) -> None:
    seeds = list(range(500, 580))
    assert sweep(digest_work, seeds, jobs=2, executor="ray") == sweep(digest_work, seeds, jobs=1) == expected(seeds)


def test_ray_leaves_running_an_instance_it_did_not_start(ray_instance: Any) -> None:
    sweep(digest_work, range(16), jobs=2, executor="ray")
    assert ray_instance.is_initialized()


def test_ray_exception_in_work_names_the_seed_range(ray_instance: Any) -> None:
    with pytest.raises(BatchFailed) as caught:
        sweep(cursed_work, range(40), jobs=2, executor="ray")
    assert "seeds 8..15 (8 seeds)" in str(caught.value)
    assert "ValueError: seed 13 is cursed" in str(caught.value)
    assert ray_instance.is_initialized()


def test_ray_runs_work_that_only_cloudpickle_can_send(ray_instance: Any) -> None:
    salt = "closure"
    results = sweep(lambda batch: digest_work(batch, salt), range(20), jobs=2, executor="ray")
    assert results == expected(range(20), salt=salt)
