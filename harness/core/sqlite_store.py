"""A durable event store in SQLite (standard library), for orchestrators that restart.

Sequence numbers continue across processes and instances opened on the same file, so a second
orchestrator instance picks up the log exactly where the first left it, with no gap and no
duplicate. Payloads are stored as JSON text.

Each append is atomic: all of its events are stored or none. Outside :meth:`SqliteEventStore.batch`
each append is also one committed transaction. The orchestrators run every command inside
``batch()``, so a command's events are committed together when it ends (a command of a long
stream would otherwise pay one commit per streamed fragment); an exception inside the batch
still commits every append that completed, so a run that failed keeps its terminal event. File
databases use SQLite's write-ahead log.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import orjson

from harness.core.events import NewEvent, StoredEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    sequence   INTEGER PRIMARY KEY,
    event_id   TEXT NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    thread_id  TEXT,
    run_id     TEXT,
    command_id TEXT,
    at_ms      INTEGER NOT NULL,
    data       TEXT NOT NULL
)
"""

_INSERT = (
    "INSERT INTO events (sequence, event_id, type, thread_id, run_id, command_id, at_ms, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT = "SELECT sequence, event_id, type, thread_id, run_id, command_id, at_ms, data FROM events"


class SqliteEventStore:
    """An :class:`~harness.core.store.EventStore` in a SQLite file (``":memory:"`` for tests).

    >>> store = SqliteEventStore(":memory:")
    >>> [e.sequence for e in store.append([NewEvent("thread.created", {"thread_id": "t"})])]
    [1]
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)
        #: Inside :meth:`batch`: the last sequence, known because the batch holds the write lock.
        self._batch_last: int | None = None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Commit every append made inside the block in one transaction, when the block ends.

        The write lock is held for the whole block, so no other instance can number an event in
        between. An exception commits the appends that completed (each append stays atomic) and
        propagates. Nested blocks join the outer one.
        """
        if self._batch_last is not None:
            yield
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._batch_last = self._read_last_sequence()
            yield
        finally:
            self._batch_last = None
            if self._db.in_transaction:
                self._db.execute("COMMIT")

    def append(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        if self._batch_last is not None:
            # Inside a batch: a savepoint keeps this append all-or-nothing.
            self._db.execute("SAVEPOINT append")
            try:
                stored = self._insert(events, self._batch_last)
            except BaseException:
                self._db.execute("ROLLBACK TO append")
                self._db.execute("RELEASE append")
                raise
            self._db.execute("RELEASE append")
            if stored:
                self._batch_last = stored[-1].sequence
            return stored
        # BEGIN IMMEDIATE takes the write lock before reading the last sequence, so two instances
        # on one file cannot both number an event N.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            stored = self._insert(events, self._read_last_sequence())
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # an interrupt right after COMMIT leaves nothing to roll back
                self._db.execute("ROLLBACK")
            raise
        return stored

    def _insert(self, events: Sequence[NewEvent], sequence: int) -> list[StoredEvent]:
        stored = [new.stored(sequence + offset) for offset, new in enumerate(events, start=1)]
        self._db.executemany(
            _INSERT,
            [
                (
                    e.sequence,
                    e.event_id,
                    e.type,
                    e.thread_id,
                    e.run_id,
                    e.command_id,
                    e.at_ms,
                    orjson.dumps(e.data).decode(),
                )
                for e in stored
            ],
        )
        return stored

    def read(self, after: int = 0) -> list[StoredEvent]:
        return list(self.iter_events(after))

    def iter_events(self, after: int = 0) -> Iterator[StoredEvent]:
        """The events with ``sequence > after`` in order, read from the file as they are consumed."""
        cursor = self._db.execute(f"{_SELECT} WHERE sequence > ? ORDER BY sequence", (after,))
        while rows := cursor.fetchmany(1024):
            for r in rows:
                yield StoredEvent(
                    sequence=r[0],
                    event_id=r[1],
                    type=r[2],
                    thread_id=r[3],
                    run_id=r[4],
                    command_id=r[5],
                    at_ms=r[6],
                    data=orjson.loads(r[7]),
                )

    @property
    def last_sequence(self) -> int:
        if self._batch_last is not None:
            return self._batch_last
        return self._read_last_sequence()

    def _read_last_sequence(self) -> int:
        (value,) = self._db.execute("SELECT COALESCE(MAX(sequence), 0) FROM events").fetchone()
        return int(value)

    def close(self) -> None:
        self._db.close()
