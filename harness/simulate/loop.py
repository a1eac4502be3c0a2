"""A deterministic asyncio event loop with virtual time and a pluggable scheduling policy.

:class:`SimLoop` runs the user's real async code (``asyncio``, ``anyio`` on asyncio, the official
SDKs' async clients over the replay transport) with two differences from the standard loop:

* **Virtual time.** :meth:`SimLoop.time` is a counter. When nothing is ready, the loop jumps to the
  earliest timer instead of sleeping, so ``asyncio.sleep(3600)``, retry back-off, ``wait_for``
  timeouts and the replay's recorded ``afterMs`` cost nothing and always happen in the same order.
* **One callback per step, chosen by a policy.** Where the standard loop runs every ready callback
  in FIFO order, this one picks one of the ready callbacks by a :class:`Policy` and runs it. Every
  choice among two or more ready callbacks is a *decision* (the chosen index) appended to
  :attr:`SimLoop.decisions`; replaying that list with :class:`Replay` reproduces the run exactly.

Policies: :class:`Fifo` (the standard loop's order), :class:`RandomWalk` (uniform among the ready
callbacks), :class:`PCT` (probabilistic concurrency testing: random task priorities with ``depth - 1``
priority change points, which finds bugs of depth ``d`` with probability at least ``1/(n k^(d-1))``),
and :class:`Replay` (a recorded decision list; past its end it takes index 0, the FIFO choice, so a
shrunk list stays meaningful).

When no callback is ready, no timer is pending and the awaited coroutine is not done, nothing can
ever happen again: the loop raises :class:`Deadlock` naming the tasks still waiting. A blocking
``run_in_executor`` call runs inline (no threads), so results do not depend on a thread pool.

Nothing here reads the wall clock or the process's hash seed; the same policy and the same code
give the same decisions in every process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import heapq
import queue
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextvars import Context
from typing import Any, Protocol, TypeVar

from harness.errors import HarnessError, UsageError
from harness.simulate.seeds import Rng, derive

T = TypeVar("T")
THREAD_WAIT_S = 5.0
"""How long an otherwise idle loop waits for a real thread's answer before declaring a deadlock."""


class Deadlock(HarnessError):
    """Nothing is ready, no timer is pending, and the awaited work is not done."""

    def __init__(self, waiting: Sequence[str], at_ms: int) -> None:
        self.waiting = list(waiting)
        self.at_ms = at_ms
        names = ", ".join(self.waiting) or "none"
        super().__init__(f"deadlock at virtual {at_ms} ms: every task waits and no timer is pending (waiting: {names})")


class Policy(Protocol):
    """Chooses which ready callback runs next."""

    name: str

    def choose(self, ready: Sequence[asyncio.Handle], step: int) -> int:
        """The index in ``ready`` (two or more handles) of the callback to run at ``step``."""
        ...

    def ran(self, handle: asyncio.Handle, step: int) -> None:
        """Called after every step with the handle that ran."""
        ...


def task_of(handle: asyncio.Handle) -> object:
    """The task a ready callback belongs to (its step or wake-up), else the callback's owner or itself."""
    callback = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    return owner if owner is not None else callback


class Fifo:
    """The standard loop's order: always the oldest ready callback."""

    name = "fifo"

    def choose(self, ready: Sequence[asyncio.Handle], step: int) -> int:
        return 0

    def ran(self, handle: asyncio.Handle, step: int) -> None:
        return None


class RandomWalk:
    """A uniformly random ready callback at every step."""

    name = "random"

    def __init__(self, rng: Rng) -> None:
        self.rng = rng

    def choose(self, ready: Sequence[asyncio.Handle], step: int) -> int:
        return self.rng.below(len(ready))

    def ran(self, handle: asyncio.Handle, step: int) -> None:
        return None


class PCT:
    """Probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010), over asyncio tasks.

    Every task gets a random priority when first seen (all above ``depth``); the ready callback of
    the highest-priority task runs (the oldest of that task's callbacks first). ``depth - 1`` change
    points are drawn among the first ``horizon`` steps; at the i-th one, the task that just ran
    drops to priority ``i`` (below every initial priority), which lets another task overtake it.
    """

    name = "pct"

    def __init__(self, rng: Rng, *, depth: int = 2, horizon: int = 400) -> None:
        if depth < 1:
            raise ValueError(f"PCT depth must be at least 1, found {depth}")
        self.rng = rng
        self.depth = depth
        self.change_points: dict[int, int] = {}
        for number in range(1, depth):
            self.change_points.setdefault(rng.between(1, max(1, horizon)), number)
        self._priorities: dict[object, int] = {}

    def _priority(self, task: object) -> int:
        priority = self._priorities.get(task)
        if priority is None:
            priority = self.depth + self.rng.below(1 << 40)
            self._priorities[task] = priority
        return priority

    def choose(self, ready: Sequence[asyncio.Handle], step: int) -> int:
        best, best_priority = 0, -1
        for index, handle in enumerate(ready):
            priority = self._priority(task_of(handle))
            if priority > best_priority:
                best, best_priority = index, priority
        return best

    def ran(self, handle: asyncio.Handle, step: int) -> None:
        number = self.change_points.get(step)
        if number is not None:
            self._priorities[task_of(handle)] = number


