"""Turn recorded HTTP traffic (cassettes, raw SSE, SSE payload lines) into transcripts.

The source formats, detection rules, produced entries, header allowlists and redaction rules are
described in ``docs/import.md``; this docstring only maps them to code.

* :func:`read_source` reads a file, un-gzipping it when its first bytes say it is gzip.
* :func:`detect_format` picks the source format from the file name and the first line.
* A cassette's interactions that are not calls to its protocol's API are left out and listed
  (:class:`SkippedInteraction`); a bare stream's protocol is read from its events
  (:func:`stream_protocol`) when ``--protocol`` is not given.
* A Claude Code CLI ``stream-json`` capture becomes a runtime transcript plus the scenario that
  replays it (:func:`implied_scenario`), since a bare runtime transcript does not say what the app
  did.
* :func:`convert_text` is the pure core: source text in, header + entries + :class:`Conversion`
  out. :func:`convert_source` reads the files and calls it; :func:`import_source` also writes.
* One :class:`~harness.record.redact.Redactor` per import redacts every frame as it is built,
  with the rules of a live recording; the written file is scanned afterwards
  (:func:`~harness.record.redact.check_written`) and removed if a known shape survived.
* Error messages and warnings quote the source only through
  :func:`~harness.record.redact.scrub`, so they never echo a secret.

Example::

    result = import_source(
        Path("fixtures/corpus/anthropic-sdk/basic_response.sse.txt"),
        Path("my.ndjson"),
        protocol="anthropic.messages",
    )
    assert result.entries == 9
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlsplit

import orjson
import yaml

from harness.errors import ImportSourceError
from harness.files import refuse_existing, write_atomic
from harness.record.cassette import GZIP_MAGIC, Cassette, CassetteInteraction, JsonBody, load_cassette
from harness.record.redact import Redactor, check_written, scrub
from harness.record.sse import parse_sse, split_lines
from harness.transcript import (
    EmitInbound,
    Entry,
    ExpectOutbound,
    HttpBody,
    HttpRequest,
    HttpResponse,
    SseDone,
    SseEvent,
    TranscriptHeader,
    get_protocol,
    write_transcript,
)
from harness.transcript.protocols import PROTOCOLS, protocol_from_url

SourceFormat = Literal["vcr-cassette", "sse", "sse-payload-ndjson", "claude-stream-json"]

IMPORTER = "harness import"

SOURCE_SUFFIXES: tuple[str, ...] = (".sse.txt", ".yaml", ".yml", ".ndjson", ".jsonl", ".sse", ".txt", ".json")
"""File endings :func:`source_stem` removes (longest first, after a ``.gz``) to name a transcript."""

COMPRESSED_SUFFIX = ".gz"

STREAM_JSON_PROTOCOL = "claude-code.stream-json"
"""The agent-runtime protocol a Claude Code CLI ``stream-json`` capture is imported as."""

STREAM_JSON_TYPES = frozenset(
    {"system", "assistant", "user", "result", "stream_event", "control_request", "control_cancel_request"}
)
"""``type`` values of the messages the Claude Code CLI writes on stdout in ``stream-json`` mode."""

ANTHROPIC_STREAM_EVENTS = frozenset(
    {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    }
)
"""Event names only the Anthropic Messages stream uses (``ping`` and ``error`` are shared)."""

PROTOCOL_ENDPOINTS: dict[str, tuple[str, str]] = {
    "anthropic.messages": ("POST", "/v1/messages"),
    "openai.responses": ("POST", "/v1/responses"),
    "openai.chat": ("POST", "/v1/chat/completions"),
}
"""Method and path of the request a ``--request`` body file stands for, per protocol."""

_SSE_FIELDS = ("event:", "data:", "id:", "retry:", ":")
_DONE = "[DONE]"

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _scrubbed_errors(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Re-raise an :class:`ImportSourceError` with every secret in its message redacted.

    Messages that quote the source already scrub what they quote; this also covers the ones
    raised while loading a cassette (which quote header values and request fields).
    """

    @wraps(function)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return function(*args, **kwargs)
        except ImportSourceError as exc:
            message = str(exc)
            clean = scrub(message)
            if clean == message:
                raise
            raise ImportSourceError(clean) from None

    return wrapper


