"""Record any client that takes a base URL: a loopback proxy in front of the real provider.

``harness record proxy --upstream URL -o OUT`` listens on ``127.0.0.1`` and, for each request a
client sends it,

1. records the request (:func:`~harness.record.http.request_frame`: allowlisted headers, redacted
   query and body) as ``expect_outbound``;
2. forwards it to ``URL`` + the request's path and query, without hop-by-hop headers and
   ``host``, asking for ``accept-encoding: identity``;
3. records the response head, then passes each upstream chunk to the client the moment it
   arrives (one HTTP chunk, flushed), while the same chunks are watched for the transcript:
   server-sent events are recorded as they complete, any other body when it ends;
4. when the upstream connection fails, records a cut (``runtime_exit`` with
   ``{"type": "connection_cut"}``) and closes the client's connection the same way: mid-body
   without the final chunk, or before any response if none had arrived.

The transcript is written by an :class:`~harness.record.http.HttpRecording`, the same recording
half the SDK transports use, so a proxy recording replays through
:class:`~harness.replay.http.ReplayTransport` or ``harness serve`` alike. The file appears
atomically when the proxy is finished (SIGINT/SIGTERM for the command).

One exchange is recorded at a time: a transcript is a sequence of request/response exchanges,
so a second request arriving while a response is still streaming waits for it to end. Paths are
recorded as the client sent them (its view is the one a replay sees); the upstream URL is only
where they are forwarded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx2

from harness.errors import HarnessError, UsageError
from harness.record.http import BodyTap, HttpRecording
from harness.record.redact import Redactor
from harness.replay.server import HOP_BY_HOP_HEADERS, LoopbackHandler, LoopbackServer
from harness.transcript import get_protocol
from harness.transcript.protocols import protocol_from_url

PROG = "harness record proxy"
UPSTREAM_TIMEOUT = httpx2.Timeout(600.0, connect=30.0)
"""As patient as the SDKs' own default (10 minutes): a long generation is not a failure."""

_NOT_FORWARDED = HOP_BY_HOP_HEADERS | {"host", "content-length", "accept-encoding"}


@dataclass(frozen=True)
class ProxyResult:
    """What a finished recording proxy wrote: the file (None when no request came), its contents, and errors."""

    out: Path | None
    protocol: str | None
    exchanges: int
    entries: int
    redactions: int
    errors: tuple[HarnessError, ...] = ()
    """Requests that could not be recorded (answered with status 400, not forwarded)."""


