"""``harness record proxy`` for real: a loopback fake provider, the proxy, the official SDKs.

The fake provider (``tests/conftest.py``) serves real corpus streams event by event. The proxy
records what passes; the recording then replays through ``ReplayTransport`` into the same user
code, which must get identical final messages.
"""

from __future__ import annotations

import asyncio
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from harness.cli import main
from harness.record.proxy import RecordingProxy, upstream_headers
from harness.record.sse import parse_sse
from harness.replay.http import AsyncReplayTransport, HttpReplay, ReplayTransport
from harness.transcript import read_transcript
from tests.conftest import (
    ANTHROPIC_MESSAGE,
    CHAT_COMPLETION,
    ROOT,
    STREAM_CUT_ERRORS,
    Canned,
    FakeProvider,
    json_canned,
    sse_canned,
)

LIVE_KEY = "sk-ant-api03-live-key-0123456789abcdef"
SECRET_IN_PROMPT = "sk-ant-api03-" + "Q7" * 20
PROMPT = f"What is 1+1? (my key is {SECRET_IN_PROMPT}, do not repeat it)"
NOWHERE = "http://127.0.0.1:9"  # replays never connect; the port is the discard service's
MESSAGES: list[Any] = [{"role": "user", "content": PROMPT}]


def anthropic_user_code(client: anthropic.Anthropic, aclient: anthropic.AsyncAnthropic) -> list[Any]:
    """Sync and async, streaming and not: four requests, four final messages."""
    results: list[Any] = []
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES) as stream:
        results.append(stream.get_final_message().model_dump())
    results.append(client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES).model_dump())

    async def run() -> None:
        async with aclient.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES) as stream:
            results.append((await stream.get_final_message()).model_dump())
        message = await aclient.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES)
        results.append(message.model_dump())

    asyncio.run(run())
    return results


def openai_user_code(client: openai.OpenAI, aclient: openai.AsyncOpenAI) -> list[Any]:
    results: list[Any] = []
    with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        results.append(stream.get_final_completion().model_dump())

    async def run() -> None:
        completion = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        results.append(completion.model_dump())

    asyncio.run(run())
    return results


def replay_anthropic(path: Path) -> list[Any]:
    replay = HttpReplay([path])
    with anthropic.Anthropic(
        base_url=NOWHERE, api_key="test", max_retries=0, http_client=httpx2.Client(transport=ReplayTransport(replay))
    ) as client:
        aclient = anthropic.AsyncAnthropic(
            base_url=NOWHERE,
            api_key="test",
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=AsyncReplayTransport(replay)),
        )
        results = anthropic_user_code(client, aclient)
    replay.finish()
    return results


@dataclass
class LiveProxy:
    """``python -m harness record proxy`` in front of a fake provider that has four answers queued."""

    proc: subprocess.Popen[str]
    provider: FakeProvider
    out: Path

    def url(self) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        url = self.proc.stdout.readline().strip() if ready else ""
        if not url:
            self.proc.kill()
            pytest.fail(f"harness record proxy printed no URL; stderr: {self.proc.communicate()[1]}")
        return url


@pytest.fixture(scope="module", autouse=True)
def live_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveProxy]:
    """Started with the module, so the process's ~0.8 s of imports overlaps the in-process tests."""
    out = tmp_path_factory.mktemp("proxy") / "proxied.ndjson"
    with FakeProvider() as provider:
        provider.queue += [
            sse_canned("anthropic-sdk/basic_response.sse.txt"),
            json_canned(ANTHROPIC_MESSAGE),
            sse_canned("anthropic-sdk/tool_use_response.sse.txt"),
            json_canned(ANTHROPIC_MESSAGE),
        ]
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness", "record", "proxy", "--upstream", provider.url, "-o", str(out)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        yield LiveProxy(proc, provider, out)
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_record_proxy_refuses_an_existing_out_before_listening(tmp_path: Path, capsys) -> None:
    out = tmp_path / "taken.ndjson"
    out.write_text("keep me\n")
    assert main(["record", "proxy", "--upstream", "https://api.anthropic.com", "-o", str(out)]) == 2
    stdout, stderr = capsys.readouterr()
    assert stdout == ""  # no URL: nothing listened
    assert stderr == f"error: {out} already exists; pass --force to overwrite it\n"
    assert out.read_text() == "keep me\n"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--upstream", "api.anthropic.com"], "--upstream must be an http(s) base URL"),
        (["--upstream", "https://api.openai.com", "--protocol", "codex.app-server"], "runs over stdio"),
        (["--upstream", "https://api.openai.com", "--protocol", "nope"], "unknown protocol 'nope'"),
    ],
    ids=["upstream-without-scheme", "stdio-protocol", "unknown-protocol"],
)
def test_record_proxy_usage_errors_exit_2(args: list[str], expected: str, tmp_path: Path, capsys) -> None:
    assert main(["record", "proxy", *args, "-o", str(tmp_path / "out.ndjson")]) == 2
    stdout, stderr = capsys.readouterr()
    assert stdout == "" and expected in stderr and "Traceback" not in stderr
    assert not (tmp_path / "out.ndjson").exists()