@dataclass(frozen=True, slots=True)
class SkippedInteraction:
    """A cassette interaction left out of the transcript: not a call to the protocol's API.

    ``request`` is ``"<METHOD> <scheme>://<host><path>"`` (no query), redacted.
    """

    index: int
    request: str
    reason: str

    def describe(self, name: str) -> str:
        """One line for the import output: ``c.yaml: interactions[1] GET https://...: reason``."""
        return f"{name}: interactions[{self.index}] {self.request} left out: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        """The header-metadata form: ``{"interaction": 1, "request": ..., "reason": ...}``."""
        return {"interaction": self.index, "request": self.request, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Conversion:
    """What a conversion found besides the entries: format, protocol, counts, warnings and the
    interactions left out."""

    protocol: str
    source_format: SourceFormat
    exchanges: int
    redactions: int
    warnings: tuple[str, ...]
    skipped: tuple[SkippedInteraction, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The outcome of :func:`import_source`: where the transcript (and, for an agent-runtime
    capture, the scenario that replays it) went and what it holds."""

    out: Path
    protocol: str
    source_format: SourceFormat
    exchanges: int
    entries: int
    redactions: int
    warnings: tuple[str, ...]
    skipped: tuple[SkippedInteraction, ...] = ()
    scenario: Path | None = None


def source_stem(path: Path | str) -> str:
    """The file name without its source ending: ``basic_response.sse.txt`` -> ``basic_response``,
    ``chat.yaml.gz`` -> ``chat``."""
    name = Path(path).name
    if name.endswith(COMPRESSED_SUFFIX) and len(name) > len(COMPRESSED_SUFFIX):
        name = name[: -len(COMPRESSED_SUFFIX)]
    for suffix in SOURCE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def import_source(
    source: Path,
    out: Path,
    *,
    protocol: str | None = None,
    request: Path | None = None,
    force: bool = False,
    redactor: Redactor | None = None,
) -> ImportResult:
    """Convert ``source`` to a transcript at ``out``; refuses to overwrite ``out`` unless ``force``.

    ``redactor`` (default: the built-in rules) redacts every frame; the written file is then
    scanned with it and removed if a known secret shape survived.

    An agent-runtime capture (Claude Code CLI ``stream-json``) also gets the scenario that replays
    it, written beside ``out`` as ``<out stem>.yaml`` (:func:`implied_scenario`); the same
    overwrite rule applies to it, and neither file is written when either one is refused.

    Raises :class:`~harness.errors.ImportSourceError` for an unreadable or unrecognised source,
    :class:`~harness.errors.UnknownProtocolError` for an unknown ``protocol``,
    :class:`~harness.errors.UsageError` when ``out`` exists and ``force`` is false, and
    :class:`~harness.record.redact.SecretLeak` when the written file still held a secret shape.
    """
    out = Path(out)
    redactor = redactor or Redactor()
    header, entries, conversion = convert_source(
        Path(source), scenario=out.stem, protocol=protocol, request=request, redactor=redactor
    )
    scenario_path: Path | None = None
    if conversion.source_format == "claude-stream-json":
        scenario_path = out.with_suffix(".yaml")
        if scenario_path == out:
            raise ImportSourceError(
                f"{out}: the scenario that replays this capture is written beside the transcript as "
                f"<name>.yaml; name the transcript <name>.ndjson"
            )
        refuse_existing(scenario_path, force=force)
    write_transcript(out, header, entries, force=force)
    check_written(out, redactor)
    if scenario_path is not None:
        document = implied_scenario(header, transcript=out.name)
        write_atomic(scenario_path, yaml.safe_dump(document, sort_keys=False).encode("utf-8"), force=force)
    return ImportResult(
        out=out,
        protocol=conversion.protocol,
        source_format=conversion.source_format,
        exchanges=conversion.exchanges,
        entries=len(entries),
        redactions=conversion.redactions,
        warnings=conversion.warnings,
        skipped=conversion.skipped,
        scenario=scenario_path,
    )


