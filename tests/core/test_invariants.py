"""Every invariant rule fires on a hand-built log that breaks it, and no rule fires on a good log."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.core.events import StoredEvent
from harness.core.invariants import RULES, check_invariants
from harness.scenario import execute, load_scenario

Row = tuple[str, str | None, dict[str, Any]]  # (type, run_id, data)

THREAD = "t"
RUN = "t/run-1"
ATTEMPT = f"{RUN}/attempt-1"
ROOT = f"{ATTEMPT}/root"
PROVIDER_THREAD = "t/provider-thread"
TURNS = (f"{PROVIDER_THREAD}/turn-1", f"{PROVIDER_THREAD}/turn-2")
CALL = f"{RUN}/item-3"  # the model's tool call: a dynamic_tool turn item, whose id is the call's


# -- entity snapshots, as the orchestrator stores them for an HTTP tool loop (trimmed) -------------


def run(status: str, **changes: Any) -> dict[str, Any]:
    return {
        "run_id": RUN,
        "thread_id": THREAD,
        "ordinal": 1,
        "status": status,
        "provider_thread_id": PROVIDER_THREAD,
        "user_message_id": "m1",
        "root_node_id": ROOT,
        "active_attempt_id": ATTEMPT,
        **changes,
    }


def attempt(status: str, turn: int | None = None) -> dict[str, Any]:
    return {
        "attempt_id": ATTEMPT,
        "run_id": RUN,
        "thread_id": THREAD,
        "ordinal": 1,
        "status": status,
        "root_node_id": ROOT,
        "provider_turn_id": TURNS[turn - 1] if turn else None,
    }


def root(status: str) -> dict[str, Any]:
    return {
        "node_id": ROOT,
        "thread_id": THREAD,
        "run_id": RUN,
        "attempt_id": ATTEMPT,
        "parent_node_id": None,
        "root_node_id": ROOT,
        "kind": "root_turn",
        "status": status,
        "counts_for_run": True,
    }


def turn(number: int, status: str, **changes: Any) -> dict[str, Any]:
    """A provider turn: one request of the loop and its response."""
    return {
        "provider_turn_id": TURNS[number - 1],
        "thread_id": THREAD,
        "run_id": RUN,
        "attempt_id": ATTEMPT,
        "node_id": ROOT,
        "provider_thread_id": PROVIDER_THREAD,
        "ordinal": number,
        "status": status,
        "native_ref": f"msg_{number}",
        "error": None,
        **changes,
    }


def item(ordinal: int, type_: str, status: str, turn_number: int, **data: Any) -> dict[str, Any]:
    return {
        "turn_item_id": f"{RUN}/item-{ordinal}",
        "thread_id": THREAD,
        "run_id": RUN,
        "attempt_id": ATTEMPT,
        "node_id": ROOT,
        "provider_turn_id": TURNS[turn_number - 1],
        "parent_item_id": None,
        "ordinal": ordinal,
        "type": type_,
        "status": status,
        "native_ref": f"request-{turn_number}/choice-0/item-{ordinal}",
        "data": data,
    }


def tool(status: str, **result: Any) -> dict[str, Any]:
    return item(3, "dynamic_tool", status, 1, tool="f", input={"x": 1}, executor="harness", **result)


GOOD: list[Row] = [
    ("thread.created", None, {"thread_id": THREAD, "protocol": "anthropic.messages", "runtime": {}}),
    ("provider-thread.updated", None, {"provider_thread_id": PROVIDER_THREAD, "thread_id": THREAD, "status": "idle"}),
    ("run.created", RUN, run("starting", user_message_id=None, root_node_id=None, active_attempt_id=None)),
    ("message.updated", RUN, {"message_id": "m1", "thread_id": THREAD, "run_id": RUN, "role": "user", "text": "hi"}),
    ("run-attempt.created", RUN, attempt("running")),
    ("node.updated", RUN, root("running")),
    ("run.updated", RUN, run("starting")),
    ("provider-turn.updated", RUN, turn(1, "running")),
    ("run-attempt.updated", RUN, attempt("running", 1)),
    ("run.updated", RUN, run("running")),
    ("turn-item.updated", RUN, item(1, "user_message", "completed", 1, text="hi")),
    ("turn-item.updated", RUN, item(2, "assistant_message", "running", 1, text="")),
    ("turn-item.delta", RUN, {"turn_item_id": f"{RUN}/item-2", "field": "text", "delta": "x"}),
    ("turn-item.updated", RUN, item(2, "assistant_message", "completed", 1, text="x")),
    ("turn-item.updated", RUN, item(3, "dynamic_tool", "pending", 1, tool="f", executor="harness")),
    ("turn-item.delta", RUN, {"turn_item_id": CALL, "field": "arguments", "delta": '{"x": 1}'}),
    ("turn-item.updated", RUN, tool("pending")),
    ("provider-turn.updated", RUN, turn(1, "completed", stop_reason="tool_use")),
    ("turn-item.updated", RUN, tool("running")),
    (
        "tool_call.requested",
        RUN,
        {
            "tool_call_id": CALL,
            "item_id": CALL,
            "name": "f",
            "native_id": "toolu_1",
            "arguments": {"x": 1},
            "executor": "harness",
        },
    ),
    ("turn-item.updated", RUN, tool("completed", output=1)),
    ("tool_call.completed", RUN, {"tool_call_id": CALL, "outcome": {"status": "succeeded", "output": 1}}),
    ("provider-turn.updated", RUN, turn(2, "running")),
    ("run-attempt.updated", RUN, attempt("running", 2)),
    ("turn-item.updated", RUN, item(4, "assistant_message", "running", 2, text="")),
    ("turn-item.delta", RUN, {"turn_item_id": f"{RUN}/item-4", "field": "text", "delta": "done"}),
    ("turn-item.updated", RUN, item(4, "assistant_message", "completed", 2, text="done")),
    ("provider-turn.updated", RUN, turn(2, "completed", stop_reason="end_turn")),
    ("node.updated", RUN, root("completed")),
    ("run-attempt.updated", RUN, attempt("completed", 2)),
    ("run.updated", RUN, run("completed", error=None, stop_reason="end_turn")),
]


def log(rows: list[Row], *, sequences: list[int] | None = None, times: list[int] | None = None) -> list[StoredEvent]:
    return [
        StoredEvent(
            sequence=sequences[i] if sequences else i + 1,
            event_id=f"event:{i + 1}",
            type=type_,
            thread_id=THREAD,
            run_id=run_id,
            command_id="c",
            at_ms=times[i] if times else 0,
            data=data,
        )
        for i, (type_, run_id, data) in enumerate(rows)
    ]


def index_of(type_: str, nth: int = 0, **data: Any) -> int:
    """The index in GOOD of the ``nth`` row of ``type_`` whose data has the given fields."""
    return [i for i, row in enumerate(GOOD) if row[0] == type_ and data.items() <= row[2].items()][nth]


def without(type_: str, nth: int = 0, **data: Any) -> list[Row]:
    rows = list(GOOD)
    del rows[index_of(type_, nth, **data)]
    return rows


def inserted(before: int, row: Row) -> list[Row]:
    rows = list(GOOD)
    rows.insert(before, row)
    return rows


def replaced(type_: str, row: Row, nth: int = 0, **data: Any) -> list[Row]:
    rows = list(GOOD)
    rows[index_of(type_, nth, **data)] = row
    return rows


#: the run's terminal snapshot
END = index_of("run.updated", status="completed")
#: the first snapshot of the second provider turn: the next request of the loop
SECOND_TURN = index_of("provider-turn.updated", provider_turn_id=TURNS[1])


def _gap() -> list[StoredEvent]:
    sequences = list(range(1, len(GOOD) + 1))
    sequences[5:] = [s + 1 for s in sequences[5:]]
    return log(GOOD, sequences=sequences)


def _time_goes_back() -> list[StoredEvent]:
    times = [10 * i for i in range(len(GOOD))]
    times[6] = 5
    return log(GOOD, times=times)


# rule id -> a log that breaks exactly that rule
BAD_LOGS: dict[str, Callable[[], list[StoredEvent]]] = {
    "core.sequence.contiguous": _gap,
    "core.event.known_type": lambda: log(inserted(END, ("run.teleported", RUN, {}))),
    "core.time.monotonic": _time_goes_back,
    "core.run.created_first": lambda: log(
        inserted(index_of("run.created"), ("protocol.violation", RUN, {"rule": "r", "message": "too early"}))
    ),
    "core.run.single_terminal": lambda: log([*GOOD, GOOD[END]]),
    "core.run.terminal_last": lambda: log(
        [*GOOD, ("turn-item.delta", RUN, {"turn_item_id": f"{RUN}/item-4", "field": "text", "delta": "late"})]
    ),
    "core.turn_item.delta": lambda: log(
        inserted(
            index_of("turn-item.updated", turn_item_id=f"{RUN}/item-4"),
            ("turn-item.delta", RUN, {"turn_item_id": f"{RUN}/item-4", "field": "text", "delta": "early"}),
        )
    ),
    "core.tool_call.outcome": lambda: log(
        replaced(
            "tool_call.completed", ("tool_call.completed", RUN, {"tool_call_id": CALL, "outcome": {"status": "ok"}})
        )
    ),
    "core.tool_call.before_next_turn": lambda: log(without("tool_call.completed")),
}


def test_every_rule_has_a_bad_log_here() -> None:
    assert set(BAD_LOGS) == {rule for rule in RULES if rule.startswith("core.")}


def test_a_good_log_breaks_no_rule() -> None:
    assert check_invariants(log(GOOD)) == []


def test_a_real_tool_loop_log_breaks_no_rule() -> None:
    root = Path(__file__).resolve().parents[2]
    events = execute(load_scenario(root / "scenarios/anthropic/tool_loop_two_requests.yaml")).events
    assert {"tool_call.requested", "tool_call.completed", "turn-item.delta"} <= {e.type for e in events}
    assert check_invariants(events) == []


@pytest.mark.parametrize("rule", sorted(BAD_LOGS))
def test_a_bad_log_breaks_exactly_its_rule(rule: str) -> None:
    found = check_invariants(BAD_LOGS[rule]())
    assert {v.rule for v in found} == {rule}, [v.to_json() for v in found]
    assert all(v.severity == RULES[rule].severity for v in found)


def test_a_run_without_a_terminal_event_is_reported_at_the_end_of_the_log() -> None:
    (violation,) = check_invariants(log(GOOD[:END]))
    assert (violation.rule, violation.sequence, violation.run_id) == ("core.run.single_terminal", None, RUN)


def test_a_provider_turn_named_before_it_started_is_reported() -> None:
    # The second request's provider turn is stored only when it ends; the attempt and the turn's
    # items name it before.
    rows = without("provider-turn.updated", provider_turn_id=TURNS[1], status="running")
    found = check_invariants(log(rows))
    assert {(v.rule, v.found) for v in found} == {("integrity.reference", TURNS[1])}
    assert [v.subject for v in found] == [ATTEMPT, f"{RUN}/item-4", f"{RUN}/item-4"]
    assert found[0].sequence == SECOND_TURN + 1


def test_a_provider_turn_may_fail_without_a_response() -> None:
    # The second request got no response (a transport error): its turn goes from running to failed
    # with no response id, and the run fails.
    error = {"type": "transport_error", "message": "no response"}
    rows = GOOD[: SECOND_TURN + 2]
    rows[SECOND_TURN] = ("provider-turn.updated", RUN, turn(2, "running", native_ref=None))
    rows += [
        ("provider-turn.updated", RUN, turn(2, "failed", native_ref=None, error=error)),
        ("node.updated", RUN, root("failed")),
        ("run-attempt.updated", RUN, attempt("failed", 2)),
        ("run.updated", RUN, run("failed", error=error)),
    ]
    assert check_invariants(log(rows)) == []


def test_a_provider_turn_that_ended_never_ends_again_otherwise() -> None:
    rows = inserted(
        index_of("node.updated", status="completed"),
        ("provider-turn.updated", RUN, turn(2, "failed", error={"type": "x", "message": "y"})),
    )
    (violation,) = check_invariants(log(rows))
    assert (violation.rule, violation.subject, violation.expected, violation.found) == (
        "integrity.status.absorbing",
        TURNS[1],
        "completed",
        "failed",
    )


def test_a_run_ending_with_an_open_provider_turn_is_reported() -> None:
    rows = without("provider-turn.updated", provider_turn_id=TURNS[1], status="completed")
    (violation,) = check_invariants(log(rows))
    assert (violation.rule, violation.subject, violation.found) == (
        "integrity.run.terminal_consistent",
        RUN,
        "running",
    )


def test_a_run_ending_with_a_pending_tool_call_is_reported_at_its_terminal_snapshot() -> None:
    rows = [
        *GOOD[: index_of("tool_call.requested") + 1],
        ("node.updated", RUN, root("completed")),
        ("run-attempt.updated", RUN, attempt("completed", 1)),
        ("run.updated", RUN, run("completed", error=None, stop_reason="tool_use")),
    ]
    (violation,) = check_invariants(log(rows))
    assert (violation.rule, violation.sequence, violation.subject) == (
        "core.tool_call.before_next_turn",
        len(rows),
        CALL,
    )


def test_a_tool_call_pending_at_the_end_of_the_log_is_reported_at_its_request() -> None:
    rows = GOOD[: index_of("tool_call.requested") + 1]
    found = {v.rule: v for v in check_invariants(log(rows))}
    assert set(found) == {"core.tool_call.outcome", "core.run.single_terminal"}
    assert (found["core.tool_call.outcome"].sequence, found["core.tool_call.outcome"].subject) == (len(rows), CALL)


def test_a_tool_call_completed_without_a_request_is_reported() -> None:
    rows = without("tool_call.requested")
    (violation,) = check_invariants(log(rows))
    assert (violation.rule, violation.subject) == ("core.tool_call.outcome", CALL)


def test_a_violation_says_where_and_what() -> None:
    (violation,) = check_invariants(_gap())
    assert violation.to_json() == {
        "rule": "core.sequence.contiguous",
        "severity": "error",
        "sequence": 7,
        "message": "sequence 7 where 6 was due",
        "run_id": None,
        "subject": None,
        "expected": 6,
        "found": 7,
    }


def test_rules_are_data_with_an_id_severity_and_contract() -> None:
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id
        assert rule.severity in ("error", "warning")
        assert rule.contract


def test_a_streamed_log_is_checked_without_being_held() -> None:
    deltas = 50_000
    delta = index_of("turn-item.delta")

    def stream() -> Iterator[StoredEvent]:
        rows = [*GOOD[:delta], *[GOOD[delta]] * deltas, *GOOD[delta + 1 :]]
        for i, (type_, run_id, data) in enumerate(rows):
            yield StoredEvent(i + 1, f"event:{i + 1}", type_, THREAD, run_id, "c", 0, dict(data))

    tracemalloc.start()
    try:
        assert check_invariants(stream()) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"peak {peak} bytes for a {deltas}-delta log"
