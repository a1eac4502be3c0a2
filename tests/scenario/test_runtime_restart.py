"""An orchestrator restart over one durable store: the Codex provider-thread resume scenario.

``scenarios/t3code/codex/provider_thread_resume.yaml`` runs one turn, restarts the orchestrator
and runs a second turn, which the fresh adapter must send as ``initialize`` + ``thread/resume``
of the provider thread the first instance started. These tests replay it through the runner and
by hand, reopening the SQLite file in between, so that nothing survives the restart but the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.adapters import get_runtime_adapter
from harness.core.commands import MessageDispatch, ThreadCreate
from harness.core.events import StoredEvent
from harness.core.orchestrator import CommandResult, Orchestrator
from harness.core.sqlite_store import SqliteEventStore
from harness.replay import FrameMatcher, LogicalClock, ReplayDriver
from harness.replay.driver import ReplayLink
from harness.scenario import load_scenario, run_scenario
from harness.scenario.model import OrchestratorRestart, Scenario
from harness.scenario.runner import execute
from harness.transcript import EmitInbound, ExpectOutbound, RuntimeExit, Transcript, read_transcript

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios/t3code/codex/provider_thread_resume.yaml"
GOLDENS = ROOT / "fixtures/goldens"
PROTOCOL = "codex.app-server"


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(SCENARIO)


@pytest.fixture(scope="module")
def transcript(scenario: Scenario) -> Transcript:
    return read_transcript(scenario.transcript_path())


def _steps(scenario: Scenario) -> tuple[ThreadCreate, MessageDispatch, MessageDispatch]:
    """The scenario's commands: create, first message, restart, second message."""
    create, first, restart, second = scenario.commands
    assert isinstance(create, ThreadCreate)
    assert isinstance(first, MessageDispatch)
    assert isinstance(restart, OrchestratorRestart)
    assert isinstance(second, MessageDispatch)
    return create, first, second


def _native_thread_id(transcript: Transcript) -> str:
    """The provider thread id the recorded ``thread/start`` returned."""
    start = next(
        e for e in transcript.entries if isinstance(e, ExpectOutbound) and e.frame.get("method") == "thread/start"
    )
    response = next(
        e
        for e in transcript.entries
        if isinstance(e, EmitInbound) and e.frame.get("id") == start.frame["id"] and "result" in e.frame
    )
    native = response.frame["result"]["thread"]["id"]
    assert isinstance(native, str)
    return native


def _final_agent_text(transcript: Transcript) -> str:
    """The text of the last completed ``agentMessage`` item in the recording."""
    texts = [
        e.frame["params"]["item"]["text"]
        for e in transcript.entries
        if isinstance(e, EmitInbound)
        and e.frame.get("method") == "item/completed"
        and e.frame["params"]["item"].get("type") == "agentMessage"
    ]
    assert len(texts) == 2, "one final answer per turn"
    return str(texts[-1])


def _sent_methods(driver: ReplayDriver) -> list[Any]:
    return [frame.get("method") for frame in driver.sent]


def _assert_gapless(events: list[StoredEvent]) -> None:
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert len({e.event_id for e in events}) == len(events)


# -- through the runner --------------------------------------------------------------------------


def test_the_runner_replays_the_restart_in_two_instances_with_one_gapless_log(scenario: Scenario) -> None:
    execution = execute(scenario)
    assert execution.instances == 2
    assert execution.driver.failure is None
    assert execution.driver.remaining == 0
    assert execution.stored is not None  # read back from the SQLite file before it was closed
    _assert_gapless(execution.events)
    assert [r["status"] for r in execution.runs] == ["completed", "completed"]


