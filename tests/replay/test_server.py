"""``harness serve`` and ReplayServer for real: sockets on 127.0.0.1, the official SDKs as clients.

The transcripts are recorded first, live: the SDKs talk to a loopback fake provider that serves
real corpus streams event by event (``tests/conftest.py``), through ``RecordingTransport``. So the
requests being replayed are exactly what these SDK versions send, and the final messages of the
live run are what every replay must reproduce.
"""

from __future__ import annotations

import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from harness.cli import main
from harness.record.http import RecordingTransport
from harness.replay.http import HttpReplay
from harness.replay.server import ReplayServer
from harness.transcript import EmitInbound, Transcript, read_transcript, write_transcript
from tests.conftest import ROOT, STREAM_CUT_ERRORS, FakeProvider, sse_canned

PROMPTS = ("What is 1+1? Answer with just the number.", "What is the weather in San Francisco?")
LIVE_KEY = "sk-ant-api03-live-key-0123456789abcdef"


def ask_anthropic(client: anthropic.Anthropic, prompt: str) -> Any:
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        return stream.get_final_message().model_dump()


def ask_openai(client: openai.OpenAI, prompt: str) -> Any:
    with client.chat.completions.stream(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]) as s:
        return s.get_final_completion().model_dump()


def anthropic_client(url: str, **kwargs: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key="test", max_retries=0, **kwargs)


@dataclass
class Recorded:
    anthropic: Path
    openai: Path
    cut: Path
    live_anthropic: list[Any]
    live_openai: Any
    live_cut_events: list[str]

    @property
    def abandoned(self) -> Path:
        """The first exchange, 40 ms between events: slow enough to see a client hang up mid-stream."""
        return self.anthropic.with_name("abandoned.ndjson")

    @property
    def last_late(self) -> Path:
        """The first exchange, instant but for 300 ms before the last event."""
        return self.anthropic.with_name("last_late.ndjson")

    def request_lines(self, path: Path) -> list[int]:
        transcript = read_transcript(path)
        return [transcript.line_of(i) for i, e in enumerate(transcript.entries) if e.type == "expect_outbound"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """Two Anthropic streams, one OpenAI stream and one cut Anthropic stream, recorded live."""
    folder = tmp_path_factory.mktemp("recorded")
    cut = sse_canned("anthropic-sdk/basic_response.sse.txt", delay=0)
    cut.cut_after = 3
    with FakeProvider() as provider:
        provider.queue += [
            sse_canned("anthropic-sdk/basic_response.sse.txt"),
            sse_canned("anthropic-sdk/tool_use_response.sse.txt"),
            sse_canned("openai-sdk/chat__plain_text.sse.txt"),
            cut,
        ]
        transport = RecordingTransport(folder / "anthropic.ndjson")
        with anthropic.Anthropic(
            base_url=provider.url, api_key=LIVE_KEY, max_retries=0, http_client=httpx2.Client(transport=transport)
        ) as client:
            live_anthropic = [ask_anthropic(client, prompt) for prompt in PROMPTS]
        transport.finish()

        transport = RecordingTransport(folder / "openai.ndjson")
        with openai.OpenAI(
            base_url=provider.url + "/v1", api_key="test", max_retries=0, http_client=httpx2.Client(transport=transport)
        ) as client:
            live_openai = ask_openai(client, PROMPTS[0])
        transport.finish()

        transport = RecordingTransport(folder / "cut.ndjson")
        with anthropic.Anthropic(
            base_url=provider.url, api_key=LIVE_KEY, max_retries=0, http_client=httpx2.Client(transport=transport)
        ) as client:
            live_cut_events = stream_until_cut(client)
        transport.finish()
    recorded = Recorded(
        folder / "anthropic.ndjson", folder / "openai.ndjson", folder / "cut.ndjson", live_anthropic, live_openai,
        live_cut_events,
    )  # fmt: skip
    paced(recorded.anthropic, recorded.abandoned, lambda i, n: 40)
    paced(recorded.anthropic, recorded.last_late, lambda i, n: 300 if i == n - 1 else 0)
    return recorded


def stream_until_cut(client: anthropic.Anthropic) -> list[str]:
    seen: list[str] = []
    with (
        pytest.raises(STREAM_CUT_ERRORS),
        client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": PROMPTS[0]}]
        ) as stream,
    ):
        seen.extend(event.type for event in stream)
    return seen


