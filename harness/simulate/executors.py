"""Run a simulation sweep's seeds in batches: in-process, in local worker processes, or on Ray.

A sweep runs one pure, deterministic function per seed. The function takes a batch of seeds and
returns one picklable result per seed, in the batch's order::

    def work(batch: Sequence[int]) -> list[dict[str, Any]]: ...

Because every result depends on its seed alone, the sweep's results are the same whatever the
split into batches and whichever executor runs them; :func:`sweep` puts them back in the order of
the seeds it was given.

Executors:

``"local"`` with ``jobs == 1``
    in this process, batch after batch, no pool.
``"local"`` with ``jobs > 1``
    a :class:`~concurrent.futures.ProcessPoolExecutor` of ``jobs`` processes started with
    ``forkserver`` (``spawn`` where there is none), never ``fork``: the caller may hold threads.
    ``work`` travels to the workers by pickle, so it must be a module-level function or a
    :func:`functools.partial` of one.
``"ray"``
    Ray tasks, one per batch (``pip install "replay-harness[ray]"``). With ``ray_address`` (or
    ``RAY_ADDRESS`` set) the sweep connects to that cluster; otherwise it starts a local Ray
    instance of ``jobs`` CPUs and stops it at the end. A Ray instance this process had already
    started is used as it is and left running.

Whatever the executor, an exception raised by ``work`` (or a worker that dies) surfaces as
:class:`BatchFailed`, which names the batch's seeds and the original exception's type and message.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib
import multiprocessing
import os
import pickle
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_args

from harness.errors import CheckFailure, UsageError

T = TypeVar("T")

Executor = Literal["local", "ray"]
EXECUTORS: tuple[str, ...] = get_args(Executor)

#: Batches planned per worker, so that one slow batch does not leave the other workers idle.
BATCHES_PER_WORKER = 4
#: The fewest seeds in a batch (unless the sweep has fewer), so scheduling costs stay small.
MIN_BATCH = 8

RAY_INSTALL_HINT = 'install it with `pip install "replay-harness[ray]"`'


@dataclass(frozen=True)
class Batch:
    """A contiguous slice of a sweep's seeds: ``seeds`` start at position ``start`` of the sweep."""

    seeds: tuple[int, ...]
    start: int = 0

    @property
    def stop(self) -> int:
        """The position in the sweep just after this batch's last seed."""
        return self.start + len(self.seeds)

    @property
    def label(self) -> str:
        """``seed 7`` or ``seeds 8..15 (8 seeds)``: the batch as an error message names it."""
        if len(self.seeds) == 1:
            return f"seed {self.seeds[0]}"
        if not self.seeds:
            return "no seeds"
        return f"seeds {self.seeds[0]}..{self.seeds[-1]} ({len(self.seeds)} seeds)"


class BatchFailed(CheckFailure):
    """A batch of a sweep failed: ``work`` raised, returned the wrong number of results, or its worker died.

    The message names the batch's seeds and the original exception's type and message (and, when
    it came from a worker, the innermost frame it was raised in). ``batch``, ``error_type``,
    ``reason`` and ``worker_traceback`` (the worker's formatted traceback, if any) stay on the
    exception; an exception raised in this process is also its ``__cause__``.
    """

    def __init__(
        self,
        batch: Batch,
        *,
        error_type: str,
        reason: str,
        where: str | None = None,
        worker_traceback: str | None = None,
    ) -> None:
        self.batch = batch
        self.error_type = error_type
        self.reason = reason
        self.where = where
        self.worker_traceback = worker_traceback
        at = f" (raised at {where})" if where else ""
        super().__init__(
            f"sweep batch of {batch.label} failed: {error_type}: {reason}{at}. "
            "Every seed of the batch is left without a result; rerun these seeds with jobs=1 "
            "to debug the work function in this process."
        )


