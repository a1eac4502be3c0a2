"""Goldens as streams: GoldenContent gives the bytes dump_golden gives, check_golden compares,
writes and diffs it line by line with the same verdicts as for bytes, and never holds it whole."""

from __future__ import annotations

import difflib
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.core.store import FileEventStore
from harness.errors import GoldenError, GoldenMismatch, GoldenMissing
from harness.golden import check_golden, dump_golden
from harness.golden.normalize import GoldenContent
from harness.scenario import golden_bytes, replay_transcript
from harness.scenario.runner import golden_content

ROOT = Path(__file__).resolve().parents[2]


def _records(count: int, *, change: dict[int, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    records = [{"sequence": n, "type": "item.delta", "data": {"text": f"part {n}"}} for n in range(1, count + 1)]
    for index, record in (change or {}).items():
        records[index] = record
    return records


def _content(records: list[dict[str, Any]]) -> GoldenContent:
    return GoldenContent("s", lambda: iter(records), "coalesced")


def _mismatch(path: Path, content: bytes | GoldenContent) -> GoldenMismatch:
    with pytest.raises(GoldenMismatch) as caught:
        check_golden(path, content)
    return caught.value


@pytest.mark.parametrize("count", [0, 1, 5])
def test_golden_content_lines_are_the_bytes_of_dump_golden(count: int) -> None:
    records = _records(count)
    for owner in (None, "test"):
        content = GoldenContent("s", lambda: iter(records), "coalesced", owner)
        assert b"".join(content.lines()) == dump_golden("s", records, deltas="coalesced", owner=owner)


def test_a_streamed_golden_is_created_matched_and_updated_like_bytes(tmp_path: Path) -> None:
    path = tmp_path / "g.ndjson"
    with pytest.raises(GoldenMissing):
        check_golden(path, _content(_records(3)))
    assert check_golden(path, _content(_records(3)), update=True) == "created"
    assert path.read_bytes() == dump_golden("s", _records(3), deltas="coalesced")
    assert check_golden(path, _content(_records(3))) == "matched"
    assert check_golden(path, _content(_records(4)), update=True) == "updated"
    assert path.read_bytes() == dump_golden("s", _records(4), deltas="coalesced")


@pytest.mark.parametrize(
    ("golden", "actual"),
    [
        (_records(30), _records(30, change={20: {"sequence": 21, "type": "item.delta", "data": {"text": "x"}}})),
        (_records(30), _records(25)),  # events missing at the end: the header differs too
        (_records(25), _records(30)),  # events added
        (_records(30), _records(30, change={0: {"sequence": 1, "type": "other", "data": {}}})),
    ],
    ids=["changed-event", "fewer-events", "more-events", "first-event"],
)
def test_a_streamed_mismatch_names_the_same_divergence_as_bytes(
    tmp_path: Path, golden: list[dict[str, Any]], actual: list[dict[str, Any]]
) -> None:
    path = tmp_path / "g.ndjson"
    path.write_bytes(dump_golden("s", golden, deltas="coalesced"))
    from_bytes = _mismatch(path, dump_golden("s", actual, deltas="coalesced"))
    streamed = _mismatch(path, _content(actual))
    assert streamed.divergence == from_bytes.divergence
    assert str(streamed) == str(from_bytes)
    assert streamed.diff == from_bytes.diff


def test_the_diff_of_a_late_divergence_is_numbered_as_in_the_whole_files(tmp_path: Path) -> None:
    golden = dump_golden("s", _records(2000), deltas="coalesced")
    changed = _records(2000, change={1500: {"sequence": 1501, "type": "item.delta", "data": {"text": "x"}}})
    actual = dump_golden("s", changed, deltas="coalesced")
    path = tmp_path / "g.ndjson"
    path.write_bytes(golden)
    whole = difflib.unified_diff(
        golden.decode().splitlines(), actual.decode().splitlines(), "golden", "actual", lineterm="", n=1
    )
    mismatch = _mismatch(path, _content(changed))
    assert "@@ -1501,3 +1501,3 @@" in mismatch.diff
    assert mismatch.diff == "\n".join(list(whole)[:80])
    assert mismatch.divergence.index == 1500


def test_only_the_header_differs_names_the_header(tmp_path: Path) -> None:
    path = tmp_path / "g.ndjson"
    path.write_bytes(dump_golden("other-name", _records(3), deltas="coalesced"))
    mismatch = _mismatch(path, _content(_records(3)))
    assert mismatch.divergence.index == -1
    assert mismatch.divergence.json_path == "$.scenario"


def test_values_written_differently_are_a_mismatch_that_says_so(tmp_path: Path) -> None:
    path = tmp_path / "g.ndjson"
    lines = dump_golden("s", _records(3), deltas="coalesced").splitlines()
    lines[2] = orjson.dumps(orjson.loads(lines[2]), option=orjson.OPT_INDENT_2).replace(b"\n", b" ")
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert "written differently" in str(_mismatch(path, _content(_records(3))))


def test_a_corrupt_line_after_the_divergence_is_still_named(tmp_path: Path) -> None:
    path = tmp_path / "g.ndjson"
    lines = dump_golden("s", _records(6), deltas="coalesced").splitlines()
    lines[2] = b'{"sequence": 99}'
    lines[5] = b"{not json"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(GoldenError) as caught:
        check_golden(path, _content(_records(6)))
    assert caught.value.line == 6


def test_an_empty_golden_is_named_as_empty_when_streamed(tmp_path: Path) -> None:
    path = tmp_path / "g.ndjson"
    path.write_bytes(b"")
    with pytest.raises(GoldenError, match="the golden file is empty"):
        check_golden(path, _content(_records(2)))


def _lazy_records(count: int) -> Iterator[dict[str, Any]]:
    for n in range(1, count + 1):
        yield {"sequence": n, "type": "item.delta", "data": {"text": f"fragment number {n} " * 4}}


@pytest.mark.parametrize("update", [True, False], ids=["write", "compare"])
def test_a_long_golden_is_written_and_compared_in_flat_memory(tmp_path: Path, update: bool) -> None:
    count = 40_000  # about 4 MB of golden
    path = tmp_path / "g.ndjson"
    content = GoldenContent("s", lambda: _lazy_records(count), "coalesced")
    if not update:
        check_golden(path, content, update=True)
    tracemalloc.start()
    try:
        assert check_golden(path, content, update=update) == ("created" if update else "matched")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert path.stat().st_size > 3_000_000
    assert peak < 500_000, f"peak {peak} bytes while streaming a {path.stat().st_size}-byte golden"


def test_a_spilled_replay_is_checked_against_its_golden_from_the_store(tmp_path: Path) -> None:
    transcript = ROOT / "transcripts" / "anthropic" / "anthropic-sdk" / "tool_use_response.ndjson"
    in_memory = golden_bytes(replay_transcript(transcript))
    execution = replay_transcript(transcript, store=FileEventStore(tmp_path / "events.ndjson"))
    path = tmp_path / "g.ndjson"
    path.write_bytes(in_memory)
    assert check_golden(path, golden_content(execution)) == "matched"
