"""The agent-runtime projection: every entity's latest snapshot, folded from the event log.

Runtime events are entity snapshots (t3code's model): the payload of ``run.updated`` is the
whole run, so folding is an upsert by id. Two events are not snapshots: ``turn-item.delta``
appends a fragment to one field of a turn item, and ``thread.rolled_back`` marks runs
``rolled_back``. The fold is pure and order-dependent only on sequence, so a second orchestrator
instance that reopens a durable store rebuilds exactly the first one's state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.core.events import StoredEvent

#: snapshot event type -> (collection, id field)
SNAPSHOTS: dict[str, tuple[str, str]] = {
    "thread.created": ("threads", "thread_id"),
    "run.created": ("runs", "run_id"),
    "run.updated": ("runs", "run_id"),
    "run-attempt.created": ("attempts", "attempt_id"),
    "run-attempt.updated": ("attempts", "attempt_id"),
    "node.updated": ("nodes", "node_id"),
    "provider-session.updated": ("sessions", "provider_session_id"),
    "provider-thread.updated": ("provider_threads", "provider_thread_id"),
    "provider-turn.updated": ("provider_turns", "provider_turn_id"),
    "turn-item.updated": ("turn_items", "turn_item_id"),
    "message.updated": ("messages", "message_id"),
    "runtime-request.updated": ("runtime_requests", "runtime_request_id"),
    "plan.updated": ("plans", "plan_id"),
    "context-transfer.updated": ("context_transfers", "context_transfer_id"),
}
COLLECTIONS = tuple(dict.fromkeys(collection for collection, _ in SNAPSHOTS.values()))
ACTIVE_RUN_STATUSES = frozenset({"starting", "running", "waiting"})
TERMINAL_RUN_STATUSES = frozenset({"completed", "interrupted", "failed", "cancelled"})


class RuntimeProjection:
    """Entity snapshots by id, one dict per collection, in first-seen order."""

    def __init__(self) -> None:
        self.collections: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in COLLECTIONS}
        self.receipts: dict[str, list[StoredEvent]] = {}
        self.last_sequence = 0

    def __getattr__(self, name: str) -> dict[str, dict[str, Any]]:
        collections = self.__dict__.get("collections", {})
        if name in collections:
            return collections[name]  # type: ignore[no-any-return]
        raise AttributeError(name)

    def get(self, collection: str, entity_id: str | None) -> dict[str, Any] | None:
        if entity_id is None:
            return None
        return self.collections[collection].get(entity_id)

    def apply(self, event: StoredEvent) -> None:
        self.last_sequence = event.sequence
        if event.command_id is not None:
            self.receipts.setdefault(event.command_id, []).append(event)
        target = SNAPSHOTS.get(event.type)
        if target is not None:
            collection, key = target
            self.collections[collection][str(event.data[key])] = dict(event.data)
        elif event.type == "turn-item.delta":
            item = self.collections["turn_items"].get(str(event.data.get("turn_item_id")))
            if item is not None:
                field = str(event.data.get("field", "text"))
                data = dict(item.get("data") or {})
                data[field] = str(data.get(field) or "") + str(event.data.get("delta", ""))
                self.collections["turn_items"][item["turn_item_id"]] = {**item, "data": data}
        elif event.type == "thread.rolled_back":
            for run_id in event.data.get("run_ids", []):
                run = self.collections["runs"].get(run_id)
                if run is not None:
                    self.collections["runs"][run_id] = {**run, "status": "rolled_back"}

    # -- queries -----------------------------------------------------------------------------

    def thread_runs(self, thread_id: str) -> list[dict[str, Any]]:
        return sorted((r for r in self.runs.values() if r["thread_id"] == thread_id), key=lambda r: r["ordinal"])

    def active_run(self, thread_id: str) -> dict[str, Any] | None:
        for run in self.thread_runs(thread_id):
            if run["status"] in ACTIVE_RUN_STATUSES:
                return run
        return None

    def run_items(self, run_id: str) -> list[dict[str, Any]]:
        return sorted((i for i in self.turn_items.values() if i["run_id"] == run_id), key=lambda i: i["ordinal"])

    def visible_turn_items(self, thread_id: str) -> list[dict[str, Any]]:
        """The thread's timeline: inherited history of its fork source first, then its own items.

        Each entry is ``{position, visibility: local|inherited, source_thread_id, item}``;
        rolled-back runs are hidden.
        """
        thread = self.threads[thread_id]
        entries: list[tuple[str, str, dict[str, Any]]] = []
        lineage = thread.get("lineage") or {}
        parent = lineage.get("parent_thread_id")
        if parent is not None and parent in self.threads:
            cutoff = (lineage.get("forked_from") or {}).get("run_ordinal", 0)
            for entry in self.visible_turn_items(parent):
                item = entry["item"]
                run = self.runs.get(item["run_id"])
                # Only the source's history up to the fork point is inherited; later source runs are not.
                if entry["visibility"] == "local" and run is not None and run["ordinal"] > cutoff:
                    continue
                entries.append(("inherited", entry["source_thread_id"], item))
        for run in self.thread_runs(thread_id):
            if run["status"] == "rolled_back":
                continue
            entries.extend(("local", thread_id, item) for item in self.run_items(run["run_id"]))
        return [
            {"position": index + 1, "visibility": visibility, "source_thread_id": source, "item": item}
            for index, (visibility, source, item) in enumerate(entries)
        ]

    def to_json(self) -> dict[str, Any]:
        """Every collection as a list in first-seen order (what reports and tests compare)."""
        return {name: list(entities.values()) for name, entities in self.collections.items()}


def fold_runtime(events: Iterable[StoredEvent]) -> RuntimeProjection:
    projection = RuntimeProjection()
    for event in events:
        projection.apply(event)
    return projection
