"""Golden files on disk: compare, report the first divergence, create and update atomically.

A golden is read only when it is a regular file; one that is not (a directory, a FIFO, a
device), is not UTF-8 or holds a line that is not JSON raises :class:`~harness.errors.GoldenError`
naming the file and the line. :func:`golden_path_inside` is the one containment check for golden
names: nothing is read or written outside the goldens directory.
"""

from __future__ import annotations

import collections
import difflib
import itertools
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson

from harness.core.event_log import concrete_path, value_at
from harness.errors import GoldenError, GoldenMismatch, GoldenMissing
from harness.files import AtomicWriter, file_kind
from harness.golden.normalize import GoldenContent
from harness.replay.matcher import MISSING, first_difference, short_json


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where an event log first departs from its golden."""

    index: int
    event_type: str | None
    json_path: str
    expected: Any
    actual: Any

    def describe(self) -> str:
        return (
            f"first divergence at event index {self.index} ({self.event_type or 'no event'}), "
            f"{self.json_path}: expected {short_json(self.expected)}, found {short_json(self.actual)}"
        )


def _type_of(record: Any, type_path: tuple[str | int, ...]) -> str | None:
    value = value_at(record, type_path)
    return value if isinstance(value, str) else None


def first_divergence(
    expected: list[dict[str, Any]], actual: list[dict[str, Any]], *, type_field: str = "$.type"
) -> Divergence | None:
    """Compare two normalized logs event by event; ``type_field`` is where an event names its type."""
    type_path = concrete_path(type_field)
    for index, (left, right) in enumerate(zip(expected, actual, strict=False)):
        found = first_difference(left, right)
        if found is not None:
            path, exp, act = found
            return Divergence(index, _type_of(left, type_path) or _type_of(right, type_path), path, exp, act)
    if len(expected) != len(actual):
        index = min(len(expected), len(actual))
        exp = expected[index] if index < len(expected) else MISSING
        act = actual[index] if index < len(actual) else MISSING
        event_type = _type_of(exp if exp is not MISSING else act, type_path)
        return Divergence(index, event_type, "$", exp, act)
    return None


GoldenOutcome = Literal["matched", "created", "updated"]


def golden_path_inside(goldens_dir: Path, name: str) -> Path | None:
    """``goldens_dir / name`` if it stays inside ``goldens_dir``, else ``None``.

    ``None`` for an empty or absolute ``name`` and for a path that, once symlinks are resolved
    (a ``..``, a symlinked subdirectory or file), lies outside the resolved ``goldens_dir``. The
    check behind scenario goldens and ``harness_golden`` names.
    """
    if not name or "\x00" in name or Path(name).is_absolute():
        return None
    path = goldens_dir / name
    if not path.resolve().is_relative_to(goldens_dir.resolve()):
        return None
    return path


def _open_golden(path: Path) -> BinaryIO | None:
    """The golden at ``path`` open for reading, ``None`` if there is none; a path that exists but
    is not a regular file (checked before anything is opened for reading, and again after) raises
    :class:`GoldenError` -- it is neither read (a FIFO would block) nor replaced."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise GoldenError(f"cannot read the golden file: {exc.strerror or exc}", path=path) from None
    expected = "expected a golden file (a regular file of JSON lines)"
    if not stat.S_ISREG(mode):
        raise GoldenError(f"{expected}, found {file_kind(mode)}; remove it or choose another golden name", path=path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise GoldenError(f"cannot read the golden file: {exc.strerror or exc}", path=path) from None
    handle = os.fdopen(fd, "rb")
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        handle.close()
        raise GoldenError(f"{expected}, found {file_kind(mode)}", path=path)
    return handle


class _Lines:
    """The content to compare, as a header (known once the events are counted) and event lines."""

    def __init__(self, content: bytes | GoldenContent) -> None:
        self.content = content
        if isinstance(content, bytes):
            lines = content.split(b"\n")
            self._lines = [line + b"\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])

    def header(self, count: int) -> bytes:
        if isinstance(self.content, bytes):
            return self._lines[0] if self._lines else b""
        return self.content.header(count)

    def events(self) -> Iterator[bytes]:
        if isinstance(self.content, bytes):
            return iter(self._lines[1:])
        return self.content.event_lines()

    def all(self, count: int) -> Iterator[bytes]:
        header = self.header(count)
        if header:
            yield header
        yield from self.events()


def _compare(handle: BinaryIO, content: _Lines) -> tuple[bool, int]:
    """Whether the golden open in ``handle`` holds exactly ``content``, and the number of event
    lines in ``content`` (counted to the end either way: its header needs it)."""
    golden_header = handle.readline()
    same = True
    count = 0
    for line in content.events():
        count += 1
        if same and handle.readline() != line:
            same = False
    return same and handle.readline() == b"" and golden_header == content.header(count), count


def _write(path: Path, content: _Lines, count: int) -> None:
    with AtomicWriter(path, force=True) as out:
        for line in content.all(count):
            out.write(line)


#: Lines of each side kept, from the first difference on, for the diff in a mismatch.
_DIFF_WINDOW = 200
_HUNK = re.compile(r"^@@ -(\d+)((?:,\d+)?) \+(\d+)((?:,\d+)?) @@$")


def _shifted_diff(expected: list[str], actual: list[str], offset: int) -> str:
    """A unified diff (one line of context, at most 80 lines) of two windows that start
    ``offset`` lines into their files, with hunk headers numbered as in the files."""

    def shift(line: str) -> str:
        match = _HUNK.match(line)
        if match is None:
            return line
        return f"@@ -{int(match[1]) + offset}{match[2]} +{int(match[3]) + offset}{match[4]} @@"

    diff = difflib.unified_diff(expected, actual, "golden", "actual", lineterm="", n=1)
    return "\n".join(shift(line) for line in itertools.islice(diff, 80))


def _golden_value(path: Path, line: bytes, number: int, offset: int) -> Any:
    """The JSON value of one golden line; not UTF-8 or not JSON raises :class:`GoldenError`."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GoldenError(
            f"not valid UTF-8 at byte offset {offset + exc.start} ({exc.reason}); expected UTF-8 JSON lines. "
            "Restore the file from version control, or rewrite it with `harness goldens update`",
            path=path,
            line=number,
        ) from None
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise GoldenError(
            f"not valid JSON at column {exc.colno} ({exc.msg}); expected one JSON object per line. "
            "Restore the file from version control, or rewrite it with `harness goldens update`",
            path=path,
            line=number,
        ) from None


def _mismatch(path: Path, handle: BinaryIO, content: _Lines, count: int, type_field: str) -> GoldenMismatch:
    """Walk the golden and the content side by side once: the first event that differs as a
    JSON value (else the header, else a note that only the writing differs), every golden line
    that differs checked for UTF-8 and JSON, and a diff from the first differing line on."""
    type_path = concrete_path(type_field)
    divergence: Divergence | None = None
    header: tuple[str, Any, Any] | None = None
    before: collections.deque[bytes] = collections.deque(maxlen=1)
    first: int | None = None
    windows: tuple[list[bytes], list[bytes]] = ([], [])
    offset = 0
    number = 0
    for number, (exp, act) in enumerate(itertools.zip_longest(handle, content.all(count)), start=1):
        if number == 1 and exp is None:
            raise GoldenError(
                "the golden file is empty; expected a header line and one JSON object per event. "
                "Rewrite it with `harness goldens update`",
                path=path,
            )
        if exp == act:
            if first is None:
                before.append(exp)
            elif number - first < _DIFF_WINDOW:
                windows[0].append(exp)
                windows[1].append(act)
            offset += len(exp)
            continue
        if first is None:
            first = number
        if number - first < _DIFF_WINDOW:
            for side, line in zip(windows, (exp, act), strict=True):
                if line is not None:
                    side.append(line)
        expected = MISSING if exp is None else _golden_value(path, exp, number, offset)
        offset += len(exp or b"")
        if divergence is not None:
            continue  # found; the rest of the golden is only checked
        actual = MISSING if act is None else orjson.loads(act)
        if number == 1:
            header = first_difference(expected, actual)
            continue
        if exp is None or act is None:
            event_type = _type_of(expected if exp is not None else actual, type_path)
            divergence = Divergence(number - 2, event_type, "$", expected, actual)
            continue
        found = first_difference(expected, actual)
        if found is not None:
            event_type = _type_of(expected, type_path) or _type_of(actual, type_path)
            divergence = Divergence(number - 2, event_type, *found)
    described = divergence.describe() if divergence is not None else ""
    if divergence is None:  # only the header differs, or only how the values are written
        if header is None:
            header = ("$", MISSING, MISSING)
            described = (
                "the golden holds the same JSON values written differently (spacing, key order or line endings); "
                "goldens are compact JSON with sorted keys, one object per line"
            )
        divergence = Divergence(-1, "golden header", *header)
        described = described or divergence.describe()
    start = (first or 1) - 1 - len(before)
    expected_lines, actual_lines = ([_text(line) for line in [*before, *side]] for side in windows)
    return GoldenMismatch(
        f"{path}: {described}. Run `harness goldens update` (or pytest --harness-update-goldens) "
        "if the change is intended.",
        golden_path=str(path),
        divergence=divergence,
        diff=_shifted_diff(expected_lines, actual_lines, start),
    )


def _text(line: bytes) -> str:
    return line.decode("utf-8", "replace").rstrip("\r\n")


def check_golden(
    path: Path, content: bytes | GoldenContent, *, update: bool = False, type_field: str = "$.type"
) -> GoldenOutcome:
    """Compare ``content`` with the golden at ``path``; write it when ``update`` is set.

    ``content`` is the file's bytes, or a :class:`~harness.golden.normalize.GoldenContent` that
    produces them line by line: a long log is then compared, written and diffed as a stream,
    never held whole. Raises :class:`GoldenMissing` or :class:`GoldenMismatch` (with the first
    divergence and a unified diff) when not updating. ``type_field`` is where an event names its
    type, for the divergence message. A golden that is not a regular file raises
    :class:`GoldenError` (also when updating: nothing replaces a directory or a FIFO); one that
    is not UTF-8 or not JSON raises it when comparing, and is simply rewritten when updating.
    """
    lines = _Lines(content)
    handle = _open_golden(path)
    if handle is None:
        if update:
            _write(path, lines, sum(1 for _ in lines.events()))
            return "created"
        raise GoldenMissing(str(path))
    with handle:
        same, count = _compare(handle, lines)
        if same:
            return "matched"
        if not update:
            handle.seek(0)
            raise _mismatch(path, handle, lines, count, type_field)
    _write(path, lines, count)
    return "updated"


def golden_owner(path: Path) -> str | None:
    """The ``owner`` in a golden file's header line (``"test"`` for ``harness_golden`` goldens).

    ``None`` for a scenario golden, and for a file whose first line is not a JSON object.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as handle:
            header = orjson.loads(handle.readline())
    except (OSError, orjson.JSONDecodeError):
        return None
    owner = header.get("owner") if isinstance(header, dict) else None
    return owner if isinstance(owner, str) else None


def unused_goldens(goldens_dir: Path, used: Iterable[Path]) -> list[Path]:
    """Golden files under ``goldens_dir`` that nothing in ``used`` refers to.

    Test-owned goldens (:func:`golden_owner` ``"test"``) are included: only the caller knows
    whether the tests ran.
    """
    if not goldens_dir.is_dir():
        return []
    used_resolved = {p.resolve() for p in used}
    return sorted(p for p in goldens_dir.rglob("*.ndjson") if not p.is_dir() and p.resolve() not in used_resolved)
