"""The projection: every entity's latest snapshot, folded from the event log.

Events are entity snapshots (t3code's model): the payload of ``run.updated`` is the
whole run, so folding is an upsert by id. Two events are not snapshots: ``turn-item.delta``
appends a fragment to one field of a turn item, and ``thread.rolled_back`` marks runs
``rolled_back``. The fold is pure and order-dependent only on sequence, so a second orchestrator
instance that reopens a durable store rebuilds exactly the first one's state.

Folding and querying cost no more per event as the log grows:

* streamed fragments (``turn-item.delta``) are kept per item and field and joined once, when
  something reads the turn items, instead of copying the whole text so far for each fragment;
* entities are indexed by the thread or run they belong to (:data:`GROUPS`), in first-seen
  order; runs and turn items are created with rising ordinals, so that order is also ordinal
  order and :meth:`Projection.thread_runs` and :meth:`~Projection.run_items` sort
  nothing. A log that breaks those assumptions (an ordinal that goes down or changes, an entity
  that moves to another thread or run, a group field that is not a string) is still folded
  exactly: the affected queries go back to filtering and sorting the whole collection.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from harness.core.events import StoredEvent
from harness.text import TextBuffer

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

#: collection -> the keys that group its entities: each a tuple of fields whose (string) values
#: name one group; the projection keeps every group's entity ids in first-seen order.
GROUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "runs": (("thread_id",),),
    "attempts": (("run_id",),),
    "sessions": (("thread_id",),),
    "provider_turns": (("thread_id",),),
    "turn_items": (("run_id",),),
    "messages": (("thread_id", "role"),),
    "runtime_requests": (("run_id",), ("thread_id",)),
    "context_transfers": (("target_thread_id",),),
}
#: Groups also kept in ``ordinal`` order (entities with equal ordinals in first-seen order).
ORDERED: frozenset[tuple[str, tuple[str, ...]]] = frozenset({("runs", ("thread_id",)), ("turn_items", ("run_id",))})

GroupKey = str | tuple[str, ...]


class _Group:
    """The ids of one group's entities in first-seen order; ``ordered`` while that is ordinal order."""

    __slots__ = ("ids", "last", "ordered")

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.last: int | None = None
        self.ordered = True


class _Index:
    """One collection's entities grouped by ``fields``; ``regular`` while every value is a string
    and no entity has moved to another group (otherwise queries filter the whole collection)."""

    __slots__ = ("field", "fields", "groups", "ordinal", "regular")

    def __init__(self, fields: tuple[str, ...], ordinal: bool) -> None:
        self.fields = fields
        self.field = fields[0] if len(fields) == 1 else None
        self.ordinal = ordinal
        self.groups: dict[GroupKey, _Group] = {}
        self.regular = True

    def key(self, entity: dict[str, Any]) -> GroupKey | None:
        """The entity's group, or None if a field is missing or not a string."""
        if self.field is not None:
            value = entity.get(self.field)
            return value if type(value) is str else None
        values = tuple(entity.get(field) for field in self.fields)
        return values if all(type(v) is str for v in values) else None  # type: ignore[return-value]

    def add(self, entity_id: str, entity: dict[str, Any], previous: dict[str, Any] | None) -> None:
        if not self.regular:
            return
        key = self.key(entity)
        if key is None:
            self.regular = False
        elif previous is not None:
            if self.key(previous) != key:
                self.regular = False  # moved to another group: nothing the orchestrator does
            elif self.ordinal and previous.get("ordinal") != entity.get("ordinal"):
                self.groups[key].ordered = False
        else:
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = _Group()
            group.ids.append(entity_id)
            if self.ordinal and group.ordered:
                ordinal = entity.get("ordinal")
                if type(ordinal) is int and (group.last is None or ordinal >= group.last):
                    group.last = ordinal
                else:
                    group.ordered = False

    def matches(self, entity: dict[str, Any], key: GroupKey) -> bool:
        """The plain filter (``entity[field] == value``), for a collection the index gave up on."""
        if len(self.fields) == 1:
            return bool(entity[self.fields[0]] == key)
        return all(entity[field] == value for field, value in zip(self.fields, key, strict=True))


