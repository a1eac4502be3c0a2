"""Replay recorded HTTP exchanges into the user's own SDK clients, at the transport, failing closed.

:class:`HttpReplay` is the library-neutral engine: a request comes in (method, URL, headers,
body), it is turned into the same redacted ``http.request`` frame a recording writes
(:func:`harness.record.http.request_frame`) and checked against the next ``expect_outbound``
by a :class:`~harness.replay.driver.ReplayDriver`; the recorded response is handed back as a
status, headers and a list of body parts, one per server-sent event, each with its ``afterMs``.
:class:`ReplayTransport` and :class:`AsyncReplayTransport` put it under ``httpx2`` and ``httpx``
clients; ``harness serve`` puts it behind a loopback HTTP server.

Rules (``docs/your-code.md`` has the whole contract):

* Requests are checked strictly in order; identical repeated requests replay in recorded order.
  Several transcripts are served in the order given; a request whose URL names a protocol
  (``/v1/messages``, ``/responses``, ``/chat/completions``) goes to the first unfinished
  transcript of that protocol, so an Anthropic and an OpenAI client can share one replay.
* A mismatch, an extra request or any request after a failure is answered with status 400,
  ``x-should-retry: false`` and an error body in the provider's shape, which the SDKs neither
  retry nor mistake for a connection problem; the precise :class:`~harness.errors.ReplayError`
  (file:line, JSON path) is kept and raised by :meth:`HttpReplay.finish`.
* A stream is served part by part as the client reads it, advancing the injected clock by each
  part's ``afterMs`` (instant by default; ``pace="recorded"`` also sleeps). A ``runtime_exit``
  inside a response (a recorded connection cut) raises the library's ``RemoteProtocolError``
  after the parts before it.
* :meth:`HttpReplay.finish` raises the first replay error, then unconsumed entries: an exchange
  never requested, or a stream the client closed before reading it all. The body of an error
  status (4xx, 5xx) may go unread: the SDKs close it unread before they retry.
* A ``chunker`` re-cuts the body of each replayed exchange into other byte chunks (an SSE event
  split across reads, two events in one read) with the bytes unchanged; fault injection uses it
  (:mod:`harness.simulate.faults`, kind ``rechunk``).

Nothing here opens a socket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePath
from typing import Any, Literal

import anyio
import httpx
import httpx2
import orjson

from harness.errors import ReplayError, UnconsumedEntries, UnexpectedOutbound, UsageError
from harness.record.http import request_frame
from harness.record.redact import Redactor
from harness.replay.clock import Clock, LogicalClock
from harness.replay.driver import ReplayDriver
from harness.replay.matcher import FrameMatcher
from harness.transcript import EmitInbound, ExpectOutbound, RuntimeExit, Transcript, get_protocol, read_transcript
from harness.transcript.protocols import protocol_from_url

Pace = Literal["instant", "recorded"]
MISMATCH_STATUS = 400
"""Status of the answer to a request the recording does not have: a 4xx the SDKs never retry."""
_DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of a response body: bytes to send, the recorded delay before them, where they came from."""

    data: bytes
    after_ms: int
    entry_index: int | None
    line: int | None


@dataclass
class Exchange:
    """One answered request: the head, the body parts, and how far the client has read them."""

    status: int
    headers: list[tuple[str, str]]
    parts: list[Part]
    cut: RuntimeExit | None = None
    cut_line: int | None = None
    transcript: Transcript | None = None
    delivered: int = 0
    replayed: bool = True
    """False for the synthetic answer to a request the recording does not have."""

    @property
    def complete(self) -> bool:
        """Every part was read, or the answer is an error status: its body may go unread (the SDKs
        close an error answer to a streamed request unread before they retry it)."""
        return self.delivered >= len(self.parts) or self.status >= 400


def encode_frame(frame: Any) -> bytes | None:
    """The wire bytes of one recorded inbound HTTP frame (None for a response head)."""
    kind = frame.get("kind") if isinstance(frame, dict) else None
    if kind == "sse":
        event = frame.get("event")
        data = orjson.dumps(frame.get("data"))
        # A multi-line payload (only possible for non-JSON text) keeps one data: line per line.
        head = f"event: {event}\n".encode() if event is not None else b""
        return head + b"".join(b"data: " + line + b"\n" for line in data.split(b"\n")) + b"\n"
    if kind == "sse.done":
        return _DONE
    if kind == "http.body":
        body = frame.get("body")
        return body.encode() if isinstance(body, str) else orjson.dumps(body)
    return None


def _content_type(frames: Sequence[Any]) -> str:
    for frame in frames:
        kind = frame.get("kind") if isinstance(frame, dict) else None
        if kind in ("sse", "sse.done"):
            return "text/event-stream; charset=utf-8"
        if kind == "http.body":
            return "application/json"
    return "application/json"