def upstream_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The request headers to forward: no hop-by-hop headers (nor those ``connection`` names), no ``host``.

    ``accept-encoding`` is replaced by ``identity``: the transcript wants the body as text, and a
    provider that compresses anyway is decoded for the transcript only.
    """
    items = list(headers)
    named = {
        token.strip().lower() for name, value in items if name.lower() == "connection" for token in value.split(",")
    }
    kept = [(name, value) for name, value in items if name.lower() not in _NOT_FORWARDED and name.lower() not in named]
    return [*kept, ("accept-encoding", "identity")]


def _check_upstream(upstream: str) -> str:
    split = urlsplit(upstream)
    if split.scheme not in ("http", "https") or not split.netloc or split.query or split.fragment:
        raise UsageError(
            f"--upstream must be an http(s) base URL without query or fragment, such as "
            f"https://api.anthropic.com; found {upstream!r}"
        )
    return upstream.rstrip("/")


class RecordingProxy(LoopbackServer):
    """Forward loopback requests to ``upstream`` and record every exchange to ``out``; see the module docstring.

    >>> with RecordingProxy("https://api.anthropic.com", "tests/transcripts/hello.ndjson") as proxy:  # doctest: +SKIP
    ...     run_my_cli(base_url=proxy.url)   # an OpenAI client takes proxy.url + "/v1"
    >>> result = proxy.finish()  # writes the transcript  # doctest: +SKIP

    ``out`` is refused at once if it exists (unless ``force``), before the port is bound. The
    default redactor is the project's (``[tool.harness.redact]`` of the nearest
    ``pyproject.toml``) with the current directory and the home directory written as
    ``<workspace>`` and ``<home>``. ``client`` replaces the upstream ``httpx2.Client`` (its
    lifetime is then the caller's); ``log`` receives one line per notable event (an upstream
    failure, a request that could not be recorded).
    """

    def __init__(
        self,
        upstream: str,
        out: Path | str,
        *,
        port: int = 0,
        protocol: str | None = None,
        force: bool = False,
        redactor: Redactor | None = None,
        client: httpx2.Client | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.upstream = _check_upstream(upstream)
        self.out = Path(out)
        if self.out.exists() and not force:
            raise UsageError(f"{self.out} already exists; pass --force to overwrite it")
        if protocol is not None:
            info = get_protocol(protocol, where="--protocol")
            if info.transport != "http":
                raise UsageError(
                    f"--protocol {protocol} runs over {info.transport}; record it with `harness record exec`"
                )
        if redactor is None:
            cwd = Path.cwd()
            redactor = Redactor.for_project(cwd, placeholders={"<workspace>": str(cwd), "<home>": str(Path.home())})
        self.recording = HttpRecording(self.out, protocol=protocol, redactor=redactor, force=force)
        self._own_client = client is None
        self.client = client or httpx2.Client(timeout=UPSTREAM_TIMEOUT, follow_redirects=False)
        self._log = log or (lambda message: None)
        self.errors: list[HarnessError] = []
        self._exchange = threading.Lock()
        self._stopping = False
        self.result: ProxyResult | None = None
        try:
            super().__init__(port=port)
        except BaseException:
            if self._own_client:
                self.client.close()
            raise

    def __enter__(self) -> RecordingProxy:
        self.start()
        return self

    # -- one exchange --------------------------------------------------------------------------

    def _handle(self, handler: LoopbackHandler) -> None:
        body = handler.read_body()
        target = handler.target()
        with self._exchange:
            if self._stopping:
                handler.close_connection = True
                message = f"{PROG}: stopping; this request was neither forwarded nor recorded"
                handler.answer_error(503, message, code="harness_proxy_stopping")
                return
            try:
                self._forward(handler, target, body)
            except UsageError as error:
                # Nothing was forwarded (the recording refused the request before it left).
                self.errors.append(error)
                self._log(f"{PROG}: {handler.command} {target}: not recorded: {error}")
                if not handler.response_started:
                    handler.answer_error(400, f"{PROG}: {error}", code="harness_record_error")

    def _forward(self, handler: LoopbackHandler, target: str, body: bytes) -> None:
        client_url, upstream_url = self.url + target, self.upstream + target
        if self.recording.recorder is None and self.recording.protocol is None:
            # The client's path usually names the protocol; a gateway's host may (api.openai.com).
            self.recording.protocol = protocol_from_url(client_url) or protocol_from_url(upstream_url)
        headers = handler.header_items()
        self.recording.request(handler.command, client_url, headers, body)
        request = self.client.build_request(
            handler.command, upstream_url, headers=upstream_headers(headers), content=body
        )
        try:
            response = self.client.send(request, stream=True)
        except httpx2.TransportError as error:
            self.recording.cut(error)
            self._log(f"{PROG}: {handler.command} {target}: no response from upstream ({error}); recorded as a cut")
            handler.cut()
            return
        try:
            self.recording.response(response.status_code, response.headers.multi_items())
            tap = BodyTap(self.recording, response.headers)
            has_body = handler.command != "HEAD" and response.status_code not in (204, 304)
            handler.start_response(response.status_code, response.headers.multi_items(), body=has_body)
            try:
                for chunk in response.iter_raw() if has_body else ():
                    tap.chunk(chunk)
                    handler.write_chunk(chunk)
            except httpx2.TransportError as error:
                tap.fail(error)
                self._log(f"{PROG}: {handler.command} {target}: upstream cut the response ({error}); recorded as a cut")
                handler.cut()
                return
            tap.end()
            if has_body:
                handler.end_response()
        except OSError:
            # The client went away: what it was sent is recorded, the rest of the stream is not read.
            handler.close_connection = True
        finally:
            response.close()

    # -- the end -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop accepting; an exchange in progress is finished and recorded first (idempotent)."""
        if self.closed:
            return
        with self._exchange:
            self._stopping = True
        super().close()
        if self._own_client:
            self.client.close()

    def finish(self) -> ProxyResult:
        """Close, then write the transcript atomically (scanned for secrets); nothing is written if no request came."""
        if self.result is not None:
            return self.result
        self.close()
        recorder = self.recording.recorder
        out = self.recording.close()
        self.result = ProxyResult(
            out=out,
            protocol=self.recording.protocol if recorder is not None else None,
            exchanges=self.recording.exchanges,
            entries=recorder.entries if recorder is not None else 0,
            redactions=self.recording.redactor.total,
            errors=tuple(self.errors),
        )
        return self.result