class _Collections(Mapping[str, dict[str, dict[str, Any]]]):
    """The projection's collections by name; reading ``turn_items`` first joins pending fragments."""

    __slots__ = ("_projection",)

    def __init__(self, projection: Projection) -> None:
        self._projection = projection

    def __getitem__(self, name: str) -> dict[str, dict[str, Any]]:
        projection = self._projection
        if name == "turn_items" and projection._parts:
            projection._join_parts()
        return projection._entities[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._projection._entities)

    def __len__(self) -> int:
        return len(self._projection._entities)


_MISSING = object()


@dataclass(slots=True)
class Receipt:
    """A command's receipt: the sequences of its first and last event, and the first thread and
    run any of them named. A repeated command id is answered from it and the store."""

    first: int
    last: int
    thread_id: str | None
    run_id: str | None


class Projection:
    """Entity snapshots by id, one dict per collection, in first-seen order; see the module docstring."""

    def __init__(self) -> None:
        self._entities: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in COLLECTIONS}
        self._view = _Collections(self)
        # Each collection as an attribute (``projection.runs``); ``turn_items`` is a property.
        self.threads = self._entities["threads"]
        self.runs = self._entities["runs"]
        self.attempts = self._entities["attempts"]
        self.nodes = self._entities["nodes"]
        self.sessions = self._entities["sessions"]
        self.provider_threads = self._entities["provider_threads"]
        self.provider_turns = self._entities["provider_turns"]
        self.messages = self._entities["messages"]
        self.runtime_requests = self._entities["runtime_requests"]
        self.plans = self._entities["plans"]
        self.context_transfers = self._entities["context_transfers"]
        #: command id -> where its events are in the log (the events themselves stay in the store).
        self.receipts: dict[str, Receipt] = {}
        self.last_sequence = 0
        #: turn item id -> field -> fragments not yet joined into ``item["data"][field]``, in order.
        self._parts: dict[str, dict[str, TextBuffer]] = {}
        self._indexes: dict[str, tuple[_Index, ...]] = {
            collection: tuple(_Index(fields, (collection, fields) in ORDERED) for fields in keys)
            for collection, keys in GROUPS.items()
        }
        self._run_index = self._indexes["runs"][0]
        self._item_index = self._indexes["turn_items"][0]
        #: thread id -> its active run's id (None: none), until a run changes.
        self._active: dict[str, str | None] = {}
        #: run id -> native_ref -> the ids of the run's items with it, in order (built when first
        #: asked for, then kept up to date).
        self._native: dict[str, dict[str | None, list[str]]] = {}

    @property
    def collections(self) -> Mapping[str, dict[str, dict[str, Any]]]:
        """Every collection by name: entity id -> latest snapshot, in first-seen order."""
        return self._view

    @property
    def turn_items(self) -> dict[str, dict[str, Any]]:
        """Turn items by id, every streamed fragment joined in."""
        if self._parts:
            self._join_parts()
        return self._entities["turn_items"]

    def __getattr__(self, name: str) -> dict[str, dict[str, Any]]:
        # Every collection is a real attribute; this only keeps the type of an unknown name
        # what it always was for code that handles either projection (``projection.tool_calls``).
        raise AttributeError(name)

    def get(self, collection: str, entity_id: str | None) -> dict[str, Any] | None:
        if entity_id is None:
            return None
        if collection == "turn_items" and self._parts:
            self._join_parts()
        return self._entities[collection].get(entity_id)

    def apply(self, event: StoredEvent) -> None:
        self.last_sequence = event.sequence
        if event.command_id is not None:
            receipt = self.receipts.get(event.command_id)
            if receipt is None:
                self.receipts[event.command_id] = Receipt(event.sequence, event.sequence, event.thread_id, event.run_id)
            else:
                receipt.last = event.sequence
                receipt.thread_id = receipt.thread_id if receipt.thread_id is not None else event.thread_id
                receipt.run_id = receipt.run_id if receipt.run_id is not None else event.run_id
        target = SNAPSHOTS.get(event.type)
        if target is not None:
            collection, key = target
            entity_id = str(event.data[key])
            entities = self._entities[collection]
            previous = entities.get(entity_id)
            entity = entities[entity_id] = dict(event.data)
            indexes = self._indexes.get(collection)
            if indexes is None:
                return
            for index in indexes:
                index.add(entity_id, entity, previous)
            if collection == "runs":
                self._active.clear()
            elif collection == "turn_items":
                self._parts.pop(entity_id, None)  # the snapshot is the whole item
                ref = entity.get("native_ref", _MISSING)
                if type(entity[key]) is not str or "type" not in entity or not (ref is None or type(ref) is str):
                    # An id that is not its key, a ref that is missing or not a string, no type:
                    # no orchestrator writes that; such a log's lookups compare item by item.
                    self._irregular_items()
                elif previous is None:
                    native = self._native.get(str(entity.get("run_id")))
                    if native is not None:
                        self._note_native(native, entity_id, entity)
                elif previous.get("native_ref", _MISSING) != ref:
                    self._rebind_native(entity_id, previous, entity)
        elif event.type == "turn-item.delta":
            self._add_delta(event.data)
        elif event.type == "thread.rolled_back":
            runs = self._entities["runs"]
            for run_id in event.data.get("run_ids", []):
                run = runs.get(run_id)
                if run is not None:
                    runs[run_id] = {**run, "status": "rolled_back"}
                    self._active.clear()

    # -- streamed fragments ------------------------------------------------------------------

    def _add_delta(self, delta: dict[str, Any]) -> None:
        """Keep a fragment of an item's field, to be joined when the turn items are read.

        Folding it at once (``data[field] += delta`` on a copy of the item) would copy the whole
        text so far for every fragment: quadratic in the length of the stream.
        """
        item_id = str(delta.get("turn_item_id"))
        item = self._entities["turn_items"].get(item_id)
        if item is None:
            return
        field = str(delta.get("field", "text"))
        text = str(delta.get("delta", ""))
        data = item.get("data")
        if item["turn_item_id"] != item_id or not (data is None or isinstance(data, dict)):
            # A log no orchestrator writes (an id that is not its key, data that is not an
            # object): fold the fragment at once, exactly as it always was.
            self._join_parts()
            self._irregular_items()
            data = dict(data or {})
            data[field] = str(data.get(field) or "") + text
            self._entities["turn_items"][item["turn_item_id"]] = {**item, "data": data}
            return
        buffer = self._parts.setdefault(item_id, {}).get(field)
        if buffer is None:
            buffer = self._parts[item_id][field] = TextBuffer()
        buffer.append(text)

    def _join_parts(self) -> None:
        """Fold every pending fragment into its item: one join per item and field."""
        items = self._entities["turn_items"]
        for item_id, fields in self._parts.items():
            item = items[item_id]
            data = dict(item.get("data") or {})
            for field, parts in fields.items():
                data[field] = str(data.get(field) or "") + parts.text
            items[item_id] = {**item, "data": data}
        self._parts.clear()

    # -- queries -----------------------------------------------------------------------------

    def group(self, collection: str, **values: str) -> Iterator[dict[str, Any]]:
        """The entities of ``collection`` whose fields have ``values``, in first-seen order, each
        looked up when the iteration reaches it (as iterating the collection would).

        Indexed for the keys in :data:`GROUPS` (``group("runtime_requests", run_id=...)``,
        ``group("messages", thread_id=..., role=...)``, ...); any other filter scans.
        """
        entities = self._view[collection]
        ids = self._group_ids(collection, values)
        if ids is not None:
            return (entities[i] for i in ids)
        return (e for e in entities.values() if all(e[field] == value for field, value in values.items()))

    def count(self, collection: str, **values: str) -> int:
        """``len(group(collection, **values))``, without building the list."""
        ids = self._group_ids(collection, values)
        if ids is not None:
            return len(ids)
        entities = self._entities[collection]
        return sum(1 for e in entities.values() if all(e[field] == value for field, value in values.items()))

    def _group_ids(self, collection: str, values: dict[str, str]) -> list[str] | None:
        """The group's ids in first-seen order, or None when no regular index has that key."""
        fields = tuple(values)
        for index in self._indexes.get(collection, ()):
            if index.fields == fields and index.regular:
                key: GroupKey = values[fields[0]] if len(fields) == 1 else tuple(values.values())
                group = index.groups.get(key)
                return group.ids if group is not None else []
        return None

    def _ordered(self, index: _Index, collection: str, key: str) -> list[str]:
        """The ids of a group in ``ordinal`` order (equal ordinals in first-seen order)."""
        entities = self._entities[collection]
        if index.regular:
            group = index.groups.get(key)
            if group is None:
                return []
            if group.ordered:
                return group.ids
            members: Iterable[tuple[str, dict[str, Any]]] = ((i, entities[i]) for i in group.ids)
        else:
            members = ((i, e) for i, e in entities.items() if index.matches(e, key))
        return [i for i, _ in sorted(members, key=lambda member: member[1]["ordinal"])]

    def thread_runs(self, thread_id: str) -> list[dict[str, Any]]:
        runs = self._entities["runs"]
        return [runs[i] for i in self._ordered(self._run_index, "runs", thread_id)]

    def active_run(self, thread_id: str) -> dict[str, Any] | None:
        runs = self._entities["runs"]
        if thread_id in self._active:
            active = self._active[thread_id]
        else:
            active = None
            for run_id in self._ordered(self._run_index, "runs", thread_id):
                if runs[run_id]["status"] in ACTIVE_RUN_STATUSES:
                    active = run_id
                    break
            self._active[thread_id] = active
        return runs[active] if active is not None else None

    def run_items(self, run_id: str) -> list[dict[str, Any]]:
        items = self._view["turn_items"]
        return [items[i] for i in self._ordered(self._item_index, "turn_items", run_id)]

    def run_item_count(self, run_id: str) -> int:
        """``len(run_items(run_id))``, without building the list."""
        index = self._item_index
        if index.regular:
            group = index.groups.get(run_id)
            if group is None:
                return 0
            if group.ordered:
                return len(group.ids)
        return len(self.run_items(run_id))  # sorting may fail, as it always did

    def find_item_id(self, run_id: str, native_ref: str | None, item_type: str | None = None) -> str | None:
        """The id of the run's first item (in ``run_items`` order) whose ``native_ref`` is
        ``native_ref`` (and whose ``type`` is ``item_type``, if given), or None.

        Reads no text, so a stream's fragments stay pending.
        """
        index = self._item_index
        items = self._entities["turn_items"]
        if index.regular:
            group = index.groups.get(run_id)
            if group is None:
                return None
            if group.ordered:
                native = self._native.get(run_id)
                if native is None:
                    native = self._native[run_id] = {}
                    for item_id in group.ids:
                        self._note_native(native, item_id, items[item_id])
                if index.regular:
                    found = native.get(native_ref)
                    if not found:
                        return None
                    if item_type is None:
                        return found[0]
                    return next((i for i in found if items[i]["type"] == item_type), None)
        for item_id in self._ordered(index, "turn_items", run_id):
            item = items[item_id]
            if (item_type is None or item["type"] == item_type) and item["native_ref"] == native_ref:
                return item_id
        return None

    def _note_native(self, native: dict[str | None, list[str]], item_id: str, item: dict[str, Any]) -> None:
        ref = item.get("native_ref", _MISSING)
        if ref is None or type(ref) is str:
            ids = native.get(ref)
            if ids is None:
                native[ref] = [item_id]
            else:
                ids.append(item_id)
        else:
            self._irregular_items()  # missing or not a string: no orchestrator writes that

    def _rebind_native(self, item_id: str, previous: dict[str, Any], item: dict[str, Any]) -> None:
        """An item's ``native_ref`` changed (the runtime's echo of the app's user message)."""
        run_id = item.get("run_id")
        native = self._native.get(run_id) if type(run_id) is str else None
        if native is None:
            return
        old, new = previous.get("native_ref", _MISSING), item.get("native_ref", _MISSING)
        ids = native.get(old) if old is None or type(old) is str else None
        if ids is not None and item_id in ids and (new is None or type(new) is str) and new not in native:
            # The usual case: the only item with its new ref; the order of the old ref's items stays.
            ids.remove(item_id)
            if not ids:
                del native[old]
            native[new] = [item_id]
        else:
            self._native.pop(str(run_id), None)  # rebuilt in order when next asked for

    def _irregular_items(self) -> None:
        self._item_index.regular = False
        self._native.clear()

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


def fold_runtime(events: Iterable[StoredEvent]) -> Projection:
    projection = Projection()
    for event in events:
        projection.apply(event)
    return projection


def fold(events: Iterable[StoredEvent]) -> Projection:
    """Rebuild a projection from a stored event log (what a second orchestrator instance does)."""
    projection = Projection()
    for event in events:
        projection.apply(event)
    return projection
