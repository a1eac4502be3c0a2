"""OpenAI Responses API adapter: SSE events to canonical provider events, and back to requests.

One response is one stream of ``response.*`` events. Items are keyed by ``output_index`` (never
by ``item_id``: a proxy may rotate item ids on every event), and an item's ``output_item.done``
payload is authoritative for its final content, as it is for the official SDK, whose final
response is the ``response.completed`` snapshot built from those same items.

Mapping in short (the full tables are in ``docs/events.md``, section 14):

* the first of ``response.created`` / ``response.queued`` / ``response.in_progress`` starts the
  response; later lifecycle snapshots change nothing;
* ``message`` items are ``text`` items (``output_text`` parts joined; annotations are citations;
  ``refusal`` parts stay out of the text and are reported in ``stop_details``), calls the client
  runs (:data:`CLIENT_CALLS`: ``function_call``, ``custom_tool_call`` whose input is its raw
  string, ``computer_call``, ``local_shell_call``, ``shell_call``, ``apply_patch_call``, ...) are
  client ``tool_call`` items answered by their ``*_output`` input item, ``reasoning`` items are
  ``reasoning`` items (summary parts, then raw ``reasoning_text`` parts, joined with a blank line),
  calls the provider ran (``web_search_call``, ...) are ``server_tool_call`` items, result items
  ``server_tool_result`` items, and anything else is carried as ``other`` with its payload;
* ``response.completed`` completes with ``stop_reason`` ``"completed"``; ``response.incomplete``
  completes with the ``incomplete_details.reason`` and closes open items as incomplete;
  ``response.failed`` and the ``error`` event (both shapes seen in the wild) fail the response;
  a ``data: [DONE]`` after the terminal event belongs to the finished response (:meth:`OpenAIResponsesReader.absorbs`).

Where the SDK raises or silently accepts a broken stream, this adapter names the broken rule
instead (:data:`RULES`). Fatal rules fail the response; the others are reported and the response
goes on. A value the reader uses that has another JSON type than the API gives it fails the
response with ``openai.responses.frame.shape``, naming the JSON path (``$.frame.data.response.usage``).
"""

from __future__ import annotations

import contextlib
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
from harness.text import TextBuffer

PROTOCOL = "openai.responses"

#: Every protocol rule this adapter can report, with its one-line contract.
RULES: dict[str, str] = {
    "openai.responses.created.missing": "a lifecycle event (response.created, .queued, .in_progress) comes first",
    "openai.responses.created.duplicate": "response.created appears once per response",
    "openai.responses.response_id.changed": "every snapshot of a response carries the id of the first one",
    "openai.responses.output_index.duplicate": "output_item.added names each output_index once",
    "openai.responses.output_index.unknown": "item events name an output_index that was added",
    "openai.responses.item.after_done": "no event arrives for an item after its output_item.done",
    "openai.responses.item.type_mismatch": "an item event fits the item's type, and output_item.done keeps it",
    "openai.responses.item_id.changed": "the events of one item carry the item id it was added with",
    "openai.responses.content_part.missing": "text and refusal events target a content part that was added",
    "openai.responses.item.unclosed": "every item is done before response.completed",
    "openai.responses.function_call.invalid_json": "a done function call's arguments are valid JSON",
    "openai.responses.delta.done_mismatch": "the deltas of a text or argument stream concatenate to its final value",
    "openai.responses.completed.output_mismatch": "response.completed's output repeats the streamed items",
    "openai.responses.sequence_number.gap": "sequence_number starts at 0 and increases by 1",
    "openai.responses.sequence_number.repeat": "no sequence_number appears twice",
    "openai.responses.sequence_number.backwards": "sequence_number never decreases",
    "openai.responses.sequence_number.mixed": "either every event of a response has a sequence_number or none has",
    "openai.responses.resume.mismatch": "a resumed stream re-delivers the response it resumes",
    "openai.responses.stream.truncated": "a stream ends with response.completed, .incomplete, .failed or error",
    "openai.responses.stream.empty": "a response carries at least one event",
    "openai.responses.sse.event_mismatch": "the SSE event name equals data.type",
    "openai.responses.frame.unexpected": "frames after the terminal event belong to the next response",
    "openai.responses.frame.shape": (
        "every value the adapter reads has its wire type (events, responses and items are objects, "
        "output_index an integer, text and deltas strings, usage counts integers, ...)"
    ),
}

#: Rules that only report; every other rule fails the response.
NON_FATAL: frozenset[str] = frozenset(
    {
        "openai.responses.response_id.changed",
        "openai.responses.item_id.changed",
        "openai.responses.delta.done_mismatch",
        "openai.responses.completed.output_mismatch",
        "openai.responses.sequence_number.gap",
        "openai.responses.sequence_number.mixed",
        "openai.responses.resume.mismatch",
        "openai.responses.sse.event_mismatch",
        "openai.responses.frame.unexpected",
    }
)

_LIFECYCLE = frozenset({"response.created", "response.queued", "response.in_progress"})
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})

#: Built-in tool calls the provider runs: item type -> (tool name, the fields that are its input).
#: Their results are in the item itself (``action``/``results``, ``outputs``, ``result``, ``output``
#: and ``error``) or in a ``*_output`` item of the same response; the payload is carried through.
_SERVER_TOOLS: dict[str, tuple[str, tuple[str, ...]]] = {
    "web_search_call": ("web_search", ("action",)),
    "file_search_call": ("file_search", ("queries",)),
    "code_interpreter_call": ("code_interpreter", ("code", "container_id")),
    "image_generation_call": ("image_generation", ()),
    "mcp_call": ("", ("server_label", "arguments")),
    # execution "server" (a client one is a client call, below)
    "tool_search_call": ("tool_search", ("arguments",)),
    # a shell_call whose environment is a container (a local one is a client call, below)
    "shell_call": ("shell", ("action", "environment")),
    # programmatic tool calling: the program runs at the provider; the calls it makes are items of their own
    "program": ("program", ("code",)),
}
#: Calls whose input streams as text, parsed (function) or kept raw (custom) at output_item.done.
_CLIENT_TOOLS = frozenset({"function_call", "custom_tool_call"})


@dataclass(frozen=True, slots=True)
class ClientCall:
    """How one client-executed call item type is run and answered.

    ``name`` is the tool name the core sees (empty: the item's own ``name``); ``inputs`` are the
    item fields that make its arguments (empty: the adapter's own rule, see :func:`_call_arguments`);
    ``output_type`` is the input item type the next request answers it with, and ``output_key``
    the field of that item that names the call (its value is the call's ``native_id``).
    """

    name: str
    inputs: tuple[str, ...]
    output_type: str
    output_key: str = "call_id"


#: Output items the client runs, and the ``*_output`` input items that carry the result back (the
#: SDK's ``ResponseInputItemParam`` union names and fields).
CLIENT_CALLS: dict[str, ClientCall] = {
    "function_call": ClientCall("", (), "function_call_output"),
    "custom_tool_call": ClientCall("", (), "custom_tool_call_output"),
    "computer_call": ClientCall("computer", ("action", "actions", "pending_safety_checks"), "computer_call_output"),
    # The SDK's LocalShellCallOutput names the call by "id" (the call's call_id); no "call_id" field.
    "local_shell_call": ClientCall("local_shell", ("action",), "local_shell_call_output", "id"),
    "shell_call": ClientCall("shell", ("action", "environment"), "shell_call_output"),
    "apply_patch_call": ClientCall("apply_patch", ("operation",), "apply_patch_call_output"),
    "tool_search_call": ClientCall("tool_search", ("arguments",), "tool_search_output"),
    # Not a call, but the client must answer it before the provider goes on: approve or not.
    "mcp_approval_request": ClientCall(
        "mcp_approval", ("server_label", "name", "arguments"), "mcp_approval_response", "approval_request_id"
    ),
}

