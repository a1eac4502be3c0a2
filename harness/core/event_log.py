"""A user's own event log: any iterable of JSON-able mappings, checked once at the boundary.

Golden files (:mod:`harness.golden.declared`), event rules (:mod:`harness.core.event_rules`) and
the ``harness_results`` pytest fixture accept the event logs of orchestrators the harness did not
write. :func:`json_event_log` turns such a log into plain JSON objects (``dict``/``list``/``str``/
``int``/``float``/``bool``/``None``), or raises :class:`~harness.errors.EventLogError` naming the
event index and the JSON path of the first value that is not JSON, so nothing later has to guess.

JSON paths are the subset of :func:`harness.replay.matcher.parse_json_path` (``$.a.b``,
``$['odd key']``, ``$.list[0]``, ``$.list[*]``, ``$.map.*``); :func:`locate` expands wildcards
and :func:`value_at` reads one concrete path.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from harness.core.events import StoredEvent
from harness.errors import EventLogError, UsageError
from harness.limits import INT_MAX, INT_MIN, MAX_DEPTH, format_json_path
from harness.replay.matcher import MISSING, WILDCARD, Segment, parse_json_path

JsonObject = dict[str, Any]
ConcretePath = tuple[str | int, ...]


def concrete_path(path: str) -> ConcretePath:
    """Parse a JSON path that names one place (no ``*``); raise :class:`UsageError` otherwise."""
    segments = parse_json_path(path)
    if any(segment is WILDCARD for segment in segments):
        raise UsageError(f"JSON path {path!r} must name one value; wildcards (*) are not allowed here")
    return tuple(s for s in segments if isinstance(s, (str, int)))


def value_at(value: Any, path: ConcretePath) -> Any:
    """The value at ``path`` inside ``value``, or :data:`~harness.replay.matcher.MISSING`."""
    for segment in path:
        if not _has(value, segment):
            return MISSING
        value = value[segment]
    return value


def _has(value: Any, segment: str | int) -> bool:
    if isinstance(segment, str):
        return isinstance(value, dict) and segment in value
    return isinstance(value, list) and 0 <= segment < len(value)


def locate(value: Any, path: tuple[Segment, ...], _at: ConcretePath = ()) -> Iterator[ConcretePath]:
    """Every concrete path inside ``value`` that ``path`` (wildcards allowed) matches, keys sorted."""
    if not path:
        yield _at
        return
    head, rest = path[0], path[1:]
    if head is WILDCARD:
        if isinstance(value, dict):
            for key in sorted(value):
                yield from locate(value[key], rest, (*_at, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from locate(item, rest, (*_at, index))
    elif isinstance(head, (str, int)) and _has(value, head):
        yield from locate(value[head], rest, (*_at, head))


def replace_at(value: Any, path: ConcretePath, new: Any) -> None:
    """Set the value at an existing concrete ``path`` inside ``value`` (in place)."""
    parent = value_at(value, path[:-1])
    parent[path[-1]] = new


def _json_value(value: Any, index: int, path: ConcretePath) -> Any:
    # The JSON data model, exactly: str keys, finite numbers. ``bool`` is an ``int``, so it is
    # kept as is by the int branch.
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        if INT_MIN <= value <= INT_MAX:
            return value
        raise EventLogError(
            f"the integer {value:.3g} does not fit in 64 bits; store it as a string",
            index=index,
            json_path=format_json_path(path),
            value=value,
        )
    if len(path) >= MAX_DEPTH and isinstance(value, (Mapping, list, tuple)):
        raise EventLogError(
            f"nested deeper than {MAX_DEPTH} levels",
            index=index,
            json_path=format_json_path(path[:6]) + "...",
            value=None,
        )
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise EventLogError(
            f"{value!r} is not a JSON number; store it as null or a string",
            index=index,
            json_path=format_json_path(path),
            value=value,
        )
    if isinstance(value, Mapping):
        out: JsonObject = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise EventLogError(
                    f"has the key {key!r} ({type(key).__name__}); JSON object keys are strings, convert it with str()",
                    index=index,
                    json_path=format_json_path(path),
                    value=key,
                )
            out[key] = _json_value(item, index, (*path, key))
        return out
    if isinstance(value, (list, tuple)):
        return [_json_value(item, index, (*path, position)) for position, item in enumerate(value)]
    hint = (
        "call .model_dump(mode='json') first"
        if hasattr(value, "model_dump")
        else "convert it (str(), .isoformat(), ...)"
    )
    raise EventLogError(
        f"{type(value).__name__} value {value!r:.60} is not JSON; {hint} before handing the log over",
        index=index,
        json_path=format_json_path(path),
        value=value,
    )


def json_event(event: Any, index: int) -> JsonObject:
    """One event as a plain JSON object; ``index`` (0-based) is for the error message."""
    if isinstance(event, StoredEvent):
        return dict(_json_value(event.to_json(), index, ()))
    if not isinstance(event, Mapping):
        hint = "; call .model_dump(mode='json') on it" if hasattr(event, "model_dump") else ""
        message = f"{type(event).__name__} value {event!r:.60} is not a mapping{hint}"
        raise EventLogError(message, index=index, json_path="$", value=event)
    return dict(_json_value(event, index, ()))


def json_event_log(events: Iterable[Any]) -> list[JsonObject]:
    """Every event of ``events`` as a plain JSON object, in order (a :class:`StoredEvent` as its
    ``to_json()``); raises :class:`EventLogError` at the first event or value that is not JSON.

    >>> json_event_log([{"type": "a", "n": 1}])
    [{'type': 'a', 'n': 1}]
    """
    return [json_event(event, index) for index, event in enumerate(events)]
