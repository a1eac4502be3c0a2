"""The replay driver serves a transcript as the provider did and fails closed on anything else."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from harness.errors import FrameMismatch, TranscriptExhausted, UnconsumedEntries, UnexpectedOutbound
from harness.replay import FrameMatcher, Inbound, LogicalClock, ReplayDriver
from harness.transcript import Transcript, parse_transcript

HEADER = {
    "type": "transcript_start",
    "provider": "codex",
    "protocol": "codex.app-server",
    "version": "1",
    "scenario": "s",
}


def transcript(*entries: dict[str, Any], path: str = "demo.ndjson") -> Transcript:
    """A transcript whose header is line 1 and whose entry k is on line k + 2."""
    return parse_transcript("\n".join(orjson.dumps(e).decode() for e in (HEADER, *entries)), path=path)


def out(frame: Any, label: str | None = None) -> dict[str, Any]:
    return {"type": "expect_outbound", "frame": frame, **({"label": label} if label else {})}


def inb(frame: Any, label: str | None = None, after_ms: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "emit_inbound", "frame": frame}
    if label:
        entry["label"] = label
    if after_ms is not None:
        entry["afterMs"] = after_ms
    return entry


def exit_(status: str = "success") -> dict[str, Any]:
    return {"type": "runtime_exit", "status": status}


def next_inbound(driver: ReplayDriver) -> Inbound:
    inbound = driver.receive()
    assert inbound is not None, "expected an inbound frame"
    return inbound


REQUEST = {"id": 1, "method": "thread/start", "params": {"cwd": "/repo", "flags": [True, 1]}}
EXCHANGE = transcript(out(REQUEST, "thread/start"), inb({"id": 1, "result": "ok"}, "thread/start"))


# -- strict mode --------------------------------------------------------------------------------


def test_a_matching_send_advances_to_the_response() -> None:
    driver = ReplayDriver(EXCHANGE)
    driver.send(dict(REQUEST))
    inbound = driver.receive()
    assert inbound is not None
    assert (inbound.frame, inbound.label, inbound.entry_index, inbound.line) == (
        {"id": 1, "result": "ok"},
        "thread/start",
        1,
        3,
    )
    assert driver.receive() is None
    driver.finish()
    assert driver.failure is None


def test_receive_waits_for_the_app_when_a_request_is_due() -> None:
    driver = ReplayDriver(EXCHANGE)
    assert driver.receive() is None
    assert driver.cursor == 0


def test_key_order_does_not_matter() -> None:
    driver = ReplayDriver(EXCHANGE)
    driver.send({"params": {"flags": [True, 1], "cwd": "/repo"}, "method": "thread/start", "id": 1})
    assert driver.cursor == 1


def test_a_mismatch_names_the_json_path_file_and_line() -> None:
    driver = ReplayDriver(EXCHANGE)
    with pytest.raises(FrameMismatch) as raised:
        driver.send({**REQUEST, "params": {"cwd": "/elsewhere", "flags": [True, 1]}})
    error = raised.value
    assert (error.json_path, error.expected_value, error.actual_value) == ("$.params.cwd", "/repo", "/elsewhere")
    assert (error.path, error.line, error.entry_index, error.label) == ("demo.ndjson", 2, 0, "thread/start")
    assert str(error).startswith(
        "demo.ndjson:2: outbound frame (thread/start) differs from the recording at $.params.cwd"
    )
    assert "match.ignore" in str(error)
    assert driver.cursor == 0


def test_true_sent_where_one_was_recorded_is_a_mismatch() -> None:
    with pytest.raises(FrameMismatch) as raised:
        ReplayDriver(EXCHANGE).send({**REQUEST, "params": {"cwd": "/repo", "flags": [True, True]}})
    assert raised.value.json_path == "$.params.flags[1]"


def test_a_declared_ignore_lets_a_volatile_field_differ() -> None:
    driver = ReplayDriver(EXCHANGE, matcher=FrameMatcher.from_paths(["$.params.cwd"]))
    driver.send({**REQUEST, "params": {"cwd": "/elsewhere", "flags": [True, 1]}})
    assert driver.failure is None and driver.cursor == 1


def test_send_while_an_inbound_frame_is_pending_is_unexpected() -> None:
    driver = ReplayDriver(EXCHANGE)
    driver.send(REQUEST)
    with pytest.raises(UnexpectedOutbound) as raised:
        driver.send(REQUEST)
    assert (raised.value.line, raised.value.entry_index) == (3, 1)
    assert "the transcript has emit_inbound (thread/start) here" in str(raised.value)


def test_an_extra_request_at_the_end_is_unexpected() -> None:
    driver = ReplayDriver(EXCHANGE)
    driver.send(REQUEST)
    driver.receive()
    with pytest.raises(UnexpectedOutbound, match="the end of the transcript"):
        driver.send(REQUEST)


def test_finish_with_leftover_entries_names_the_first_one() -> None:
    driver = ReplayDriver(transcript(out(REQUEST), inb({"a": 1}, "first-left"), inb({"b": 2})))
    driver.send(REQUEST)
    with pytest.raises(UnconsumedEntries) as raised:
        driver.finish()
    error = raised.value
    assert error.line == 3
    assert error.remaining == [(3, "emit_inbound", "first-left"), (4, "emit_inbound", None)]
    assert (
        str(error) == "demo.ndjson:3: replay ended with 2 unconsumed entries, starting with emit_inbound (first-left)"
    )
    assert driver.failure is error


def test_finish_without_any_send_names_the_first_request() -> None:
    with pytest.raises(
        UnconsumedEntries, match=r"demo.ndjson:2: replay ended with 2 unconsumed entries, starting with expect_outbound"
    ):
        ReplayDriver(EXCHANGE).finish()


def test_the_first_failure_is_kept() -> None:
    driver = ReplayDriver(EXCHANGE)
    with pytest.raises(FrameMismatch) as first:
        driver.send({"id": 2})
    with pytest.raises(UnconsumedEntries):
        driver.finish()
    assert driver.failure is first.value


# -- time ---------------------------------------------------------------------------------------


def test_after_ms_advances_the_logical_clock_and_stamps_each_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sleeping(seconds: float) -> None:
        raise AssertionError(f"the driver slept for {seconds} s")

    monkeypatch.setattr(time, "sleep", no_sleeping)
    clock = LogicalClock(start_ms=1_000)
    driver = ReplayDriver(transcript(inb("a", after_ms=600_000), inb("b"), inb("c", after_ms=250)), clock=clock)
    started = time.monotonic()
    stamps = [next_inbound(driver).at_ms for _ in range(3)]
    assert stamps == [601_000, 601_000, 601_250]
    assert clock.now_ms() == 601_250
    assert time.monotonic() - started < 1.0


def test_the_clock_does_not_go_backwards() -> None:
    with pytest.raises(ValueError, match="backwards"):
        LogicalClock().advance(-1)


# -- stream-only mode ----------------------------------------------------------------------------


STREAM_ONLY = transcript(inb({"n": 1}), inb({"n": 2}))


def test_stream_only_mode_records_sends_without_checking_them() -> None:
    driver = ReplayDriver(STREAM_ONLY)
    assert driver.stream_only
    driver.send({"anything": True})
    assert [next_inbound(driver).frame, next_inbound(driver).frame] == [{"n": 1}, {"n": 2}]
    assert driver.sent == [{"anything": True}]
    driver.finish()


def test_stream_only_send_with_nothing_left_is_transcript_exhausted() -> None:
    driver = ReplayDriver(STREAM_ONLY)
    driver.send({})
    next_inbound(driver)
    next_inbound(driver)
    with pytest.raises(TranscriptExhausted, match="no response to request 2"):
        driver.send({})
    assert driver.failure is None  # not the code under test's fault: the capture ended there


# -- runtime_exit --------------------------------------------------------------------------------


def test_runtime_exit_ends_receiving_and_is_remembered() -> None:
    driver = ReplayDriver(transcript(out(REQUEST), inb("a"), exit_("error"), out(REQUEST), inb("b")))
    driver.send(REQUEST)
    assert next_inbound(driver).frame == "a"
    assert driver.receive() is None
    assert driver.runtime_exit is not None and driver.runtime_exit.status == "error"
    driver.send(REQUEST)  # the app starts a new runtime
    assert next_inbound(driver).frame == "b"
    driver.finish()


def test_a_trailing_runtime_exit_counts_as_consumed() -> None:
    driver = ReplayDriver(transcript(out(REQUEST), inb("a"), exit_("success")))
    driver.send(REQUEST)
    driver.receive()
    driver.finish()
    assert driver.runtime_exit is not None and driver.runtime_exit.status == "success"
    assert driver.remaining == 0


def test_peek_outbound_finds_the_next_request_without_consuming() -> None:
    driver = ReplayDriver(transcript(out(REQUEST), inb("a"), out({"id": 2}, "second")))
    driver.send(REQUEST)
    peeked = driver.peek_outbound()
    assert peeked is not None and peeked.label == "second"
    assert driver.cursor == 1
