"""Protocol invariants of the event log, as data.

Each rule has a stable id, a severity and a one-line contract (:data:`RULES`).
:func:`check_invariants` returns structured :class:`Violation` records; pytest failures, CLI exit
codes, DuckDB tables and reports are all views of that one list. The checker works on any event
log in the documented format, not only on ones this harness produced.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from harness.core.events import EVENT_TYPES, TERMINAL_RUN_EVENTS, StoredEvent

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
            "core.response.single_terminal",
            "error",
            "every response ends once: response.completed after its response.started, or one response.failed",
        ),
        Rule(
            "core.item.lifecycle",
            "error",
            "item.delta and item.completed follow the item's item.started, and nothing follows item.completed",
        ),
        Rule(
            "core.tool_call.outcome",
            "error",
            "every tool_call.requested gets exactly one tool_call.completed whose outcome is succeeded or failed",
        ),
        Rule(
            "core.tool_call.before_next_request",
            "error",
            "a run's tool calls complete before its next request.sent and before its terminal event",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: where (event index = sequence), which ids, what was expected and found."""

    rule: str
    severity: Severity
    sequence: int | None
    message: str
    run_id: str | None = None
    subject: str | None = None
    expected: Any = None
    found: Any = None

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


def check_invariants(events: Iterable[StoredEvent]) -> list[Violation]:
    """Every invariant violation in an event log, in log order."""
    out: list[Violation] = []

    def violate(rule: str, event: StoredEvent | None, message: str, **extra: Any) -> None:
        out.append(Violation(rule, RULES[rule].severity, event.sequence if event else None, message, **extra))

    expected_sequence = 1
    last_at = 0
    runs_created: set[str] = set()
    terminal: dict[str, StoredEvent] = {}
    open_responses: dict[str, StoredEvent] = {}
    closed_responses: set[str] = set()
    items: dict[str, str] = {}  # item_id -> "open" | "completed"
    pending_tools: dict[str, StoredEvent] = {}
    for event in events:
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
            if event.type in TERMINAL_RUN_EVENTS:
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
        if event.type == "response.started":
            open_responses[str(data["response_id"])] = event
        elif event.type in ("response.completed", "response.failed"):
            response_id = str(data.get("response_id"))
            was_open = open_responses.pop(response_id, None) is not None
            # A response may fail before it starts (an HTTP error, an empty stream); it may not
            # complete without starting, and it may end only once.
            if response_id in closed_responses or (event.type == "response.completed" and not was_open):
                why = "already ended" if response_id in closed_responses else "never started"
                violate(
                    "core.response.single_terminal",
                    event,
                    f"{event.type} for response {response_id}, which {why}",
                    run_id=run_id,
                    subject=response_id,
                )
            closed_responses.add(response_id)
        elif event.type == "item.started":
            items[str(data["item_id"])] = "open"
        elif event.type in ("item.delta", "item.completed"):
            item_id = str(data.get("item_id"))
            state = items.get(item_id)
            if state != "open":
                why = "was never started" if state is None else "already completed"
                violate(
                    "core.item.lifecycle",
                    event,
                    f"{event.type} for item {item_id}, which {why}",
                    run_id=run_id,
                    subject=item_id,
                )
            if event.type == "item.completed":
                items[item_id] = "completed"
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
        elif event.type == "request.sent" or event.type in TERMINAL_RUN_EVENTS:
            for call_id, requested in list(pending_tools.items()):
                if requested.run_id == run_id:
                    violate(
                        "core.tool_call.before_next_request",
                        event,
                        f"{event.type} while tool call {call_id} (requested at sequence "
                        f"{requested.sequence}) has no outcome",
                        run_id=run_id,
                        subject=call_id,
                    )
                    del pending_tools[call_id]
        if event.type in TERMINAL_RUN_EVENTS:
            terminal[run_id] = event
            for response_id, started in list(open_responses.items()):
                if started.run_id == run_id:
                    violate(
                        "core.response.single_terminal",
                        event,
                        f"run ended while response {response_id} never completed or failed",
                        run_id=run_id,
                        subject=response_id,
                    )
                    del open_responses[response_id]
    for run_id in sorted(runs_created - set(terminal)):
        violate(
            "core.run.single_terminal",
            None,
            f"run {run_id} has no terminal event",
            run_id=run_id,
            expected="one of " + ", ".join(sorted(TERMINAL_RUN_EVENTS)),
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
    return out
