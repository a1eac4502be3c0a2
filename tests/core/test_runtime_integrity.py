"""The agent-runtime integrity rules (``integrity.*``), each broken on a real replayed event log."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from harness.core.events import StoredEvent
from harness.core.invariants import RULES, check_invariants
from harness.scenario.model import load_scenario
from harness.scenario.runner import execute

SCENARIOS = Path(__file__).parents[2] / "scenarios" / "t3code"


@cache
def replayed(name: str) -> tuple[StoredEvent, ...]:
    return tuple(execute(load_scenario(SCENARIOS / name)).events)


def renumber(events: list[StoredEvent]) -> list[StoredEvent]:
    return [dataclasses.replace(e, sequence=i + 1, event_id=f"event:{i + 1}") for i, e in enumerate(events)]


def edit(events: tuple[StoredEvent, ...], match: Callable[[StoredEvent], bool], **data: Any) -> list[StoredEvent]:
    """Every event ``match`` selects gets ``data`` merged into its payload."""
    return [dataclasses.replace(e, data={**e.data, **data}) if match(e) else e for e in events]


def of(type_: str, key: str, value: str) -> Callable[[StoredEvent], bool]:
    return lambda e: e.type == type_ and e.data.get(key) == value


def _dangling_reference() -> list[StoredEvent]:
    log = replayed("codex/simple.yaml")
    return edit(log, of("turn-item.updated", "turn_item_id", "main/run-1/item-3"), node_id="main/run-1/no-such-node")


def _root_not_a_root() -> list[StoredEvent]:
    return edit(
        replayed("codex/simple.yaml"),
        of("node.updated", "node_id", "main/run-1/attempt-1/root"),
        kind="assistant_message",
    )


def _item_out_of_order() -> list[StoredEvent]:
    return edit(replayed("codex/simple.yaml"), of("turn-item.updated", "turn_item_id", "main/run-1/item-2"), ordinal=7)


def _approval_on_a_tool_node() -> list[StoredEvent]:
    log = replayed("codex/tool_call_read_only_on_request.yaml")
    (request,) = {e.data["node_id"] for e in log if e.type == "runtime-request.updated"}
    return edit(log, of("node.updated", "node_id", request), kind="tool_call")


def _attempt_disagrees_with_run() -> list[StoredEvent]:
    log = list(replayed("codex/turn_interrupt.yaml"))
    last = max(i for i, e in enumerate(log) if e.type == "run-attempt.updated")
    log[last] = dataclasses.replace(log[last], data={**log[last].data, "status": "completed"})
    return log


def _two_active_runs() -> list[StoredEvent]:
    log = list(replayed("codex/simple.yaml"))
    running = next(i for i, e in enumerate(log) if e.type == "run.updated" and e.data["status"] == "running")
    first = log[running]
    intruder = {**first.data, "run_id": "main/run-9", "ordinal": 9, "active_attempt_id": None, "root_node_id": None}
    log.insert(running + 1, dataclasses.replace(first, type="run.created", run_id="main/run-9", data=intruder))
    log.append(
        dataclasses.replace(log[-1], type="run.updated", run_id="main/run-9", data={**intruder, "status": "completed"})
    )
    return renumber(log)


def _terminal_turn_reopens() -> list[StoredEvent]:
    log = list(replayed("codex/simple.yaml"))
    done = [e for e in log if e.type == "provider-turn.updated" and e.data["status"] == "completed"][-1]
    # run_id off the envelope, so that only the snapshot rule (not core.run.terminal_last) can see it
    log.append(dataclasses.replace(done, run_id=None, data={**done.data, "status": "running"}))
    return renumber(log)


BAD_LOGS: dict[str, Callable[[], list[StoredEvent]]] = {
    "integrity.reference": _dangling_reference,
    "integrity.run.root_node": _root_not_a_root,
    "integrity.turn_item.ordered": _item_out_of_order,
    "integrity.request.node": _approval_on_a_tool_node,
    "integrity.run.terminal_consistent": _attempt_disagrees_with_run,
    "integrity.thread.single_active_run": _two_active_runs,
    "integrity.status.absorbing": _terminal_turn_reopens,
}


def test_every_integrity_rule_has_a_bad_log_here() -> None:
    assert set(BAD_LOGS) == {rule for rule in RULES if rule.startswith("integrity.")}


@pytest.mark.parametrize("name", sorted(p.relative_to(SCENARIOS).as_posix() for p in SCENARIOS.rglob("*.yaml")))
def test_every_t3code_replay_passes_every_rule(name: str) -> None:
    assert check_invariants(replayed(name)) == []


@pytest.mark.parametrize("rule", sorted(BAD_LOGS))
def test_a_bad_runtime_log_breaks_exactly_its_rule(rule: str) -> None:
    found = check_invariants(BAD_LOGS[rule]())
    assert {v.rule for v in found} == {rule}, [v.to_json() for v in found]


def test_an_integrity_violation_names_the_event_and_the_ids() -> None:
    violation = check_invariants(_dangling_reference())[0]
    assert violation.sequence is not None
    assert violation.found == "main/run-1/no-such-node"
    assert "node_id 'main/run-1/no-such-node' names no stored node" in violation.message


def test_an_http_log_is_not_held_to_runtime_rules() -> None:
    log = execute(load_scenario(SCENARIOS.parent / "anthropic" / "code_execution_server_tool.yaml")).events
    assert not [v for v in check_invariants(log) if v.rule.startswith("integrity.")]


def _run_snapshots(steps: list[tuple[str, str, str]]) -> list[StoredEvent]:
    """A log of bare run snapshots: (run id, thread id, status) in order."""
    log = []
    for sequence, (run_id, thread_id, status) in enumerate(steps, start=1):
        data = {"run_id": run_id, "thread_id": thread_id, "status": status, "ordinal": int(run_id[-1])}
        log.append(StoredEvent(sequence, f"event:{sequence}", "run.updated", thread_id, run_id, None, 0, data))
    return log


def test_the_single_active_run_rule_names_the_first_other_active_run_of_the_same_thread() -> None:
    log = _run_snapshots(
        [
            ("r1", "t", "running"),
            ("r1", "t", "completed"),
            ("r2", "t", "running"),  # fine: r1 ended
            ("r3", "u", "running"),  # fine: another thread
            ("r4", "t", "running"),  # r2 is still running in t
            ("r2", "u", "running"),  # r2 moves to thread u, where r3 runs
            ("r5", "t", "running"),  # only r4 is left in t
            ("r1", "t", "running"),  # r1 again (a status that is not absorbing here): r4 and r5; r4 first seen
        ]
    )
    found = [v for v in check_invariants(log) if v.rule == "integrity.thread.single_active_run"]
    assert [(v.sequence, v.message) for v in found] == [
        (5, "run r4 is running while run r2 is running in thread t"),
        (6, "run r2 is running while run r3 is running in thread u"),
        (7, "run r5 is running while run r4 is running in thread t"),
        (8, "run r1 is running while run r4 is running in thread t"),
    ]


class _ReadOnce:
    """A one-shot iterator over a log that counts how many events were read from it."""

    def __init__(self, events: list[StoredEvent]) -> None:
        self._events = iter(events)
        self.reads = 0

    def __iter__(self) -> _ReadOnce:
        return self

    def __next__(self) -> StoredEvent:
        event = next(self._events)
        self.reads += 1
        return event


@pytest.mark.parametrize("rule", sorted(BAD_LOGS))
def test_the_rules_fold_over_a_streamed_log_in_one_pass(rule: str) -> None:
    log = BAD_LOGS[rule]()
    stream = _ReadOnce(log)
    assert check_invariants(stream) == check_invariants(log)
    assert stream.reads == len(log)
    assert {v.rule for v in check_invariants(iter(log))} == {rule}
