"""Differential test: every recorded Responses stream means the same to us as to the official SDK.

For each stream in the corpus (each cassette interaction, each response of a vercel payload file),
the exact recorded bytes are served to ``openai.OpenAI`` through an ``httpx2.MockTransport`` and
read with ``client.responses.stream(...)`` -> ``get_final_response()``. The transcript imported
from the same recording is replayed through our adapter and core: with its scenario from
``scenarios/openai/responses`` when it has one (the implied scenario of a bare transcript cannot
answer tool calls the way the recording did, nor resume), else with ``scenario_for_transcript``.
Response k of the replay must mean what stream k means to the SDK: output item types in order,
message text, function and custom tool calls (call id, name, parsed arguments or raw input),
reasoning text, status or incomplete reason, and input/output tokens.

Where the two disagree on purpose, the case is listed below with the reason:

* :data:`KNOWN_STRICTER`: the SDK accepts the stream, we fail the run with a named rule (no
  recording is in this list; :data:`SYNTHETIC_STRICTER` shows each such rule on a small stream).
* :data:`KNOWN_LENIENT`: the SDK raises, we complete and report named non-fatal rules.
* :data:`RESUMED`: a resumed stream (``GET …?starting_after=N``), which the SDK's accumulator
  cannot read alone (it starts at ``response.queued``); its reference is what a resuming client
  accumulates: the original stream up to ``N`` followed by the resumed one.

A stream the SDK rejects (raises) and that is not listed must be one our replay fails with a
named error.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import openai
import orjson
import pytest
import yaml

from harness.adapters.base import AssistantMessage, ResponseCompleted, ResponseFailed
from harness.adapters.openai_responses import adapt_frames
from harness.core.projection import TERMINAL_RUN_STATUSES
from harness.record import convert_text
from harness.scenario import load_scenario
from harness.scenario.model import discover_scenarios
from harness.scenario.runner import Execution, execute, scenario_for_transcript
from harness.transcript import read_transcript

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "fixtures" / "corpus"
TRANSCRIPTS = ROOT / "transcripts" / "openai"
SCENARIOS = ROOT / "scenarios" / "openai" / "responses"
TERMINAL = (b"response.completed", b"response.failed", b"response.incomplete")

# Recorded streams the SDK accepts and we reject, with the rule we report. None today.
KNOWN_STRICTER: dict[str, str] = {}

# Recorded streams the SDK rejects and we complete, with the non-fatal rules we report and why.
KNOWN_LENIENT: dict[str, tuple[set[str], str]] = {
    "responses-compat-copilot-item-id-rotation.ndjson": (
        {"openai.responses.response_id.changed", "openai.responses.item_id.changed"},
        # The SDK raises "Lifecycle response identity changed." (and would raise "Completed output
        # item identity changed."): the proxy gives every event a new id. The content is whole and
        # consistent, so we key items by output_index, complete, and name each rotation once.
        "the proxy rotates response and item ids on every event",
    ),
}

# Resumed streams: source id -> (the stream it resumes, starting_after).
RESUMED: dict[str, tuple[str, int]] = {
    "openai-responses__background_queued_resume_starting_after.yaml#1": (
        "openai-responses__background_queued_resume_starting_after.yaml#0",
        0,
    ),
}


@dataclass(frozen=True)
class RecordedStream:
    """One HTTP response body of the corpus and the transcript it was imported into."""

    source: Path
    index: int
    count: int
    body: bytes
    transcript: Path

    @property
    def id(self) -> str:
        return self.source.name if self.count == 1 else f"{self.source.name}#{self.index}"


def _cassettes() -> list[RecordedStream]:
    out = []
    folder = CORPUS / "pydantic-ai-cassettes"
    for path in sorted([*folder.glob("openai-responses__*.yaml"), *folder.glob("responses-compat-*.yaml")]):
        interactions = yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]
        transcript = TRANSCRIPTS / "pydantic-ai-cassettes" / (path.stem + ".ndjson")
        for index, interaction in enumerate(interactions):
            body = interaction["response"]["body"]["string"].encode()
            out.append(RecordedStream(path, index, len(interactions), body, transcript))
    return out


def vercel_responses(payload: bytes) -> list[bytes]:
    """SSE bytes rebuilt from one-data-payload-per-line, one byte stream per response.

    A response ends at its terminal event; an ``error`` event is not a boundary, so the
    ``response.failed`` that follows it stays in the same stream.
    """
    streams: list[bytes] = []
    current = b""
    for line in payload.splitlines():
        if not line.strip():
            continue
        event_type = orjson.loads(line)["type"].encode()
        current += b"event: " + event_type + b"\ndata: " + line + b"\n\n"
        if event_type in TERMINAL:
            streams.append(current)
            current = b""
    if current:
        streams.append(current)
    return streams


def _vercel_files() -> list[RecordedStream]:
    out = []
    folder = CORPUS / "vercel-ai-fixtures"
    for path in sorted([*folder.glob("openai-responses-*.ndjson"), *folder.glob("responses-compat-*.ndjson")]):
        transcript = TRANSCRIPTS / "vercel-ai-fixtures" / path.name
        streams = vercel_responses(path.read_bytes())
        out.extend(RecordedStream(path, i, len(streams), body, transcript) for i, body in enumerate(streams))
    return out


STREAMS = [*_cassettes(), *_vercel_files()]
BY_ID = {s.id: s for s in STREAMS}
AGREED = [s for s in STREAMS if s.source.name not in KNOWN_STRICTER | KNOWN_LENIENT.keys() and s.id not in RESUMED]
LENIENT = [s for s in STREAMS if s.source.name in KNOWN_LENIENT]
SOURCES = sorted({s.source for s in STREAMS})


# -- the two readers ----------------------------------------------------------------------------


def sdk_final_response(body: bytes) -> Any:
    """What the official SDK makes of ``body`` served as a 200 text/event-stream response."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream; charset=utf-8"}, content=body)

    http_client = httpx2.Client(transport=httpx2.MockTransport(handler))
    client = openai.OpenAI(api_key="test", http_client=http_client, max_retries=0)
    with http_client, client.responses.stream(model="gpt-test", input="hi") as stream:
        return stream.get_final_response()