# -- the public API in-process -------------------------------------------------------------------


def test_recording_proxy_binds_loopback_and_passes_each_chunk_on_as_it_arrives(
    tmp_path: Path, fake_provider: FakeProvider
) -> None:
    events = sse_canned("anthropic-sdk/basic_response.sse.txt").chunks
    # Two upstream chunks, 100 ms apart: the first event, then the rest.
    fake_provider.queue.append(
        Canned(headers={"content-type": "text/event-stream"}, chunks=[events[0], b"".join(events[1:])], delay=0.1)
    )
    with RecordingProxy(fake_provider.url, tmp_path / "t.ndjson") as proxy:
        assert proxy.address[0] == "127.0.0.1"
        with socket.create_connection(proxy.address) as probe:
            assert probe.getpeername()[0] == "127.0.0.1"
        with (
            httpx2.Client() as http,
            http.stream("POST", proxy.url + "/v1/messages", json={"model": "m", "stream": True}) as reply,
        ):
            reads = list(reply.iter_raw())
    result = proxy.finish()
    assert b"message_start" in reads[0] and b"message_stop" not in reads[0]
    assert b"message_stop" in reads[-1]
    sse = [e for e in read_transcript(tmp_path / "t.ndjson").entries if e.type == "emit_inbound"][1:]
    assert [e.label for e in sse] == [event.event for event in parse_sse(b"".join(events).decode()).events]
    assert result.exchanges == 1 and result.protocol == "anthropic.messages"


def test_recording_proxy_records_openai_sync_stream_and_async_create(tmp_path: Path, fake_provider: FakeProvider):
    fake_provider.queue += [sse_canned("openai-sdk/chat__plain_text.sse.txt"), json_canned(CHAT_COMPLETION)]
    out = tmp_path / "openai.ndjson"
    with (
        RecordingProxy(fake_provider.url, out) as proxy,
        openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-proj-live-0123456789abcdefghij") as client,
    ):
        live = openai_user_code(client, openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="k"))
    assert proxy.finish().out == out
    assert read_transcript(out).protocol == "openai.chat"

    replay = HttpReplay([out])
    with openai.OpenAI(
        base_url=NOWHERE + "/v1", api_key="test", http_client=httpx2.Client(transport=ReplayTransport(replay))
    ) as client:
        replayed = openai_user_code(
            client,
            openai.AsyncOpenAI(
                base_url=NOWHERE + "/v1",
                api_key="test",
                http_client=httpx2.AsyncClient(transport=AsyncReplayTransport(replay)),
            ),
        )
    replay.finish()
    assert replayed == live


def test_recording_proxy_records_an_upstream_cut_as_cut_and_cuts_the_client(
    tmp_path: Path, fake_provider: FakeProvider
) -> None:
    canned = sse_canned("anthropic-sdk/basic_response.sse.txt", delay=0)
    canned.cut_after = 3
    fake_provider.queue.append(canned)
    out = tmp_path / "cut.ndjson"

    def consume(client: anthropic.Anthropic) -> list[str]:
        seen: list[str] = []
        with (
            pytest.raises(STREAM_CUT_ERRORS),
            client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES) as stream,
        ):
            seen.extend(event.type for event in stream)
        return seen

    with (
        RecordingProxy(fake_provider.url, out) as proxy,
        anthropic.Anthropic(base_url=proxy.url, api_key="test", max_retries=0) as client,
    ):
        live = consume(client)
    proxy.finish()
    entries = read_transcript(out).entries
    assert [e.frame["kind"] for e in entries if e.type == "emit_inbound"] == ["http.response", "sse", "sse", "sse"]
    assert entries[-1].type == "runtime_exit" and entries[-1].error["type"] == "connection_cut"

    replay = HttpReplay([out])
    with anthropic.Anthropic(
        base_url=NOWHERE, api_key="test", max_retries=0, http_client=httpx2.Client(transport=ReplayTransport(replay))
    ) as client:
        assert consume(client) == live
    replay.finish()


