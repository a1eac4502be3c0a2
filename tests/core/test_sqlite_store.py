"""The durable SQLite event store: the shipped contract, and continuity across instances."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.events import NewEvent
from harness.core.projections import fold
from harness.core.sqlite_store import SqliteEventStore
from harness.core.store import EventStore
from harness.testing import EventStoreContract


class TestSqliteEventStore(EventStoreContract):
    def make_store(self) -> EventStore:
        return SqliteEventStore(":memory:")


def created(thread: str) -> NewEvent:
    return NewEvent("thread.created", {"thread_id": thread, "title": None, "protocol": "p"}, thread_id=thread)


def test_a_second_instance_continues_the_sequence_with_no_gap_or_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    first = SqliteEventStore(path)
    first.append([created("a"), created("b")])
    first.close()
    second = SqliteEventStore(path)
    (event,) = second.append([created("c")])
    assert event.sequence == 3
    assert [e.sequence for e in second.read()] == [1, 2, 3]
    assert sorted(fold(second.read()).threads) == ["a", "b", "c"]


def test_two_open_instances_never_number_one_event_twice(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    left, right = SqliteEventStore(path), SqliteEventStore(path)
    left.append([created("a")])
    right.append([created("b")])
    left.append([created("c")])
    assert [(e.sequence, e.thread_id) for e in right.read()] == [(1, "a"), (2, "b"), (3, "c")]


def test_a_failed_append_stores_nothing(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.sqlite")
    store.append([created("a")])
    with pytest.raises(TypeError):
        store.append([created("b"), NewEvent("message.added", {"bad": object()}, thread_id="b")])
    assert store.last_sequence == 1


def test_a_replay_over_sqlite_stores_exactly_what_the_in_memory_store_holds(tmp_path: Path) -> None:
    from harness.scenario import execute, load_scenario

    scenario = load_scenario(Path(__file__).resolve().parents[2] / "scenarios/anthropic/tool_loop_two_requests.yaml")
    in_memory = execute(scenario).events
    durable = execute(scenario, store=SqliteEventStore(tmp_path / "events.sqlite")).events
    assert durable == in_memory
    assert SqliteEventStore(tmp_path / "events.sqlite").read() == in_memory
