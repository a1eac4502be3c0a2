"""The orchestrator driving an agent runtime: dispatch modes, interrupts, approvals, forks,
rollback, receipts; and what an HTTP model API, which has none of these, refuses.

Transcripts here are small hand-built Codex app-server exchanges (the real recordings are
replayed by the bundled scenarios); each builds exactly the situation its test needs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.adapters import get_runtime_adapter
from harness.core.commands import ThreadCreate
from harness.core.invariants import check_invariants
from harness.core.orchestrator import Orchestrator
from harness.errors import UsageError
from harness.replay import ReplayDriver
from harness.replay.driver import ReplayLink
from harness.transcript import read_transcript

THREAD = "019e0000-0000-7000-8000-000000000001"
INIT = {
    "capabilities": {"experimentalApi": True},
    "clientInfo": {"name": "t3code_desktop", "title": "T3 Code Desktop", "version": "0.1.0"},
}


def out(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": "expect_outbound", "frame": frame}


def inn(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": "emit_inbound", "frame": frame}


def turn(turn_id: str, status: str = "inProgress") -> dict[str, Any]:
    return {"id": turn_id, "items": [], "status": status, "error": None}


def handshake() -> list[dict[str, Any]]:
    return [
        out({"id": 1, "method": "initialize", "params": INIT}),
        inn({"id": 1, "result": {"userAgent": "test"}}),
        out({"method": "initialized"}),
        out({"id": 2, "method": "thread/start", "params": {}}),
        inn({"id": 2, "result": {"thread": {"id": THREAD}}}),
    ]


def turn_start(request_id: int, text: str) -> dict[str, Any]:
    return out(
        {
            "id": request_id,
            "method": "turn/start",
            "params": {"input": [{"text": text, "type": "text"}], "threadId": THREAD},
        }
    )


def started(request_id: int, turn_id: str) -> list[dict[str, Any]]:
    return [
        inn({"id": request_id, "result": {"turn": turn(turn_id)}}),
        inn({"method": "turn/started", "params": {"threadId": THREAD, "turn": turn(turn_id)}}),
    ]


def answer(turn_id: str, item_id: str, text: str) -> list[dict[str, Any]]:
    item = {"type": "agentMessage", "id": item_id, "text": text, "phase": "final_answer", "memoryCitation": None}
    return [inn({"method": "item/completed", "params": {"item": item, "threadId": THREAD, "turnId": turn_id}})]


def completed(turn_id: str, status: str = "completed") -> dict[str, Any]:
    return inn({"method": "turn/completed", "params": {"threadId": THREAD, "turn": turn(turn_id, status)}})


def orchestrator(entries: list[dict[str, Any]]) -> tuple[Orchestrator, ReplayDriver]:
    header = {
        "type": "transcript_start",
        "provider": "codex",
        "protocol": "codex.app-server",
        "version": "test",
        "scenario": "test",
    }
    lines = [json.dumps(header), *(json.dumps(e) for e in [*entries, {"type": "runtime_exit", "status": "success"}])]
    driver = ReplayDriver(read_transcript(lines, path="test.ndjson"))
    core = Orchestrator(adapter=get_runtime_adapter("codex.app-server"), link=ReplayLink(driver))
    core.dispatch({"type": "thread.create", "thread_id": "t"})
    return core, driver


def statuses(core: Orchestrator, collection: str) -> list[str]:
    return [e["status"] for e in core.projection.collections[collection].values()]


def item_types(core: Orchestrator, run_id: str) -> list[str]:
    return [i["type"] for i in core.projection.run_items(run_id)]


def assert_clean(core: Orchestrator, driver: ReplayDriver) -> None:
    driver.finish()
    assert driver.failure is None
    assert check_invariants(core.store.read()) == []


def test_a_queued_message_starts_when_the_active_run_ends() -> None:
    approval = {
        "method": "item/commandExecution/requestApproval",
        "id": 0,
        "params": {"threadId": THREAD, "turnId": "u1", "itemId": "c1", "reason": "write?", "command": "x"},
    }
    core, driver = orchestrator(
        [
            *handshake(),
            turn_start(3, "first"),
            *started(3, "u1"),
            inn(approval),
            out({"id": 0, "result": {"decision": "accept"}}),
            *answer("u1", "m1", "one"),
            completed("u1"),
            turn_start(4, "second"),
            *started(4, "u2"),
            *answer("u2", "m2", "two"),
            completed("u2"),
        ]
    )
    core.dispatch({"type": "message.dispatch", "text": "first"})
    queued = core.dispatch({"type": "message.dispatch", "text": "second", "mode": "queue_after_active"})
    assert core.projection.runs[queued.run_id or ""]["status"] == "queued"
    assert core.projection.runs["t/run-1"]["status"] == "waiting"
    core.dispatch({"type": "runtime-request.respond", "decision": "accept"})
    assert statuses(core, "runs") == ["completed", "completed"]
    assert item_types(core, "t/run-2") == ["user_message", "assistant_message"]
    assert core.projection.run_items("t/run-2")[0]["data"]["input_intent"] == "queued_turn"
    assert_clean(core, driver)


def test_restart_active_interrupts_and_runs_a_second_attempt_of_the_same_run() -> None:
    core, driver = orchestrator(
        [
            *handshake(),
            turn_start(3, "first"),
            *started(3, "u1"),
            out({"id": 4, "method": "turn/interrupt", "params": {"threadId": THREAD, "turnId": "u1"}}),
            inn({"id": 4, "result": {}}),
            completed("u1", "interrupted"),
            turn_start(5, "instead"),
            *started(5, "u2"),
            *answer("u2", "m2", "done"),
            completed("u2"),
        ]
    )
    core.dispatch({"type": "message.dispatch", "text": "first"})
    core.dispatch({"type": "message.dispatch", "text": "instead", "mode": "restart_active"})
    assert statuses(core, "runs") == ["completed"]
    assert statuses(core, "attempts") == ["superseded", "completed"]
    assert [a["reason"] for a in core.projection.attempts.values()] == ["initial", "steering_restart"]
    roots = [n for n in core.projection.nodes.values() if n["kind"] == "root_turn"]
    assert [n["status"] for n in roots] == ["interrupted", "completed"]
    assert item_types(core, "t/run-1") == ["user_message", "user_message", "assistant_message"]
    assert_clean(core, driver)


def test_an_interrupt_only_acknowledges_until_the_runtime_ends_the_turn() -> None:
    core, _driver = orchestrator(
        [
            *handshake(),
            turn_start(3, "first"),
            *started(3, "u1"),
            out({"id": 4, "method": "turn/interrupt", "params": {"threadId": THREAD, "turnId": "u1"}}),
            inn({"id": 4, "result": {}}),
            turn_start(5, "the app speaks before the runtime ended the turn"),
        ]
    )
    core.dispatch({"type": "message.dispatch", "text": "first"})
    core.dispatch({"type": "run.interrupt"})
    run = core.projection.runs["t/run-1"]
    assert (run["status"], run["interrupt_requested"]) == ("running", True)
    assert item_types(core, "t/run-1") == ["user_message", "run_interrupt_request"]


def test_a_repeated_command_id_returns_the_first_result_and_stores_nothing() -> None:
    core, _ = orchestrator([*handshake(), turn_start(3, "first"), *started(3, "u1"), completed("u1")])
    first = core.dispatch({"type": "message.dispatch", "text": "first", "command_id": "c-1"})
    before = core.store.last_sequence
    again = core.dispatch({"type": "message.dispatch", "text": "first", "command_id": "c-1"})
    assert (again.replayed, again.command_id, core.store.last_sequence) == (True, "c-1", before)
    assert [e.sequence for e in again.events] == [e.sequence for e in first.events]


def test_rollback_marks_the_last_runs_rolled_back_and_hides_them_from_the_timeline() -> None:
    core, driver = orchestrator(
        [
            *handshake(),
            turn_start(3, "a"),
            *started(3, "u1"),
            *answer("u1", "m1", "A"),
            completed("u1"),
            turn_start(4, "b"),
            *started(4, "u2"),
            *answer("u2", "m2", "B"),
            completed("u2"),
            out({"id": 5, "method": "thread/rollback", "params": {"threadId": THREAD, "numTurns": 1}}),
            inn({"id": 5, "result": {"thread": {"id": THREAD}}}),
        ]
    )
    core.dispatch({"type": "message.dispatch", "text": "a"})
    core.dispatch({"type": "message.dispatch", "text": "b"})
    core.dispatch({"type": "thread.rollback"})
    assert statuses(core, "runs") == ["completed", "rolled_back"]
    visible = [e["item"]["run_id"] for e in core.projection.visible_turn_items("t")]
    assert set(visible) == {"t/run-1"}
    assert_clean(core, driver)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ({"type": "message.dispatch", "text": "x", "mode": "steer_active"}, "needs an active run"),
        ({"type": "run.interrupt"}, "has no active run"),
        ({"type": "runtime-request.respond", "decision": "accept"}, "has 0 pending requests"),
        ({"type": "thread.fork", "source_thread_id": "t", "target_thread_id": "f"}, "no finished run to fork"),
        ({"type": "thread.rollback", "runs": 2}, "cannot roll back 2"),
        ({"type": "thread.merge_back", "source_thread_id": "t", "target_thread_id": "t"}, "is not a fork of 't'"),
        ({"type": "message.dispatch", "thread_id": "nope", "text": "x"}, "no thread 'nope'"),
        ({"type": "thread.create", "thread_id": "t"}, "already exists"),
        ({"type": "thread.create", "thread_id": "a/b"}, "may not contain '/'"),
        ({"type": "runtime-request.respond", "decision": "accept", "answers": {"q": ["a"]}}, "exactly one of"),
        ({"type": "message.dispatch", "text": "x", "recover": ["e"]}, "are for HTTP model APIs"),
    ],
)
def test_a_command_that_cannot_apply_says_why(command: dict[str, Any], message: str) -> None:
    core, _ = orchestrator([*handshake()])
    with pytest.raises(UsageError, match=message):
        core.dispatch(command)


def test_start_immediately_on_a_busy_thread_names_the_modes_that_would_work() -> None:
    core, _ = orchestrator(
        [
            *handshake(),
            turn_start(3, "first"),
            *started(3, "u1"),
            out({"id": 4, "method": "turn/interrupt", "params": {"threadId": THREAD}}),
        ]
    )
    core.dispatch({"type": "message.dispatch", "text": "first"})
    with pytest.raises(UsageError, match="queue_after_active, steer_active or restart_active"):
        core.dispatch({"type": "message.dispatch", "text": "second"})


def http_orchestrator() -> Orchestrator:
    """The core over an HTTP model API (Anthropic Messages) with an empty stream-only transcript."""
    from harness.adapters import get_adapter
    from harness.adapters.http_runtime import HttpRuntime
    from harness.core.tools import ScenarioTools

    header = {
        "type": "transcript_start",
        "provider": "anthropic",
        "protocol": "anthropic.messages",
        "version": "test",
        "scenario": "test",
    }
    driver = ReplayDriver(read_transcript([json.dumps(header)], path="test.ndjson"))
    runtime = HttpRuntime(get_adapter("anthropic.messages"), tools=ScenarioTools({}))
    return Orchestrator(adapter=runtime, link=ReplayLink(driver))


def test_an_http_model_api_refuses_runtime_settings() -> None:
    http = http_orchestrator()
    with pytest.raises(UsageError, match="runtime settings are for agent runtimes"):
        http.dispatch(ThreadCreate(thread_id="t", runtime={"model": "m"}))  # type: ignore[arg-type]
    assert http.store.last_sequence == 0


def test_an_http_model_api_refuses_the_modes_that_need_an_active_run() -> None:
    http = http_orchestrator()
    http.dispatch(ThreadCreate(thread_id="t"))
    assert http.projection.threads["t"]["runtime"] == {}
    stored = http.store.last_sequence
    # An HTTP run finishes within its dispatch: there is never an active run to steer, restart or
    # interrupt.
    for mode in ("steer_active", "restart_active"):
        with pytest.raises(UsageError, match=f"{mode} needs an active run"):
            http.dispatch({"type": "message.dispatch", "text": "x", "mode": mode})
    with pytest.raises(
        UsageError, match=r"run\.interrupt: anthropic\.messages is an HTTP model API; .*never an active run"
    ):
        http.dispatch({"type": "run.interrupt"})
    assert http.store.last_sequence == stored


def test_an_unknown_notification_is_counted_in_the_event_log() -> None:
    core, _ = orchestrator(
        [
            *handshake(),
            turn_start(3, "first"),
            *started(3, "u1"),
            inn({"method": "brandNew/thing", "params": {"threadId": THREAD}}),
            completed("u1"),
        ]
    )
    core.dispatch({"type": "message.dispatch", "text": "first"})
    unknown = [e for e in core.store.read() if e.type == "provider.frame.unrecognized"]
    assert len(unknown) == 1
    assert "brandNew/thing" in unknown[0].data["reason"]


def test_a_refused_command_leaves_no_receipt_and_its_id_stays_free() -> None:
    core, _ = orchestrator([*handshake(), turn_start(3, "first"), *started(3, "u1"), completed("u1")])
    before = core.store.last_sequence
    with pytest.raises(UsageError, match="needs an active run"):
        core.dispatch({"type": "message.dispatch", "text": "first", "mode": "steer_active", "command_id": "c-1"})
    assert core.store.last_sequence == before
    result = core.dispatch({"type": "message.dispatch", "text": "first", "command_id": "c-1"})
    assert not result.replayed
    assert core.projection.runs[result.run_id or ""]["status"] == "completed"


def test_a_reused_message_id_is_refused_before_a_run_exists() -> None:
    core, _ = orchestrator([*handshake(), turn_start(3, "first"), *started(3, "u1"), completed("u1")])
    core.dispatch({"type": "message.dispatch", "text": "first", "message_id": "m"})
    runs = len(core.projection.runs)
    with pytest.raises(UsageError, match="message id 'm' is already used"):
        core.dispatch({"type": "message.dispatch", "text": "again", "message_id": "m"})
    assert len(core.projection.runs) == runs