def implied_scenario(header: TranscriptHeader, *, transcript: str) -> dict[str, Any]:
    """The scenario that replays an imported stdout capture: one thread, one message.

    A capture of the runtime's output holds no frame the app sent, so it replays stream-only: the
    first step that reads takes the whole recording and nothing the app sends is checked (see
    "Agent-runtime scenarios" in ``docs/scenarios.md``). The prompt is not part of the capture, so
    the message text is empty. ``transcript`` is the transcript's file name, relative to the
    scenario, which is written beside it.
    """
    return {
        "name": header.scenario,
        "description": (
            f"Imported by {IMPORTER} from {header.metadata.get('source')}, a Claude Code CLI stream-json "
            "stdout capture: it replays stream-only (no app frame was recorded) and the prompt is not "
            "part of it."
        ),
        "transcript": transcript,
        "commands": [
            {"type": "thread.create", "thread_id": "main"},
            {"type": "message.dispatch", "thread_id": "main", "text": ""},
        ],
    }


@_scrubbed_errors
def convert_source(
    source: Path,
    *,
    scenario: str | None = None,
    protocol: str | None = None,
    request: Path | None = None,
    redactor: Redactor | None = None,
) -> tuple[TranscriptHeader, list[Entry], Conversion]:
    """Read ``source`` (and the ``request`` body file) and convert it; writes nothing.

    ``scenario`` defaults to :func:`source_stem` of the source.
    """
    source = Path(source)
    text, compression = read_source(source)
    request_body: Any = None
    if request is not None:
        request_path = Path(request)
        request_body = _parse_json_document(_read_text(request_path, what="request body file"), name=request_path.name)
    return convert_text(
        text,
        name=source.name,
        scenario=scenario if scenario is not None else source_stem(source),
        protocol=protocol,
        request_body=request_body,
        has_request=request is not None,
        redactor=redactor,
        compression=compression,
    )


def read_source(path: Path) -> tuple[str, str | None]:
    """The text of an import source and its compression (``"gzip"`` or None).

    gzip is recognised by its magic bytes, whatever the file is called; a ``.gz`` name alone does
    not make a file gzip.
    """
    raw = _read_bytes(path, what="import source")
    compression = None
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ImportSourceError(f"{path.name}: expected gzip data, found it corrupt or truncated ({exc})") from None
        compression = "gzip"
    return _decode_utf8(raw, name=path.name, compression=compression), compression


