"""Hypothesis strategies that break real transcripts and scenario files the way real files break.

A mutation is data (:class:`Mutation`): which line, which JSON path, which operation. Applying it
to the text of a bundled transcript gives a new NDJSON text. Operations:

* on a value at a JSON path inside one line: delete it, make it null, retype it (number, string,
  boolean, list, object, a list around it, an object around it), deepen it past the nesting limit,
  replace it with an integer beyond 64 bits or a hostile string (rich markup, emoji codes, control
  characters, a fake secret);
* on lines: drop, duplicate, swap with the next, truncate at a byte, duplicate a key in the text,
  insert bytes that are not UTF-8.

Each mutation has a short ``describe()`` so a failing example reads as what was done.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from hypothesis import strategies as st

JsonPath = tuple[str | int, ...]

HOSTILE_STRINGS = (
    "[red]x[/red] :end: :100: [/]",
    "\x00\x1b[2J\u202e",
    "{{ template }} ${env} %s",
    "sk-ant-api03-" + "A" * 40,
    "",
)

VALUE_OPS = (
    "delete",
    "null",
    "zero",
    "negative",
    "float",
    "string",
    "empty_string",
    "false",
    "true",
    "empty_list",
    "empty_object",
    "wrap_list",
    "wrap_object",
    "deepen",
    "big_int",
    "hostile",
)
LINE_OPS = ("drop", "duplicate", "swap", "truncate", "duplicate_key", "bad_utf8", "blank")


def json_paths(value: Any, prefix: JsonPath = ()) -> Iterator[JsonPath]:
    """Every path inside ``value`` (not the root), in document order."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from json_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from json_paths(child, (*prefix, index))


#: Operations that change the JSON type of a value: if the replay is clean afterwards (no error,
#: no violation, no lint finding), what the response means must not have changed.
RETYPING = {
    "zero": int,
    "negative": int,
    "float": float,
    "string": str,
    "empty_string": str,
    "false": bool,
    "true": bool,
    "empty_list": list,
    "empty_object": dict,
    "wrap_list": list,
    "wrap_object": dict,
}


def retypes(value: Any, op: str) -> bool:
    """Whether ``op`` gives ``value`` a different JSON type (ints and floats are both numbers)."""
    new = RETYPING.get(op)
    if new is None or value is None:
        return False
    if isinstance(value, bool) or new is bool:
        return not (isinstance(value, bool) and new is bool)
    if new in (int, float):
        return not isinstance(value, (int, float))
    return not isinstance(value, new)


def _replace(value: Any, op: str, choice: int) -> Any:
    if op == "null":
        return None
    if op == "zero":
        return 0
    if op == "negative":
        return -1
    if op == "float":
        return 1.5
    if op == "string":
        return "x"
    if op == "empty_string":
        return ""
    if op == "false":
        return False
    if op == "true":
        return True
    if op == "empty_list":
        return []
    if op == "empty_object":
        return {}
    if op == "wrap_list":
        return [value]
    if op == "wrap_object":
        return {"value": value}
    if op == "deepen":
        deep: Any = value
        for _ in range(140):  # past the 128-level limit wherever it lands
            deep = [deep]
        return deep
    if op == "big_int":
        return "__BIG_INT__"  # spliced into the text afterwards: orjson cannot write it
    if op == "hostile":
        return HOSTILE_STRINGS[choice % len(HOSTILE_STRINGS)]
    raise AssertionError(op)


@dataclass(frozen=True)
class Mutation:
    line: int  # 0-based index among the file's lines
    op: str
    path: JsonPath = ()
    choice: int = 0

    def target(self, text: bytes) -> Any:
        """The value the mutation replaces (for value ops)."""
        lines = text.splitlines()
        value: Any = orjson.loads(lines[min(self.line, len(lines) - 1)])
        for step in self.path:
            value = value[step]
        return value

    def describe(self) -> str:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)
        return f"line {self.line + 1}: {self.op}" + (f" at ${where}" if self.path else "")

    def apply(self, text: bytes) -> bytes:
        lines = text.splitlines()
        index = min(self.line, len(lines) - 1)
        if self.op in LINE_OPS:
            return b"\n".join(self._apply_line(lines, index)) + b"\n"
        record = orjson.loads(lines[index])
        parent: Any = record
        for step in self.path[:-1]:
            parent = parent[step]
        last = self.path[-1]
        if self.op == "delete":
            del parent[last]
        else:
            parent[last] = _replace(parent[last], self.op, self.choice)
        line = orjson.dumps(record)
        if self.op == "big_int":
            line = line.replace(b'"__BIG_INT__"', b"123456789012345678901234567890", 1)
        lines[index] = line
        return b"\n".join(lines) + b"\n"

    def _apply_line(self, lines: list[bytes], index: int) -> list[bytes]:
        line = lines[index]
        if self.op == "drop":
            return lines[:index] + lines[index + 1 :]
        if self.op == "duplicate":
            return [*lines[: index + 1], line, *lines[index + 1 :]]
        if self.op == "swap":
            if index + 1 >= len(lines):
                return lines
            return [*lines[:index], lines[index + 1], line, *lines[index + 2 :]]
        if self.op == "truncate":
            cut = self.choice % max(len(line), 1)
            return [*lines[:index], line[:cut]]
        if self.op == "duplicate_key":
            # '{"type":...' -> '{"type":"x","type":...': the same key twice in one object.
            return [*lines[:index], b'{"type":"x",' + line[1:], *lines[index + 1 :]]
        if self.op == "bad_utf8":
            cut = self.choice % max(len(line), 1)
            return [*lines[:index], line[:cut] + b"\xff\xfe" + line[cut:], *lines[index + 1 :]]
        if self.op == "blank":
            return [*lines[:index], b"   ", *lines[index:]]
        raise AssertionError(self.op)


@st.composite
def mutations(draw: st.DrawFn, text: bytes) -> Mutation:
    """One mutation of the NDJSON ``text``: a line op, or a value op at a path of one line."""
    lines = text.splitlines()
    line = draw(st.integers(0, len(lines) - 1))
    choice = draw(st.integers(0, 1 << 16))
    if draw(st.integers(0, 4)) == 0:
        return Mutation(line, draw(st.sampled_from(LINE_OPS)), choice=choice)
    paths = list(json_paths(orjson.loads(lines[line])))
    if not paths:
        return Mutation(line, "duplicate", choice=choice)
    path = draw(st.sampled_from(paths))
    return Mutation(line, draw(st.sampled_from(VALUE_OPS)), path, choice)
