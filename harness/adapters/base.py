"""The canonical provider-event vocabulary every protocol adapter maps its wire frames to.

An adapter turns one provider response (a sequence of inbound frames) into:

* :class:`ResponseStarted` once the provider has said who it is,
* per content item: :class:`ItemStarted`, zero or more :class:`ItemDelta`, :class:`ItemCompleted`,
* exactly one terminal event: :class:`ResponseCompleted` (carrying the final
  :class:`AssistantMessage`) or :class:`ResponseFailed`,
* anywhere: :class:`ProtocolViolation` (a named broken rule) and :class:`UnrecognizedFrame`
  (a frame the adapter does not know, carried through rather than dropped).

Adapters are pure: the same frames give the same events, with no clock, I/O or randomness.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, Protocol

from harness.limits import format_json_path
from harness.text import TextBuffer

ItemKind = Literal[
    "text",
    "reasoning",
    "redacted_reasoning",
    "tool_call",
    "server_tool_call",
    "server_tool_result",
    "other",
]
DeltaKind = Literal["text", "reasoning", "arguments", "signature", "citation", "other"]


NextStep = Literal["run_tools", "continue", "stop"]


class JoinedText:
    """A ``str`` attribute kept in a :class:`~harness.text.TextBuffer`.

    Streams grow text and tool arguments one fragment at a time; ``item.text += fragment``
    copies everything received so far, which makes a long stream quadratic. Fragments go to
    :meth:`ContentItem.append_text` / :meth:`ContentItem.append_arguments` instead; reading the
    attribute joins once, so any mix of appends and reads stays linear.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj: object, objtype: type | None = None) -> str:
        if obj is None:
            return ""  # the dataclass default
        buffer: TextBuffer = obj.__dict__[self.slot]
        return buffer.text

    def __set__(self, obj: object, value: str) -> None:
        obj.__dict__[self.slot] = TextBuffer(value)


@dataclass
class ContentItem:
    """One content item of an assistant message, in the provider's order.

    ``block`` keeps the provider's own start payload for items the harness only carries through
    (server tool results, redacted reasoning, unknown block types), so nothing is lost. ``text``
    and ``arguments_json`` grow by :meth:`append_text` and :meth:`append_arguments` while a
    stream is read (see :class:`JoinedText`).
    """

    index: int
    kind: ItemKind
    block_type: str
    text: JoinedText = JoinedText()
    native_id: str | None = None
    name: str | None = None
    arguments: Any = None
    arguments_json: JoinedText = JoinedText()
    signature: str | None = None
    citations: list[Any] = field(default_factory=list)
    block: dict[str, Any] = field(default_factory=dict)
    complete: bool = False
    #: Which choice of a multi-choice response (OpenAI Chat ``n > 1``) the item belongs to.
    choice: int = 0

    def append_text(self, fragment: str) -> None:
        """Add a streamed fragment to ``text`` without copying what came before."""
        self.__dict__["_text"].append(fragment)

    def append_arguments(self, fragment: str) -> None:
        """Add a streamed fragment to ``arguments_json`` without copying what came before."""
        self.__dict__["_arguments_json"].append(fragment)

    def to_json(self) -> dict[str, Any]:
        """A plain JSON view with only the fields that mean something for this kind."""
        out: dict[str, Any] = {"index": self.index, "kind": self.kind, "block_type": self.block_type}
        if self.choice:
            out["choice"] = self.choice
        if self.kind in ("text", "reasoning"):
            out["text"] = self.text
        if self.kind == "text" and self.citations:
            out["citations"] = self.citations
        if self.kind == "reasoning":
            out["signature"] = self.signature
        if self.kind in ("tool_call", "server_tool_call"):
            out.update(native_id=self.native_id, name=self.name, arguments=self.arguments)
        if self.kind in ("redacted_reasoning", "server_tool_call", "server_tool_result", "other"):
            out["block"] = self.block
        out["complete"] = self.complete
        return out


