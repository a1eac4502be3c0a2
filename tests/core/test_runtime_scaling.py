"""The runtime path costs the same per event however long the stream: proved by counting, not timing.

* A streamed fragment (``turn-item.delta``) is kept, not appended to a copy of the text so far;
  the text is joined once, when something reads the turn items, and the orchestrator's delta path
  reads none.
* ``thread_runs``, ``active_run`` and ``run_items`` sort nothing: runs and items are indexed in
  ordinal order as they are folded.
* The indexed projection is exactly the plain fold (:class:`PlainProjection`, the projection as it
  was before it was indexed), also for logs no orchestrator writes (ordinals that go down,
  entities that move, ids that are not strings): same collections, same query answers, same
  exceptions.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.adapters import get_runtime_adapter
from harness.core import projection as core_projection
from harness.core.events import StoredEvent
from harness.core.orchestrator import Orchestrator
from harness.core.projection import (
    ACTIVE_RUN_STATUSES,
    COLLECTIONS,
    SNAPSHOTS,
    Projection,
    fold_runtime,
)
from harness.replay import ReplayDriver
from harness.replay.driver import ReplayLink
from harness.scenario.model import load_scenario
from harness.scenario.runner import execute
from harness.transcript import read_transcript

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_SCENARIOS = sorted(
    [*(ROOT / "scenarios" / "t3code").glob("*/*.yaml"), *(ROOT / "scenarios" / "claude-cli").glob("*.yaml")]
)


# -- the plain fold: the oracle ------------------------------------------------------------------


class PlainProjection:
    """The runtime projection without indexes or pending fragments: every delta appended to a copy
    of the item, every query a filter and a sort of the whole collection."""

    def __init__(self) -> None:
        self.collections: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in COLLECTIONS}

    def apply(self, event: StoredEvent) -> None:
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

    def thread_runs(self, thread_id: str) -> list[dict[str, Any]]:
        runs = self.collections["runs"].values()
        return sorted((r for r in runs if r["thread_id"] == thread_id), key=lambda r: r["ordinal"])

    def active_run(self, thread_id: str) -> dict[str, Any] | None:
        return next((r for r in self.thread_runs(thread_id) if r["status"] in ACTIVE_RUN_STATUSES), None)

    def run_items(self, run_id: str) -> list[dict[str, Any]]:
        items = self.collections["turn_items"].values()
        return sorted((i for i in items if i["run_id"] == run_id), key=lambda i: i["ordinal"])

    def find_item(self, run_id: str, native_ref: Any, item_type: str | None = None) -> dict[str, Any] | None:
        for item in self.run_items(run_id):
            if (item_type is None or item["type"] == item_type) and item["native_ref"] == native_ref:
                return item
        return None

    def group(self, collection: str, **values: Any) -> list[dict[str, Any]]:
        entities = self.collections[collection].values()
        return [e for e in entities if all(e[field] == value for field, value in values.items())]

    def count(self, collection: str, **values: Any) -> int:
        return len(self.group(collection, **values))

    def to_json(self) -> dict[str, Any]:
        return {name: list(entities.values()) for name, entities in self.collections.items()}


def outcome(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """What a query answers, or the exception it raises (type and message)."""
    try:
        return ("ok", call(*args, **kwargs))
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))


def same(indexed: Callable[..., Any], plain: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    assert outcome(indexed, *args, **kwargs) == outcome(plain, *args, **kwargs), (indexed.__name__, args, kwargs)


def group_of(projection: Projection) -> Callable[..., list[dict[str, Any]]]:
    def group(collection: str, **values: Any) -> list[dict[str, Any]]:
        return list(projection.group(collection, **values))

    return group


def found(projection: Projection, run_id: str, native_ref: Any, item_type: str | None = None) -> Any:
    item_id = projection.find_item_id(run_id, native_ref, item_type)
    return None if item_id is None else projection.turn_items[item_id]


def assert_same_answers(plain: PlainProjection, indexed: Projection) -> None:
    """Every query of the indexed projection answers as the plain fold does (or raises the same)."""
    assert indexed.to_json() == plain.to_json()
    runs = plain.collections["runs"].values()
    for thread_id in sorted({*plain.collections["threads"], *(str(r.get("thread_id")) for r in runs)}):
        same(indexed.thread_runs, plain.thread_runs, thread_id)
        same(indexed.active_run, plain.active_run, thread_id)
        for collection in ("sessions", "provider_turns", "context_transfers"):
            key = "target_thread_id" if collection == "context_transfers" else "thread_id"
            same(group_of(indexed), plain.group, collection, **{key: thread_id})
            same(indexed.count, plain.count, collection, **{key: thread_id})
        same(group_of(indexed), plain.group, "messages", thread_id=thread_id, role="user")
        same(indexed.count, plain.count, "messages", thread_id=thread_id, role="user")
    items = plain.collections["turn_items"].values()
    refs = [None, "absent", *(i.get("native_ref") for i in items if isinstance(i.get("native_ref"), str))]
    for run_id in sorted({*plain.collections["runs"], *(str(i.get("run_id")) for i in items)}):
        same(indexed.run_items, plain.run_items, run_id)
        same(indexed.run_item_count, lambda r: len(plain.run_items(r)), run_id)
        same(group_of(indexed), plain.group, "runtime_requests", run_id=run_id)
        same(group_of(indexed), plain.group, "attempts", run_id=run_id)
        for ref in refs:
            same(lambda *a: found(indexed, *a), plain.find_item, run_id, ref)
        same(lambda *a: found(indexed, *a), plain.find_item, run_id, None, "user_message")


def stored(log: list[tuple[str, dict[str, Any]]]) -> list[StoredEvent]:
    return [
        StoredEvent(
            sequence=n,
            event_id=f"event:{n}",
            type=type_,
            thread_id=None,
            run_id=None,
            command_id=None,
            at_ms=n,
            data=data,
        )
        for n, (type_, data) in enumerate(log, start=1)
    ]


# -- the bundled scenarios -----------------------------------------------------------------------


@pytest.mark.parametrize("path", RUNTIME_SCENARIOS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_live_projection_is_the_plain_fold_of_its_log(path: Path) -> None:
    execution = execute(load_scenario(path))
    orchestrator = execution.orchestrator
    assert isinstance(orchestrator, Orchestrator)
    plain = PlainProjection()
    for event in execution.events:
        plain.apply(event)
    assert fold_runtime(execution.events).to_json() == orchestrator.projection.to_json()
    assert_same_answers(plain, orchestrator.projection)
    assert_same_answers(plain, fold_runtime(execution.events))
    for thread_id in plain.collections["threads"]:
        assert orchestrator.projection.visible_turn_items(thread_id) == fold_runtime(
            execution.events
        ).visible_turn_items(thread_id)


@pytest.mark.parametrize("path", RUNTIME_SCENARIOS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_an_orchestrator_log_keeps_every_query_on_its_index(path: Path) -> None:
    """No bundled scenario sends a query back to filtering and sorting a whole collection."""
    projection = fold_runtime(execute(load_scenario(path)).events)
    for collection, indexes in projection._indexes.items():
        for index in indexes:
            assert index.regular, (collection, index.fields)
            assert all(group.ordered for group in index.groups.values()), (collection, index.fields)


def test_every_collection_is_an_attribute() -> None:
    projection = Projection()
    for name in COLLECTIONS:
        assert getattr(projection, name) is projection.collections[name]
    with pytest.raises(AttributeError):
        _ = projection.tool_calls


# -- a long stream through the orchestrator -----------------------------------------------------

THREAD = "019e0000-0000-7000-8000-000000000002"
INIT = {
    "capabilities": {"experimentalApi": True},
    "clientInfo": {"name": "t3code_desktop", "title": "T3 Code Desktop", "version": "0.1.0"},
}


def _out(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": "expect_outbound", "frame": frame}


def _in(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": "emit_inbound", "frame": frame}


def _note(method: str, **params: Any) -> dict[str, Any]:
    return _in({"method": method, "params": {"threadId": THREAD, "turnId": "u1", **params}})


def stream(deltas: int, tools: int) -> list[dict[str, Any]]:
    """One Codex turn: ``tools`` command executions (each with an output delta), then an agent
    message streamed in ``deltas`` fragments."""
    turn = {"id": "u1", "items": [], "status": "inProgress", "error": None}
    entries = [
        _out({"id": 1, "method": "initialize", "params": INIT}),
        _in({"id": 1, "result": {"userAgent": "test"}}),
        _out({"method": "initialized"}),
        _out({"id": 2, "method": "thread/start", "params": {}}),
        _in({"id": 2, "result": {"thread": {"id": THREAD}}}),
        _out(
            {"id": 3, "method": "turn/start", "params": {"input": [{"text": "go", "type": "text"}], "threadId": THREAD}}
        ),
        _in({"id": 3, "result": {"turn": turn}}),
        _in({"method": "turn/started", "params": {"threadId": THREAD, "turn": turn}}),
    ]
    for n in range(tools):
        command = {"type": "commandExecution", "id": f"c{n}", "command": "ls", "cwd": "/", "status": "inProgress"}
        entries.append(_note("item/started", item=command))
        entries.append(_note("item/commandExecution/outputDelta", itemId=f"c{n}", delta=f"out {n}"))
        entries.append(_note("item/completed", item={**command, "aggregatedOutput": f"out {n}", "status": "completed"}))
    message = {"type": "agentMessage", "id": "m1", "text": "", "phase": "final_answer"}
    entries.append(_note("item/started", item=message))
    fragments = [f"w{n} " for n in range(deltas)]
    entries.extend(_note("item/agentMessage/delta", itemId="m1", delta=fragment) for fragment in fragments)
    entries.append(_note("item/completed", item={**message, "text": "".join(fragments)}))
    entries.append(
        _in({"method": "turn/completed", "params": {"threadId": THREAD, "turn": {**turn, "status": "completed"}}})
    )
    return entries


def replay(entries: list[dict[str, Any]]) -> Orchestrator:
    header = {
        "type": "transcript_start",
        "provider": "codex",
        "protocol": "codex.app-server",
        "version": "test",
        "scenario": "stream",
    }
    lines = [json.dumps(header), *(json.dumps(e) for e in [*entries, {"type": "runtime_exit", "status": "success"}])]
    driver = ReplayDriver(read_transcript(lines, path="stream.ndjson"))
    core = Orchestrator(adapter=get_runtime_adapter("codex.app-server"), link=ReplayLink(driver))
    core.dispatch({"type": "thread.create", "thread_id": "t"})
    core.dispatch({"type": "message.dispatch", "thread_id": "t", "text": "go"})
    driver.finish()
    assert driver.failure is None
    return core


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the projection's sorts and every read of its turn items (which joins pending text)."""
    counts = {"sorted": 0, "turn_items": 0}

    def counting_sorted(*args: Any, **kwargs: Any) -> list[Any]:
        counts["sorted"] += 1
        return sorted(*args, **kwargs)

    original = Projection.__dict__.get("turn_items")

    def turn_items(self: Projection) -> dict[str, dict[str, Any]]:
        counts["turn_items"] += 1
        return original.fget(self) if isinstance(original, property) else self.collections["turn_items"]

    monkeypatch.setattr(core_projection, "sorted", counting_sorted, raising=False)
    monkeypatch.setattr(Projection, "turn_items", property(turn_items), raising=False)
    return counts


