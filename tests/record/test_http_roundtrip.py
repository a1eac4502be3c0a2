"""Record through the real SDKs against a loopback provider, then replay into the same code offline.

The fake provider serves real corpus streams (``fixtures/corpus``) event by event with delays.
Each case runs one piece of "user code" twice: once recording (``Cassette(mode="once")``, the
SDK talks to the provider through ``RecordingTransport``), once replaying (``mode="none"``, every
socket connection refused). The final messages must be identical.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from harness import Cassette
from harness.transcript import read_transcript
from tests.conftest import (
    ANTHROPIC_MESSAGE,
    CHAT_COMPLETION,
    STREAM_CUT_ERRORS,
    FakeProvider,
    json_canned,
    sse_canned,
    transport_error,
)

PROMPT = "What is 1+1? Answer with just the number."


def anthropic_stream(cassette: Cassette, url: str) -> Any:
    client = cassette.anthropic(base_url=url)
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
    ) as s:
        return s.get_final_message().model_dump()


def anthropic_create(cassette: Cassette, url: str) -> Any:
    client = cassette.anthropic(base_url=url)
    return client.messages.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
    ).model_dump()


def anthropic_async_stream(cassette: Cassette, url: str) -> Any:
    async def run() -> Any:
        client = cassette.async_anthropic(base_url=url)
        async with client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
        ) as s:
            return (await s.get_final_message()).model_dump()

    return asyncio.run(run())


def anthropic_tool_loop(cassette: Cassette, url: str) -> Any:
    """Two requests: a tool call, then the answer after the tool result."""
    client = cassette.anthropic(base_url=url)
    tools = [{"name": "get_weather", "description": "weather", "input_schema": {"type": "object"}}]
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in SF?"}]
    first = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=64, tools=tools, messages=messages, stream=False
    )
    call = next(block for block in first.content if block.type == "tool_use")
    messages += [
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
    ]
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, tools=tools, messages=messages) as s:
        return [first.model_dump(), s.get_final_message().model_dump()]


def openai_chat_stream(cassette: Cassette, url: str) -> Any:
    client = cassette.openai(base_url=url + "/v1")
    with client.chat.completions.stream(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}]) as s:
        return s.get_final_completion().model_dump()


def openai_chat_create(cassette: Cassette, url: str) -> Any:
    client = cassette.openai(base_url=url + "/v1")
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}]
    ).model_dump()


def openai_async_chat_stream(cassette: Cassette, url: str) -> Any:
    async def run() -> Any:
        client = cassette.async_openai(base_url=url + "/v1")
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}], stream=True
        )
        return [chunk.model_dump() async for chunk in stream]

    return asyncio.run(run())


def openai_async_chat_create(cassette: Cassette, url: str) -> Any:
    async def run() -> Any:
        client = cassette.async_openai(base_url=url + "/v1")
        return (
            await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
        ).model_dump()

    return asyncio.run(run())


TOOL_USE_MESSAGE = {
    **ANTHROPIC_MESSAGE,
    "content": [{"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "SF"}}],
    "stop_reason": "tool_use",
}

CASES: dict[str, tuple[Callable[[Cassette, str], Any], Callable[[], list[Any]]]] = {
    "anthropic-sync-stream": (anthropic_stream, lambda: [sse_canned("anthropic-sdk/basic_response.sse.txt")]),
    "anthropic-sync-create": (anthropic_create, lambda: [json_canned(ANTHROPIC_MESSAGE)]),
    "anthropic-async-stream": (
        anthropic_async_stream,
        lambda: [sse_canned("anthropic-sdk/tool_use_response.sse.txt")],
    ),
    "anthropic-two-requests": (
        anthropic_tool_loop,
        lambda: [json_canned(TOOL_USE_MESSAGE), sse_canned("anthropic-sdk/basic_response.sse.txt")],
    ),
    "openai-sync-stream": (openai_chat_stream, lambda: [sse_canned("openai-sdk/chat__plain_text.sse.txt")]),
    "openai-sync-create": (openai_chat_create, lambda: [json_canned(CHAT_COMPLETION)]),
    "openai-async-stream": (
        openai_async_chat_stream,
        lambda: [sse_canned("openai-sdk/chat__single_tool_call.sse.txt")],
    ),
    "openai-async-create": (openai_async_chat_create, lambda: [json_canned(CHAT_COMPLETION)]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_recorded_sdk_call_replays_offline_to_the_same_result(case, tmp_path, fake_provider: FakeProvider, monkeypatch):
    code, responses = CASES[case]
    fake_provider.queue.extend(responses())
    path = tmp_path / f"{case}.ndjson"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-live-key-0123456789abcdef")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-live-key-0123456789abcdefghij")

    recording = Cassette(path, mode="once", environ={})
    assert recording.recording_live
    live = code(recording, fake_provider.url)
    assert recording.finish() == path
    assert len(fake_provider.requests) == len(responses())

    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY")
    import socket

    def refuse(self: socket.socket, address: object, *args: object) -> None:
        raise AssertionError(f"the replay opened a connection to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    replay = Cassette(path, mode="none", environ={})
    assert not replay.recording_live
    replayed = code(replay, fake_provider.url)
    replay.finish()
    assert replayed == live


def test_recording_keeps_afterms_and_no_key(tmp_path, fake_provider: FakeProvider, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-live-key-0123456789abcdef")
    canned = sse_canned("anthropic-sdk/basic_response.sse.txt", delay=0.02)
    fake_provider.queue.append(canned)
    path = tmp_path / "t.ndjson"
    cassette = Cassette(path, mode="once", environ={})
    anthropic_stream(cassette, fake_provider.url)
    cassette.finish()

    transcript = read_transcript(path)
    kinds = [entry.frame["kind"] for entry in transcript.entries]
    assert kinds[:2] == ["http.request", "http.response"]
    assert kinds.count("sse") == len(canned.chunks)
    inbound = [entry for entry in transcript.entries if entry.type == "emit_inbound"]
    assert all(entry.after_ms is not None for entry in inbound)
    assert max(entry.after_ms or 0 for entry in inbound) >= 20
    text = path.read_text()
    assert "live-key" not in text
    assert transcript.header.metadata["recordedWith"] == "harness record"
    assert transcript.entries[0].frame["headers"]["anthropic-version"]


def test_stream_cut_by_the_network_is_recorded_as_cut_and_replays_as_a_cut(tmp_path, fake_provider, monkeypatch):

    canned = sse_canned("anthropic-sdk/basic_response.sse.txt", delay=0)
    canned.cut_after = 3
    fake_provider.queue.append(canned)
    path = tmp_path / "cut.ndjson"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-live-key-0123456789abcdef")

    def consume(cassette: Cassette) -> str:
        client = cassette.anthropic(base_url=fake_provider.url)
        try:
            anthropic_stream_events(client)
        except STREAM_CUT_ERRORS as exc:
            return type(transport_error(exc)).__name__
        return "completed"

    recording = Cassette(path, mode="once", environ={})
    assert consume(recording) == "RemoteProtocolError"
    recording.finish()
    last = read_transcript(path).entries[-1]
    assert last.type == "runtime_exit"
    assert last.error["type"] == "connection_cut"
    assert sum(1 for e in read_transcript(path).entries if e.type == "emit_inbound" and e.frame["kind"] == "sse") == 3

    from harness.transcript.lint import lint_transcript

    issues = lint_transcript(read_transcript(path))
    assert [(i.rule, i.severity) for i in issues] == [("http.connection_cut", "warning")]

    replay = Cassette(path, mode="none", environ={})
    assert consume(replay) == "RemoteProtocolError"
    replay.finish()


def anthropic_stream_events(client: Any) -> list[str]:
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
    ) as s:
        return [event.type for event in s]


def test_transcript_frames_are_what_the_sdk_sent(tmp_path, fake_provider: FakeProvider, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-live-key-0123456789abcdef")
    fake_provider.queue.append(json_canned(ANTHROPIC_MESSAGE))
    path = tmp_path / "t.ndjson"
    cassette = Cassette(path, mode="once", environ={})
    anthropic_create(cassette, fake_provider.url)
    cassette.finish()
    sent = orjson.loads(fake_provider.requests[0][3])
    assert read_transcript(path).entries[0].frame["body"] == sent
