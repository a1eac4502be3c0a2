"""Golden files on disk: compare, report the first divergence, create and update atomically."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from harness.core.event_log import concrete_path, value_at
from harness.errors import GoldenMismatch, GoldenMissing
from harness.replay.matcher import MISSING, first_difference, short_json
from harness.transcript.io import write_atomic


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


def check_golden(path: Path, content: bytes, *, update: bool = False, type_field: str = "$.type") -> GoldenOutcome:
    """Compare ``content`` with the golden at ``path``; write it when ``update`` is set.

    Raises :class:`GoldenMissing` or :class:`GoldenMismatch` (with the first divergence and a
    unified diff) when not updating. ``type_field`` is where an event names its type, for the
    divergence message.
    """
    if not path.exists():
        if update:
            write_atomic(path, content, force=True)
            return "created"
        raise GoldenMissing(str(path))
    existing = path.read_bytes()
    if existing == content:
        return "matched"
    if update:
        write_atomic(path, content, force=True)
        return "updated"
    expected_lines = existing.decode().splitlines()
    actual_lines = content.decode().splitlines()
    expected = [orjson.loads(line) for line in expected_lines[1:]]
    actual = [orjson.loads(line) for line in actual_lines[1:]]
    divergence = first_divergence(expected, actual, type_field=type_field)
    if divergence is None:  # only the header differs
        found = first_difference(orjson.loads(expected_lines[0]), orjson.loads(actual_lines[0]))
        assert found is not None
        divergence = Divergence(-1, "golden header", found[0], found[1], found[2])
    diff = "\n".join(
        list(difflib.unified_diff(expected_lines, actual_lines, "golden", "actual", lineterm="", n=1))[:80]
    )
    raise GoldenMismatch(
        f"{path}: {divergence.describe()}. Run `harness goldens update` (or pytest --harness-update-goldens) "
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
        with open(path, "rb") as handle:
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
    return sorted(p for p in goldens_dir.rglob("*.ndjson") if p.resolve() not in used_resolved)
