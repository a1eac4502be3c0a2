"""The thread's append-only event store: commit, then publish to live subscribers; read; follow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

Event = dict[str, Any]

_CLOSED: Event = {"type": "store.closed"}


class StoreClosed(Exception):
    """An append after the store closed."""


class EventStore:
    """The thread's append-only log: ``append`` commits, then publishes to live subscribers.

    Publishing goes out in commit order (whoever publishes first sends everything committed so
    far), so two writers never hand a subscriber their events out of order.
    """

    def __init__(self, thread_id: str, *, read_then_subscribe: bool = False) -> None:
        self.thread_id = thread_id
        self.events: list[Event] = []
        self._published = 0
        self._subscribers: list[asyncio.Queue[Event]] = []
        self._closed = False
        self._read_then_subscribe = read_then_subscribe

    @property
    def last_seq(self) -> int:
        return len(self.events)

    async def append(self, type: str, **fields: Any) -> Event:
        if self._closed:
            raise StoreClosed(f"thread {self.thread_id} is closed; cannot append {type}")
        event: Event = {"seq": len(self.events) + 1, "type": type, "thread_id": self.thread_id, **fields}
        self.events.append(event)  # committed
        await asyncio.sleep(0)  # the hand-off to the publisher
        self._publish()
        return event

    def _publish(self) -> None:
        while self._published < len(self.events):
            event = self.events[self._published]
            self._published += 1
            for inbox in self._subscribers:
                inbox.put_nowait(event)

    async def read(self, after: int = 0) -> list[Event]:
        """The committed events with ``seq > after``: a query, answered after a round trip."""
        snapshot = self.events[after:]
        await asyncio.sleep(0)
        return snapshot

    async def follow(self, after: int = 0) -> AsyncIterator[Event]:
        """Every event with ``seq > after``, history first, then live ones as they are published,
        each exactly once and in order, until the store closes."""
        if self._read_then_subscribe:
            # Planted bug (read_then_subscribe): the subscription starts only once the history
            # has been handed out, so what is published in between never arrives.
            for event in await self.read(after):
                yield event
            inbox = self._subscribe()
            try:
                while (event := await inbox.get()) is not _CLOSED:
                    if event["seq"] > after:
                        yield event
            finally:
                self._subscribers.remove(inbox)
            return
        # Subscribe first, then catch up to the high-water mark; live events take over after it.
        inbox = self._subscribe()
        try:
            high = max(after, self.last_seq)
            for event in await self.read(after):
                if event["seq"] > high:
                    break
                yield event
            while (event := await inbox.get()) is not _CLOSED:
                if event["seq"] > high:
                    yield event
        finally:
            self._subscribers.remove(inbox)

    def _subscribe(self) -> asyncio.Queue[Event]:
        inbox: asyncio.Queue[Event] = asyncio.Queue()
        if self._closed:
            inbox.put_nowait(_CLOSED)
        self._subscribers.append(inbox)
        return inbox

    async def close(self) -> None:
        """Publish what is committed, then end every subscription."""
        self._closed = True
        self._publish()
        for inbox in self._subscribers:
            inbox.put_nowait(_CLOSED)
