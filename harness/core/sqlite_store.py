"""A durable event store in SQLite (standard library), for orchestrators that restart.

Each append is one transaction; sequence numbers continue across processes and instances opened
on the same file, so a second orchestrator instance picks up the log exactly where the first left
it, with no gap and no duplicate. Payloads are stored as JSON text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
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
        self._db.execute(SCHEMA)

    def append(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        stored: list[StoredEvent] = []
        # BEGIN IMMEDIATE takes the write lock before reading the last sequence, so two instances
        # on one file cannot both number an event N.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            sequence = self.last_sequence
            for new in events:
                sequence += 1
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
                self._db.execute(
                    _INSERT,
                    (
                        event.sequence,
                        event.event_id,
                        event.type,
                        event.thread_id,
                        event.run_id,
                        event.command_id,
                        event.at_ms,
                        orjson.dumps(event.data).decode(),
                    ),
                )
                stored.append(event)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # an interrupt right after COMMIT leaves nothing to roll back
                self._db.execute("ROLLBACK")
            raise
        return stored

    def read(self, after: int = 0) -> list[StoredEvent]:
        rows = self._db.execute(f"{_SELECT} WHERE sequence > ? ORDER BY sequence", (after,)).fetchall()
        return [
            StoredEvent(
                sequence=r[0],
                event_id=r[1],
                type=r[2],
                thread_id=r[3],
                run_id=r[4],
                command_id=r[5],
                at_ms=r[6],
                data=orjson.loads(r[7]),
            )
            for r in rows
        ]

    @property
    def last_sequence(self) -> int:
        (value,) = self._db.execute("SELECT COALESCE(MAX(sequence), 0) FROM events").fetchone()
        return int(value)

    def close(self) -> None:
        self._db.close()