def plan_batches(seeds: Sequence[int], *, workers: int, target: int | None = None) -> list[Batch]:
    """Split ``seeds`` into contiguous batches, in order, each seed in exactly one batch.

    The rule, for ``n = len(seeds)``:

    * without ``target``: ``min(BATCHES_PER_WORKER * workers, n // MIN_BATCH)`` batches (at least
      one), i.e. about four batches per worker so that a slow batch does not leave the others idle,
      but never fewer than ``MIN_BATCH`` seeds in a batch unless the whole sweep has fewer seeds;
    * with ``target``: ``ceil(n / target)`` batches, so no batch holds more than ``target`` seeds;
    * the seeds are dealt in that many contiguous slices whose sizes differ by at most one, the
      larger slices first.

    The plan depends only on ``len(seeds)``, ``workers`` and ``target``. No seeds, no batches.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"workers must be a whole number >= 1, found {workers!r}")
    if target is not None and (isinstance(target, bool) or not isinstance(target, int) or target < 1):
        raise UsageError(f"target (seeds per batch) must be a whole number >= 1, found {target!r}")
    n = len(seeds)
    if n == 0:
        return []
    count = -(-n // target) if target is not None else min(BATCHES_PER_WORKER * workers, n // MIN_BATCH)
    count = max(1, count)
    size, extra = divmod(n, count)
    batches: list[Batch] = []
    start = 0
    for index in range(count):
        stop = start + size + (1 if index < extra else 0)
        batches.append(Batch(seeds=tuple(seeds[start:stop]), start=start))
        start = stop
    return batches


def run_batches(
    work: Callable[[Sequence[int]], list[T]],
    seeds: Sequence[int],
    *,
    jobs: int = 1,
    executor: Executor = "local",
    ray_address: str | None = None,
) -> Iterator[tuple[Batch, list[T]]]:
    """Run ``work`` on the batches :func:`plan_batches` makes for ``jobs`` workers.

    Yields each finished batch with its results as the batches complete: in order for
    ``jobs == 1`` on the local executor, in completion order otherwise. See the module's
    docstring for the executors. Raises :class:`~harness.errors.UsageError` for a bad
    ``jobs`` or ``executor``, for a ``work`` that cannot be pickled (``jobs > 1`` locally) and when
    Ray is asked for but not installed; raises :class:`BatchFailed` for the first batch that fails
    (the batches not yet started are cancelled).

    Closing the iterator early cancels the batches not yet started; a Ray instance that the call
    started is stopped when the iterator finishes or is closed.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"jobs must be a whole number >= 1, found {jobs!r}")
    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor {executor!r}; known executors: {', '.join(EXECUTORS)}")
    seeds = tuple(seeds)
    if executor == "ray":
        ray = _import_ray()
        return _run_ray(ray, work, plan_batches(seeds, workers=jobs), jobs=jobs, address=ray_address)
    if jobs == 1:
        return _run_inline(work, plan_batches(seeds, workers=1))
    return _run_processes(_pickled(work), plan_batches(seeds, workers=jobs), jobs=jobs)


def sweep(
    work: Callable[[Sequence[int]], list[T]],
    seeds: Sequence[int],
    *,
    jobs: int = 1,
    executor: Executor = "local",
    ray_address: str | None = None,
    on_batch: Callable[[int, int], object] | None = None,
) -> list[T]:
    """Run ``work`` over ``seeds`` and return the results in the order of ``seeds``.

    ``result[i]`` is the result for ``seeds[i]``, whatever the executor and ``jobs``. After each
    finished batch, ``on_batch(done, total)`` is called with the number of seeds done so far and
    the number of seeds in all (for a progress bar).
    """
    seeds = tuple(seeds)
    total = len(seeds)
    slots: list[list[T]] = [[] for _ in range(total)]
    done = 0
    for batch, results in run_batches(work, seeds, jobs=jobs, executor=executor, ray_address=ray_address):
        for offset, result in enumerate(results):
            slots[batch.start + offset] = [result]
        done += len(batch.seeds)
        if on_batch is not None:
            on_batch(done, total)
    return [slot[0] for slot in slots]


# -- outcomes: what a worker sends back ------------------------------------------------------------

# ("ok", results) or ("error", type name, message, innermost frame, formatted traceback)
_Outcome = tuple[Any, ...]


def _run_batch(work: Callable[[Sequence[int]], list[T]], seeds: tuple[int, ...]) -> _Outcome:
    """Run ``work`` on one batch inside a worker; an exception comes back as plain strings.

    Plain strings always pickle, whatever the exception holds, and the worker's traceback is
    kept as text for :class:`BatchFailed` instead of being printed by the worker.
    """
    try:
        return ("ok", work(seeds))
    except Exception as exc:
        return ("error", _type_name(exc), str(exc), _innermost(exc), traceback.format_exc())


def _run_pickled_batch(work_pickle: bytes, seeds: tuple[int, ...]) -> _Outcome:
    """:func:`_run_batch` for a ``work`` pickled by the caller, loaded here so that a worker
    which cannot load it (its module is not importable there) reports that like any other error."""
    try:
        work = pickle.loads(work_pickle)
    except Exception as exc:
        reason = (
            f"the work function could not be loaded in the worker process ({exc}); "
            "its module must be importable there (installed, or on sys.path)"
        )
        return ("error", _type_name(exc), reason, None, traceback.format_exc())
    return _run_batch(work, seeds)


def _results(batch: Batch, outcome: _Outcome) -> list[Any]:
    if outcome[0] != "ok":
        _, error_type, reason, where, worker_traceback = outcome
        raise BatchFailed(batch, error_type=error_type, reason=reason, where=where, worker_traceback=worker_traceback)
    return _checked(batch, outcome[1])


def _checked(batch: Batch, results: Any) -> list[Any]:
    if not isinstance(results, list):
        raise BatchFailed(
            batch,
            error_type="UsageError",
            reason=f"work must return a list (one result per seed), returned {type(results).__name__}",
        )
    if len(results) != len(batch.seeds):
        raise BatchFailed(
            batch,
            error_type="UsageError",
            reason=f"work returned {len(results)} results for {len(batch.seeds)} seeds (one per seed, in order)",
        )
    return results


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _innermost(exc: BaseException) -> str | None:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return None
    last = frames[-1]
    return f"{last.filename}:{last.lineno} in {last.name}"


