"""Differential test: every recorded Chat Completions stream means the same to us as to the official SDK.

For each stream in the corpus, the exact recorded bytes are served to ``openai.OpenAI`` through an
``httpx2.MockTransport`` and read with ``client.chat.completions.stream(...)`` ->
``get_final_completion()``. The transcript imported from the same recording is read by our adapter,
one fresh reader per recorded exchange. Per choice, response k must mean what stream k means to the
SDK: the completion id, content (our message text, which a refusal stays out of), refusal,
reasoning (a provider extra, which the SDK accumulates as an unknown field), annotations, any other
delta field the SDK accumulates, tool calls (id, name, arguments parsed by the SDK), finish_reason,
and prompt/completion tokens. Where the core replays the transcript that far, its response k must
equal the adapter's. ``tests/adapters/test_openai_chat_compat.py`` serves small streams with the
quirks of compatible providers to both readers through the same views.

How the SDK is read:

* Tool arguments are parsed by the SDK only for ``strict`` function tools given to ``stream()``,
  so every function name in the stream is passed as a strict tool.
* ``get_final_completion()`` refuses to *parse* a completion whose finish_reason is ``length`` or
  ``content_filter`` (``LengthFinishReasonError`` / ``ContentFilterFinishReasonError``), after
  accumulating it; the accumulated completion it carries (``.completion``) is the reference then,
  and tool arguments in it are raw, so they are parsed with ``jiter`` (partially) as we do.

A stream the SDK rejects (raises ``APIError``) must be one our adapter fails with the provider's
error; streams the SDK accepts and we reject are listed in :data:`KNOWN_STRICTER` with the rule.
The vercel fixture keeps only the ``data:`` payloads: its bytes are rebuilt as ``data: <line>``
events and ``data: [DONE]`` is appended.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import jiter
import openai
import pytest
import yaml

from harness.adapters.base import AssistantMessage, ProviderEvent, ResponseCompleted, ResponseFailed
from harness.adapters.openai_chat import (
    METADATA_DELTA_FIELDS,
    REASONING_FIELDS,
    OpenAIChatResponseReader,
    error_type_of,
)
from harness.scenario.runner import Execution, execute, scenario_for_transcript
from harness.transcript import ExpectOutbound, read_transcript

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "fixtures" / "corpus"
TRANSCRIPTS = ROOT / "transcripts" / "openai"

# Streams the SDK accepts and we reject, with the rule we report. None today: keep the mechanism,
# so a new recording that we read more strictly than the SDK is listed here with its reason.
KNOWN_STRICTER: dict[str, str] = {}


@dataclass(frozen=True)
class RecordedStream:
    """One HTTP response body of the corpus and the transcript it was imported into."""

    source: Path
    index: int
    count: int
    body: bytes
    transcript: Path

    @property
    def id(self) -> str:
        return self.source.name if self.count == 1 else f"{self.source.name}#{self.index}"


def _sdk_files() -> list[RecordedStream]:
    out = []
    for path in sorted((CORPUS / "openai-sdk").glob("chat__*.sse.txt")):
        transcript = TRANSCRIPTS / "openai-sdk" / (path.name.removesuffix(".sse.txt") + ".ndjson")
        out.append(RecordedStream(path, 0, 1, path.read_bytes(), transcript))
    return out


def _cassettes() -> list[RecordedStream]:
    out = []
    folder = CORPUS / "pydantic-ai-cassettes"
    for path in sorted([*folder.glob("openai-chat__*.yaml"), *folder.glob("chat-compat-*.yaml")]):
        interactions = yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]
        transcript = TRANSCRIPTS / "pydantic-ai-cassettes" / (path.stem + ".ndjson")
        for index, interaction in enumerate(interactions):
            body = interaction["response"]["body"]["string"].encode()
            out.append(RecordedStream(path, index, len(interactions), body, transcript))
    return out


def vercel_bytes(payload: bytes) -> bytes:
    """SSE bytes rebuilt from one-data-payload-per-line, with the ``[DONE]`` the format dropped."""
    events = b"".join(b"data: " + line + b"\n\n" for line in payload.splitlines() if line.strip())
    return events + b"data: [DONE]\n\n"


def _vercel_files() -> list[RecordedStream]:
    out = []
    for path in sorted((CORPUS / "vercel-ai-fixtures").glob("chat-compat-*.ndjson")):
        transcript = TRANSCRIPTS / "vercel-ai-fixtures" / path.name
        out.append(RecordedStream(path, 0, 1, vercel_bytes(path.read_bytes()), transcript))
    return out


STREAMS = [*_sdk_files(), *_cassettes(), *_vercel_files()]
AGREED = [s for s in STREAMS if s.id not in KNOWN_STRICTER]
STRICTER = [s for s in STREAMS if s.id in KNOWN_STRICTER]
SOURCES = sorted({s.source for s in STREAMS})


# -- the two readers ----------------------------------------------------------------------------


def strict_tools(body: bytes) -> list[dict[str, Any]]:
    """Every function name in the stream as a strict tool, so the SDK parses its arguments."""
    names = sorted(set(re.findall(rb'"name":\s*"([^"]+)"', body)))
    return [
        {"type": "function", "function": {"name": n.decode(), "parameters": {"type": "object"}, "strict": True}}
        for n in names
    ]


def sdk_final_completion(body: bytes, *, tools: bool = True) -> tuple[Any, bool]:
    """What the official SDK makes of ``body`` served as a 200 text/event-stream response, and
    whether tool arguments in it are parsed (False when the SDK refused to parse a truncated one,
    or when ``tools`` is false: then no tool is given to ``stream()``)."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream; charset=utf-8"}, content=body)

    http_client = httpx2.Client(transport=httpx2.MockTransport(handler))
    client = openai.OpenAI(api_key="test", http_client=http_client, max_retries=0)
    given = strict_tools(body) if tools else []
    truncated = re.search(rb'"finish_reason":\s*"(length|content_filter)"', body) is not None
    # With input tools, the SDK raises as soon as a choice finishes with length (mid-stream); without
    # them it accumulates everything first. Truncated streams are read without tools.
    kwargs: dict[str, Any] = {"tools": given} if given and not truncated else {}
    messages: Any = [{"role": "user", "content": "hi"}]
    with http_client, client.chat.completions.stream(model="gpt-test", messages=messages, **kwargs) as stream:
        try:
            return stream.get_final_completion(), bool(kwargs)
        except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
            return exc.completion, False