@_scrubbed_errors
def convert_text(
    text: str,
    *,
    name: str,
    scenario: str,
    protocol: str | None = None,
    request_body: Any = None,
    has_request: bool = False,
    redactor: Redactor | None = None,
    compression: str | None = None,
) -> tuple[TranscriptHeader, list[Entry], Conversion]:
    """Convert source ``text`` named ``name`` (a file name, used in messages and metadata).

    ``request_body`` is the parsed ``--request`` JSON; ``has_request`` says whether one was given
    (a JSON ``null`` body is still a request). ``redactor`` (default: the built-in rules) redacts
    every frame; its counts say what it replaced. ``compression`` names how the file was
    compressed (recorded in the header).
    """
    redactor = redactor or Redactor()
    if protocol is not None:
        get_protocol(protocol, where="--protocol")
    source_format = detect_format(name, text)
    skipped: tuple[SkippedInteraction, ...] = ()
    builder = _Builder(name, redactor)
    if source_format == "vcr-cassette":
        if has_request:
            raise ImportSourceError(
                f"{name}: --request only applies to bare SSE sources; a cassette records its own requests"
            )
        serializer = "json" if text.lstrip().startswith("{") else "yaml"
        cassette = load_cassette(text, name=name, serializer=serializer)
        protocol = _cassette_protocol(cassette, name=name, given=protocol)
        _require_http(protocol, name)
        calls, skipped = _model_calls(cassette, protocol, name=name, redactor=redactor)
        for interaction in calls:
            builder.add_interaction(interaction)
        exchanges = len(calls)
    elif source_format == "claude-stream-json":
        if protocol is not None and protocol != STREAM_JSON_PROTOCOL:
            raise ImportSourceError(
                f"{name}: --protocol {protocol} contradicts the source, which is a Claude Code CLI "
                f"stream-json capture ({STREAM_JSON_PROTOCOL})"
            )
        if has_request:
            raise ImportSourceError(
                f"{name}: --request only applies to bare SSE sources; a stream-json capture is not one"
            )
        protocol = STREAM_JSON_PROTOCOL
        exchanges = builder.add_stream_json(text)
    else:
        if protocol is not None:
            _require_http(protocol, name)
        if source_format == "sse":
            builder.add_sse(text)
        else:
            builder.add_payload_lines(text)
        protocol = _stream_protocol_of(builder, name=name, given=protocol)
        if has_request:
            builder.add_bare_request(protocol, request_body)
        exchanges = 1
    metadata: dict[str, Any] = {
        "source": builder.redactor.text(name),
        "format": source_format,
        "importer": IMPORTER,
        "exchanges": exchanges,
    }
    if compression is not None:
        metadata["compression"] = compression
    if source_format == "sse-payload-ndjson":
        metadata["event_names"] = "inferred from data.type"
    if skipped:
        metadata["skipped_interactions"] = [item.to_json() for item in skipped]
    if builder.redactions:
        metadata["redactions"] = builder.redactions
    info = get_protocol(protocol)
    header = TranscriptHeader(
        provider=info.provider,
        protocol=protocol,
        version=builder.version or "unknown",
        scenario=scenario,
        metadata=metadata,
    )
    conversion = Conversion(
        protocol=protocol,
        source_format=source_format,
        exchanges=exchanges,
        redactions=builder.redactions,
        warnings=tuple(scrub(warning) for warning in builder.warnings),
        skipped=skipped,
    )
    return header, builder.entries, conversion


def detect_format(name: str, text: str) -> SourceFormat:
    """Classify a source by its file name and first non-blank line; raise when it fits no format.

    ``.yaml``/``.yml`` files (also with ``.gz``) and JSON documents with an ``interactions`` list
    are cassettes; text whose first line is an SSE field (``event:``, ``data:``, ``id:``,
    ``retry:``, ``:``) is SSE; JSON whose first message has a Claude Code CLI ``type`` (``system``,
    ``assistant``, ``user``, ``result``, ...) is a ``stream-json`` capture; other text whose first
    line is a JSON value or ``[DONE]`` is one data payload per line.
    """
    lowered = name.lower().removesuffix(COMPRESSED_SUFFIX)
    if lowered.endswith((".yaml", ".yml")):
        return "vcr-cassette"
    lines = [line for line in split_lines(text.removeprefix("\ufeff")) if line.strip()]
    if not lines:
        raise ImportSourceError(f"{name}: the source is empty; expected a cassette or an SSE stream")
    first = lines[0].strip()
    if first.startswith("interactions:"):
        return "vcr-cassette"
    if lines[0].startswith(_SSE_FIELDS):
        return "sse"
    if first.startswith("{") and _is_json_cassette(text):
        return "vcr-cassette"
    if first.startswith("{") and _is_stream_json(first, text):
        return "claude-stream-json"
    if first.startswith(("{", "[")) or first == _DONE:
        return "sse-payload-ndjson"
    raise ImportSourceError(
        f"{name}: unrecognised import source: expected a vcrpy cassette (.yaml with `interactions:`), "
        "raw SSE (`event:`/`data:` lines), one SSE data payload per line (JSON) or a Claude Code CLI "
        "stream-json capture (one message per line), "
        f"found first line {_clip(lines[0])}"
    )


# --- building entries -------------------------------------------------------------------------