#: Result items the provider itself puts in a response (server-run shells, searches, programs, or
#: a client result it echoes): carried through as ``server_tool_result`` items.
_RESULT_ITEMS = frozenset(
    {
        "function_call_output",
        "custom_tool_call_output",
        "computer_call_output",
        "local_shell_call_output",
        "shell_call_output",
        "apply_patch_call_output",
        "tool_search_output",
        "program_output",
        "mcp_approval_response",
    }
)

#: Item-scoped progress events with no content of their own: carried as ``other`` deltas.
_PROGRESS: dict[str, str] = {
    "response.web_search_call.in_progress": "web_search_call",
    "response.web_search_call.searching": "web_search_call",
    "response.web_search_call.completed": "web_search_call",
    "response.file_search_call.in_progress": "file_search_call",
    "response.file_search_call.searching": "file_search_call",
    "response.file_search_call.completed": "file_search_call",
    "response.code_interpreter_call.in_progress": "code_interpreter_call",
    "response.code_interpreter_call.interpreting": "code_interpreter_call",
    "response.code_interpreter_call.completed": "code_interpreter_call",
    "response.code_interpreter_call_code.delta": "code_interpreter_call",
    "response.code_interpreter_call_code.done": "code_interpreter_call",
    "response.image_generation_call.in_progress": "image_generation_call",
    "response.image_generation_call.generating": "image_generation_call",
    "response.image_generation_call.partial_image": "image_generation_call",
    "response.image_generation_call.completed": "image_generation_call",
    "response.mcp_call.in_progress": "mcp_call",
    "response.mcp_call.completed": "mcp_call",
    "response.mcp_call.failed": "mcp_call",
    "response.mcp_call_arguments.delta": "mcp_call",
    "response.mcp_call_arguments.done": "mcp_call",
    "response.mcp_list_tools.in_progress": "mcp_list_tools",
    "response.mcp_list_tools.completed": "mcp_list_tools",
    "response.mcp_list_tools.failed": "mcp_list_tools",
    "response.shell_call_command.added": "shell_call",
    "response.shell_call_command.delta": "shell_call",
    "response.shell_call_command.done": "shell_call",
    "response.shell_call_output_content.delta": "shell_call_output",
    "response.shell_call_output_content.done": "shell_call_output",
    "response.compaction.compacting": "compaction",
}

#: Item-scoped events with content: event name -> the item type it belongs to.
_CONTENT_EVENTS: dict[str, str] = {
    "response.content_part.added": "",
    "response.content_part.done": "",
    "response.output_text.delta": "message",
    "response.output_text.done": "message",
    "response.output_text.annotation.added": "message",
    "response.refusal.delta": "message",
    "response.refusal.done": "message",
    "response.function_call_arguments.delta": "function_call",
    "response.function_call_arguments.done": "function_call",
    "response.custom_tool_call_input.delta": "custom_tool_call",
    "response.custom_tool_call_input.done": "custom_tool_call",
    "response.reasoning_summary_part.added": "reasoning",
    "response.reasoning_summary_part.done": "reasoning",
    "response.reasoning_summary_text.delta": "reasoning",
    "response.reasoning_summary_text.done": "reasoning",
    "response.reasoning_text.delta": "reasoning",
    "response.reasoning_text.done": "reasoning",
}

#: Keys dropped from events carried as ``other`` deltas: ids that may rotate, and volatile fields.
_ROUTING_KEYS = frozenset({"item_id", "output_index", "sequence_number", "obfuscation"})

REASONING_SEPARATOR = "\n\n"


def item_kind(item_type: str, item: dict[str, Any] | None = None) -> ItemKind:
    """The canonical kind of a Responses output item (``item``: its payload, which decides for
    ``tool_search_call`` and ``shell_call`` who runs it)."""
    if item_type == "message":
        return "text"
    if item_type == "reasoning":
        return "reasoning"
    if item_type in CLIENT_CALLS and not _runs_at_provider(item_type, item or {}):
        return "tool_call"
    if item_type in _SERVER_TOOLS:
        return "server_tool_call"
    if item_type in _RESULT_ITEMS:
        return "server_tool_result"
    return "other"


def _runs_at_provider(item_type: str, item: dict[str, Any]) -> bool:
    """Whether a call type the client usually runs ran at the provider this time."""
    if item_type == "tool_search_call":
        return item.get("execution") != "client"
    if item_type == "shell_call":
        environment = item.get("environment")
        return isinstance(environment, dict) and environment.get("type") == "container_reference"
    return False


def _call_arguments(item_type: str, item: dict[str, Any]) -> Any:
    """A client call's arguments, other than a function's or custom tool's (which stream as text)."""
    inputs = CLIENT_CALLS[item_type].inputs
    if item_type == "tool_search_call":
        return item.get("arguments")
    out = {key: item[key] for key in inputs if key in item}
    if isinstance(out.get("arguments"), str):
        with contextlib.suppress(ValueError):
            out["arguments"] = _parse_arguments(out["arguments"], partial=False)
    return out


def _parse_arguments(text: str, *, partial: bool) -> Any:
    # The API sends "" for a function without parameters in some gateways; that means {}.
    if not text.strip():
        return {}
    # jiter, as the SDKs use, so numbers and partial values come out the same way.
    return jiter.from_json(text.encode(), partial_mode=partial)


def _server_tool_arguments(item: dict[str, Any]) -> Any:
    item_type = str(item.get("type", ""))
    _, fields = _SERVER_TOOLS[item_type]
    if item_type == "web_search_call":
        return item.get("action") or {}
    out = {key: item[key] for key in fields if key in item}
    if isinstance(out.get("arguments"), str):
        # Unparseable arguments stay the raw string: the provider ran the call, not us.
        with contextlib.suppress(ValueError):
            out["arguments"] = _parse_arguments(out["arguments"], partial=False)
    return out


def _texts(parts: Any, part_type: str, key: str = "text") -> list[str]:
    parts = parts if isinstance(parts, list) else []
    return [str(p.get(key) or "") for p in parts if isinstance(p, dict) and p.get("type") == part_type]


# -- wire shapes: what each value the reader uses must be (FrameShapeError otherwise) ----------------

#: Usage counts the canonical message reads; the ``*_details`` objects pass as they are.
_USAGE_COUNTS = ("input_tokens", "output_tokens", "total_tokens")
#: Item events whose ``delta`` (or final value) the reader applies, with that value's key.
_TEXT_DONE_KEYS = {
    "response.output_text.done": "text",
    "response.refusal.done": "refusal",
    "response.function_call_arguments.done": "arguments",
    "response.custom_tool_call_input.done": "input",
    "response.reasoning_summary_text.done": "text",
    "response.reasoning_text.done": "text",
}


def _check_parts(item: dict[str, Any], key: str, path: str) -> None:
    """An item's ``content`` or ``summary``: an array of objects whose texts are strings."""
    for position, part in enumerate(wire_field(item, key, path, "array", "null") or []):
        part_path = json_path(path, key, position)
        expect(part, part_path, "object")
        wire_field(part, "type", part_path, "string")
        _check_part(part, part_path)


def _check_part(part: dict[str, Any], path: str) -> None:
    wire_field(part, "text", path, "string", "null")
    wire_field(part, "refusal", path, "string", "null")
    wire_field(part, "annotations", path, "array", "null")


def check_item(item: Any, path: str) -> None:
    """An output item as ``output_item.added``/``.done`` or a response's ``output`` gives it."""
    expect(item, path, "object")
    item_type = wire_field(item, "type", path, "string", required=True)
    wire_field(item, "id", path, "string", "null")
    if item_type in ("message", "reasoning"):
        _check_parts(item, "content", path)
        _check_parts(item, "summary", path)
    elif item_type in _CLIENT_TOOLS:
        wire_field(item, "call_id", path, "string", "null")
        wire_field(item, "name", path, "string", "null")
        wire_field(item, "arguments" if item_type == "function_call" else "input", path, "string", "null")
    elif item_type in CLIENT_CALLS:
        wire_field(item, "call_id", path, "string", "null")