def exchanges(transcript: Path) -> list[list[Any]]:
    """The inbound frames of each recorded exchange (one list for a stream-only capture)."""
    loaded = read_transcript(transcript)
    out: list[list[Any]] = [] if loaded.has_outbound else [[]]
    for entry in loaded.entries:
        if isinstance(entry, ExpectOutbound):
            out.append([])
        else:
            out[-1].append(entry.frame)  # type: ignore[union-attr]
    return out


@functools.cache
def adapter_terminals(transcript: Path) -> list[ResponseCompleted | ResponseFailed]:
    """Our terminal event for each exchange, one fresh reader each."""
    out = []
    for frames in exchanges(transcript):
        reader = OpenAIChatResponseReader()
        events: list[ProviderEvent] = []
        for index, frame in enumerate(frames):
            if not reader.done:
                events.extend(reader.feed(frame, index))
        events.extend(reader.finish(len(frames)))
        (terminal,) = [e for e in events if isinstance(e, (ResponseCompleted, ResponseFailed))]
        out.append(terminal)
    return out


@functools.cache
def replay(transcript: Path) -> Execution:
    loaded = read_transcript(transcript)
    return execute(scenario_for_transcript(loaded), transcript=loaded)


#: Message fields of the SDK's completion that the views compare by name, or that carry nothing.
_SDK_MAPPED = {"content", "refusal", "role", "tool_calls", "function_call", "annotations", "parsed"}
_SDK_IGNORED = {*REASONING_FIELDS, *METADATA_DELTA_FIELDS}


def _sdk_extras(message: Any) -> dict[str, Any]:
    """The delta fields the SDK accumulated that have no mapping of their own (``audio``, unknown)."""
    fields = message.to_dict(exclude_unset=False)
    return {k: v for k, v in fields.items() if k not in _SDK_MAPPED | _SDK_IGNORED and v is not None}


def sdk_view(completion: Any, *, parsed: bool) -> list[dict[str, Any]]:
    usage = completion.usage
    tokens = {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens} if usage else None
    out = []
    for choice in completion.choices:
        message = choice.message
        extra = message.model_extra or {}
        calls = []
        for call in message.tool_calls or []:
            arguments = (
                call.function.parsed_arguments
                if parsed
                else jiter.from_json(call.function.arguments.encode(), partial_mode=True)
            )
            calls.append((call.id, call.function.name, arguments))
        out.append(
            {
                "id": completion.id,
                "content": message.content or "",
                "refusal": message.refusal or "",
                "reasoning": extra.get("reasoning_content") or extra.get("reasoning") or "",
                "annotations": [a.to_dict() for a in message.annotations or []],
                "extras": _sdk_extras(message),
                "tool_calls": calls,
                "finish_reason": choice.finish_reason,
                "usage": tokens if choice.index == 0 else None,
            }
        )
    return out


def our_view(message: AssistantMessage) -> list[dict[str, Any]]:
    out = []
    for choice in (message, *message.alternatives):
        items = choice.items
        refusal = "".join(i.block["refusal"] for i in items if i.block_type == "refusal")
        assert choice.stop_details == ({"type": "refusal", "refusal": refusal} if refusal else None)
        out.append(
            {
                "id": choice.native_id,
                "content": choice.text,
                "refusal": refusal,
                "reasoning": choice.reasoning,
                "annotations": [c for i in items if i.block_type == "content" for c in i.citations],
                "extras": {
                    i.block_type: i.block[i.block_type]
                    for i in items
                    if i.kind == "other" and i.native_id is None and i.block_type != "refusal"
                },
                "tool_calls": [(c.native_id, c.name, c.arguments) for c in choice.tool_calls],
                "finish_reason": choice.stop_reason,
                "usage": ({"prompt": choice.input_tokens, "completion": choice.output_tokens} if choice.usage else None)
                if choice.choice == 0
                else None,
            }
        )
    return out


