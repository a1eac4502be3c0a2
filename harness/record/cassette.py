"""Read a vcrpy cassette into plain request/response records, validating its shape on the way.

vcrpy's own loader is used first, so cassettes that rely on its YAML tags (``!!python/tuple``,
pickled ``BytesIO`` request bodies) load as vcrpy itself would load them. pydantic-ai writes a
``parsed_body`` key into each request instead of vcrpy's ``body``; vcrpy builds requests with
``Request(**mapping)``, which rejects that key with a ``TypeError``, so such cassettes are read a
second time with a plain safe loader and interpreted here.
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


@dataclass(frozen=True, slots=True)
class CassetteRequest:
    """The recorded request: method, full URI, headers in recorded order, body as JSON."""

    method: str
    uri: str
    headers: Headers
    body: Any


@dataclass(frozen=True, slots=True)
class CassetteInteraction:
    """One ``interactions[index]`` entry: the request and the response status, headers and body."""

    index: int
    request: CassetteRequest
    status: int
    headers: Headers
    body: str | None


@dataclass(frozen=True, slots=True)
class Cassette:
    """A loaded cassette: its interactions, which loader read it, and anything worth a warning."""

    interactions: tuple[CassetteInteraction, ...]
    loader: str
    warnings: tuple[str, ...]


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
    warnings: list[str] = []
    interactions = []
    for index, (request, response) in enumerate(zip(requests, responses, strict=True)):
        where = f"{name}: interactions[{index}]"
        body, note = _request_body(_vcr_body_bytes(request.body), where=where)
        if note:
            warnings.append(note)
        recorded = CassetteRequest(
            method=_text(request.method, f"{where}.request.method"),
            uri=_text(request.uri, f"{where}.request.uri"),
            headers=tuple((str(k), str(v)) for k, v in request.headers.items()),
            body=body,
        )
        interactions.append(_interaction(index, recorded, response, where=where))
    return Cassette(tuple(interactions), "vcrpy", tuple(warnings))


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
    warnings: list[str] = []
    interactions = []
    for index, raw in enumerate(data["interactions"]):
        where = f"{name}: interactions[{index}]"
        item = _mapping(raw, where)
        request = _mapping(item.get("request"), f"{where}.request")
        if "parsed_body" in request:
            body = _jsonable(request["parsed_body"], f"{where}.request.parsed_body")
        else:
            body, note = _request_body(_plain_body_bytes(request.get("body"), where), where=where)
            if note:
                warnings.append(note)
        recorded = CassetteRequest(
            method=_text(request.get("method"), f"{where}.request.method"),
            uri=_text(request.get("uri"), f"{where}.request.uri"),
            headers=_headers(request.get("headers"), f"{where}.request.headers"),
            body=body,
        )
        interactions.append(_interaction(index, recorded, item.get("response"), where=where))
    return Cassette(tuple(interactions), "yaml.safe_load (pydantic-ai parsed_body)", tuple(warnings))


def _interaction(index: int, request: CassetteRequest, response: Any, *, where: str) -> CassetteInteraction:
    head = _mapping(response, f"{where}.response")
    status = _mapping(head.get("status"), f"{where}.response.status")
    code = status.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        raise ImportSourceError(
            f"{where}.response.status.code: expected an integer HTTP status, found {_describe(code)}"
        )
    headers = _headers(head.get("headers"), f"{where}.response.headers")
    body_field = head.get("body")
    raw: Any = body_field.get("string") if isinstance(body_field, Mapping) else body_field
    body = _response_text(raw, headers, where=f"{where}.response.body.string")
    return CassetteInteraction(index=index, request=request, status=code, headers=headers, body=body)


def _response_text(raw: Any, headers: Headers, *, where: str) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, bytes):
        raise ImportSourceError(f"{where}: expected text or bytes, found {_describe(raw)}")
    data: bytes = raw
    encoding = next((v.strip().lower() for k, v in headers if k.lower() == "content-encoding"), "")
    # vcrpy's decode_compressed_response=True drops the header when it decodes; a header that is
    # still present with a compressed-looking body means the cassette holds the raw bytes.
    if encoding in ("gzip", "x-gzip") and data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif encoding == "deflate" and data[:1] == b"\x78":
        data = zlib.decompress(data)
    elif encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise ImportSourceError(
            f"{where}: the body is {encoding}-compressed, which the importer cannot decode; "
            "re-record with vcrpy's decode_compressed_response=True"
        )
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