class _Builder:
    """Accumulates entries, redaction counts, warnings and the recorded API version."""

    def __init__(self, name: str, redactor: Redactor) -> None:
        self.name = name
        self.entries: list[Entry] = []
        self.redactor = redactor
        self.warnings: list[str] = []
        self.version: str | None = None
        self._start = redactor.total
        # protocol -> where a stream event first named it (for detection and its errors)
        self.evidence: dict[str, str] = {}

    @property
    def redactions(self) -> int:
        return self.redactor.total - self._start

    def _scrub(self, value: Any) -> Any:
        return self.redactor.json(value)

    def add_bare_request(self, protocol: str, body: Any) -> None:
        endpoint = PROTOCOL_ENDPOINTS.get(protocol)
        if endpoint is None:
            known = ", ".join(sorted(PROTOCOL_ENDPOINTS))
            raise ImportSourceError(
                f"{self.name}: --request is not supported for protocol {protocol!r} "
                f"(the endpoint is unknown); supported: {known}"
            )
        method, path = endpoint
        frame = HttpRequest(method=method, path=path, body=self._scrub(body))
        # The request comes first, whatever order the source was read in.
        self.entries.insert(0, ExpectOutbound(label=f"{method} {path}", frame=frame.model_dump(mode="json")))

    def add_interaction(self, interaction: CassetteInteraction) -> None:
        where = f"{self.name}: interactions[{interaction.index}]"
        request = interaction.request
        if request.note:
            self.warnings.append(request.note)
        url = urlsplit(request.uri)
        query = self.redactor.query(dict(parse_qsl(url.query, keep_blank_values=True)).items())
        headers = self.redactor.headers(request.headers, direction="request")
        version = headers.get("anthropic-version")
        if version is not None:
            if self.version is None:
                self.version = version
            elif version != self.version:
                self.warnings.append(
                    f"{where}: anthropic-version {version!r} differs from the first one "
                    f"({self.version!r}); the header keeps the first"
                )
        method = request.method.upper()
        # A key can sit in a path segment too (`/v1/keys/AIza...`); a recorded frame is redacted
        # whole, so the path is as well.
        path = self.redactor.text(url.path or "/")
        frame = HttpRequest(method=method, path=path, query=query, headers=headers, body=self._scrub(request.body))
        self.entries.append(ExpectOutbound(label=f"{method} {path}", frame=frame.model_dump(mode="json")))
        response_headers = self.redactor.headers(interaction.headers, direction="response")
        head = HttpResponse(status=interaction.status, headers=response_headers)
        self.entries.append(EmitInbound(label="http.response", frame=head.model_dump(mode="json")))
        if isinstance(interaction.recorded_body, JsonBody):
            # Recorded already parsed (pydantic-ai's parsed_body): the JSON as it was.
            parsed_body = HttpBody(body=self._scrub(interaction.recorded_body.value))
            self.entries.append(EmitInbound(label="http.body", frame=parsed_body.model_dump(mode="json")))
            return
        body = interaction.body
        if body is None or not body.strip():
            return
        content_type = next((v for k, v in interaction.headers if k.lower() == "content-type"), "")
        # Sniff before trusting content-type: an error can come back as a JSON body even on a
        # request that asked for a stream, and a stream is recognisable by its first field.
        if body.lstrip().startswith(_SSE_FIELDS):
            self.add_sse(body, interaction=interaction.index)
            return
        try:
            parsed: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            if "text/event-stream" in content_type.lower():
                self.add_sse(body, interaction=interaction.index)
                return
            parsed = body
            self.warnings.append(
                f"{where}: the response body ({content_type or 'no content-type'}) is neither SSE "
                "nor JSON; kept as a string"
            )
        self.entries.append(
            EmitInbound(label="http.body", frame=HttpBody(body=self._scrub(parsed)).model_dump(mode="json"))
        )

    def add_sse(self, text: str, *, interaction: int | None = None) -> None:
        """One entry per event; ``interaction`` is the cassette index when ``text`` is a body."""
        where = self.name if interaction is None else f"{self.name}: interactions[{interaction}] response body"
        parsed = parse_sse(text)
        for event in parsed.events:
            name = self.redactor.text(event.event) if event.event else None
            if event.data.strip() == _DONE:
                self.entries.append(EmitInbound(label=name or _DONE, frame=SseDone().model_dump(mode="json")))
                continue
            try:
                data = orjson.loads(event.data)
            except orjson.JSONDecodeError as exc:
                raise ImportSourceError(
                    f"{_line_ref(self.name, interaction, event.first_line, event.last_line)}: expected "
                    f"JSON or [DONE] in the data of SSE event {name or '(unnamed)'!r}, "
                    f"found {_clip(event.data)} ({exc})"
                ) from None
            self._note_protocol(event.event, data, _line_ref(self.name, interaction, event.first_line, event.last_line))
            frame = SseEvent(event=name, data=self._scrub(data))
            self.entries.append(EmitInbound(label=name, frame=frame.model_dump(mode="json")))
        if parsed.comments:
            self.warnings.append(f"{where}: skipped {parsed.comments} SSE comment line(s)")
        for field, count in parsed.ignored_fields:
            self.warnings.append(f"{where}: ignored {count} SSE `{field}:` line(s)")
        if parsed.dropped_without_data:
            self.warnings.append(f"{where}: dropped {parsed.dropped_without_data} SSE event(s) that had no data line")
        if parsed.unterminated:
            self.warnings.append(
                f"{where}: the stream ends without a blank line after its last event; that event was kept"
            )

    def add_payload_lines(self, text: str) -> None:
        for number, line in enumerate(split_lines(text.removeprefix("\ufeff")), start=1):
            payload = line.strip()
            if not payload:
                continue
            if payload == _DONE:
                self.entries.append(EmitInbound(label=_DONE, frame=SseDone().model_dump(mode="json")))
                continue
            try:
                data = orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                raise ImportSourceError(
                    f"{self.name}:{number}: expected one JSON data payload or [DONE] per line, "
                    f"found {_clip(line)} ({exc})"
                ) from None
            self._note_protocol(None, data, f"{self.name}:{number}")
            data = self._scrub(data)
            event = data["type"] if isinstance(data, dict) and isinstance(data.get("type"), str) else None
            frame = SseEvent(event=event, data=data)
            self.entries.append(EmitInbound(label=event, frame=frame.model_dump(mode="json")))

    def _note_protocol(self, event: str | None, data: Any, where: str) -> None:
        protocol = stream_protocol(event, data)
        if protocol is not None:
            self.evidence.setdefault(protocol, where)

    def add_stream_json(self, text: str) -> int:
        """One ``emit_inbound`` per CLI message, labelled with its ``type``; returns the number of
        ``result`` messages (answered prompts)."""
        results = 0
        for number, message in _stream_json_messages(text, self.name):
            kind = message["type"]
            if kind == "system" and message.get("subtype") == "init" and self.version is None:
                version = message.get("claude_code_version")
                self.version = version if isinstance(version, str) and version else None
            elif kind == "result":
                results += 1
            elif kind == "control_request":
                request = message.get("request")
                subtype = request.get("subtype") if isinstance(request, dict) else None
                self.warnings.append(
                    f"{self.name}:{number}: control_request {subtype or '(no subtype)'!s}: the app's answer "
                    "went to stdin, which a stdout capture does not hold; the implied scenario does not answer it"
                )
            self.entries.append(EmitInbound(label=kind, frame=self._scrub(message)))
        if not self.entries:
            raise ImportSourceError(f"{self.name}: the capture holds no message")
        if results > 1:
            self.warnings.append(
                f"{self.name}: the capture answers {results} prompts; a stdout capture replays stream-only, "
                "so its first message takes the whole recording (record with `harness record exec` to "
                "replay turn by turn)"
            )
        return results