def check_response(response: dict[str, Any], path: str) -> None:
    """A response snapshot: its id, model, output items, usage and terminal details."""
    wire_field(response, "id", path, "string", "null")
    wire_field(response, "model", path, "string", "null")
    for position, item in enumerate(wire_field(response, "output", path, "array", "null") or []):
        check_item(item, json_path(path, "output", position))
    usage = wire_field(response, "usage", path, "object", "null")
    for count in _USAGE_COUNTS if usage else ():
        wire_field(usage, count, json_path(path, "usage"), "integer", "null")
    wire_field(response, "incomplete_details", path, "object", "null")
    error = wire_field(response, "error", path, "object", "null")
    if error:
        wire_field(error, "message", json_path(path, "error"), "string", "null")


def check_event(name: str, data: dict[str, Any], path: str = "$.frame.data") -> None:
    """Raise :class:`FrameShapeError` when a value of event ``name`` that the reader uses has
    another JSON type than the Responses API gives it (``path`` is where ``data`` is)."""
    if name == "error":
        error = wire_field(data, "error", path, "object", "null")
        source, source_path = (error, json_path(path, "error")) if error else (data, path)
        wire_field(source, "message", source_path, "string", "null")
        return
    if name in _LIFECYCLE or name in _TERMINAL:
        check_response(wire_field(data, "response", path, "object", required=True), json_path(path, "response"))
        return
    if not (name in _CONTENT_EVENTS or name in _PROGRESS or name.startswith("response.output_item.")):
        return
    wire_field(data, "output_index", path, "integer")
    wire_field(data, "item_id", path, "string", "null")
    if name in ("response.output_item.added", "response.output_item.done"):
        check_item(data.get("item"), json_path(path, "item"))
    if name not in _CONTENT_EVENTS:
        return
    wire_field(data, "content_index", path, "integer")
    wire_field(data, "summary_index", path, "integer")
    if name.endswith(".delta"):
        wire_field(data, "delta", path, "string", "null")
    elif name in _TEXT_DONE_KEYS:
        wire_field(data, _TEXT_DONE_KEYS[name], path, "string", "null")
    elif name.endswith(("part.added", "part.done")):
        part = wire_field(data, "part", path, "object", "null")
        if part:
            _check_part(part, json_path(path, "part"))
    elif name == "response.output_text.annotation.added":
        wire_field(data, "annotation", path, "object", required=True)


def item_meaning(item: dict[str, Any]) -> tuple[Any, ...]:
    """What an output item says, without ids or volatile fields: for comparing two copies of it."""
    item_type = item.get("type")
    if item_type == "message":
        content = item.get("content") or []
        return (item_type, "".join(_texts(content, "output_text")), "".join(_texts(content, "refusal", "refusal")))
    if item_type == "reasoning":
        return (item_type, _texts(item.get("summary"), "summary_text"), _texts(item.get("content"), "reasoning_text"))
    if item_type == "function_call":
        return (item_type, item.get("call_id"), item.get("name"), item.get("arguments"))
    if item_type == "custom_tool_call":
        return (item_type, item.get("call_id"), item.get("name"), item.get("input"))
    if item_type == "web_search_call":
        return (item_type, item.get("action"))
    return (item_type,)


@dataclass(slots=True)
class _Item:
    """The reader's working state for one output item."""

    item: ContentItem
    item_type: str
    added_id: Any
    #: Message content parts by content_index: {"type", "text"/"refusal", "annotations"}.
    parts: dict[int, dict[str, Any]] = field(default_factory=dict)
    summaries: dict[int, str] = field(default_factory=dict)
    reasoning_texts: dict[int, str] = field(default_factory=dict)
    #: Streamed tool-call arguments (or custom tool input), joined once by :meth:`flush`.
    buffer: str = ""
    done: bool = False
    seeded: bool = False
    id_reported: bool = False
    mismatch_reported: bool = False
    #: Delta fragments not yet written into ``parts``/``summaries``/``reasoning_texts``/``buffer``,
    #: keyed by (where, index, key). Appending a fragment to the whole text received so far would
    #: make a long stream quadratic; every handler that reads those fields calls :meth:`flush`.
    pending: dict[tuple[str, int, str], TextBuffer] = field(default_factory=dict)

    def add(self, where: str, index: int, key: str, fragment: str) -> None:
        """Queue a streamed fragment for ``parts[index][key]`` (``where="part"``), ``summaries[index]``,
        ``reasoning_texts[index]`` or the arguments ``buffer``."""
        buffer = self.pending.get((where, index, key))
        if buffer is None:
            buffer = self.pending[(where, index, key)] = TextBuffer()
        buffer.append(fragment)

    def flush(self) -> None:
        """Write the queued fragments into the fields they belong to, in order."""
        if not self.pending:
            return
        for (where, index, key), fragments in self.pending.items():
            joined = fragments.text
            if where == "part":
                part = self.parts.get(index)
                if part is not None:
                    part[key] = str(part.get(key) or "") + joined
            elif where == "summary":
                self.summaries[index] = self.summaries.get(index, "") + joined
            elif where == "reasoning":
                self.reasoning_texts[index] = self.reasoning_texts.get(index, "") + joined
            else:
                self.buffer += joined
        self.pending.clear()
        if self.item_type == "custom_tool_call":
            self.item.arguments = self.buffer


