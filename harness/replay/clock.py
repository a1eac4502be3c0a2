"""Injected time. Nothing in the harness reads the wall clock; a replay advances a logical clock."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    """A source of milliseconds that only moves when told to."""

    def now_ms(self) -> int: ...

    def advance(self, ms: int) -> None: ...


class LogicalClock:
    """A clock that starts at ``start_ms`` and moves only through :meth:`advance`.

    The replay driver advances it by each inbound frame's recorded ``afterMs``, so recorded
    latency survives into event timestamps without any real sleeping.

    >>> clock = LogicalClock()
    >>> clock.advance(250)
    >>> clock.now_ms()
    250
    """

    __slots__ = ("_now",)

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError(f"a clock cannot go backwards (advance by {ms} ms)")
        self._now += ms
