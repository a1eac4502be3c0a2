"""Turn recorded HTTP traffic (cassettes, raw SSE, SSE payload lines) into transcripts.

The source formats, detection rules, produced entries, header allowlists and redaction rules are
described in ``docs/import.md``; this docstring only maps them to code.

* :func:`detect_format` picks the source format from the file name and the first line.
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

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlsplit

import orjson

from harness.errors import ImportSourceError
from harness.record.cassette import Cassette, CassetteInteraction, load_cassette
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
    known_protocols,
    write_transcript,
)
from harness.transcript.protocols import PROTOCOLS, protocol_from_url

SourceFormat = Literal["vcr-cassette", "sse", "sse-payload-ndjson"]

IMPORTER = "harness import"

SOURCE_SUFFIXES: tuple[str, ...] = (".sse.txt", ".yaml", ".yml", ".ndjson", ".jsonl", ".sse", ".txt", ".json")
"""File endings :func:`source_stem` removes (longest first) to name an imported transcript."""

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
class Conversion:
    """What a conversion found besides the entries: format, protocol, counts and warnings."""

    protocol: str
    source_format: SourceFormat
    exchanges: int
    redactions: int
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The outcome of :func:`import_source`: where the transcript went and what it holds."""

    out: Path
    protocol: str
    source_format: SourceFormat
    exchanges: int
    entries: int
    redactions: int
    warnings: tuple[str, ...]


def source_stem(path: Path | str) -> str:
    """The file name without its source ending: ``basic_response.sse.txt`` -> ``basic_response``."""
    name = Path(path).name
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
    write_transcript(out, header, entries, force=force)
    check_written(out, redactor)
    return ImportResult(
        out=out,
        protocol=conversion.protocol,
        source_format=conversion.source_format,
        exchanges=conversion.exchanges,
        entries=len(entries),
        redactions=conversion.redactions,
        warnings=conversion.warnings,
    )


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
    text = _read_text(source, what="import source")
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
    )


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
) -> tuple[TranscriptHeader, list[Entry], Conversion]:
    """Convert source ``text`` named ``name`` (a file name, used in messages and metadata).

    ``request_body`` is the parsed ``--request`` JSON; ``has_request`` says whether one was given
    (a JSON ``null`` body is still a request). ``redactor`` (default: the built-in rules) redacts
    every frame; its counts say what it replaced.
    """
    redactor = redactor or Redactor()
    if protocol is not None:
        get_protocol(protocol, where="--protocol")
    source_format = detect_format(name, text)
    if source_format == "vcr-cassette":
        if has_request:
            raise ImportSourceError(
                f"{name}: --request only applies to bare SSE sources; a cassette records its own requests"
            )
        serializer = "json" if text.lstrip().startswith("{") else "yaml"
        cassette = load_cassette(text, name=name, serializer=serializer)
        protocol = _cassette_protocol(cassette, name=name, given=protocol)
        _require_http(protocol, name)
        builder = _Builder(name, redactor)
        for interaction in cassette.interactions:
            builder.add_interaction(interaction)
        builder.warnings[:0] = cassette.warnings
        exchanges = len(cassette.interactions)
    else:
        if protocol is None:
            raise ImportSourceError(
                f"{name}: cannot tell the protocol of a bare SSE stream; pass --protocol "
                f"(known: {', '.join(known_protocols())})"
            )
        _require_http(protocol, name)
        builder = _Builder(name, redactor)
        if has_request:
            builder.add_bare_request(protocol, request_body)
        if source_format == "sse":
            builder.add_sse(text)
        else:
            builder.add_payload_lines(text)
        exchanges = 1
    metadata: dict[str, Any] = {
        "source": builder.redactor.text(name),
        "format": source_format,
        "importer": IMPORTER,
        "exchanges": exchanges,
    }
    if source_format == "sse-payload-ndjson":
        metadata["event_names"] = "inferred from data.type"
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
    )
    return header, builder.entries, conversion


def detect_format(name: str, text: str) -> SourceFormat:
    """Classify a source by its file name and first non-blank line; raise when it fits no format.

    ``.yaml``/``.yml`` files and JSON documents with an ``interactions`` list are cassettes; text
    whose first line is an SSE field (``event:``, ``data:``, ``id:``, ``retry:``, ``:``) is SSE;
    text whose first line is a JSON value or ``[DONE]`` is one data payload per line.
    """
    lowered = name.lower()
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
    if first.startswith(("{", "[")) or first == _DONE:
        return "sse-payload-ndjson"
    raise ImportSourceError(
        f"{name}: unrecognised import source: expected a vcrpy cassette (.yaml with `interactions:`), "
        "raw SSE (`event:`/`data:` lines) or one SSE data payload per line (JSON), "
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
        self.entries.append(ExpectOutbound(label=f"{method} {path}", frame=frame.model_dump(mode="json")))

    def add_interaction(self, interaction: CassetteInteraction) -> None:
        where = f"{self.name}: interactions[{interaction.index}]"
        request = interaction.request
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
            data = self._scrub(data)
            event = data["type"] if isinstance(data, dict) and isinstance(data.get("type"), str) else None
            frame = SseEvent(event=event, data=data)
            self.entries.append(EmitInbound(label=event, frame=frame.model_dump(mode="json")))


# --- helpers ----------------------------------------------------------------------------------


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
            f"(known: {', '.join(known_protocols())})"
        )
    return detected


def _require_http(protocol: str, name: str) -> None:
    info = get_protocol(protocol, where="--protocol")
    if info.transport != "http":
        importable = ", ".join(sorted(p for p, i in PROTOCOLS.items() if i.transport == "http"))
        raise ImportSourceError(
            f"{name}: protocol {protocol!r} runs over {info.transport}, and only HTTP protocols can "
            f"be imported (importable: {importable})"
        )


def _is_json_cassette(text: str) -> bool:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return isinstance(data, dict) and isinstance(data.get("interactions"), list)


def _read_text(path: Path, *, what: str) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ImportSourceError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise ImportSourceError(f"{path}: expected a file as the {what}, found a directory") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportSourceError(f"{path.name}:{line}: expected UTF-8 text, found byte {raw[exc.start]:#04x}") from None


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
