"""Golden normalization for any event log, declared as data: :class:`GoldenNormalization`.

The built-in normalization (:mod:`harness.golden.normalize`) knows this harness's own events. A
user's orchestrator has its own volatile values and ids, so for a log of plain mappings the test
declares them::

    GoldenNormalization(
        volatile=["$.timestamp", "$.usage.*"],          # value -> "<volatile>"
        ids=["$.run_id", "$.parent_run_id"],            # value -> "<id-N>", by first appearance
        id_patterns=[r"req_[0-9a-f]{8}"],               # any whole string matching -> "<id-N>"
        coalesce=[CoalesceDeltas(type="message.delta", text="$.delta", group_by=["$.message_id"])],
    )

:func:`normalize_mappings` applies a declaration in a fixed order -- coalesce, then volatile
paths, then ids -- so a volatile or id value never decides what merges, and volatile values never
use up an id number. Ids are numbered walking the log in order and each event's keys in sorted
order, so the numbering does not depend on how the mappings were built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.core.event_log import ConcretePath, JsonObject, concrete_path, json_event_log, locate, value_at
from harness.errors import EventLogError, UsageError
from harness.limits import format_json_path
from harness.replay.matcher import MISSING, WILDCARD, Segment, parse_json_path
from harness.text import TextBuffer

VOLATILE_MARKER: Final = "<volatile>"


def _path(value: str, *, concrete: bool) -> str:
    try:
        segments = concrete_path(value) if concrete else parse_json_path(value)
    except UsageError as exc:
        raise ValueError(str(exc)) from None
    if not segments:
        raise ValueError(f"JSON path {value!r} names the whole event; name a field inside it")
    return value


class CoalesceDeltas(BaseModel):
    """Merge runs of consecutive delta events into one, concatenating their text.

    Consecutive events whose type (at :attr:`GoldenNormalization.type_field`) is :attr:`type`,
    whose :attr:`text` is a string, and whose :attr:`group_by` values are equal (a missing value
    equals a missing value) become the first of them, with the texts concatenated in order and the
    number of merged events at :attr:`count` (default: a ``fragments`` key beside the text). An
    event of that type without a string at :attr:`text` is kept as it is and ends the run.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str = Field(min_length=1)
    text: str
    group_by: tuple[str, ...] = ()
    count: str | None = None

    @field_validator("text", "count")
    @classmethod
    def _concrete(cls, value: str | None) -> str | None:
        return None if value is None else _path(value, concrete=True)

    @field_validator("group_by")
    @classmethod
    def _concrete_all(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_path(v, concrete=True) for v in value)

    @model_validator(mode="after")
    def _count_has_a_home(self) -> CoalesceDeltas:
        if self.count is None and isinstance(concrete_path(self.text)[-1], int):
            raise ValueError(
                f"text {self.text!r} ends in a list index; declare `count`, the path of the fragment count"
            )
        return self

    def count_path(self) -> ConcretePath:
        if self.count is not None:
            return concrete_path(self.count)
        return (*concrete_path(self.text)[:-1], "fragments")


class GoldenNormalization(BaseModel):
    """What to normalize in a user's event log before it is compared with a golden file.

    * ``volatile``: JSON paths (``*`` allowed) whose values become ``"<volatile>"``;
    * ``ids``: JSON paths (``*`` allowed) whose non-null values become ``"<id-N>"``;
    * ``id_patterns``: regular expressions; any string value that matches one *as a whole*
      (:func:`re.fullmatch`) becomes ``"<id-N>"``. The same value always gets the same ``N``,
      numbered by first appearance, so references between events survive;
    * ``coalesce``: delta event types to merge (:class:`CoalesceDeltas`);
    * ``type_field``: where an event's type is (for ``coalesce`` and for naming the event at a
      divergence), default ``$.type``.

    Paths are relative to each event (``$`` is the event). A path that matches nothing in an event
    is not an error.

    >>> GoldenNormalization(volatile=["$.at"], ids=["$.id"]).volatile
    ('$.at',)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    volatile: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    id_patterns: tuple[str, ...] = ()
    coalesce: tuple[CoalesceDeltas, ...] = ()
    type_field: str = "$.type"

    @field_validator("volatile", "ids")
    @classmethod
    def _paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_path(v, concrete=False) for v in value)

    @field_validator("type_field")
    @classmethod
    def _type_path(cls, value: str) -> str:
        return _path(value, concrete=True)

    @field_validator("id_patterns")
    @classmethod
    def _patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"id pattern {pattern!r} is not a regular expression: {exc}") from None
        return value

    @field_validator("coalesce")
    @classmethod
    def _one_rule_per_type(cls, value: tuple[CoalesceDeltas, ...]) -> tuple[CoalesceDeltas, ...]:
        seen: set[str] = set()
        for rule in value:
            if rule.type in seen:
                raise ValueError(f"event type {rule.type!r} is declared twice; merge the declarations")
            seen.add(rule.type)
        return value


class _Ids:
    """``<id-N>`` placeholders keyed by the value's JSON text (so ``1`` and ``"1"`` differ)."""

    def __init__(self) -> None:
        self.numbers: dict[bytes, str] = {}

    def __call__(self, value: Any) -> str:
        key = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        if key not in self.numbers:
            self.numbers[key] = f"<id-{len(self.numbers) + 1}>"
        return self.numbers[key]


