"""Declared golden normalization for a user's own event log: volatile paths, ids, coalescing, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from harness.core.events import StoredEvent
from harness.errors import EventLogError
from harness.golden import (
    TEST_OWNER,
    CoalesceDeltas,
    GoldenNormalization,
    dump_golden,
    golden_owner,
    normalize_events,
    normalize_mappings,
)

ROOT = Path(__file__).resolve().parents[2]


def test_without_a_declaration_events_pass_through_as_plain_json() -> None:
    events = [{"type": "a", "items": ("x", 1)}]
    assert normalize_mappings(events) == [{"type": "a", "items": ["x", 1]}]


def test_volatile_paths_become_the_marker_wildcards_included() -> None:
    events = [{"type": "a", "at": 17, "usage": {"in": 3, "out": 4}, "keep": 1}]
    normalization = GoldenNormalization(volatile=["$.at", "$.usage.*"])
    assert normalize_mappings(events, normalization) == [
        {"type": "a", "at": "<volatile>", "usage": {"in": "<volatile>", "out": "<volatile>"}, "keep": 1}
    ]


def test_a_volatile_path_that_matches_nothing_is_not_an_error() -> None:
    assert normalize_mappings([{"type": "a"}], GoldenNormalization(volatile=["$.at"])) == [{"type": "a"}]


def test_id_placeholders_keep_cross_references_between_events() -> None:
    events = [
        {"type": "run.started", "run_id": "run-7f3a"},
        {"type": "tool.requested", "run_id": "run-7f3a", "call": {"id": "c-991"}},
        {"type": "tool.completed", "run_id": "run-7f3a", "call": {"id": "c-991"}},
        {"type": "run.started", "run_id": "run-0b12", "parent": "run-7f3a"},
    ]
    normalization = GoldenNormalization(ids=["$.run_id", "$.parent", "$.call.id"])
    records = normalize_mappings(events, normalization)
    assert [r["run_id"] for r in records] == ["<id-1>", "<id-1>", "<id-1>", "<id-3>"]
    assert records[1]["call"]["id"] == records[2]["call"]["id"] == "<id-2>"
    assert records[3]["parent"] == "<id-1>"


def test_id_numbering_does_not_depend_on_key_order() -> None:
    normalization = GoldenNormalization(ids=["$.a", "$.b"])
    one = normalize_mappings([{"a": "x", "b": "y"}], normalization)
    other = normalize_mappings([{"b": "y", "a": "x"}], normalization)
    assert one == other == [{"a": "<id-1>", "b": "<id-2>"}]


def test_id_patterns_replace_whole_matching_strings_anywhere() -> None:
    events = [{"type": "a", "nested": [{"ref": "req_0a1b2c3d"}], "text": "see req_0a1b2c3d", "other": "req_0a1b2c3d"}]
    records = normalize_mappings(events, GoldenNormalization(id_patterns=[r"req_[0-9a-f]{8}"]))
    assert records[0]["nested"][0]["ref"] == records[0]["other"] == "<id-1>"
    assert records[0]["text"] == "see req_0a1b2c3d"  # an id inside a longer string stays


def test_ids_keep_null_values_and_tell_numbers_from_strings() -> None:
    events = [{"id": 1}, {"id": "1"}, {"id": None}]
    assert normalize_mappings(events, GoldenNormalization(ids=["$.id"])) == [
        {"id": "<id-1>"},
        {"id": "<id-2>"},
        {"id": None},
    ]


def test_volatile_values_do_not_use_up_id_numbers() -> None:
    events = [{"at": "2026-01-01", "id": "x"}]
    normalization = GoldenNormalization(volatile=["$.at"], id_patterns=[r".+"])
    assert normalize_mappings(events, normalization) == [{"at": "<volatile>", "id": "<id-1>"}]


DELTAS = CoalesceDeltas(type="message.delta", text="$.delta.text", group_by=["$.message_id"])


def test_consecutive_deltas_with_equal_group_keys_coalesce_with_a_fragment_count() -> None:
    events = [
        {"type": "message.delta", "message_id": "m1", "delta": {"text": "Hel"}},
        {"type": "message.delta", "message_id": "m1", "delta": {"text": "lo"}},
        {"type": "message.delta", "message_id": "m2", "delta": {"text": "!"}},
        {"type": "message.done", "message_id": "m2"},
        {"type": "message.delta", "message_id": "m2", "delta": {"text": "?"}},
    ]
    records = normalize_mappings(events, GoldenNormalization(coalesce=[DELTAS]))
    assert [(r["type"], r.get("delta")) for r in records] == [
        ("message.delta", {"text": "Hello", "fragments": 2}),
        ("message.delta", {"text": "!", "fragments": 1}),
        ("message.done", None),
        ("message.delta", {"text": "?", "fragments": 1}),
    ]


def test_coalescing_uses_the_declared_type_field_and_count_path() -> None:
    rule = CoalesceDeltas(type="chunk", text="$.text", count="$.meta.n")
    events = [{"kind": "chunk", "text": "a", "meta": {}}, {"kind": "chunk", "text": "b", "meta": {}}]
    records = normalize_mappings(events, GoldenNormalization(coalesce=[rule], type_field="$.kind"))
    assert records == [{"kind": "chunk", "text": "ab", "meta": {"n": 2}}]


def test_a_delta_without_string_text_is_kept_and_ends_the_run() -> None:
    events = [
        {"type": "message.delta", "message_id": "m1", "delta": {"text": "a"}},
        {"type": "message.delta", "message_id": "m1", "delta": {"image": "..."}},
        {"type": "message.delta", "message_id": "m1", "delta": {"text": "b"}},
    ]
    records = normalize_mappings(events, GoldenNormalization(coalesce=[DELTAS]))
    assert [r["delta"] for r in records] == [
        {"text": "a", "fragments": 1},
        {"image": "..."},
        {"text": "b", "fragments": 1},
    ]


def test_a_non_json_value_names_the_event_index_and_json_path() -> None:
    events = [{"type": "a"}, {"type": "b", "meta": {"at": datetime(2026, 1, 1, tzinfo=UTC)}}]
    with pytest.raises(EventLogError) as caught:
        normalize_mappings(events)
    assert (caught.value.index, caught.value.json_path) == (1, "$.meta.at")
    assert str(caught.value).startswith("event 1, $.meta.at: datetime value")
    assert ".isoformat()" in str(caught.value)


@pytest.mark.parametrize(
    ("event", "path"),
    [({"n": float("nan")}, "$.n"), ({"k": {1: "x"}}, "$.k"), ("not a mapping", "$")],
    ids=["nan", "int-key", "not-a-mapping"],
)
def test_other_non_json_inputs_are_located_too(event: object, path: str) -> None:
    with pytest.raises(EventLogError) as caught:
        normalize_mappings([{"ok": 1}, event])
    assert (caught.value.index, caught.value.json_path) == (1, path)


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ({"volatile": ["at"]}, r"must start with '\$'"),
        ({"ids": ["$"]}, "names the whole event"),
        ({"id_patterns": ["("]}, "is not a regular expression"),
        ({"coalesce": [{"type": "d", "text": "$.parts[*]"}]}, "wildcards"),
        ({"coalesce": [{"type": "d", "text": "$.parts[0]"}]}, "declare `count`"),
        ({"coalesce": [{"type": "d", "text": "$.t"}, {"type": "d", "text": "$.u"}]}, "declared twice"),
        ({"volatiles": ["$.at"]}, "Extra inputs are not permitted"),
    ],
    ids=["relative-path", "root-path", "bad-regex", "wildcard-text", "index-text", "twice", "typo"],
)
def test_a_malformed_declaration_is_rejected(declaration: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        GoldenNormalization.model_validate(declaration)


def test_stored_event_goldens_keep_todays_bytes() -> None:
    # The header gains nothing unless asked: every committed scenario golden still matches.
    golden = ROOT / "fixtures/goldens/tool_loop_two_requests.ndjson"
    header = orjson.loads(golden.read_bytes().splitlines()[0])
    assert set(header) == {"deltas", "events", "format", "scenario"}


def test_test_owned_goldens_say_so_in_their_header(tmp_path: Path) -> None:
    event = StoredEvent(1, "event:1", "thread.created", "t", None, "c", 0, {})
    path = tmp_path / "g.ndjson"
    path.write_bytes(dump_golden("g", normalize_events([event]), deltas="coalesced", owner=TEST_OWNER))
    assert golden_owner(path) == "test"
    path.write_bytes(dump_golden("g", normalize_events([event]), deltas="coalesced"))
    assert golden_owner(path) is None
