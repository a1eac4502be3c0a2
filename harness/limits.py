"""Limits at the boundary: what the harness refuses to read, so no input can exhaust it; and the
JSON-path helpers that locate the first value past them.

Documented in docs/transcripts.md ("Limits"). Every reader of user data (transcripts, event logs
handed to the golden fixture) checks against these numbers and names the line or JSON path of
the first value past them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import jiter
import orjson

#: A transcript line longer than this many bytes is refused.
MAX_LINE_BYTES = 64 * 1024 * 1024
#: JSON nested deeper than this many levels (the outermost object or array is level 1) is refused.
MAX_DEPTH = 128
#: Integers must fit in 64 bits (signed or unsigned); JSON readers turn larger ones into floats.
INT_MIN, INT_MAX = -(2**63), 2**64 - 1
#: ``afterMs`` is at most JavaScript's largest safe integer (t3code writes it from a JS number).
MAX_AFTER_MS = 2**53 - 1

Segment = str | int


def too_deep(value: Any, limit: int = MAX_DEPTH) -> tuple[Segment, ...] | None:
    """The path of the first container of ``value`` nested deeper than ``limit``, or None.

    Iterative, so a value nested thousands of levels deep is measured without recursion.
    """
    stack: list[tuple[Any, tuple[Segment, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        items: Iterable[tuple[Segment, Any]]
        if isinstance(node, dict):
            items = node.items()
        elif isinstance(node, (list, tuple)):
            items = enumerate(node)
        else:
            continue
        if len(path) >= limit:
            return path
        stack.extend((child, (*path, key)) for key, child in items)
    return None


def find_instance(value: Any, target: type) -> tuple[tuple[Segment, ...], Any] | None:
    """Path and value of the first (in document order) instance of ``target`` inside ``value``."""
    stack: list[tuple[Any, tuple[Segment, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, target):
            return path, node
        if isinstance(node, dict):
            stack.extend((child, (*path, key)) for key, child in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((child, (*path, index)) for index, child in reversed(list(enumerate(node))))
    return None


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def format_json_path(segments: Iterable[str | int]) -> str:
    """Render concrete segments back to a path, quoting keys that are not identifiers."""
    out = "$"
    for segment in segments:
        if isinstance(segment, int):
            out += f"[{segment}]"
        elif _IDENTIFIER.fullmatch(segment):
            out += f".{segment}"
        else:
            out += "['" + segment.replace("'", "\\'") + "']"
    return out


#: JSON lines longer than this are parsed by jiter rather than orjson (see :func:`json_loads`).
LARGE_LINE = 1 << 20


def json_loads(line: bytes) -> Any:
    """Parse one JSON line: orjson, or jiter for a line over :data:`LARGE_LINE`.

    orjson builds an intermediate document about a dozen times the line's size; for one long line
    (a recorded request restating a long conversation, an event holding a long text) that would be
    the peak memory of a whole replay. jiter builds the Python values directly. Invalid JSON raises
    ``ValueError`` (``orjson.JSONDecodeError`` is one).
    """
    if len(line) <= LARGE_LINE:
        return orjson.loads(line)
    try:
        return jiter.from_json(line, allow_inf_nan=False)
    except ValueError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
