"""Anthropic Messages API adapter: SSE frames to canonical provider events, and back to requests.

The meaning of a stream follows the official SDK's accumulator (``anthropic.lib.streaming``):
event names dispatch, ``ping`` and unknown events change nothing, ``input_json_delta`` fragments
concatenate and parse as JSON (partially, with ``jiter``, when the block never closes), usage on
``message_delta`` overwrites ``message_start``'s (it is cumulative), and ``event: error`` fails
the response with the provider's error type and message.

Where the SDK silently tolerates a broken stream, this adapter names the broken rule instead
(:data:`RULES`): a second ``message_start``, a delta for a block that was never started, a stream
that stops without ``message_stop``, a block left open by anything but ``max_tokens``. A value
the reader uses that has another JSON type than the API gives it (``"delta": 3``, ``"index":
false``, ``"text": null``) fails the response with ``anthropic.frame.shape``, whose message names
the JSON path inside the entry (``$.frame.data.delta``), what was expected and what was found.
"""

from __future__ import annotations

from typing import Any

import jiter
import orjson

from harness.adapters.base import (
    AssistantMessage,
    AssistantTurn,
    ContentItem,
    ConversationTurn,
    FrameShapeError,
    ItemCompleted,
    ItemDelta,
    ItemKind,
    ItemStarted,
    NextStep,
    ProtocolViolation,
    ProviderEvent,
    RequestTemplate,
    ResponseCompleted,
    ResponseFailed,
    ResponseStarted,
    ToolResult,
    ToolResultsTurn,
    UnrecognizedFrame,
    UserTurn,
    expect,
    json_path,
    request_template,
    wire_field,
)

PROTOCOL = "anthropic.messages"

#: Every protocol rule this adapter can report, with its one-line contract.
RULES: dict[str, str] = {
    "anthropic.message_start.duplicate": "message_start appears exactly once per message",
    "anthropic.message_start.spliced": "a new message_start may not arrive while a message is open",
    "anthropic.message_start.missing": "message_start comes before every other message event",
    "anthropic.content_block.index": "content_block_start indexes start at 0 and increase by 1",
    "anthropic.content_block.unknown_index": "deltas and stops name a block that was started",
    "anthropic.content_block.delta_after_stop": "no delta arrives for a block after its stop",
    "anthropic.content_block.unclosed": "every block is stopped before message_stop unless max_tokens cut it",
    "anthropic.delta.type_mismatch": "a delta type fits its block type (text_delta on text, ...)",
    "anthropic.tool_input.invalid_json": "a closed tool block's input_json_delta fragments form valid JSON",
    "anthropic.message_delta.missing": "a message_delta comes before message_stop",
    "anthropic.stream.truncated": "a stream ends with message_stop or an error event",
    "anthropic.stream.empty": "a response carries at least one event",
    "anthropic.sse.event_mismatch": "the SSE event name equals data.type",
    "anthropic.frame.unexpected": "frames after message_stop or error belong to the next response",
    "anthropic.frame.shape": (
        "every value the adapter reads has its wire type (data and blocks are objects, index an integer, "
        "text a string, usage counts integers, ...)"
    ),
}

_TOOL_BLOCKS = {"tool_use": "tool_call", "server_tool_use": "server_tool_call", "mcp_tool_use": "server_tool_call"}
_DELTA_FITS = {
    "text_delta": ("text",),
    "citations_delta": ("text",),
    "thinking_delta": ("thinking",),
    "signature_delta": ("thinking",),
    "input_json_delta": tuple(_TOOL_BLOCKS),
}


def _block_kind(block_type: str) -> ItemKind:
    if block_type == "text":
        return "text"
    if block_type == "thinking":
        return "reasoning"
    if block_type == "redacted_thinking":
        return "redacted_reasoning"
    if block_type in _TOOL_BLOCKS:
        return "tool_call" if block_type == "tool_use" else "server_tool_call"
    if block_type.endswith("_tool_result"):
        return "server_tool_result"
    return "other"


def _parse_json(buffer: str, *, partial: bool) -> Any:
    # jiter is what the SDK uses, so numbers and partial values come out the same way.
    return jiter.from_json(buffer.encode(), partial_mode=partial)