def _scenario_by_transcript() -> dict[Path, Path]:
    found = {}
    for path in discover_scenarios([SCENARIOS]):
        scenario = load_scenario(path)
        found[scenario.transcript_path().resolve()] = path
    return found


@functools.cache
def replay(transcript: Path) -> Execution:
    scenario_path = _scenario_by_transcript().get(transcript.resolve())
    loaded = read_transcript(transcript)
    scenario = load_scenario(scenario_path) if scenario_path else scenario_for_transcript(loaded)
    return execute(scenario, transcript=loaded)


_CALLS = ("function_call", "custom_tool_call")


def sdk_view(response: Any) -> dict[str, Any]:
    output = response.output
    usage = response.usage
    return {
        "types": [o.type for o in output],
        "text": response.output_text,
        "calls": [
            (o.type, o.call_id, o.name, json.loads(o.arguments or "{}") if o.type == "function_call" else o.input)
            for o in output
            if o.type in _CALLS
        ],
        "reasoning": [
            "\n\n".join([s.text for s in o.summary or []] + [c.text for c in o.content or []])
            for o in output
            if o.type == "reasoning"
        ],
        "status": response.status,
        "incomplete": response.incomplete_details.reason if response.incomplete_details else None,
        "usage": (usage.input_tokens, usage.output_tokens) if usage else (None, None),
    }


def our_view(message: AssistantMessage) -> dict[str, Any]:
    items = message.items
    completed = message.stop_reason == "completed"
    return {
        "types": [i.block_type for i in items],
        "text": message.text,
        "calls": [(i.block_type, i.native_id, i.name, i.arguments) for i in items if i.block_type in _CALLS],
        "reasoning": [i.text for i in items if i.kind == "reasoning"],
        "status": "completed" if completed else "incomplete",
        "incomplete": None if completed else message.stop_reason,
        "usage": (message.input_tokens, message.output_tokens),
    }


def run_endings(execution: Execution) -> list[dict[str, Any]]:
    """The terminal snapshots (``run.updated`` with a terminal status) of the replay's runs, in order."""
    return [e.data for e in execution.events if e.type == "run.updated" and e.data["status"] in TERMINAL_RUN_STATUSES]


def run_failure(execution: Execution) -> dict[str, Any]:
    """The terminal snapshot of the first run that failed."""
    failed = [run for run in run_endings(execution) if run["status"] == "failed"]
    assert failed, [(e.type, e.data.get("status")) for e in execution.events]
    return failed[0]


def provider_turns(execution: Execution) -> list[dict[str, Any]]:
    """The last snapshot of each provider turn (one per request), in order."""
    turns: dict[str, dict[str, Any]] = {}
    for event in execution.events:
        if event.type == "provider-turn.updated":
            turns[event.data["provider_turn_id"]] = event.data
    return list(turns.values())


def rules(execution: Execution) -> set[str]:
    return {e.data["rule"] for e in execution.events if e.type == "protocol.violation"}


# -- the corpus ---------------------------------------------------------------------------------


def test_the_corpus_holds_every_responses_stream() -> None:
    counts = {
        folder: len({s.source for s in STREAMS if s.source.parent.name == folder})
        for folder in ("pydantic-ai-cassettes", "vercel-ai-fixtures")
    }
    assert counts == {"pydantic-ai-cassettes": 7, "vercel-ai-fixtures": 5}
    assert len(STREAMS) == 21
    assert all(s.transcript.is_file() for s in STREAMS)


