"""Reading and writing transcript NDJSON: errors name the file and line; writing never clobbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.errors import TranscriptError, UsageError
from harness.transcript import (
    EmitInbound,
    ExpectOutbound,
    RuntimeExit,
    TranscriptHeader,
    dump_transcript,
    iter_records,
    parse_transcript,
    read_transcript,
    write_transcript,
)
from harness.transcript.protocols import known_protocols

ANTHROPIC = {
    "type": "transcript_start",
    "provider": "anthropic",
    "protocol": "anthropic.messages",
    "version": "1",
    "scenario": "s",
}
CODEX = {**ANTHROPIC, "provider": "codex", "protocol": "codex.app-server"}


def ndjson(*records: Any) -> str:
    return "\n".join(r if isinstance(r, str) else orjson.dumps(r).decode() for r in records) + "\n"


def read_error(text: str) -> TranscriptError:
    with pytest.raises(TranscriptError) as raised:
        parse_transcript(text, path="bad.ndjson")
    return raised.value


SSE_DONE = {"type": "emit_inbound", "frame": {"kind": "sse.done"}}


# -- errors --------------------------------------------------------------------------------------


def test_a_malformed_line_names_the_file_and_line() -> None:
    error = read_error(ndjson(ANTHROPIC, SSE_DONE, '{"type": "emit_inbound", "frame": '))
    assert (error.path, error.line) == ("bad.ndjson", 3)
    assert str(error).startswith("bad.ndjson:3: not valid JSON")


def test_a_line_that_is_not_an_object_is_an_error() -> None:
    error = read_error(ndjson(ANTHROPIC, [1, 2]))
    assert (error.line, error.reason) == (2, "expected a JSON object, found list")


def test_a_missing_header_is_an_error_on_line_one() -> None:
    error = read_error(ndjson(SSE_DONE))
    assert error.line == 1
    assert error.reason == "the first record must be transcript_start, found 'emit_inbound'"


def test_the_header_must_be_the_first_record() -> None:
    error = read_error(ndjson(SSE_DONE, ANTHROPIC))
    assert (error.line, error.reason) == (1, "the first record must be transcript_start, found 'emit_inbound'")


def test_a_second_header_is_an_error() -> None:
    error = read_error(ndjson(ANTHROPIC, SSE_DONE, ANTHROPIC))
    assert (error.line, error.reason) == (3, "transcript_start may only appear on the first line")


def test_an_empty_file_is_an_error() -> None:
    error = read_error("\n\n")
    assert error.reason == "empty transcript: expected a transcript_start line"


def test_an_unknown_protocol_lists_the_known_ones() -> None:
    error = read_error(ndjson({**ANTHROPIC, "protocol": "gemini.generate"}))
    assert error.line == 1
    assert "unknown protocol 'gemini.generate'" in error.reason
    assert f"known protocols: {', '.join(known_protocols())}" in error.reason
    assert {"anthropic.messages", "codex.app-server", "claude-agent-sdk.query"} <= set(known_protocols())


def test_a_bad_http_frame_names_the_frame_path() -> None:
    error = read_error(ndjson(ANTHROPIC, {"type": "emit_inbound", "frame": {"kind": "sse"}}))
    assert error.line == 2
    assert error.reason.startswith("$.frame")
    assert "data: Field required" in error.reason


def test_an_unknown_http_frame_kind_names_the_frame_path() -> None:
    error = read_error(ndjson(ANTHROPIC, {"type": "expect_outbound", "frame": {"kind": "carrier-pigeon"}}))
    assert error.reason.startswith("$.frame: ")
    assert "'carrier-pigeon'" in error.reason


def test_stdio_frames_are_not_checked_as_http_frames() -> None:
    transcript = parse_transcript(ndjson(CODEX, {"type": "emit_inbound", "frame": {"kind": "sse"}}))
    assert transcript.entries[0].frame == {"kind": "sse"}


def test_an_unknown_record_type_is_an_error() -> None:
    error = read_error(ndjson(ANTHROPIC, {"type": "emit_outbound", "frame": {}}))
    assert error.line == 2
    assert "'emit_outbound'" in error.reason


def test_unknown_fields_in_our_records_are_errors() -> None:
    error = read_error(ndjson(ANTHROPIC, {**SSE_DONE, "colour": "red"}))
    assert "colour" in error.reason and "Extra inputs are not permitted" in error.reason


def test_a_negative_after_ms_is_an_error() -> None:
    error = read_error(ndjson(ANTHROPIC, {**SSE_DONE, "afterMs": -5}))
    assert "afterMs" in error.reason


def test_a_missing_file_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no such transcript file"):
        read_transcript(Path("does/not/exist.ndjson"))


def test_errors_from_a_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.ndjson"
    path.write_text(ndjson(ANTHROPIC, "nope"), encoding="utf-8")
    with pytest.raises(TranscriptError) as raised:
        read_transcript(path)
    assert (raised.value.path, raised.value.line) == (str(path), 2)


# -- reading -------------------------------------------------------------------------------------


def test_blank_lines_are_skipped_but_still_counted() -> None:
    text = (
        ndjson(ANTHROPIC) + "\n   \n" + ndjson(SSE_DONE) + "\n" + ndjson({"type": "runtime_exit", "status": "success"})
    )
    transcript = parse_transcript(text, path="t.ndjson")
    assert len(transcript.entries) == 2
    assert transcript.lines == (4, 6)
    assert transcript.line_of(1) == 6


def test_an_error_after_blank_lines_names_the_real_line() -> None:
    error = read_error(ndjson(ANTHROPIC) + "\n\n" + "[]\n")
    assert error.line == 4


def test_entries_keep_their_label_and_after_ms() -> None:
    transcript = parse_transcript(ndjson(ANTHROPIC, {**SSE_DONE, "label": "done", "afterMs": 12}))
    (entry,) = transcript.entries
    assert isinstance(entry, EmitInbound)
    assert (entry.label, entry.after_ms) == ("done", 12)


def test_iter_records_streams_line_numbers_and_records() -> None:
    records = list(iter_records([orjson.dumps(ANTHROPIC), b"", orjson.dumps(SSE_DONE)]))
    assert [(line, type(record).__name__) for line, record in records] == [(1, "TranscriptHeader"), (3, "EmitInbound")]


def test_has_outbound_tells_stream_only_transcripts_apart() -> None:
    assert parse_transcript(ndjson(ANTHROPIC, SSE_DONE)).has_outbound is False
    request = {"type": "expect_outbound", "frame": {"kind": "http.request", "method": "POST", "path": "/v1/messages"}}
    assert parse_transcript(ndjson(ANTHROPIC, request, SSE_DONE)).has_outbound is True


# -- writing -------------------------------------------------------------------------------------

HEADER = TranscriptHeader(provider="codex", protocol="codex.app-server", version="1", scenario="w")
ENTRIES = (
    ExpectOutbound(label="init", frame={"id": 1, "method": "initialize"}),
    EmitInbound(frame={"id": 1, "result": {}}, after_ms=5),
    RuntimeExit(status="success"),
)


def test_write_transcript_writes_what_read_transcript_reads(tmp_path: Path) -> None:
    path = tmp_path / "out" / "t.ndjson"
    write_transcript(path, HEADER, ENTRIES)
    loaded = read_transcript(path)
    assert (loaded.header, loaded.entries) == (HEADER, ENTRIES)


def test_write_transcript_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "t.ndjson"
    path.write_bytes(b"precious\n")
    with pytest.raises(UsageError, match="already exists; pass --force"):
        write_transcript(path, HEADER, ENTRIES)
    assert path.read_bytes() == b"precious\n"


def test_write_transcript_overwrites_with_force(tmp_path: Path) -> None:
    path = tmp_path / "t.ndjson"
    path.write_bytes(b"old\n")
    write_transcript(path, HEADER, ENTRIES, force=True)
    assert read_transcript(path).entries == ENTRIES
    assert [p.name for p in tmp_path.iterdir()] == ["t.ndjson"]  # no temporary file left behind


def test_dump_uses_the_wire_names() -> None:
    lines = dump_transcript(HEADER, ENTRIES).decode().splitlines()
    assert orjson.loads(lines[2]) == {"type": "emit_inbound", "frame": {"id": 1, "result": {}}, "afterMs": 5}


def test_null_values_inside_frames_survive_a_round_trip() -> None:
    entry = EmitInbound(frame={"a": None, "b": [None]})
    again = parse_transcript(dump_transcript(HEADER, [entry]))
    assert again.entries == (entry,)


def test_a_null_frame_survives_a_round_trip() -> None:
    entry = ExpectOutbound(frame=None)
    assert parse_transcript(dump_transcript(HEADER, [entry])).entries == (entry,)


def test_streaming_writer_publishes_the_file_only_when_closed(tmp_path: Path) -> None:
    from harness.transcript import TranscriptWriter

    target = tmp_path / "out.ndjson"
    with TranscriptWriter(target, HEADER) as writer:
        writer.write(EmitInbound(frame={"kind": "sse.done"}))
        assert not target.exists()
    assert parse_transcript(target.read_bytes()).entries == (EmitInbound(frame={"kind": "sse.done"}),)


def test_streaming_writer_leaves_nothing_behind_when_the_block_raises(tmp_path: Path) -> None:
    from harness.transcript import TranscriptWriter

    with pytest.raises(RuntimeError), TranscriptWriter(tmp_path / "out.ndjson", HEADER) as writer:
        writer.write(EmitInbound(frame={"kind": "sse.done"}))
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