def test_recording_proxy_records_an_unreachable_upstream_as_a_cut_and_drops_the_client(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        unreachable = f"http://127.0.0.1:{closed.getsockname()[1]}"  # nothing listens once this closes
    logged: list[str] = []
    out = tmp_path / "down.ndjson"
    with (
        RecordingProxy(unreachable, out, log=logged.append) as proxy,
        anthropic.Anthropic(base_url=proxy.url, api_key="test", max_retries=0) as client,
        pytest.raises(anthropic.APIConnectionError),
    ):
        client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES)
    proxy.finish()
    entries = read_transcript(out).entries
    assert [e.type for e in entries] == ["expect_outbound", "runtime_exit"]
    assert entries[1].error["type"] == "connection_cut"
    [line] = logged
    assert line.startswith("harness record proxy: POST /v1/messages: no response from upstream (")
    assert line.endswith("); recorded as a cut")


def test_recording_proxy_joins_upstream_prefix_with_path_and_query_and_records_the_clients_path(
    tmp_path: Path, fake_provider: FakeProvider
) -> None:
    fake_provider.queue.append(json_canned(ANTHROPIC_MESSAGE))
    out = tmp_path / "gateway.ndjson"
    with RecordingProxy(fake_provider.url + "/gateway/", out) as proxy, httpx2.Client() as http:
        reply = http.post(
            proxy.url + "/v1/messages?beta=true",
            json={"model": "m"},
            headers={"anthropic-version": "2023-06-01", "connection": "keep-alive, x-hop", "x-hop": "1"},
        )
        assert reply.json() == ANTHROPIC_MESSAGE
    proxy.finish()
    _, path, headers, _ = fake_provider.requests[0]
    assert path == "/gateway/v1/messages?beta=true"
    assert "x-hop" not in {name.lower() for name in headers}
    frame = read_transcript(out).entries[0].frame
    assert (frame["path"], frame["query"]) == ("/v1/messages", {"beta": "true"})
    assert frame["headers"]["anthropic-version"] == "2023-06-01"


def test_upstream_headers_drop_the_connections_own_and_ask_for_identity() -> None:
    sent = [
        ("Host", "127.0.0.1:1234"),
        ("Connection", "keep-alive, X-Trace"),
        ("X-Trace", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("Content-Length", "12"),
        ("Accept-Encoding", "gzip, br"),
        ("TE", "trailers"),
        ("x-api-key", LIVE_KEY),
        ("anthropic-version", "2023-06-01"),
    ]
    assert upstream_headers(sent) == [
        ("x-api-key", LIVE_KEY),
        ("anthropic-version", "2023-06-01"),
        ("accept-encoding", "identity"),
    ]


def test_recording_proxy_without_requests_writes_nothing(tmp_path: Path) -> None:
    with RecordingProxy("https://api.anthropic.com", tmp_path / "none.ndjson") as proxy:
        pass
    result = proxy.finish()
    assert result.out is None and result.exchanges == 0
    assert not (tmp_path / "none.ndjson").exists()


# -- the command as a subprocess (last: it was started with the module) --------------------------


def test_record_proxy_records_sdk_traffic_that_replays_to_identical_messages(live_proxy: LiveProxy) -> None:
    proc, out, fake_provider = live_proxy.proc, live_proxy.out, live_proxy.provider
    url = live_proxy.url()
    try:
        assert url.startswith("http://127.0.0.1:")
        with anthropic.Anthropic(base_url=url, api_key=LIVE_KEY, max_retries=0) as client:
            aclient = anthropic.AsyncAnthropic(base_url=url, api_key=LIVE_KEY, max_retries=0)
            live = anthropic_user_code(client, aclient)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert f"wrote {out}: anthropic.messages, 4 exchange(s)" in stderr

    # Forwarded as the SDK sent it, credentials included; only the connection's own headers changed.
    method, path, sent, _ = fake_provider.requests[0]
    headers = {name.lower(): value for name, value in sent.items()}
    assert (method, path) == ("POST", "/v1/messages")
    assert LIVE_KEY in headers.get("x-api-key", headers.get("authorization", ""))
    assert headers["accept-encoding"] == "identity"
    assert headers["host"] == fake_provider.url.removeprefix("http://")

    text = out.read_text()
    assert LIVE_KEY not in text and SECRET_IN_PROMPT not in text
    assert "<redacted:anthropic-key>" in text
    transcript = read_transcript(out)
    inbound = [e for e in transcript.entries if e.type == "emit_inbound"]
    assert all(e.after_ms is not None for e in inbound)
    assert max(e.after_ms or 0 for e in inbound if e.frame["kind"] == "sse") >= 5  # the provider's 5 ms pacing

    assert replay_anthropic(out) == live
