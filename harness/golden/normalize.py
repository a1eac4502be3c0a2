"""Normalize an event log for a golden file: stable, minimal, free of volatile values.

* ``event_id`` is dropped (it is derived from ``sequence``).
* Provider-native ids (Anthropic ``msg_…``, ``toolu_…``, ``srvtoolu_…``, ``mcptoolu_…``, ``req_…``;
  OpenAI ``resp_…``, ``rs_…``, ``fc_…``, ``call_…``, ``ws_…``, ``ct_…``, ``chatcmpl-…``; OpenRouter ``gen-…``) become
  ``<native-N>``, numbered by first appearance, so references between events survive.
* Opaque provider blobs (``signature``, ``encrypted_content``, ``encrypted_index``,
  ``obfuscation``, the ``data`` of a ``redacted_thinking`` block) become ``<opaque>``.
* Agent-runtime UUIDs (Codex thread, turn and item ids; Claude session and message uuids) are
  native ids too.
* In ``coalesced`` mode, consecutive ``turn-item.delta`` events of one item and field merge into
  one event with the concatenated ``delta`` and a ``fragments`` count; ``full`` keeps every delta.
* Keys are sorted when serialized.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from harness.core.events import StoredEvent
from harness.text import TextBuffer

GOLDEN_FORMAT = "replay-harness.golden/v1"
#: The header ``owner`` of goldens written by ``harness_golden.assert_match``. Only a test run
#: knows whether such a golden is still used, so ``harness goldens update --prune`` keeps them.
TEST_OWNER = "test"
# Anthropic: msg_, toolu_, srvtoolu_, mcptoolu_, req_. OpenAI: resp_, msg_, rs_, fc_, call_, ws_,
# ct_, ctc_, chatcmpl-; OpenRouter gen-. Ids are volatile across recordings; their cross-references are not.
# Agent runtimes: UUIDs (Codex thread/turn/item ids, Claude session and message uuids).
NATIVE_ID = re.compile(
    r"^(?:(?:msg|toolu|srvtoolu|mcptoolu|req|resp|rs|fc|call|ws|ct|ctc)_[A-Za-z0-9_\-]+|(?:chatcmpl|gen)-[A-Za-z0-9_\-]+"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
OPAQUE_KEYS = frozenset({"signature", "encrypted_content", "encrypted_index", "obfuscation"})
COALESCED_KINDS = frozenset({"text", "reasoning", "arguments"})
#: Delta event type -> (item id key, part key, text key): consecutive deltas of one item part merge.
DELTA_EVENTS: dict[str, tuple[str, str, str]] = {
    "turn-item.delta": ("turn_item_id", "field", "delta"),
}


class _Placeholders:
    def __init__(self) -> None:
        self.map: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        if value not in self.map:
            self.map[value] = f"<native-{len(self.map) + 1}>"
        return self.map[value]


def _scrub(value: Any, ids: _Placeholders, parent: dict[str, Any] | None = None, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v, ids, value, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, ids) for v in value]
    if isinstance(value, str):
        if key in OPAQUE_KEYS and value:
            return "<opaque>"
        if key == "data" and parent is not None and parent.get("type") == "redacted_thinking":
            return "<opaque>"
        if NATIVE_ID.match(value):
            return ids(value)
    return value


def iter_normalized(
    events: Iterable[StoredEvent], *, deltas: Literal["coalesced", "full"] = "coalesced"
) -> Iterator[dict[str, Any]]:
    """The golden view of an event log, one JSON object at a time (see the module docstring).

    Streaming and linear in the log: consecutive deltas are merged first (their fragments kept
    in a list and joined once), and only the merged record is scrubbed, so a million-delta log
    costs one scrub per merged record, not one per delta.
    """
    ids = _Placeholders()
    run: dict[str, Any] | None = None  # the delta record being merged, its data not yet scrubbed
    parts = TextBuffer()
    run_keys: tuple[str, Any, Any] | None = None
    for event in events:
        merge = DELTA_EVENTS.get(event.type) if deltas == "coalesced" else None
        if merge is not None:
            item_key, part_key, text_key = merge
            keys = (event.type, event.data[item_key], event.data[part_key])
            if run is not None and keys == run_keys:
                parts.append(event.data.get(text_key, ""))
                run["data"]["fragments"] += 1
                run["last_sequence"] = event.sequence
                continue
            if run is not None:
                yield _finish_run(run, parts, ids)
            run_keys = keys
            parts = TextBuffer(event.data.get(text_key, ""))
            run = _record(event, {**event.data, "fragments": 1})
            run["last_sequence"] = event.sequence
            continue
        if run is not None:
            yield _finish_run(run, parts, ids)
            run = None
        record = _record(event, event.data)
        record["data"] = _scrub(record["data"], ids)
        yield record
    if run is not None:
        yield _finish_run(run, parts, ids)


def _record(event: StoredEvent, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "sequence": event.sequence,
        "type": event.type,
        "thread_id": event.thread_id,
        "run_id": event.run_id,
        "command_id": event.command_id,
        "at_ms": event.at_ms,
        "data": data,
    }


def _finish_run(run: dict[str, Any], parts: TextBuffer, ids: _Placeholders) -> dict[str, Any]:
    """A merged delta record: its fragments joined into its text key, then scrubbed once."""
    text_key = DELTA_EVENTS[run["type"]][2]
    if text_key in run["data"] or run["data"]["fragments"] > 1:
        run["data"][text_key] = parts.text
    run["data"] = _scrub(run["data"], ids)
    return run


def normalize_events(
    events: Iterable[StoredEvent], *, deltas: Literal["coalesced", "full"] = "coalesced"
) -> list[dict[str, Any]]:
    """The golden view of an event log, as a list of JSON objects (see :func:`iter_normalized`)."""
    return list(iter_normalized(events, deltas=deltas))


def golden_header(scenario: str, count: int, *, deltas: str | None, owner: str | None = None) -> bytes:
    """A golden file's first line: format, scenario, event count, and ``deltas``/``owner`` when set."""
    header: dict[str, Any] = {"format": GOLDEN_FORMAT, "scenario": scenario, "events": count}
    if deltas is not None:
        header["deltas"] = deltas
    if owner is not None:
        header["owner"] = owner
    return orjson.dumps(header, option=orjson.OPT_SORT_KEYS) + b"\n"


