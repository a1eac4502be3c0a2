"""ReplayTransport / AsyncReplayTransport: the official SDKs replayed at the transport, failing closed.

Transcripts are written in each test from real response shapes, so every failure can be placed
at an exact line.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest

from harness import (
    AsyncReplayTransport,
    FrameMismatch,
    LogicalClock,
    ReplayTransport,
    UnconsumedEntries,
    UnexpectedOutbound,
)
from harness.replay.http import MISMATCH_STATUS, HttpReplay
from harness.transcript import EmitInbound, ExpectOutbound, RuntimeExit, TranscriptHeader, write_transcript

VERSION = anthropic.Anthropic(api_key="x").default_headers["anthropic-version"]
HEADERS = {"accept": "application/json", "anthropic-version": VERSION}


def message(text: str) -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }


def request(prompt: str, *, stream: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "max_tokens": 16,
        "messages": [{"role": "user", "content": prompt}],
        "model": "claude-sonnet-4-5",
    }
    if stream:
        body["stream"] = True
    return {
        "kind": "http.request",
        "method": "POST",
        "path": "/v1/messages",
        "query": {},
        "headers": {**HEADERS, "content-type": "application/json"},
        "body": body,
    }


def exchange(prompt: str, answer: str) -> list[Any]:
    return [
        ExpectOutbound(label="POST /v1/messages", frame=request(prompt)),
        EmitInbound(label="http.response", frame={"kind": "http.response", "status": 200, "headers": {}}),
        EmitInbound(label="http.body", frame={"kind": "http.body", "body": message(answer)}),
    ]


def stream_exchange(prompt: str, words: list[str], *, after_ms: int = 0) -> list[Any]:
    start = {**message(""), "content": [], "stop_reason": None}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}} for w in words),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 2},
        },
        {"type": "message_stop"},
    ]
    return [
        ExpectOutbound(label="POST /v1/messages", frame=request(prompt, stream=True)),
        EmitInbound(
            label="http.response",
            frame={"kind": "http.response", "status": 200, "headers": {"content-type": "text/event-stream"}},
        ),
        *(
            EmitInbound(label=e["type"], frame={"kind": "sse", "event": e["type"], "data": e}, afterMs=after_ms)
            for e in events
        ),
    ]


def transcript(tmp_path: Path, *entries: Any, name: str = "t.ndjson", protocol: str = "anthropic.messages") -> Path:
    path = tmp_path / name
    provider = "anthropic" if protocol.startswith("anthropic") else "openai"
    header = TranscriptHeader(provider=provider, protocol=protocol, version="unknown", scenario=path.stem)
    write_transcript(path, header, list(entries))
    return path


def client(transport: Any, **options: Any) -> anthropic.Anthropic:
    options.setdefault("max_retries", 0)
    return anthropic.Anthropic(api_key="test", http_client=httpx2.Client(transport=transport), **options)


def ask(c: anthropic.Anthropic, prompt: str) -> str:
    result = c.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": prompt}])
    block = result.content[0]
    assert block.type == "text"
    return block.text


# -- matching, in order -------------------------------------------------------------------------


def test_requests_replay_in_order_and_finish_passes(tmp_path):
    path = transcript(tmp_path, *exchange("one", "1"), *exchange("two", "2"))
    transport = ReplayTransport(path)
    c = client(transport)
    assert [ask(c, "one"), ask(c, "two")] == ["1", "2"]
    transport.finish()


def test_identical_repeated_requests_replay_in_recorded_order(tmp_path):
    path = transcript(tmp_path, *exchange("same", "first"), *exchange("same", "second"))
    transport = ReplayTransport(path)
    c = client(transport)
    assert [ask(c, "same"), ask(c, "same")] == ["first", "second"]
    transport.finish()


def test_changed_prompt_is_answered_400_and_finish_raises_the_frame_mismatch(tmp_path):
    path = transcript(tmp_path, *exchange("one", "1"))
    transport = ReplayTransport(path)
    with pytest.raises(anthropic.BadRequestError) as seen:
        ask(client(transport), "changed")
    assert seen.value.status_code == MISMATCH_STATUS
    assert "replay-harness" in str(seen.value)
    with pytest.raises(FrameMismatch) as error:
        transport.finish()
    assert str(error.value).startswith(f"{path}:2: outbound frame (POST /v1/messages) differs")
    assert error.value.json_path == "$.body.messages[0].content"
    assert (error.value.expected_value, error.value.actual_value) == ("one", "changed")


def test_a_mismatch_is_not_retried_by_the_sdk(tmp_path):
    path = transcript(tmp_path, *exchange("one", "1"))
    replay = HttpReplay([path])
    transport = ReplayTransport(replay)
    with pytest.raises(anthropic.BadRequestError):
        ask(client(transport, max_retries=5), "changed")
    # The SDK asked once: a retry would have been refused again and counted.
    assert replay.refused == 1
    assert len(replay.failures) == 1


def test_openai_sdk_does_not_retry_a_mismatch_either(tmp_path):
    frame = {
        "kind": "http.request",
        "method": "POST",
        "path": "/v1/chat/completions",
        "query": {},
        "headers": {"accept": "application/json", "content-type": "application/json"},
        "body": {"messages": [{"role": "user", "content": "hi"}], "model": "gpt-4o-mini"},
    }
    path = transcript(tmp_path, ExpectOutbound(frame=frame), protocol="openai.chat")
    replay = HttpReplay([path])
    c = openai.OpenAI(api_key="test", max_retries=5, http_client=httpx2.Client(transport=ReplayTransport(replay)))
    with pytest.raises(openai.BadRequestError):
        c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "changed"}])
    assert replay.refused == 1


def test_extra_request_is_unexpected_outbound(tmp_path):
    path = transcript(tmp_path, *exchange("one", "1"))
    transport = ReplayTransport(path)
    c = client(transport)
    ask(c, "one")
    with pytest.raises(anthropic.BadRequestError):
        ask(c, "one")
    with pytest.raises(UnexpectedOutbound, match="the end of the transcript"):
        transport.finish()


def test_missing_request_is_unconsumed_entries_at_its_line(tmp_path):
    path = transcript(tmp_path, *exchange("one", "1"), *exchange("two", "2"))
    transport = ReplayTransport(path)
    ask(client(transport), "one")
    with pytest.raises(UnconsumedEntries) as error:
        transport.finish()
    assert str(error.value).startswith(
        f"{path}:5: replay ended with 3 unconsumed entries, starting with expect_outbound"
    )


def test_reordered_requests_fail_at_the_first_one(tmp_path):
    path = transcript(tmp_path, *exchange("one", "1"), *exchange("two", "2"))
    transport = ReplayTransport(path)
    with pytest.raises(anthropic.BadRequestError):
        ask(client(transport), "two")
    with pytest.raises(FrameMismatch) as error:
        transport.finish()
    assert error.value.line == 2


def test_every_request_after_a_failure_is_refused_and_the_first_failure_is_kept(tmp_path):
    path = transcript(tmp_path, *exchange("one", "1"), *exchange("two", "2"))
    transport = ReplayTransport(path)
    c = client(transport)
    with pytest.raises(anthropic.BadRequestError):
        ask(c, "wrong")
    with pytest.raises(anthropic.BadRequestError, match="already failed"):
        ask(c, "one")
    with pytest.raises(FrameMismatch):
        transport.finish()


def test_a_stream_closed_early_leaves_its_unread_events_unconsumed(tmp_path):
    path = transcript(tmp_path, *stream_exchange("one", ["a", "b", "c"]))
    transport = ReplayTransport(path)
    with (
        httpx2.Client(transport=transport) as http,
        http.stream(
            "POST",
            "https://api.anthropic.com/v1/messages",
            json=request("one", stream=True)["body"],
            headers=HEADERS,
        ) as response,
    ):
        next(response.iter_bytes())
    with pytest.raises(UnconsumedEntries, match=r"closed a response after 1 of 8 recorded parts"):
        transport.finish()


# -- streams and the clock ---------------------------------------------------------------------


def test_stream_is_served_event_by_event_on_the_injected_clock(tmp_path):
    path = transcript(tmp_path, *stream_exchange("one", ["Hel", "lo"], after_ms=25))
    clock = LogicalClock()
    transport = ReplayTransport(path, clock=clock)
    c = client(transport)
    seen: list[tuple[str, int]] = []
    with c.messages.stream(
        model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": "one"}]
    ) as s:
        for event in s:
            seen.append((event.type, clock.now_ms()))
        final = s.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == "Hello"
    # Each event arrives as the client reads it: the clock has moved 25 ms per event so far.
    assert [t for _, t in seen if _ == "message_start"] == [25]
    assert clock.now_ms() == 25 * 7
    transport.finish()


def test_recorded_pace_sleeps_each_after_ms_and_instant_never_sleeps(tmp_path):
    path = transcript(tmp_path, *stream_exchange("one", ["a"], after_ms=40))
    naps: list[float] = []
    replay = HttpReplay([path], pace="recorded", sleep=naps.append)
    list(
        replay.iter_parts(
            replay.request(
                "POST", "https://x/v1/messages", [*HEADERS.items(), ("content-type", "application/json")], _body("one")
            ),
            RuntimeError,
        )
    )
    assert naps == [0.04] * 6
    instant: list[float] = []
    replay = HttpReplay([path], sleep=instant.append)
    list(
        replay.iter_parts(
            replay.request(
                "POST", "https://x/v1/messages", [*HEADERS.items(), ("content-type", "application/json")], _body("one")
            ),
            RuntimeError,
        )
    )
    assert instant == []


def _body(prompt: str) -> bytes:
    import orjson

    return orjson.dumps(request(prompt, stream=True)["body"])


def test_recorded_connection_cut_raises_the_libraries_protocol_error_after_the_events_before_it(tmp_path):
    entries = stream_exchange("one", ["a", "b"])[:4]
    path = transcript(
        tmp_path, *entries, RuntimeExit(status="error", error={"type": "connection_cut", "message": "reset"})
    )
    with (
        httpx2.Client(transport=ReplayTransport(path)) as http,
        http.stream(
            "POST",
            "https://api.anthropic.com/v1/messages",
            json=request("one", stream=True)["body"],
            headers=HEADERS,
        ) as response,
    ):
        chunks = []
        with pytest.raises(httpx2.RemoteProtocolError, match="recorded cut"):
            for chunk in response.iter_bytes():
                chunks.append(chunk)
    assert b"message_start" in b"".join(chunks)


# -- several clients, libraries and transcripts ----------------------------------------------------


def test_sync_and_async_clients_share_one_replay_in_order(tmp_path):
    path = transcript(tmp_path, *exchange("one", "1"), *exchange("two", "2"))
    replay = HttpReplay([path])
    sync = client(ReplayTransport(replay))
    assert ask(sync, "one") == "1"

    async def second() -> str:
        c = anthropic.AsyncAnthropic(
            api_key="t", max_retries=0, http_client=httpx2.AsyncClient(transport=AsyncReplayTransport(replay))
        )
        result = await c.messages.create(
            model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": "two"}]
        )
        return result.content[0].text  # type: ignore[union-attr]

    assert asyncio.run(second()) == "2"
    replay.finish()


def test_plain_httpx_clients_get_plain_httpx_responses(tmp_path):
    path = transcript(tmp_path, *exchange("one", "1"))
    transport = ReplayTransport(path)
    with httpx.Client(transport=transport) as http:
        response = http.post(
            "https://api.anthropic.com/v1/messages",
            json=request("one")["body"],
            headers=HEADERS,
        )
    assert isinstance(response, httpx.Response)
    assert response.json()["content"][0]["text"] == "1"
    transport.finish()


def test_requests_are_routed_to_the_transcript_of_their_protocol(tmp_path):
    chat_frame = {
        "kind": "http.request",
        "method": "POST",
        "path": "/v1/chat/completions",
        "query": {},
        "headers": {"accept": "application/json", "content-type": "application/json"},
        "body": {"messages": [{"role": "user", "content": "hi"}], "model": "gpt-4o-mini"},
    }
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    }
    chat = transcript(
        tmp_path,
        ExpectOutbound(frame=chat_frame),
        EmitInbound(frame={"kind": "http.body", "body": completion}),
        name="chat.ndjson",
        protocol="openai.chat",
    )
    messages = transcript(tmp_path, *exchange("one", "1"), name="messages.ndjson")
    replay = HttpReplay([messages, chat])
    oa = openai.OpenAI(api_key="t", max_retries=0, http_client=httpx2.Client(transport=ReplayTransport(replay)))
    # The OpenAI client speaks first, although its transcript comes second.
    answer = oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "hello"
    assert ask(client(ReplayTransport(replay)), "one") == "1"
    replay.finish()


def test_a_stdio_transcript_is_refused_with_the_tool_to_use(tmp_path):
    from harness import UsageError

    with pytest.raises(UsageError, match="harness fake-runtime"):
        ReplayTransport("transcripts/t3code/simple/codex_transcript.ndjson")


def test_replay_never_opens_a_socket(tmp_path, no_network):
    path = transcript(tmp_path, *exchange("one", "1"))
    transport = ReplayTransport(path)
    assert ask(client(transport, base_url="http://127.0.0.1:9"), "one") == "1"
    transport.finish()
    assert no_network == []


def test_placeholders_are_filled_in_expected_and_served_frames(tmp_path):
    entries = exchange("read <workspace>/notes.txt", "found <workspace>/notes.txt")
    path = transcript(tmp_path, *entries)
    transport = ReplayTransport(path, placeholders=[("<workspace>", "/srv/app")])
    assert ask(client(transport), "read /srv/app/notes.txt") == "found /srv/app/notes.txt"
    transport.finish()


def test_redaction_markers_match_any_value_of_their_kind(tmp_path):
    path = transcript(tmp_path, *exchange("my key is <redacted:anthropic-key>", "ok"))
    transport = ReplayTransport(path)
    assert ask(client(transport), "my key is sk-ant-api03-real-key-abcdefghijkl") == "ok"
    transport.finish()


def test_mismatch_messages_never_show_a_secret(tmp_path):
    path = transcript(tmp_path, *exchange("one", "1"))
    transport = ReplayTransport(path)
    with pytest.raises(anthropic.BadRequestError) as seen:
        ask(client(transport), "key sk-ant-api03-real-key-abcdefghijkl")
    with pytest.raises(FrameMismatch) as error:
        transport.finish()
    assert "real-key" not in str(seen.value)
    assert "real-key" not in str(error.value)


def test_a_project_redaction_kind_matches_only_values_of_its_own_pattern(tmp_path):
    from harness import RedactionConfig, Redactor

    config = RedactionConfig.from_mapping({"patterns": {"customer-id": "cus_[A-Za-z0-9]{14}"}})
    path = transcript(tmp_path, *exchange("customer <redacted:customer-id>", "ok"))
    transport = ReplayTransport(path, redactor=Redactor(config=config))
    assert ask(client(transport), "customer cus_ABCDEFGHIJKLMN") == "ok"
    transport.finish()

    transport = ReplayTransport(path, redactor=Redactor(config=config))
    with pytest.raises(anthropic.BadRequestError):
        ask(client(transport), "customer bob")
    with pytest.raises(FrameMismatch):
        transport.finish()