# -- local ---------------------------------------------------------------------------------------


def _run_inline(work: Callable[[Sequence[int]], list[T]], batches: list[Batch]) -> Iterator[tuple[Batch, list[T]]]:
    for batch in batches:
        try:
            results = work(batch.seeds)
        except Exception as exc:
            raise BatchFailed(batch, error_type=_type_name(exc), reason=str(exc), where=_innermost(exc)) from exc
        yield batch, _checked(batch, results)


def _pickled(work: Callable[..., Any]) -> bytes:
    try:
        return pickle.dumps(work)
    except Exception as exc:
        raise UsageError(
            f"work {work!r} cannot be sent to worker processes (jobs > 1): it does not pickle "
            f"({type(exc).__name__}: {exc}). Define it at module level, or pass a functools.partial "
            "of a module-level function with picklable arguments; or run with jobs=1."
        ) from exc


def _process_context() -> multiprocessing.context.BaseContext:
    # Not fork: forking a process that holds threads can deadlock the child.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def _run_processes(work_pickle: bytes, batches: list[Batch], *, jobs: int) -> Iterator[tuple[Batch, list[Any]]]:
    if not batches:
        return
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(batches)), mp_context=_process_context())
    try:
        pending = {pool.submit(_run_pickled_batch, work_pickle, batch.seeds): batch for batch in batches}
        for future in concurrent.futures.as_completed(pending):
            batch = pending[future]
            try:
                outcome = future.result()
            except concurrent.futures.process.BrokenProcessPool as exc:
                reason = f"a worker process died while this batch was running or waiting ({exc})"
                raise BatchFailed(batch, error_type=_type_name(exc), reason=reason) from exc
            except Exception as exc:  # the results did not pickle
                raise BatchFailed(batch, error_type=_type_name(exc), reason=str(exc) or "worker failed") from exc
            yield batch, _results(batch, outcome)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# -- ray -----------------------------------------------------------------------------------------


def _import_ray() -> Any:
    """The ``ray`` module, untyped on purpose: only its plain calls are used here."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise UsageError(f"the ray executor needs Ray, which is not installed: {RAY_INSTALL_HINT}") from exc


def _connect_ray(ray: Any, *, jobs: int, address: str | None) -> bool:
    """Make sure this process is connected to Ray; True when this call connected or started it.

    A Ray instance already initialized in this process is used as it is. With ``address`` (or
    ``RAY_ADDRESS`` set) the process connects to that cluster; otherwise it starts a local
    instance with ``jobs`` CPUs, no dashboard, and worker output kept out of this process's
    output. A local instance started here does not report usage statistics unless
    ``RAY_USAGE_STATS_ENABLED`` says otherwise.
    """
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is not None:
        try:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        except Exception as exc:
            raise UsageError(f"cannot connect to the Ray cluster at {address!r}: {type(exc).__name__}: {exc}") from exc
        return True
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        ray.init(
            num_cpus=jobs,
            include_dashboard=False,
            log_to_driver=False,
            ignore_reinit_error=True,
            configure_logging=False,
        )
    except Exception as exc:
        raise UsageError(
            f"cannot start a local Ray instance: {type(exc).__name__}: {exc}; "
            "start one with `ray start --head` and pass its address, or use the local executor"
        ) from exc
    return True


def _run_ray(
    ray: Any,
    work: Callable[[Sequence[int]], list[T]],
    batches: list[Batch],
    *,
    jobs: int,
    address: str | None,
) -> Iterator[tuple[Batch, list[T]]]:
    if not batches:
        return
    started = _connect_ray(ray, jobs=jobs, address=address)
    pending: dict[Any, Batch] = {}
    try:
        task = ray.remote(_run_batch)
        try:
            work_ref = ray.put(work)
        except Exception as exc:
            raise UsageError(
                f"work {work!r} cannot be sent to Ray workers: {type(exc).__name__}: {exc}. "
                "Pass a function whose arguments and closure pickle (no open files, locks or connections)."
            ) from exc
        pending = {task.remote(work_ref, batch.seeds): batch for batch in batches}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                batch = pending.pop(ref)
                try:
                    outcome = ray.get(ref)
                except Exception as exc:  # the worker died, or the work did not unpickle there
                    cause = getattr(exc, "cause", None)
                    shown = cause if isinstance(cause, BaseException) else exc
                    raise BatchFailed(
                        batch, error_type=_type_name(shown), reason=_first_line(shown) or "worker failed"
                    ) from exc
                yield batch, _results(batch, outcome)
    finally:
        for ref in pending:
            with contextlib.suppress(Exception):  # keep the error being raised, if any
                ray.cancel(ref)
        if started:
            ray.shutdown()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