@dataclass(slots=True)
class AssistantMessage:
    """The final meaning of one provider response: what the SDK accumulators also compute."""

    native_id: str | None = None
    model: str | None = None
    items: list[ContentItem] = field(default_factory=list)
    stop_reason: str | None = None
    stop_sequence: str | None = None
    stop_details: Any = None
    usage: dict[str, Any] = field(default_factory=dict)
    #: Index of this choice; the agent loop continues with choice 0.
    choice: int = 0
    #: The other choices of the same response (OpenAI Chat ``n > 1``), each its own message.
    alternatives: list[AssistantMessage] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(i.text for i in self.items if i.kind == "text")

    @property
    def reasoning(self) -> str:
        return "".join(i.text for i in self.items if i.kind == "reasoning")

    @property
    def input_tokens(self) -> int | None:
        """Prompt tokens, whatever the protocol calls them (``input_tokens``, ``prompt_tokens``)."""
        value = self.usage.get("input_tokens", self.usage.get("prompt_tokens"))
        return value if isinstance(value, int) else None

    @property
    def output_tokens(self) -> int | None:
        """Completion tokens (``output_tokens``, ``completion_tokens``)."""
        value = self.usage.get("output_tokens", self.usage.get("completion_tokens"))
        return value if isinstance(value, int) else None

    @property
    def tool_calls(self) -> list[ContentItem]:
        """Client-side tool calls the orchestrator must run (server tools run at the provider)."""
        return [i for i in self.items if i.kind == "tool_call"]

    def to_json(self) -> dict[str, Any]:
        out = {
            "native_id": self.native_id,
            "model": self.model,
            "items": [i.to_json() for i in self.items],
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            "stop_details": self.stop_details,
            "usage": self.usage,
        }
        if self.choice:
            out["choice"] = self.choice
        if self.alternatives:
            out["alternatives"] = [m.to_json() for m in self.alternatives]
        return out


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    native_id: str | None
    model: str | None
    frame_index: int


@dataclass(frozen=True, slots=True)
class ItemStarted:
    index: int
    kind: ItemKind
    block_type: str
    native_id: str | None
    name: str | None
    frame_index: int
    choice: int = 0


@dataclass(frozen=True, slots=True)
class ItemDelta:
    index: int
    kind: DeltaKind
    text: str
    data: Any
    frame_index: int
    choice: int = 0


@dataclass(frozen=True, slots=True)
class ItemCompleted:
    item: ContentItem
    frame_index: int


@dataclass(frozen=True, slots=True)
class ResponseCompleted:
    message: AssistantMessage
    frame_index: int


@dataclass(frozen=True, slots=True)
class ResponseFailed:
    """The response ended in failure: a provider error, a violation or a truncated stream."""

    error_type: str
    message: str
    partial: AssistantMessage
    frame_index: int
    rule: str | None = None
    provider_error: Any = None


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """A named protocol rule the frames broke. ``fatal`` violations also fail the response."""

    rule: str
    message: str
    frame_index: int
    fatal: bool = True


@dataclass(frozen=True, slots=True)
class UnrecognizedFrame:
    """A frame the adapter does not know; carried into the event log instead of dropped."""

    name: str | None
    frame: Any
    frame_index: int