# -- wire shapes: what each value the reader uses must be (FrameShapeError otherwise) ----------------

#: Usage counts the canonical message reads; other usage fields (objects, strings) pass as they are.
_USAGE_COUNTS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
#: Required string field of each delta type this reader applies.
_DELTA_TEXT = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "signature_delta": "signature",
    "input_json_delta": "partial_json",
}


def _check_usage(container: dict[str, Any], key: str, path: str) -> None:
    usage = wire_field(container, key, path, "object", "null")
    for count in _USAGE_COUNTS if usage else ():
        wire_field(usage, count, json_path(path, key), "integer", "null")


def _check_message(message: dict[str, Any], path: str) -> None:
    """``message_start.message`` (or a non-streamed body): id, model, usage, stop and content blocks."""
    wire_field(message, "id", path, "string", "null")
    wire_field(message, "model", path, "string", "null")
    _check_usage(message, "usage", path)
    _check_stop(message, path)
    for position, block in enumerate(wire_field(message, "content", path, "array", "null") or []):
        _check_block(block, json_path(path, "content", position))


def _check_block(block: Any, path: str) -> None:
    """A content block as ``content_block_start`` (or a body's ``content``) gives it."""
    expect(block, path, "object")
    block_type = wire_field(block, "type", path, "string", required=True)
    if block_type == "text":
        wire_field(block, "text", path, "string")
        wire_field(block, "citations", path, "array", "null")
    elif block_type == "thinking":
        wire_field(block, "thinking", path, "string")
        wire_field(block, "signature", path, "string", "null")
    elif block_type in _TOOL_BLOCKS:
        wire_field(block, "id", path, "string", required=True)
        wire_field(block, "name", path, "string", required=True)
        wire_field(block, "input", path, "object")


def _check_stop(delta: dict[str, Any], path: str) -> None:
    wire_field(delta, "stop_reason", path, "string", "null")
    wire_field(delta, "stop_sequence", path, "string", "null")


def check_event(name: str, data: dict[str, Any], path: str = "$.frame.data") -> None:
    """Raise :class:`FrameShapeError` when a value of event ``name`` that the reader uses has
    another JSON type than the Messages API gives it (``path`` is where ``data`` is)."""
    if name == "error":
        error = wire_field(data, "error", path, "object")
        if error:
            wire_field(error, "type", json_path(path, "error"), "string")
            wire_field(error, "message", json_path(path, "error"), "string")
    elif name == "message_start":
        _check_message(wire_field(data, "message", path, "object", required=True), json_path(path, "message"))
    elif name == "content_block_start":
        wire_field(data, "index", path, "integer", required=True)
        _check_block(data.get("content_block"), json_path(path, "content_block"))
    elif name == "content_block_delta":
        # The common case first, checked in one expression: an index and a text or JSON fragment.
        delta = data.get("delta")
        if type(data.get("index")) is int and type(delta) is dict:
            kind = delta.get("type")
            # A type of another JSON type (a list is not even hashable) falls through to the checks below.
            field = _DELTA_TEXT.get(kind) if type(kind) is str else None
            if field is not None and type(delta.get(field)) is str:
                return
        wire_field(data, "index", path, "integer", required=True)
        delta = wire_field(data, "delta", path, "object", required=True)
        delta_path = json_path(path, "delta")
        delta_type = wire_field(delta, "type", delta_path, "string", required=True)
        if delta_type in _DELTA_TEXT:
            wire_field(delta, _DELTA_TEXT[delta_type], delta_path, "string", required=True)
        elif delta_type == "citations_delta":
            wire_field(delta, "citation", delta_path, "object", required=True)
    elif name == "content_block_stop":
        wire_field(data, "index", path, "integer", required=True)
    elif name == "message_delta":
        delta = wire_field(data, "delta", path, "object", "null")
        if delta:
            _check_stop(delta, json_path(path, "delta"))
        _check_usage(data, "usage", path)


def check_body(body: dict[str, Any], path: str = "$.frame.body") -> None:
    """A non-streamed ``message`` body, value by value as :func:`check_event` checks a stream."""
    _check_message(body, path)