# --- helpers ----------------------------------------------------------------------------------


def stream_protocol(event: str | None, data: Any) -> str | None:
    """The protocol one stream event names, else None.

    Anthropic's event names (``message_start``, ``content_block_delta``, ...) are its own; every
    Responses event is ``response.<...>``; a Chat Completions chunk says
    ``"object": "chat.completion.chunk"`` (its SSE events have no name). The name is read from
    ``event:`` and from the data's ``type``.
    """
    names = [event]
    if isinstance(data, dict):
        kind = data.get("type")
        names.append(kind if isinstance(kind, str) else None)
    for candidate in names:
        if candidate in ANTHROPIC_STREAM_EVENTS:
            return "anthropic.messages"
        if candidate is not None and candidate.startswith("response."):
            return "openai.responses"
    if isinstance(data, dict) and data.get("object") == "chat.completion.chunk":
        return "openai.chat"
    return None


def _stream_protocol_of(builder: _Builder, *, name: str, given: str | None) -> str:
    """The protocol a bare stream's events name; ``given`` (``--protocol``) must agree with them."""
    found = builder.evidence
    if len(found) > 1:
        named = ", ".join(f"{protocol} ({where})" for protocol, where in sorted(found.items()))
        raise ImportSourceError(
            f"{name}: the events name several protocols: {named}; split the stream so each transcript holds one"
        )
    detected = next(iter(found), None)
    if given is not None:
        if detected is not None and detected != given:
            raise ImportSourceError(
                f"{name}: --protocol {given} contradicts the events, which are {detected} ({found[detected]})"
            )
        return given
    if detected is None:
        raise ImportSourceError(
            f"{name}: cannot tell the protocol of a bare SSE stream: no event is one only a known protocol "
            f"sends; pass --protocol (importable from SSE: {', '.join(_http_protocols())})"
        )
    return detected


