"""The event-sourced orchestrator core."""

from harness.core.commands import MessageDispatch, ThreadCreate
from harness.core.events import EVENT_TYPES, EventRecord, NewEvent, StoredEvent
from harness.core.orchestrator import CommandResult, Orchestrator
from harness.core.projection import Projection, fold
from harness.core.sqlite_store import SqliteEventStore
from harness.core.store import EventStore, InMemoryEventStore
from harness.core.tools import Outcome, ScenarioTools, ToolRunner, ToolSpec

__all__ = [
    "EVENT_TYPES",
    "CommandResult",
    "EventRecord",
    "EventStore",
    "InMemoryEventStore",
    "MessageDispatch",
    "NewEvent",
    "Orchestrator",
    "Outcome",
    "Projection",
    "ScenarioTools",
    "SqliteEventStore",
    "StoredEvent",
    "ThreadCreate",
    "ToolRunner",
    "ToolSpec",
    "fold",
]
