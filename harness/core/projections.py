"""Projections: read models computed as a left fold of the event log.

The orchestrator keeps a live :class:`Projection` by applying each event as it is stored;
:func:`fold` rebuilds the same thing from a stored log. The two must always be equal, which is
what makes the log (and not the live state) the source of truth.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from harness.core.events import StoredEvent
from harness.text import TextBuffer


class Projection:
    """Threads, runs, messages, items and tool calls, keyed by id, in creation order.

    Streamed text is kept as fragments until something reads ``items`` or ``messages`` (or a
    later event needs the text), then joined once: appending each ``item.delta`` to the whole
    text so far would make a long stream quadratic.
    """

    def __init__(self) -> None:
        self.threads: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, dict[str, Any]] = {}
        self._items: dict[str, dict[str, Any]] = {}
        self.tool_calls: dict[str, dict[str, Any]] = {}
        self.violations: list[dict[str, Any]] = []
        self.last_sequence = 0
        #: (entity, field) -> text fragments not yet added to ``entity[field]``, in arrival order.
        self._pending: dict[tuple[int, str], tuple[dict[str, Any], TextBuffer]] = {}

    @property
    def messages(self) -> dict[str, dict[str, Any]]:
        self._flush()
        return self._messages

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        self._flush()
        return self._items

    def _add_text(self, entity: dict[str, Any], key: str, text: str) -> None:
        slot = (id(entity), key)
        pending = self._pending.get(slot)
        if pending is None:
            pending = self._pending[slot] = (entity, TextBuffer())
        pending[1].append(text)

    def _flush(self) -> None:
        if self._pending:
            for (_, key), (entity, buffer) in self._pending.items():
                entity[key] += buffer.text
            self._pending.clear()

    def apply(self, event: StoredEvent) -> None:
        """Fold one event into the projection."""
        if event.sequence != self.last_sequence + 1:
            raise ValueError(f"event {event.sequence} applied after {self.last_sequence}: the log has a gap")
        self.last_sequence = event.sequence
        data = event.data
        kind = event.type
        if kind == "item.delta":
            if data["kind"] in ("text", "reasoning"):
                item = self._items[data["item_id"]]
                text = data.get("text", "")
                self._add_text(item, "text", text)
                # The message is choice 0; other choices of an n > 1 response live in its items.
                if not item.get("choice"):
                    message = self._messages[item["response_id"]]
                    self._add_text(message, "text" if data["kind"] == "text" else "reasoning", text)
            elif data["item_id"] not in self._items:
                raise KeyError(data["item_id"])  # a delta for an item never started: a broken log
            return
        self._flush()
        if kind == "thread.created":
            self.threads[data["thread_id"]] = {
                "thread_id": data["thread_id"],
                "title": data.get("title"),
                "protocol": data.get("protocol"),
                "runs": [],
                "messages": [],
            }
        elif kind == "message.added":
            message = {
                "message_id": data["message_id"],
                "thread_id": event.thread_id,
                "run_id": None,
                "role": data["role"],
                "text": data.get("text", ""),
            }
            self._messages[data["message_id"]] = message
            if event.thread_id in self.threads:
                self.threads[event.thread_id]["messages"].append(data["message_id"])
        elif kind == "run.created":
            self.runs[data["run_id"]] = {
                "run_id": data["run_id"],
                "thread_id": event.thread_id,
                "ordinal": data["ordinal"],
                "message_id": data["message_id"],
                "status": "created",
                "requests": 0,
                "responses": [],
                "stop_reason": None,
                "error": None,
            }
            self.threads[event.thread_id or ""]["runs"].append(data["run_id"])
            if data["message_id"] in self._messages:
                self._messages[data["message_id"]]["run_id"] = data["run_id"]
        elif kind == "run.started":
            self.runs[event.run_id or ""]["status"] = "running"
        elif kind == "request.sent":
            self.runs[event.run_id or ""]["requests"] += 1
        elif kind == "response.started":
            response_id = data["response_id"]
            self._messages[response_id] = {
                "message_id": response_id,
                "thread_id": event.thread_id,
                "run_id": event.run_id,
                "role": "assistant",
                "text": "",
                "reasoning": "",
                "items": [],
                "status": "streaming",
                "stop_reason": None,
                "usage": {},
            }
            self.runs[event.run_id or ""]["responses"].append(response_id)
            self.threads[event.thread_id or ""]["messages"].append(response_id)
        elif kind == "item.started":
            self._items[data["item_id"]] = {**data, "text": "", "status": "streaming"}
            self._messages[data["response_id"]]["items"].append(data["item_id"])
        elif kind == "item.completed":
            item = self._items[data["item_id"]]
            final = data["item"]
            item["status"] = "completed" if final.get("complete", True) else "incomplete"
            item["final"] = final
            if "text" in final and final["text"] == item["text"]:
                item["text"] = final["text"]  # the same string: keep one copy of a long text, not two
                message = self._messages[item["response_id"]]
                field = "text" if item.get("kind") == "text" else "reasoning"
                if not item.get("choice") and message.get(field) == item["text"]:
                    message[field] = item["text"]
            elif "text" in final:
                # Text may arrive whole in the block start (non-streamed bodies): the final item wins.
                item["text"] = final["text"]
                message = self._messages[item["response_id"]]
                parts = [self._items[i] for i in message["items"] if not self._items[i].get("choice")]
                message["text"] = "".join(p["text"] for p in parts if p["kind"] == "text")
                message["reasoning"] = "".join(p["text"] for p in parts if p["kind"] == "reasoning")
        elif kind == "response.completed":
            message = self._messages[data["response_id"]]
            message.update(status="completed", stop_reason=data["stop_reason"], usage=data["usage"])
        elif kind == "response.failed":
            if data["response_id"] in self._messages:
                self._messages[data["response_id"]]["status"] = "failed"
        elif kind == "protocol.violation":
            self.violations.append({"run_id": event.run_id, **data})
        elif kind == "tool_call.requested":
            self.tool_calls[data["tool_call_id"]] = {
                "tool_call_id": data["tool_call_id"],
                "run_id": event.run_id,
                "name": data["name"],
                "arguments": data["arguments"],
                "status": "requested",
                "outcome": None,
            }
        elif kind == "tool_call.completed":
            call = self.tool_calls[data["tool_call_id"]]
            call["status"] = data["outcome"]["status"]
            call["outcome"] = data["outcome"]
        elif kind in ("run.completed", "run.failed", "run.interrupted", "run.cancelled"):
            run = self.runs[event.run_id or ""]
            run["status"] = kind.split(".", 1)[1]
            run["stop_reason"] = data.get("stop_reason")
            run["error"] = data.get("error")

    def to_json(self) -> dict[str, Any]:
        """A deep copy as plain JSON, for comparison and reports."""
        self._flush()
        return copy.deepcopy(
            {
                "threads": self.threads,
                "runs": self.runs,
                "messages": self.messages,
                "items": self.items,
                "tool_calls": self.tool_calls,
                "violations": self.violations,
                "last_sequence": self.last_sequence,
            }
        )


def fold(events: Iterable[StoredEvent]) -> Projection:
    """Rebuild a projection from a stored event log."""
    projection = Projection()
    for event in events:
        projection.apply(event)
    return projection