class AnthropicResponseReader:
    """State machine for one Anthropic response (one HTTP exchange, or one message of a stream)."""

    def __init__(self) -> None:
        self.message = AssistantMessage()
        self.started = False
        self.start_data: Any = None
        self.open: dict[int, ContentItem] = {}
        self.stopped: set[int] = set()
        self.saw_message_delta = False
        self.http_status: int | None = None
        self._done = False
        self.frames_seen = 0

    @property
    def done(self) -> bool:
        return self._done

    # -- helpers ---------------------------------------------------------------------------

    def _fail(
        self,
        events: list[ProviderEvent],
        frame_index: int,
        rule: str,
        message: str,
        *,
        error_type: str = "protocol_violation",
        provider_error: Any = None,
    ) -> list[ProviderEvent]:
        if error_type == "protocol_violation":
            events.append(ProtocolViolation(rule=rule, message=message, frame_index=frame_index))
        events.append(
            ResponseFailed(
                error_type=error_type,
                message=message,
                partial=self.message,
                frame_index=frame_index,
                rule=rule if error_type == "protocol_violation" else None,
                provider_error=provider_error,
            )
        )
        self._done = True
        return events

    def _close_item(self, index: int, *, complete: bool) -> ContentItem:
        item = self.open.pop(index)
        buffer = item.arguments_json
        if item.kind in ("tool_call", "server_tool_call") and buffer:
            item.arguments = _parse_json(buffer, partial=not complete)
            if item.kind == "server_tool_call" and isinstance(item.block, dict):
                item.block["input"] = item.arguments  # the block as the SDK's final message has it
        item.complete = complete
        self.stopped.add(index)
        return item

    # -- frames ----------------------------------------------------------------------------

    def absorbs(self, frame: Any) -> bool:
        """Whether ``frame``, arriving after ``message_stop``, still belongs to this response: the
        ``data: [DONE]`` some gateways and proxies send after it (the SDK skips every SSE event
        without an event name, so it means nothing)."""
        return self._done and isinstance(frame, dict) and frame.get("kind") == "sse.done"

    def feed(self, frame: Any, frame_index: int) -> list[ProviderEvent]:
        """Apply one transcript frame (an ``http.*`` or ``sse`` frame dict)."""
        events: list[ProviderEvent] = []
        self.frames_seen += 1
        kind = frame.get("kind") if isinstance(frame, dict) else None
        if self._done:
            if self.absorbs(frame):
                return events
            events.append(
                ProtocolViolation(
                    rule="anthropic.frame.unexpected",
                    message=f"frame {kind or frame!r} arrived after the response ended",
                    frame_index=frame_index,
                    fatal=False,
                )
            )
            return events
        if kind == "http.response":
            self.http_status = int(frame["status"])
            return events
        if kind == "http.body":
            return self._feed_body(frame.get("body"), frame_index, events)
        if kind == "sse.done":
            return events
        if kind != "sse":
            events.append(UnrecognizedFrame(name=str(kind), frame=frame, frame_index=frame_index))
            return events
        data = frame.get("data")
        if not isinstance(data, dict):
            problem = FrameShapeError("$.frame.data", "an object (the event's JSON payload)", data)
            return self._fail(events, frame_index, "anthropic.frame.shape", str(problem))
        data_type = data.get("type")
        if not isinstance(data_type, str | None):
            problem = FrameShapeError("$.frame.data.type", "a string", data_type)
            return self._fail(events, frame_index, "anthropic.frame.shape", str(problem))
        name = frame.get("event") or data_type
        if frame.get("event") and data_type and frame["event"] != data_type:
            events.append(
                ProtocolViolation(
                    rule="anthropic.sse.event_mismatch",
                    message=f"SSE event {frame['event']!r} carries data.type {data_type!r}",
                    frame_index=frame_index,
                    fatal=False,
                )
            )
        return self._feed_event(str(name), data, frame_index, events)

    def _feed_body(self, body: Any, frame_index: int, events: list[ProviderEvent]) -> list[ProviderEvent]:
        if (isinstance(body, dict) and body.get("type") == "error") or (self.http_status or 200) >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            if not isinstance(error, dict):
                problem = FrameShapeError("$.frame.body.error", "an object", error)
                return self._fail(events, frame_index, "anthropic.frame.shape", str(problem))
            return self._fail(
                events,
                frame_index,
                "",
                str(error.get("message", f"HTTP {self.http_status}")),
                error_type=str(error.get("type", f"http_{self.http_status}")),
                provider_error=body,
            )
        if not isinstance(body, dict) or body.get("type") != "message":
            events.append(UnrecognizedFrame(name="http.body", frame=body, frame_index=frame_index))
            return events
        try:
            check_body(body)
        except FrameShapeError as problem:
            return self._fail(events, frame_index, "anthropic.frame.shape", str(problem))
        # A non-streamed message: replay it as the equivalent stream.
        self._feed_event("message_start", {"message": {**body, "content": []}}, frame_index, events)
        for index, block in enumerate(body.get("content") or []):
            start = dict(block)
            final_input = start.get("input")
            if start.get("type") in _TOOL_BLOCKS:
                start["input"] = {}
            self._feed_event("content_block_start", {"index": index, "content_block": start}, frame_index, events)
            if start.get("type") in _TOOL_BLOCKS and final_input:
                delta = {"type": "input_json_delta", "partial_json": orjson.dumps(final_input).decode()}
                self._feed_event("content_block_delta", {"index": index, "delta": delta}, frame_index, events)
            self._feed_event("content_block_stop", {"index": index}, frame_index, events)
        stop = {key: body.get(key) for key in ("stop_reason", "stop_sequence", "stop_details")}
        self._feed_event("message_delta", {"delta": stop, "usage": body.get("usage", {})}, frame_index, events)
        return self._feed_event("message_stop", {}, frame_index, events)

    def _feed_event(
        self, name: str, data: dict[str, Any], frame_index: int, events: list[ProviderEvent]
    ) -> list[ProviderEvent]:
        if name == "ping":
            return events
        try:
            check_event(name, data)
        except FrameShapeError as problem:
            return self._fail(events, frame_index, "anthropic.frame.shape", str(problem))
        if name == "error":
            error = data.get("error") if isinstance(data.get("error"), dict) else {}
            assert isinstance(error, dict)
            return self._fail(
                events,
                frame_index,
                "",
                str(error.get("message", "")),
                error_type=str(error.get("type", "error")),
                provider_error=data,
            )
        if name == "message_start":
            if self.started:
                duplicate = data == self.start_data
                rule = "anthropic.message_start.duplicate" if duplicate else "anthropic.message_start.spliced"
                what = "the same message_start again" if duplicate else "a new message_start"
                open_blocks = f" while block(s) {sorted(self.open)} are open" if self.open else ""
                return self._fail(events, frame_index, rule, f"{what} arrived mid-message{open_blocks}")
            self.started = True
            self.start_data = data
            message = data.get("message", {})
            self.message.native_id = message.get("id")
            self.message.model = message.get("model")
            self.message.usage = dict(message.get("usage") or {})
            # The snapshot the SDK starts from: its stop fields and blocks count until a later event
            # changes them.
            self.message.stop_reason = message.get("stop_reason")
            self.message.stop_sequence = message.get("stop_sequence")
            self.message.stop_details = message.get("stop_details")
            events.append(ResponseStarted(self.message.native_id, self.message.model, frame_index))
            # Programmatic tool calling sends whole blocks here (the tool_use calls the code execution
            # tool made, input included); streamed blocks' indexes continue after them.
            for block in message.get("content") or []:
                item = self._add_item(len(self.message.items), dict(block), frame_index, events)
                if item.kind in ("tool_call", "server_tool_call"):
                    item.arguments = block.get("input", {})
                item.complete = True
                self.stopped.add(item.index)
                events.append(ItemCompleted(item, frame_index))
            return events
        if name not in (
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ):
            events.append(UnrecognizedFrame(name=name, frame=data, frame_index=frame_index))
            return events
        if not self.started:
            return self._fail(
                events, frame_index, "anthropic.message_start.missing", f"{name} arrived before message_start"
            )
        if name == "content_block_start":
            return self._block_start(data, frame_index, events)
        if name == "content_block_delta":
            return self._block_delta(data, frame_index, events)
        if name == "content_block_stop":
            index = data.get("index")
            if not isinstance(index, int) or index not in self.open:
                return self._fail(
                    events,
                    frame_index,
                    "anthropic.content_block.unknown_index",
                    f"content_block_stop for block {index!r}, which is not open",
                )
            try:
                item = self._close_item(index, complete=True)
            except ValueError as exc:
                return self._fail(
                    events,
                    frame_index,
                    "anthropic.tool_input.invalid_json",
                    f"tool block {index} input is not valid JSON ({exc}): {self.message.items[index].arguments_json!r}",
                )
            events.append(ItemCompleted(item, frame_index))
            return events
        if name == "message_delta":
            self.saw_message_delta = True
            delta = data.get("delta") or {}
            self.message.stop_reason = delta.get("stop_reason")
            self.message.stop_sequence = delta.get("stop_sequence")
            self.message.stop_details = delta.get("stop_details")
            # Usage on message_delta is cumulative: values overwrite; absent ones keep message_start's.
            # output_tokens is always taken, as the SDK's accumulator does.
            for key, value in (data.get("usage") or {}).items():
                if value is not None or key == "output_tokens":
                    self.message.usage[key] = value
            return events
        # message_stop
        return self._message_stop(frame_index, events)

    def _block_start(self, data: dict[str, Any], frame_index: int, events: list[ProviderEvent]) -> list[ProviderEvent]:
        index = data.get("index")
        block = dict(data.get("content_block") or {})
        if index != len(self.message.items):
            return self._fail(
                events,
                frame_index,
                "anthropic.content_block.index",
                f"content_block_start index {index!r}, expected {len(self.message.items)}",
            )
        item = self._add_item(index, block, frame_index, events)
        self.open[index] = item
        if item.kind in ("redacted_reasoning", "server_tool_result"):
            # These arrive complete in their start event; no deltas follow.
            item.complete = True
        return events

    def _add_item(
        self, index: int, block: dict[str, Any], frame_index: int, events: list[ProviderEvent]
    ) -> ContentItem:
        """Append the item of content block ``block`` (as a start event or ``message_start`` gives it)."""
        block_type = str(block.get("type", ""))
        kind = _block_kind(block_type)
        item = ContentItem(index=index, kind=kind, block_type=block_type, block=block)
        if kind == "text":
            item.text = str(block.get("text", ""))
            item.citations = list(block.get("citations") or [])
        elif kind == "reasoning":
            item.text = str(block.get("thinking", ""))
            item.signature = block.get("signature") or None
        elif kind in ("tool_call", "server_tool_call"):
            item.native_id = block.get("id")
            item.name = block.get("name")
            item.arguments = block.get("input", {})
        self.message.items.append(item)
        events.append(ItemStarted(index, kind, block_type, item.native_id, item.name, frame_index))
        return item

    def _block_delta(self, data: dict[str, Any], frame_index: int, events: list[ProviderEvent]) -> list[ProviderEvent]:
        index = data.get("index")
        delta = data.get("delta") or {}
        delta_type = str(delta.get("type", ""))
        if not isinstance(index, int) or index not in self.open:
            rule = (
                "anthropic.content_block.delta_after_stop"
                if index in self.stopped
                else "anthropic.content_block.unknown_index"
            )
            return self._fail(
                events, frame_index, rule, f"{delta_type or 'delta'} for block {index!r}, which is not open"
            )
        item = self.open[index]
        fits = _DELTA_FITS.get(delta_type)
        if fits is not None and item.block_type not in fits:
            return self._fail(
                events,
                frame_index,
                "anthropic.delta.type_mismatch",
                f"{delta_type} for block {index}, which is a {item.block_type} block",
            )
        if delta_type == "text_delta":
            text = str(delta.get("text", ""))
            item.append_text(text)
            events.append(ItemDelta(index, "text", text, None, frame_index))
        elif delta_type == "thinking_delta":
            text = str(delta.get("thinking", ""))
            item.append_text(text)
            events.append(ItemDelta(index, "reasoning", text, None, frame_index))
        elif delta_type == "signature_delta":
            item.signature = str(delta.get("signature", ""))
            events.append(ItemDelta(index, "signature", "", item.signature, frame_index))
        elif delta_type == "citations_delta":
            item.citations.append(delta.get("citation"))
            events.append(ItemDelta(index, "citation", "", delta.get("citation"), frame_index))
        elif delta_type == "input_json_delta":
            fragment = str(delta.get("partial_json", ""))
            item.append_arguments(fragment)
            events.append(ItemDelta(index, "arguments", fragment, None, frame_index))
        else:
            if delta_type == "compaction_delta" and item.block_type == "compaction":
                # As the SDK's beta accumulator does: the delta sets the block's content, and the
                # block goes back to the API verbatim on the next request.
                item.block.update({k: v for k, v in delta.items() if k != "type"})
            # Future delta types: carried through, content unchanged.
            events.append(ItemDelta(index, "other", "", delta, frame_index))
        return events

    def _message_stop(self, frame_index: int, events: list[ProviderEvent]) -> list[ProviderEvent]:
        if not self.saw_message_delta:
            return self._fail(
                events, frame_index, "anthropic.message_delta.missing", "message_stop arrived without a message_delta"
            )
        if self.open:
            if self.message.stop_reason != "max_tokens":
                return self._fail(
                    events,
                    frame_index,
                    "anthropic.content_block.unclosed",
                    f"message_stop with block(s) {sorted(self.open)} still open "
                    f"(stop_reason {self.message.stop_reason!r})",
                )
            # Truncated by max_tokens: the SDK keeps what partially parses; so do we.
            for index in sorted(self.open):
                try:
                    item = self._close_item(index, complete=False)
                except ValueError as exc:
                    # Not even a prefix of JSON (the SDK raises here too): name it, do not crash.
                    return self._fail(
                        events,
                        frame_index,
                        "anthropic.tool_input.invalid_json",
                        f"tool block {index} input cut off by max_tokens is not partial JSON ({exc}): "
                        f"{self.message.items[index].arguments_json!r}",
                    )
                events.append(ItemCompleted(item, frame_index))
        events.append(ResponseCompleted(self.message, frame_index))
        self._done = True
        return events

    def finish(self, frame_index: int) -> list[ProviderEvent]:
        if self._done:
            return []
        events: list[ProviderEvent] = []
        if self.frames_seen == 0:
            return self._fail(events, frame_index, "anthropic.stream.empty", "the response carried no events")
        where = "before message_start" if not self.started else "before message_stop"
        return self._fail(events, frame_index, "anthropic.stream.truncated", f"the stream ended {where}")


