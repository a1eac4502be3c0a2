"""Shared test helpers: the repository root, a loopback fake provider, and a no-network guard."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anthropic
import httpx2
import pytest

from harness.record.sse import parse_sse

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from the repository root, as users run the CLI."""
    monkeypatch.chdir(ROOT)
    return ROOT


# -- a loopback fake provider: the live side of recording tests ---------------------------------


CORPUS = ROOT / "fixtures" / "corpus"


# A complete Messages answer and Chat Completions answer, as the providers send them unstreamed.
ANTHROPIC_MESSAGE = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "2"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 20, "output_tokens": 5},
}
CHAT_COMPLETION = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "2"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13},
}


@dataclass
class Canned:
    """One response the fake provider gives: status, headers, and body chunks sent with a delay."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    delay: float = 0.0
    cut_after: int | None = None


def sse_canned(name: str, *, delay: float = 0.005, headers: dict[str, str] | None = None) -> Canned:
    """A corpus SSE body (``fixtures/corpus/<name>``), one chunk per event, as the provider sent it."""
    text = (CORPUS / name).read_text()
    events = parse_sse(text).events
    chunks = []
    for event in events:
        head = f"event: {event.event}\n" if event.event else ""
        chunks.append(f"{head}data: {event.data}\n\n".encode())
    return Canned(
        headers={"content-type": "text/event-stream; charset=utf-8", **(headers or {})}, chunks=chunks, delay=delay
    )


def json_canned(body: object, *, status: int = 200, headers: dict[str, str] | None = None) -> Canned:
    return Canned(
        status=status,
        headers={"content-type": "application/json", **(headers or {})},
        chunks=[json.dumps(body).encode()],
    )


class FakeProvider:
    """A real HTTP server on 127.0.0.1 that answers each request with the next canned response.

    Requests are kept (method, path, headers, body) so tests can see what the SDK really sent.
    """

    def __init__(self) -> None:
        self.queue: list[Canned] = []
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                provider.requests.append((self.command, self.path, dict(self.headers.items()), body))
                canned = (
                    provider.queue.pop(0)
                    if provider.queue
                    else json_canned({"error": "no canned response"}, status=500)
                )
                self.send_response(canned.status)
                for name, value in canned.headers.items():
                    self.send_header(name, value)
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for index, chunk in enumerate(canned.chunks):
                    if canned.cut_after is not None and index >= canned.cut_after:
                        self.wfile.flush()
                        self.connection.shutdown(2)
                        self.close_connection = True
                        return
                    if canned.delay:
                        time.sleep(canned.delay)
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            do_GET = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    def __enter__(self) -> FakeProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    """A started :class:`FakeProvider`; queue responses with ``fake_provider.queue.append(...)``."""
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Fail any socket connection attempt; returns the list of attempted addresses."""
    import socket

    attempts: list[object] = []

    def refuse(self: socket.socket, address: object, *args: object) -> None:
        attempts.append(address)
        raise AssertionError(f"a replay tried to open a connection to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts



# A stream cut while the Anthropic SDK reads it: releases before 2.17 let httpx2's
# RemoteProtocolError through; 2.17 and later wrap it in APIConnectionError (its __cause__).
STREAM_CUT_ERRORS = (httpx2.RemoteProtocolError, anthropic.APIConnectionError)


def transport_error(exc: BaseException) -> BaseException:
    """The transport's own error behind what the SDK raised for a cut stream."""
    if not isinstance(exc, httpx2.TransportError) and isinstance(exc.__cause__, httpx2.TransportError):
        return exc.__cause__
    return exc