class OpenAIResponsesReader:
    """State machine for one Responses API response (one HTTP exchange, or one response of a stream).

    ``resume_after`` makes it read a resumed stream (``GET /v1/responses/{id}?starting_after=N``):
    events with ``sequence_number <= N`` are dropped, as the SDK does, the first kept event need
    not be ``response.created``, and items the stream names without adding them are taken from
    ``previous``. With ``verify`` the final message must mean what ``previous`` means
    (``openai.responses.resume.mismatch``).
    """

    def __init__(
        self,
        *,
        resume_after: int | None = None,
        previous: AssistantMessage | None = None,
        verify: bool = False,
    ) -> None:
        self.message = AssistantMessage()
        self.started = False
        self.saw_created = False
        self.items: dict[int, _Item] = {}
        self.http_status: int | None = None
        self.frames_seen = 0
        self.last_sequence: int | None = None
        self.has_sequence: bool | None = None
        self.reported: set[str] = set()
        self.resume_after = resume_after
        self.previous = previous
        self.verify = verify
        self._done = False
        self._failed_by_error = False

    @property
    def done(self) -> bool:
        return self._done

    def absorbs(self, frame: Any) -> bool:
        """Whether ``frame``, arriving after the terminal event, still belongs to this response: the
        ``data: [DONE]`` some gateways (OpenRouter) send after it, or the ``response.failed`` echo
        of an ``error`` event."""
        if not self._done or not isinstance(frame, dict):
            return False
        if frame.get("kind") == "sse.done":
            return True
        data = frame.get("data")
        name = frame.get("event") or (data.get("type") if isinstance(data, dict) else None)
        return self._failed_by_error and name == "response.failed"

    # -- helpers ---------------------------------------------------------------------------

    def _violation(self, events: list[ProviderEvent], frame_index: int, rule: str, message: str) -> None:
        events.append(ProtocolViolation(rule=rule, message=message, frame_index=frame_index, fatal=False))

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
        self._keep_streamed_state()
        violation = error_type == "protocol_violation"
        if violation:
            events.append(ProtocolViolation(rule=rule, message=message, frame_index=frame_index))
        events.append(
            ResponseFailed(
                error_type=error_type,
                message=message,
                partial=self.message,
                frame_index=frame_index,
                rule=rule if violation else None,
                provider_error=provider_error,
            )
        )
        self._done = True
        return events

    def _start(self, response: dict[str, Any], frame_index: int, events: list[ProviderEvent]) -> None:
        self.started = True
        fallback = self.previous or AssistantMessage()
        self.message.native_id = response.get("id") or fallback.native_id
        self.message.model = response.get("model") or fallback.model
        events.append(ResponseStarted(self.message.native_id, self.message.model, frame_index))

    def _check_response_id(self, response: dict[str, Any], frame_index: int, events: list[ProviderEvent]) -> None:
        found = response.get("id")
        rule = "openai.responses.response_id.changed"
        if self.started and found is not None and found != self.message.native_id and rule not in self.reported:
            # Reported once per response: a rotating proxy would otherwise report every snapshot.
            self.reported.add(rule)
            # The ids stay out of the message: they are volatile, and messages are not normalized.
            self._violation(events, frame_index, rule, "a response snapshot carries another response id than the first")

    # -- frames ----------------------------------------------------------------------------

    def feed(self, frame: Any, frame_index: int) -> list[ProviderEvent]:
        """Apply one transcript frame (an ``http.*`` or ``sse`` frame dict)."""
        events: list[ProviderEvent] = []
        kind = frame.get("kind") if isinstance(frame, dict) else None
        if self._done:
            return self._after_terminal(frame, kind, frame_index, events)
        self.frames_seen += 1
        if kind == "http.response":
            self.http_status = int(frame["status"])
            return events
        if kind == "http.body":
            return self._feed_body(frame.get("body"), frame_index, events)
        if kind == "sse.done":
            return events  # OpenRouter's trailing "data: [DONE]"; the terminal event decides
        if kind != "sse":
            events.append(UnrecognizedFrame(name=str(kind), frame=frame, frame_index=frame_index))
            return events
        raw = frame.get("data")
        if not isinstance(raw, dict):
            problem = FrameShapeError("$.frame.data", "an object (the event's JSON payload)", raw)
            return self._fail(events, frame_index, "openai.responses.frame.shape", str(problem))
        data: dict[str, Any] = raw
        data_type = data.get("type")
        if not isinstance(data_type, str | None):
            problem = FrameShapeError("$.frame.data.type", "a string", data_type)
            return self._fail(events, frame_index, "openai.responses.frame.shape", str(problem))
        name = frame.get("event") or data_type
        if frame.get("event") and data_type and frame["event"] != data_type:
            self._violation(
                events,
                frame_index,
                "openai.responses.sse.event_mismatch",
                f"SSE event {frame['event']!r} carries data.type {data_type!r}",
            )
        if self._sequence(data, frame_index, events) == "drop":
            return events
        if self._done:
            return events
        if name is None:
            events.append(UnrecognizedFrame(name=None, frame=raw, frame_index=frame_index))
            return events
        return self._feed_event(str(name), data, frame_index, events)

    def _after_terminal(
        self, frame: Any, kind: Any, frame_index: int, events: list[ProviderEvent]
    ) -> list[ProviderEvent]:
        if kind == "sse.done":
            return events
        data = frame.get("data") if isinstance(frame, dict) else None
        name = (frame.get("event") or (data or {}).get("type")) if isinstance(frame, dict) else None
        if self._failed_by_error and name == "response.failed":
            # The API follows its `error` event with the response.failed snapshot of the same
            # failure (openai-responses-error-then-failed): the same terminal, said twice.
            return events
        self._violation(
            events,
            frame_index,
            "openai.responses.frame.unexpected",
            f"frame {name or kind or frame!r} arrived after the response ended",
        )
        return events

    def _sequence(self, data: dict[str, Any], frame_index: int, events: list[ProviderEvent]) -> str | None:
        """Check ``sequence_number``; return ``"drop"`` for events a resumed stream skips."""
        number = data.get("sequence_number")
        present = isinstance(number, int) and not isinstance(number, bool)
        if self.has_sequence is None:
            self.has_sequence = present
        elif self.has_sequence != present and "openai.responses.sequence_number.mixed" not in self.reported:
            self.reported.add("openai.responses.sequence_number.mixed")
            what = "lacks" if not present else "has"
            self._violation(
                events,
                frame_index,
                "openai.responses.sequence_number.mixed",
                f"{data.get('type')!r} {what} a sequence_number, unlike the first event of the response",
            )
        if not present:
            return None
        assert isinstance(number, int)
        if self.resume_after is not None and number <= self.resume_after:
            return "drop"
        last = self.last_sequence
        expected = (last + 1) if last is not None else (self.resume_after + 1 if self.resume_after is not None else 0)
        if last is not None and number == last:
            self._fail(
                events,
                frame_index,
                "openai.responses.sequence_number.repeat",
                f"sequence_number {number} arrived twice ({data.get('type')!r})",
            )
            return None
        if last is not None and number < last:
            self._fail(
                events,
                frame_index,
                "openai.responses.sequence_number.backwards",
                f"sequence_number {number} ({data.get('type')!r}) after {last}: events out of order",
            )
            return None
        if number != expected:
            self._violation(
                events,
                frame_index,
                "openai.responses.sequence_number.gap",
                f"sequence_number {number} ({data.get('type')!r}), expected {expected}: events are missing",
            )
        self.last_sequence = number
        return None

    def _feed_body(self, body: Any, frame_index: int, events: list[ProviderEvent]) -> list[ProviderEvent]:
        error = body.get("error") if isinstance(body, dict) else None
        if error or (self.http_status or 200) >= 400:
            details = error if isinstance(error, dict) else {}
            return self._fail(
                events,
                frame_index,
                "",
                str(details.get("message") or f"HTTP {self.http_status}"),
                error_type=str(details.get("code") or details.get("type") or f"http_{self.http_status}"),
                provider_error=body,
            )
        if not isinstance(body, dict) or body.get("object") != "response":
            events.append(UnrecognizedFrame(name="http.body", frame=body, frame_index=frame_index))
            return events
        try:
            check_response(body, "$.frame.body")
        except FrameShapeError as problem:
            return self._fail(events, frame_index, "openai.responses.frame.shape", str(problem))
        # A non-streamed response: replay it as the equivalent stream.
        self._feed_event("response.created", {"response": {**body, "output": []}}, frame_index, events)
        for index, item in enumerate(body.get("output") or []):
            self._feed_event("response.output_item.added", {"output_index": index, "item": item}, frame_index, events)
            if not self._done:
                self._feed_event(
                    "response.output_item.done", {"output_index": index, "item": item}, frame_index, events
                )
        if self._done:
            return events
        status = body.get("status")
        terminal = {"incomplete": "response.incomplete", "failed": "response.failed"}.get(str(status))
        return self._feed_event(terminal or "response.completed", {"response": body}, frame_index, events)

    def _feed_event(
        self, name: str, data: dict[str, Any], frame_index: int, events: list[ProviderEvent]
    ) -> list[ProviderEvent]:
        try:
            check_event(name, data)
        except FrameShapeError as problem:
            return self._fail(events, frame_index, "openai.responses.frame.shape", str(problem))
        if name == "error":
            return self._error_event(data, frame_index, events)
        if name in _LIFECYCLE:
            response = data.get("response") if isinstance(data.get("response"), dict) else {}
            assert isinstance(response, dict)
            if name == "response.created":
                if self.saw_created:
                    return self._fail(
                        events,
                        frame_index,
                        "openai.responses.created.duplicate",
                        f"a second response.created (id {response.get('id')!r}) arrived mid-response",
                    )
                self.saw_created = True
            if not self.started:
                self._start(response, frame_index, events)
            else:
                self._check_response_id(response, frame_index, events)
            return events
        known = name in _TERMINAL or name in _CONTENT_EVENTS or name in _PROGRESS
        known = known or name in ("response.output_item.added", "response.output_item.done")
        if not known:
            events.append(UnrecognizedFrame(name=name, frame=data, frame_index=frame_index))
            return events
        if not self.started and name != "response.failed":
            if self.resume_after is None:
                return self._fail(
                    events, frame_index, "openai.responses.created.missing", f"{name} arrived before response.created"
                )
            # A stream resumed after its lifecycle events: the response is the one resumed.
            self._start({}, frame_index, events)
        if name in _TERMINAL:
            return self._terminal(name, data, frame_index, events)
        if name == "response.output_item.added":
            return self._item_added(data, frame_index, events)
        return self._item_event(name, data, frame_index, events)

    def _error_event(self, data: dict[str, Any], frame_index: int, events: list[ProviderEvent]) -> list[ProviderEvent]:
        # Two shapes: the SDK's model has code/message/param at the top level; the API has been
        # recorded nesting them under "error" (openai-responses-error-then-failed).
        nested = data.get("error")
        source: dict[str, Any] = nested if isinstance(nested, dict) else data
        error_type = source.get("code") or (source.get("type") if source is nested else None) or "error"
        self._failed_by_error = True
        return self._fail(
            events,
            frame_index,
            "",
            str(source.get("message") or ""),
            error_type=str(error_type),
            provider_error=data,
        )

    # -- items -----------------------------------------------------------------------------

    def _item_added(self, data: dict[str, Any], frame_index: int, events: list[ProviderEvent]) -> list[ProviderEvent]:
        index = data.get("output_index")
        raw = data.get("item")
        payload: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
        if not isinstance(index, int):
            return self._fail(
                events, frame_index, "openai.responses.output_index.unknown", "output_item.added without output_index"
            )
        if index in self.items:
            return self._fail(
                events,
                frame_index,
                "openai.responses.output_index.duplicate",
                f"output_item.added for output_index {index}, which was already added",
            )
        self._add(index, payload, frame_index, events)
        return events

    def _add(self, index: int, payload: dict[str, Any], frame_index: int, events: list[ProviderEvent]) -> _Item:
        item_type = str(payload.get("type", ""))
        kind = item_kind(item_type, payload)
        item = ContentItem(index=index, kind=kind, block_type=item_type, block=payload)
        state = _Item(item=item, item_type=item_type, added_id=payload.get("id"))
        if kind == "tool_call" and item_type not in _CLIENT_TOOLS:
            self._client_call(item, payload)
        elif kind == "tool_call":
            item.native_id = payload.get("call_id")
            item.name = payload.get("name")
            state.buffer = str(payload.get("arguments" if item_type == "function_call" else "input") or "")
            item.arguments_json = state.buffer
            item.arguments = state.buffer if item_type == "custom_tool_call" else None
        elif kind == "server_tool_call":
            tool, _ = _SERVER_TOOLS[item_type]
            item.native_id = payload.get("id")
            item.name = tool or payload.get("name")
            item.arguments = _server_tool_arguments(payload)
        elif kind == "text":
            for position, part in enumerate(payload.get("content") or []):
                if isinstance(part, dict):
                    state.parts[position] = dict(part)
            self._message_text(state)
        elif kind == "reasoning":
            state.summaries = dict(enumerate(_texts(payload.get("summary"), "summary_text")))
            state.reasoning_texts = dict(enumerate(_texts(payload.get("content"), "reasoning_text")))
            item.text = self._reasoning_text(state)
        self.items[index] = state
        self.message.items.append(item)
        events.append(ItemStarted(index, kind, item_type, item.native_id, item.name, frame_index))
        return state

    @staticmethod
    def _client_call(item: ContentItem, payload: dict[str, Any]) -> None:
        """Name, id and arguments of a client call other than a function or custom tool call."""
        call = CLIENT_CALLS[item.block_type]
        key = "id" if call.output_key == "approval_request_id" else "call_id"
        item.native_id = payload.get(key)
        item.name = call.name
        item.arguments = _call_arguments(item.block_type, payload)

    def _seed(self, index: int, frame_index: int, events: list[ProviderEvent]) -> _Item | None:
        """In a resumed stream: an item added before the resume point, taken from the resumed response.

        A response that failed (the connection dropped) is the client's state at the resume point,
        so its items go on from what they hold. A completed one holds more than was streamed
        before the resume point, which is unknown: its texts start empty and the item's
        ``output_item.done`` brings them back.
        """
        if self.resume_after is None or self.previous is None:
            return None
        earlier = next((i for i in self.previous.items if i.index == index), None)
        if earlier is None:
            return None
        payload = dict(earlier.block)
        if self.verify:
            if isinstance(payload.get("content"), list):
                payload["content"] = [
                    {**p, "text": ""} if isinstance(p, dict) and "text" in p else p for p in payload["content"]
                ]
            payload.pop("summary", None)
            for key in ("arguments", "input"):
                if isinstance(payload.get(key), str):
                    payload[key] = ""
        state = self._add(index, payload, frame_index, events)
        state.seeded = True
        return state

    def _keep_streamed_state(self) -> None:
        """Write what open items streamed into their payloads, so a failed response can be resumed."""
        for state in self.items.values():
            state.flush()
            if state.done:
                continue
            block = dict(state.item.block)
            if state.item_type == "message":
                block["content"] = [state.parts[k] for k in sorted(state.parts)]
            elif state.item_type == "reasoning":
                block["summary"] = [
                    {"type": "summary_text", "text": state.summaries[k]} for k in sorted(state.summaries)
                ]
                block["content"] = [
                    {"type": "reasoning_text", "text": state.reasoning_texts[k]} for k in sorted(state.reasoning_texts)
                ]
            elif state.item_type in _CLIENT_TOOLS:
                block["arguments" if state.item_type == "function_call" else "input"] = state.buffer
            state.item.block = block

    def _lookup(self, name: str, data: dict[str, Any], frame_index: int, events: list[ProviderEvent]) -> _Item | None:
        """The open item an event names, or None after failing the response."""
        index = data.get("output_index")
        state = self.items.get(index) if isinstance(index, int) else None
        if state is None and isinstance(index, int):
            state = self._seed(index, frame_index, events)
        if state is None:
            self._fail(
                events,
                frame_index,
                "openai.responses.output_index.unknown",
                f"{name} for output_index {index!r}, which was never added",
            )
            return None
        if state.done:
            self._fail(
                events,
                frame_index,
                "openai.responses.item.after_done",
                f"{name} for output_index {index}, which is already done",
            )
            return None
        item_id = data.get("item_id")
        if item_id is not None and item_id != state.added_id:
            self._id_changed(state, name, frame_index, events)
        return state

    def _id_changed(self, state: _Item, name: str, frame_index: int, events: list[ProviderEvent]) -> None:
        if state.id_reported:
            return  # once per item: a rotating proxy changes it on every event
        state.id_reported = True
        self._violation(
            events,
            frame_index,
            "openai.responses.item_id.changed",
            f"{name} names another item id than output_index {state.item.index} was added with",
        )

    def _mismatch(
        self, state: _Item, what: str, streamed: str, final: str, frame_index: int, events: list[ProviderEvent]
    ) -> None:
        if state.seeded or state.mismatch_reported or streamed == final:
            return
        state.mismatch_reported = True
        self._violation(
            events,
            frame_index,
            "openai.responses.delta.done_mismatch",
            f"output_index {state.item.index} {what}: the deltas give {len(streamed)} characters, "
            f"the final value {len(final)} ({streamed[:40]!r}… vs {final[:40]!r}…); the final value is kept",
        )

    def _message_text(self, state: _Item) -> None:
        ordered = [state.parts[k] for k in sorted(state.parts)]
        state.item.text = "".join(str(p.get("text") or "") for p in ordered if p.get("type") == "output_text")
        state.item.citations = [
            a for p in ordered if p.get("type") == "output_text" for a in p.get("annotations") or []
        ]

    def _reasoning_text(self, state: _Item) -> str:
        summaries = [state.summaries[k] for k in sorted(state.summaries)]
        texts = [state.reasoning_texts[k] for k in sorted(state.reasoning_texts)]
        return REASONING_SEPARATOR.join(summaries + texts)

    def _reasoning_part(
        self, state: _Item, parts: dict[int, str], index: int, frame_index: int, events: list[ProviderEvent]
    ) -> None:
        """Open reasoning part ``index``; parts after the first are preceded by a separator delta."""
        if index in parts:
            return
        if state.summaries or state.reasoning_texts:
            state.item.append_text(REASONING_SEPARATOR)
            events.append(ItemDelta(state.item.index, "reasoning", REASONING_SEPARATOR, None, frame_index))
        parts[index] = ""

    def _item_event(
        self, name: str, data: dict[str, Any], frame_index: int, events: list[ProviderEvent]
    ) -> list[ProviderEvent]:
        state = self._lookup(name, data, frame_index, events)
        if state is None:
            return events
        item = state.item
        if name == "response.output_item.done":
            return self._item_done(state, data, frame_index, events)
        expected_type = _CONTENT_EVENTS.get(name) if name in _CONTENT_EVENTS else _PROGRESS.get(name)
        if name in ("response.content_part.added", "response.content_part.done"):
            expected_type = "reasoning" if state.item_type == "reasoning" else "message"
        if expected_type and expected_type != state.item_type:
            return self._fail(
                events,
                frame_index,
                "openai.responses.item.type_mismatch",
                f"{name} for output_index {item.index}, which is a {state.item_type!r} item",
            )
        if name in _PROGRESS:
            events.append(ItemDelta(item.index, "other", "", _payload(data), frame_index))
            return events
        if not name.endswith(".delta"):
            state.flush()
        if state.item_type == "message":
            return self._message_event(state, name, data, frame_index, events)
        if state.item_type == "reasoning":
            return self._reasoning_event(state, name, data, frame_index, events)
        # function_call / custom_tool_call argument streams
        if name.endswith(".delta"):
            fragment = str(data.get("delta") or "")
            state.add("buffer", 0, "", fragment)
            item.append_arguments(fragment)
            events.append(ItemDelta(item.index, "arguments", fragment, None, frame_index))
            return events
        final = data.get("arguments" if state.item_type == "function_call" else "input")
        if isinstance(final, str):
            self._mismatch(state, "arguments", state.buffer, final, frame_index, events)
            state.buffer = final
            item.arguments_json = final
            if state.item_type == "custom_tool_call":
                item.arguments = final
        return events

    def _message_event(
        self, state: _Item, name: str, data: dict[str, Any], frame_index: int, events: list[ProviderEvent]
    ) -> list[ProviderEvent]:
        item = state.item
        content_index = data.get("content_index", 0)
        if name in ("response.content_part.added", "response.content_part.done"):
            part = data.get("part")
            if isinstance(part, dict) and isinstance(content_index, int):
                state.parts[content_index] = dict(part)
                self._message_text(state)
            return events
        part = state.parts.get(content_index) if isinstance(content_index, int) else None
        if part is None:
            return self._fail(
                events,
                frame_index,
                "openai.responses.content_part.missing",
                f"{name} for content_index {content_index!r} of output_index {item.index}, "
                "which no content_part.added opened",
            )
        if name == "response.output_text.annotation.added":
            annotation = data.get("annotation")
            part.setdefault("annotations", []).append(annotation)
            item.citations.append(annotation)
            events.append(ItemDelta(item.index, "citation", "", annotation, frame_index))
            return events
        key = "refusal" if name.startswith("response.refusal.") else "text"
        part_type = "refusal" if key == "refusal" else "output_text"
        if part.get("type") != part_type:
            return self._fail(
                events,
                frame_index,
                "openai.responses.item.type_mismatch",
                f"{name} for content_index {content_index} of output_index {item.index}, "
                f"which is a {part.get('type')!r} part",
            )
        if name.endswith(".delta"):
            fragment = str(data.get("delta") or "")
            state.add("part", content_index, key, fragment)
            if key == "text":
                # Usually the last part grows; recompute only when it is not.
                if content_index == max(state.parts):
                    item.append_text(fragment)
                else:
                    state.flush()
                    self._message_text(state)
                events.append(ItemDelta(item.index, "text", fragment, None, frame_index))
            else:
                events.append(ItemDelta(item.index, "other", "", _payload(data), frame_index))
            return events
        final = data.get(key)
        if isinstance(final, str):
            self._mismatch(state, key, str(part.get(key) or ""), final, frame_index, events)
            part[key] = final
            self._message_text(state)
        return events

    def _reasoning_event(
        self, state: _Item, name: str, data: dict[str, Any], frame_index: int, events: list[ProviderEvent]
    ) -> list[ProviderEvent]:
        item = state.item
        if name.startswith("response.reasoning_summary_"):
            parts, index = state.summaries, data.get("summary_index", 0)
        else:  # reasoning_text.* and content_part.* (raw reasoning text parts)
            parts, index = state.reasoning_texts, data.get("content_index", 0)
        if not isinstance(index, int):
            index = 0
        self._reasoning_part(state, parts, index, frame_index, events)
        if name.endswith(".delta"):
            fragment = str(data.get("delta") or "")
            state.add("summary" if parts is state.summaries else "reasoning", index, "", fragment)
            item.append_text(fragment)
            events.append(ItemDelta(item.index, "reasoning", fragment, None, frame_index))
            return events
        final = data.get("text")
        part = data.get("part")
        if final is None and isinstance(part, dict):
            final = part.get("text")
        if isinstance(final, str) and (final or not name.endswith(".added")):
            if name.endswith("text.done"):
                self._mismatch(state, "reasoning", parts[index], final, frame_index, events)
            parts[index] = final
            item.text = self._reasoning_text(state)
        return events

    def _item_done(
        self, state: _Item, data: dict[str, Any], frame_index: int, events: list[ProviderEvent]
    ) -> list[ProviderEvent]:
        state.flush()
        raw = data.get("item")
        payload: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
        item = state.item
        found_type = payload.get("type", state.item_type)
        if found_type != state.item_type:
            return self._fail(
                events,
                frame_index,
                "openai.responses.item.type_mismatch",
                f"output_item.done for output_index {item.index} is a {found_type!r} item, "
                f"added as {state.item_type!r}",
            )
        if "id" in payload and payload["id"] != state.added_id:
            self._id_changed(state, "response.output_item.done", frame_index, events)
        # The done payload is authoritative for the final content (so it is for the SDK).
        block = {**item.block, **payload}
        item.block = block
        if state.item_type == "message" and isinstance(payload.get("content"), list):
            streamed = item.text
            state.parts = {k: dict(p) for k, p in enumerate(payload["content"]) if isinstance(p, dict)}
            self._message_text(state)
            self._mismatch(state, "text", streamed, item.text, frame_index, events)
        elif state.item_type == "reasoning":
            if isinstance(payload.get("summary"), list):
                state.summaries = dict(enumerate(_texts(payload["summary"], "summary_text")))
            if isinstance(payload.get("content"), list):
                state.reasoning_texts = dict(enumerate(_texts(payload["content"], "reasoning_text")))
            item.text = self._reasoning_text(state)
        elif item.kind == "tool_call" and state.item_type not in _CLIENT_TOOLS:
            self._client_call(item, block)
        elif item.kind == "tool_call":
            key = "arguments" if state.item_type == "function_call" else "input"
            if isinstance(payload.get(key), str):
                self._mismatch(state, key, state.buffer, payload[key], frame_index, events)
                state.buffer = payload[key]
            item.native_id = payload.get("call_id", item.native_id)
            item.name = payload.get("name", item.name)
            item.arguments_json = state.buffer
            if state.item_type == "custom_tool_call":
                item.arguments = state.buffer
            else:
                try:
                    item.arguments = _parse_arguments(state.buffer, partial=False)
                except ValueError as exc:
                    return self._fail(
                        events,
                        frame_index,
                        "openai.responses.function_call.invalid_json",
                        f"function call {item.name!r} (output_index {item.index}) arguments are not valid JSON "
                        f"({exc}): {state.buffer!r}",
                    )
        elif item.kind == "server_tool_call":
            item.arguments = _server_tool_arguments(block)
        state.done = True
        item.complete = True
        events.append(ItemCompleted(item, frame_index))
        return events

    # -- the end -----------------------------------------------------------------------------

    def _terminal(
        self, name: str, data: dict[str, Any], frame_index: int, events: list[ProviderEvent]
    ) -> list[ProviderEvent]:
        for state in self.items.values():
            state.flush()
        response = data.get("response") if isinstance(data.get("response"), dict) else {}
        assert isinstance(response, dict)
        self._check_response_id(response, frame_index, events)
        if name == "response.failed":
            error = response.get("error") if isinstance(response.get("error"), dict) else {}
            assert isinstance(error, dict)
            return self._fail(
                events,
                frame_index,
                "",
                str(error.get("message") or ""),
                error_type=str(error.get("code") or error.get("type") or "response_failed"),
                provider_error=data,
            )
        output = response.get("output")
        if name == "response.completed" and not self.items and isinstance(output, list) and output:
            # Nothing streamed: the snapshot's items are the response (as the SDK takes them).
            for index, payload in enumerate(output):
                if isinstance(payload, dict):
                    self._add(index, dict(payload), frame_index, events)
                    self._item_done(self.items[index], {"item": payload}, frame_index, events)
                    if self._done:
                        return events
        open_items = sorted(i for i, s in self.items.items() if not s.done)
        if open_items and name == "response.completed":
            return self._fail(
                events,
                frame_index,
                "openai.responses.item.unclosed",
                f"response.completed with output_index(es) {open_items} never done",
            )
        for index in open_items:
            # response.incomplete: what streamed so far is kept, marked incomplete.
            state = self.items[index]
            item = state.item
            if state.item_type == "function_call":
                try:
                    item.arguments = _parse_arguments(state.buffer, partial=True)
                except ValueError as exc:
                    return self._fail(
                        events,
                        frame_index,
                        "openai.responses.function_call.invalid_json",
                        f"function call {item.name!r} cut off by {name} is not even partial JSON ({exc}): "
                        f"{state.buffer!r}",
                    )
            state.done = True
            item.complete = False
            events.append(ItemCompleted(item, frame_index))
        if name == "response.completed" and isinstance(output, list) and self.items:
            self._compare_output(output, frame_index, events)
        details = response.get("incomplete_details")
        self.message.usage = dict(response.get("usage") or {})
        if name == "response.incomplete":
            reason = details.get("reason") if isinstance(details, dict) else None
            self.message.stop_reason = str(reason or "incomplete")
            self.message.stop_details = details
        else:
            self.message.stop_reason = "completed"
            refusal = "".join(
                str(p.get("refusal") or "")
                for s in self.items.values()
                if s.item_type == "message"
                for p in (s.parts[k] for k in sorted(s.parts))
                if p.get("type") == "refusal"
            )
            if refusal:
                self.message.stop_details = {"type": "refusal", "refusal": refusal}
        if self.verify and self.previous is not None:
            self._verify_resume(frame_index, events)
        events.append(ResponseCompleted(self.message, frame_index))
        self._done = True
        return events

    def _compare_output(self, output: list[Any], frame_index: int, events: list[ProviderEvent]) -> None:
        streamed = [item_meaning(self.items[k].item.block) for k in sorted(self.items)]
        snapshot = [item_meaning(p) for p in output if isinstance(p, dict)]
        if streamed != snapshot:
            self._violation(
                events,
                frame_index,
                "openai.responses.completed.output_mismatch",
                f"response.completed lists {[m[0] for m in snapshot]}, the stream gave {[m[0] for m in streamed]}"
                + (" (same types, different content)" if [m[0] for m in snapshot] == [m[0] for m in streamed] else "")
                + "; the streamed items are kept",
            )

    def _verify_resume(self, frame_index: int, events: list[ProviderEvent]) -> None:
        assert self.previous is not None
        earlier = [item_meaning(i.block) for i in self.previous.items]
        now = [item_meaning(i.block) for i in self.message.items]
        same_id = self.message.native_id == self.previous.native_id
        if earlier != now or not same_id:
            what = "a different response id" if not same_id else "different items"
            self._violation(
                events,
                frame_index,
                "openai.responses.resume.mismatch",
                f"the resumed stream gave {what} than the stream it resumes",
            )

    def finish(self, frame_index: int) -> list[ProviderEvent]:
        if self._done:
            return []
        events: list[ProviderEvent] = []
        if self.frames_seen == 0:
            return self._fail(events, frame_index, "openai.responses.stream.empty", "the response carried no events")
        where = "before any response event" if not self.started else "before response.completed"
        return self._fail(events, frame_index, "openai.responses.stream.truncated", f"the stream ended {where}")


