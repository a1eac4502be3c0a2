"""Serve a replay over loopback HTTP, for code that only takes a base URL: ``harness serve``.

:class:`ReplayServer` puts an :class:`~harness.replay.http.HttpReplay` behind a real HTTP/1.1
server on ``127.0.0.1``, so a CLI, a program in another language or an SDK you cannot hand a
transport to can be pointed at it with a base URL. It answers exactly as
:class:`~harness.replay.http.ReplayTransport` does (the same engine decides), and adds what only
a socket can show:

* each recorded part (one server-sent event, or the whole body) is written as its own HTTP chunk
  and flushed, so the client reads the first event before the last one is sent;
* a recorded connection cut closes the connection mid-body, without the final empty chunk: the
  client's HTTP library reports an incomplete read, as it did when the recording was made;
* a response the client stops reading (it closed the connection) is not counted as delivered,
  so :meth:`ReplayServer.finish` reports the unread part by file and line.

The replay is *settled* when no client connection is open and either every transcript entry has
been served and every response fully written, or the replay can no longer succeed (a request the
recording does not have, a response the client abandoned). Waiting for the connections to close
is what lets a request sent on a kept-alive connection after the last recorded one still be seen
(and fail the replay) instead of being refused by a server that already left.

:class:`LoopbackServer` is the plumbing shared with the recording proxy
(:mod:`harness.record.proxy`): bind ``127.0.0.1`` only, one thread per connection, request bodies
read whole (``Content-Length`` or chunked), responses written chunk by chunk.

Why ``http.server.ThreadingHTTPServer``: it is the standard library's server, maintained with
Python and no extra dependency; a thread per connection suits the engine, whose paced
:meth:`~harness.replay.http.HttpReplay.iter_parts` blocks between parts; and at loopback scale an
event loop (uvicorn, aiohttp) would buy nothing. Its two defaults that do not fit are overridden
here: it writes a log line per request to stderr (silenced: stderr is for the replay's verdict),
and ``server_bind`` looks up the host's fully qualified name, a resolver query this server must
not make (it never reaches the network).
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import orjson

from harness.errors import CheckFailure, UsageError
from harness.record.redact import Redactor
from harness.replay.clock import Clock
from harness.replay.http import Exchange, HttpReplay, Pace, as_replay
from harness.replay.matcher import FrameMatcher
from harness.transcript import Transcript

LOOPBACK = "127.0.0.1"
"""The only address these servers bind: nothing off this machine can reach them."""

HOP_BY_HOP_HEADERS: frozenset[str] = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
"""Headers that describe one connection (RFC 9110 section 7.6.1), never forwarded or replayed."""

_FRAMING_HEADERS = HOP_BY_HOP_HEADERS | {"content-length"}
_CLOSE_GRACE_S = 1.0
"""How long :meth:`LoopbackServer.close` waits for connection threads after closing their sockets."""


class _ConnectionCut(Exception):
    """Raised by the replay engine where the recording has a connection cut."""


class LoopbackHandler(BaseHTTPRequestHandler):
    """One client connection: HTTP/1.1 keep-alive, bodies read whole, responses written chunk by chunk."""

    protocol_version = "HTTP/1.1"
    server: LoopbackHTTPServer
    response_started = False
    chunked = True

    def _dispatch(self) -> None:
        self.response_started = False
        try:
            self.server.service._handle(self)
        except Exception as exc:
            # Not an expected failure (those are answered inside _handle): say so to the client if
            # it can still hear it, then let the server record it.
            if not self.response_started and not isinstance(exc, OSError):
                with contextlib.suppress(OSError):
                    self.answer_error(500, f"replay-harness: internal error: {exc}", code="harness_internal_error")
            self.close_connection = True
            raise

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: stderr belongs to the command's verdict, not to an access log."""

    def target(self) -> str:
        """The request's path and query (an absolute-form request line is reduced to them)."""
        if self.path.startswith(("http://", "https://")):
            split = urlsplit(self.path)
            return (split.path or "/") + (f"?{split.query}" if split.query else "")
        return self.path if self.path.startswith("/") else f"/{self.path}"

    def header_items(self) -> list[tuple[str, str]]:
        """The request headers as sent, in order, repeated names kept."""
        return [(name, str(value)) for name, value in self.headers.items()]

    def read_body(self) -> bytes:
        """The whole request body: ``Content-Length`` bytes, a chunked body decoded, else empty."""
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers, if any, end with an empty line.
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def start_response(self, status: int, headers: Iterable[tuple[str, str]], *, body: bool = True) -> None:
        """Send the status line and headers; with ``body`` the body follows in chunks.

        An HTTP/1.0 client cannot read chunks: its body is sent as is and ends when the
        connection closes.
        """
        self.response_started = True
        self.chunked = body and self.request_version != "HTTP/1.0"
        self.send_response_only(status)
        for name, value in headers:
            if name.lower() not in _FRAMING_HEADERS:
                self.send_header(name, value)
        if self.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif body:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", "0")
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data: bytes) -> None:
        """Send one body chunk now (one write, flushed); empty data is skipped, it would end the body."""
        if data:
            self.wfile.write(b"%x\r\n%b\r\n" % (len(data), data) if self.chunked else data)
            self.wfile.flush()

    def end_response(self) -> None:
        """Send the last, empty chunk: the body is complete."""
        if self.chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def cut(self) -> None:
        """Close the connection mid-body: no final chunk, so the client sees an incomplete read."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

    def answer_error(self, status: int, message: str, *, code: str) -> None:
        """A JSON error in the providers' shape, marked not-retryable, for a request that cannot be served."""
        body = orjson.dumps(
            {"type": "error", "error": {"type": "api_error", "code": code, "param": None, "message": message}}
        )
        self.start_response(
            status,
            [("content-type", "application/json"), ("x-should-retry", "false"), ("x-harness", code)],
        )
        self.write_chunk(body)
        self.end_response()


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` on 127.0.0.1 that knows its open connections and threads."""

    daemon_threads = True

    def __init__(self, port: int, service: LoopbackServer) -> None:
        self.service = service
        self.connections: set[socket.socket] = set()
        self.threads: list[threading.Thread] = []
        self.internal_errors: list[str] = []
        self._track = threading.Lock()
        try:
            super().__init__((LOOPBACK, port), LoopbackHandler)
        except OverflowError:
            raise UsageError(f"--port must be between 0 and 65535, found {port}") from None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise UsageError(f"cannot listen on {LOOPBACK}:{port}: {reason}; pick another --port (0: any)") from None

    def server_bind(self) -> None:
        # HTTPServer.server_bind would call socket.getfqdn(): a resolver lookup we must not make.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Counted here, at accept time, so "no connection open" is never true while a client's
        # new connection waits for its thread to start.
        with self._track:
            self.connections.add(request)
            self.threads = [t for t in self.threads if t.is_alive()]
            thread = threading.Thread(
                target=self.process_request_thread,
                args=(request, client_address),
                name=f"harness-loopback-{client_address[1]}",
                daemon=True,
            )
            self.threads.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self._track:
            self.connections.discard(request)
        self.service._connection_closed()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exception()
        if isinstance(error, OSError):
            return  # the client went away; the service already accounted for it
        # Not an expected failure: a bug. Keep the traceback, and fail the run.
        self.internal_errors.append(f"{type(error).__name__}: {error}")
        traceback.print_exc()

    def open_connections(self) -> int:
        with self._track:
            return len(self.connections)

    def close_connections(self) -> None:
        """Shut every open connection down, so threads blocked reading or writing return."""
        with self._track:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def join_threads(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._track:
            threads = list(self.threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))


class LoopbackServer:
    """A service behind a loopback HTTP server: bind at construction, serve in a thread, close once.

    Subclasses implement :meth:`_handle`, called on a connection's thread for each request.
    """

    def __init__(self, *, port: int = 0) -> None:
        self._server = LoopbackHTTPServer(port, self)
        host, bound = self._server.server_address[:2]
        self.address: tuple[str, int] = (str(host), int(bound))
        """The bound ``(host, port)``; the host is always ``127.0.0.1``."""
        self.url = f"http://{self.address[0]}:{self.address[1]}"
        """The base URL to hand the client: ``http://127.0.0.1:PORT``, no trailing slash."""
        self._thread: threading.Thread | None = None
        self.closed = False

    def start(self) -> None:
        """Start serving on a background thread (idempotent)."""
        if self._thread is None and not self.closed:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="harness-loopback", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stop accepting, close the listening socket and every open connection (idempotent)."""
        if self.closed:
            return
        self.closed = True
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        self._server.close_connections()
        self._server.join_threads(_CLOSE_GRACE_S)

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def open_connections(self) -> int:
        """How many client connections are open right now."""
        return self._server.open_connections()

    def _handle(self, handler: LoopbackHandler) -> None:
        raise NotImplementedError

    def _connection_closed(self) -> None:
        """Called after a client connection closed (on its thread)."""

    def _internal_failure(self) -> CheckFailure | None:
        errors = self._server.internal_errors
        if not errors:
            return None
        return CheckFailure(
            f"{len(errors)} request(s) failed inside the server, first: {errors[0]} (traceback printed above)"
        )


class ReplayServer(LoopbackServer):
    """Serve an :class:`HttpReplay` to real HTTP clients on ``127.0.0.1``; see the module docstring.

    >>> with ReplayServer("tests/transcripts/hello.ndjson") as server:  # doctest: +SKIP
    ...     client = anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0)
    ...     client.messages.create(...)
    ...     client.close()
    ...     server.wait(timeout=5)  # True once settled
    >>> server.finish()  # raises the first ReplayError, then unconsumed entries  # doctest: +SKIP

    ``source`` is an :class:`HttpReplay` (to share one between a server and transports) or the
    transcripts to build one from, with the same options as
    :class:`~harness.replay.http.ReplayTransport`. An OpenAI client takes ``server.url + "/v1"``.
    """

    def __init__(
        self,
        source: HttpReplay | Transcript | Path | str | Sequence[Transcript | Path | str],
        *,
        port: int = 0,
        matcher: FrameMatcher | None = None,
        clock: Clock | None = None,
        pace: Pace = "instant",
        redactor: Redactor | None = None,
        placeholders: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.replay = as_replay(
            source, matcher=matcher, clock=clock, pace=pace, redactor=redactor, placeholders=placeholders
        )
        self._writing = 0
        self._abandoned = False
        self._state = threading.Lock()
        self._settled = threading.Event()
        super().__init__(port=port)

    def __enter__(self) -> ReplayServer:
        self.start()
        return self

    # -- serving -------------------------------------------------------------------------------

    def _handle(self, handler: LoopbackHandler) -> None:
        with self._state:
            self._writing += 1
        try:
            self._answer(handler)
        finally:
            with self._state:
                self._writing -= 1
            self._check_settled()

    def _answer(self, handler: LoopbackHandler) -> None:
        body = handler.read_body()
        exchange = self.replay.request(handler.command, self.url + handler.target(), handler.header_items(), body)
        written = 0
        try:
            handler.start_response(exchange.status, exchange.headers)
            try:
                for data in self.replay.iter_parts(exchange, _ConnectionCut):
                    handler.write_chunk(data)
                    written += 1
            except _ConnectionCut:
                handler.cut()
                return
            handler.end_response()
        except OSError:
            # The client closed the connection: only the parts written before are delivered.
            handler.close_connection = True
            self._abandon(exchange, written)

    def _abandon(self, exchange: Exchange, written: int) -> None:
        with self._state:
            # iter_parts counts a part as delivered when it hands it over, before its write failed.
            exchange.delivered = min(exchange.delivered, written)
            if not exchange.complete and exchange.replayed:
                self._abandoned = True

    # -- the end -------------------------------------------------------------------------------

    @property
    def settled(self) -> bool:
        """True once the replay is over: no connection open, and it has passed or can no longer pass."""
        return self._settled.is_set()

    def _connection_closed(self) -> None:
        self._check_settled()

    def _check_settled(self) -> None:
        with self._state:
            if self._writing or self._server.open_connections():
                return
            replay = self.replay
            failed = bool(replay.failures) or self._abandoned or bool(self._server.internal_errors)
            served = all(d.cursor >= len(d.transcript.entries) for d in replay.drivers) and all(
                e.complete for e in replay.exchanges if e.replayed
            )
        if failed or served:
            self._settled.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the replay is settled (see the module docstring); False if ``timeout`` ran out."""
        return self._settled.wait(timeout)

    @property
    def exchanges(self) -> int:
        """How many requests were answered from the recording."""
        return sum(1 for e in self.replay.exchanges if e.replayed)

    def finish(self) -> None:
        """Close the server, then raise the first replay error, else unconsumed entries; None if all passed."""
        self.close()
        self.replay.finish()
        internal = self._internal_failure()
        if internal is not None:
            raise internal
