"""Semantic request matching: formatting-only differences of another client's requests match,
differences in meaning fail and are named in the canonical request and in the recorded frame.

Each recorded request below comes from a real recording in the repository (pydantic-ai cassettes);
the "sent" side is that request re-spelled the way another client (or the core) spells it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.errors import FrameMismatch, RecordingEnded, TranscriptExhausted, UsageError
from harness.replay import FrameMatcher, ReplayDriver
from harness.replay.semantic import canonical_request, recorded_by_another_client
from harness.transcript import ExpectOutbound, parse_transcript, read_transcript

ROOT = Path(__file__).resolve().parents[2]
ANTHROPIC_LOOP = "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"
CHAT_LOOP = "transcripts/openai/pydantic-ai-cassettes/openai-chat__parallel_tool_calls_multiturn.ndjson"
RESPONSES_LOOP = (
    "transcripts/openai/pydantic-ai-cassettes/openai-responses__function_call_then_text_multiturn_no_seqnum.ndjson"
)


def recorded_request(path: str, number: int) -> dict[str, Any]:
    """The ``number``-th recorded request (1-based) of a repository transcript."""
    transcript = read_transcript(ROOT / path)
    frames = [entry.frame for _, entry in transcript.outbound()]
    return copy.deepcopy(frames[number - 1])


def strict(protocol: str) -> FrameMatcher:
    return FrameMatcher()


def semantic(protocol: str) -> FrameMatcher:
    return FrameMatcher(mode="semantic", protocol=protocol)


# -- formatting-only differences: strict fails, semantic matches ---------------------------------


def _chat_arguments_spaced(frame: dict[str, Any]) -> None:
    # messages[4] is the assistant turn with get_weather({"city":"Mexico City"}) (compact JSON).
    frame["body"]["messages"][4]["tool_calls"][0]["function"]["arguments"] = '{ "city" : "Mexico City" }'


def _anthropic_is_error_absent(frame: dict[str, Any]) -> None:
    del frame["body"]["messages"][2]["content"][0]["is_error"]


def _chat_content_empty_string(frame: dict[str, Any]) -> None:
    # The recording leaves content out of the tool-calls-only assistant turns; "" means the same.
    frame["body"]["messages"][1]["content"] = ""


def _chat_content_null(frame: dict[str, Any]) -> None:
    frame["body"]["messages"][1]["content"] = None


def _anthropic_tool_result_as_string(frame: dict[str, Any]) -> None:
    frame["body"]["messages"][2]["content"][0]["content"] = "1 USD = 0.92 EUR"


def _anthropic_user_text_as_string(frame: dict[str, Any]) -> None:
    frame["body"]["messages"][0]["content"] = "What is the current USD to EUR exchange rate?"


def _chat_tool_result_as_text_parts(frame: dict[str, Any]) -> None:
    frame["body"]["messages"][2]["content"] = [{"type": "text", "text": "Mexico"}]


def _chat_ids_invented(frame: dict[str, Any]) -> None:
    # A client that numbers the calls itself: every id and every reference to it renamed alike.
    renamed = {
        "call_q2UyBRP7eXNTzAoR8lEhjc9Z": "tool-0",
        "call_b51ijcpFkDiTQG1bQzsrmtW5": "tool-1",
        "call_LwxJUB9KppVyogRRLQsamRJv": "tool-2",
    }
    for message in frame["body"]["messages"]:
        for call in message.get("tool_calls") or []:
            call["id"] = renamed[call["id"]]
        if "tool_call_id" in message:
            message["tool_call_id"] = renamed[message["tool_call_id"]]


def _responses_call_id_and_item_id(frame: dict[str, Any]) -> None:
    # The recorded client sent the fc_ item id as call_id and no id; the core sends both apart.
    call, output = frame["body"]["input"][1], frame["body"]["input"][2]
    call["call_id"] = output["call_id"] = "call_kL0PCQV7M2WMoVX8V8OtYSAL"
    call["id"] = "fc_67e554a1de488191af0831d35cbe082e0794405d35281ae2"


def _responses_output_as_text_parts(frame: dict[str, Any]) -> None:
    frame["body"]["input"][2]["output"] = [{"type": "input_text", "text": "Paris"}]


def _responses_empty_instructions_dropped(frame: dict[str, Any]) -> None:
    del frame["body"]["instructions"]  # recorded as "": no instructions either way


def _responses_tool_description_dropped(frame: dict[str, Any]) -> None:
    del frame["body"]["tools"][0]["description"]  # recorded as ""


FORMATTING_ONLY: list[tuple[str, str, int, Callable[[dict[str, Any]], None]]] = [
    ("openai.chat", CHAT_LOOP, 3, _chat_arguments_spaced),
    ("anthropic.messages", ANTHROPIC_LOOP, 2, _anthropic_is_error_absent),
    ("openai.chat", CHAT_LOOP, 2, _chat_content_empty_string),
    ("openai.chat", CHAT_LOOP, 2, _chat_content_null),
    ("anthropic.messages", ANTHROPIC_LOOP, 2, _anthropic_tool_result_as_string),
    ("anthropic.messages", ANTHROPIC_LOOP, 2, _anthropic_user_text_as_string),
    ("openai.chat", CHAT_LOOP, 2, _chat_tool_result_as_text_parts),
    ("openai.chat", CHAT_LOOP, 3, _chat_ids_invented),
    ("openai.responses", RESPONSES_LOOP, 2, _responses_call_id_and_item_id),
    ("openai.responses", RESPONSES_LOOP, 2, _responses_output_as_text_parts),
    ("openai.responses", RESPONSES_LOOP, 2, _responses_empty_instructions_dropped),
    ("openai.responses", RESPONSES_LOOP, 2, _responses_tool_description_dropped),
]


@pytest.mark.parametrize(
    ("protocol", "path", "number", "respell"),
    FORMATTING_ONLY,
    ids=[respell.__name__.lstrip("_") for *_, respell in FORMATTING_ONLY],
)
def test_a_formatting_only_difference_fails_strict_and_matches_semantic(
    protocol: str, path: str, number: int, respell: Callable[[dict[str, Any]], None]
) -> None:
    recorded = recorded_request(path, number)
    sent = copy.deepcopy(recorded)
    respell(sent)
    assert strict(protocol).difference(recorded, sent) is not None
    assert semantic(protocol).difference(recorded, sent) is None


# -- differences in meaning: semantic still fails, naming the first differing element ------------


def _anthropic_other_argument(frame: dict[str, Any]) -> None:
    frame["body"]["messages"][1]["content"][4]["input"]["to_currency"] = "GBP"


def _anthropic_other_result(frame: dict[str, Any]) -> None:
    frame["body"]["messages"][2]["content"][0]["content"] = "1 USD = 0.79 GBP"


def _anthropic_is_error_true(frame: dict[str, Any]) -> None:
    frame["body"]["messages"][2]["content"][0]["is_error"] = True


def _chat_other_argument(frame: dict[str, Any]) -> None:
    frame["body"]["messages"][4]["tool_calls"][0]["function"]["arguments"] = '{"city": "Lyon"}'


def _chat_other_model(frame: dict[str, Any]) -> None:
    frame["body"]["model"] = "gpt-4o-mini"


def _chat_results_swapped(frame: dict[str, Any]) -> None:
    # Same texts, but each result now answers the other call.
    first, second = frame["body"]["messages"][2], frame["body"]["messages"][3]
    first["tool_call_id"], second["tool_call_id"] = second["tool_call_id"], first["tool_call_id"]


def _responses_other_output(frame: dict[str, Any]) -> None:
    frame["body"]["input"][2]["output"] = "Lyon"


def _chat_other_max_tokens(frame: dict[str, Any]) -> None:
    frame["body"]["max_tokens"] = 100


MEANING: list[tuple[str, str, int, Callable[[dict[str, Any]], None], str, str, Any, Any]] = [
    (
        "anthropic.messages",
        ANTHROPIC_LOOP,
        2,
        _anthropic_other_argument,
        "$.messages[1].content[4].input.to_currency",
        "$.body.messages[1].content[4].input.to_currency",
        "EUR",
        "GBP",
    ),
    (
        "anthropic.messages",
        ANTHROPIC_LOOP,
        2,
        _anthropic_other_result,
        "$.messages[2].content[0].content[0].text",
        "$.body.messages[2].content[0].content[0].text",
        "1 USD = 0.92 EUR",
        "1 USD = 0.79 GBP",
    ),
    (
        "anthropic.messages",
        ANTHROPIC_LOOP,
        2,
        _anthropic_is_error_true,
        "$.messages[2].content[0].is_error",
        "$.body.messages[2].content[0].is_error",
        False,
        True,
    ),
    (
        "openai.chat",
        CHAT_LOOP,
        3,
        _chat_other_argument,
        "$.messages[4].tool_calls[0].function.arguments.city",
        "$.body.messages[4].tool_calls[0].function.arguments",
        "Mexico City",
        "Lyon",
    ),
    ("openai.chat", CHAT_LOOP, 2, _chat_other_model, "$.model", "$.body.model", "gpt-4o", "gpt-4o-mini"),
    (
        "openai.chat",
        CHAT_LOOP,
        2,
        _chat_results_swapped,
        "$.messages[2].tool_call_id",
        "$.body.messages[2].tool_call_id",
        "<call 1>",
        "<call 2>",
    ),
    (
        "openai.responses",
        RESPONSES_LOOP,
        2,
        _responses_other_output,
        "$.input[2].output[0].text",
        "$.body.input[2].output",
        "Paris",
        "Lyon",
    ),
]


@pytest.mark.parametrize(
    ("protocol", "path", "number", "change", "canonical_path", "recorded_at", "expected", "found"),
    MEANING,
    ids=[row[3].__name__.lstrip("_") for row in MEANING],
)
def test_a_difference_in_meaning_fails_semantic_at_the_first_differing_element(
    protocol: str,
    path: str,
    number: int,
    change: Callable[[dict[str, Any]], None],
    canonical_path: str,
    recorded_at: str,
    expected: Any,
    found: Any,
) -> None:
    recorded = recorded_request(path, number)
    sent = copy.deepcopy(recorded)
    change(sent)
    difference = semantic(protocol).difference(recorded, sent)
    assert difference is not None
    assert (difference.json_path, difference.recorded_at) == (canonical_path, recorded_at)
    assert (difference.expected, difference.actual) == (expected, found)


def test_a_parameter_the_recording_lacks_is_a_difference() -> None:
    recorded = recorded_request(CHAT_LOOP, 2)
    sent = copy.deepcopy(recorded)
    _chat_other_max_tokens(sent)
    difference = semantic("openai.chat").difference(recorded, sent)
    assert difference is not None
    assert (difference.json_path, difference.actual) == ("$.max_tokens", 100)


def test_the_request_line_is_compared_as_sent() -> None:
    recorded = recorded_request(ANTHROPIC_LOOP, 2)
    sent = copy.deepcopy(recorded)
    sent["query"] = {}
    difference = semantic("anthropic.messages").difference(recorded, sent)
    assert difference is not None
    assert (difference.json_path, difference.recorded_at) == ("$.query.beta", "$.query.beta")


def test_transport_headers_are_not_compared_but_api_headers_are() -> None:
    recorded = recorded_request(ANTHROPIC_LOOP, 2)
    sent = copy.deepcopy(recorded)
    sent["headers"] = {"content-type": "application/json; charset=utf-8", "x-stainless-lang": "js"}
    assert semantic("anthropic.messages").difference(recorded, sent) is None
    sent["headers"]["anthropic-beta"] = "advanced-tool-use-2025-11-20"
    difference = semantic("anthropic.messages").difference(recorded, sent)
    assert difference is not None and difference.json_path == "$.headers['anthropic-beta']"


def test_ignored_paths_are_frame_paths_in_semantic_mode_too() -> None:
    recorded = recorded_request(CHAT_LOOP, 3)
    sent = copy.deepcopy(recorded)
    _chat_other_argument(sent)
    matcher = FrameMatcher.from_paths(
        ["$.body.messages[4].tool_calls[0].function.arguments"], mode="semantic", protocol="openai.chat"
    )
    assert matcher.difference(recorded, sent) is None


def test_a_redacted_recorded_value_matches_semantically_as_it_does_strictly() -> None:
    recorded = recorded_request(CHAT_LOOP, 2)
    recorded["body"]["user"] = "key <redacted:openai-key>"
    sent = copy.deepcopy(recorded)
    sent["body"]["user"] = "key sk-proj-" + "a" * 40
    assert semantic("openai.chat").difference(recorded, sent) is None


def test_semantic_needs_a_protocol_with_a_canonical_form() -> None:
    with pytest.raises(UsageError, match=r"codex\.app-server"):
        FrameMatcher(mode="semantic", protocol="codex.app-server")


def test_canonical_tool_calls_are_numbered_by_first_mention() -> None:
    canonical = canonical_request("openai.chat", recorded_request(CHAT_LOOP, 3))
    messages = canonical.body["messages"]
    assert [call["id"] for call in messages[1]["tool_calls"]] == ["<call 1>", "<call 2>"]
    assert [m.get("tool_call_id") for m in messages[2:4]] == ["<call 1>", "<call 2>"]
    assert messages[4]["tool_calls"][0]["function"]["arguments"] == {"city": "Mexico City"}


# -- the driver's error: transcript line, canonical path, recorded path, expected, found ----------


def test_a_semantic_mismatch_names_the_transcript_line_and_both_paths() -> None:
    transcript = read_transcript(ROOT / ANTHROPIC_LOOP)
    index, entry = [(i, e) for i, e in transcript.outbound()][1]
    assert isinstance(entry, ExpectOutbound)
    driver = ReplayDriver(transcript, matcher=semantic("anthropic.messages"))
    driver.cursor = index  # the second request is next
    sent = copy.deepcopy(entry.frame)
    _anthropic_other_argument(sent)
    with pytest.raises(FrameMismatch) as caught:
        driver.send(sent)
    error = caught.value
    assert (error.line, error.json_path, error.recorded_at) == (
        40,
        "$.messages[1].content[4].input.to_currency",
        "$.body.messages[1].content[4].input.to_currency",
    )
    assert str(error).startswith(
        f"{transcript.path}:40: outbound frame (POST /v1/messages) means something else than the recording at "
        "$.messages[1].content[4].input.to_currency (semantic match; recorded frame: "
        '$.body.messages[1].content[4].input.to_currency): expected "EUR", found "GBP".'
    )


# -- where a transcript came from ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "foreign"),
    [
        ({"source": "x.yaml", "format": "vcr-cassette", "importer": "harness import"}, True),
        ({"client": "pydantic-ai"}, True),
        ({"recordedWith": "harness record"}, False),
        ({"source": "a.ndjson", "format": "derived"}, False),
        ({"client": ""}, False),
        ({}, False),
    ],
    ids=["imported", "client named", "harness record", "translated", "empty client", "none"],
)
def test_the_header_says_whether_another_client_made_the_requests(metadata: dict[str, Any], foreign: bool) -> None:
    assert recorded_by_another_client(metadata) is foreign


# -- stream-only captures: the recording ends here -----------------------------------------------

STREAM_ONLY = (
    '{"type":"transcript_start","provider":"anthropic","protocol":"anthropic.messages","version":"1","scenario":"s"}\n'
    '{"type":"emit_inbound","frame":{"kind":"sse","event":"ping","data":{"type":"ping"}}}\n'
)


def test_a_further_request_to_a_consumed_capture_is_the_recording_ending() -> None:
    driver = ReplayDriver(parse_transcript(STREAM_ONLY, path="capture.ndjson"))
    driver.send({})
    assert driver.receive() is not None
    with pytest.raises(RecordingEnded, match="no response to request 2"):
        driver.send({})
    assert (driver.recording_ended_at, driver.failure) == (2, None)


def test_a_capture_with_no_response_at_all_is_exhausted_not_ended() -> None:
    empty = parse_transcript(STREAM_ONLY.splitlines()[0] + "\n", path="empty.ndjson")
    driver = ReplayDriver(empty)
    with pytest.raises(TranscriptExhausted) as caught:
        driver.send({})
    assert not isinstance(caught.value, RecordingEnded)
    assert driver.recording_ended_at is None