def paced(source: Path, target: Path, after_ms: Callable[[int, int], int]) -> Path:
    """``source``'s first exchange; SSE part ``i`` of ``n`` gets ``afterMs`` ``after_ms(i, n)``, the head 0."""
    transcript = read_transcript(source)
    second = [i for i, e in enumerate(transcript.entries) if e.type == "expect_outbound"][1]
    entries = list(transcript.entries[:second])
    inbound = [i for i, e in enumerate(entries) if isinstance(e, EmitInbound)]
    for number, index in enumerate(inbound[1:]):
        entries[index] = entries[index].model_copy(update={"after_ms": after_ms(number, len(inbound) - 1)})
    entries[inbound[0]] = entries[inbound[0]].model_copy(update={"after_ms": 0})
    write_transcript(target, transcript.header, entries)
    return target


# -- the command as a subprocess -----------------------------------------------------------------


@dataclass
class Serve:
    """A running ``harness serve``: its process and the URL it printed first."""

    proc: subprocess.Popen[str]
    url: str

    def result(self, *, terminate: bool = False) -> tuple[int, str]:
        if terminate:
            self.proc.send_signal(signal.SIGTERM)
        _, stderr = self.proc.communicate(timeout=10)
        return self.proc.returncode, stderr


class ServePool:
    """``python -m harness serve`` processes, started ahead: each spends ~0.8 s importing, in parallel."""

    def __init__(self) -> None:
        self.ready: dict[tuple[str, ...], list[subprocess.Popen[str]]] = {}
        self.started: list[subprocess.Popen[str]] = []

    def launch(self, *args: str | Path) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness", "serve", *map(str, args)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.started.append(proc)
        return proc

    def prelaunch(self, *args: str | Path, count: int = 1) -> None:
        key = tuple(map(str, args))
        self.ready.setdefault(key, []).extend(self.launch(*args) for _ in range(count))

    def get(self, *args: str | Path) -> Serve:
        """A serve process for ``args`` whose first stdout line (the URL) has been read."""
        waiting = self.ready.get(tuple(map(str, args)))
        proc = waiting.pop() if waiting else self.launch(*args)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        url = proc.stdout.readline().strip() if ready else ""
        if not url:
            proc.kill()
            pytest.fail(f"harness serve printed no URL; stderr: {proc.communicate()[1]}")
        return Serve(proc, url)

    def close(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


@pytest.fixture(scope="module")
def serve_pool(recorded: Recorded) -> Iterator[ServePool]:
    pool = ServePool()
    pool.prelaunch(recorded.anthropic, recorded.openai)
    pool.prelaunch(recorded.anthropic, count=len(FAIL_CLOSED))
    pool.prelaunch(recorded.abandoned, "--pace", "recorded")
    pool.prelaunch(recorded.last_late, "--pace", "recorded")
    yield pool
    pool.close()


@pytest.fixture
def serve(serve_pool: ServePool) -> Callable[..., Serve]:
    """Start (or take a pre-started) ``python -m harness serve ARGS`` and read its URL."""
    return serve_pool.get


def test_serve_replays_the_live_run_to_the_official_sdks_and_exits_0(serve, recorded: Recorded) -> None:
    served = serve(recorded.anthropic, recorded.openai)
    assert served.url.startswith("http://127.0.0.1:")

    with anthropic_client(served.url) as client:
        assert [ask_anthropic(client, prompt) for prompt in PROMPTS] == recorded.live_anthropic
    with openai.OpenAI(base_url=served.url + "/v1", api_key="test", max_retries=0) as client:
        assert ask_openai(client, PROMPTS[0]) == recorded.live_openai

    status, stderr = served.result()  # no signal: it exits by itself once all is served
    assert status == 0, stderr
    assert "served 3 exchange(s) from 2 transcript(s)" in stderr


def _mismatch(client: anthropic.Anthropic, prompt: str) -> None:
    with pytest.raises(anthropic.BadRequestError, match="replay-harness"):
        ask_anthropic(client, prompt)


def changed_prompt(client: anthropic.Anthropic) -> None:
    _mismatch(client, "What is 2+2? Answer with just the number.")


def extra_request(client: anthropic.Anthropic) -> None:
    for prompt in PROMPTS:
        ask_anthropic(client, prompt)
    _mismatch(client, PROMPTS[1])


def missing_request(client: anthropic.Anthropic) -> None:
    ask_anthropic(client, PROMPTS[0])


def reordered_requests(client: anthropic.Anthropic) -> None:
    _mismatch(client, PROMPTS[1])


# (client code, stopped by SIGTERM, what stderr must say: {path}, {line1}, {line2} filled in)
FAIL_CLOSED: dict[str, tuple[Callable[[anthropic.Anthropic], None], bool, tuple[str, ...]]] = {
    "changed-prompt": (changed_prompt, False, ("{path}:{line1}:", "$.body.messages[0].content", '"What is 2+2?')),
    "extra-request": (extra_request, False, ("{path}:", "unexpected outbound frame", "the end of the transcript")),
    "missing-request": (missing_request, True, ("{path}:{line2}:", "unconsumed", "expect_outbound")),
    "reordered-requests": (reordered_requests, False, ("{path}:{line1}:", "$.body.messages[0].content")),
}


@pytest.mark.parametrize("case", list(FAIL_CLOSED))
def test_serve_fails_closed_with_exit_1_naming_file_line_and_json_path(case, serve, recorded: Recorded) -> None:
    code, terminate, expected = FAIL_CLOSED[case]
    served = serve(recorded.anthropic)
    with anthropic_client(served.url) as client:
        code(client)
    status, stderr = served.result(terminate=terminate)
    assert status == 1, stderr
    line1, line2 = recorded.request_lines(recorded.anthropic)
    for fragment in expected:
        assert fragment.format(path=recorded.anthropic, line1=line1, line2=line2) in stderr
    assert stderr.startswith("failed: ")
    assert "Traceback" not in stderr


def test_serve_fails_closed_on_leftover_entries_of_a_stream_the_client_abandoned(serve, recorded: Recorded) -> None:
    path = recorded.abandoned
    served = serve(path, "--pace", "recorded")
    with (
        anthropic_client(served.url) as client,
        client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": PROMPTS[0]}]
        ) as stream,
    ):
        assert next(iter(stream)).type == "message_start"
    status, stderr = served.result()  # exits by itself: the abandoned stream can never be completed
    assert status == 1, stderr
    assert f"{path}:" in stderr
    assert "the client closed a response after" in stderr
    assert "unread" in stderr


