"""The shipped event-store conformance tests, run against the in-memory store."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.events import EventRecord, NewEvent
from harness.core.store import EventStore, FileEventStore, InMemoryEventStore
from harness.testing import EventStoreContract


class TestInMemoryEventStore(EventStoreContract):
    def make_store(self) -> EventStore:
        return InMemoryEventStore()


class TestFileEventStore(EventStoreContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path
        self.made = 0

    def make_store(self) -> EventStore:
        self.made += 1
        return FileEventStore(self.directory / f"events-{self.made}.ndjson")


def test_a_file_store_writes_the_event_log_format_and_streams_it_back(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    store = FileEventStore(path)
    store.append([NewEvent("thread.created", {"thread_id": "t"}, thread_id="t")])
    store.append([NewEvent("message.updated", {"n": n}, thread_id="t", at_ms=n) for n in range(3)])
    events = store.iter_events(after=1)
    assert next(events).data == {"n": 0}
    store.close()
    lines = path.read_bytes().splitlines()
    assert [EventRecord.model_validate_json(line).to_event() for line in lines] == store.read()


def test_a_file_store_refuses_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "events.ndjson").write_text("mine\n")
    with pytest.raises(FileExistsError):
        FileEventStore(tmp_path / "events.ndjson")
    assert (tmp_path / "events.ndjson").read_text() == "mine\n"


def test_a_file_store_append_that_is_not_json_stores_nothing(tmp_path: Path) -> None:
    store = FileEventStore(tmp_path / "events.ndjson")
    store.append([NewEvent("thread.created", {"thread_id": "t"}, thread_id="t")])
    with pytest.raises(TypeError):
        store.append([NewEvent("message.updated", {"n": 1}), NewEvent("message.updated", {"bad": object()})])
    assert store.last_sequence == 1
    assert [e.sequence for e in store.read()] == [1]


def test_an_orchestrator_on_a_spilling_store_keeps_no_command_events(tmp_path: Path) -> None:
    from harness.core.commands import ThreadCreate
    from harness.scenario import execute, load_scenario

    root = Path(__file__).resolve().parents[2]
    scenario = load_scenario(root / "scenarios/anthropic/tool_loop_two_requests.yaml")
    kept = execute(scenario)
    in_memory = kept.events
    execution = execute(scenario, store=FileEventStore(tmp_path / "events.ndjson"))
    assert execution.stored is None
    assert list(execution.iter_events()) == in_memory
    orchestrator = execution.orchestrator
    receipts = list(orchestrator.projection.receipts)
    assert receipts == list(kept.orchestrator.projection.receipts)
    assert len(receipts) == len(scenario.commands) == 2
    # A repeated command is answered from its receipt: with the log in memory, with the events the
    # command stored; with the log spilled to disk, with none held in memory.
    for command_id in receipts:
        remembered = kept.orchestrator.dispatch(ThreadCreate(thread_id="other", command_id=command_id))
        assert remembered.replayed
        assert remembered.events == [e for e in in_memory if e.command_id == command_id]
        again = orchestrator.dispatch(ThreadCreate(thread_id="other", command_id=command_id))
        assert again.replayed
        assert again.events == []
    # A new command's result holds no events either; the store has them.
    before = orchestrator.store.last_sequence
    created = orchestrator.dispatch(ThreadCreate(thread_id="thread-2"))
    assert not created.replayed and created.events == []
    stored = list(orchestrator.store.iter_events(after=before))
    assert stored and {e.command_id for e in stored} == {created.command_id}
    assert "thread-2" in orchestrator.projection.threads
