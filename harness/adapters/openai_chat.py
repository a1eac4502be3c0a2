"""OpenAI Chat Completions adapter: streamed chunks to canonical provider events, and back to requests.

The meaning of a stream is the official SDK's (``openai.lib.streaming.chat``,
``ChatCompletionStreamState``), including what OpenAI-compatible providers send: each
``choices[].delta`` is merged into its choice by ``index``; ``content``, ``refusal`` and reasoning
fragments concatenate; ``tool_calls`` fragments are assembled by their own ``index`` (``id`` and
``function.name`` start a call; repeated in later fragments they concatenate, as the SDK's
``accumulate_delta`` does; null ``arguments`` fragments add nothing) and parsed as JSON with
``jiter``; ``finish_reason`` ends a choice; ``usage`` comes on any chunk; ``data: [DONE]`` (or the
end of the capture) ends the stream, also when a choice never got a ``finish_reason`` (its
``stop_reason`` is then null); the response keeps its first chunk's ``id`` and ``model`` however
later chunk ids change (Groq rotates them); any ``data`` with a truthy top-level ``error`` (also an
``event: error``) fails it. Chunks whose ``object`` is ``""`` (Azure's prompt and asynchronous
content-filter annotations) carry no content and are skipped, as the SDK skips them.

A ``refusal`` stays out of the text, as in the SDK (``content`` null, ``refusal`` apart) and in our
Responses adapter: it is an ``other`` item with ``block_type`` ``refusal`` and the message's
``stop_details`` is ``{"type": "refusal", "refusal": ...}``. ``annotations`` become citations of
the content item; any other delta field is accumulated the SDK's way into an ``other`` item named
after it, so nothing a provider adds is lost.

Where the SDK silently tolerates a broken stream, this adapter names the broken rule instead
(:data:`RULES`): a choice or tool call index that skips ahead, a tool call fragment for a call
that never started, content after a choice's ``finish_reason``. A value the reader uses that has
another JSON type than the API gives it (a ``delta`` that is a list, ``"usage": 7``, a tool call's
``arguments`` that are not a string) fails the response with ``openai.chat.frame.shape``, naming
the JSON path (``$.frame.data.choices[0].delta``); a delta's content field of another type is
reported non-fatal and its chunk carried, not applied.

Item layout (per choice, see ``docs/events.md`` section 15): one item per delta field, indexed
0, 1, 2, ... in order of first non-empty fragment; within one delta the fields are read in the
order reasoning (``reasoning_content`` or ``reasoning``), ``content``, ``annotations``,
``refusal``, ``tool_calls`` (by their order in the array), legacy ``function_call``, then any
other field in the delta's key order. All items of a choice complete at its ``finish_reason``, or
at the end of the stream for a choice that never got one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
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
    JsonKind,
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
    expected_text,
    is_kind,
    json_path,
    request_template,
    wire_field,
)
from harness.text import TextBuffer

PROTOCOL = "openai.chat"

#: Every protocol rule this adapter can report, with its one-line contract.
RULES: dict[str, str] = {
    "openai.chat.stream.empty": "a response carries at least one chunk",
    "openai.chat.choice.index": "choice indexes are integers that first appear in order 0, 1, 2, ...",
    "openai.chat.choice.after_finish": (
        "after its finish_reason a choice receives no more content and no different finish_reason"
    ),
    "openai.chat.tool_call.index": (
        "tool call fragments carry an integer index; a new index is the next one of its choice (0, 1, 2, ...)"
    ),
    "openai.chat.tool_call.unknown_index": "the first fragment of a tool call carries its id and function name",
    "openai.chat.tool_arguments.invalid_json": (
        "a finished tool call's argument fragments form valid JSON (partial JSON when length or "
        "content_filter cut it off, or the stream ended without its choice's finish_reason)"
    ),
    "openai.chat.frame.unexpected": (
        "frames after [DONE] or an error belong to the next response (a [DONE] right after an error ends "
        "the failed stream)"
    ),
    "openai.chat.frame.shape": (
        "every value the adapter reads has its wire type (a chunk and its deltas are objects, choices and "
        "tool_calls arrays, content a string, usage counts integers, ...)"
    ),
}

#: Finish reasons that cut generation off: open items complete with ``complete = False``.
TRUNCATING_FINISH_REASONS = frozenset({"length", "content_filter"})
#: Finish reasons after which the loop runs the tool calls.
TOOL_FINISH_REASONS = frozenset({"tool_calls", "function_call"})
#: How reasoning is sent back inside ``content``, as the recorded clients do (Groq follow-ups).
THINK_TAGS = ("<think>", "</think>")
#: Delta fields that carry reasoning text, in order of preference when a delta has both.
REASONING_FIELDS = ("reasoning_content", "reasoning")
#: Delta fields that carry nothing new: ``role``; Groq's ``channel`` (the gpt-oss channel label,
#: mirrored by ``reasoning``); OpenRouter's ``reasoning_details`` (a structured copy of ``reasoning``).
METADATA_DELTA_FIELDS = frozenset({"role", "channel", "reasoning_details"})
#: Delta fields with their own mapping, plus the metadata. Any other delta field (``audio``, a
#: provider's own) is accumulated as the SDK accumulates it, into an ``other`` item named after it.
KNOWN_DELTA_FIELDS = frozenset(
    {"content", "refusal", "annotations", "tool_calls", "function_call", *REASONING_FIELDS, *METADATA_DELTA_FIELDS}
)
_CHUNK_OBJECT = "chat.completion.chunk"


class _Violation(Exception):
    """Raised inside the reader to fail the response with a named rule."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def _parse_json(buffer: str, *, partial: bool) -> Any:
    # jiter is what the SDK uses, so numbers and partial values come out the same way.
    return jiter.from_json(buffer.encode(), partial_mode=partial)


