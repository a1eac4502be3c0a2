"""Conformance tests users can run against their own implementations.

Subclass :class:`EventStoreContract` and implement :meth:`EventStoreContract.make_store` to check
an event store (SQLite, Postgres, your own) against the contract the orchestrator relies on::

    class TestMyStore(EventStoreContract):
        def make_store(self) -> EventStore:
            return MyStore(":memory:")

The class name does not start with ``Test`` so pytest collects only your subclass.
"""

from __future__ import annotations

from harness.core.events import NewEvent
from harness.core.store import EventStore


class EventStoreContract:
    """The behaviour every :class:`~harness.core.store.EventStore` must have."""

    def make_store(self) -> EventStore:
        raise NotImplementedError("subclasses return a new, empty store")

    def test_a_new_store_is_empty(self) -> None:
        store = self.make_store()
        assert store.last_sequence == 0
        assert store.read() == []

    def test_sequences_are_contiguous_from_one_across_appends(self) -> None:
        store = self.make_store()
        first = store.append([NewEvent("thread.created", {"thread_id": "t"}, thread_id="t")])
        more = store.append(
            [NewEvent("message.added", {"n": 1}, thread_id="t"), NewEvent("message.added", {"n": 2}, thread_id="t")]
        )
        assert [e.sequence for e in first + more] == [1, 2, 3]
        assert store.last_sequence == 3

    def test_read_after_returns_the_tail_in_order(self) -> None:
        store = self.make_store()
        store.append([NewEvent("message.added", {"n": n}, thread_id="t") for n in range(5)])
        assert [e.data["n"] for e in store.read(after=2)] == [2, 3, 4]
        assert store.read(after=5) == []

    def test_stored_events_keep_every_field(self) -> None:
        store = self.make_store()
        (event,) = store.append(
            [NewEvent("run.started", {"k": [1, {"a": None}]}, thread_id="t", run_id="t/run-1", at_ms=7, command_id="c")]
        )
        (read,) = store.read()
        assert read == event
        assert (read.type, read.thread_id, read.run_id, read.at_ms, read.command_id, read.data) == (
            "run.started",
            "t",
            "t/run-1",
            7,
            "c",
            {"k": [1, {"a": None}]},
        )

    def test_event_ids_are_unique(self) -> None:
        store = self.make_store()
        events = store.append([NewEvent("message.added", {}, thread_id="t") for _ in range(10)])
        assert len({e.event_id for e in events}) == 10
