"""Protocol invariants of the event log, as data.

Each rule has a stable id, a severity and a one-line contract (:data:`RULES`).
:func:`check_invariants` returns structured :class:`Violation` records; pytest failures, CLI exit
codes, DuckDB tables and reports are all views of that one list. The checker works on any event
log in the documented format, not only on ones this harness produced.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from harness.core.events import EVENT_TYPES, StoredEvent
from harness.core.projection import ACTIVE_RUN_STATUSES, TERMINAL_RUN_STATUSES

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    contract: str


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule("core.sequence.contiguous", "error", "event sequences run 1, 2, 3, ... with no gap or repeat"),
        Rule("core.event.known_type", "error", "every event type is one documented in docs/events.md"),
        Rule("core.time.monotonic", "error", "at_ms never decreases along the log"),
        Rule("core.run.created_first", "error", "a run's events come after its run.created"),
        Rule("core.run.single_terminal", "error", "every run ends with exactly one terminal event"),
        Rule("core.run.terminal_last", "error", "no event of a run follows its terminal event"),
        Rule(
            "core.turn_item.delta",
            "error",
            "a turn-item.delta follows its item's first turn-item.updated",
        ),
        Rule(
            "core.tool_call.outcome",
            "error",
            "every tool_call.requested gets exactly one tool_call.completed whose outcome is succeeded or failed",
        ),
        Rule(
            "core.tool_call.before_next_turn",
            "error",
            "a run's tool calls complete before its next provider turn starts (provider-run calls: before the "
            "run's end) and before its terminal snapshot",
        ),
        # -- agent-runtime integrity (t3code's projection checks), on entity snapshots ----------
        Rule(
            "integrity.reference",
            "error",
            "every id an entity snapshot refers to (thread, run, attempt, node, provider thread/turn, turn item, "
            "message, runtime request) names an entity stored before it",
        ),
        Rule(
            "integrity.run.root_node",
            "error",
            "every started run has a root node: a root_turn node of that run that counts for it",
        ),
        Rule(
            "integrity.turn_item.ordered",
            "error",
            "a run's turn items are numbered 1, 2, 3, ... in the order they first appear, and keep their number",
        ),
        Rule(
            "integrity.request.node",
            "error",
            "approval requests point at approval_request nodes, user-input requests at user_input_request nodes",
        ),
        Rule(
            "integrity.run.terminal_consistent",
            "error",
            "a finished run's active attempt and root node end with the run's status, and its last provider turn "
            "is over",
        ),
        Rule("integrity.thread.single_active_run", "error", "a thread has at most one active run at a time"),
        Rule(
            "integrity.status.absorbing",
            "error",
            "a terminal run, attempt, node or provider turn never changes status again (only runs roll back)",
        ),
    )
}

#: entity snapshot type -> (collection, its id field, {reference field: referenced collection})
_RUNTIME_ENTITIES: dict[str, tuple[str, str, dict[str, str]]] = {
    "thread.created": ("threads", "thread_id", {}),
    "run.created": ("runs", "run_id", {"thread_id": "threads"}),
    "run.updated": (
        "runs",
        "run_id",
        {
            "thread_id": "threads",
            "active_attempt_id": "attempts",
            "root_node_id": "nodes",
            "user_message_id": "messages",
        },
    ),
    "run-attempt.created": ("attempts", "attempt_id", {"run_id": "runs"}),
    "run-attempt.updated": (
        "attempts",
        "attempt_id",
        {"run_id": "runs", "root_node_id": "nodes", "provider_turn_id": "provider_turns"},
    ),
    "node.updated": (
        "nodes",
        "node_id",
        {
            "run_id": "runs",
            "attempt_id": "attempts",
            "parent_node_id": "nodes",
            "root_node_id": "nodes",
            "turn_item_id": "turn_items_or_pending",
            "runtime_request_id": "runtime_requests",
        },
    ),
    "provider-session.updated": ("sessions", "provider_session_id", {"thread_id": "threads"}),
    "provider-thread.updated": (
        "provider_threads",
        "provider_thread_id",
        {"thread_id": "threads", "provider_session_id": "sessions"},
    ),
    "provider-turn.updated": (
        "provider_turns",
        "provider_turn_id",
        {"provider_thread_id": "provider_threads", "run_id": "runs", "attempt_id": "attempts", "node_id": "nodes"},
    ),
    "turn-item.updated": (
        "turn_items",
        "turn_item_id",
        {
            "run_id": "runs",
            "attempt_id": "attempts",
            "node_id": "nodes",
            "provider_turn_id": "provider_turns",
            "parent_item_id": "turn_items",
            "message_id": "messages",
        },
    ),
    "message.updated": ("messages", "message_id", {"thread_id": "threads", "run_id": "runs"}),
    "runtime-request.updated": (
        "runtime_requests",
        "runtime_request_id",
        {"run_id": "runs", "node_id": "nodes", "turn_item_id": "turn_items"},
    ),
    "plan.updated": ("plans", "plan_id", {"run_id": "runs"}),
    "context-transfer.updated": (
        "context_transfers",
        "context_transfer_id",
        {"source_thread_id": "threads", "target_thread_id": "threads"},
    ),
}
_FINAL = {
    "runs": TERMINAL_RUN_STATUSES,
    "attempts": TERMINAL_RUN_STATUSES | {"superseded"},
    "nodes": TERMINAL_RUN_STATUSES,
    "provider_turns": TERMINAL_RUN_STATUSES,
}
_REQUEST_NODES = {"user_input": "user_input_request"}


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: where (event index = sequence), which ids, what was expected and found.

    For this harness's logs ``sequence`` is the event's ``sequence``; for a user's log checked
    with :func:`harness.core.event_rules.check_event_rules` it is the 0-based index of the event
    in the log given. ``None`` means the end of the log.
    """

    rule: str
    severity: Severity
    sequence: int | None
    message: str
    run_id: str | None = None
    subject: str | None = None
    expected: Any = None
    found: Any = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Violation:
        """The inverse of :meth:`to_json` (for violations shipped between processes)."""
        return cls(
            rule=data["rule"],
            severity=data["severity"],
            sequence=data["sequence"],
            message=data["message"],
            run_id=data.get("run_id"),
            subject=data.get("subject"),
            expected=data.get("expected"),
            found=data.get("found"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "sequence": self.sequence,
            "message": self.message,
            "run_id": self.run_id,
            "subject": self.subject,
            "expected": self.expected,
            "found": self.found,
        }


def _is_terminal(event: StoredEvent) -> bool:
    """A terminal ``run.updated`` snapshot (status completed, failed, interrupted or cancelled)."""
    return event.type == "run.updated" and event.data.get("status") in TERMINAL_RUN_STATUSES


def check_invariants(events: Iterable[StoredEvent]) -> list[Violation]:
    """Every invariant violation in an event log, in log order."""
    out: list[Violation] = []

    def violate(rule: str, event: StoredEvent | None, message: str, **extra: Any) -> None:
        out.append(Violation(rule, RULES[rule].severity, event.sequence if event else None, message, **extra))

    # One pass over the log (it may be streamed from disk): the integrity rules over entity
    # snapshots fold alongside; their violations follow the others, as before.
    later: list[Violation] = []

    def violate_later(rule: str, event: StoredEvent | None, message: str, **extra: Any) -> None:
        later.append(Violation(rule, RULES[rule].severity, event.sequence if event else None, message, **extra))

    runtime = _runtime_rules(violate_later)
    next(runtime)
    expected_sequence = 1
    last_at = 0
    runs_created: set[str] = set()
    terminal: dict[str, StoredEvent] = {}
    items: set[str] = set()  # turn items stored so far
    turns: set[str] = set()  # provider turns started so far
    pending_tools: dict[str, StoredEvent] = {}

    def _overdue(event: StoredEvent) -> None:
        """``event`` starts a provider turn or ends a run: the run's tool calls must be done (a call
        the provider runs may answer in a later turn of the run, but not after the run's end)."""
        ends_run = _is_terminal(event)
        for call_id, requested in list(pending_tools.items()):
            by_provider = requested.data.get("executor") == "provider"
            if requested.run_id == event.run_id and (ends_run or not by_provider):
                violate(
                    "core.tool_call.before_next_turn",
                    event,
                    f"{event.type} while tool call {call_id} (requested at sequence "
                    f"{requested.sequence}) has no outcome",
                    run_id=event.run_id,
                    subject=call_id,
                )
                del pending_tools[call_id]

    for event in events:
        runtime.send(event)
        run_id = event.run_id
        if event.sequence != expected_sequence:
            violate(
                "core.sequence.contiguous",
                event,
                f"sequence {event.sequence} where {expected_sequence} was due",
                expected=expected_sequence,
                found=event.sequence,
            )
        expected_sequence = event.sequence + 1
        if event.type not in EVENT_TYPES:
            violate("core.event.known_type", event, f"unknown event type {event.type!r}", found=event.type)
        if event.at_ms < last_at:
            violate(
                "core.time.monotonic",
                event,
                f"at_ms {event.at_ms} after {last_at}",
                expected=f">= {last_at}",
                found=event.at_ms,
            )
        last_at = max(last_at, event.at_ms)
        data = event.data
        if event.type == "run.created":
            runs_created.add(str(data.get("run_id")))
            continue
        if run_id is None:
            continue
        if run_id not in runs_created:
            violate(
                "core.run.created_first", event, f"{event.type} for run {run_id} before its run.created", run_id=run_id
            )
        if run_id in terminal:
            first = terminal[run_id]
            if _is_terminal(event):
                violate(
                    "core.run.single_terminal",
                    event,
                    f"second terminal event {event.type} for run {run_id} (first: {first.type} at "
                    f"sequence {first.sequence})",
                    run_id=run_id,
                    expected=first.type,
                    found=event.type,
                )
            else:
                violate(
                    "core.run.terminal_last",
                    event,
                    f"{event.type} after run {run_id} ended with {first.type} at sequence {first.sequence}",
                    run_id=run_id,
                )
            continue
        if event.type == "turn-item.updated":
            items.add(str(data.get("turn_item_id")))
        elif event.type == "turn-item.delta":
            item_id = str(data.get("turn_item_id"))
            if item_id not in items:
                violate(
                    "core.turn_item.delta",
                    event,
                    f"turn-item.delta for item {item_id}, which was never stored",
                    run_id=run_id,
                    subject=item_id,
                )
        elif event.type == "provider-turn.updated" and str(data.get("provider_turn_id")) not in turns:
            turns.add(str(data.get("provider_turn_id")))
            _overdue(event)
        elif event.type == "tool_call.requested":
            pending_tools[str(data["tool_call_id"])] = event
        elif event.type == "tool_call.completed":
            call_id = str(data.get("tool_call_id"))
            status = (data.get("outcome") or {}).get("status")
            if pending_tools.pop(call_id, None) is None:
                violate(
                    "core.tool_call.outcome",
                    event,
                    f"tool_call.completed for {call_id} without a pending request",
                    run_id=run_id,
                    subject=call_id,
                )
            if status not in ("succeeded", "failed"):
                violate(
                    "core.tool_call.outcome",
                    event,
                    f"outcome status {status!r} for {call_id}",
                    run_id=run_id,
                    subject=call_id,
                    expected="succeeded | failed",
                    found=status,
                )
        if _is_terminal(event):
            _overdue(event)
            terminal[run_id] = event
    for run_id in sorted(runs_created - set(terminal)):
        violate(
            "core.run.single_terminal",
            None,
            f"run {run_id} has no terminal event",
            run_id=run_id,
            expected="a run.updated with status " + ", ".join(sorted(TERMINAL_RUN_STATUSES)),
            found=None,
        )
    for call_id, requested in pending_tools.items():
        violate(
            "core.tool_call.outcome",
            requested,
            f"tool call {call_id} was requested but never completed",
            run_id=requested.run_id,
            subject=call_id,
        )
    with contextlib.suppress(StopIteration):
        runtime.send(None)
    return out + later


def _runtime_rules(violate: Any) -> Generator[None, StoredEvent | None, None]:
    """The integrity rules over entity snapshots, as a fold: send each event, then ``None`` to
    run the end-of-log checks. A log without snapshots (HTTP runs) passes trivially."""
    seen: dict[str, dict[str, dict[str, Any]]] = {}
    item_order: dict[str, list[str]] = {}
    # thread id -> run id -> the run's position in first-seen order, for runs now active: the
    # single-active-run rule then looks at a thread's few active runs, not at every run.
    active_runs: dict[Any, dict[str, int]] = {}
    run_threads: dict[str, Any] = {}
    run_positions: dict[str, int] = {}
    while (event := (yield)) is not None:
        entity_type = _RUNTIME_ENTITIES.get(event.type)
        if entity_type is None:
            continue
        collection, key, references = entity_type
        data = event.data
        entity_id = str(data.get(key))
        store = seen.setdefault(collection, {})
        previous = store.get(entity_id)
        for field_name, target in references.items():
            ref = data.get(field_name)
            if ref is None:
                continue
            if target == "turn_items_or_pending":
                continue  # a node is stored just before the item that names it
            if target == collection and ref == entity_id:
                continue
            if str(ref) not in seen.get(target, {}):
                violate(
                    "integrity.reference",
                    event,
                    f"{event.type} {entity_id}: {field_name} {ref!r} names no stored {target[:-1].replace('_', ' ')}",
                    run_id=event.run_id,
                    subject=entity_id,
                    expected=f"an existing {target}",
                    found=ref,
                )
        final = _FINAL.get(collection)
        if (
            final is not None
            and previous is not None
            and previous.get("status") in final
            and data.get("status") != previous.get("status")
        ):
            violate(
                "integrity.status.absorbing",
                event,
                f"{collection[:-1].replace('_', ' ')} {entity_id} went from terminal {previous['status']!r} to "
                f"{data.get('status')!r}",
                run_id=event.run_id,
                subject=entity_id,
                expected=previous["status"],
                found=data.get("status"),
            )
        if collection == "turn_items":
            order = item_order.setdefault(str(data.get("run_id")), [])
            if previous is None:
                order.append(entity_id)
                if data.get("ordinal") != len(order):
                    violate(
                        "integrity.turn_item.ordered",
                        event,
                        f"turn item {entity_id} is the run's item {len(order)} but has ordinal {data.get('ordinal')}",
                        run_id=event.run_id,
                        subject=entity_id,
                        expected=len(order),
                        found=data.get("ordinal"),
                    )
            elif previous.get("ordinal") != data.get("ordinal"):
                violate(
                    "integrity.turn_item.ordered",
                    event,
                    f"turn item {entity_id} changed its ordinal from {previous.get('ordinal')} "
                    f"to {data.get('ordinal')}",
                    run_id=event.run_id,
                    subject=entity_id,
                    expected=previous.get("ordinal"),
                    found=data.get("ordinal"),
                )
        store[entity_id] = data
        if collection == "runs":
            thread_key = data.get("thread_id")
            if not isinstance(thread_key, str | int | float | None):
                thread_key = repr(thread_key)  # a malformed log: any JSON value, compared by its text
            if entity_id in run_threads:
                active_runs.get(run_threads[entity_id], {}).pop(entity_id, None)
            run_threads[entity_id] = thread_key
            position = run_positions.setdefault(entity_id, len(run_positions))
            others = active_runs.setdefault(thread_key, {})
            # The first (in first-seen order) of the thread's other active runs, as a scan would find.
            if data.get("status") in ACTIVE_RUN_STATUSES:
                if others:
                    first = store[min(others, key=others.__getitem__)]
                    violate(
                        "integrity.thread.single_active_run",
                        event,
                        f"run {entity_id} is {data.get('status')} while run {first['run_id']} is "
                        f"{first['status']} in thread {data.get('thread_id')}",
                        run_id=event.run_id,
                        subject=entity_id,
                    )
                others[entity_id] = position
        if collection == "runtime_requests":
            node = seen.get("nodes", {}).get(str(data.get("node_id")))
            wanted = _REQUEST_NODES.get(str(data.get("kind")), "approval_request")
            if node is not None and node.get("kind") != wanted:
                violate(
                    "integrity.request.node",
                    event,
                    f"{data.get('kind')} request {entity_id} points at a {node.get('kind')} node",
                    run_id=event.run_id,
                    subject=entity_id,
                    expected=wanted,
                    found=node.get("kind"),
                )
        if event.type == "run.updated" and data.get("status") in _FINAL["runs"]:
            _check_finished_run(event, seen, violate)
    nodes = seen.get("nodes", {})
    for run_id, run in seen.get("runs", {}).items():
        if run.get("active_attempt_id") is None:
            continue  # queued, never started
        root = nodes.get(str(run.get("root_node_id")))
        if (
            root is None
            or root.get("kind") != "root_turn"
            or root.get("run_id") != run_id
            or not root.get("counts_for_run")
        ):
            violate(
                "integrity.run.root_node",
                None,
                f"run {run_id} has no root_turn node of its own (root_node_id {run.get('root_node_id')!r})",
                run_id=run_id,
                subject=run_id,
            )


def _check_finished_run(event: StoredEvent, seen: dict[str, dict[str, dict[str, Any]]], violate: Any) -> None:
    run = event.data
    status = run.get("status")
    attempt = seen.get("attempts", {}).get(str(run.get("active_attempt_id")))
    parts: list[tuple[str, Any]] = []
    if attempt is not None:
        parts.append(("attempt", attempt))
        turn = seen.get("provider_turns", {}).get(str(attempt.get("provider_turn_id")))
        if turn is not None:
            parts.append(("provider turn", turn))
    root = seen.get("nodes", {}).get(str(run.get("root_node_id")))
    if root is not None:
        parts.append(("root node", root))
    for name, entity in parts:
        found = entity.get("status")
        if name == "provider turn" and found in TERMINAL_RUN_STATUSES:
            # A provider turn need only be over: an HTTP loop may end its run after its last turn
            # completed (an output tool ran, the loop limit, the end of a capture).
            continue
        if found != status:
            violate(
                "integrity.run.terminal_consistent",
                event,
                f"run {run.get('run_id')} ended {status!r} but its {name} is {entity.get('status')!r}",
                run_id=event.run_id,
                subject=str(run.get("run_id")),
                expected=status,
                found=entity.get("status"),
            )