def _is_empty(value: Any) -> bool:
    """A delta value that adds nothing a reader sees: null, ``""``, ``[]``, ``{}``."""
    return value is None or value == "" or value == [] or value == {}


def _has_indexed_entries(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(entry, dict) and "index" in entry for entry in value)


def accumulate_delta(acc: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """Merge ``delta`` into ``acc`` (which it owns) exactly as the SDK's ``accumulate_delta`` does.

    Strings concatenate, numbers add, objects merge key by key, lists of scalars extend, lists of
    objects merge by their ``index``; ``index`` and ``type`` are replaced; a null ``acc`` value
    takes the new one; any other combination keeps ``acc``. Where the SDK raises (a list entry
    without an integer ``index``, such as a second ``annotations`` list, or an indexed entry that
    meets a non-object), the entry is appended instead, so a provider's extra field never fails a
    stream. ``delta`` is not modified: values are copied in.
    """
    for key, value in delta.items():
        if acc.get(key) is None:
            if not _has_indexed_entries(value):
                acc[key] = copy.deepcopy(value)
                continue
            acc[key] = []
        current = acc[key]
        if key in ("index", "type"):
            acc[key] = copy.deepcopy(value)
        elif isinstance(current, str) and isinstance(value, str):  # noqa: SIM114 (typed apart for mypy)
            acc[key] = current + value
        elif isinstance(current, (int, float)) and isinstance(value, (int, float)):
            acc[key] = current + value
        elif isinstance(current, dict) and isinstance(value, dict):
            accumulate_delta(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            if all(isinstance(x, (str, int, float)) for x in current) and (current or not _has_indexed_entries(value)):
                current.extend(copy.deepcopy(value))
                continue
            for entry in value:
                index = entry.get("index") if isinstance(entry, dict) else None
                if not isinstance(index, int):
                    current.append(copy.deepcopy(entry))  # the SDK raises here
                elif index >= len(current):
                    current.insert(index, copy.deepcopy(entry))
                elif isinstance(current[index], dict):
                    accumulate_delta(current[index], entry)
                else:
                    current.append(copy.deepcopy(entry))  # the SDK raises here
    return acc


# -- wire shapes: what each value the reader uses must be (FrameShapeError otherwise) ----------------

#: Usage counts the canonical message reads; the ``*_details`` objects pass as they are.
_USAGE_COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


def _check_usage(container: dict[str, Any], path: str) -> None:
    usage = wire_field(container, "usage", path, "object", "null")
    for count in _USAGE_COUNTS if usage else ():
        wire_field(usage, count, json_path(path, "usage"), "integer", "null")


def _check_function(fragment: dict[str, Any], key: str, path: str) -> None:
    function = wire_field(fragment, key, path, "object", "null")
    if function:
        wire_field(function, "name", json_path(path, key), "string", "null")
        wire_field(function, "arguments", json_path(path, key), "string", "null")


#: Delta fields with content: one of another JSON type is carried (the chunk as an unrecognized
#: frame) and reported, not applied; the reader checks them itself (:func:`_odd_fields`).
_CONTENT_FIELDS: dict[str, JsonKind] = {
    "content": "string",
    "refusal": "string",
    "annotations": "array",
    **dict.fromkeys(REASONING_FIELDS, "string"),
    "tool_calls": "array",
    "function_call": "object",
}


_PYTHON_TYPES: dict[JsonKind, type] = {"string": str, "array": list, "object": dict}
#: Each content field's exact decoded types (the fast check; anything else asks :func:`is_kind`).
_CONTENT_TYPES = {key: (_PYTHON_TYPES[kind], type(None)) for key, kind in _CONTENT_FIELDS.items()}


def _odd_fields(delta: dict[str, Any]) -> list[str]:
    """The content fields of ``delta`` whose JSON type is neither theirs nor null."""
    return [
        key
        for key, types in _CONTENT_TYPES.items()
        if type(delta.get(key)) not in types and not is_kind(delta.get(key), (_CONTENT_FIELDS[key], "null"))
    ]


def _check_delta(delta: dict[str, Any], path: str, *, strict: bool = False) -> None:
    """A choice's ``delta`` (or, ``strict``, a completion's ``message``): the values the reader uses.

    Content fields of another type are the reader's to report unless ``strict``; choice and tool
    call indexes have their own rules (``openai.chat.choice.index``, ``openai.chat.tool_call.index``).
    """
    wire_field(delta, "role", path, "string", "null")
    for key, kind in _CONTENT_FIELDS.items() if strict else ():
        wire_field(delta, key, path, kind, "null")
    function_call = delta.get("function_call")
    if isinstance(function_call, dict):
        _check_function(delta, "function_call", path)
    tool_calls = delta.get("tool_calls")
    for position, fragment in enumerate(tool_calls if isinstance(tool_calls, list) else []):
        fragment_path = json_path(path, "tool_calls", position)
        if not isinstance(fragment, dict):
            continue  # openai.chat.tool_call.index
        wire_field(fragment, "id", fragment_path, "string", "null")
        wire_field(fragment, "type", fragment_path, "string", "null")
        _check_function(fragment, "function", fragment_path)


def check_error(error: Any, path: str) -> None:
    """A provider error object: the fields :func:`error_type_of` and the message come from."""
    expect(error, path, "object")
    wire_field(error, "code", path, "string", "integer", "null")
    wire_field(error, "type", path, "string", "null")
    wire_field(error, "message", path, "string", "null")


def check_chunk(data: dict[str, Any], path: str = "$.frame.data") -> None:
    """Raise :class:`FrameShapeError` when a value of a ``chat.completion.chunk`` that the reader
    uses has another JSON type than the API gives it (``path`` is where the chunk is)."""
    wire_field(data, "id", path, "string", "null")
    wire_field(data, "model", path, "string", "null")
    for position, choice in enumerate(wire_field(data, "choices", path, "array", required=True)):
        choice_path = json_path(path, "choices", position)
        expect(choice, choice_path, "object")
        delta = wire_field(choice, "delta", choice_path, "object", "null")
        if delta:
            _check_delta(delta, json_path(choice_path, "delta"))
        wire_field(choice, "finish_reason", choice_path, "string", "null")
    _check_usage(data, path)


def check_completion(body: dict[str, Any], path: str = "$.frame.body") -> None:
    """A non-streamed ``chat.completion`` body, value by value as :func:`check_chunk` checks a chunk."""
    wire_field(body, "id", path, "string", "null")
    wire_field(body, "model", path, "string", "null")
    for position, choice in enumerate(wire_field(body, "choices", path, "array", "null") or []):
        choice_path = json_path(path, "choices", position)
        expect(choice, choice_path, "object")
        message = wire_field(choice, "message", choice_path, "object", "null")
        if message:
            _check_delta(message, json_path(choice_path, "message"), strict=True)
        wire_field(choice, "finish_reason", choice_path, "string", "null")
    _check_usage(body, path)


def error_type_of(error: Any, *, status: int | None = None) -> str:
    """The ``error_type`` of a provider error object (``{"message", "type", "code", ...}``).

    The most specific identifier wins: a string ``code`` (``tool_use_failed``,
    ``rate_limit_exceeded``), else the ``type`` (``server_error``, ``invalid_request_error``), else an
    integer ``code``, which OpenRouter uses for an HTTP status (``http_400``), else the HTTP status,
    else ``error``.
    """
    if isinstance(error, dict):
        code, type_ = error.get("code"), error.get("type")
        if isinstance(code, str) and code:
            return code
        if isinstance(type_, str) and type_:
            return type_
        if isinstance(code, int) and not isinstance(code, bool):
            return f"http_{code}"
    return f"http_{status}" if status is not None else "error"


def _failed_generation_call(error: Any) -> tuple[str, Any] | None:
    """Groq's ``tool_use_failed``: the rejected tool call it hands back, as ``(name, arguments)``."""
    if not isinstance(error, dict) or error.get("code") != "tool_use_failed":
        return None
    raw = error.get("failed_generation")
    if not isinstance(raw, str):
        return None
    try:
        generation = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(generation, dict) or not isinstance(generation.get("name"), str):
        return None
    arguments = generation.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return None
    return generation["name"], arguments


@dataclass(slots=True)
class _Choice:
    """What one choice has accumulated: its message, its items by delta field, its tool calls."""

    index: int
    message: AssistantMessage
    items: dict[str, ContentItem] = field(default_factory=dict)
    #: Streamed argument fragments per tool-call key, joined once when the call closes.
    buffers: dict[str, TextBuffer] = field(default_factory=dict)
    tool_calls: list[str] = field(default_factory=list)  # item keys, by tool call index
    #: Other delta fields, accumulated as the SDK accumulates them (:func:`accumulate_delta`).
    extras: dict[str, Any] = field(default_factory=dict)
    finish_reason: str | None = None
    closed: bool = False

    def item_key_for_tool(self, tool_index: int) -> str:
        return f"tool_calls[{tool_index}]"


class OpenAIChatResponseReader:
    """State machine for one Chat Completions response (one HTTP exchange)."""

    def __init__(self) -> None:
        self.native_id: str | None = None
        self.model: str | None = None
        self.usage: dict[str, Any] = {}
        self.choices: list[_Choice] = []
        self.started = False
        self.http_status: int | None = None
        self.frames_seen = 0
        self._done = False
        self._failed = False

    @property
    def done(self) -> bool:
        return self._done

    def absorbs(self, frame: Any) -> bool:
        """Whether ``frame``, arriving after the terminal event, still belongs to this response: the
        ``[DONE]`` that ends a failed stream (OpenRouter sends one after its error chunk)."""
        return self._failed and isinstance(frame, dict) and frame.get("kind") == "sse.done"

    # -- the accumulated result ----------------------------------------------------------------

    def _messages(self) -> AssistantMessage:
        """Choice 0's message with the other choices as its alternatives (usage on choice 0)."""
        if not self.choices:
            return AssistantMessage(native_id=self.native_id, model=self.model, usage=dict(self.usage))
        for choice in self.choices:
            _seal_refusal(choice)
        first, *others = (c.message for c in self.choices)
        first.usage = dict(self.usage)
        first.alternatives = others
        return first

    def _fail(
        self,
        events: list[ProviderEvent],
        frame_index: int,
        rule: str | None,
        message: str,
        *,
        error_type: str = "protocol_violation",
        provider_error: Any = None,
    ) -> list[ProviderEvent]:
        if rule is not None:
            events.append(ProtocolViolation(rule=rule, message=message, frame_index=frame_index))
        events.append(
            ResponseFailed(
                error_type=error_type,
                message=message,
                partial=self._messages(),
                frame_index=frame_index,
                rule=rule,
                provider_error=provider_error,
            )
        )
        self._done = self._failed = True
        return events

    def _complete(self, events: list[ProviderEvent], frame_index: int) -> list[ProviderEvent]:
        events.append(ResponseCompleted(self._messages(), frame_index))
        self._done = True
        return events

    # -- frames ------------------------------------------------------------------------------

    def feed(self, frame: Any, frame_index: int) -> list[ProviderEvent]:
        """Apply one transcript frame (an ``http.*``, ``sse`` or ``sse.done`` frame dict)."""
        events: list[ProviderEvent] = []
        self.frames_seen += 1
        kind = frame.get("kind") if isinstance(frame, dict) else None
        if self._done:
            if self.absorbs(frame):
                return events
            events.append(
                ProtocolViolation(
                    rule="openai.chat.frame.unexpected",
                    message=f"frame {kind or frame!r} arrived after the response ended",
                    frame_index=frame_index,
                    fatal=False,
                )
            )
            return events
        if not isinstance(frame, dict):
            events.append(UnrecognizedFrame(name=None, frame=frame, frame_index=frame_index))
            return events
        if kind == "http.response":
            self.http_status = int(frame["status"])
            return events
        if kind == "http.body":
            return self._feed_body(frame.get("body"), frame_index, events)
        if kind == "sse.done":
            return self._done_frame(frame_index, events)
        if kind != "sse":
            events.append(UnrecognizedFrame(name=str(kind), frame=frame, frame_index=frame_index))
            return events
        name = frame.get("event")
        data = frame.get("data")
        if name == "error":
            # Groq: `event: error` with {"error": {...}}; a bare error object is read the same way.
            error = data.get("error", data) if isinstance(data, dict) else data
            where = "$.frame.data.error" if isinstance(data, dict) and "error" in data else "$.frame.data"
            return self._provider_error(error, data, frame_index, events, where)
        if name not in (None, "message"):
            events.append(UnrecognizedFrame(name=name or "sse", frame=data, frame_index=frame_index))
            return events
        if not isinstance(data, dict):
            problem = FrameShapeError("$.frame.data", "an object (a chat.completion.chunk)", data)
            return self._fail(events, frame_index, "openai.chat.frame.shape", str(problem))
        return self._feed_chunk(data, frame_index, events)

    def _provider_error(
        self, error: Any, data: Any, frame_index: int, events: list[ProviderEvent], path: str
    ) -> list[ProviderEvent]:
        try:
            check_error(error, path)
        except FrameShapeError as problem:
            return self._fail(events, frame_index, "openai.chat.frame.shape", str(problem))
        recovered = _failed_generation_call(error)
        if recovered is not None and self.started:
            # Groq rejected a tool call and handed it back: keep it as a finished tool_call item of
            # the partial message, so the log shows what the model generated. It has no provider id.
            name, arguments = recovered
            choice = self.choices[0] if self.choices else self._choice(0, frame_index)
            item = self._open_item(
                choice, "failed_generation", "tool_call", "failed_generation", frame_index, events, name=name
            )
            item.arguments_json = json_text(arguments)
            item.arguments = arguments
            item.complete = True
            events.append(ItemDelta(item.index, "arguments", item.arguments_json, None, frame_index, choice.index))
            events.append(ItemCompleted(item, frame_index))
        message = error.get("message") if isinstance(error, dict) else None
        return self._fail(
            events,
            frame_index,
            None,
            message if isinstance(message, str) else "",
            error_type=error_type_of(error),
            provider_error=data,
        )

    def _feed_body(self, body: Any, frame_index: int, events: list[ProviderEvent]) -> list[ProviderEvent]:
        status = self.http_status or 200
        if status >= 400 or (isinstance(body, dict) and body.get("error")):
            error = body.get("error") if isinstance(body, dict) else None
            if error is not None:
                try:
                    check_error(error, "$.frame.body.error")
                except FrameShapeError as problem:
                    return self._fail(events, frame_index, "openai.chat.frame.shape", str(problem))
            message = error.get("message") if isinstance(error, dict) else None
            return self._fail(
                events,
                frame_index,
                None,
                message if isinstance(message, str) else f"HTTP {status}",
                error_type=error_type_of(error, status=status if status >= 400 else None),
                provider_error=body,
            )
        if not isinstance(body, dict) or body.get("object") != "chat.completion":
            events.append(UnrecognizedFrame(name="http.body", frame=body, frame_index=frame_index))
            return events
        try:
            check_completion(body)
        except FrameShapeError as problem:
            return self._fail(events, frame_index, "openai.chat.frame.shape", str(problem))
        # A non-streamed completion: replay it as the equivalent stream of chunks.
        head = {"id": body.get("id"), "object": _CHUNK_OBJECT, "model": body.get("model")}
        for choice in body.get("choices") or []:
            message = dict(choice.get("message") or {})
            tool_calls = message.pop("tool_calls", None) or []
            delta = {**message, "tool_calls": [{**call, "index": k} for k, call in enumerate(tool_calls)]}
            self._feed_chunk(
                {
                    **head,
                    "choices": [{"index": choice.get("index"), "delta": delta, "finish_reason": None}],
                },
                frame_index,
                events,
            )
            if self._done:
                return events
            finish = {"index": choice.get("index"), "delta": {}, "finish_reason": choice.get("finish_reason")}
            self._feed_chunk({**head, "choices": [finish]}, frame_index, events)
            if self._done:
                return events
        self._feed_chunk({**head, "choices": [], "usage": body.get("usage")}, frame_index, events)
        return events if self._done else self._done_frame(frame_index, events)

    def _feed_chunk(self, data: dict[str, Any], frame_index: int, events: list[ProviderEvent]) -> list[ProviderEvent]:
        try:
            wire_field(data, "error", "$.frame.data", "object", "null")
        except FrameShapeError as problem:
            return self._fail(events, frame_index, "openai.chat.frame.shape", str(problem))
        if data.get("error"):
            # OpenRouter: a chunk with a top-level error (and choices, usage) fails the stream, as in the SDK.
            return self._provider_error(data["error"], data, frame_index, events, "$.frame.data.error")
        obj = data.get("object")
        if obj == "":
            # Azure prompt_filter_results / asynchronous content-filter annotations carry no content;
            # the SDK skips them. One that does carry delta content is kept in the log, not applied.
            try:
                choices = wire_field(data, "choices", "$.frame.data", "array", "null") or []
            except FrameShapeError as problem:
                return self._fail(events, frame_index, "openai.chat.frame.shape", str(problem))
            deltas = [c.get("delta") for c in choices if isinstance(c, dict)]
            if any(isinstance(d, dict) and _has_content(d) for d in deltas):
                events.append(UnrecognizedFrame(name="azure.annotation", frame=data, frame_index=frame_index))
            return events
        choices = data.get("choices")
        if (obj is not None and obj != _CHUNK_OBJECT) or choices is None:
            events.append(UnrecognizedFrame(name=str(obj or "chunk"), frame=data, frame_index=frame_index))
            return events
        try:
            check_chunk(data)
        except FrameShapeError as problem:
            return self._fail(events, frame_index, "openai.chat.frame.shape", str(problem))
        chunk_id = data.get("id")
        if not self.started:
            self.started = True
            self.native_id = chunk_id if isinstance(chunk_id, str) and chunk_id else None
            model = data.get("model")
            self.model = model if isinstance(model, str) and model else None
            events.append(ResponseStarted(self.native_id, self.model, frame_index))
        # A later chunk's id may differ (Groq rotates it): the response keeps the first, as the SDK does.
        try:
            for position, choice_data in enumerate(choices):
                self._feed_choice(choice_data, data, frame_index, events, position)
        except _Violation as violation:
            return self._fail(events, frame_index, violation.rule, violation.message)
        usage = data.get("usage")
        if isinstance(usage, dict):
            # Usage is cumulative and sent once; the last non-null value wins.
            self.usage = dict(usage)
        return events

    # -- choices and items ---------------------------------------------------------------------

    def _choice(self, index: Any, frame_index: int) -> _Choice:
        if not isinstance(index, int) or isinstance(index, bool) or index < 0 or index > len(self.choices):
            raise _Violation(
                "openai.chat.choice.index",
                f"choice index {index!r}, expected an existing one or the next one ({len(self.choices)})",
            )
        if index == len(self.choices):
            message = AssistantMessage(native_id=self.native_id, model=self.model, choice=index)
            self.choices.append(_Choice(index, message))
        return self.choices[index]

    def _open_item(
        self,
        choice: _Choice,
        key: str,
        kind: ItemKind,
        block_type: str,
        frame_index: int,
        events: list[ProviderEvent],
        *,
        native_id: str | None = None,
        name: str | None = None,
    ) -> ContentItem:
        item = ContentItem(
            index=len(choice.message.items),
            kind=kind,
            block_type=block_type,
            native_id=native_id,
            name=name,
            choice=choice.index,
        )
        choice.message.items.append(item)
        choice.items[key] = item
        events.append(ItemStarted(item.index, kind, block_type, native_id, name, frame_index, choice.index))
        return item

    def _feed_choice(
        self, data: Any, chunk: dict[str, Any], frame_index: int, events: list[ProviderEvent], position: int = 0
    ) -> None:
        if not isinstance(data, dict):
            raise _Violation("openai.chat.choice.index", f"a choice that is not an object: {data!r}")
        choice = self._choice(data.get("index"), frame_index)
        delta = data.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        finish_reason = data.get("finish_reason")
        if choice.finish_reason is not None:
            if _has_content(delta) or (finish_reason is not None and finish_reason != choice.finish_reason):
                raise _Violation(
                    "openai.chat.choice.after_finish",
                    f"choice {choice.index} received more after its finish_reason {choice.finish_reason!r}",
                )
            if any(not _is_empty(v) for k, v in delta.items() if k not in KNOWN_DELTA_FIELDS or k == "annotations"):
                # Its items are complete: a late extra is kept in the log, not applied.
                events.append(UnrecognizedFrame(name=_CHUNK_OBJECT, frame=chunk, frame_index=frame_index))
            return
        odd_fields = _odd_fields(delta)
        for key in odd_fields:
            # Carried with the chunk below, not applied: say where and what it is.
            problem = FrameShapeError(
                json_path("$.frame.data.choices", position, "delta", key),
                expected_text((_CONTENT_FIELDS[key], "null")),
                delta[key],
            )
            events.append(
                ProtocolViolation(
                    "openai.chat.frame.shape", f"{problem}; the chunk is carried, not applied", frame_index, fatal=False
                )
            )
        odd = bool(odd_fields)
        reasoning_field = next(
            (f for f in REASONING_FIELDS if isinstance(delta.get(f), str) and delta[f]),
            None,
        )
        if reasoning_field is not None:
            self._text(choice, "reasoning", "reasoning", reasoning_field, delta[reasoning_field], frame_index, events)
        content = delta.get("content")
        if isinstance(content, str) and content:
            self._text(choice, "content", "text", "content", content, frame_index, events)
        annotations = delta.get("annotations")
        if isinstance(annotations, list) and annotations:
            self._annotations(choice, annotations, frame_index, events)
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            self._refusal(choice, refusal, frame_index, events)
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list):
            for fragment in tool_calls:
                self._tool_fragment(choice, fragment, frame_index, events)
        elif tool_calls is not None:
            odd = True
        function_call = delta.get("function_call")
        if isinstance(function_call, dict):
            self._function_call(choice, function_call, frame_index, events)
        elif function_call is not None:
            odd = True
        for key, value in delta.items():
            if key not in KNOWN_DELTA_FIELDS and value is not None:
                self._extra(choice, key, value, frame_index, events)
        if odd:
            # A delta field of a shape this adapter does not know: carried, not applied.
            events.append(UnrecognizedFrame(name=_CHUNK_OBJECT, frame=chunk, frame_index=frame_index))
        if isinstance(finish_reason, str) and finish_reason:
            choice.finish_reason = finish_reason
            choice.message.stop_reason = finish_reason
            self._close_items(choice, frame_index, events)

    def _text(
        self,
        choice: _Choice,
        key: str,
        kind: ItemKind,
        block_type: str,
        text: str,
        frame_index: int,
        events: list[ProviderEvent],
    ) -> None:
        item = choice.items.get(key) or self._open_item(choice, key, kind, block_type, frame_index, events)
        item.append_text(text)
        events.append(
            ItemDelta(item.index, "reasoning" if kind == "reasoning" else "text", text, None, frame_index, choice.index)
        )

    def _annotations(
        self, choice: _Choice, annotations: list[Any], frame_index: int, events: list[ProviderEvent]
    ) -> None:
        # They annotate the content (url_citation start/end indexes point into it): its citations,
        # as the Responses adapter keeps output_text annotations. They may come before any text.
        item = choice.items.get("content") or self._open_item(choice, "content", "text", "content", frame_index, events)
        for annotation in annotations:
            item.citations.append(copy.deepcopy(annotation))
            events.append(ItemDelta(item.index, "citation", "", annotation, frame_index, choice.index))

    def _refusal(self, choice: _Choice, fragment: str, frame_index: int, events: list[ProviderEvent]) -> None:
        # Out of the text (the SDK keeps content null): an `other` item, its block set when sealed.
        item = choice.items.get("refusal")
        if item is None:
            item = self._open_item(choice, "refusal", "other", "refusal", frame_index, events)
        item.append_text(fragment)
        events.append(ItemDelta(item.index, "other", "", {"refusal": fragment}, frame_index, choice.index))

    def _extra(self, choice: _Choice, key: str, value: Any, frame_index: int, events: list[ProviderEvent]) -> None:
        """A delta field without its own mapping (``audio``, a provider's own): accumulated as the SDK
        does; its item opens at the first non-empty value."""
        accumulate_delta(choice.extras, {key: value})
        item_key = f"extra:{key}"
        item = choice.items.get(item_key)
        if item is None:
            if _is_empty(value):
                return
            item = self._open_item(choice, item_key, "other", key, frame_index, events)
        item.block = {"type": key, key: choice.extras[key]}
        events.append(ItemDelta(item.index, "other", "", {key: value}, frame_index, choice.index))

    def _tool_fragment(self, choice: _Choice, fragment: Any, frame_index: int, events: list[ProviderEvent]) -> None:
        tool_index = fragment.get("index") if isinstance(fragment, dict) else None
        if (
            not isinstance(tool_index, int)
            or isinstance(tool_index, bool)
            or not 0 <= tool_index <= len(choice.tool_calls)
        ):
            raise _Violation(
                "openai.chat.tool_call.index",
                f"tool call fragment with index {tool_index!r} in choice {choice.index}, expected an existing "
                f"index or the next one ({len(choice.tool_calls)})",
            )
        assert isinstance(fragment, dict)
        function = fragment.get("function")
        function = function if isinstance(function, dict) else {}
        call_id, name = fragment.get("id"), function.get("name")
        key = choice.item_key_for_tool(tool_index)
        if tool_index == len(choice.tool_calls):
            if not (isinstance(call_id, str) and call_id and isinstance(name, str) and name):
                raise _Violation(
                    "openai.chat.tool_call.unknown_index",
                    f"tool call {tool_index} of choice {choice.index} starts without an id and function name "
                    f"(id {call_id!r}, name {name!r})",
                )
            declared = fragment.get("type")
            block_type = declared if isinstance(declared, str) and declared else "function"
            kind: ItemKind = "tool_call" if block_type == "function" else "other"
            item = self._open_item(choice, key, kind, block_type, frame_index, events, native_id=call_id, name=name)
            if kind == "other":
                item.block = dict(fragment)
            choice.tool_calls.append(key)
        else:
            item = choice.items[key]
            # The SDK concatenates an id or name repeated in a later fragment ("call_1call_1"), as
            # it concatenates every string of a delta; the item says what the SDK's caller sees.
            if isinstance(call_id, str):
                item.native_id = (item.native_id or "") + call_id
            if isinstance(name, str):
                item.name = (item.name or "") + name
        self._arguments(choice, key, item, function.get("arguments"), frame_index, events)

    def _function_call(
        self, choice: _Choice, function: dict[str, Any], frame_index: int, events: list[ProviderEvent]
    ) -> None:
        # The deprecated `functions` API: one call per choice, no id.
        key = "function_call"
        name = function.get("name")
        item = choice.items.get(key)
        if item is None:
            if not (isinstance(name, str) and name):
                raise _Violation(
                    "openai.chat.tool_call.unknown_index",
                    f"function_call of choice {choice.index} starts without a name",
                )
            item = self._open_item(choice, key, "tool_call", "function_call", frame_index, events, name=name)
        elif isinstance(name, str):
            item.name = (item.name or "") + name  # concatenated, as the SDK does
        self._arguments(choice, key, item, function.get("arguments"), frame_index, events)

    def _arguments(
        self,
        choice: _Choice,
        key: str,
        item: ContentItem,
        fragment: Any,
        frame_index: int,
        events: list[ProviderEvent],
    ) -> None:
        if isinstance(fragment, str) and fragment:
            choice.buffers.setdefault(key, TextBuffer()).append(fragment)
            item.append_arguments(fragment)
            events.append(ItemDelta(item.index, "arguments", fragment, None, frame_index, choice.index))

    def _close_items(self, choice: _Choice, frame_index: int, events: list[ProviderEvent]) -> None:
        """Complete every item of ``choice``, at its ``finish_reason`` or, without one, at the end.

        Without a ``finish_reason`` nothing says the output was cut: items are complete, and a
        tool call's arguments must parse whole; arguments that parse only as partial JSON (the
        stream stopped inside them) are kept partially parsed, with ``complete = False``.
        """
        choice.closed = True
        truncated = choice.finish_reason in TRUNCATING_FINISH_REASONS
        _seal_refusal(choice)
        for key, item in choice.items.items():
            item.complete = not truncated
            if item.kind == "tool_call" or (item.kind == "other" and key.startswith("tool_calls")):
                held = choice.buffers.get(key)
                buffer = held.text if held is not None else ""
                item.arguments = self._parsed_arguments(choice, item, buffer, truncated) if buffer else {}
            events.append(ItemCompleted(item, frame_index))

    def _parsed_arguments(self, choice: _Choice, item: ContentItem, buffer: str, truncated: bool) -> Any:
        unfinished = choice.finish_reason is None
        try:
            return _parse_json(buffer, partial=truncated)
        except ValueError as exc:
            problem = exc
        if unfinished:
            try:
                arguments = _parse_json(buffer, partial=True)
            except ValueError as exc:
                problem = exc
            else:
                item.complete = False
                return arguments
        cut = f" (cut off by {choice.finish_reason})" if truncated else ""
        cut = " (the stream ended without a finish_reason)" if unfinished else cut
        raise _Violation(
            "openai.chat.tool_arguments.invalid_json",
            f"tool call {item.name!r} of choice {choice.index}: arguments{cut} are not valid JSON "
            f"({problem}): {buffer!r}",
        ) from None

    # -- the end ---------------------------------------------------------------------------------

    def _end(self, frame_index: int, events: list[ProviderEvent]) -> list[ProviderEvent]:
        """Complete the response at ``[DONE]`` or at the end of the capture, as the SDK does: a
        choice without a ``finish_reason`` keeps ``stop_reason`` null and what it received."""
        try:
            for choice in self.choices:
                if not choice.closed:
                    self._close_items(choice, frame_index, events)
        except _Violation as violation:
            return self._fail(events, frame_index, violation.rule, violation.message)
        return self._complete(events, frame_index)

    def _done_frame(self, frame_index: int, events: list[ProviderEvent]) -> list[ProviderEvent]:
        if not self.started:
            return self._fail(events, frame_index, "openai.chat.stream.empty", "[DONE] arrived before any chunk")
        return self._end(frame_index, events)

    def finish(self, frame_index: int) -> list[ProviderEvent]:
        if self._done:
            return []
        events: list[ProviderEvent] = []
        if not self.started:
            what = "carried no frames" if self.frames_seen == 0 else "carried no chunk"
            return self._fail(events, frame_index, "openai.chat.stream.empty", f"the response {what}")
        # A capture without [DONE]: the vercel fixtures keep only the data payloads, and some
        # compatible servers close the stream without it.
        return self._end(frame_index, events)


def _seal_refusal(choice: _Choice) -> None:
    """Give a refusal item its block and the choice its ``stop_details``, as the Responses adapter
    reports a refusal: ``{"type": "refusal", "refusal": text}``."""
    item = choice.items.get("refusal")
    if item is not None:
        refusal = {"type": "refusal", "refusal": item.text}
        item.block = refusal
        choice.message.stop_details = dict(refusal)


def _has_content(delta: dict[str, Any]) -> bool:
    """Whether a delta carries anything beyond role markers and empty strings."""
    for key in ("content", "refusal", *REASONING_FIELDS):
        if isinstance(delta.get(key), str) and delta[key]:
            return True
    return bool(delta.get("tool_calls")) or bool(delta.get("function_call"))


# -- requests -----------------------------------------------------------------------------------


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _call_id(item: ContentItem) -> str:
    """The id a tool call is sent back with; a placeholder for calls the provider gave no id."""
    return item.native_id or f"call_{item.index}"


def _arguments_text(item: ContentItem) -> str:
    # The raw fragments as received, as the recorded clients echo them; else compact JSON.
    return item.arguments_json or json_text(item.arguments if item.arguments is not None else {})


def _assistant_message(message: AssistantMessage) -> dict[str, Any]:
    """Render choice 0 of a previous response the way the recorded clients send it back.

    ``content`` is the reasoning as ``<think>`` blocks and the text, separated by a blank line
    (text items between two reasoning items are one part, as :attr:`AssistantMessage.text` joins
    them), or null when there is neither.
    """
    parts: list[tuple[str, str]] = []  # (kind, text)
    refusal: list[str] = []
    calls: list[ContentItem] = []
    legacy: ContentItem | None = None
    for item in message.items:
        if item.kind == "reasoning" and item.text:
            parts.append(("reasoning", f"{THINK_TAGS[0]}\n{item.text}\n{THINK_TAGS[1]}"))
        elif item.block_type == "refusal" and item.kind in ("text", "other"):
            refusal.append(item.text)
        elif item.kind == "text" and item.text:
            if parts and parts[-1][0] == "text":
                parts[-1] = ("text", parts[-1][1] + item.text)
            else:
                parts.append(("text", item.text))
        elif item.kind == "tool_call" and item.block_type == "function_call":
            legacy = item
        elif item.kind == "tool_call":
            calls.append(item)
    content = "\n\n".join(text for _, text in parts)
    out: dict[str, Any] = {"role": "assistant", "content": content or None}
    if refusal:
        out["refusal"] = "".join(refusal)
    if calls:
        out["tool_calls"] = [
            {
                "id": _call_id(call),
                "type": "function",
                "function": {"name": call.name, "arguments": _arguments_text(call)},
            }
            for call in calls
        ]
    if legacy is not None:
        out["function_call"] = {"name": legacy.name, "arguments": _arguments_text(legacy)}
    return out


def _tool_content(result: ToolResult) -> Any:
    if result.status == "failed":
        return str(result.error)
    output = result.output
    if result.verbatim or isinstance(output, (str, list)):
        return output
    return json_text(output)


class OpenAIChatAdapter:
    """The ``openai.chat`` adapter."""

    protocol = PROTOCOL

    def build_request(self, template: RequestTemplate, conversation: list[ConversationTurn]) -> dict[str, Any]:
        """The ``http.request`` frame for the next request of the agent loop.

        ``template.params["messages"]``, when present, holds the leading system or developer
        messages the app sends before the conversation (see :meth:`split_request`).
        """
        messages: list[dict[str, Any]] = list(template.params.get("messages") or [])
        previous_calls: list[ContentItem] = []
        for turn in conversation:
            if isinstance(turn, UserTurn):
                messages.append({"role": "user", "content": turn.content if turn.content is not None else turn.text})
            elif isinstance(turn, AssistantTurn):
                messages.append(_assistant_message(turn.message))
                previous_calls = [c for c in turn.message.tool_calls if c.complete]
            else:
                assert isinstance(turn, ToolResultsTurn)
                # The core answers the complete calls of the previous response, in order.
                for position, result in enumerate(turn.results):
                    call = previous_calls[position] if position < len(previous_calls) else None
                    content = _tool_content(result)
                    if call is not None and call.block_type == "function_call":
                        messages.append({"role": "function", "name": result.name, "content": content})
                        continue
                    call_id = result.native_id or (_call_id(call) if call is not None else None)
                    messages.append({"role": "tool", "tool_call_id": call_id, "content": content})
        return {
            "kind": "http.request",
            "method": template.method,
            "path": template.path,
            "query": dict(template.query),
            "headers": dict(template.headers),
            "body": {**template.params, "messages": messages},
        }

    def next_step(self, message: AssistantMessage) -> NextStep:
        """``run_tools`` after ``tool_calls`` / ``function_call``, or after a stream that ended without
        a ``finish_reason``, when a tool call is complete; ``stop`` otherwise."""
        runs_tools = message.stop_reason in TOOL_FINISH_REASONS or message.stop_reason is None
        if runs_tools and any(c.complete for c in message.tool_calls):
            return "run_tools"
        return "stop"

    def split_request(self, frame: Any) -> tuple[RequestTemplate, UserTurn]:
        """Split a first request into the template and the user's turn.

        Leading ``system`` / ``developer`` messages are not a conversation turn: they stay in the
        template as ``params["messages"]`` and :meth:`build_request` sends them first.
        """
        template, body = request_template(frame)
        messages = wire_field(body, "messages", "$.frame.body", "array") or []
        body = template.params
        body.pop("messages", None)
        for position, message in enumerate(messages):
            path = json_path("$.frame.body.messages", position)
            expect(message, path, "object")
            wire_field(message, "role", path, "string")
            content = wire_field(message, "content", path, "string", "array", "null")
            for part_position, part in enumerate(content if isinstance(content, list) else []):
                part_path = json_path(path, "content", part_position)
                expect(part, part_path, "object")
                if part.get("type") == "text":
                    wire_field(part, "text", part_path, "string", required=True)
        roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
        *lead, last = messages or [None]
        if (
            not isinstance(last, dict)
            or last.get("role") != "user"
            or set(last) - {"role", "content"}
            or any(role not in ("system", "developer") for role in roles[:-1])
        ):
            raise ValueError(
                f"the first recorded request carries {len(messages)} messages (roles {roles}), "
                "not system/developer messages followed by one user message"
            )
        if lead:
            body["messages"] = lead
        content = last.get("content")
        if isinstance(content, str):
            return template, UserTurn(text=content)
        parts = content if isinstance(content, list) else []
        text = "".join(p.get("text", "") for p in parts if isinstance(p, dict) and p.get("type") == "text")
        return template, UserTurn(text=text, content=content)

    def recorded_tool_result(self, frame: Any, call: ContentItem) -> ToolResult | None:
        """The outcome of ``call`` in a recorded request: its ``role: tool`` message, verbatim.

        Chat tool messages have no error flag, so a recorded outcome is always ``succeeded``. A call
        without a provider id (a Groq failed generation) is found through the recorded assistant
        message's call with the same name and arguments, whose id the recorded client invented.
        """
        body = frame.get("body") if isinstance(frame, dict) else None
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list):
            return None
        messages = [m for m in messages if isinstance(m, dict)]
        name = call.name or ""
        if call.block_type == "function_call":
            for message in reversed(messages):
                if message.get("role") == "function" and message.get("name") == call.name:
                    return ToolResult(None, name, "succeeded", output=message.get("content"), verbatim=True)
            return None
        call_id = call.native_id or _recorded_call_id(messages, call)
        for message in reversed(messages):
            if call_id is not None and message.get("role") == "tool" and message.get("tool_call_id") == call_id:
                return ToolResult(call.native_id, name, "succeeded", output=message.get("content"), verbatim=True)
        return None

    def new_response(self) -> OpenAIChatResponseReader:
        return OpenAIChatResponseReader()


def _recorded_call_id(messages: list[dict[str, Any]], call: ContentItem) -> str | None:
    """The id the recorded client gave a call the provider sent without one (same name and arguments)."""
    for message in reversed(messages):
        if message.get("role") != "assistant" or not isinstance(message.get("tool_calls"), list):
            continue
        for recorded in message["tool_calls"]:
            function = recorded.get("function") if isinstance(recorded, dict) else None
            if not isinstance(function, dict) or function.get("name") != call.name:
                continue
            try:
                arguments = orjson.loads(function.get("arguments") or "{}")
            except orjson.JSONDecodeError:
                continue
            if arguments == call.arguments:
                found = recorded.get("id")
                return found if isinstance(found, str) else None
        return None
    return None


def adapt_frames(frames: list[Any]) -> list[ProviderEvent]:
    """Pure convenience: every canonical event for a list of frames, splitting responses as they end."""
    events: list[ProviderEvent] = []
    reader = OpenAIChatResponseReader()
    for index, frame in enumerate(frames):
        if reader.done and not reader.absorbs(frame):
            reader = OpenAIChatResponseReader()
        events.extend(reader.feed(frame, index))
    events.extend(reader.finish(len(frames)))
    return events