def test_the_listed_exceptions_are_in_the_corpus() -> None:
    names = {s.source.name for s in STREAMS}
    assert set(KNOWN_STRICTER) | set(KNOWN_LENIENT) <= names
    assert {key for pair in RESUMED.items() for key in (pair[0], pair[1][0])} <= set(BY_ID)


@pytest.mark.parametrize("source", SOURCES, ids=[s.name for s in SOURCES])
def test_one_response_per_recorded_stream(source: Path) -> None:
    streams = [s for s in STREAMS if s.source == source]
    assert len(replay(streams[0].transcript).responses) == len(streams)


@pytest.mark.parametrize("stream", AGREED, ids=[s.id for s in AGREED])
def test_same_final_response_as_the_sdk(stream: RecordedStream) -> None:
    execution = replay(stream.transcript)
    try:
        expected = sdk_view(sdk_final_response(stream.body))
    except Exception as exc:  # the SDK rejects the stream: so must we, by name
        error = run_failure(execution)["error"]
        assert error["type"], f"the SDK raised {exc!r}; our run must fail with a named error, not {error}"
        assert execution.responses[stream.index][2] == "failed"
        return
    _, message, status = execution.responses[stream.index]
    assert status == "completed", run_failure(execution)
    assert our_view(message) == expected


@pytest.mark.parametrize("stream", LENIENT, ids=[s.id for s in LENIENT])
def test_lenient_where_the_sdk_raises_with_named_rules(stream: RecordedStream) -> None:
    with pytest.raises(RuntimeError, match="identity changed"):
        sdk_final_response(stream.body)
    execution = replay(stream.transcript)
    expected_rules, _ = KNOWN_LENIENT[stream.source.name]
    assert rules(execution) == expected_rules
    _, message, status = execution.responses[stream.index]
    assert status == "completed"
    # With the rotation undone, the SDK accepts the same bytes and means what we mean.
    assert our_view(message) == sdk_view(sdk_final_response(unrotate_ids(stream.body)))


def unrotate_ids(body: bytes) -> bytes:
    """The same stream with every response id set to the first and every item id to the one its
    output_index was added with: what the proxy would have sent without rotating them."""
    out = []
    first_response: Any = None
    added: dict[int, Any] = {}
    for block in body.split(b"\n\n"):
        if not block.strip():
            continue
        head, _, data = block.partition(b"\ndata: ")
        event = orjson.loads(data)
        if isinstance(event.get("response"), dict):
            first_response = first_response or event["response"]["id"]
            event["response"]["id"] = first_response
            for position, item in enumerate(event["response"].get("output") or []):
                if position < len(added):
                    item["id"] = added[sorted(added)[position]]
        if isinstance(event.get("item"), dict):
            added.setdefault(event["output_index"], event["item"].get("id"))
            event["item"]["id"] = added[event["output_index"]]
        if "item_id" in event:
            event["item_id"] = added[event["output_index"]]
        out.append(head + b"\ndata: " + orjson.dumps(event) + b"\n\n")
    return b"".join(out)


@pytest.mark.parametrize("resumed_id", sorted(RESUMED))
def test_resumed_stream_means_what_a_resuming_client_accumulates(resumed_id: str) -> None:
    resumed = BY_ID[resumed_id]
    original_id, starting_after = RESUMED[resumed_id]
    # Alone, the resumed stream is unreadable for the SDK's accumulator: it starts mid-response.
    with pytest.raises(RuntimeError, match=r"before `response\.queued`"):
        sdk_final_response(resumed.body)
    prefix = [
        block + b"\n\n"
        for block in BY_ID[original_id].body.split(b"\n\n")
        if block.strip() and orjson.loads(block.partition(b"\ndata: ")[2])["sequence_number"] <= starting_after
    ]
    expected = sdk_view(sdk_final_response(b"".join(prefix) + resumed.body))
    execution = replay(resumed.transcript)
    _, message, status = execution.responses[resumed.index]
    # The response is the one read from the resume request: each request is a provider turn with
    # one response, and the turn before it is the one the resume request re-attached to.
    turns = provider_turns(execution)
    assert len(turns) == len(execution.responses)
    assert turns[resumed.index - 1].get("resumed") is True
    assert "resumed" not in turns[resumed.index]
    assert status == "completed"
    assert our_view(message) == expected
    assert "openai.responses.resume.mismatch" not in rules(execution)


