"""Golden files: normalization, first divergence, create/update/missing, and deliberate breakage."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from harness.adapters.anthropic import AnthropicResponseReader
from harness.adapters.base import ItemCompleted, ItemStarted
from harness.adapters.http_runtime import HttpRuntime
from harness.core.events import StoredEvent
from harness.errors import GoldenMismatch, GoldenMissing
from harness.golden import check_golden, dump_golden, first_divergence, normalize_events, unused_goldens
from harness.scenario import load_scenario, run_scenario
from harness.scenario.runner import Failure

ROOT = Path(__file__).resolve().parents[2]
GOLDENS = ROOT / "fixtures" / "goldens"


def _event(sequence: int, type_: str, **data: object) -> StoredEvent:
    return StoredEvent(sequence, f"event:{sequence}", type_, "t", "t/run-1", "c", 0, dict(data))


def test_native_ids_become_numbered_placeholders_that_keep_references() -> None:
    events = [
        _event(1, "tool_call.requested", native_id="toolu_01ABC", tool_call_id="x"),
        _event(2, "item.completed", item={"native_id": "toolu_01ABC"}, other="msg_0123"),
    ]
    records = normalize_events(events)
    assert records[0]["data"]["native_id"] == "<native-1>"
    assert records[1]["data"]["item"]["native_id"] == "<native-1>"
    assert records[1]["data"]["other"] == "<native-2>"


def test_opaque_blobs_are_replaced() -> None:
    events = [
        _event(1, "item.completed", item={"signature": "EqkECk", "block": {"type": "redacted_thinking", "data": "zz"}})
    ]
    item = normalize_events(events)[0]["data"]["item"]
    assert item["signature"] == "<opaque>"
    assert item["block"]["data"] == "<opaque>"


def test_consecutive_deltas_of_one_item_coalesce_and_full_mode_keeps_them() -> None:
    events = [
        _event(1, "turn-item.delta", turn_item_id="i", field="text", delta="Hel"),
        _event(2, "turn-item.delta", turn_item_id="i", field="text", delta="lo"),
        _event(3, "turn-item.delta", turn_item_id="j", field="text", delta="!"),
    ]
    coalesced = normalize_events(events)
    assert [(r["data"]["delta"], r["data"]["fragments"]) for r in coalesced] == [("Hello", 2), ("!", 1)]
    assert coalesced[0]["sequence"] == 1 and coalesced[0]["last_sequence"] == 2
    assert len(normalize_events(events, deltas="full")) == 3


def test_first_divergence_names_index_type_and_path() -> None:
    expected = [{"type": "a", "data": {"x": 1}}, {"type": "turn-item.delta", "data": {"delta": "abc"}}]
    actual = [{"type": "a", "data": {"x": 1}}, {"type": "turn-item.delta", "data": {"delta": "abd"}}]
    divergence = first_divergence(expected, actual)
    assert divergence is not None
    assert (divergence.index, divergence.event_type, divergence.json_path) == (1, "turn-item.delta", "$.data.delta")


def test_first_divergence_reports_a_missing_event_at_the_end() -> None:
    divergence = first_divergence([{"type": "a"}, {"type": "b"}], [{"type": "a"}])
    assert divergence is not None and divergence.index == 1 and divergence.event_type == "b"


def test_missing_golden_fails_unless_updating(tmp_path: Path) -> None:
    content = dump_golden("s", [{"type": "a"}], deltas="coalesced")
    with pytest.raises(GoldenMissing, match="harness goldens update"):
        check_golden(tmp_path / "s.ndjson", content)
    assert check_golden(tmp_path / "s.ndjson", content, update=True) == "created"
    assert check_golden(tmp_path / "s.ndjson", content) == "matched"


def test_mismatch_raises_with_divergence_and_diff_and_update_rewrites(tmp_path: Path) -> None:
    path = tmp_path / "s.ndjson"
    check_golden(path, dump_golden("s", [{"type": "a", "data": {"n": 1}}], deltas="coalesced"), update=True)
    changed = dump_golden("s", [{"type": "a", "data": {"n": 2}}], deltas="coalesced")
    with pytest.raises(GoldenMismatch) as caught:
        check_golden(path, changed)
    assert "event index 0 (a), $.data.n: expected 1, found 2" in str(caught.value)
    assert caught.value.diff.startswith("--- golden")
    assert check_golden(path, changed, update=True) == "updated"
    assert path.read_bytes() == changed


def test_golden_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    check_golden(tmp_path / "s.ndjson", b"{}\n", update=True)
    assert [p.name for p in tmp_path.iterdir()] == ["s.ndjson"]


def test_unused_goldens_are_those_no_scenario_uses(tmp_path: Path) -> None:
    (tmp_path / "used.ndjson").write_text("{}\n")
    (tmp_path / "stale.ndjson").write_text("{}\n")
    assert unused_goldens(tmp_path, [tmp_path / "used.ndjson"]) == [tmp_path / "stale.ndjson"]


def test_golden_header_records_format_and_mode() -> None:
    header = orjson.loads(dump_golden("s", [], deltas="full").splitlines()[0])
    assert header == {"deltas": "full", "events": 0, "format": "replay-harness.golden/v1", "scenario": "s"}


# -- breaking the adapter or the core on purpose must be caught by the committed goldens ---------


def _golden_failures(name: str) -> list[Failure]:
    scenario = load_scenario(ROOT / "scenarios" / "anthropic" / f"{name}.yaml")
    result = run_scenario(scenario, goldens_dir=GOLDENS)
    return [f for f in result.failures if f.kind == "golden"]


def _run_bundled(name: str) -> list[str]:
    return [f.message for f in _golden_failures(name)]


def test_bundled_golden_passes_unbroken() -> None:
    assert _run_bundled("tool_loop_two_requests") == []


def test_a_dropped_delta_fails_the_golden_at_the_first_divergent_event(monkeypatch: pytest.MonkeyPatch) -> None:
    original = AnthropicResponseReader._block_delta
    seen = {"text": 0}

    def drop_second_text_delta(self, data, frame_index, events):  # type: ignore[no-untyped-def]
        if (data.get("delta") or {}).get("type") == "text_delta":
            seen["text"] += 1
            if seen["text"] == 2:
                return events
        return original(self, data, frame_index, events)

    monkeypatch.setattr(AnthropicResponseReader, "_block_delta", drop_second_text_delta)
    failures = _golden_failures("tool_loop_two_requests")
    assert len(failures) == 1
    text = "Let me search for a tool that can provide current exchange rate information."
    assert (
        f'first divergence at event index 21 (turn-item.delta), $.data.delta: expected "{text}", found "Let"'
        in failures[0].message
    )
    # the coalesced delta of the first text item lost one of its two fragments
    item = '"turn_item_id":"thread-1/run-1/item-2"'
    diff = failures[0].detail.splitlines()
    assert any(line.startswith("-") and f'"fragments":2,{item}' in line for line in diff)
    assert any(line.startswith("+") and f'"fragments":1,{item}' in line for line in diff)


def test_a_reordered_event_fails_the_golden_at_the_first_divergent_event(monkeypatch: pytest.MonkeyPatch) -> None:
    original = HttpRuntime._ingest
    held: list[tuple[object, ...]] = []

    def hold_first_item_completed(self, run, exchange, events):  # type: ignore[no-untyped-def]
        for event in events:
            if isinstance(event, ItemCompleted) and not held and event.item.index == 0:
                held.append((run, exchange, [event]))
                continue
            original(self, run, exchange, [event])
            if held and isinstance(event, ItemStarted):
                original(self, *held.pop())

    monkeypatch.setattr(HttpRuntime, "_ingest", hold_first_item_completed)
    messages = _run_bundled("tool_loop_two_requests")
    assert len(messages) == 1
    # the first text item's completed snapshot comes after the tool call item has started
    assert "first divergence at event index 22 (turn-item.updated)" in messages[0]