def test_serve_streams_each_event_as_its_own_chunk_before_the_last_is_sent(serve, recorded: Recorded) -> None:
    path = recorded.last_late
    request = read_transcript(path).entries[0].frame
    served = serve(path, "--pace", "recorded")
    with (
        httpx2.Client() as http,
        http.stream("POST", served.url + request["path"], headers=request["headers"], json=request["body"]) as reply,
    ):
        assert reply.headers["transfer-encoding"] == "chunked"
        reads = list(reply.iter_raw())
    # The first read held the first event, and the last event had not been sent yet.
    assert b"event: message_start" in reads[0]
    assert b"message_stop" not in reads[0]
    assert b"event: message_stop" in reads[-1]
    status, stderr = served.result()
    assert status == 0, stderr


# -- the public API in-process -------------------------------------------------------------------


def test_replay_server_sends_the_first_event_before_the_server_paces_the_next(recorded: Recorded) -> None:
    """Pacing is gated on the client: the server may only send event 2 once event 1 has arrived."""
    first_arrived = threading.Event()
    gate_opened_by_client: list[bool] = []

    def gate(seconds: float) -> None:
        gate_opened_by_client.append(first_arrived.wait(timeout=5))

    # Only the last event has an afterMs: the one pause happens after the first event was sent.
    replay = HttpReplay([recorded.last_late], pace="recorded", sleep=gate)
    arrival: list[str] = []
    with (
        ReplayServer(replay) as server,
        anthropic_client(server.url) as client,
        client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": PROMPTS[0]}]
        ) as stream,
    ):
        for event in stream:
            arrival.append(event.type)
            first_arrived.set()
    server.finish()
    assert arrival[0] == "message_start" and arrival[-1] == "message_stop"
    assert gate_opened_by_client == [True]