def _payload(data: dict[str, Any]) -> dict[str, Any]:
    """An item event as an ``other`` delta: without routing ids (they may rotate) or padding."""
    return {k: v for k, v in data.items() if k not in _ROUTING_KEYS}


# -- requests ------------------------------------------------------------------------------------


def _input_item(item: ContentItem) -> dict[str, Any]:
    """One item of a previous response, as the next request's ``input`` carries it back."""
    block = item.block
    if item.block_type == "message":
        content = []
        for part in block.get("content") or []:
            if isinstance(part, dict) and part.get("type") == "output_text":
                content.append(
                    {"type": "output_text", "text": part.get("text", ""), "annotations": part.get("annotations") or []}
                )
            elif isinstance(part, dict) and part.get("type") == "refusal":
                content.append({"type": "refusal", "refusal": part.get("refusal", "")})
        out: dict[str, Any] = {"type": "message", "role": "assistant", "status": "completed", "content": content}
        for key in ("id", "phase"):
            if key in block:
                out[key] = block[key]
        return out
    if item.block_type == "reasoning":
        out = {
            "type": "reasoning",
            "id": block.get("id"),
            "summary": block.get("summary") or [],
            "encrypted_content": block.get("encrypted_content"),
        }
        if block.get("content"):
            out["content"] = block["content"]
        return out
    if item.block_type in _CLIENT_TOOLS:
        key = "arguments" if item.block_type == "function_call" else "input"
        out = {"type": item.block_type, "call_id": item.native_id, "name": item.name, key: item.arguments_json}
        if "id" in block:
            out["id"] = block["id"]
        return out
    return dict(block)


