"""Compare an outbound frame with the recorded one: strict JSON equality minus declared ignores,
or (``mode="semantic"``) equality of what the two requests mean.

Key order never matters. In strict mode everything else does, unless a scenario lists the JSON
path under ``match.ignore``. In semantic mode both frames are first rewritten into their canonical
form (:mod:`harness.replay.semantic`), so formatting-only differences of another client's requests
do not count. Ignored paths are frame paths in both modes, removed before anything is compared.
Paths use a small JSONPath subset::

    $.body.metadata            a key
    $.headers['user-agent']    a key that is not an identifier
    $.body.messages[0]         a list index
    $.body.messages[*].id      every element of a list
    $.body.*.cache_control     every value of an object

A path that matches nothing is not an error: the field may be absent in some frames.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from harness.errors import UsageError
from harness.limits import format_json_path
from harness.replay.semantic import SEMANTIC_PROTOCOLS, canonical_request

_TOKEN = re.compile(
    r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\.\*|\[(\d+)\]|\[\*\]|\['((?:[^'\\]|\\.)*)'\]|\[\"((?:[^\"\\]|\\.)*)\"\]"
)

WILDCARD = object()
Segment = str | int | object
MatchMode = Literal["strict", "semantic"]
MATCH_MODES: tuple[MatchMode, ...] = ("strict", "semantic")


def parse_json_path(path: str) -> tuple[Segment, ...]:
    """Parse ``$.a[0]['b-c'][*]`` into segments; raise :class:`UsageError` on anything else."""
    if not path.startswith("$"):
        raise UsageError(f"JSON path {path!r} must start with '$'")
    segments: list[Segment] = []
    position = 1
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None:
            raise UsageError(f"JSON path {path!r}: cannot parse {path[position:]!r} at offset {position}")
        key, index, single, double = match.groups()
        text = match.group(0)
        if key is not None:
            segments.append(key)
        elif index is not None:
            segments.append(int(index))
        elif single is not None or double is not None:
            segments.append((single if single is not None else double or "").replace("\\", ""))
        elif text in (".*", "[*]"):
            segments.append(WILDCARD)
        position = match.end()
    return tuple(segments)


def _strip(value: Any, segments: tuple[Segment, ...]) -> Any:
    """Return a copy of ``value`` without whatever ``segments`` points at."""
    if not segments:
        return value
    head, rest = segments[0], segments[1:]
    if isinstance(value, dict):
        out = dict(value)
        keys = list(value) if head is WILDCARD else ([head] if head in value else [])
        for key in keys:
            if rest:
                out[key] = _strip(value[key], rest)
            else:
                del out[key]
        return out
    if isinstance(value, list):
        if head is WILDCARD:
            indexes = range(len(value))
        elif isinstance(head, int) and 0 <= head < len(value):
            indexes = range(head, head + 1)
        else:
            return value
        if not rest:
            return [item for i, item in enumerate(value) if i not in indexes]
        return [_strip(item, rest) if i in indexes else item for i, item in enumerate(value)]
    return value


MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()


def short_json(value: Any, limit: int = 200) -> str:
    """A JSON value for an error message: sorted keys, cut with "…" past ``limit`` characters;
    :data:`MISSING` (and anything that is not JSON) shows as its ``repr``. Secrets never reach an
    error message: the value is redacted as a recording would write it
    (:func:`harness.record.redact.scrub_json`: secret-named fields, key shapes inside strings),
    then the quoted text once more (:func:`harness.record.redact.scrub`), before it is cut."""
    from harness.record.redact import scrub, scrub_json

    try:
        text = orjson.dumps(scrub_json(value), option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        text = repr(value)
    text = scrub(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _same_scalar(a: Any, b: Any) -> bool:
    # bool is an int in Python, but true and 1 are different JSON values.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return bool(a == b)
    return type(a) is type(b) and a == b


def _same_redacted(expected: str, actual: Any, kinds: tuple[tuple[str, str], ...]) -> bool:
    """A recorded string with ``<redacted:KIND>`` markers matches any value of those kinds there."""
    from harness.record.redact import redacted_pattern

    pattern = redacted_pattern(expected, kinds)
    return pattern is not None and isinstance(actual, str) and pattern.fullmatch(actual) is not None


def first_difference(
    expected: Any,
    actual: Any,
    _path: tuple[str | int, ...] = (),
    *,
    redacted: bool = False,
    kinds: tuple[tuple[str, str], ...] = (),
) -> tuple[str, Any, Any] | None:
    """The first JSON path (in sorted-key, index order) where two JSON values differ, or None.

    With ``redacted``, a string of ``expected`` holding ``<redacted:KIND>`` markers matches an
    ``actual`` string that has any value of that kind in their place (see
    :func:`harness.record.redact.redacted_pattern`); ``kinds`` adds a project's own
    ``(kind, regex)`` pairs.
    """
    found = difference_at(expected, actual, _path, redacted=redacted, kinds=kinds)
    return None if found is None else (format_json_path(found[0]), found[1], found[2])


def difference_at(
    expected: Any,
    actual: Any,
    _path: tuple[str | int, ...] = (),
    *,
    redacted: bool = False,
    kinds: tuple[tuple[str, str], ...] = (),
) -> tuple[tuple[str | int, ...], Any, Any] | None:
    """:func:`first_difference` with the path as its segments."""
    if redacted and isinstance(expected, str) and "<redacted" in expected and _same_redacted(expected, actual, kinds):
        return None
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if key not in expected:
                return (*_path, key), MISSING, actual[key]
            if key not in actual:
                return (*_path, key), expected[key], MISSING
            found = difference_at(expected[key], actual[key], (*_path, key), redacted=redacted, kinds=kinds)
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        for index, (left, right) in enumerate(zip(expected, actual, strict=False)):
            found = difference_at(left, right, (*_path, index), redacted=redacted, kinds=kinds)
            if found:
                return found
        if len(expected) != len(actual):
            index = min(len(expected), len(actual))
            return (
                (*_path, index),
                expected[index] if index < len(expected) else MISSING,
                actual[index] if index < len(actual) else MISSING,
            )
        return None
    if isinstance(expected, (dict, list)) or isinstance(actual, (dict, list)):
        return _path, expected, actual
    return None if _same_scalar(expected, actual) else (_path, expected, actual)


HANDOFF_PREFIX = "Context handoff ("
HANDOFF_TAIL = "\n\nUser message:\n"


def _map_strings(value: Any, fn: Any) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    return value


def _handoff_summary(text: str) -> str:
    """``Context handoff (<kind>):\n<summary>\n\nUser message:\n<text>`` with the summary masked."""
    if not text.startswith(HANDOFF_PREFIX) or HANDOFF_TAIL not in text:
        return text
    header, _, rest = text.partition("\n")
    _, _, tail = rest.partition(HANDOFF_TAIL)
    return f"{header}\n<dynamic-summary>{HANDOFF_TAIL}{tail}"


def _is_request(frame: Any) -> bool:
    return isinstance(frame, dict) and frame.get("kind") == "http.request"


@dataclass(frozen=True, slots=True)
class Difference:
    """Where an outbound frame first differs from the recorded one, and how.

    ``json_path`` is a path in the frame (strict mode) or in the canonical request body (semantic
    mode, e.g. ``$.messages[3].content[0].input.city``); then ``recorded_at`` is the same place in
    the recorded frame (``$.body.messages[3].content[0].input.city``) and None otherwise.
    """

    json_path: str
    expected: Any
    actual: Any
    recorded_at: str | None = None


@dataclass(frozen=True, slots=True)
class FrameMatcher:
    """Frame equality with a declared list of JSON paths to ignore: strict, or semantic.

    ``mode="semantic"`` (with ``protocol``, one of
    :data:`~harness.replay.semantic.SEMANTIC_PROTOCOLS`) compares what two ``http.request``
    frames mean (:func:`~harness.replay.semantic.canonical_request`) instead of their spelling.

    Two further normalizations, both off by default:

    * ``placeholders``: ``(placeholder, value)`` pairs replaced inside every string of the
      *expected* frame, e.g. ``("<workspace>", "/tmp/project")``, so a transcript recorded in one
      directory replays in another.
    * ``handoff_summaries``: in strings of the form ``Context handoff (<kind>):\n<summary>\n\nUser
      message:\n<text>`` (a merge-back handoff) the app-written summary is not compared; the
      header and the user's text are.

    >>> FrameMatcher.from_paths(["$.body.metadata"]).compare({"body": {"metadata": 1}}, {"body": {}})
    """

    ignore: tuple[tuple[Segment, ...], ...] = ()
    ignore_paths: tuple[str, ...] = ()
    placeholders: tuple[tuple[str, str], ...] = ()
    handoff_summaries: bool = False
    redaction_kinds: tuple[tuple[str, str], ...] = ()
    """A project's own ``(kind, regex)`` pairs, so ``<redacted:KIND>`` matches only values of that kind."""
    mode: MatchMode = "strict"
    protocol: str | None = None
    """The protocol whose requests a semantic matcher reads (required with ``mode="semantic"``)."""

    def __post_init__(self) -> None:
        if self.mode not in MATCH_MODES:
            raise UsageError(f"match mode {self.mode!r}: use one of {', '.join(MATCH_MODES)}")
        if self.mode == "semantic" and self.protocol not in SEMANTIC_PROTOCOLS:
            raise UsageError(
                f"semantic matching reads the request bodies of {', '.join(SEMANTIC_PROTOCOLS)}; "
                f"protocol {self.protocol!r} has no canonical request form, so match it strictly"
            )

    @classmethod
    def from_paths(
        cls,
        paths: Iterable[str],
        *,
        placeholders: Iterable[tuple[str, str]] = (),
        handoff_summaries: bool = False,
        mode: MatchMode = "strict",
        protocol: str | None = None,
    ) -> FrameMatcher:
        paths = tuple(paths)
        return cls(
            ignore=tuple(parse_json_path(p) for p in paths),
            ignore_paths=paths,
            placeholders=tuple(placeholders),
            handoff_summaries=handoff_summaries,
            mode=mode,
            protocol=protocol,
        )

    def normalize(self, frame: Any) -> Any:
        """The frame with every ignored path removed (and handoff summaries masked, if enabled)."""
        for segments in self.ignore:
            frame = _strip(frame, segments)
        if self.handoff_summaries:
            frame = _map_strings(frame, _handoff_summary)
        return frame

    def expected(self, frame: Any) -> Any:
        """The recorded frame with its placeholders filled in."""
        if not self.placeholders:
            return frame

        def fill(text: str) -> str:
            for placeholder, value in self.placeholders:
                text = text.replace(placeholder, value)
            return text

        return _map_strings(frame, fill)

    def compare(self, expected: Any, actual: Any) -> tuple[str, Any, Any] | None:
        """None when the frames match, else ``(json_path, expected_value, actual_value)``."""
        found = self.difference(expected, actual)
        return None if found is None else (found.json_path, found.expected, found.actual)

    def difference(self, expected: Any, actual: Any) -> Difference | None:
        """None when the frames match, else the first :class:`Difference`."""
        left, right = self.normalize(self.expected(expected)), self.normalize(actual)
        if self.mode == "strict" or self.protocol is None or not (_is_request(left) and _is_request(right)):
            found = first_difference(left, right, redacted=True, kinds=self.redaction_kinds)
            return None if found is None else Difference(*found)
        recorded, sent = canonical_request(self.protocol, left), canonical_request(self.protocol, right)
        # The request line and headers first: a body is only read as the endpoint it was sent to.
        line = first_difference(recorded.line, sent.line, redacted=True, kinds=self.redaction_kinds)
        if line is not None:
            return Difference(*line, recorded_at=line[0])
        body = difference_at(recorded.body, sent.body, redacted=True, kinds=self.redaction_kinds)
        if body is None:
            return None
        segments, expected_value, actual_value = body
        return Difference(
            format_json_path(segments), expected_value, actual_value, recorded_at=recorded.recorded_at(segments)
        )