ProviderEvent = (
    ResponseStarted
    | ItemStarted
    | ItemDelta
    | ItemCompleted
    | ResponseCompleted
    | ResponseFailed
    | ProtocolViolation
    | UnrecognizedFrame
)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of one tool call, as the next request must report it."""

    native_id: str | None
    name: str
    status: Literal["succeeded", "failed"]
    output: Any = None
    error: str | None = None
    verbatim: bool = False


@dataclass(frozen=True, slots=True)
class UserTurn:
    text: str
    content: Any = None  # raw provider content, when the scenario gives it verbatim


@dataclass(frozen=True, slots=True)
class AssistantTurn:
    message: AssistantMessage


@dataclass(frozen=True, slots=True)
class ToolResultsTurn:
    results: tuple[ToolResult, ...]


ConversationTurn = UserTurn | AssistantTurn | ToolResultsTurn


@dataclass(frozen=True, slots=True)
class RequestTemplate:
    """How to build each HTTP request: everything but the conversation, which the core owns."""

    method: str = "POST"
    path: str = "/v1/messages"
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


class ResponseReader(Protocol):
    """The per-response state machine an adapter hands out for each exchange."""

    @property
    def done(self) -> bool:
        """True once a terminal event (completed or failed) has been produced."""
        ...

    def feed(self, frame: Any, frame_index: int) -> list[ProviderEvent]: ...

    def finish(self, frame_index: int) -> list[ProviderEvent]:
        """The inbound side ended; emit a failure if the response never terminated."""
        ...


class ProviderAdapter(Protocol):
    """A protocol adapter: builds requests from the conversation and reads responses.

    Everything protocol-specific the core needs goes through these methods, so the core itself
    never looks inside a frame.
    """

    protocol: str

    def build_request(self, template: RequestTemplate, conversation: list[ConversationTurn]) -> dict[str, Any]:
        """The outbound frame for the next request of the agent loop."""
        ...

    def next_step(self, message: AssistantMessage) -> NextStep:
        """After a completed response: run its tool calls, send another request as is, or stop."""
        ...

    def new_response(self) -> ResponseReader:
        """A fresh reader for the next response."""
        ...

    def split_request(self, frame: Any) -> tuple[RequestTemplate, UserTurn]:
        """Split a recorded first request into the template and the user's turn.

        Raises :class:`ValueError` (with a message for the user) when the request is not one user
        turn, e.g. when it already carries a conversation.
        """
        ...

    def recorded_tool_result(self, frame: Any, call: ContentItem) -> ToolResult | None:
        """The outcome of ``call`` as a recorded request frame reports it, or None if absent."""
        ...


# -- reading wire values --------------------------------------------------------------------------

JsonKind = Literal["object", "array", "string", "integer", "number", "boolean", "null"]

_KIND_TEXT: dict[str, str] = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


#: What :func:`wire_field` finds for a key the object does not have.
MISSING: Any = _Missing()


#: JSON type of each exact Python type a JSON decoder produces (the fast path of :func:`json_kind`).
_KIND_OF_TYPE: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def json_kind(value: Any) -> str:
    """The JSON type of a decoded value: ``object``, ``array``, ``string``, ``integer``, ``number``,
    ``boolean`` or ``null`` (a boolean is never an integer here, although Python says it is)."""
    kind = _KIND_OF_TYPE.get(type(value))
    if kind is not None:
        return kind
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def is_kind(value: Any, kinds: tuple[str, ...]) -> bool:
    """Whether ``value`` has one of the JSON types ``kinds`` (an integer is also a ``number``)."""
    kind = json_kind(value)
    return kind in kinds or (kind == "integer" and "number" in kinds)


@lru_cache(maxsize=4096)
def json_path(path: str, *segments: str | int) -> str:
    """``path`` (``$.frame.data``) extended by keys and array indexes, as the replay matcher writes paths.

    Adapters build the same few paths for every frame, so they are cached.
    """
    return path + format_json_path(segments)[1:]


def describe_found(value: Any) -> str:
    """A wire value for a message: its JSON type and a short, secret-free rendering of it."""
    if value is MISSING:
        return "nothing (the key is missing)"
    from harness.replay.matcher import short_json

    kind = json_kind(value)
    text = _KIND_TEXT.get(kind, kind)
    return text if kind == "null" else f"{text} ({short_json(value, 80)})"


class FrameShapeError(ValueError):
    """A wire value whose JSON type the protocol does not allow there.

    ``path`` is the JSON path inside the transcript entry (``$.frame.data.delta``), ``expected``
    says what belongs there and ``found`` is the value (:data:`MISSING` for an absent key). Adapters
    turn it into a located :class:`ProtocolViolation` (or ``RuleBroken``); a recorded request that
    cannot be read raises it from ``split_request``, so the caller can name the line.
    """

    def __init__(self, path: str, expected: str, found: Any = MISSING) -> None:
        self.path = path
        self.expected = expected
        self.found = found
        super().__init__(f"{path}: expected {expected}, found {describe_found(found)}")


def expected_text(kinds: tuple[str, ...]) -> str:
    """``("string", "null")`` -> ``"a string or null"``; ``("string", "array", "null")`` -> ``"a string,
    an array or null"``."""
    texts = [_KIND_TEXT.get(kind, kind) for kind in kinds]
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " or " + texts[-1]


def expect(value: Any, path: str, *kinds: JsonKind) -> Any:
    """``value`` if its JSON type is one of ``kinds``, else :class:`FrameShapeError` at ``path``."""
    if not is_kind(value, kinds):
        raise FrameShapeError(path, expected_text(kinds), value)
    return value


def wire_field(container: Mapping[str, Any], key: str, path: str, *kinds: JsonKind, required: bool = False) -> Any:
    """``container[key]`` checked against ``kinds`` (``path`` is the container's path).

    An absent key gives None, or a :class:`FrameShapeError` when ``required``. The path of the
    field is only built for the error.
    """
    value = container.get(key, MISSING)
    if value is MISSING:
        if required:
            raise FrameShapeError(json_path(path, key), expected_text(kinds))
        return None
    kind = _KIND_OF_TYPE.get(type(value)) or json_kind(value)
    if kind in kinds or (kind == "integer" and "number" in kinds):
        return value
    raise FrameShapeError(json_path(path, key), expected_text(kinds), value)


def request_template(frame: Any) -> tuple[RequestTemplate, dict[str, Any]]:
    """The template of a recorded ``http.request`` frame and its body (an object), checked value by
    value: a frame that is not such a request raises :class:`FrameShapeError` naming the path.

    ``template.params`` is a copy of the whole body; the caller removes the conversation from it.
    """
    expect(frame, "$.frame", "object")
    if frame.get("kind") != "http.request":
        raise FrameShapeError("$.frame.kind", 'the outbound frame kind "http.request"', frame.get("kind", MISSING))
    method = wire_field(frame, "method", "$.frame", "string", required=True)
    path = wire_field(frame, "path", "$.frame", "string", required=True)
    query = wire_field(frame, "query", "$.frame", "object", "null") or {}
    headers = wire_field(frame, "headers", "$.frame", "object", "null") or {}
    body = wire_field(frame, "body", "$.frame", "object", "null") or {}
    template = RequestTemplate(method=method, path=path, query=dict(query), headers=dict(headers), params=dict(body))
    return template, body