def test_error_then_failed_fails_both_with_the_provider_error() -> None:
    (stream,) = [s for s in STREAMS if s.source.name == "openai-responses-error-then-failed.ndjson"]
    with pytest.raises(openai.APIError) as raised:
        sdk_final_response(stream.body)
    assert raised.value.body["code"] == "insufficient_quota"  # type: ignore[index]
    failed = run_failure(replay(stream.transcript))
    assert failed["error"]["type"] == "insufficient_quota"
    assert failed["error"]["message"] == str(raised.value.message)
    assert "rule" not in failed
    assert failed["frames_discarded"] == 1  # the response.failed echo of the same failure


# -- synthetic streams: where we are stricter, and where both reject ----------------------------


def sse(event: dict[str, Any]) -> bytes:
    return b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def _response(status: str, output: list[Any]) -> dict[str, Any]:
    return {"id": "resp_1", "object": "response", "created_at": 0, "model": "gpt-test", "status": status,
            "output": output, "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}}  # fmt: skip


def function_call_stream(arguments_fragments: list[str], final: str, *, numbers: list[int] | None = None) -> bytes:
    item = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": ""}
    done = {**item, "arguments": final, "status": "completed"}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response("in_progress", [])},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        *(
            {"type": "response.function_call_arguments.delta", "output_index": 0, "item_id": "fc_1", "delta": f}
            for f in arguments_fragments
        ),
        {"type": "response.function_call_arguments.done", "output_index": 0, "item_id": "fc_1", "arguments": final},
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        {"type": "response.completed", "response": _response("completed", [done])},
    ]
    numbers = numbers if numbers is not None else list(range(len(events)))
    return b"".join(sse({**e, "sequence_number": n}) for e, n in zip(events, numbers, strict=True))


def ours(body: bytes) -> list[Any]:
    _, entries, _ = convert_text(body.decode(), name="s.sse", scenario="s", protocol="openai.responses")
    return adapt_frames([entry.frame for entry in entries])  # type: ignore[union-attr]


# rule -> (a stream the SDK accepts, why we fail it)
SYNTHETIC_STRICTER: dict[str, tuple[bytes, str]] = {
    "openai.responses.sequence_number.repeat": (
        function_call_stream(['{"a":', " 1}"], '{"a": 1}', numbers=[0, 1, 2, 2, 3, 4, 5]),
        "a repeated event would apply twice; the SDK does not look at sequence numbers",
    ),
    "openai.responses.sequence_number.backwards": (
        function_call_stream(['{"a":', " 1}"], '{"a": 1}', numbers=[0, 1, 3, 2, 4, 5, 6]),
        "events out of order may have been applied in the wrong order",
    ),
    "openai.responses.function_call.invalid_json": (
        function_call_stream(['{"a": ', '"never closed'], '{"a": "never closed'),
        "the SDK keeps arguments as a string; a tool cannot run on arguments that are not JSON",
    ),
}


@pytest.mark.parametrize("rule", sorted(SYNTHETIC_STRICTER))
def test_stricter_than_the_sdk_with_a_named_rule(rule: str) -> None:
    body, _ = SYNTHETIC_STRICTER[rule]
    sdk_final_response(body)  # the SDK accepts it
    events = ours(body)
    (failed,) = [e for e in events if isinstance(e, ResponseFailed)]
    assert (failed.error_type, failed.rule) == ("protocol_violation", rule)


def _without(body: bytes, event_type: str) -> bytes:
    return b"".join(
        block + b"\n\n"
        for block in body.split(b"\n\n")
        if block.strip() and b"event: " + event_type.encode() not in block
    )


# name -> (a stream the SDK rejects, the rule we fail it with)
BOTH_REJECT: dict[str, tuple[bytes, str]] = {
    "no response.created": (_without(function_call_stream(["{}"], "{}"), "response.created"), "created.missing"),
    "no terminal event": (_without(function_call_stream(["{}"], "{}"), "response.completed"), "stream.truncated"),
    "delta for an item never added": (
        _without(function_call_stream(["{}"], "{}"), "response.output_item.added"),
        "output_index.unknown",
    ),
}


@pytest.mark.parametrize("name", sorted(BOTH_REJECT))
def test_streams_the_sdk_rejects_fail_with_a_named_rule(name: str) -> None:
    body, rule = BOTH_REJECT[name]
    with pytest.raises(RuntimeError):
        sdk_final_response(body)
    (failed,) = [e for e in ours(body) if isinstance(e, ResponseFailed)]
    assert failed.rule == f"openai.responses.{rule}"


def test_a_valid_synthetic_stream_agrees_with_the_sdk() -> None:
    body = function_call_stream(["", '{"city": "Par', 'is"}'], '{"city": "Paris"}')
    (completed,) = [e for e in ours(body) if isinstance(e, ResponseCompleted)]
    assert our_view(completed.message) == sdk_view(sdk_final_response(body))
