"""Record HTTP traffic at the SDK's transport: the frames of a live exchange, written as they happen.

:class:`RecordingTransport` (sync) and :class:`AsyncRecordingTransport` wrap a real transport of
``httpx2`` (what the current ``anthropic`` and ``openai`` SDKs use) or plain ``httpx``. For each
request the app makes they write

1. ``expect_outbound`` with the :class:`~harness.transcript.HttpRequest` frame (allowlisted
   headers, redacted query and body: :func:`request_frame`);
2. ``emit_inbound`` with the ``http.response`` head;
3. for an event stream, one ``emit_inbound`` per server-sent event, the moment the event is
   complete (each chunk is passed to the app as it arrives, never buffered); otherwise one
   ``http.body`` when the body ends;
4. if the network cuts the stream, ``runtime_exit`` with status ``error`` and
   ``{"type": "connection_cut", "message": ...}`` after the events that did arrive, and the
   app sees the transport error it would have seen anyway.

The same frames, re-encoded, are what :mod:`harness.replay.http` serves back: a recording and a
replay are the same transcript format.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import httpx
import httpx2
import orjson

from harness.errors import UsageError
from harness.record.recorder import TranscriptRecorder
from harness.record.redact import Redactor
from harness.record.sse import SseDecoder
from harness.transcript import HttpBody, HttpRequest, HttpResponse, SseDone, SseEvent, TranscriptHeader, get_protocol
from harness.transcript.io import Entry
from harness.transcript.protocols import protocol_from_url

RECORDER_NAME = "harness record"
_DONE = "[DONE]"


def request_frame(
    method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes, redactor: Redactor
) -> dict[str, Any]:
    """The ``http.request`` frame of a live request, redacted: what is recorded and what is matched.

    The path keeps any prefix of the client's base URL (``/v1/...``); the query is parsed and
    sorted; only allowlisted headers are kept; a JSON body is parsed, any other body kept as text.
    """
    split = urlsplit(url)
    parsed: Any = None
    if body:
        try:
            parsed = redactor.json(orjson.loads(body))
        except orjson.JSONDecodeError:
            parsed = redactor.text(body.decode("utf-8", errors="replace"))
    frame = HttpRequest(
        method=method.upper(),
        path=split.path or "/",
        query=redactor.query(parse_qsl(split.query, keep_blank_values=True)),
        headers=redactor.headers(headers, direction="request"),
        body=parsed,
    )
    return frame.model_dump(mode="json")


def sse_frame(event: str | None, data: str) -> dict[str, Any]:
    """The frame of one received server-sent event (``data: [DONE]`` is an ``sse.done``)."""
    if data.strip() == _DONE:
        return SseDone().model_dump(mode="json")
    try:
        payload: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        payload = data
    return SseEvent(event=event, data=payload).model_dump(mode="json")


def body_frame(body: bytes) -> dict[str, Any]:
    """The frame of a complete, non-streamed body: JSON when it parses, else its text."""
    try:
        parsed: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = body.decode("utf-8", errors="replace")
    return HttpBody(body=parsed).model_dump(mode="json")


class _Headers(Protocol):
    def multi_items(self) -> list[tuple[str, str]]: ...


def _is_stream(headers: _Headers) -> bool:
    return any(k.lower() == "content-type" and "text/event-stream" in v.lower() for k, v in headers.multi_items())


class HttpRecording:
    """The library-neutral half of a recording transport: one transcript, written as traffic flows.

    The transcript header needs the protocol, which the first request's URL tells
    (``/v1/messages``, ``/responses``, ``/chat/completions``), so the file is opened then; pass
    ``protocol`` for a gateway whose paths say nothing. Every later request must be of the same
    protocol: record each provider into its own transcript.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        protocol: str | None = None,
        redactor: Redactor | None = None,
        force: bool = False,
        scenario: str | None = None,
        keep: Iterable[Entry] = (),
    ) -> None:
        self.path = Path(path)
        self.protocol = protocol
        self.redactor = redactor or Redactor()
        self.force = force
        self.scenario = scenario or self.path.stem
        self.recorder: TranscriptRecorder | None = None
        self._keep = list(keep)
        self.exchanges = 0
        if protocol is not None:
            get_protocol(protocol, where="protocol")

    def _open(self, url: str) -> TranscriptRecorder:
        implied = protocol_from_url(url)
        if self.recorder is None:
            protocol = self.protocol or implied
            if protocol is None:
                raise UsageError(
                    f"{self.path}: cannot tell the protocol of {urlsplit(url).path!r}; pass protocol= "
                    "(anthropic.messages, openai.responses or openai.chat)"
                )
            self.protocol = protocol
            info = get_protocol(protocol, where="protocol")
            header = TranscriptHeader(
                provider=info.provider,
                protocol=protocol,
                version="unknown",
                scenario=self.scenario,
                metadata={"recordedWith": RECORDER_NAME},
            )
            self.recorder = TranscriptRecorder(self.path, header, redactor=self.redactor, force=self.force)
            for entry in self._keep:
                self.recorder.copy(entry)
        elif implied is not None and implied != self.protocol:
            raise UsageError(
                f"{self.path}: this transcript records {self.protocol}, and the app sent a {implied} "
                f"request ({urlsplit(url).path}); record each provider into its own transcript"
            )
        return self.recorder

    def request(self, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        recorder = self._open(url)
        frame = request_frame(method, url, headers, body, self.redactor)
        recorder.outbound(frame, label=f"{frame['method']} {frame['path']}")
        self.exchanges += 1

    def response(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        assert self.recorder is not None
        head = HttpResponse(status=status, headers=self.redactor.headers(headers, direction="response"))
        self.recorder.inbound(head.model_dump(mode="json"), label="http.response")

    def event(self, event: str | None, data: str) -> None:
        assert self.recorder is not None
        frame = sse_frame(event, data)
        self.recorder.inbound(frame, label=event or (_DONE if frame["kind"] == "sse.done" else None))

    def body(self, body: bytes) -> None:
        assert self.recorder is not None
        self.recorder.inbound(body_frame(body), label="http.body")

    def cut(self, error: BaseException) -> None:
        """The network ended the exchange early: record where, and what the client saw."""
        assert self.recorder is not None
        message = self.redactor.text(f"{type(error).__name__}: {error}")
        self.recorder.runtime_exit("error", {"type": "connection_cut", "message": message})

    def close(self) -> Path | None:
        """Write the file (atomically; then scanned for surviving secrets). None if nothing was recorded."""
        if self.recorder is None:
            if not self._keep:
                return None
            # new_episodes with no new request: the kept entries are the file as it was.
            return self.path
        return self.recorder.close()

    def abort(self) -> None:
        if self.recorder is not None:
            self.recorder.abort()


class BodyTap:
    """Watches a response body go by: SSE events are recorded as they complete, a body at its end.

    The transport sees the body as sent on the wire; the recording asks for ``identity`` encoding,
    and a server that compresses anyway (gzip, deflate) is decoded here for the transcript only.
    """

    def __init__(self, recording: HttpRecording, headers: _Headers) -> None:
        self.recording = recording
        self.decoder = SseDecoder() if _is_stream(headers) else None
        encoding = next((v.lower() for k, v in headers.multi_items() if k.lower() == "content-encoding"), "identity")
        self.inflate = zlib.decompressobj(wbits=47) if encoding in ("gzip", "deflate", "x-gzip") else None
        self.body = bytearray()
        self.done = False

    def chunk(self, chunk: bytes) -> None:
        if self.inflate is not None:
            chunk = self.inflate.decompress(chunk)
        if self.decoder is None:
            self.body += chunk
            return
        for event, data in self.decoder.feed(chunk):
            self.recording.event(event, data)

    def end(self) -> None:
        if self.done:
            return
        self.done = True
        if self.decoder is None:
            self.recording.body(bytes(self.body))
            return
        for event, data in self.decoder.close():
            self.recording.event(event, data)

    def fail(self, error: BaseException) -> None:
        if not self.done:
            self.done = True
            # Events completed before the cut were recorded already; a half event was never seen.
            self.recording.cut(error)


class _RecordingStream(httpx2.SyncByteStream, httpx.SyncByteStream):
    def __init__(self, inner: Iterable[bytes], tap: BodyTap, close: Any) -> None:
        self._inner = inner
        self._tap = tap
        self._close = close

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                self._tap.chunk(chunk)
                yield chunk
        except (httpx2.TransportError, httpx.TransportError) as exc:
            self._tap.fail(exc)
            raise
        self._tap.end()

    def close(self) -> None:
        self._close()


class _AsyncRecordingStream(httpx2.AsyncByteStream, httpx.AsyncByteStream):
    def __init__(self, inner: Any, tap: BodyTap, close: Any) -> None:
        self._inner = inner
        self._tap = tap
        self._close = close

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                self._tap.chunk(chunk)
                yield chunk
        except (httpx2.TransportError, httpx.TransportError) as exc:
            self._tap.fail(exc)
            raise
        self._tap.end()

    async def aclose(self) -> None:
        await self._close()


def _lib(request: Any) -> Any:
    return httpx2 if isinstance(request, httpx2.Request) else httpx


class _Recorder:
    """What the sync and async recording transports share: the recording and the real transport."""

    def __init__(
        self,
        path: Path | str | HttpRecording,
        *,
        inner: Any = None,
        protocol: str | None = None,
        redactor: Redactor | None = None,
        force: bool = False,
    ) -> None:
        self.recording = (
            path
            if isinstance(path, HttpRecording)
            else HttpRecording(path, protocol=protocol, redactor=redactor, force=force)
        )
        self._inner = inner
        self.path: Path | None = None

    def finish(self) -> Path | None:
        """Write the transcript now; returns its path (None when no request was made)."""
        if self.path is None:
            self.path = self.recording.close()
        return self.path

    def _start(self, request: Any, body: bytes) -> None:
        # Identity encoding: the transcript is written from the bytes as they pass.
        request.headers["accept-encoding"] = "identity"
        self.recording.request(request.method, str(request.url), request.headers.multi_items(), body)

    def _respond(self, request: Any, response: Any, stream: type[Any], close: Any) -> Any:
        self.recording.response(response.status_code, response.headers.multi_items())
        tap = BodyTap(self.recording, response.headers)
        return _lib(request).Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=stream(response.stream, tap, close),
            extensions=response.extensions,
        )


class RecordingTransport(_Recorder, httpx2.BaseTransport, httpx.BaseTransport):
    """A sync transport that sends for real through ``inner`` and records every exchange.

    >>> transport = RecordingTransport("tests/transcripts/hello.ndjson")  # doctest: +SKIP
    >>> client = anthropic.Anthropic(http_client=httpx2.Client(transport=transport))  # doctest: +SKIP
    >>> ...; transport.close()  # the transcript appears here  # doctest: +SKIP

    ``inner`` defaults to a new ``httpx2.HTTPTransport`` (or ``httpx.HTTPTransport`` for plain
    ``httpx`` clients). The file is written when the transport is closed (clients close their
    transport when they are closed) or on :meth:`finish`.
    """

    def _inner_for(self, request: Any) -> Any:
        if self._inner is None:
            self._inner = _lib(request).HTTPTransport()
        return self._inner

    def handle_request(self, request: Any) -> Any:
        self._start(request, request.read())
        try:
            response = self._inner_for(request).handle_request(request)
        except (httpx2.TransportError, httpx.TransportError) as exc:
            self.recording.cut(exc)
            raise
        return self._respond(request, response, _RecordingStream, response.close)

    def close(self) -> None:
        self.finish()
        if self._inner is not None:
            self._inner.close()


class AsyncRecordingTransport(_Recorder, httpx2.AsyncBaseTransport, httpx.AsyncBaseTransport):
    """The async twin of :class:`RecordingTransport`, for ``AsyncAnthropic`` and ``AsyncOpenAI``."""

    def _inner_for(self, request: Any) -> Any:
        if self._inner is None:
            self._inner = _lib(request).AsyncHTTPTransport()
        return self._inner

    async def handle_async_request(self, request: Any) -> Any:
        self._start(request, await request.aread())
        try:
            response = await self._inner_for(request).handle_async_request(request)
        except (httpx2.TransportError, httpx.TransportError) as exc:
            self.recording.cut(exc)
            raise
        return self._respond(request, response, _AsyncRecordingStream, response.aclose)

    async def aclose(self) -> None:
        self.finish()
        if self._inner is not None:
            await self._inner.aclose()