def test_streaming_sorts_nothing_and_reads_no_text_per_fragment(counted: dict[str, int]) -> None:
    def costs(deltas: int, tools: int) -> tuple[int, int]:
        counted.update(sorted=0, turn_items=0)
        core = replay(stream(deltas, tools))
        assert core.projection.runs["t/run-1"]["status"] == "completed"
        return counted["sorted"], counted["turn_items"]

    few, many = costs(deltas=10, tools=2), costs(deltas=500, tools=2)
    assert few[0] == many[0] == 0, "a query sorted the runs or the items"
    assert few[1] == many[1], "the delta path read the turn items (joining the text so far)"
    # Item events read the turn items a fixed number of times each, however many items came before.
    per_tool = costs(deltas=10, tools=3)[1] - few[1]
    assert costs(deltas=10, tools=40)[1] - few[1] == 38 * per_tool


def test_a_long_stream_folds_to_the_joined_text() -> None:
    core = replay(stream(deltas=2000, tools=5))
    events = core.store.read()
    (message,) = [m for m in core.projection.messages.values() if m["role"] == "assistant"]
    assert message["text"] == "".join(f"w{n} " for n in range(2000))
    plain = PlainProjection()
    for event in events:
        plain.apply(event)
    assert fold_runtime(events).to_json() == core.projection.to_json() == plain.to_json()


