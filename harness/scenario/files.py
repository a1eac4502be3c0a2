"""Reading declaration files -- scenarios and event rules -- with the work bounded up front.

:func:`load_declaration` is the one reader behind :func:`harness.scenario.load_scenario` and
:func:`harness.core.event_rules.load_event_rules`. Before anything validates the data it makes
sure that:

- the path names a regular file (not a directory, FIFO, socket or device) of at most
  :attr:`Limits.max_bytes` bytes;
- the bytes are UTF-8 (else the error names the line, column and byte offset);
- containers nest at most :attr:`Limits.max_depth` levels (the outermost mapping or list is
  level 1), counting what YAML aliases (``*name``) bring in;
- a YAML document holds at most :attr:`Limits.max_nodes` nodes once every alias is expanded (a
  few hundred bytes of nested anchors -- a "billion laughs" -- would otherwise stand for a
  billion values), and no alias refers to the node that contains it.

YAML is composed by a :class:`yaml.SafeLoader` subclass that counts nodes and depth while it
composes, so a refused document costs no more than the limit. Every refusal raises the caller's
error class (``ScenarioError``, ``RuleDeclarationError``) naming the file and the line or JSON
path. ``docs/scenarios.md`` ("Limits and refusals") lists the limits.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
import yaml
from yaml.events import AliasEvent, Event, MappingStartEvent, SequenceStartEvent
from yaml.nodes import Node

from harness.errors import UsageError
from harness.files import file_kind
from harness.limits import MAX_DEPTH, too_deep

#: Suffixes :func:`load_declaration` reads, by format.
YAML_SUFFIXES = (".yaml", ".yml")
TOML_SUFFIXES = (".toml",)
JSON_SUFFIXES = (".json",)


@dataclass(frozen=True, slots=True)
class Limits:
    """What a declaration file may cost; beyond any of these it is refused before validation."""

    #: File size in bytes.
    max_bytes: int = 8 * 1024 * 1024
    #: Nesting of mappings and lists; the outermost one is level 1.
    max_depth: int = MAX_DEPTH
    #: YAML nodes (scalars, lists, mappings, keys included) once every alias is expanded.
    max_nodes: int = 1_000_000


DEFAULT_LIMITS = Limits()


class ErrorFactory(Protocol):
    """An error class that takes a message and the file it is about (``ScenarioError``, ...)."""

    def __call__(self, message: str, *, path: Path | str | None = None) -> UsageError: ...


def read_declaration_text(path: Path, *, what: str, error: ErrorFactory, limits: Limits = DEFAULT_LIMITS) -> str:
    """The UTF-8 text of ``path``, a regular file of at most ``limits.max_bytes`` bytes.

    Never blocks on a FIFO and never reads a device: the file is opened non-blocking and checked
    with ``fstat`` before a byte is read. ``what`` names the file in messages (``scenario file``).
    """
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"no such {what}", path=path) from None
    except OSError as exc:
        raise error(f"cannot read the {what}: {exc.strerror or exc}", path=path) from None
    _check_regular(info, path, what=what, error=error, limits=limits)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise error(f"cannot read the {what}: {exc.strerror or exc}", path=path) from None
    with os.fdopen(fd, "rb") as handle:
        _check_regular(os.fstat(fd), path, what=what, error=error, limits=limits)
        data = handle.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise error(f"the {what} is larger than {limits.max_bytes} bytes, the limit", path=path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(
            f"line {line}, column {column} (byte offset {exc.start}): not valid UTF-8: {exc.reason} "
            f"(found byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            path=path,
        ) from None


def _check_regular(info: os.stat_result, path: Path, *, what: str, error: ErrorFactory, limits: Limits) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise error(f"is {file_kind(info.st_mode)}, not a {what}; name a regular file", path=path)
    if info.st_size > limits.max_bytes:
        raise error(f"the {what} is {info.st_size} bytes; the limit is {limits.max_bytes} bytes", path=path)


def load_declaration(path: Path, *, what: str, error: ErrorFactory, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Read and parse a YAML, TOML or JSON declaration file (by suffix) within ``limits``.

    Returns the parsed data, not yet validated; every problem raises ``error`` naming ``path``.
    The caller checks the suffix first (its message names the suffixes it accepts).
    """
    text = read_declaration_text(path, what=what, error=error, limits=limits)
    suffix = path.suffix
    kind = suffix[1:].upper()
    try:
        if suffix in YAML_SUFFIXES:
            return load_bounded_yaml(text, limits=limits)
        if suffix in TOML_SUFFIXES:
            data: Any = tomllib.loads(text)
        elif suffix in JSON_SUFFIXES:
            data = orjson.loads(text)
        else:
            raise error(f"cannot read files with the suffix {suffix!r}", path=path)
    except LimitExceeded as exc:
        raise error(str(exc), path=path) from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError, orjson.JSONDecodeError) as exc:
        raise error(f"not valid {kind}: {exc}", path=path) from None
    except RecursionError:
        line = _first_line_deeper_than(text, limits.max_depth)
        where = f"line {line}: " if line is not None else ""
        raise error(f"{where}nested deeper than {limits.max_depth} levels, the limit", path=path) from None
    deep = too_deep(data, limits.max_depth)
    if deep is not None:
        shown = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in deep[:12])
        more = "..." if len(deep) > 12 else ""
        raise error(f"{shown}{more}: nested deeper than {limits.max_depth} levels, the limit", path=path)
    return data


