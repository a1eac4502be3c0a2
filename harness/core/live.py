"""The core for async code: commands dispatched by concurrent tasks, and live subscriptions.

:class:`~harness.core.Orchestrator` is synchronous: a command runs to completion and its events are
in the store when :meth:`~harness.core.Orchestrator.dispatch` returns. A service built on it has
more than one task: some dispatch commands, others (a UI stream, a projector, a webhook) follow the
log as it grows. :class:`LiveCore` is that front:

* :meth:`LiveCore.dispatch` runs commands one at a time (one writer, an :class:`asyncio.Lock`) and
  **publishes** what each committed to every open subscription, in sequence order.
* :meth:`LiveCore.subscribe` returns a :class:`Subscription`, an async iterator over the events
  with ``sequence > after``: first those already stored, then live ones as they are published,
  each exactly once and in order. It registers for live events **before** it reads the store and
  drops what it has already delivered (``sequence <= last``), so an event committed between the
  read and the registration can neither be lost (the read-then-subscribe race) nor be delivered
  twice.
* :meth:`LiveCore.close` ends every subscription once it has delivered what was published.

The steps where another task may run are **named yield points** (:func:`point`): ``dispatch``
(a command is about to take the writer lock), ``store.append`` (a command's events are committed
and not yet published), ``publish`` (one subscription is about to receive them) and ``subscribe``
(between registering and reading the store). On the standard loop a point is one
``asyncio.sleep(0)``; on :class:`~harness.simulate.loop.SimLoop` the scheduling policy chooses who
runs next and the point is recorded in the run's history, so ``harness simulate`` explores the
core's interleavings as it explores the user's code (``docs/simulation.md`` section 13).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from harness.core.events import StoredEvent
from harness.errors import UsageError

if TYPE_CHECKING:
    from harness.core.commands import RuntimeCommandType
    from harness.core.orchestrator import CommandResult, Orchestrator
    from harness.core.store import EventStore

T = TypeVar("T")


async def point(name: str, detail: str | None = None) -> None:
    """A named yield point: a place where the event loop may run another task.

    The running loop's ``on_point(name, detail)`` hook is called first when it has one
    (:class:`~harness.simulate.loop.SimLoop` records the point in the run's history); then the
    task yields once. Put one wherever your own async code has a window another task could
    slip into (between a read and a write, a check and an act), so a simulation can explore it.
    """
    hook = getattr(asyncio.get_running_loop(), "on_point", None)
    if hook is not None:
        hook(name, detail)
    await asyncio.sleep(0)


class Subscription:
    """Events with ``sequence > after`` from a :class:`LiveCore`, each once, in order; see
    :meth:`LiveCore.subscribe`. Iterate it with ``async for``; it ends when the core is closed
    and everything published before has been delivered."""

    def __init__(self, core: LiveCore, after: int, name: str) -> None:
        self.core = core
        self.name = name
        self.after = after
        self.last = after
        """The sequence of the last event delivered (``after`` before the first)."""
        self._pending: deque[StoredEvent] = deque()
        self._wake = asyncio.Event()
        self._started = False

    def __aiter__(self) -> AsyncIterator[StoredEvent]:
        return self

    async def __anext__(self) -> StoredEvent:
        if not self._started:
            self._started = True
            await self._start()
        while True:
            while self._pending:
                event = self._pending.popleft()
                if event.sequence > self.last:
                    self.last = event.sequence
                    return event
            if self.core.closed:
                self.core._subscriptions.remove(self)
                raise StopAsyncIteration
            self._wake.clear()
            await self._wake.wait()

    async def _start(self) -> None:
        # Register first: from here on every published event is queued. Only then read what the
        # store holds; an event both read and published is dropped by sequence in __anext__.
        self.core._subscriptions.append(self)
        await point("subscribe", self.name)
        self._pending.extendleft(reversed(self.core.store.read(self.last)))
        self._wake.set()

    def _deliver(self, events: list[StoredEvent]) -> None:
        self._pending.extend(events)
        self._wake.set()


class LiveCore:
    """An :class:`~harness.core.Orchestrator` for concurrent async tasks; see the module docstring.

    ``orchestrator`` may be replaced (a restarted instance over the same durable store); the
    subscriptions stay open across the change.
    """

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator
        self.closed = False
        self.published = orchestrator.store.last_sequence
        """The sequence of the last event published to the subscriptions."""
        self._lock = asyncio.Lock()
        self._subscriptions: list[Subscription] = []
        self._named = 0

    @property
    def store(self) -> EventStore:
        return self.orchestrator.store

    async def dispatch(self, command: RuntimeCommandType | dict[str, Any]) -> CommandResult:
        """Dispatch ``command`` (a command model or its JSON) once no other command runs, and
        publish the events it committed."""
        kind = command.get("type") if isinstance(command, dict) else command.type
        return await self.call(lambda: self.orchestrator.dispatch(command), "dispatch", str(kind))

    async def call(self, operation: Callable[[], T], name: str = "call", detail: str | None = None) -> T:
        """Run any synchronous operation of the core under the writer lock (a restarted
        instance's ``pump``, say) and publish the events it committed, also when it raises."""
        if self.closed:
            raise UsageError("this LiveCore is closed; open a new one over the store to dispatch again")
        await point(name, detail)
        async with self._lock:
            before = self.store.last_sequence
            try:
                return operation()
            finally:
                after = self.store.last_sequence
                if after > before:
                    await point("store.append", f"{before + 1}..{after}")
                    await self._publish(self.store.read(self.published))

    async def _publish(self, events: list[StoredEvent]) -> None:
        if not events:
            return
        self.published = events[-1].sequence
        for subscription in list(self._subscriptions):
            await point("publish", subscription.name)
            subscription._deliver(events)

    def subscribe(self, after: int = 0, *, name: str | None = None) -> Subscription:
        """The events with ``sequence > after`` (``0``: the whole log; a checkpoint's sequence: the
        rest), stored ones first and then live ones, each once, in order. ``name`` labels its
        yield points (default ``subscriber-<n>`` in creation order)."""
        if after < 0:
            raise UsageError(f"subscribe(after=...) takes a sequence number (0 or more), found {after}")
        self._named += 1
        return Subscription(self, after, name or f"subscriber-{self._named}")

    def close(self) -> None:
        """No more commands; every subscription ends after delivering what was published."""
        self.closed = True
        for subscription in list(self._subscriptions):
            subscription._wake.set()
