"""Domain events: the orchestrator's event-sourced record of what happened.

Every event has a contiguous ``sequence`` (1, 2, 3, ...) in its store, an ``event_id`` derived
from that sequence, the ``command_id`` that caused it, the ids it concerns, a logical timestamp
``at_ms`` and a ``data`` payload whose shape depends on ``type`` (see :data:`EVENT_TYPES` and
``docs/events.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Every domain event type with its one-line meaning. ``docs/events.md`` documents each payload.
EVENT_TYPES: dict[str, str] = {
    "thread.created": "a conversation thread exists",
    "run.created": "a run (one user turn and the agent loop it starts) was created",
    "protocol.violation": "a frame broke a named protocol rule",
    "provider.frame.unrecognized": "a frame the adapter does not know, carried through",
    "provider.frame.ignored": "a frame the adapter knows and does not act on (noise), by kind",
    "tool_call.requested": "a tool call is ready to run (by the harness, the runtime or the provider)",
    "tool_call.completed": "the tool finished, with an outcome: succeeded with output or failed with error",
    "command.accepted": "the orchestrator accepted a command; its receipt, durable with the events",
    "run.updated": "a run's new snapshot (status queued, starting, running, waiting or terminal)",
    "run-attempt.created": "a run attempt (one provider turn try) exists",
    "run-attempt.updated": "a run attempt's new snapshot",
    "node.updated": "an execution node's new snapshot (root turn, item, approval, ...)",
    "provider-session.updated": "a runtime process/session's new snapshot",
    "provider-thread.updated": "a provider thread's new snapshot (native id, status, conversation head)",
    "provider-turn.updated": "a provider turn's new snapshot",
    "turn-item.updated": "a turn item's new snapshot (user message, assistant message, tool, approval, ...)",
    "turn-item.delta": "a streamed fragment of a turn item field",
    "message.updated": "a conversation message's new snapshot",
    "runtime-request.updated": "a runtime request's (approval, question) new snapshot",
    "plan.updated": "a plan artifact's new snapshot (todo list)",
    "context-transfer.updated": "a fork or merge-back context transfer's new snapshot",
    "thread.rolled_back": "runs of a thread were rolled back, in the app and the provider thread",
}


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event before the store gives it a sequence number."""

    type: str
    data: dict[str, Any]
    thread_id: str | None = None
    run_id: str | None = None
    at_ms: int = 0
    command_id: str | None = None

    def stored(self, sequence: int) -> StoredEvent:
        """This event as a store keeps it at ``sequence`` (its id derived from the sequence)."""
        return StoredEvent(
            sequence=sequence,
            event_id=f"event:{sequence}",
            type=self.type,
            thread_id=self.thread_id,
            run_id=self.run_id,
            command_id=self.command_id,
            at_ms=self.at_ms,
            data=self.data,
        )


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored: sequence numbers are contiguous from 1 within a store."""

    sequence: int
    event_id: str
    type: str
    thread_id: str | None
    run_id: str | None
    command_id: str | None
    at_ms: int
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "event_id": self.event_id,
            "type": self.type,
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "command_id": self.command_id,
            "at_ms": self.at_ms,
            "data": self.data,
        }


class EventRecord(BaseModel):
    """The wire form of a stored event (one line of an event-log NDJSON file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sequence: int = Field(ge=1)
    event_id: str
    type: str
    thread_id: str | None
    run_id: str | None
    command_id: str | None
    at_ms: int = Field(ge=0)
    data: dict[str, Any]

    def to_event(self) -> StoredEvent:
        return StoredEvent(**self.model_dump())