def _assistant_block(item: ContentItem) -> dict[str, Any]:
    """Render one item of a previous response the way the Messages API expects it back."""
    if item.kind == "text":
        return {"type": "text", "text": item.text}
    if item.kind == "reasoning":
        return {"type": "thinking", "thinking": item.text, "signature": item.signature or ""}
    if item.kind in ("tool_call", "server_tool_call"):
        # A client tool call is always tool_use on this wire, whatever protocol the item came from.
        block_type = "tool_use" if item.kind == "tool_call" else item.block_type
        block = {"type": block_type, "id": item.native_id, "name": item.name, "input": item.arguments}
        if "server_name" in item.block:
            block["server_name"] = item.block["server_name"]
        caller = item.block.get("caller")
        if isinstance(caller, dict) and caller.get("type") != "direct":
            # A call made by the code execution tool (programmatic tool calling) goes back with the
            # caller that links it to that tool's run; a direct caller is the default and is left out.
            block["caller"] = caller
        return block
    return dict(item.block)


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _tool_result_block(result: Any) -> dict[str, Any]:
    if result.status == "succeeded":
        output = result.output
        if result.verbatim or isinstance(output, list):
            content = output
        else:
            content = [{"type": "text", "text": output if isinstance(output, str) else json_text(output)}]
        return {"type": "tool_result", "tool_use_id": result.native_id, "content": content, "is_error": False}
    return {
        "type": "tool_result",
        "tool_use_id": result.native_id,
        "content": [{"type": "text", "text": str(result.error)}],
        "is_error": True,
    }