class Mark(Protocol):
    """Where a YAML event starts (PyYAML's pure-Python and C marks both have these, 0-based)."""

    line: int
    column: int


class LimitExceeded(Exception):
    """A YAML document went past a :class:`Limits` bound; the message says where (line, column)."""

    def __init__(self, message: str, mark: Mark | None) -> None:
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        super().__init__(where + message)


class BoundedSafeLoader(yaml.SafeLoader):
    """A :class:`yaml.SafeLoader` that refuses documents past :class:`Limits` while composing.

    It counts every node as often as aliases repeat it (an alias to an anchored subtree of N
    nodes adds N), tracks the nesting an alias brings in, and refuses an alias to a node that is
    still being composed (a recursive structure). Construction then only sees bounded documents.
    """

    def __init__(self, stream: str, *, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(stream)
        self._limits = limits
        self._nodes = 0
        self._depth = 0
        #: The child height seen so far, for each container being composed.
        self._heights: list[int] = []
        #: id(node) -> (nodes it stands for with aliases expanded, its container height).
        self._finished: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event: Event = self.peek_event()  # type: ignore[no-untyped-call]
        mark = event.start_mark
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            finished = self._finished.get(id(node))
            if finished is None:
                raise LimitExceeded(
                    f"alias *{event.anchor} refers to a node that contains it; recursive structures are refused", mark
                )
            size, height = finished
            self._count(size, height, mark)
            return node
        container = isinstance(event, (SequenceStartEvent, MappingStartEvent))
        if container:
            self._depth += 1
            if self._depth > self._limits.max_depth:
                raise LimitExceeded(f"nested deeper than {self._limits.max_depth} levels, the limit", mark)
        before = self._nodes
        self._heights.append(0)
        try:
            node = super().compose_node(parent, index)
        finally:
            children = self._heights.pop()
            if container:
                self._depth -= 1
        height = children + 1 if container else 0
        self._count(1, height, mark)
        self._finished[id(node)] = (self._nodes - before, height)
        return node

    def _count(self, size: int, height: int, mark: Mark | None) -> None:
        self._nodes += size
        if self._heights:
            self._heights[-1] = max(self._heights[-1], height)
        if self._nodes > self._limits.max_nodes:
            raise LimitExceeded(
                f"more than {self._limits.max_nodes} values once aliases (*name) are expanded, the limit; "
                "nested anchors and aliases that multiply a value are refused",
                mark,
            )
        if self._depth + height > self._limits.max_depth:
            raise LimitExceeded(
                f"nested deeper than {self._limits.max_depth} levels (with what aliases bring in), the limit", mark
            )


def load_bounded_yaml(text: str, *, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse one YAML document with :class:`BoundedSafeLoader`.

    Raises :class:`LimitExceeded` past ``limits`` and :class:`yaml.YAMLError` on bad YAML.
    """
    loader = BoundedSafeLoader(text, limits=limits)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


_TOML_TOKENS = re.compile(r'"""|\'\'\'|"|\'|#|[\[\]{}]|\n')
_TOML_STRING_ENDS = {
    '"""': re.compile(r'(?<!\\)(?:\\\\)*"""'),
    "'''": re.compile(r"'''"),
    '"': re.compile(r'(?<!\\)(?:\\\\)*"|\n'),
    "'": re.compile(r"'|\n"),
}


def _first_line_deeper_than(text: str, limit: int) -> int | None:
    """The 1-based line where TOML brackets first nest deeper than ``limit`` (strings and comments
    skipped); a best-effort locator for a document too deep to parse."""
    depth = 0
    line = 1
    position = 0
    while (token := _TOML_TOKENS.search(text, position)) is not None:
        found = token.group()
        position = token.end()
        if found == "\n":
            line += 1
        elif found == "#":
            end = text.find("\n", position)
            position = len(text) if end < 0 else end
        elif found in _TOML_STRING_ENDS:
            end_match = _TOML_STRING_ENDS[found].search(text, position)
            end = len(text) if end_match is None else end_match.end()
            line += text.count("\n", position, end)
            position = end
        elif found in "[{":
            depth += 1
            if depth > limit:
                return line
        else:
            depth = max(0, depth - 1)
    return None
