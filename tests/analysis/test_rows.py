"""Row building without DuckDB: ids and paths, frame columns, exchange numbering."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from harness.analysis import display_path, transcript_id_of
from harness.analysis.rows import collect_rows, recorded_test_rows, transcript_rows
from harness.core.invariants import Violation
from harness.errors import UsageError
from harness.scenario.recorded import EventLog, RecordedTest
from harness.transcript import EmitInbound, ExpectOutbound, RuntimeExit, Transcript, TranscriptHeader

BASE = Path("/repo")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("transcripts/a.ndjson", "transcripts/a.ndjson"),
        ("./transcripts/a.ndjson", "transcripts/a.ndjson"),
        ("scenarios/anthropic/../../transcripts/a.ndjson", "transcripts/a.ndjson"),
        ("/repo/transcripts/a.ndjson", "transcripts/a.ndjson"),
        ("/elsewhere/a.ndjson", "/elsewhere/a.ndjson"),
    ],
    ids=["relative", "dot-prefixed", "through-scenario-dir", "absolute-under-base", "absolute-outside-base"],
)
def test_display_path_is_relative_to_the_base_when_it_can_be(given: str, stored: str) -> None:
    assert display_path(given, BASE) == stored


def _header(protocol: str) -> TranscriptHeader:
    return TranscriptHeader(provider="p", protocol=protocol, version="1", scenario="s")


def test_in_memory_transcript_without_a_path_gets_a_memory_id() -> None:
    transcript = Transcript(header=_header("anthropic.messages"), entries=())
    assert transcript_id_of(transcript, base=BASE) == "memory:s"


def test_stdio_frames_take_kind_from_method_or_type_and_exit_rows_carry_the_status() -> None:
    transcript = Transcript(
        header=_header("codex.app-server"),
        entries=(
            ExpectOutbound(label="initialize", frame={"id": 1, "method": "initialize"}),
            EmitInbound(label="initialize", frame={"id": 1, "result": {}}),
            EmitInbound(frame={"type": "system", "subtype": "init"}, afterMs=12),
            RuntimeExit(status="error", error="boom"),
        ),
        lines=(2, 3, 4, 5),
        path="t.ndjson",
    )
    row, frames = transcript_rows(transcript, "t.ndjson", base=BASE)
    assert [(f["direction"], f["kind"], f["line"], f["after_ms"]) for f in frames] == [
        ("outbound", "initialize", 2, None),
        ("inbound", None, 3, None),
        ("inbound", "system", 4, 12),
        ("exit", "error", 5, None),
    ]
    assert frames[3]["frame"] == {"status": "error", "error": "boom"}
    assert (row["transport"], row["outbound_count"], row["inbound_count"], row["exit_status"]) == (
        "stdio",
        1,
        2,
        "error",
    )


def test_sse_frames_carry_event_name_and_data_type() -> None:
    frame = {"kind": "sse", "event": "content_block_delta", "data": {"type": "content_block_delta", "index": 0}}
    transcript = Transcript(header=_header("anthropic.messages"), entries=(EmitInbound(frame=frame),))
    _, (row,) = transcript_rows(transcript, "t", base=BASE)
    assert (row["kind"], row["sse_event"], row["data_type"]) == ("sse", "content_block_delta", "content_block_delta")


def test_exchanges_start_at_each_outbound_entry_when_there_are_any() -> None:
    start = {"kind": "sse", "event": "message_start", "data": {"type": "message_start"}}
    request = {"kind": "http.request", "method": "POST", "path": "/v1/messages"}
    transcript = Transcript(
        header=_header("anthropic.messages"),
        entries=(
            ExpectOutbound(frame=request),
            EmitInbound(frame=start),
            EmitInbound(frame=start),
            ExpectOutbound(frame=request),
            EmitInbound(frame=start),
        ),
    )
    _, frames = transcript_rows(transcript, "t", base=BASE)
    # With outbound entries, message_start does not open an exchange (the request did).
    assert [f["exchange"] for f in frames] == [1, 1, 1, 2, 2]


def test_exchanges_start_at_each_message_start_in_stream_only_recordings() -> None:
    ping = {"kind": "sse", "event": "ping", "data": {"type": "ping"}}
    start = {"kind": "sse", "event": "message_start", "data": {"type": "message_start"}}
    transcript = Transcript(
        header=_header("anthropic.messages"),
        entries=(EmitInbound(frame=ping), EmitInbound(frame=start), EmitInbound(frame=ping), EmitInbound(frame=start)),
    )
    _, frames = transcript_rows(transcript, "t", base=BASE)
    # Frames before the first start belong to exchange 1.
    assert [f["exchange"] for f in frames] == [1, 1, 1, 2]


# -- recorded tests (harness_results) ------------------------------------------------------------


def _recorded() -> RecordedTest:
    return RecordedTest(
        nodeid="tests/test_app.py::test_loop[x y]",
        status="failed",
        message="boom",
        detail="long text",
        transcripts=["/repo/transcripts/a.ndjson", "transcripts/a.ndjson", "transcripts/b.ndjson"],
        logs={"events": EventLog([{"type": "a"}, {"kind": "b"}]), "other": EventLog([{"kind": "c"}], "$.kind")},
        violations=[("events", Violation("app.seq", "warning", 1, "gap", subject="k", expected=2, found=3))],
        goldens=[("/repo/fixtures/goldens/app.ndjson", "differs")],
    )


def test_a_recorded_test_gives_one_row_per_test_transcript_event_violation_and_golden() -> None:
    rows = recorded_test_rows(_recorded(), position=4, base=BASE)
    assert rows["tests"] == [
        {
            "nodeid": "tests/test_app.py::test_loop[x y]",
            "position": 4,
            "path": "tests/test_app.py",
            "status": "failed",
            "message": "boom",
            "detail": "long text",
            "reproduce": "pytest 'tests/test_app.py::test_loop[x y]'",
        }
    ]
    assert [r["transcript_id"] for r in rows["test_transcripts"]] == ["transcripts/a.ndjson", "transcripts/b.ndjson"]
    assert [(r["log"], r["event_index"], r["type"]) for r in rows["test_events"]] == [
        ("events", 0, "a"),
        ("events", 1, None),
        ("other", 0, "c"),
    ]
    (violation,) = rows["test_violations"]
    assert (violation["rule"], violation["severity"], violation["event_index"], violation["subject"]) == (
        "app.seq",
        "warning",
        1,
        "k",
    )
    assert violation["detail"] == {"run_id": None, "expected": 2, "found": 3}
    assert rows["test_goldens"] == [
        {"nodeid": _recorded().nodeid, "ordinal": 1, "path": "fixtures/goldens/app.ndjson", "outcome": "differs"}
    ]


def test_a_recorded_test_survives_the_xdist_wire() -> None:
    original = _recorded()
    assert RecordedTest.from_wire(orjson.loads(orjson.dumps(original.to_wire()))) == original


def test_a_node_id_recorded_twice_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="recorded twice"):
        collect_rows(transcripts=[], results=[], base=BASE, tests=[_recorded(), _recorded()])