class HttpReplay:
    """Serve one or more HTTP transcripts to live requests; see the module docstring.

    >>> replay = HttpReplay(["transcripts/mine/case.ndjson"])  # doctest: +SKIP
    >>> exchange = replay.request("POST", "https://api.anthropic.com/v1/messages", headers, body)  # doctest: +SKIP
    >>> replay.finish()  # raises the first replay error, then unconsumed entries  # doctest: +SKIP
    """

    def __init__(
        self,
        transcripts: Iterable[Transcript | Path | str],
        *,
        matcher: FrameMatcher | None = None,
        clock: Clock | None = None,
        pace: Pace = "instant",
        sleep: Callable[[float], None] = time.sleep,
        redactor: Redactor | None = None,
        placeholders: Iterable[tuple[str, str]] = (),
        chunker: Callable[[int, list[Part]], list[Part]] | None = None,
    ) -> None:
        loaded = [t if isinstance(t, Transcript) else read_transcript(t) for t in transcripts]
        if not loaded:
            raise UsageError("a replay needs at least one transcript")
        for transcript in loaded:
            info = get_protocol(transcript.protocol)
            if info.transport != "http":
                raise UsageError(
                    f"{transcript.path}: protocol {transcript.protocol} runs over {info.transport}; "
                    "replay it with `harness fake-runtime` instead of an HTTP transport"
                )
        if pace not in ("instant", "recorded"):
            raise UsageError(f"pace must be 'instant' or 'recorded', found {pace!r}")
        self.redactor = redactor or Redactor()
        base = matcher or FrameMatcher()
        placeholders = tuple(placeholders)
        # Placeholders fill the expected requests (matching) and the served frames alike; the
        # project's redaction kinds make its markers match only values of their kind.
        self.matcher = replace(
            base,
            placeholders=base.placeholders or placeholders,
            redaction_kinds=base.redaction_kinds or self.redactor.config.patterns,
        )
        self.clock: Clock = clock or LogicalClock()
        self.drivers = [ReplayDriver(t, matcher=self.matcher, clock=self.clock) for t in loaded]
        self.pace = pace
        self._sleep = sleep
        self.exchanges: list[Exchange] = []
        self.failures: list[ReplayError] = []
        self.refused = 0
        """Requests answered with the mismatch status (a retrying client shows up here)."""
        self.chunker = chunker
        """Re-cuts the body of each replayed exchange into other byte chunks (see :meth:`_claim`)."""
        self._served = [0] * len(self.drivers)
        self._lock = threading.Lock()

    @property
    def failure(self) -> ReplayError | None:
        """The first replay error, if any."""
        return self.failures[0] if self.failures else None

    # -- requests ------------------------------------------------------------------------------

    def request(self, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes) -> Exchange:
        """Check one live request against the recording and return what to answer."""
        frame = request_frame(method, url, headers, body, self.redactor)
        with self._lock:
            if self.failures:
                return self._refuse(self.failures[0], again=True)
            driver = self._driver_for(url)
            if driver is None:
                last = self.drivers[-1]
                return self._refuse(
                    self._record(
                        UnexpectedOutbound(
                            actual=frame,
                            found="the end of the transcript",
                            path=last.transcript.path,
                            line=None,
                            entry_index=len(last.transcript.entries),
                        )
                    )
                )
            try:
                if driver.stream_only:
                    driver.sent.append(frame)
                else:
                    driver.send(frame)
            except ReplayError as error:
                return self._refuse(self._record(error))
            exchange = self._claim(driver)
            self.exchanges.append(exchange)
            return exchange

    def can_answer(self, url: str) -> bool:
        """Whether a request to ``url`` would be answered from the recording (or refused after a
        failure) rather than find the recording exhausted: ``new_episodes`` records the rest live."""
        with self._lock:
            return bool(self.failures) or self._driver_for(url) is not None

    def _driver_for(self, url: str) -> ReplayDriver | None:
        protocol = protocol_from_url(url)
        for driver in self.drivers:
            if driver.cursor >= len(driver.transcript.entries):
                continue
            if protocol is None or driver.transcript.protocol == protocol:
                return driver
        return None

    def _claim(self, driver: ReplayDriver) -> Exchange:
        """Take the inbound entries answering the request just sent (up to the next request)."""
        transcript = driver.transcript
        entries = transcript.entries
        index = driver.cursor
        frames: list[tuple[int, EmitInbound]] = []
        cut: RuntimeExit | None = None
        cut_line: int | None = None
        while index < len(entries):
            entry = entries[index]
            if isinstance(entry, ExpectOutbound):
                break
            if isinstance(entry, RuntimeExit):
                cut, cut_line = entry, transcript.line_of(index)
                index += 1
                break
            # A stream-only recording has no requests to separate its responses: a response head
            # starts the next one.
            if driver.stream_only and frames and _kind(entry.frame) == "http.response":
                break
            frames.append((index, entry))
            index += 1
        driver.cursor = index
        status, headers = 200, []
        parts: list[Part] = []
        if frames and _kind(frames[0][1].frame) == "http.response":
            _, head = frames.pop(0)
            status = int(head.frame.get("status", 200))
            headers = [(k, str(v)) for k, v in (head.frame.get("headers") or {}).items()]
            if head.after_ms:
                self.clock.advance(head.after_ms)
                self._pause(head.after_ms)
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("content-type", _content_type([f.frame for _, f in frames])))
        for entry_index, entry in frames:
            data = encode_frame(self.matcher.expected(entry.frame))
            if data is not None:
                parts.append(Part(data, entry.after_ms or 0, entry_index, transcript.line_of(entry_index)))
        slot = self.drivers.index(driver)
        self._served[slot] += 1
        if self.chunker is not None:
            parts = self._rechunk(self._served[slot], parts, transcript)
        return Exchange(status, headers, parts, cut=cut, cut_line=cut_line, transcript=transcript)

    def _rechunk(self, number: int, parts: list[Part], transcript: Transcript) -> list[Part]:
        """The chunker's parts for exchange ``number`` (1-based, counted per transcript), which must
        hold the same bytes: a client must read the same body however it is cut."""
        assert self.chunker is not None
        chunked = self.chunker(number, list(parts))
        if b"".join(p.data for p in chunked) != b"".join(p.data for p in parts):
            raise UsageError(
                f"{transcript.path}: the chunker changed the bytes of exchange {number}; "
                "it may only cut the body differently, keeping every byte in order"
            )
        return chunked

    def _record(self, error: ReplayError) -> ReplayError:
        self.failures.append(error)
        return error

    def _refuse(self, error: ReplayError, *, again: bool = False) -> Exchange:
        self.refused += 1
        message = self.redactor.text(str(error))
        if again:
            message = f"the replay already failed; no further request is answered. First failure: {message}"
        body = {
            # Both SDKs read error.message for the exception text; Anthropic also wants type=error.
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": "harness_replay_mismatch",
                "param": None,
                "message": f"replay-harness: {message}",
            },
        }
        return Exchange(
            MISMATCH_STATUS,
            [("content-type", "application/json"), ("x-should-retry", "false"), ("x-harness-replay", "mismatch")],
            [Part(orjson.dumps(body), 0, None, None)],
            replayed=False,
        )

    # -- serving -------------------------------------------------------------------------------

    def _pause(self, after_ms: int) -> None:
        if self.pace == "recorded" and after_ms:
            self._sleep(after_ms / 1000)

    def deliver(self, exchange: Exchange, part: Part) -> None:
        """Account for one part handed to the client (advances the clock; sleeps when paced)."""
        if part.after_ms:
            self.clock.advance(part.after_ms)
        exchange.delivered += 1

    def iter_parts(self, exchange: Exchange, cut_error: Callable[[str], BaseException]) -> Iterator[bytes]:
        """The body of ``exchange`` part by part (sync), raising ``cut_error`` at a recorded cut."""
        for part in exchange.parts[exchange.delivered :]:
            self._pause(part.after_ms)
            self.deliver(exchange, part)
            yield part.data
        if exchange.cut is not None:
            raise cut_error(self._cut_message(exchange))

    async def aiter_parts(self, exchange: Exchange, cut_error: Callable[[str], BaseException]) -> AsyncIterator[bytes]:
        """The async twin of :meth:`iter_parts`; pacing sleeps with ``anyio``."""
        for part in exchange.parts[exchange.delivered :]:
            if self.pace == "recorded" and part.after_ms:
                await anyio.sleep(part.after_ms / 1000)
            self.deliver(exchange, part)
            yield part.data
        if exchange.cut is not None:
            raise cut_error(self._cut_message(exchange))

    def _cut_message(self, exchange: Exchange) -> str:
        recorded = exchange.cut.error if exchange.cut is not None else None
        detail = recorded.get("message") if isinstance(recorded, dict) else recorded
        # The file's name, not its path: the message reaches the code under test (and its logs and
        # goldens), which must not depend on where the checkout lives.
        source = exchange.transcript.path if exchange.transcript is not None else None
        where = f"{PurePath(source).name if source else 'transcript'}:{exchange.cut_line}"
        return f"peer closed connection (recorded cut at {where}: {detail})"

    # -- the end -------------------------------------------------------------------------------

    def finish(self) -> None:
        """Raise the first replay error, else :class:`UnconsumedEntries` for anything not served."""
        with self._lock:
            if self.failures:
                raise self.failures[0]
            for exchange in self.exchanges:
                if exchange.replayed and not exchange.complete and exchange.transcript is not None:
                    first = exchange.parts[exchange.delivered]
                    remaining: list[tuple[int, str, str | None]] = [
                        (part.line or 0, "emit_inbound", None) for part in exchange.parts[exchange.delivered :]
                    ]
                    error = UnconsumedEntries(remaining=remaining, path=exchange.transcript.path)
                    error.args = (
                        f"{exchange.transcript.path}:{first.line}: the client closed a response after "
                        f"{exchange.delivered} of {len(exchange.parts)} recorded parts; "
                        f"{len(remaining)} unread, starting at line {first.line}",
                    )
                    self.failures.append(error)
                    raise error
            for driver in self.drivers:
                try:
                    driver.finish()
                except ReplayError as error:
                    self.failures.append(error)
                    raise


