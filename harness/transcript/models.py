"""Pydantic models of transcript format v1: the header, the entries and the HTTP frames.

A transcript is NDJSON. Line 1 is a :class:`TranscriptHeader`; every later line is one
:data:`TranscriptEntry`. This is t3code's replay format, so its Codex and Claude Agent SDK
transcripts load unchanged. For HTTP providers (Anthropic, OpenAI) the frames inside entries are
the :data:`HttpFrame` union defined here; for stdio runtimes they are the runtime's own JSON.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from harness.limits import MAX_AFTER_MS

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class TranscriptHeader(_Record):
    """First line of every transcript: who was recorded, with what protocol and version."""

    type: Literal["transcript_start"] = "transcript_start"
    provider: NonEmpty
    protocol: NonEmpty
    version: str
    scenario: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class ExpectOutbound(_Record):
    """A frame the app sent to the provider; replay requires the code under test to send it."""

    type: Literal["expect_outbound"] = "expect_outbound"
    label: str | None = None
    frame: Any


class EmitInbound(_Record):
    """A frame the provider sent to the app; ``afterMs`` is the recorded delay before it."""

    type: Literal["emit_inbound"] = "emit_inbound"
    label: str | None = None
    frame: Any
    after_ms: Annotated[int, Field(ge=0, le=MAX_AFTER_MS)] | None = Field(default=None, alias="afterMs")


class RuntimeExit(_Record):
    """The provider process or query ended."""

    type: Literal["runtime_exit"] = "runtime_exit"
    status: Literal["success", "error", "cancelled"]
    error: Any = None


TranscriptEntry = Annotated[ExpectOutbound | EmitInbound | RuntimeExit, Field(discriminator="type")]
TranscriptRecord = Annotated[TranscriptHeader | ExpectOutbound | EmitInbound | RuntimeExit, Field(discriminator="type")]
RECORD_ADAPTER: TypeAdapter[TranscriptHeader | ExpectOutbound | EmitInbound | RuntimeExit] = TypeAdapter(
    TranscriptRecord
)


# --- HTTP frames (protocols with transport "http") -------------------------------------------


class HttpRequest(_Record):
    """One request the app sent. ``headers`` holds only the headers that matter, never secrets."""

    kind: Literal["http.request"] = "http.request"
    method: str
    path: str
    query: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None


class HttpResponse(_Record):
    """The head of a response: status and the headers that matter."""

    kind: Literal["http.response"] = "http.response"
    status: int
    headers: dict[str, str] = Field(default_factory=dict)


class SseEvent(_Record):
    """One server-sent event: its ``event:`` name (None when absent) and its parsed ``data``."""

    kind: Literal["sse"] = "sse"
    event: str | None = None
    data: Any


class SseDone(_Record):
    """The ``data: [DONE]`` terminator some providers send, kept as an explicit record."""

    kind: Literal["sse.done"] = "sse.done"


class HttpBody(_Record):
    """A complete, non-streamed JSON response body."""

    kind: Literal["http.body"] = "http.body"
    body: Any


HttpFrame = Annotated[HttpRequest | HttpResponse | SseEvent | SseDone | HttpBody, Field(discriminator="kind")]
HTTP_FRAME_ADAPTER: TypeAdapter[HttpRequest | HttpResponse | SseEvent | SseDone | HttpBody] = TypeAdapter(HttpFrame)
