"""Read a vcrpy cassette into plain request/response records, validating its shape on the way.

vcrpy's own loader is used first, so cassettes that rely on its YAML tags (``!!python/tuple``,
pickled ``BytesIO`` request bodies) load as vcrpy itself would load them. pydantic-ai writes a
``parsed_body`` key into each request instead of vcrpy's ``body``; vcrpy builds requests with
``Request(**mapping)``, which rejects that key with a ``TypeError``, so such cassettes are read a
second time with a plain safe loader and interpreted here.

A response body is kept as recorded (:class:`CassetteInteraction.recorded_body`) and decoded only
when asked (:attr:`CassetteInteraction.body`), so an interaction the importer leaves out (an image
download, a token request) never has to be text. The recorded forms, each with the JSON path its
errors name:

* ``body: {string: ...}``: vcrpy's layout; text, or bytes (YAML ``!!binary``, base64 in the file)
  that vcrpy writes when the body is not UTF-8, e.g. a compressed body;
* ``body: ...`` holding the text or bytes directly;
* ``parsed_body: ...``: pydantic-ai's layout for a JSON response, the JSON already parsed into
  YAML (its serializer removes ``body``);
* ``content: ...`` with ``status_code`` instead of ``status``: vcrpy 4's httpx layout.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import orjson
import yaml
from vcr import serialize as vcr_serialize  # type: ignore[import-untyped]
from vcr.serializers import jsonserializer, yamlserializer  # type: ignore[import-untyped]

from harness.errors import ImportSourceError
from harness.record.redact import scrub

Headers = tuple[tuple[str, str], ...]

GZIP_MAGIC = b"\x1f\x8b"
"""The first two bytes of gzip data (RFC 1952)."""


@dataclass(frozen=True, slots=True)
class CassetteRequest:
    """The recorded request: method, full URI, headers in recorded order, body as JSON.

    ``note`` says what was assumed about the body (one that is not JSON is kept as a string).
    """

    method: str
    uri: str
    headers: Headers
    body: Any
    note: str | None = None


@dataclass(frozen=True, slots=True)
class JsonBody:
    """A response body recorded already parsed (pydantic-ai's ``parsed_body``)."""

    value: Any


@dataclass(frozen=True, slots=True)
class CassetteInteraction:
    """One ``interactions[index]`` entry: the request and the response status, headers and body.

    ``recorded_body`` is the body as the cassette holds it; ``body_path`` is where (the JSON path
    an error about it names).
    """

    index: int
    request: CassetteRequest
    status: int
    headers: Headers
    recorded_body: str | bytes | JsonBody | None
    body_path: str

    @property
    def body(self) -> str | None:
        """The response body as text: decompressed and UTF-8 decoded, a parsed body as JSON text.

        Raises :class:`~harness.errors.ImportSourceError` naming :attr:`body_path` when the bytes
        use an encoding the importer cannot decode or are not UTF-8 text.
        """
        recorded = self.recorded_body
        if isinstance(recorded, JsonBody):
            return orjson.dumps(recorded.value).decode("utf-8")
        return _response_text(recorded, self.headers, where=self.body_path)


@dataclass(frozen=True, slots=True)
class Cassette:
    """A loaded cassette: its interactions and which loader read them."""

    interactions: tuple[CassetteInteraction, ...]
    loader: str


def load_cassette(text: str, *, name: str, serializer: str = "yaml") -> Cassette:
    """Parse cassette ``text`` (``serializer`` is ``"yaml"`` or ``"json"``); errors name ``name``."""
    vcr_serializer = yamlserializer if serializer == "yaml" else jsonserializer
    try:
        requests, responses = vcr_serialize.deserialize(text, vcr_serializer)[:2]
    except (TypeError, KeyError, AttributeError):
        # pydantic-ai's ``parsed_body`` (or any other shape vcrpy cannot turn into a Request):
        # read the plain mapping and interpret it below, where every field is checked.
        return _load_plain(text, name=name, serializer=serializer)
    except ValueError as exc:  # vcrpy's "older version" / unsupported-tag errors
        raise ImportSourceError(f"{name}: vcrpy cannot load this cassette: {exc}") from None
    except yaml.YAMLError as exc:
        raise ImportSourceError(_yaml_problem(name, exc)) from None
    interactions = []
    for index, (request, response) in enumerate(zip(requests, responses, strict=True)):
        where = f"{name}: interactions[{index}]"
        body, note = _request_body(_vcr_body_bytes(request.body), where=where)
        recorded = CassetteRequest(
            method=_text(request.method, f"{where}.request.method"),
            uri=_text(request.uri, f"{where}.request.uri"),
            headers=tuple((str(k), str(v)) for k, v in request.headers.items()),
            body=body,
            note=note,
        )
        interactions.append(_interaction(index, recorded, response, where=where))
    return Cassette(tuple(interactions), "vcrpy")


def _load_plain(text: str, *, name: str, serializer: str) -> Cassette:
    try:
        data: Any = yaml.safe_load(text) if serializer == "yaml" else json.loads(text)
    except yaml.YAMLError as exc:
        raise ImportSourceError(_yaml_problem(name, exc)) from None
    except json.JSONDecodeError as exc:
        raise ImportSourceError(f"{name}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise ImportSourceError(
            f"{name}: expected a vcrpy cassette (a mapping with an `interactions:` list), found {_describe(data)}"
        )
    interactions = []
    for index, raw in enumerate(data["interactions"]):
        where = f"{name}: interactions[{index}]"
        item = _mapping(raw, where)
        request = _mapping(item.get("request"), f"{where}.request")
        note = None
        if "parsed_body" in request:
            body = _jsonable(request["parsed_body"], f"{where}.request.parsed_body")
        else:
            body, note = _request_body(_plain_body_bytes(request.get("body"), where), where=where)
        recorded = CassetteRequest(
            method=_text(request.get("method"), f"{where}.request.method"),
            uri=_text(request.get("uri"), f"{where}.request.uri"),
            headers=_headers(request.get("headers"), f"{where}.request.headers"),
            body=body,
            note=note,
        )
        interactions.append(_interaction(index, recorded, item.get("response"), where=where))
    return Cassette(tuple(interactions), "yaml.safe_load (pydantic-ai parsed_body)")


def _interaction(index: int, request: CassetteRequest, response: Any, *, where: str) -> CassetteInteraction:
    head = _mapping(response, f"{where}.response")
    recorded: str | bytes | JsonBody | None
    if "status" not in head and "status_code" in head:
        # vcrpy 4's httpx stub wrote `status_code`, `headers` and `content` (the body as text);
        # vcrpy itself still reads that layout.
        code = head.get("status_code")
        code_path = f"{where}.response.status_code"
        body_path = f"{where}.response.content"
        recorded = _recorded(head.get("content"), body_path)
    else:
        status = _mapping(head.get("status"), f"{where}.response.status")
        code = status.get("code")
        code_path = f"{where}.response.status.code"
        recorded, body_path = _recorded_body(head, f"{where}.response")
    if not isinstance(code, int) or isinstance(code, bool):
        raise ImportSourceError(f"{code_path}: expected an integer HTTP status, found {_describe(code)}")
    headers = _headers(head.get("headers"), f"{where}.response.headers")
    return CassetteInteraction(
        index=index, request=request, status=code, headers=headers, recorded_body=recorded, body_path=body_path
    )


def _recorded_body(head: Mapping[str, Any], where: str) -> tuple[str | bytes | JsonBody | None, str]:
    """The response body in whichever documented form it was recorded (see the module docstring)."""
    if "parsed_body" in head:
        if "body" in head:
            raise ImportSourceError(
                f"{where}: expected either `body` or `parsed_body`, found both; "
                "it is not clear which one the response carried"
            )
        path = f"{where}.parsed_body"
        return JsonBody(_jsonable(head["parsed_body"], path)), path
    if "body" not in head:
        raise ImportSourceError(
            f"{where}: expected the response body as `body: {{string: ...}}` (vcrpy) or `parsed_body` "
            "(pydantic-ai), found neither"
        )
    field = head["body"]
    if isinstance(field, Mapping):
        if "string" not in field:
            keys = ", ".join(sorted(str(k) for k in field)) or "nothing"
            raise ImportSourceError(f"{where}.body: expected a `string` key holding the body, found {keys}")
        path = f"{where}.body.string"
        return _recorded(field["string"], path), path
    path = f"{where}.body"
    return _recorded(field, path), path


def _recorded(raw: Any, where: str) -> str | bytes | None:
    if raw is None or isinstance(raw, (str, bytes)):
        return raw
    raise ImportSourceError(f"{where}: expected text or bytes, found {_describe(raw)}")


def _response_text(raw: str | bytes | None, headers: Headers, *, where: str) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    data: bytes = raw
    encoding = next((v.strip().lower() for k, v in headers if k.lower() == "content-encoding"), "")
    # vcrpy's decode_compressed_response=True drops the header when it decodes; a header that is
    # still present with a compressed-looking body means the cassette holds the raw bytes. Some
    # recorders drop the header but keep the bytes, so gzip is also recognised by its magic bytes
    # (0x1f 0x8b can never start UTF-8 text).
    try:
        if encoding in ("gzip", "x-gzip") and data[:2] == GZIP_MAGIC:
            data = gzip.decompress(data)
        elif encoding == "deflate" and data[:1] == b"\x78":
            data = zlib.decompress(data)
        elif encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise ImportSourceError(
                f"{where}: the body is {encoding}-compressed, which the importer cannot decode; "
                "re-record with vcrpy's decode_compressed_response=True"
            )
        elif data[:2] == GZIP_MAGIC:
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise ImportSourceError(f"{where}: the compressed body is corrupt or truncated ({exc})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportSourceError(
            f"{where}: expected UTF-8 text, found a byte that is not UTF-8 at offset {exc.start}"
        ) from None


def _vcr_body_bytes(body: Any) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):  # vcrpy hands file-like request bodies back as BytesIO
        data = body.read()
        return data if isinstance(data, bytes) else str(data).encode("utf-8")
    return b"".join(part if isinstance(part, bytes) else str(part).encode("utf-8") for part in body)