def _tool_output(result: ToolResult) -> Any:
    if result.status == "failed":
        return str(result.error)
    if result.verbatim or isinstance(result.output, str):
        return result.output
    return orjson.dumps(result.output).decode()


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def tool_output_item(call_type: str, result: ToolResult) -> dict[str, Any]:
    """The ``*_output`` input item that answers a ``call_type`` call with ``result``.

    A recorded result (``verbatim``) of a call other than a function or custom tool call is the
    recorded item without its ``type``, and goes back as it was. Otherwise the output is shaped for
    the item type; where the API has no failure field, a failure says so as the type allows.
    """
    call = CLIENT_CALLS.get(call_type, CLIENT_CALLS["function_call"])
    item: dict[str, Any] = {"type": call.output_type, call.output_key: result.native_id}
    output, failed = result.output, result.status == "failed"
    if call_type in _CLIENT_TOOLS or call_type not in CLIENT_CALLS:
        item["output"] = _tool_output(result)
    elif result.verbatim and isinstance(output, dict):
        return {"type": call.output_type, **output}
    elif call_type == "computer_call":
        # computer_call_output has no error field: a failed action sends no screenshot, status incomplete.
        screenshot = output if isinstance(output, dict) else {"type": "computer_screenshot", "image_url": output}
        item["output"] = {"type": "computer_screenshot"} if failed else screenshot
        if failed:
            item["status"] = "incomplete"
    elif call_type == "local_shell_call":
        item["output"] = str(result.error) if failed else _as_text(output)
        if failed:
            item["status"] = "incomplete"
    elif call_type == "shell_call":
        if failed:
            item["output"] = [{"stdout": "", "stderr": str(result.error), "outcome": {"type": "exit", "exit_code": 1}}]
        elif isinstance(output, list):
            item["output"] = output
        else:
            item["output"] = [{"stdout": _as_text(output), "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}]
    elif call_type == "apply_patch_call":
        item["status"] = "failed" if failed else "completed"
        item["output"] = str(result.error) if failed else _as_text(output)
    elif call_type == "tool_search_call":
        item["execution"] = "client"
        item["tools"] = output if isinstance(output, list) and not failed else []
    else:  # mcp_approval_request: the output is the decision (a boolean, or {"approve", "reason"})
        decision = output if isinstance(output, dict) else {"approve": bool(output)}
        if failed:
            decision = {"approve": False, "reason": str(result.error)}
        item.update({k: decision[k] for k in ("approve", "reason") if k in decision})
    return item


class OpenAIResponsesAdapter:
    """The ``openai.responses`` adapter."""

    protocol = PROTOCOL

    def build_request(self, template: RequestTemplate, conversation: list[ConversationTurn]) -> dict[str, Any]:
        """The ``http.request`` frame for the next request of the agent loop."""
        items: list[dict[str, Any]] = []
        calls: dict[str | None, ContentItem] = {}
        for turn in conversation:
            if isinstance(turn, UserTurn):
                content = turn.content if turn.content is not None else turn.text
                items.append({"role": "user", "content": content})
            elif isinstance(turn, AssistantTurn):
                for item in turn.message.items:
                    items.append(_input_item(item))
                    if item.kind == "tool_call":
                        calls[item.native_id] = item
            else:
                assert isinstance(turn, ToolResultsTurn)
                for result in turn.results:
                    call = calls.get(result.native_id)
                    items.append(tool_output_item(call.block_type if call is not None else "", result))
        return {
            "kind": "http.request",
            "method": template.method,
            "path": template.path,
            "query": dict(template.query),
            "headers": dict(template.headers),
            "body": {**template.params, "input": items},
        }

    def build_resume_request(self, template: RequestTemplate, native_id: str, starting_after: int) -> dict[str, Any]:
        """``GET <path>/<response id>?starting_after=N&stream=true``: re-attach to a background response."""
        return {
            "kind": "http.request",
            "method": "GET",
            "path": f"{template.path.rstrip('/')}/{native_id}",
            "query": {"starting_after": str(starting_after), "stream": "true"},
            "headers": {k: v for k, v in template.headers.items() if k != "content-type"},
            "body": None,
        }

    def next_step(self, message: AssistantMessage) -> NextStep:
        # The Responses API has no "tool_use" stop reason: a completed response that called
        # client tools wants their outputs. An incomplete one (max_output_tokens) does not run them.
        if message.stop_reason == "completed" and message.tool_calls:
            return "run_tools"
        return "stop"

    def split_request(self, frame: Any) -> tuple[RequestTemplate, UserTurn]:
        template, body = request_template(frame)
        items = wire_field(body, "input", "$.frame.body", "string", "array", "null")
        template.params.pop("input", None)
        for position, entry in enumerate(items if isinstance(items, list) else []):
            path = json_path("$.frame.body.input", position)
            expect(entry, path, "object")
            wire_field(entry, "role", path, "string")
            content = wire_field(entry, "content", path, "string", "array", "null")
            for part_position, part in enumerate(content if isinstance(content, list) else []):
                part_path = json_path(path, "content", part_position)
                expect(part, part_path, "object")
                wire_field(part, "text", part_path, "string")
        if isinstance(items, str):
            raise ValueError("the first recorded request's input is a bare string, not a list of input items")
        first = items[0] if isinstance(items, list) and len(items) == 1 else None
        if not (isinstance(first, dict) and first.get("role") == "user" and set(first) <= {"role", "content"}):
            count = len(items) if isinstance(items, list) else 0
            raise ValueError(f"the first recorded request carries {count} input items, not one user message")
        content = first.get("content")
        if isinstance(content, str):
            return template, UserTurn(text=content)
        text = "".join(str(p.get("text", "")) for p in content or [] if isinstance(p, dict))
        return template, UserTurn(text=text, content=content)

    def recorded_tool_result(self, frame: Any, call: ContentItem) -> ToolResult | None:
        body = frame.get("body") if isinstance(frame, dict) else None
        items = body.get("input") if isinstance(body, dict) else None
        # Old clients sent the item id (fc_...) as call_id; accept either.
        ids = {call.native_id, call.block.get("id")} - {None}
        spec = CLIENT_CALLS.get(call.block_type)
        if spec is None or call.block_type in _CLIENT_TOOLS:
            output_types: tuple[str, ...] = ("function_call_output", "custom_tool_call_output")
        else:
            output_types = (spec.output_type,)
        # Clients name a local shell call by call_id although the SDK's type says id: accept both.
        keys = ("call_id", "id") if call.block_type == "local_shell_call" else (spec.output_key if spec else "call_id",)
        for entry in reversed(items if isinstance(items, list) else []):
            if not (isinstance(entry, dict) and entry.get("type") in output_types):
                continue
            if not any(entry.get(key) in ids for key in keys):
                continue
            if call.block_type in _CLIENT_TOOLS or spec is None:
                output = entry.get("output")
            else:
                output = {k: v for k, v in entry.items() if k != "type"}
            return ToolResult(call.native_id, call.name or "", "succeeded", output=output, verbatim=True)
        return None

    def new_response(self) -> OpenAIResponsesReader:
        return OpenAIResponsesReader()

    def resume_response(
        self, previous: AssistantMessage, starting_after: int, *, verify: bool
    ) -> OpenAIResponsesReader:
        """A reader for the resumed stream of ``previous`` (see :class:`OpenAIResponsesReader`)."""
        return OpenAIResponsesReader(resume_after=starting_after, previous=previous, verify=verify)


def adapt_frames(frames: list[Any]) -> list[ProviderEvent]:
    """Pure convenience: every canonical event for a list of frames, one reader per response.

    A new response starts at a ``response.created`` (or any non-SSE frame) after a terminal
    event; anything else after a terminal goes to the finished reader, which absorbs the
    ``response.failed`` that follows an ``error`` and ``[DONE]``, and reports the rest.
    """
    events: list[ProviderEvent] = []
    reader = OpenAIResponsesReader()
    for index, frame in enumerate(frames):
        if reader.done and _starts_response(frame):
            reader = OpenAIResponsesReader()
        events.extend(reader.feed(frame, index))
    events.extend(reader.finish(len(frames)))
    return events


def _starts_response(frame: Any) -> bool:
    if not isinstance(frame, dict):
        return False
    if frame.get("kind") in ("http.response", "http.body"):
        return True
    data = frame.get("data")
    name = frame.get("event") or (data.get("type") if isinstance(data, dict) else None)
    return name == "response.created"
