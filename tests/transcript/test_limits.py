"""Limits at the boundary: what the transcript reader refuses, and that each refusal is located."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.core.event_log import json_event
from harness.errors import EventLogError, TranscriptError, UsageError
from harness.limits import MAX_AFTER_MS, MAX_DEPTH
from harness.transcript import parse_transcript, read_transcript
from harness.transcript.io import MAX_LINE_BYTES, _iter_objects, is_plain_sse

HEADER = (
    b'{"type":"transcript_start","provider":"anthropic","protocol":"anthropic.messages","version":"1","scenario":"s"}'
)


def entry(data: bytes) -> bytes:
    return b'{"type":"emit_inbound","frame":{"kind":"sse","event":"ping","data":' + data + b"}}"


def refused(*lines: bytes) -> str:
    with pytest.raises(TranscriptError) as raised:
        parse_transcript(b"\n".join((HEADER, *lines)) + b"\n", path="t.ndjson")
    return str(raised.value)


def test_a_duplicated_key_is_refused_naming_the_line_and_the_object() -> None:
    message = refused(entry(b'{"type":"ping","type":"message_stop"}'))
    assert message == 't.ndjson:2: $.frame.data: duplicate key "type" (a JSON reader keeps only one of its values)'


def test_a_duplicated_key_in_a_pretty_printed_line_is_refused_too() -> None:
    message = refused(b'{"type": "emit_inbound", "type": "emit_inbound", "frame": null}')
    assert message.startswith('t.ndjson:2: $: duplicate key "type"')


def test_an_integer_beyond_64_bits_is_refused_instead_of_becoming_a_float() -> None:
    message = refused(entry(b'{"type":"ping","n":123456789012345678901234567}'))
    assert message.startswith("t.ndjson:2: $.frame.data.n: integer 123456789012345678901234...")
    assert "does not fit in 64 bits" in message


def test_an_unsigned_64_bit_integer_is_accepted() -> None:
    transcript = parse_transcript(b"\n".join((HEADER, entry(b'{"type":"ping","n":18446744073709551615}'))))
    assert transcript.entries[0].frame["data"]["n"] == 2**64 - 1


def test_after_ms_beyond_javascripts_safe_integers_is_refused() -> None:
    line = b'{"type":"emit_inbound","afterMs":%d,"frame":{"kind":"sse.done"}}' % (MAX_AFTER_MS + 1)
    message = refused(line)
    assert message.startswith("t.ndjson:2: $.afterMs:")
    assert str(MAX_AFTER_MS) in message


def test_after_ms_beyond_64_bits_is_refused_by_validate_not_crashing_replay_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.ndjson"
    line = b'{"type":"emit_inbound","afterMs":123456789012345678901,"frame":{"kind":"sse.done"}}'
    path.write_bytes(HEADER + b"\n" + line + b"\n")
    assert main(["validate", str(path)]) == 2
    assert main(["replay", "--json", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("t.ndjson:2: $.afterMs: integer 123456789012345678901 (21 digits) does not fit in 64 bits") == 2


def test_a_value_nested_deeper_than_the_limit_is_refused_with_a_shortened_path() -> None:
    deep = b"[" * (MAX_DEPTH + 5) + b"]" * (MAX_DEPTH + 5)
    message = refused(entry(deep))
    assert message == f"t.ndjson:2: $.frame.data[0][0][0][0]...: nested deeper than {MAX_DEPTH} levels"


def test_a_value_at_the_depth_limit_is_accepted() -> None:
    levels = MAX_DEPTH - 3  # the record, its frame and the frame's data are the first three levels
    deep = b"[" * levels + b"]" * levels
    transcript = parse_transcript(b"\n".join((HEADER, entry(deep))))
    assert transcript.entries[0].frame["data"] is not None


def test_a_line_with_many_brackets_but_little_depth_is_accepted() -> None:
    wide = orjson.dumps([[i] for i in range(MAX_DEPTH * 4)])
    assert len(parse_transcript(b"\n".join((HEADER, entry(wide)))).entries) == 1


def test_a_line_longer_than_the_limit_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    class Huge:
        """A file-like source whose one line never ends: the reader must stop at the limit."""

        served = 0

        def readline(self, limit: int) -> bytes:
            assert limit == MAX_LINE_BYTES + 1
            self.served += limit
            return b"x" * limit

    source = Huge()
    with pytest.raises(TranscriptError) as raised:
        list(_iter_objects(source, "huge.ndjson"))  # type: ignore[arg-type]
    assert str(raised.value) == f"huge.ndjson:1: line longer than {MAX_LINE_BYTES} bytes"
    assert source.served == MAX_LINE_BYTES + 1


def test_invalid_utf8_is_a_located_json_error() -> None:
    message = refused(entry(b'{"type":"p\xffing"}'))
    assert message.startswith("t.ndjson:2: not valid JSON:")


def test_a_directory_is_refused_as_a_transcript(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"expected a transcript file, found a directory"):
        read_transcript(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.ndjson"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match=r"pipe.ndjson: expected a transcript file, found a FIFO"):
        read_transcript(fifo)


@pytest.mark.skipif(not Path("/dev/zero").exists() or sys.platform == "win32", reason="needs /dev/zero")
def test_a_device_is_refused_instead_of_read_forever(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/dev/zero"]) == 2
    assert capsys.readouterr().err.strip() == "error: /dev/zero: expected a transcript file, found not a regular file"


def test_a_missing_transcript_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"nothing.ndjson: no such transcript file"):
        read_transcript(tmp_path / "nothing.ndjson")


def test_an_event_log_nested_too_deep_names_the_event_and_path() -> None:
    value: object = 1
    for _ in range(MAX_DEPTH + 10):
        value = {"x": value}
    with pytest.raises(EventLogError) as raised:
        json_event({"type": "t", "payload": value}, 3)
    assert str(raised.value) == f"event 3, $.payload.x.x.x.x.x...: nested deeper than {MAX_DEPTH} levels"


def test_an_event_log_integer_beyond_64_bits_names_the_event_and_path() -> None:
    with pytest.raises(EventLogError) as raised:
        json_event({"type": "t", "n": 10**30}, 0)
    assert str(raised.value) == "event 0, $.n: the integer 1e+30 does not fit in 64 bits; store it as a string"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_FRAME_KEYS = st.sampled_from(["kind", "event", "data", "body", "status", "extra"])
_FRAME = (
    st.dictionaries(_FRAME_KEYS, st.sampled_from(["sse", "sse.done", "http.body", None, 1, True]) | _JSON, max_size=4)
    | _JSON
)


@settings(max_examples=400, derandomize=True)
@given(_FRAME)
@example({"kind": "sse", "data": 1})
@example({"kind": "sse", "event": "ping", "data": None})
@example({"kind": "sse", "event": None, "data": {}})
@example({"kind": "sse", "event": 1, "data": 1})
@example({"kind": "sse", "event": True, "data": 1})
@example({"kind": "sse"})
@example({"kind": "sse", "data": 1, "extra": 1})
@example({"kind": "sse.done", "data": 1})
@example(["kind", "sse"])
def test_the_sse_fast_path_accepts_exactly_what_the_frame_model_accepts_as_an_sse_event(frame: Any) -> None:
    from pydantic import ValidationError

    from harness.transcript.io import is_plain_sse
    from harness.transcript.models import HTTP_FRAME_ADAPTER, SseEvent

    try:
        model_says = isinstance(HTTP_FRAME_ADAPTER.validate_python(frame), SseEvent)
    except ValidationError:
        model_says = False
    assert is_plain_sse(frame) == model_says


_RECORD = st.fixed_dictionaries(
    {"type": st.sampled_from(["emit_inbound", "expect_outbound", "runtime_exit"])},
    optional={
        "label": st.none() | st.text(max_size=3) | st.integers(),
        "frame": _FRAME,
        "afterMs": st.none() | st.booleans() | st.integers(-2, 2**53 + 1) | st.floats(0, 3) | st.text(max_size=2),
        "extra": st.integers(),
    },
)


@settings(max_examples=500, derandomize=True)
@given(_RECORD, st.booleans())
@example({"type": "emit_inbound", "frame": {"kind": "sse", "data": 1}}, True)
@example({"type": "emit_inbound", "frame": 1, "afterMs": 9007199254740991}, False)
@example({"type": "emit_inbound", "frame": 1, "afterMs": 9007199254740992}, False)
@example({"type": "emit_inbound", "frame": 1, "afterMs": True}, False)
@example({"type": "emit_inbound", "frame": 1, "label": None, "afterMs": None}, False)
@example({"type": "emit_inbound", "label": "x"}, False)
def test_the_emit_fast_path_accepts_only_what_the_record_models_accept(raw: dict[str, Any], http: bool) -> None:
    """The fast path may leave a record to the model (pydantic's lax mode also takes ``true`` or
    ``1.0`` as an integer), never accept one the model refuses; canonical records take it."""
    from pydantic import ValidationError

    from harness.transcript.io import is_plain_emit
    from harness.transcript.models import HTTP_FRAME_ADAPTER, RECORD_ADAPTER, EmitInbound

    try:
        record = RECORD_ADAPTER.validate_python(raw)
        model_says = isinstance(record, EmitInbound)
        if model_says and http:
            HTTP_FRAME_ADAPTER.validate_python(record.frame)
            model_says = is_plain_sse(record.frame)  # the fast path takes only SSE frames
    except ValidationError:
        model_says = False
    if is_plain_emit(raw, http=http):
        assert model_says
    elif model_says:
        # Left to the model only for a value the model coerces: a bool or float afterMs.
        assert type(raw.get("afterMs")) in (bool, float), raw


def test_every_emit_line_the_writer_produces_takes_the_fast_path() -> None:
    from harness.transcript.io import dump_record, is_plain_emit
    from harness.transcript.models import EmitInbound

    for entry in (
        EmitInbound(frame={"kind": "sse", "event": "ping", "data": {"type": "ping"}}),
        EmitInbound(label="x", frame={"kind": "sse", "data": None}, afterMs=5),
    ):
        assert is_plain_emit(orjson.loads(dump_record(entry)), http=True)
    assert is_plain_emit(orjson.loads(dump_record(EmitInbound(frame={"method": "turn/started"}))), http=False)


def test_a_line_over_one_mebibyte_is_read_the_same_and_checked_the_same(tmp_path: Path) -> None:
    big = {"type": "emit_inbound", "frame": {"kind": "sse", "data": {"text": "x" * (1 << 20), "n": 1.5}}}
    line = orjson.dumps(big)
    assert len(line) > 1 << 20
    header = orjson.dumps(
        {"type": "transcript_start", "provider": "anthropic", "protocol": "anthropic.messages", "version": "1"}
        | {"scenario": "s"}
    )
    path = tmp_path / "big.ndjson"
    path.write_bytes(header + b"\n" + line + b"\n")
    (entry,) = read_transcript(path).entries
    assert entry.frame == big["frame"]  # type: ignore[union-attr]
    path.write_bytes(header + b"\n" + line[:-1] + b',"frame":{}}\n')
    with pytest.raises(TranscriptError, match=r"big.ndjson:2: \$: duplicate key \"frame\""):
        read_transcript(path)
    path.write_bytes(header + b"\n" + line[:-2] + b"\n")
    with pytest.raises(TranscriptError, match=r"big.ndjson:2: not valid JSON: "):
        read_transcript(path)


def test_a_line_over_one_mebibyte_names_an_integer_beyond_64_bits_with_its_path(tmp_path: Path) -> None:
    big = {"type": "emit_inbound", "frame": {"kind": "sse", "data": {"text": "x" * (1 << 20), "n": 1}}}
    line = orjson.dumps(big).replace(b'"n":1', b'"n":123456789012345678901234567890')
    header = orjson.dumps(
        {"type": "transcript_start", "provider": "anthropic", "protocol": "anthropic.messages", "version": "1"}
        | {"scenario": "s"}
    )
    path = tmp_path / "big.ndjson"
    path.write_bytes(header + b"\n" + line + b"\n")
    with pytest.raises(TranscriptError, match=r"big.ndjson:2: \$.frame.data.n: integer 123456789012345678901234"):
        read_transcript(path)
