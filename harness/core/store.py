"""Event stores: append-only logs with contiguous sequence numbers.

:class:`EventStore` is the narrow interface; :class:`InMemoryEventStore` the implementation used
by replays, :class:`FileEventStore` the one for long replays (the log streams to an event-log
NDJSON file instead of staying in memory). ``harness.testing.EventStoreContract`` is the
conformance test any other store (SQLite, a user's own) can subclass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

from harness.core.events import NewEvent, StoredEvent
from harness.limits import json_loads


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
        stored = [new.stored(len(self._events) + offset) for offset, new in enumerate(events, start=1)]
        self._events.extend(stored)
        return stored

    def read(self, after: int = 0) -> list[StoredEvent]:
        return self._events[after:]

    @property
    def last_sequence(self) -> int:
        return len(self._events)


class FileEventStore:
    """An event store whose log goes to an event-log NDJSON file as it is appended.

    Nothing is kept in memory but the last sequence number, so a replay of millions of events
    stays flat in memory; :meth:`iter_events` streams the log back. The file is the documented
    event-log format (``docs/events.md``): one :meth:`StoredEvent.to_json` object per line.
    ``path`` must not exist (the store creates it); the store is not durable across processes
    (that is :class:`~harness.core.sqlite_store.SqliteEventStore`'s job).

    Orchestrators do not keep the events of their commands when the store says ``spills``:
    ``CommandResult.events`` is then empty and the log is read from here.
    """

    spills = True

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._file = open(self.path, "xb+")  # noqa: SIM115 - held open for the store's life
        self._last = 0

    def append(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        stored = [new.stored(self._last + offset) for offset, new in enumerate(events, start=1)]
        # Serialize all before writing any: an event that is not JSON stores nothing.
        lines = b"".join(orjson.dumps(event.to_json(), option=orjson.OPT_APPEND_NEWLINE) for event in stored)
        self._file.write(lines)
        self._last += len(stored)
        return stored

    def read(self, after: int = 0) -> list[StoredEvent]:
        return list(self.iter_events(after))

    def iter_events(self, after: int = 0) -> Iterator[StoredEvent]:
        """The events with ``sequence > after``, in order, parsed from the file as they are consumed
        (after :meth:`close` too: the file stays)."""
        if not self._file.closed:
            self._file.flush()
        with open(self.path, "rb") as log:
            for line in log:
                record = json_loads(line)
                if record["sequence"] > after:
                    yield StoredEvent(**record)

    @property
    def last_sequence(self) -> int:
        return self._last

    def close(self) -> None:
        self._file.close()


def iter_events(store: EventStore, after: int = 0) -> Iterator[StoredEvent]:
    """The store's events with ``sequence > after``, streamed when the store can (``iter_events``)."""
    stream = getattr(store, "iter_events", None)
    return stream(after) if callable(stream) else iter(store.read(after))


def spills(store: EventStore) -> bool:
    """Whether ``store`` keeps its log out of memory on purpose (``spills = True``, as
    :class:`FileEventStore` does): an orchestrator then keeps no copy of the events either."""
    return bool(getattr(store, "spills", False))


def batch(store: EventStore) -> contextlib.AbstractContextManager[Any]:
    """The store's ``batch()`` (one transaction for a command's appends) when it has one, else a no-op.

    A store may offer ``batch()`` as :class:`~harness.core.sqlite_store.SqliteEventStore` does;
    the orchestrators run each command inside it.
    """
    method = getattr(store, "batch", None)
    return method() if callable(method) else contextlib.nullcontext()