def _kind(frame: Any) -> Any:
    return frame.get("kind") if isinstance(frame, dict) else None


# -- the transports ------------------------------------------------------------------------------


class _Stream(httpx2.SyncByteStream, httpx.SyncByteStream):
    """A body the client pulls part by part; both libraries accept it."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks


class _AsyncStream(httpx2.AsyncByteStream, httpx.AsyncByteStream):
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            yield chunk


def _lib(request: Any) -> Any:
    return httpx2 if isinstance(request, httpx2.Request) else httpx


def as_replay(
    source: HttpReplay | Transcript | Path | str | Sequence[Transcript | Path | str],
    *,
    matcher: FrameMatcher | None = None,
    clock: Clock | None = None,
    pace: Pace = "instant",
    redactor: Redactor | None = None,
    placeholders: Sequence[tuple[str, str]] = (),
) -> HttpReplay:
    """``source`` itself when it is an :class:`HttpReplay` (shared), else a new one over its transcripts."""
    if isinstance(source, HttpReplay):
        return source
    transcripts = [source] if isinstance(source, (Transcript, Path, str)) else list(source)
    return HttpReplay(
        transcripts, matcher=matcher, clock=clock, pace=pace, redactor=redactor, placeholders=placeholders
    )


class ReplayTransport(httpx2.BaseTransport, httpx.BaseTransport):
    """A sync ``httpx2``/``httpx`` transport that answers from a recording and never reaches the network.

    >>> transport = ReplayTransport("tests/transcripts/hello.ndjson")  # doctest: +SKIP
    >>> client = anthropic.Anthropic(api_key="test", max_retries=0,
    ...                              http_client=httpx2.Client(transport=transport))  # doctest: +SKIP
    >>> client.messages.create(...)  # doctest: +SKIP
    >>> transport.finish()  # raises the first ReplayError, then unconsumed entries  # doctest: +SKIP

    Pass an :class:`HttpReplay` to share one replay between several transports (a sync and an
    async client of one test).
    """

    def __init__(
        self,
        source: HttpReplay | Transcript | Path | str | Sequence[Transcript | Path | str],
        *,
        matcher: FrameMatcher | None = None,
        clock: Clock | None = None,
        pace: Pace = "instant",
        redactor: Redactor | None = None,
        placeholders: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.replay = as_replay(
            source, matcher=matcher, clock=clock, pace=pace, redactor=redactor, placeholders=placeholders
        )

    def handle_request(self, request: Any) -> Any:
        lib = _lib(request)
        body = request.read()
        exchange = self.replay.request(request.method, str(request.url), request.headers.multi_items(), body)
        stream = _Stream(self.replay.iter_parts(exchange, lib.RemoteProtocolError))
        return lib.Response(status_code=exchange.status, headers=exchange.headers, stream=stream)

    def finish(self) -> None:
        """Raise the first replay error, then unconsumed entries (see :meth:`HttpReplay.finish`)."""
        self.replay.finish()


class AsyncReplayTransport(httpx2.AsyncBaseTransport, httpx.AsyncBaseTransport):
    """The async twin of :class:`ReplayTransport`, for ``AsyncAnthropic`` and ``AsyncOpenAI``."""

    def __init__(
        self,
        source: HttpReplay | Transcript | Path | str | Sequence[Transcript | Path | str],
        *,
        matcher: FrameMatcher | None = None,
        clock: Clock | None = None,
        pace: Pace = "instant",
        redactor: Redactor | None = None,
        placeholders: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.replay = as_replay(
            source, matcher=matcher, clock=clock, pace=pace, redactor=redactor, placeholders=placeholders
        )

    async def handle_async_request(self, request: Any) -> Any:
        lib = _lib(request)
        body = await request.aread()
        exchange = self.replay.request(request.method, str(request.url), request.headers.multi_items(), body)
        stream = _AsyncStream(self.replay.aiter_parts(exchange, lib.RemoteProtocolError))
        return lib.Response(status_code=exchange.status, headers=exchange.headers, stream=stream)

    def finish(self) -> None:
        """Raise the first replay error, then unconsumed entries (see :meth:`HttpReplay.finish`)."""
        self.replay.finish()