@dataclass(frozen=True, slots=True)
class GoldenContent:
    """A golden file's content produced on demand, for a log too long to hold as bytes.

    ``records`` returns a fresh iterable of normalized records on every call (for example
    ``lambda: iter_normalized(execution.iter_events())``); :func:`~harness.golden.check_golden`
    compares, writes or diffs by iterating it, one line at a time. The header's event count is
    known only after the records, so producing the whole file takes two passes.
    """

    scenario: str
    records: Callable[[], Iterable[dict[str, Any]]]
    deltas: str | None = None
    owner: str | None = None

    def header(self, count: int) -> bytes:
        return golden_header(self.scenario, count, deltas=self.deltas, owner=self.owner)

    def event_lines(self) -> Iterator[bytes]:
        """Every line after the header, newline included."""
        for record in self.records():
            yield orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)

    def lines(self) -> Iterator[bytes]:
        """Every line of the file: a counting pass, then the header and the events."""
        count = sum(1 for _ in self.records())
        yield self.header(count)
        yield from self.event_lines()


def dump_golden(scenario: str, records: list[dict[str, Any]], *, deltas: str | None, owner: str | None = None) -> bytes:
    """Serialize a golden file: a header line, then one sorted-key JSON object per event.

    ``deltas`` is the built-in normalization's mode (``None`` for a log of plain mappings, whose
    normalization is declared); ``owner`` marks who keeps the golden (``"test"``: a
    ``harness_golden.assert_match`` call, see :data:`TEST_OWNER`). Either is left out when ``None``.
    :class:`GoldenContent` produces the same bytes one line at a time.
    """
    return b"".join(GoldenContent(scenario, lambda: records, deltas, owner).lines())
