"""The orchestrator's own event log: plain dicts, numbered, one ``run_id`` per run.

Every event is ``{"seq", "type", "run_id", "ts", ...}``. The UI streams them, the audit table
stores them, and tests read them. Types, in the order a run emits them:

================  =============================================================================
``run.started``   ``provider``, ``model``, ``prompt``
``request.sent``  ``turn``, ``attempt``: one HTTP request to the provider
``text.delta``    ``turn``, ``attempt``, ``text``: streamed answer text, as it arrives
``request.failed`` ``turn``, ``attempt``, ``error``, ``status``, ``retry``, ``delay_s``
``turn.completed`` ``turn``, ``attempt``, ``stop_reason``, ``message_id``, ``usage``
``tool.called``   ``turn``, ``call_id``, ``name``, ``arguments``
``tool.result``   ``turn``, ``call_id``, ``name``, ``ok``, ``output``
``run.completed`` ``turns``, ``text``
``run.failed``    ``turns``, ``error``
================  =============================================================================

Text deltas of an attempt that later failed stay in the log, tagged with their ``attempt``: a
consumer shows the latest attempt only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Event = dict[str, Any]


class EventLog:
    """Appends events with contiguous ``seq`` numbers and hands each to ``sink`` as it happens."""

    def __init__(self, *, clock: Callable[[], float] = time.time, sink: Callable[[Event], None] | None = None) -> None:
        self.events: list[Event] = []
        self._clock = clock
        self._sink = sink

    def emit(self, type: str, run_id: str, **fields: Any) -> Event:
        event: Event = {"seq": len(self.events) + 1, "type": type, "run_id": run_id, "ts": self._clock(), **fields}
        self.events.append(event)
        if self._sink is not None:
            self._sink(event)
        return event

    def of_type(self, type: str) -> list[Event]:
        return [event for event in self.events if event["type"] == type]