def test_replay_server_cuts_the_connection_where_the_recording_was_cut(recorded: Recorded) -> None:
    with ReplayServer(recorded.cut) as server, anthropic_client(server.url) as client:
        assert stream_until_cut(client) == recorded.live_cut_events
    assert server.wait(timeout=5)
    server.finish()  # the cut was served as recorded: nothing is left over
    entries = read_transcript(recorded.cut).entries
    assert entries[-1].type == "runtime_exit" and entries[-1].error["type"] == "connection_cut"


def test_replay_server_binds_loopback_only_and_settles_once_no_connection_is_open(recorded: Recorded) -> None:
    with ReplayServer(recorded.openai) as server:
        host, port = server.address
        assert host == "127.0.0.1"
        assert server.url == f"http://127.0.0.1:{port}"
        with socket.create_connection(server.address) as idle:
            assert idle.getpeername()[0] == "127.0.0.1"
            with openai.OpenAI(base_url=server.url + "/v1", api_key="test", max_retries=0) as client:
                assert ask_openai(client, PROMPTS[0]) == recorded.live_openai
            # Everything was served, but an open connection may still send a request.
            assert not server.wait(timeout=0.05)
        assert server.wait(timeout=5)
    server.finish()


# -- usage errors: exit 2, no URL, no traceback --------------------------------------------------


@pytest.fixture
def port_in_use() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unreadable-transcript", "no such transcript file"),
        ("stdio-protocol", "runs over stdio"),
        ("port-in-use", "cannot listen on 127.0.0.1:"),
        ("bad-json-path", "must start with '$'"),
    ],
)
def test_serve_usage_errors_exit_2(case, expected, recorded: Recorded, port_in_use: int, tmp_path, capsys) -> None:
    args = {
        "unreadable-transcript": [str(tmp_path / "missing.ndjson")],
        "stdio-protocol": [str(ROOT / "transcripts/t3code/simple/codex_transcript.ndjson")],
        "port-in-use": [str(recorded.anthropic), "--port", str(port_in_use)],
        "bad-json-path": [str(recorded.anthropic), "--ignore", "body.metadata"],
    }[case]
    assert main(["serve", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no URL: nothing was served
    assert err.startswith("error: ") and expected in err
    assert "Traceback" not in err


def test_serve_rejects_a_port_out_of_range(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "t.ndjson", "--port", "70000"])
    assert exit_info.value.code == 2
    assert "between 0 and 65535" in capsys.readouterr().err


def test_replayed_transcript_is_one_the_sdk_really_sent(recorded: Recorded) -> None:
    transcript: Transcript = read_transcript(recorded.anthropic)
    assert [e.frame["path"] for e in transcript.entries if e.type == "expect_outbound"] == ["/v1/messages"] * 2
    assert LIVE_KEY not in recorded.anthropic.read_text()