# -- the corpus ---------------------------------------------------------------------------------


def test_the_corpus_holds_every_chat_stream() -> None:
    counts = {
        folder: len({s.source for s in STREAMS if s.source.parent.name == folder})
        for folder in ("openai-sdk", "pydantic-ai-cassettes", "vercel-ai-fixtures")
    }
    assert counts == {"openai-sdk": 6, "pydantic-ai-cassettes": 4, "vercel-ai-fixtures": 1}
    assert len(STREAMS) == 16
    assert all(s.transcript.is_file() for s in STREAMS)


def test_the_listed_exceptions_are_in_the_corpus() -> None:
    assert set(KNOWN_STRICTER) <= {s.id for s in STREAMS}


@pytest.mark.parametrize("source", SOURCES, ids=[s.name for s in SOURCES])
def test_one_exchange_per_recorded_stream(source: Path) -> None:
    streams = [s for s in STREAMS if s.source == source]
    assert len(exchanges(streams[0].transcript)) == len(streams)


@pytest.mark.parametrize("stream", AGREED, ids=[s.id for s in AGREED])
def test_same_final_completion_as_the_sdk(stream: RecordedStream) -> None:
    ours = adapter_terminals(stream.transcript)[stream.index]
    try:
        completion, parsed = sdk_final_completion(stream.body)
    except openai.APIError as exc:  # the SDK rejects the stream: we fail it with the provider's error
        assert isinstance(ours, ResponseFailed), f"the SDK raised {exc!r}; we completed"
        assert ours.rule is None
        assert ours.error_type == error_type_of(exc.body)
        assert ours.message == exc.message
        return
    assert isinstance(ours, ResponseCompleted), ours
    assert our_view(ours.message) == sdk_view(completion, parsed=parsed)


@pytest.mark.parametrize("stream", STRICTER, ids=[s.id for s in STRICTER])
def test_stricter_than_the_sdk_with_a_named_rule(stream: RecordedStream) -> None:
    sdk_final_completion(stream.body)  # the SDK accepts the stream
    ours = adapter_terminals(stream.transcript)[stream.index]
    assert isinstance(ours, ResponseFailed)
    assert (ours.error_type, ours.rule) == ("protocol_violation", KNOWN_STRICTER[stream.id])


@pytest.mark.parametrize("stream", STREAMS, ids=[s.id for s in STREAMS])
def test_the_core_replay_reads_each_response_it_reaches_as_the_adapter_does(stream: RecordedStream) -> None:
    responses = replay(stream.transcript).responses
    if stream.index >= len(responses):
        pytest.skip(f"the core's replay stops before exchange {stream.index} (see docs/events.md, section 15)")
    _, message, status = responses[stream.index]
    ours = adapter_terminals(stream.transcript)[stream.index]
    expected = ours.message if isinstance(ours, ResponseCompleted) else ours.partial
    assert status == ("completed" if isinstance(ours, ResponseCompleted) else "failed")
    assert message.to_json() == expected.to_json()


def test_groq_tool_use_failed_is_an_sdk_error_and_ours_keeps_the_failed_generation() -> None:
    (stream, *_) = [s for s in STREAMS if s.id == "chat-compat-groq__midstream_event_error_then_retry.yaml#0"]
    with pytest.raises(openai.APIError) as raised:
        sdk_final_completion(stream.body)
    assert raised.value.code == "tool_use_failed"
    ours = adapter_terminals(stream.transcript)[0]
    assert isinstance(ours, ResponseFailed) and ours.error_type == "tool_use_failed"
    (call,) = ours.partial.tool_calls
    assert (call.block_type, call.name, call.arguments) == (
        "failed_generation",
        "get_something_by_name",
        {"invalid_param": "value"},
    )


def test_the_length_stream_is_accumulated_by_the_sdk_but_not_parsed() -> None:
    # Remove the LengthFinishReasonError handling above if this ever fails: the SDK parses it then.
    (stream,) = [s for s in STREAMS if s.id == "chat__finish_length_max_tokens.sse.txt"]

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=stream.body)

    client = openai.OpenAI(
        api_key="test", http_client=httpx2.Client(transport=httpx2.MockTransport(handler)), max_retries=0
    )
    messages: Any = [{"role": "user", "content": "x"}]
    with (
        client.chat.completions.stream(model="m", messages=messages) as sdk_stream,
        pytest.raises(openai.LengthFinishReasonError) as raised,
    ):
        sdk_stream.get_final_completion()
    assert raised.value.completion.choices[0].message.content == '{"'