def _model_calls(
    cassette: Cassette, protocol: str, *, name: str, redactor: Redactor
) -> tuple[list[CassetteInteraction], tuple[SkippedInteraction, ...]]:
    """Split the interactions into calls to ``protocol``'s API and the rest (image downloads,
    token requests, model listings, ...), which are left out of the transcript.

    When some URL names the protocol, an interaction whose URL names none is not a call to it.
    When none does (``--protocol`` said it), a call is a ``POST`` whose body is a JSON object.
    """
    urls = {i.index: protocol_from_url(i.request.uri) for i in cassette.interactions}
    by_url = any(detected is not None for detected in urls.values())
    calls: list[CassetteInteraction] = []
    skipped: list[SkippedInteraction] = []
    for interaction in cassette.interactions:
        request = interaction.request
        if urls[interaction.index] == protocol:
            calls.append(interaction)
            continue
        if by_url:
            reason = f"its URL is not an endpoint of {protocol}"
        elif request.method.upper() == "POST" and isinstance(request.body, dict):
            calls.append(interaction)
            continue
        else:
            reason = f"a {request.method.upper()} without a JSON object body is not a {protocol} call"
        url = urlsplit(request.uri)
        shown = redactor.text(f"{request.method.upper()} {url.scheme}://{url.hostname or ''}{url.path or '/'}")
        skipped.append(SkippedInteraction(interaction.index, shown, reason))
    if not calls:
        raise ImportSourceError(
            f"{name}: none of the {len(cassette.interactions)} interaction(s) is a call to the {protocol} API "
            f"({'; '.join(f'{s.request}: {s.reason}' for s in skipped[:3])})"
        )
    return calls, tuple(skipped)


def _http_protocols() -> list[str]:
    return sorted(p for p, info in PROTOCOLS.items() if info.transport == "http")


def _stream_json_messages(text: str, name: str) -> list[tuple[int, dict[str, Any]]]:
    """The CLI messages of a capture with their 1-based line numbers: one per line, or one
    pretty-printed JSON message filling the file."""
    text = text.removeprefix("\ufeff")
    lines = split_lines(text)
    try:
        whole = orjson.loads(text)
    except orjson.JSONDecodeError:
        whole = None
    if isinstance(whole, dict) and sum(1 for line in lines if line.strip()) > 1:
        found = [(1, whole)]
    else:
        found = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                found.append((number, orjson.loads(line)))
            except orjson.JSONDecodeError as exc:
                raise ImportSourceError(
                    f"{name}:{number}: expected one Claude Code stream-json message (a JSON object) per line, "
                    f"found {_clip(line)} ({exc})"
                ) from None
    messages = []
    for number, message in found:
        if not isinstance(message, dict):
            raise ImportSourceError(
                f"{name}:{number}: expected a stream-json message (a JSON object), "
                f"found {_clip(orjson.dumps(message).decode())}"
            )
        kind = message.get("type")
        if not isinstance(kind, str) or not kind:
            raise ImportSourceError(
                f"{name}:{number}: $.type: expected the message type as a string, found {_clip(repr(kind))}"
            )
        messages.append((number, message))
    return messages


