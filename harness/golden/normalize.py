"""Normalize an event log for a golden file: stable, minimal, free of volatile values.

* ``event_id`` is dropped (it is derived from ``sequence``).
* Provider-native ids (Anthropic ``msg_…``, ``toolu_…``, ``srvtoolu_…``, ``mcptoolu_…``, ``req_…``;
  OpenAI ``resp_…``, ``rs_…``, ``fc_…``, ``call_…``, ``ws_…``, ``ct_…``, ``chatcmpl-…``; OpenRouter ``gen-…``) become
  ``<native-N>``, numbered by first appearance, so references between events survive.
* Opaque provider blobs (``signature``, ``encrypted_content``, ``encrypted_index``,
  ``obfuscation``, the ``data`` of a ``redacted_thinking`` block) become ``<opaque>``.
* Agent-runtime UUIDs (Codex thread, turn and item ids; Claude session and message uuids) are
  native ids too.
* In ``coalesced`` mode, consecutive ``item.delta`` events of one item and kind merge into one
  event with the concatenated ``text`` and a ``fragments`` count, and consecutive
  ``turn-item.delta`` events of one item and field into one with the concatenated ``delta``;
  ``full`` keeps every delta.
* Keys are sorted when serialized.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

import orjson

from harness.core.events import StoredEvent

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
    "item.delta": ("item_id", "kind", "text"),
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


def normalize_events(
    events: Iterable[StoredEvent], *, deltas: Literal["coalesced", "full"] = "coalesced"
) -> list[dict[str, Any]]:
    """The golden view of an event log, as a list of JSON objects."""
    ids = _Placeholders()
    out: list[dict[str, Any]] = []
    for event in events:
        record = {
            "sequence": event.sequence,
            "type": event.type,
            "thread_id": event.thread_id,
            "run_id": event.run_id,
            "command_id": event.command_id,
            "at_ms": event.at_ms,
            "data": _scrub(event.data, ids),
        }
        merge = DELTA_EVENTS.get(event.type) if deltas == "coalesced" else None
        if merge is not None and (event.type != "item.delta" or event.data.get("kind") in COALESCED_KINDS):
            item_key, part_key, text_key = merge
            previous = out[-1] if out else None
            if (
                previous is not None
                and previous["type"] == event.type
                and previous["data"][item_key] == event.data[item_key]
                and previous["data"][part_key] == event.data[part_key]
            ):
                previous["data"][text_key] += event.data.get(text_key, "")
                previous["data"]["fragments"] += 1
                previous["last_sequence"] = event.sequence
                continue
            record["data"]["fragments"] = 1
            record["last_sequence"] = event.sequence
        out.append(record)
    return out


def dump_golden(scenario: str, records: list[dict[str, Any]], *, deltas: str | None, owner: str | None = None) -> bytes:
    """Serialize a golden file: a header line, then one sorted-key JSON object per event.

    ``deltas`` is the built-in normalization's mode (``None`` for a log of plain mappings, whose
    normalization is declared); ``owner`` marks who keeps the golden (``"test"``: a
    ``harness_golden.assert_match`` call, see :data:`TEST_OWNER`). Either is left out when ``None``.
    """
    header: dict[str, Any] = {"format": GOLDEN_FORMAT, "scenario": scenario, "events": len(records)}
    if deltas is not None:
        header["deltas"] = deltas
    if owner is not None:
        header["owner"] = owner
    lines = [orjson.dumps(header, option=orjson.OPT_SORT_KEYS)]
    lines.extend(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in records)
    return b"\n".join(lines) + b"\n"
