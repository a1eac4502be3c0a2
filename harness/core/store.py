"""Event stores: append-only logs with contiguous sequence numbers.

:class:`EventStore` is the narrow interface; :class:`InMemoryEventStore` the implementation used
by replays. ``harness.testing.EventStoreContract`` is the conformance test any other store
(SQLite, a user's own) can subclass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from harness.core.events import NewEvent, StoredEvent


class EventStore(Protocol):
    """An append-only event log."""

    def append(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        """Store ``events`` in order, numbering them from ``last_sequence + 1``."""
        ...

    def read(self, after: int = 0) -> list[StoredEvent]:
        """Every stored event with ``sequence > after``, in order."""
        ...

    @property
    def last_sequence(self) -> int: ...


class InMemoryEventStore:
    """An event store in a Python list."""

    def __init__(self) -> None:
        self._events: list[StoredEvent] = []

    def append(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        stored = []
        for new in events:
            sequence = len(self._events) + 1
            event = StoredEvent(
                sequence=sequence,
                event_id=f"event:{sequence}",
                type=new.type,
                thread_id=new.thread_id,
                run_id=new.run_id,
                command_id=new.command_id,
                at_ms=new.at_ms,
                data=new.data,
            )
            self._events.append(event)
            stored.append(event)
        return stored

    def read(self, after: int = 0) -> list[StoredEvent]:
        return self._events[after:]

    @property
    def last_sequence(self) -> int:
        return len(self._events)