def _is_stream_json(first: str, text: str) -> bool:
    """Whether the first message (the first line, or the whole text when it is one JSON object)
    is a Claude Code CLI message."""
    for candidate in (first, text):
        try:
            data = orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
        return isinstance(data, dict) and data.get("type") in STREAM_JSON_TYPES
    return False


def _cassette_protocol(cassette: Cassette, *, name: str, given: str | None) -> str:
    """The protocol every interaction's URL implies; ``given`` wins when the URLs say nothing."""
    found: set[str] = set()
    for interaction in cassette.interactions:
        detected = protocol_from_url(interaction.request.uri)
        if detected is not None:
            found.add(detected)
    if len(found) > 1:
        raise ImportSourceError(
            f"{name}: the interactions use several protocols ({', '.join(sorted(found))}); "
            "split the cassette so each transcript holds one"
        )
    detected = next(iter(found), None)
    if given is not None:
        if detected is not None and detected != given:
            raise ImportSourceError(f"{name}: --protocol {given} contradicts the recorded URLs, which are {detected}")
        return given
    if detected is None:
        urls = sorted({scrub(i.request.uri) for i in cassette.interactions})
        shown = ", ".join(urls[:3]) if urls else "no interactions"
        raise ImportSourceError(
            f"{name}: cannot tell the protocol from the recorded URLs ({shown}); pass --protocol "
            f"(importable from a cassette: {', '.join(_http_protocols())})"
        )
    return detected


def _require_http(protocol: str, name: str) -> None:
    info = get_protocol(protocol, where="--protocol")
    if info.transport != "http":
        raise ImportSourceError(
            f"{name}: protocol {protocol!r} runs over {info.transport}, and only HTTP protocols can "
            f"be imported from a cassette or an SSE stream (importable: {', '.join(_http_protocols())}; "
            f"{STREAM_JSON_PROTOCOL} from a Claude Code CLI stream-json capture)"
        )


def _is_json_cassette(text: str) -> bool:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return isinstance(data, dict) and isinstance(data.get("interactions"), list)


def _read_bytes(path: Path, *, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImportSourceError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise ImportSourceError(f"{path}: expected a file as the {what}, found a directory") from None


def _read_text(path: Path, *, what: str) -> str:
    return _decode_utf8(_read_bytes(path, what=what), name=path.name)


def _decode_utf8(raw: bytes, *, name: str, compression: str | None = None) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        after = f" (line {line} of the {compression}-decompressed text)" if compression else ""
        where = name if compression else f"{name}:{line}"
        raise ImportSourceError(f"{where}: expected UTF-8 text{after}, found byte {raw[exc.start]:#04x}") from None


def _parse_json_document(text: str, *, name: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ImportSourceError(
            f"{name}:{exc.lineno}: expected the request body as one JSON document: {exc.msg}"
        ) from None


def _line_ref(name: str, interaction: int | None, first: int, last: int) -> str:
    """``file:line`` for a plain SSE file; the interaction and body line(s) for a cassette."""
    if interaction is None:
        return f"{name}:{first}" + (f" (data lines {first}-{last})" if last != first else "")
    lines = f"line {first}" if last == first else f"lines {first}-{last}"
    return f"{name}: interactions[{interaction}] response body {lines}"


def _clip(text: str, limit: int = 120) -> str:
    """``text`` for an error message: secrets redacted first (a cut secret would not be found),
    then cut to ``limit`` characters."""
    shown = scrub(text)
    shown = shown if len(shown) <= limit else shown[: limit - 1] + "…"
    return repr(shown)