def _matches(at: ConcretePath, pattern: tuple[Segment, ...]) -> bool:
    return len(at) == len(pattern) and all(p is WILDCARD or p == a for a, p in zip(at, pattern, strict=True))


def _replace_ids(
    value: Any,
    at: ConcretePath,
    paths: list[tuple[Segment, ...]],
    patterns: list[re.Pattern[str]],
    ids: _Ids,
) -> Any:
    if value is None or value == VOLATILE_MARKER:  # nothing to number: no reference, or already masked
        return value
    if at and any(_matches(at, p) for p in paths):
        return ids(value)
    if isinstance(value, dict):
        # Sorted keys: the numbering must not depend on how the caller built the mapping.
        replaced = {key: _replace_ids(value[key], (*at, key), paths, patterns, ids) for key in sorted(value)}
        return {key: replaced[key] for key in value}
    if isinstance(value, list):
        return [_replace_ids(item, (*at, i), paths, patterns, ids) for i, item in enumerate(value)]
    if isinstance(value, str) and any(p.fullmatch(value) for p in patterns):
        return ids(value)
    return value


def _coalesce(records: list[JsonObject], normalization: GoldenNormalization) -> list[JsonObject]:
    rules = {rule.type: rule for rule in normalization.coalesce}
    type_path = concrete_path(normalization.type_field)
    out: list[JsonObject] = []
    # The open run of fragments: (rule type, group values), where its text goes, its fragments.
    # Fragments are joined once when the run ends, so a long run stays linear.
    run: tuple[str, tuple[Any, ...]] | None = None
    run_text: tuple[Any, Segment] | None = None
    fragments = TextBuffer()
    count = 0

    def close() -> None:
        if run_text is not None and count > 1:
            parent, key = run_text
            parent[key] = fragments.text

    for index, record in enumerate(records):
        event_type = value_at(record, type_path)
        rule = rules.get(event_type) if isinstance(event_type, str) else None
        text_path = concrete_path(rule.text) if rule is not None else ()
        text = value_at(record, text_path) if rule is not None else MISSING
        if rule is None or not isinstance(text, str):
            close()
            run, run_text, fragments, count = None, None, TextBuffer(), 0
            out.append(record)
            continue
        group = tuple(value_at(record, concrete_path(p)) for p in rule.group_by)
        count_path = rule.count_path()
        if out and run == (rule.type, group):
            fragments.append(text)
            count += 1
            count_parent = value_at(out[-1], count_path[:-1])
            count_parent[count_path[-1]] += 1
            continue
        count_parent = value_at(record, count_path[:-1])
        if not isinstance(count_parent, dict):
            raise EventLogError(
                f"cannot hold the fragment count of a coalesced {rule.type!r} event (declared count "
                f"{format_json_path(count_path)}); point `count` at a key of an object",
                index=index,
                json_path=format_json_path(count_path[:-1]),
                value=count_parent,
            )
        close()
        count_parent[count_path[-1]] = 1
        out.append(record)
        run = (rule.type, group)
        run_text = (value_at(record, text_path[:-1]), text_path[-1])
        fragments, count = TextBuffer(text), 1
    close()
    return out


def normalize_mappings(events: Iterable[Any], normalization: GoldenNormalization | None = None) -> list[JsonObject]:
    """The golden view of a log of JSON-able mappings under ``normalization``.

    Raises :class:`~harness.errors.EventLogError` (event index, JSON path) for an event that is not
    a mapping or a value that is not JSON.

    >>> normalize_mappings(
    ...     [{"type": "run", "id": "r-9", "at": 17}, {"type": "done", "run": "r-9", "at": 18}],
    ...     GoldenNormalization(volatile=["$.at"], ids=["$.id", "$.run"]),
    ... )
    [{'type': 'run', 'id': '<id-1>', 'at': '<volatile>'}, {'type': 'done', 'run': '<id-1>', 'at': '<volatile>'}]
    """
    normalization = normalization or GoldenNormalization()
    records = json_event_log(events)
    if normalization.coalesce:
        records = _coalesce(records, normalization)
    volatile = [parse_json_path(p) for p in normalization.volatile]
    for record in records:
        for pattern in volatile:
            for at in list(locate(record, pattern)):
                parent = value_at(record, at[:-1])
                parent[at[-1]] = VOLATILE_MARKER
    if normalization.ids or normalization.id_patterns:
        ids = _Ids()
        paths = [parse_json_path(p) for p in normalization.ids]
        patterns = [re.compile(p) for p in normalization.id_patterns]
        records = [_replace_ids(record, (), paths, patterns, ids) for record in records]
    return records