def test_a_fragment_is_kept_until_the_items_are_read() -> None:
    item = {"turn_item_id": "r/item-1", "run_id": "r", "ordinal": 1, "native_ref": "m", "type": "x", "data": {}}
    projection = fold_runtime(stored([("turn-item.updated", item)]))
    before = projection._entities["turn_items"]["r/item-1"]
    for n in range(1000):
        projection.apply(stored([("turn-item.delta", {"turn_item_id": "r/item-1", "delta": f"{n},"})])[0])
        assert projection.find_item_id("r", "m") == "r/item-1"
    # No copy of the item (or of its text) per fragment: the stored snapshot is untouched until read.
    assert projection._entities["turn_items"]["r/item-1"] is before
    assert before["data"] == {}
    text = projection.turn_items["r/item-1"]["data"]["text"]
    assert text == "".join(f"{n}," for n in range(1000))
    assert projection.turn_items["r/item-1"]["data"]["text"] is text  # joined once


# -- logs no orchestrator writes ------------------------------------------------------------------


def random_log(rng: random.Random) -> Iterator[tuple[str, dict[str, Any]]]:
    """Snapshots, deltas and rollbacks; some logs as an orchestrator writes them (ordinals rising
    in creation order), others with the irregularities a hand-edited or foreign log may have."""
    runs, refs = ["a/r1", "a/r2", "b/r1"], ["n1", "n2", "n3", None]
    odd = rng.choice([0.0, 0.0, 0.01, 0.04])  # how often a value is one no orchestrator writes
    rising = rng.random() < 0.5  # ordinals in creation order, per thread and per run
    ordinals: dict[str, int] = {}

    def pick(values: list[Any], odd_values: list[Any]) -> Any:
        return rng.choice(odd_values) if rng.random() < odd else rng.choice(values)

    def ordinal(entity_id: str, group: str) -> Any:
        if rising and rng.random() >= odd:
            if entity_id not in ordinals:
                ordinals[entity_id] = 1 + sum(1 for key in ordinals if key.rsplit("/", 1)[0] == group)
            return ordinals[entity_id]
        return pick([1, 2, 3, 4], [None, "2", 2.5])

    for _ in range(rng.randrange(5, 60)):
        roll = rng.random()
        if roll < 0.15:
            run_id = pick(runs, ["a/r9"])
            thread_id = run_id.split("/")[0]
            data = {
                "run_id": run_id,
                "thread_id": pick([thread_id], [None, 7, "b"]),
                "ordinal": ordinal(run_id, thread_id),
            }
            data["status"] = rng.choice(["queued", "running", "completed", "waiting"])
            if rng.random() < odd:
                del data["thread_id"]
            yield ("run.updated", data)
        elif roll < 0.5:
            run_id = rng.choice(runs)
            item_id = f"{run_id}/item-{rng.randrange(1, 5)}"
            data = {
                "turn_item_id": pick([item_id], [7]),
                "run_id": pick([run_id], [None, 3, "b/r1"]),
                "ordinal": ordinal(item_id, run_id),
                "native_ref": pick(refs, [5, ["x"]]),
                "type": rng.choice(["user_message", "assistant_message"]),
                "data": pick([{}, {"text": "t"}, {"text": None, "k": 1}, None], [[], "text", 0]),
            }
            for key in ("native_ref", "ordinal", "data", "type"):
                if rng.random() < odd / 2:
                    del data[key]
            yield ("turn-item.updated", data)
        elif roll < 0.85:
            delta: dict[str, Any] = {
                "turn_item_id": pick([f"{rng.choice(runs)}/item-{rng.randrange(1, 5)}"], ["7", None]),
                "delta": pick(["x", "yz", ""], [3, None]),
            }
            if rng.random() < 0.5:
                delta["field"] = pick(["text", "output"], [None, 1])
            yield ("turn-item.delta", delta)
        elif roll < 0.9:
            yield ("thread.rolled_back", {"thread_id": "a", "run_ids": rng.sample(runs, 2)})
        else:
            type_, fields = rng.choice(
                [
                    ("message.updated", {"message_id": "m", "thread_id": "a", "role": "user"}),
                    ("provider-session.updated", {"provider_session_id": "s", "thread_id": "a", "status": "ready"}),
                    ("provider-turn.updated", {"provider_turn_id": "p", "thread_id": "a"}),
                    ("run-attempt.updated", {"attempt_id": "t", "run_id": "a/r1", "status": "running"}),
                    ("context-transfer.updated", {"context_transfer_id": "c", "target_thread_id": "a"}),
                    ("runtime-request.updated", {"runtime_request_id": "q", "run_id": "a/r1", "thread_id": "a"}),
                ]
            )
            data = {
                key: pick([value], [None, 1]) if key != "role" else rng.choice(["user", "assistant"])
                for key, value in fields.items()
            }
            first = next(iter(fields))
            data[first] = f"{fields[first]}{rng.randrange(3)}"
            for key in list(data)[1:]:
                if isinstance(data[key], str) and key.endswith("thread_id") and rng.random() < 0.3:
                    data[key] = "b"
                if rng.random() < odd / 2:
                    del data[key]
            yield (type_, data)


@pytest.mark.parametrize("seed", range(300))
def test_any_log_folds_and_answers_as_the_plain_fold(seed: int) -> None:
    rng = random.Random(seed)
    events = stored(list(random_log(rng)))
    plain, indexed = PlainProjection(), Projection()
    for event in events:
        same(indexed.apply, plain.apply, event)
        if rng.random() < 0.2:  # queries in between, as an orchestrator makes them
            assert_same_answers(plain, indexed)
    assert_same_answers(plain, indexed)
