"""Fault plans: the text form, what applying each kind writes into a real recording, which faults
are skipped and why, seeded plans, and what the official SDKs do with each fault over the replay
transports (a client that retries passes ``finish()``, one that does not fails it)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from hypothesis import HealthCheck, find, given, settings

from harness.errors import FrameMismatch, UnconsumedEntries, UnexpectedOutbound, UsageError
from harness.limits import MAX_AFTER_MS
from harness.replay import ReplayDriver
from harness.replay.http import AsyncReplayTransport, HttpReplay, Part, ReplayTransport
from harness.replay.matcher import FrameMatcher
from harness.simulate.faults import (
    DEFAULT_KINDS,
    FAULT_KINDS,
    Applied,
    Fault,
    FaultedTranscript,
    FaultPlan,
    apply_plan,
    plan_for_seed,
    positions,
    rechunk,
)
from harness.simulate.seeds import Rng, derive
from harness.strategies import fault_plans
from harness.transcript import EmitInbound, ExpectOutbound, RuntimeExit, Transcript, read_transcript
from harness.transcript.models import TranscriptHeader

ROOT = Path(__file__).resolve().parents[2]
ANTHROPIC = read_transcript(ROOT / "transcripts/parity/capital_france.anthropic.ndjson")
"""Two streamed exchanges (a tool call, then the answer), no response heads."""
CHAT = read_transcript(ROOT / "transcripts/parity/capital_france.openai_chat.ndjson")
RESPONSES = read_transcript(
    ROOT / "transcripts/openai/pydantic-ai-cassettes/openai-responses__reasoning_item_plus_function_call.ndjson"
)
"""One streamed exchange with a response head and sequence numbers."""
STREAM_ONLY = read_transcript(ROOT / "transcripts/anthropic/anthropic-sdk/basic_response.ndjson")
CODEX = read_transcript(ROOT / "transcripts/t3code/simple/codex_transcript.ndjson")
CLAUDE_SDK = read_transcript(ROOT / "transcripts/t3code/simple/claude_transcript.ndjson")

# The SDKs send headers the parity recordings do not keep (anthropic-version): compare the rest.
MATCHER = FrameMatcher.from_paths(["$.headers"])


def apply(text: str, transcript: Transcript) -> FaultedTranscript:
    return apply_plan(FaultPlan.parse(text), transcript)


def request(transcript: Transcript, number: int = 1) -> ExpectOutbound:
    return [entry for _, entry in transcript.outbound()][number - 1]


def body(transcript: Transcript, number: int = 1) -> dict[str, Any]:
    return copy.deepcopy(request(transcript, number).frame["body"])


def frames(entries: Any) -> list[Any]:
    return [e.frame if not isinstance(e, RuntimeExit) else ("exit", e.error) for e in entries]


def labels(entries: Any) -> list[str | None]:
    return [getattr(e, "label", None) for e in entries]


def json_transcript() -> Transcript:
    """The first request of the Anthropic recording answered with a JSON body (the corpus has none)."""
    frame = copy.deepcopy(request(ANTHROPIC).frame)
    del frame["body"]["stream"]
    message = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "gpt-4o",
        "content": [{"type": "text", "text": "Paris"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }
    entries = (
        ExpectOutbound(label="POST /v1/messages", frame=frame),
        EmitInbound(label="http.response", frame={"kind": "http.response", "status": 200, "headers": {}}),
        EmitInbound(label="http.body", frame={"kind": "http.body", "body": message}),
    )
    header = TranscriptHeader(provider="anthropic", protocol="anthropic.messages", version="1", scenario="json")
    return Transcript(header=header, entries=entries, lines=(2, 3, 4), path="json.ndjson")


# -- the text form ---------------------------------------------------------------------------------


def test_faults_encode_position_frame_and_only_non_default_parameters_sorted_by_name():
    assert Fault(kind="reset", at=1, frame=3).encode() == "reset@1.3"
    assert (
        Fault(kind="status", at=2, params={"retry_after": 2, "code": 429}).encode() == "status@2:code=429,retry_after=2"
    )
    assert Fault(kind="stall", at=7, params={"ms": 500}).encode() == "stall@7:ms=500"
    assert Fault(kind="stall", at=7, params={"ms": 30_000}).encode() == "stall@7"
    assert Fault(kind="stall", at=7, params={"ms": 30_000}) == Fault(kind="stall", at=7)
    assert Fault(kind="status", at=2, params={"code": 429}).params == (("code", 429),)


@pytest.mark.parametrize(
    "text",
    [
        "none",
        "reset@1.3",
        "status@2:code=429,retry_after=2",
        "stall@7:ms=500",
        "stream_error@1.0:error=api_error",
        "rechunk@3:seed=9",
        "reorder@4:count=2",
        "crash@5;tool_error@1;tool_timeout@2",
        "status@1;stall@1.0;swap@1.2;duplicate@2.0;drop@2.1;slow@2.2:ms=5;truncate@3.0;exit@4",
    ],
)
def test_parse_is_the_inverse_of_encode(text):
    plan = FaultPlan.parse(text)
    assert FaultPlan.parse(plan.encode()) == plan
    assert plan.encode() == FaultPlan(faults=plan.faults).encode()


def test_plans_are_kept_in_canonical_order_by_position_then_kind_then_parameters():
    plan = FaultPlan.parse("status@2:code=429;stall@1.3;reset@1.3;rechunk@1;status@2:code=500;crash@1")
    assert plan.encode() == "crash@1;rechunk@1;reset@1.3;stall@1.3;status@2:code=429;status@2:code=500"
    assert plan == FaultPlan.parse(" crash@1 ; status@2:code=500;status@2:code=429;reset@1.3;stall@1.3;rechunk@1")


def test_the_empty_plan_is_written_none():
    assert FaultPlan().encode() == "none"
    assert FaultPlan.parse("none") == FaultPlan(faults=())


def test_without_removes_one_fault_and_kinds_lists_the_distinct_kinds():
    plan = FaultPlan.parse("reset@1.3;stall@1.1;stall@2.0")
    assert plan.kinds == ("reset", "stall")
    assert plan.without(0).encode() == "reset@1.3;stall@2.0"
    assert plan.without(2).without(1).without(0) == FaultPlan()
    with pytest.raises(UsageError, match="the plan has 3 faults; there is no fault 3 to remove"):
        plan.without(3)


@pytest.mark.parametrize(
    ("text", "number", "message"),
    [
        ("nope@1", 1, "unknown fault kind 'nope'; known kinds: " + ", ".join(sorted(FAULT_KINDS))),
        ("reset@1.0;reset", 2, "expected KIND@POSITION (for example reset@1.3 or status@2:code=429), found no '@'"),
        ("reset@x.1", 1, "expected an integer position after '@', found 'x'"),
        ("reset@1.y", 1, "expected an integer frame after '.', found 'y'"),
        ("reset@-1.0", 1, "the position must be at least 1, found -1"),
        ("status@0", 1, "the position must be at least 1, found 0"),
        ("reset@1.-2", 1, "the frame must be at least 0, found -2"),
        ("reset@1", 1, "reset needs a frame: write reset@1.FRAME"),
        ("status@1.2", 1, "status takes no frame, found frame 2: write status@1"),
        ("status@1:foo=1", 1, "status has no parameter 'foo'; its parameters: code, retry_after, retry_after_ms"),
        ("reset@1.0:ms=1", 1, "reset takes no parameters, found 'ms'"),
        ("status@1:code=404", 1, "parameter code of status must be one of 429, 500, 503, 529, found 404"),
        ("status@1:code=abc", 1, "expected an integer value of code, found 'abc'"),
        ("stall@1.0:ms=-5", 1, f"parameter ms of stall must be an integer from 0 to {MAX_AFTER_MS}, found -5"),
        ("status@1:code", 1, "expected NAME=VALUE parameters separated by ',', found 'code'"),
        ("status@1:code=429,code=500", 1, "parameter code of status is given twice"),
        (
            "stream_error@1.0:error=boom",
            1,
            "must be one of overloaded_error, rate_limit_error, api_error, found 'boom'",
        ),
        ("status@1;;reset@1.0", 2, "expected a fault, found nothing"),
    ],
)
def test_parse_errors_name_the_fault_the_text_and_what_was_expected(text, number, message):
    with pytest.raises(UsageError) as error:
        FaultPlan.parse(text)
    assert str(error.value).startswith(f"fault plan {text!r}, fault {number} (")
    assert str(error.value).endswith(message)


def test_an_empty_text_is_not_a_plan():
    with pytest.raises(UsageError, match=r"the empty plan is written 'none'"):
        FaultPlan.parse("  ")


def test_a_fault_built_directly_is_checked_too():
    with pytest.raises(UsageError, match="unknown fault kind 'nope'; known kinds: crash, drop"):
        Fault(kind="nope", at=1)
    with pytest.raises(UsageError, match="truncate needs a frame"):
        Fault(kind="truncate", at=1)
    with pytest.raises(UsageError, match="must be an integer, found True"):
        Fault(kind="stall", at=1, frame=0, params={"ms": True})


SETTINGS = settings(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])


@settings(SETTINGS, max_examples=60)
@given(fault_plans(ANTHROPIC, kinds=sorted(FAULT_KINDS), max_faults=6))
def test_every_drawn_http_plan_round_trips_and_applies_without_a_skip(plan):
    assert FaultPlan.parse(plan.encode()) == plan
    faulted = apply_plan(plan, ANTHROPIC)
    assert faulted.skipped == ()
    assert len({(f.at, f.frame) for f in plan.faults}) == len(plan.faults)


@settings(SETTINGS, max_examples=40)
@given(fault_plans(CODEX, kinds=sorted(FAULT_KINDS)))
def test_every_drawn_stdio_plan_round_trips_and_applies_without_a_skip(plan):
    assert FaultPlan.parse(plan.encode()) == plan
    assert apply_plan(plan, CODEX).skipped == ()
    assert {f.kind for f in plan.faults} <= {"stall", "reorder", "exit", "crash"}


def test_drawn_plans_shrink_toward_fewer_faults_at_earlier_positions():
    two = find(fault_plans(ANTHROPIC, kinds=["reset", "stall"]), lambda p: len(p.faults) >= 2, settings=SETTINGS)
    assert two.encode() == "reset@1.0;reset@1.1"
    one = find(fault_plans(CODEX, kinds=["stall"]), lambda plan: bool(plan.faults), settings=SETTINGS)
    assert one.encode() == "stall@1:ms=1"


def test_the_strategy_refuses_an_unknown_kind():
    with pytest.raises(UsageError, match="unknown fault kind 'nope'"):
        fault_plans(ANTHROPIC, kinds=["nope"])


# -- positions -------------------------------------------------------------------------------------


def test_positions_of_http_exchanges_count_body_frames_and_find_the_deltas():
    shape = positions(ANTHROPIC)
    assert (shape.transport, shape.requests, shape.tool_calls) == ("http", True, 1)
    assert [(e.number, e.body_frames, e.streams, e.deltas) for e in shape.exchanges] == [
        (1, 6, True, (2,)),
        (2, 6, True, (2,)),
    ]
    chat = positions(CHAT)
    # Chunk 0 has an empty content, chunk 1 opens the tool call with empty arguments.
    assert [e.deltas for e in chat.exchanges] == [(2,), (1,)]
    responses = positions(RESPONSES)
    assert responses.exchanges[0].body_frames == 14  # the http.response head is not a body frame
    assert responses.exchanges[0].deltas == (5, 6, 7, 8, 9, 10)
    assert responses.tool_calls == 1
    assert positions(STREAM_ONLY).requests is False


def test_positions_of_a_stdio_recording_are_its_inbound_frames_and_reorderable_responses():
    shape = positions(CODEX)
    assert (shape.transport, shape.inbound, shape.reorderable) == ("stdio", 25, (7,))
    assert shape.targets("reorder") == ((7, None),)
    assert len(shape.targets("stall")) == 25
    assert shape.targets("status") == ()
    assert positions(STREAM_ONLY).targets("status") == ()  # no request to copy


def test_default_kinds_are_the_retry_and_benign_kinds_of_each_transport():
    assert DEFAULT_KINDS["http"] == {"status", "stream_error", "reset", "truncate", "stall", "slow", "rechunk"}
    assert DEFAULT_KINDS["stdio"] == {"stall", "reorder"}


# -- applying each kind ----------------------------------------------------------------------------


def test_status_answers_the_providers_error_then_the_copied_request_then_the_recording():
    faulted = apply("status@1", ANTHROPIC)
    entries = faulted.transcript.entries
    assert frames(entries[1:3]) == [
        {"kind": "http.response", "status": 529, "headers": {"content-type": "application/json"}},
        {
            "kind": "http.body",
            "body": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded (fault status@1)"}},
        },
    ]
    assert entries[3].frame == request(ANTHROPIC).frame
    assert labels(entries[1:4]) == ["fault:status@1"] * 3
    assert list(entries[4:]) == list(ANTHROPIC.entries[1:])
    assert list(faulted.transcript.lines) == [2, 2, 2, 2, *ANTHROPIC.lines[1:]]
    assert faulted.transcript.path == ANTHROPIC.path
    assert faulted.applied == (Applied(Fault(kind="status", at=1), 1),)


@pytest.mark.parametrize(
    ("text", "transcript", "status", "error"),
    [
        ("status@1:code=429,retry_after=2", ANTHROPIC, 429, {"type": "rate_limit_error"}),
        ("status@1:code=500", ANTHROPIC, 500, {"type": "api_error"}),
        ("status@1", CHAT, 500, {"type": "server_error", "param": None, "code": None}),
        ("status@1:code=429,retry_after=2", CHAT, 429, {"type": "requests", "code": "rate_limit_exceeded"}),
        ("status@1:code=503", RESPONSES, 503, {"type": "server_error", "code": None}),
    ],
)
def test_status_uses_the_code_the_retry_after_header_and_the_error_shape_of_the_provider(
    text, transcript, status, error
):
    head, answer = apply(text, transcript).transcript.entries[1:3]
    assert head.frame["status"] == status
    assert head.frame["headers"].get("retry-after") == ("2" if "retry_after=2" in text else None)
    shown = answer.frame["body"]["error"]
    assert shown["message"].endswith(f"(fault {text})")
    assert {k: shown[k] for k in error} == error
    if transcript is ANTHROPIC:
        assert set(answer.frame["body"]) == {"type", "error"} and set(shown) == {"type", "message"}
    else:
        assert set(answer.frame["body"]) == {"error"} and set(shown) == {"message", "type", "param", "code"}


def test_stream_error_serves_the_frames_before_it_then_the_providers_error_event():
    entries = apply("stream_error@1.2", ANTHROPIC).transcript.entries
    assert frames(entries[1:3]) == frames(ANTHROPIC.entries[1:3])
    assert entries[3].frame == {
        "kind": "sse",
        "event": "error",
        "data": {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded (fault stream_error@1.2)"},
        },
    }
    assert isinstance(entries[4], ExpectOutbound) and entries[4].frame == request(ANTHROPIC).frame
    assert labels(entries[1:5]) == ["fault:stream_error@1.2"] * 4
    assert list(entries[5:]) == list(ANTHROPIC.entries[1:])


def test_stream_error_in_the_openai_shapes():
    responses = apply("stream_error@1.3:error=rate_limit_error", RESPONSES).transcript.entries
    # The head and three body frames, then the error with the sequence number of the frame it replaces.
    error = responses[5].frame
    assert error["event"] == "error"
    assert error["data"]["sequence_number"] == RESPONSES.entries[5].frame["data"]["sequence_number"] == 3
    assert error["data"]["error"]["code"] == "rate_limit_exceeded"
    chat = apply("stream_error@2.0", CHAT).transcript.entries
    assert chat[8].frame["event"] is None  # entries 0-7: exchange 1 and the request of exchange 2
    assert set(chat[8].frame["data"]) == {"error"}
    assert chat[8].frame["data"]["error"]["type"] == "server_error"


def test_reset_cuts_the_connection_after_the_frames_before_it():
    entries = apply("reset@1.1", RESPONSES).transcript.entries
    assert entries[1].frame["kind"] == "http.response"  # the head is served again
    assert entries[2].frame == RESPONSES.entries[2].frame
    assert entries[3] == RuntimeExit(status="error", error={"message": "connection reset by peer (fault reset@1.1)"})
    assert entries[4].frame == request(RESPONSES).frame
    assert list(entries[5:]) == list(RESPONSES.entries[1:])


def test_truncate_ends_the_body_cleanly_before_the_frame():
    entries = apply("truncate@1.4", ANTHROPIC).transcript.entries
    assert frames(entries[1:5]) == frames(ANTHROPIC.entries[1:5])
    assert entries[5].frame == request(ANTHROPIC).frame
    assert list(entries[6:]) == list(ANTHROPIC.entries[1:])


def test_stall_and_slow_add_to_the_delay_of_their_frames():
    stalled = apply("stall@1.1:ms=500", RESPONSES).transcript.entries
    assert [e.after_ms for e in stalled[1:5]] == [None, None, 500, None]
    slowed = apply("slow@1.12:ms=7", RESPONSES).transcript.entries
    assert [e.after_ms for e in slowed[13:]] == [None, 7, 7]  # body frame F is entry F + 2
    assert frames(slowed) == frames(RESPONSES.entries)


def test_duplicate_drop_and_swap_change_the_body_frames():
    original = list(ANTHROPIC.entries[1:7])
    duplicated = apply("duplicate@1.2", ANTHROPIC).transcript.entries
    assert frames(duplicated[1:8]) == frames([*original[:3], original[2], *original[3:]])
    assert labels(duplicated[3:5]) == ["content_block_delta", "fault:duplicate@1.2"]
    dropped = apply("drop@1.2", ANTHROPIC).transcript.entries
    assert frames(dropped[1:6]) == frames([*original[:2], *original[3:]])
    swapped = apply("swap@1.2", ANTHROPIC)
    assert frames(swapped.transcript.entries[1:7]) == frames([*original[:2], original[3], original[2], *original[4:]])
    assert list(swapped.transcript.lines[1:7]) == [3, 4, 6, 5, 7, 8]


def test_rechunk_leaves_the_entries_and_returns_the_chunker():
    faulted = apply("rechunk@2:seed=4", ANTHROPIC)
    assert list(faulted.transcript.entries) == list(ANTHROPIC.entries)
    assert faulted.chunker is not None
    assert faulted.applied[0].marker == 7  # the request of exchange 2
    assert apply("stall@1.0", ANTHROPIC).chunker is None


def test_exit_keeps_the_entries_through_the_frame_and_drops_the_rest():
    faulted = apply("exit@3", CODEX)
    entries = faulted.transcript.entries
    third = [i for i, e in enumerate(CODEX.entries) if isinstance(e, EmitInbound)][2]
    assert list(entries[: third + 1]) == list(CODEX.entries[: third + 1])
    assert entries[third + 1 :] == (
        RuntimeExit(status="error", error={"message": "runtime exited (fault exit@3)", "code": 1}),
    )
    assert faulted.applied[0].marker == third + 1


def test_reorder_moves_a_json_rpc_response_past_the_notifications_after_it():
    entries = apply("reorder@7:count=2", CODEX).transcript.entries
    original = [e for e in CODEX.entries if isinstance(e, EmitInbound)]
    inbound = [e for e in entries if isinstance(e, EmitInbound)]
    assert original[6].label == "turn/start" and "result" in original[6].frame
    assert inbound[6:9] == [original[7], original[8], original[6]]
    assert inbound[9:] == original[9:]
    # Never past more notifications than follow it: count=50 stops at the next request or response.
    far = [e for e in apply("reorder@7:count=50", CODEX).transcript.entries if isinstance(e, EmitInbound)]
    assert far.index(original[6]) > 6


def test_transcript_free_faults_leave_the_transcript_unchanged_and_have_no_marker():
    faulted = apply("crash@3;tool_error@1;tool_timeout@2", ANTHROPIC)
    assert list(faulted.transcript.entries) == list(ANTHROPIC.entries)
    assert [a.marker for a in faulted.applied] == [None, None, None]
    assert faulted.fired(len(ANTHROPIC.entries)) == [False, False, False]


def test_several_faults_on_one_exchange_add_one_failed_attempt_each_before_the_changed_response():
    entries = apply("status@1;reset@1.1;swap@1.2", ANTHROPIC).transcript.entries
    kinds = [type(e).__name__ for e in entries[:9]]
    assert kinds == [
        "ExpectOutbound",  # the request
        "EmitInbound",  # the 529 head
        "EmitInbound",  # its body
        "ExpectOutbound",  # the retry
        "EmitInbound",  # frame 0
        "RuntimeExit",  # the reset
        "ExpectOutbound",  # the second retry
        "EmitInbound",  # the recorded response, frames 2 and 3 swapped
        "EmitInbound",
    ]
    assert entries[9].frame == ANTHROPIC.entries[4].frame


# -- skipped faults --------------------------------------------------------------------------------


def _overflowing() -> Transcript:
    return apply(f"stall@1.0:ms={MAX_AFTER_MS}", ANTHROPIC).transcript


@pytest.mark.parametrize(
    ("transcript", "text", "reason"),
    [
        (STREAM_ONLY, "status@1", "the transcript is stream-only (no recorded request): status needs the request"),
        (STREAM_ONLY, "reset@1.2", "stream-only"),
        (ANTHROPIC, "exit@3", "exit applies to stdio transcripts; this one is http (anthropic.messages)"),
        (CODEX, "status@1", "status applies to http transcripts; this one is stdio (codex.app-server)"),
        (CODEX, "tool_error@1", "tool_error applies to http transcripts"),
        (ANTHROPIC, "reset@9.0", "exchange 9 does not exist: the transcript has 2 exchanges"),
        (ANTHROPIC, "reset@1.99", "exchange 1 has 6 body frames (0-5); frame 99 does not exist"),
        (ANTHROPIC, "stall@1", "on an HTTP transcript stall needs a frame: write stall@1.FRAME"),
        (ANTHROPIC, "swap@1.5", "frame 5 is the last body frame of exchange 1: no next frame to swap it with"),
        (ANTHROPIC, "drop@1.2;duplicate@1.2", "body frame 2 of exchange 1 is dropped already by drop@1.2"),
        (ANTHROPIC, "rechunk@1;rechunk@1:seed=2", "exchange 1 is rechunked already by rechunk@1"),
        (
            json_transcript(),
            "stream_error@1.0",
            "exchange 1 answers with a JSON body: stream_error needs an SSE stream",
        ),
        (json_transcript(), "truncate@1.0", "needs an SSE stream"),
        (CODEX, "stall@2.1", "stdio positions have no frame: write stall@2"),
        (CODEX, "stall@99", "inbound frame 99 does not exist: the transcript has 25 inbound frames"),
        (CODEX, "exit@2;stall@5", "inbound frame 5 never arrives: the runtime exits earlier (exit@2)"),
        (CODEX, "reorder@4", "inbound frame 4 is not a JSON-RPC response (id with result or error)"),
        (CODEX, "reorder@1", "no notification follows inbound frame 1: nothing to move it past"),
        (CLAUDE_SDK, "reorder@1", "not a JSON-RPC response"),
        (_overflowing(), "stall@1.0:ms=1", f"would exceed {MAX_AFTER_MS} ms"),
    ],
)
def test_faults_that_do_not_fit_are_skipped_with_the_reason(transcript, text, reason):
    faulted = apply(text, transcript)
    assert len(faulted.skipped) == 1
    assert reason in faulted.skipped[0].reason
    assert len(faulted.applied) == len(FaultPlan.parse(text).faults) - 1


# -- fired -----------------------------------------------------------------------------------------


def test_a_stdio_fault_fires_when_the_driver_consumes_its_marker():
    faulted = apply("stall@3:ms=10;exit@5;crash@1", CODEX)
    crash, stall, exit_ = faulted.applied
    driver = ReplayDriver(faulted.transcript)
    fired = []
    while driver.cursor < len(faulted.transcript.entries):
        entry = faulted.transcript.entries[driver.cursor]
        if isinstance(entry, ExpectOutbound):
            driver.send(entry.frame)
        else:
            driver.receive()
        fired.append(tuple(faulted.fired(driver.cursor)))
    assert stall.marker is not None and exit_.marker is not None and crash.marker is None
    # fired[i] is the answer after the (i+1)-th step: the entry at index i was consumed.
    assert fired[stall.marker - 1] == (False, False, False)
    assert fired[stall.marker] == (False, True, False)
    assert fired[exit_.marker - 1] == (False, True, False)
    assert fired[exit_.marker] == (False, True, True)


def test_an_http_fault_fires_once_its_exchange_is_served():
    faulted = apply("status@2:retry_after_ms=1", ANTHROPIC)
    replay = HttpReplay([faulted.transcript], matcher=MATCHER)
    client = anthropic_client(replay, retries=2)
    anthropic_turn(client, body(ANTHROPIC, 1))
    assert faulted.fired(replay.drivers[0].cursor) == [False]
    anthropic_turn(client, body(ANTHROPIC, 2))
    assert faulted.fired(replay.drivers[0].cursor) == [True]
    replay.finish()


# -- seeded plans ----------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_plan_and_seeds_differ():
    for transcript in (ANTHROPIC, CODEX, RESPONSES):
        plans = [plan_for_seed(seed, transcript) for seed in range(30)]
        assert plans == [plan_for_seed(seed, transcript) for seed in range(30)]
        assert len({p.encode() for p in plans}) > 5


SEEDED = "from harness.simulate.faults import plan_for_seed\nfrom harness.transcript import read_transcript\n" + (
    "for path in {paths!r}:\n"
    "    t = read_transcript(path)\n"
    "    print(' '.join(plan_for_seed(s, t, {kinds!r}).encode() for s in range(40)))\n"
)


def test_seeded_plans_are_the_same_in_another_process_under_another_hash_seed():
    paths = [ANTHROPIC.path, CODEX.path, CHAT.path]
    kinds = sorted(FAULT_KINDS)
    code = SEEDED.format(paths=paths, kinds=kinds)
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    expected = [" ".join(plan_for_seed(s, read_transcript(p), kinds).encode() for s in range(40)) for p in paths]
    assert child.stdout.splitlines() == expected


@pytest.mark.parametrize("transcript", [ANTHROPIC, CHAT, RESPONSES, STREAM_ONLY, CODEX, CLAUDE_SDK])
def test_seeded_plans_fit_their_transcript(transcript):
    shape = positions(transcript)
    for seed in range(150):
        plan = plan_for_seed(seed, transcript, sorted(FAULT_KINDS))
        assert apply_plan(plan, transcript).skipped == (), plan.encode()
        places = [(f.at, f.frame) for f in plan.faults]
        assert len(set(places)) == len(places)
        retries = [f.at for f in plan.faults if f.spec.category == "retry"]
        assert len(set(retries)) == len(retries)  # at most one per exchange
        for fault in plan.faults:
            assert (fault.at, fault.frame) in shape.targets(fault.kind)
            if fault.kind == "status":
                assert fault.param("retry_after") in (None, 0, 1, 2)
            if fault.kind == "stall":
                assert 1000 <= int(fault.param("ms") or 0) <= 60_000
        default = plan_for_seed(seed, transcript)
        assert set(default.kinds) <= DEFAULT_KINDS[shape.transport]


def test_seeded_plans_draw_status_codes_the_provider_sends():
    codes = {f.param("code") for s in range(200) for f in plan_for_seed(s, ANTHROPIC, ["status"]).faults}
    assert codes == {429, 500, 529}
    codes = {f.param("code") for s in range(200) for f in plan_for_seed(s, CHAT, ["status"]).faults}
    assert codes == {429, 500, 503}


def test_seeded_plans_refuse_unknown_kinds_and_ignore_kinds_of_another_transport():
    with pytest.raises(UsageError, match=r"unknown fault kind 'nope'; known kinds: crash, drop, duplicate"):
        plan_for_seed(1, ANTHROPIC, ["stall", "nope"])
    assert plan_for_seed(1, CODEX, ["status", "reset"]) == FaultPlan()
    assert plan_for_seed(1, STREAM_ONLY, ["status"]) == FaultPlan()
    assert all(set(plan_for_seed(s, ANTHROPIC, ["exit", "stall"]).kinds) <= {"stall"} for s in range(20))


# -- rechunking ------------------------------------------------------------------------------------


def test_rechunk_keeps_the_bytes_and_the_total_delay_and_is_deterministic():
    parts = [Part(f"event {i}\n\n".encode() * (i + 1), i * 10, i, i + 2) for i in range(8)]
    cut = rechunk(parts, Rng(derive(3, "rechunk", 1)))
    assert b"".join(p.data for p in cut) == b"".join(p.data for p in parts)
    assert sum(p.after_ms for p in cut) == sum(p.after_ms for p in parts)
    assert [p.data for p in cut] != [p.data for p in parts]
    assert cut == rechunk(parts, Rng(derive(3, "rechunk", 1)))
    assert cut != rechunk(parts, Rng(derive(4, "rechunk", 1)))


def test_a_chunker_that_changes_the_bytes_is_refused():
    def lossy(number: int, parts: list[Part]) -> list[Part]:
        return parts[1:]

    replay = HttpReplay([ANTHROPIC], matcher=MATCHER, chunker=lossy)
    sent = json.dumps(body(ANTHROPIC)).encode()
    with pytest.raises(UsageError, match="the chunker changed the bytes of exchange 1"):
        replay.request("POST", "https://api.anthropic.com/v1/messages", [("content-type", "application/json")], sent)


# -- the official SDKs over the replay transports ---------------------------------------------------


class Incomplete(Exception):
    """The stream ended without its end marker: a careful client retries."""


def anthropic_client(replay: HttpReplay, retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="test", max_retries=retries, http_client=httpx2.Client(transport=ReplayTransport(replay))
    )


def openai_client(replay: HttpReplay, retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="test", max_retries=retries, http_client=httpx2.Client(transport=ReplayTransport(replay))
    )


def anthropic_turn(client: anthropic.Anthropic, sent: dict[str, Any]) -> Any:
    with client.messages.stream(**{k: v for k, v in sent.items() if k != "stream"}) as stream:
        message = stream.get_final_message()
    if message.stop_reason is None:
        raise Incomplete("no message_stop")
    return message.model_dump()


def chat_turn(client: openai.OpenAI, sent: dict[str, Any]) -> Any:
    chunks = [c.model_dump() for c in client.chat.completions.create(**sent)]
    if not any(choice["finish_reason"] for c in chunks for choice in c["choices"]):
        raise Incomplete("no finish_reason")
    return chunks


def responses_turn(client: openai.OpenAI, sent: dict[str, Any]) -> Any:
    events = [e.model_dump() for e in client.responses.create(**sent)]
    if not events or events[-1]["type"] != "response.completed":
        raise Incomplete("no response.completed")
    return events[-1]["response"]


PROVIDERS: dict[str, tuple[Transcript, Callable[..., Any], Callable[..., Any]]] = {
    "anthropic": (ANTHROPIC, anthropic_client, anthropic_turn),
    "chat": (CHAT, openai_client, chat_turn),
    "responses": (RESPONSES, openai_client, responses_turn),
}
RETRYABLE = (anthropic.APIError, openai.APIError, httpx2.TransportError, Incomplete)


def run(provider: str, text: str, *, sdk_retries: int = 0, attempts: int = 1) -> tuple[list[Any], HttpReplay]:
    """Every turn of the recording through the SDK, each tried ``attempts`` times; the answers and the replay."""
    transcript, make, turn = PROVIDERS[provider]
    faulted = apply(text, transcript)
    assert faulted.skipped == ()
    replay = HttpReplay([faulted.transcript], matcher=MATCHER, chunker=faulted.chunker)
    client = make(replay, sdk_retries)
    answers = []
    for number in range(1, len(list(transcript.outbound())) + 1):
        for attempt in range(attempts):
            try:
                answers.append(turn(client, body(transcript, number)))
                break
            except RETRYABLE:
                if attempt == attempts - 1:
                    raise
    return answers, replay


def clean(provider: str) -> list[Any]:
    answers, replay = run(provider, "none")
    replay.finish()
    return answers


@pytest.mark.parametrize(
    ("provider", "code", "error"),
    [
        ("anthropic", 529, anthropic.OverloadedError),
        ("anthropic", 429, anthropic.RateLimitError),
        ("anthropic", 500, anthropic.InternalServerError),
        ("chat", 429, openai.RateLimitError),
        ("chat", 500, openai.InternalServerError),
        ("responses", 503, openai.InternalServerError),
    ],
)
def test_sdks_retry_a_status_fault_and_raise_its_error_without_retries(provider, code, error):
    text = f"status@1:code={code},retry_after_ms=1"
    answers, replay = run(provider, text, sdk_retries=1)
    replay.finish()  # the error body went unread: the SDK closed it before retrying
    assert answers == clean(provider)
    assert [e.status for e in replay.exchanges][:2] == [code, 200]
    with pytest.raises(error) as raised:
        run(provider, text, sdk_retries=0)
    assert raised.value.status_code == code
    assert f"(fault {text})" in str(raised.value)


def test_a_client_that_does_not_retry_a_status_fault_leaves_the_copied_request_unconsumed():
    transcript, make, turn = PROVIDERS["anthropic"]
    faulted = apply("status@1", transcript)
    replay = HttpReplay([faulted.transcript], matcher=MATCHER)
    with pytest.raises(anthropic.OverloadedError):
        turn(make(replay, 0), body(transcript))
    with pytest.raises(UnconsumedEntries, match=r"starting with expect_outbound \(fault:status@1\)"):
        replay.finish()


@pytest.mark.parametrize(
    ("provider", "error"),
    [("anthropic", anthropic.APIStatusError), ("chat", openai.APIError), ("responses", openai.APIError)],
)
def test_sdks_raise_a_stream_error_while_iterating_after_the_frames_before_it(provider, error):
    transcript, make, _ = PROVIDERS[provider]
    faulted = apply("stream_error@1.3", transcript)
    replay = HttpReplay([faulted.transcript], matcher=MATCHER)
    client = make(replay, 2)
    sent = body(transcript)
    if provider == "anthropic":
        stream: Any = client.messages.create(**sent)
    elif provider == "chat":
        stream = client.chat.completions.create(**sent)
    else:
        stream = client.responses.create(**sent)
    seen = []
    with pytest.raises(error, match=r"\(fault stream_error@1\.3\)"):
        for event in stream:
            seen.append(event)
    assert len(seen) == 3
    assert len(replay.exchanges) == 1  # the SDK did not retry inside the stream


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
@pytest.mark.parametrize("text", ["stream_error@1.2", "reset@1.2", "reset@1.0", "truncate@1.2"])
def test_a_client_that_retries_a_failed_stream_passes_and_one_that_does_not_fails_closed(provider, text):
    answers, replay = run(provider, text, attempts=2)
    replay.finish()
    assert answers == clean(provider)
    with pytest.raises(RETRYABLE):
        run(provider, text, attempts=1)
    # Had the client ignored the failure, the copied request would be left over.
    transcript, make, turn = PROVIDERS[provider]
    faulted = apply(text, transcript)
    ignoring = HttpReplay([faulted.transcript], matcher=MATCHER)
    with contextlib.suppress(*RETRYABLE):
        turn(make(ignoring, 0), body(transcript))
    with pytest.raises(UnconsumedEntries, match=re.escape(f"(fault:{text})")):
        ignoring.finish()


def test_reset_inside_a_stream_raises_the_connection_error_of_each_sdk():
    # anthropic before 2.17 lets the transport's error through; later releases wrap it as their
    # APIConnectionError. Either way the cause names the fault.
    with pytest.raises((httpx2.RemoteProtocolError, anthropic.APIConnectionError)) as raised:
        run("anthropic", "reset@1.1")
    cause = raised.value if isinstance(raised.value, httpx2.RemoteProtocolError) else raised.value.__cause__
    assert isinstance(cause, httpx2.RemoteProtocolError)
    assert "connection reset by peer (fault reset@1.1)" in str(cause)
    with pytest.raises(openai.APIConnectionError):
        run("chat", "reset@1.1")


def test_truncate_ends_a_stream_without_an_error():
    transcript, make, _ = PROVIDERS["anthropic"]
    faulted = apply("truncate@1.3", transcript)
    replay = HttpReplay([faulted.transcript], matcher=MATCHER)
    events = list(make(replay, 2).messages.create(**body(transcript)))
    assert [e.type for e in events] == ["message_start", "content_block_start", "content_block_delta"]


def test_the_sdk_retries_a_reset_of_a_json_answer_itself():
    transcript = json_transcript()
    faulted = apply("reset@1.0", transcript)
    sent = body(transcript)
    replay = HttpReplay([faulted.transcript], matcher=MATCHER)
    message = anthropic_client(replay, retries=1).messages.create(**sent)
    assert message.content[0].text == "Paris"  # type: ignore[union-attr]
    replay.finish()
    replay = HttpReplay([faulted.transcript], matcher=MATCHER)
    with pytest.raises(anthropic.APIConnectionError):
        anthropic_client(replay, retries=0).messages.create(**sent)


def test_a_client_that_retries_too_often_sends_a_request_the_recording_does_not_have():
    transcript, make, turn = PROVIDERS["responses"]
    faulted = apply("status@1:retry_after_ms=1", transcript)
    replay = HttpReplay([faulted.transcript], matcher=MATCHER)
    client = make(replay, 1)
    turn(client, body(transcript))
    with pytest.raises(openai.BadRequestError):
        turn(client, body(transcript))
    with pytest.raises(UnexpectedOutbound, match="the end of the transcript"):
        replay.finish()


def test_a_retry_with_another_request_fails_with_the_frame_mismatch():
    transcript, make, turn = PROVIDERS["chat"]
    faulted = apply("reset@1.1", transcript)
    replay = HttpReplay([faulted.transcript], matcher=MATCHER)
    client = make(replay, 0)
    with pytest.raises(openai.APIConnectionError):
        turn(client, body(transcript))
    with pytest.raises(openai.BadRequestError):
        turn(client, {**body(transcript), "model": "gpt-4o-mini"})
    with pytest.raises(FrameMismatch, match=r"expect_outbound|outbound frame \(fault:reset@1\.1\)"):
        replay.finish()


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_rechunked_stream_gives_the_sdk_the_same_answer(provider):
    answers, replay = run(provider, "rechunk@1:seed=5")
    replay.finish()
    assert answers == clean(provider)
    recorded = positions(PROVIDERS[provider][0]).exchanges[0].body_frames
    assert len(replay.exchanges[0].parts) != recorded  # the body really came in other pieces


def test_a_rechunked_stream_only_recording_gives_the_same_message():
    def final(text: str) -> str:
        faulted = apply(text, STREAM_ONLY)
        replay = HttpReplay([faulted.transcript], chunker=faulted.chunker)
        sent = {"model": "claude-3-opus-latest", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
        with anthropic_client(replay).messages.stream(**sent) as stream:
            text = stream.get_final_text()
        replay.finish()
        return text

    assert final("rechunk@1:seed=11") == final("none") == "Hello there!"


def test_benign_faults_do_not_change_what_the_sdk_returns():
    for provider in sorted(PROVIDERS):
        answers, replay = run(provider, "stall@1.1:ms=5000;slow@1.2:ms=100")
        replay.finish()
        assert answers == clean(provider)
        assert replay.clock.now_ms() >= 5000


def test_the_async_sdk_retries_a_status_fault_over_the_async_transport():
    faulted = apply("status@1:code=429,retry_after_ms=1", RESPONSES)
    replay = HttpReplay([faulted.transcript], matcher=MATCHER)

    async def main() -> str:
        client = openai.AsyncOpenAI(
            api_key="test", max_retries=1, http_client=httpx2.AsyncClient(transport=AsyncReplayTransport(replay))
        )
        events = [event async for event in await client.responses.create(**body(RESPONSES))]
        return events[-1].type

    assert asyncio.run(main()) == "response.completed"
    replay.finish()
    assert [e.status for e in replay.exchanges] == [429, 200]


def test_fault_labels_name_the_fault_in_the_unconsumed_report():
    faulted = apply("truncate@1.2", ANTHROPIC)
    replay = HttpReplay([faulted.transcript], matcher=MATCHER)
    events = list(anthropic_client(replay).messages.create(**body(ANTHROPIC)))
    assert len(events) == 2  # the truncated stream, which the client took for the whole answer
    with pytest.raises(UnconsumedEntries) as error:
        replay.finish()
    assert "starting with expect_outbound (fault:truncate@1.2)" in str(error.value)
    assert (error.value.remaining[0][2], error.value.remaining[1][2]) == ("fault:truncate@1.2", "message_start")


def test_the_simulation_docs_describe_every_fault_kind_and_parameter() -> None:
    text = (ROOT / "docs" / "simulation.md").read_text()
    for name, kind in FAULT_KINDS.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, f"docs/simulation.md has no row for the fault kind {name}"
        assert f"| {kind.category} |" in row, name
        for param in kind.params:
            assert f"`{param.name}`" in row, (name, param.name)


def test_the_simulation_docs_name_every_rule_the_simulator_reports() -> None:
    text = (ROOT / "docs" / "simulation.md").read_text()
    sources = "".join((ROOT / "harness" / "simulate" / f).read_text() for f in ("target.py", "core.py"))
    rules = set(re.findall(r'Finding\(\s*"(sim\.[a-z_.]+)"', sources))
    assert len(rules) >= 9
    assert sorted(r for r in rules if f"`{r}`" not in text) == []
