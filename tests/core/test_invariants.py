"""Every invariant rule fires on a hand-built log that breaks it, and no rule fires on a good log."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.core.events import StoredEvent
from harness.core.invariants import RULES, check_invariants

Row = tuple[str, str | None, dict[str, Any]]  # (type, run_id, data)

RUN = "t/run-1"

GOOD: list[Row] = [
    ("thread.created", None, {"thread_id": "t"}),
    ("message.added", None, {"message_id": "m1", "role": "user", "text": "hi"}),
    ("run.created", RUN, {"run_id": RUN, "ordinal": 1, "message_id": "m1"}),
    ("run.started", RUN, {}),
    ("request.sent", RUN, {"request_id": "q1"}),
    ("response.started", RUN, {"response_id": "p1"}),
    ("item.started", RUN, {"item_id": "p1/item-0", "response_id": "p1"}),
    ("item.delta", RUN, {"item_id": "p1/item-0", "kind": "text", "text": "x"}),
    ("item.completed", RUN, {"item_id": "p1/item-0", "item": {}}),
    ("response.completed", RUN, {"response_id": "p1"}),
    ("tool_call.requested", RUN, {"tool_call_id": "c1", "name": "f"}),
    ("tool_call.completed", RUN, {"tool_call_id": "c1", "outcome": {"status": "succeeded", "output": 1}}),
    ("request.sent", RUN, {"request_id": "q2"}),
    ("response.started", RUN, {"response_id": "p2"}),
    ("response.completed", RUN, {"response_id": "p2"}),
    ("run.completed", RUN, {"stop_reason": "end_turn"}),
]


def log(rows: list[Row], *, sequences: list[int] | None = None, times: list[int] | None = None) -> list[StoredEvent]:
    return [
        StoredEvent(
            sequence=sequences[i] if sequences else i + 1,
            event_id=f"event:{i + 1}",
            type=type_,
            thread_id="t",
            run_id=run_id,
            command_id="c",
            at_ms=times[i] if times else 0,
            data=data,
        )
        for i, (type_, run_id, data) in enumerate(rows)
    ]


def index_of(type_: str, nth: int = 0) -> int:
    return [i for i, row in enumerate(GOOD) if row[0] == type_][nth]


def without(type_: str, nth: int = 0) -> list[Row]:
    rows = list(GOOD)
    del rows[index_of(type_, nth)]
    return rows


def inserted(before: str, row: Row, nth: int = 0) -> list[Row]:
    rows = list(GOOD)
    rows.insert(index_of(before, nth), row)
    return rows


def replaced(type_: str, row: Row, nth: int = 0) -> list[Row]:
    rows = list(GOOD)
    rows[index_of(type_, nth)] = row
    return rows


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
    "core.event.known_type": lambda: log(inserted("run.completed", ("run.teleported", RUN, {}))),
    "core.time.monotonic": _time_goes_back,
    "core.run.created_first": lambda: log([GOOD[0], GOOD[1], ("run.started", RUN, {}), GOOD[2], *GOOD[4:]]),
    "core.run.single_terminal": lambda: log([*GOOD, ("run.failed", RUN, {"error": {"type": "x", "message": "y"}})]),
    "core.run.terminal_last": lambda: log([*GOOD, ("item.delta", RUN, {"item_id": "p2/item-0"})]),
    "core.response.single_terminal": lambda: log(
        inserted("request.sent", ("response.completed", RUN, {"response_id": "p1"}), nth=1)
    ),
    "core.item.lifecycle": lambda: log(inserted("response.completed", ("item.delta", RUN, {"item_id": "p1/item-0"}))),
    "core.tool_call.outcome": lambda: log(
        replaced(
            "tool_call.completed", ("tool_call.completed", RUN, {"tool_call_id": "c1", "outcome": {"status": "ok"}})
        )
    ),
    "core.tool_call.before_next_request": lambda: log(without("tool_call.completed")),
}


def test_every_rule_has_a_bad_log_here() -> None:
    assert set(BAD_LOGS) == {rule for rule in RULES if rule.startswith("core.")}


def test_a_good_log_breaks_no_rule() -> None:
    assert check_invariants(log(GOOD)) == []


@pytest.mark.parametrize("rule", sorted(BAD_LOGS))
def test_a_bad_log_breaks_exactly_its_rule(rule: str) -> None:
    found = check_invariants(BAD_LOGS[rule]())
    assert {v.rule for v in found} == {rule}, [v.to_json() for v in found]
    assert all(v.severity == RULES[rule].severity for v in found)


def test_a_run_without_a_terminal_event_is_reported_at_the_end_of_the_log() -> None:
    (violation,) = check_invariants(log(GOOD[:-1]))
    assert (violation.rule, violation.sequence, violation.run_id) == ("core.run.single_terminal", None, RUN)


def test_a_response_completed_without_starting_is_reported() -> None:
    rows = without("response.started", nth=1)
    (violation,) = check_invariants(log(rows))
    assert (violation.rule, violation.subject) == ("core.response.single_terminal", "p2")


def test_a_response_may_fail_without_starting() -> None:
    rows = without("response.started", nth=1)
    rows[index_of("response.completed", 1) - 1] = ("response.failed", RUN, {"response_id": "p2"})
    rows[-1] = ("run.failed", RUN, {"error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert check_invariants(log(rows)) == []


def test_a_run_ending_with_an_open_response_is_reported() -> None:
    rows = without("response.completed", nth=1)
    (violation,) = check_invariants(log(rows))
    assert (violation.rule, violation.subject) == ("core.response.single_terminal", "p2")


def test_a_tool_call_pending_at_the_end_of_the_log_is_reported_at_its_request() -> None:
    rows = GOOD[: index_of("tool_call.requested") + 1]
    found = {v.rule: v for v in check_invariants(log(rows))}
    assert set(found) == {"core.tool_call.outcome", "core.run.single_terminal"}
    assert (found["core.tool_call.outcome"].sequence, found["core.tool_call.outcome"].subject) == (len(rows), "c1")


def test_a_tool_call_completed_without_a_request_is_reported() -> None:
    rows = without("tool_call.requested")
    (violation,) = check_invariants(log(rows))
    assert (violation.rule, violation.subject) == ("core.tool_call.outcome", "c1")


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

    def stream() -> Iterator[StoredEvent]:
        rows = [*GOOD[:7], *[GOOD[7]] * deltas, *GOOD[8:]]
        for i, (type_, run_id, data) in enumerate(rows):
            yield StoredEvent(i + 1, f"event:{i + 1}", type_, "t", run_id, "c", 0, dict(data))

    tracemalloc.start()
    try:
        assert check_invariants(stream()) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"peak {peak} bytes for a {deltas}-delta log"