class Replay:
    """A recorded decision list; past its end, or where an index no longer exists, index 0."""

    name = "replay"

    def __init__(self, decisions: Sequence[int]) -> None:
        self.decisions = list(decisions)
        self._next = 0
        self.diverged = False
        """True when a recorded index was out of range for the ready callbacks at its step."""

    def choose(self, ready: Sequence[asyncio.Handle], step: int) -> int:
        position = self._next
        self._next += 1
        if position >= len(self.decisions):
            return 0
        choice = self.decisions[position]
        if choice >= len(ready):
            self.diverged = True
            return 0
        return choice

    def ran(self, handle: asyncio.Handle, step: int) -> None:
        return None


class SimLoop(asyncio.BaseEventLoop):
    """The deterministic event loop; see the module docstring.

    >>> loop = SimLoop(Fifo())
    >>> async def nap() -> float:
    ...     await asyncio.sleep(3600)
    ...     return asyncio.get_running_loop().time()
    >>> loop.run_until_complete(nap())
    3600.0
    >>> loop.close()
    """

    def __init__(self, policy: Policy | None = None, *, max_steps: int = 5_000_000) -> None:
        super().__init__()
        self.policy: Policy = policy or Fifo()
        self.decisions: list[int] = []
        """The index chosen at every step that had two or more ready callbacks."""
        self.decision_log: list[tuple[int, int, str]] = []
        """Per decision: the step, how many callbacks were ready, and the task that ran (for reports)."""
        self.steps = 0
        self.max_steps = max_steps
        self._now = 0.0
        #: Called with (name, detail) at every named yield point the code under test passes
        #: (:func:`harness.point`); the simulator records them in the history.
        self.on_point: Callable[[str, str | None], None] | None = None
        self._created = 0
        self.tasks: list[asyncio.Task[Any]] = []
        """Every task created on this loop, in creation order."""
        self._foreign: queue.SimpleQueue[asyncio.Handle] = queue.SimpleQueue()
        self._threads_at_start = threading.active_count()
        self.set_task_factory(self._new_task)

    def _new_task(self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        # Tasks are named by creation order on this loop (``task-1``...), not by asyncio's
        # process-wide counter, so names in a history do not depend on what ran before.
        task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
        self._created += 1
        task.set_name(f"task-{self._created}")
        # Held until the loop closes: a task nobody references (fire and forget) must still be
        # found alive at teardown, not collected, whenever the garbage collector happens to run.
        self.tasks.append(task)
        return task

    # -- time ------------------------------------------------------------------------------

    def time(self) -> float:
        return self._now

    @property
    def now_ms(self) -> int:
        """Virtual time in whole milliseconds."""
        return round(self._now * 1000)

    # -- what the base class expects of a concrete loop --------------------------------------

    def _write_to_self(self) -> None:
        return None

    def _process_events(self, event_list: Any) -> None:
        return None

    def run_in_executor(self, executor: Any, func: Callable[..., T], *args: Any) -> asyncio.Future[T]:  # type: ignore[override]
        """Run ``func`` inline and return its settled future: no threads, so no nondeterminism."""
        self._check_closed()  # type: ignore[attr-defined]
        future: asyncio.Future[T] = self.create_future()
        try:
            future.set_result(func(*args))
        except BaseException as exc:
            future.set_exception(exc)
        return future

    def call_soon_threadsafe(  # type: ignore[override]
        self, callback: Callable[..., object], *args: Any, context: Context | None = None
    ) -> asyncio.Handle:
        if self._thread_id in (None, threading.get_ident()):  # type: ignore[attr-defined]
            return self.call_soon(callback, *args, context=context)
        # From a real thread (``anyio.to_thread``): queued, and taken in when the loop is idle.
        handle = asyncio.Handle(callback, args, self, context)
        self._foreign.put(handle)
        return handle

    def _take_foreign(self, timeout: float | None) -> None:
        try:
            handle = self._foreign.get(timeout=timeout) if timeout else self._foreign.get_nowait()
        except queue.Empty:
            return
        self._ready.append(handle)  # type: ignore[attr-defined]
        while True:
            try:
                self._ready.append(self._foreign.get_nowait())  # type: ignore[attr-defined]
            except queue.Empty:
                return

    # -- the scheduler -------------------------------------------------------------------------

    def _due_timers(self) -> None:
        while self._scheduled and self._scheduled[0]._cancelled:  # type: ignore[attr-defined]
            heapq.heappop(self._scheduled)._scheduled = False  # type: ignore[attr-defined]
            self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
        if not self._ready and self._scheduled and not self._stopping:  # type: ignore[attr-defined]
            # Nothing to do now: jump to the next timer.
            self._now = max(self._now, self._scheduled[0]._when)  # type: ignore[attr-defined]
        while self._scheduled and self._scheduled[0]._when <= self._now:  # type: ignore[attr-defined]
            handle = heapq.heappop(self._scheduled)  # type: ignore[attr-defined]
            handle._scheduled = False
            if handle._cancelled:
                self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
                continue
            self._ready.append(handle)  # type: ignore[attr-defined]

    def _run_once(self) -> None:
        ready: Any = self._ready  # type: ignore[attr-defined]
        if not self._foreign.empty():
            self._take_foreign(None)
        while ready and ready[0]._cancelled:
            ready.popleft()
        self._due_timers()
        live = [handle for handle in ready if not handle._cancelled]
        if len(live) != len(ready):
            ready.clear()
            ready.extend(live)
        if not ready:
            if self._stopping:  # type: ignore[attr-defined]
                return
            # Work handed to a real thread can still answer: wait for it (briefly) before
            # declaring that nothing can ever happen.
            if threading.active_count() > self._threads_at_start:
                self._take_foreign(THREAD_WAIT_S)
            if ready:
                return
            raise Deadlock(self._waiting(), self.now_ms)
        self.steps += 1
        if self.steps > self.max_steps:
            raise HarnessError(f"the simulation ran more than {self.max_steps} scheduling steps (a livelock?)")
        index = 0
        if len(ready) > 1:
            index = self.policy.choose(list(ready), self.steps)
            self.decisions.append(index)
            owner = task_of(ready[index])
            name = owner.get_name() if isinstance(owner, asyncio.Task) else getattr(owner, "__qualname__", "callback")
            self.decision_log.append((self.steps, len(ready), str(name)))
        handle = ready[index]
        del ready[index]
        handle._run()
        self.policy.ran(handle, self.steps)

    def _waiting(self) -> list[str]:
        waiting: list[tuple[tuple[int, str], str]] = []
        for task in asyncio.all_tasks(self):
            coro = task.get_coro()
            name = getattr(coro, "__qualname__", type(coro).__name__)
            waiting.append((_creation_order(task), f"{task.get_name()} ({name})"))
        return [text for _, text in sorted(waiting)]

    # -- teardown ------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Cancel what is still alive and finalize async generators, for a loop about to close."""
        self.cancel_all()
        with contextlib.suppress(Deadlock):
            self.run_until_complete(self.shutdown_asyncgens())

    def settle(self, limit: int = 100_000) -> None:
        """Run ready callbacks (without advancing time) until none is ready: what finishes on its
        own finishes, so that what is still alive afterwards is really waiting."""
        ready: Any = self._ready  # type: ignore[attr-defined]
        count = 0
        asyncio.events._set_running_loop(self)
        try:
            while ready and count < limit:
                handle = ready.popleft()
                if not handle._cancelled:
                    handle._run()
                count += 1
        finally:
            asyncio.events._set_running_loop(None)

    def alive(self) -> list[asyncio.Task[Any]]:
        """Tasks not done, in creation order."""
        return [task for task in self.tasks if not task.done()]

    def cancel_all(self) -> None:
        """Cancel every task left and let them finish, so that closing leaks nothing."""
        tasks = self.alive()
        self.max_steps = self.steps + 100_000  # room to unwind, also after a livelock stopped
        for task in tasks:
            task.cancel()
        if tasks:
            gathered = asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(HarnessError):  # a deadlock or a task that will not stop
                self.run_until_complete(gathered)


def _creation_order(task: asyncio.Task[Any]) -> tuple[int, str]:
    name = task.get_name()
    number = name.removeprefix("task-")
    return (int(number), name) if number.isdigit() else (1 << 62, name)


def run(coro: Coroutine[Any, Any, T], loop: SimLoop) -> T:
    """Run ``coro`` to completion on ``loop`` (which stays open for inspection)."""
    return loop.run_until_complete(coro)


POLICIES = ("mixed", "random", "pct", "fifo")
"""The policy names a seed can be run under (``mixed``: random or PCT, chosen per seed)."""


def choose_policy(seed: int | None, name: str) -> Policy:
    """The scheduling policy of a seed: ``mixed`` picks random or PCT (depth 1-3) per seed."""
    base = seed if seed is not None else 0
    if name == "fifo":
        return Fifo()
    rng = Rng(derive(base, "policy"))
    if name == "mixed":
        name = "random" if rng.chance(500) else "pct"
    if name == "random":
        return RandomWalk(Rng(derive(base, "schedule")))
    if name == "pct":
        return PCT(Rng(derive(base, "schedule")), depth=rng.between(1, 3))
    raise UsageError(f"policy must be one of {', '.join(POLICIES)}, found {name!r}")


@contextlib.contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Keep the cyclic garbage collector out of a simulated run.

    A stream that breaks mid-way leaves the SDK's async generators in a reference cycle with the
    exception. Were the collector to finalize them during a run, the loop would schedule their
    ``aclose()`` at a step that depends on the process's allocation history, not on the seed.
    Cycles of one run are collected after it, as usual, once the collector is back on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