def _plain_body_bytes(body: Any, where: str) -> bytes | None:
    if isinstance(body, Mapping):  # some recorders nest the request body like the response one
        body = body.get("string")
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    raise ImportSourceError(f"{where}.request.body: expected text, found {_describe(body)}")


def _request_body(raw: bytes | None, *, where: str) -> tuple[Any, str | None]:
    """The request body as JSON; a body that is not JSON is kept as a string, with a warning."""
    if raw is None or not raw.strip():
        return None, None
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError:
        text = raw.decode("utf-8", errors="replace")
        return text, f"{where}.request.body is not JSON; kept as a string"


def _headers(raw: Any, where: str) -> Headers:
    """Headers in recorded order; a list of values (vcrpy's layout) keeps its first value."""
    if raw is None:
        return ()
    pairs = []
    for key, value in _mapping(raw, where).items():
        first = value[0] if isinstance(value, list) and value else value
        if first is None or isinstance(first, (list, dict)):
            raise ImportSourceError(f"{where}.{key}: expected a header value, found {_describe(value)}")
        pairs.append((str(key), str(first)))
    return tuple(pairs)


def _jsonable(value: Any, where: str) -> Any:
    """Check a YAML-loaded value is JSON; undo YAML's own conversions of strings and keys."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (datetime, date, time)):
        # The request was JSON, so this was a string that YAML's resolver turned into a date.
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    raise ImportSourceError(f"{where}: expected a JSON value, found {_describe(value)}")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ImportSourceError(f"{where}: expected a mapping, found {_describe(value)}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ImportSourceError(f"{where}: expected a non-empty string, found {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    # Redacted before it is cut, so no cut can leave the start of a key showing.
    text = scrub(repr(value))
    return f"{type(value).__name__} {text[:80]}{'…' if len(text) > 80 else ''}"


def _yaml_problem(name: str, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    line = f":{mark.line + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{name}{line}: not valid YAML: {problem}"
