"""The durable SQLite event store: the shipped contract, and continuity across instances."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.core.events import NewEvent
from harness.core.projection import fold
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


def commits_during(store: SqliteEventStore, action: Callable[[], object]) -> int:
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    try:
        action()
    finally:
        store._db.set_trace_callback(None)
    return sum(1 for s in statements if s.strip().upper() == "COMMIT")


def test_a_command_commits_its_events_once_not_once_per_event(tmp_path: Path) -> None:
    from harness.scenario import execute, load_scenario

    scenario = load_scenario(Path(__file__).resolve().parents[2] / "scenarios/anthropic/tool_loop_two_requests.yaml")
    store = SqliteEventStore(tmp_path / "events.sqlite")
    commits = commits_during(store, lambda: execute(scenario, store=store))
    commands = len(scenario.commands) or 2  # the implied thread.create + message.dispatch
    assert store.last_sequence > 10 * commands
    assert commits == commands


def test_appends_inside_a_batch_commit_together_and_keep_a_contiguous_sequence(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    store = SqliteEventStore(path)
    with store.batch():
        store.append([created("a")])
        with store.batch():  # nested: joins the outer batch
            store.append([created("b"), created("c")])
        assert store.last_sequence == 3
        assert SqliteEventStore(path).read() == []  # not committed yet: another reader sees nothing
    assert [(e.sequence, e.thread_id) for e in SqliteEventStore(path).read()] == [(1, "a"), (2, "b"), (3, "c")]


def test_an_exception_in_a_batch_keeps_the_appends_that_completed(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    store = SqliteEventStore(path)
    with pytest.raises(RuntimeError), store.batch():
        store.append([created("a")])
        store.append([created("b")])
        raise RuntimeError("the run failed after storing its terminal event")
    assert [e.thread_id for e in SqliteEventStore(path).read()] == ["a", "b"]


def test_a_failed_append_inside_a_batch_stores_nothing_of_that_append(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    store = SqliteEventStore(path)
    with store.batch():
        store.append([created("a")])
        with pytest.raises(TypeError):
            store.append([created("b"), NewEvent("message.added", {"bad": object()}, thread_id="b")])
        (event,) = store.append([created("c")])
        assert event.sequence == 2
    assert [(e.sequence, e.thread_id) for e in SqliteEventStore(path).read()] == [(1, "a"), (2, "c")]


def test_a_file_store_uses_the_write_ahead_log(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.sqlite")
    (mode,) = store._db.execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_iter_events_streams_the_log_in_order(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.sqlite")
    store.append([created(str(n)) for n in range(3000)])
    events = store.iter_events(after=1000)
    assert next(events).sequence == 1001
    assert [e.sequence for e in events] == list(range(1002, 3001))


def test_an_agent_runtime_replay_commits_once_per_command_and_restart(tmp_path: Path) -> None:
    from harness.scenario import execute, load_scenario
    from harness.scenario.model import OrchestratorRestart

    root = Path(__file__).resolve().parents[2]
    scenario = load_scenario(root / "scenarios/t3code/codex/provider_thread_resume.yaml")
    store = SqliteEventStore(tmp_path / "events.sqlite")
    commits = commits_during(store, lambda: execute(scenario, store=store))
    assert any(isinstance(step, OrchestratorRestart) for step in scenario.commands)
    assert store.last_sequence > 3 * len(scenario.commands)
    assert commits == len(scenario.commands)  # each command, and each restart's catch-up, commits once