class AnthropicMessagesAdapter:
    """The ``anthropic.messages`` adapter."""

    protocol = PROTOCOL

    def build_request(self, template: RequestTemplate, conversation: list[ConversationTurn]) -> dict[str, Any]:
        """The ``http.request`` frame for the next request of the agent loop."""
        messages: list[dict[str, Any]] = []
        for turn in conversation:
            if isinstance(turn, UserTurn):
                content = turn.content if turn.content is not None else [{"type": "text", "text": turn.text}]
                messages.append({"role": "user", "content": content})
            elif isinstance(turn, AssistantTurn):
                blocks = [_assistant_block(i) for i in turn.message.items]
                messages.append({"role": "assistant", "content": blocks})
            else:
                assert isinstance(turn, ToolResultsTurn)
                messages.append({"role": "user", "content": [_tool_result_block(r) for r in turn.results]})
        return {
            "kind": "http.request",
            "method": template.method,
            "path": template.path,
            "query": dict(template.query),
            "headers": dict(template.headers),
            "body": {**template.params, "messages": messages},
        }

    def next_step(self, message: AssistantMessage) -> NextStep:
        if message.stop_reason == "tool_use":
            return "run_tools"
        # pause_turn: a long server-tool turn was paused; send the content back to let it resume.
        if message.stop_reason == "pause_turn":
            return "continue"
        return "stop"

    def split_request(self, frame: Any) -> tuple[RequestTemplate, UserTurn]:
        template, body = request_template(frame)
        messages = wire_field(body, "messages", "$.frame.body", "array")
        template.params.pop("messages", None)
        for position, message in enumerate(messages or []):
            path = json_path("$.frame.body.messages", position)
            expect(message, path, "object")
            wire_field(message, "role", path, "string")
            content = wire_field(message, "content", path, "string", "array")
            for block_position, block in enumerate(content if isinstance(content, list) else []):
                block_path = json_path(path, "content", block_position)
                expect(block, block_path, "object")
                if block.get("type") == "text":
                    wire_field(block, "text", block_path, "string", required=True)
        if not (isinstance(messages, list) and len(messages) == 1 and messages[0].get("role") == "user"):
            count = len(messages) if isinstance(messages, list) else 0
            raise ValueError(f"the first recorded request carries {count} messages, not one user message")
        content = messages[0].get("content")
        if (
            isinstance(content, list)
            and len(content) == 1
            and content[0] == {"type": "text", "text": content[0].get("text")}
        ):
            return template, UserTurn(text=content[0]["text"])
        if isinstance(content, str):
            return template, UserTurn(text=content, content=content)
        text = "".join(b.get("text", "") for b in content or [] if isinstance(b, dict))
        return template, UserTurn(text=text, content=content)

    def recorded_tool_result(self, frame: Any, call: ContentItem) -> ToolResult | None:
        body = frame.get("body") if isinstance(frame, dict) else None
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
            return None
        content = messages[-1].get("content")
        for block in content if isinstance(content, list) else []:
            if (
                isinstance(block, dict)
                and block.get("type") == "tool_result"
                and block.get("tool_use_id") == call.native_id
            ):
                result = block.get("content")
                name = call.name or ""
                if block.get("is_error"):
                    parts = result if isinstance(result, list) else [{"text": str(result)}]
                    error = "".join(str(b.get("text", "")) for b in parts if isinstance(b, dict))
                    return ToolResult(call.native_id, name, "failed", error=error)
                return ToolResult(call.native_id, name, "succeeded", output=result, verbatim=True)
        return None

    def new_response(self) -> AnthropicResponseReader:
        return AnthropicResponseReader()


def adapt_frames(frames: list[Any]) -> list[ProviderEvent]:
    """Pure convenience: every canonical event for a list of frames, splitting responses as they end."""
    events: list[ProviderEvent] = []
    reader = AnthropicResponseReader()
    for index, frame in enumerate(frames):
        if reader.done:
            reader = AnthropicResponseReader()
        events.extend(reader.feed(frame, index))
    events.extend(reader.finish(len(frames)))
    return events
