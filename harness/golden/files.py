"""Golden files on disk: compare, report the first divergence, create and update atomically.

A golden is read only when it is a regular file; one that is not (a directory, a FIFO, a
device), is not UTF-8 or holds a line that is not JSON raises :class:`~harness.errors.GoldenError`
naming the file and the line. :func:`golden_path_inside` is the one containment check for golden
names: nothing is read or written outside the goldens directory.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from harness.core.event_log import concrete_path, value_at
from harness.errors import GoldenError, GoldenMismatch, GoldenMissing
from harness.files import file_kind, write_atomic
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


def _read_golden(path: Path) -> bytes | None:
    """The bytes of the golden at ``path``, ``None`` if there is none; a path that exists but is
    not a regular file (checked before anything is opened for reading, and again after) raises
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
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise GoldenError(f"{expected}, found {file_kind(mode)}", path=path)
        return handle.read()


def _golden_lines(path: Path, data: bytes) -> list[Any]:
    """The JSON value of every line of a golden file (header first); a byte that is not UTF-8, a
    line that is not JSON or an empty file raises :class:`GoldenError` naming the line."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = data.count(b"\n", 0, exc.start) + 1
        raise GoldenError(
            f"not valid UTF-8 at byte offset {exc.start} ({exc.reason}); expected UTF-8 JSON lines. "
            "Restore the file from version control, or rewrite it with `harness goldens update`",
            path=path,
            line=bad_line,
        ) from None
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise GoldenError(
            "the golden file is empty; expected a header line and one JSON object per event. "
            "Rewrite it with `harness goldens update`",
            path=path,
        )
    values = []
    for number, line in enumerate(lines, start=1):
        try:
            values.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise GoldenError(
                f"not valid JSON at column {exc.colno} ({exc.msg}); expected one JSON object per line. "
                "Restore the file from version control, or rewrite it with `harness goldens update`",
                path=path,
                line=number,
            ) from None
    return values


def check_golden(path: Path, content: bytes, *, update: bool = False, type_field: str = "$.type") -> GoldenOutcome:
    """Compare ``content`` with the golden at ``path``; write it when ``update`` is set.

    Raises :class:`GoldenMissing` or :class:`GoldenMismatch` (with the first divergence and a
    unified diff) when not updating. ``type_field`` is where an event names its type, for the
    divergence message. A golden that is not a regular file raises :class:`GoldenError` (also
    when updating: nothing replaces a directory or a FIFO); one that is not UTF-8 or not JSON
    raises it when comparing, and is simply rewritten when updating.
    """
    existing = _read_golden(path)
    if existing is None:
        if update:
            write_atomic(path, content, force=True)
            return "created"
        raise GoldenMissing(str(path))
    if existing == content:
        return "matched"
    if update:
        write_atomic(path, content, force=True)
        return "updated"
    expected_values = _golden_lines(path, existing)
    actual_values = [orjson.loads(line) for line in content.split(b"\n") if line]
    expected_lines = existing.decode().splitlines()
    actual_lines = content.decode().splitlines()
    divergence = first_divergence(expected_values[1:], actual_values[1:], type_field=type_field)
    described = divergence.describe() if divergence is not None else ""
    if divergence is None:  # only the header differs
        found = first_difference(expected_values[0], actual_values[0])
        if found is None:
            found = ("$", MISSING, MISSING)
            described = (
                "the golden holds the same JSON values written differently (spacing, key order or line endings); "
                "goldens are compact JSON with sorted keys, one object per line"
            )
        divergence = Divergence(-1, "golden header", found[0], found[1], found[2])
        described = described or divergence.describe()
    diff = "\n".join(
        list(difflib.unified_diff(expected_lines, actual_lines, "golden", "actual", lineterm="", n=1))[:80]
    )
    raise GoldenMismatch(
        f"{path}: {described}. Run `harness goldens update` (or pytest --harness-update-goldens) "
        "if the change is intended.",
        golden_path=str(path),
        divergence=divergence,
        diff=diff,
    )


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