def test_a_given_sqlite_store_holds_the_whole_log_after_the_restart(scenario: Scenario, tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    store = SqliteEventStore(path)
    execution = execute(scenario, store=store)
    assert execution.instances == 2
    assert execution.driver.failure is None
    # With a store given, the runner hands the same store object to the second instance.
    assert execution.orchestrator.store is store
    store.close()
    reopened = SqliteEventStore(path)
    try:
        on_disk = reopened.read()
    finally:
        reopened.close()
    _assert_gapless(on_disk)
    assert on_disk == execution.events


# -- by hand: phase 1, close the file, phase 2 on new store, orchestrator and adapter ----------


@dataclass
class PhaseOne:
    driver: ReplayDriver
    clock: LogicalClock
    events: list[StoredEvent]
    first_result: CommandResult
    second: MessageDispatch


def _run_phase_one(scenario: Scenario, transcript: Transcript, path: Path) -> PhaseOne:
    create, first, second = _steps(scenario)
    clock = LogicalClock()
    matcher = FrameMatcher.from_paths(scenario.match.ignore, handoff_summaries=True)
    driver = ReplayDriver(transcript, matcher=matcher, clock=clock)
    store = SqliteEventStore(path)
    orchestrator = Orchestrator(
        adapter=get_runtime_adapter(PROTOCOL), link=ReplayLink(driver), store=store, clock=clock
    )
    orchestrator.dispatch(create.model_copy(update={"command_id": "create-main"}))
    first_result = orchestrator.dispatch(first.model_copy(update={"command_id": "first-message"}))
    assert driver.failure is None
    # Phase 1 ends with the recorded process exit; the transcript now waits for the app to send
    # the second process's initialize.
    assert isinstance(driver.runtime_exit, RuntimeExit)
    following = transcript.entries[driver.cursor]
    assert isinstance(following, ExpectOutbound) and following.label == "initialize"
    events = store.read()
    store.close()
    return PhaseOne(
        driver=driver,
        clock=clock,
        events=events,
        first_result=first_result,
        second=second,
    )


def _restart(phase: PhaseOne, path: Path) -> tuple[Orchestrator, SqliteEventStore]:
    store = SqliteEventStore(path)
    orchestrator = Orchestrator(
        adapter=get_runtime_adapter(PROTOCOL), link=ReplayLink(phase.driver), store=store, clock=phase.clock
    )
    orchestrator.pump()
    return orchestrator, store


def test_a_second_instance_rebuilds_from_the_file_and_resumes_the_provider_thread(
    scenario: Scenario, transcript: Transcript, tmp_path: Path
) -> None:
    path = tmp_path / "events.sqlite"
    phase = _run_phase_one(scenario, transcript, path)
    _assert_gapless(phase.events)
    sent_in_phase_one = len(phase.driver.sent)

    orchestrator, store = _restart(phase, path)
    projection = orchestrator.projection
    assert list(projection.threads) == ["main"]
    assert [(r["run_id"], r["status"]) for r in projection.runs.values()] == [("main/run-1", "completed")]
    provider_thread = projection.provider_threads["main/provider-thread"]
    assert provider_thread["native_ref"] == _native_thread_id(transcript)

    result = orchestrator.dispatch(phase.second)
    assert phase.driver.failure is None
    assert result.events[0].sequence == phase.events[-1].sequence + 1
    # The fresh adapter opened a new session and resumed the thread the first instance started.
    assert _sent_methods(phase.driver)[sent_in_phase_one:] == [
        "initialize",
        "initialized",
        "thread/resume",
        "turn/start",
    ]
    assert phase.driver.sent[sent_in_phase_one + 2]["params"] == {"threadId": _native_thread_id(transcript)}
    phase.driver.finish()  # every recorded entry, the second initialize and thread/resume included, was used
    assert phase.driver.remaining == 0

    final = orchestrator.projection
    assert [r["status"] for r in final.runs.values()] == ["completed", "completed"]
    replies = [m["text"] for m in final.messages.values() if m["run_id"] == "main/run-2" and m["role"] == "assistant"]
    assert replies and _final_agent_text(transcript) in replies[-1]
    store.close()

    third = SqliteEventStore(path)
    try:
        whole = third.read()
    finally:
        third.close()
    _assert_gapless(whole)
    assert whole[: len(phase.events)] == phase.events
    assert whole[len(phase.events)].sequence == phase.events[-1].sequence + 1


def test_a_repeated_command_id_after_the_restart_returns_the_durable_receipt(
    scenario: Scenario, transcript: Transcript, tmp_path: Path
) -> None:
    path = tmp_path / "events.sqlite"
    phase = _run_phase_one(scenario, transcript, path)
    orchestrator, store = _restart(phase, path)
    last = store.last_sequence
    cursor = phase.driver.cursor
    sent = len(phase.driver.sent)

    again = orchestrator.dispatch(phase.second.model_copy(update={"command_id": "first-message"}))
    assert again.replayed is True
    assert [e.sequence for e in again.events] == [e.sequence for e in phase.first_result.events]
    assert again.events[0].type == "command.accepted"
    # Nothing stored, nothing sent, nothing read.
    assert store.last_sequence == last
    assert (phase.driver.cursor, len(phase.driver.sent)) == (cursor, sent)

    # The instance is still usable: the real second message replays to the end.
    orchestrator.dispatch(phase.second)
    phase.driver.finish()
    assert [r["status"] for r in orchestrator.projection.runs.values()] == ["completed", "completed"]
    store.close()


def test_without_the_restart_step_the_same_adapter_reinitializes_after_the_exit(scenario: Scenario) -> None:
    """The restart is not what makes the second ``initialize`` happen: the recorded
    ``runtime_exit`` ends the app-server process, and the adapter (restarted or not) starts a new
    session and resumes the thread for the next turn. So dropping the step still replays cleanly,
    with the same events; only the logical clock (one step fewer) moves the golden's ``at_ms``."""
    without = scenario.model_copy(
        update={"commands": [s for s in scenario.commands if not isinstance(s, OrchestratorRestart)]}
    )
    result = run_scenario(without, goldens_dir=GOLDENS)
    execution = result.execution
    assert execution.instances == 1
    assert execution.driver.failure is None
    assert execution.driver.remaining == 0
    assert _sent_methods(execution.driver).count("initialize") == 2
    assert _sent_methods(execution.driver).count("thread/resume") == 1

    restarted = execute(scenario)
    assert [(e.type, e.data) for e in execution.events] == [(e.type, e.data) for e in restarted.events]
    (failure,) = result.failures
    assert failure.kind == "golden"
    # The first event the missing step moves is the second message's receipt.
    assert re.search(
        r"first divergence at event index \d+ \(command\.accepted\), \$\.at_ms: expected 4, found 3", failure.message
    )


def test_a_replayed_receipt_names_the_thread_and_run_of_the_first_result(
    scenario: Scenario, transcript: Transcript, tmp_path: Path
) -> None:
    path = tmp_path / "events.sqlite"
    phase = _run_phase_one(scenario, transcript, path)
    orchestrator, store = _restart(phase, path)
    first = phase.first_result
    assert (first.thread_id, first.run_id) == ("main", "main/run-1")
    again = orchestrator.dispatch(phase.second.model_copy(update={"command_id": "first-message"}))
    store.close()
    assert again.replayed is True
    assert (again.command_id, again.thread_id, again.run_id) == (first.command_id, first.thread_id, first.run_id)
