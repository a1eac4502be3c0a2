"""The shipped event-store conformance tests, run against the in-memory store."""

from __future__ import annotations

from harness.core.store import EventStore, InMemoryEventStore
from harness.testing import EventStoreContract


class TestInMemoryEventStore(EventStoreContract):
    def make_store(self) -> EventStore:
        return InMemoryEventStore()
