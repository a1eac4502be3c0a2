"""Streams as OpenAI-compatible providers send them mean to us what they mean to the official SDK.

Each test writes a small stream with one quirk seen in real traffic (Groq rotating chunk ids, a
server that never sends ``finish_reason``, ``arguments: null`` fragments, an id or name repeated in
later fragments, ``refusal``, ``annotations``, extra delta fields), serves its bytes to
``openai.OpenAI`` through ``httpx2.MockTransport`` (``client.chat.completions.stream(...)`` ->
``get_final_completion()``, see ``test_openai_chat_differential.py``) and reads the same bytes
through our importer and adapter; the two views must be equal. Where the SDK raises and we do not,
the test says so and pins what we do instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.base import ProviderEvent, ResponseCompleted, ResponseFailed
from harness.adapters.openai_chat import OpenAIChatAdapter, OpenAIChatResponseReader
from harness.record import convert_text, import_source
from harness.scenario import replay_summary, replay_transcript
from harness.testing import protocol_violations, terminal_of
from tests.adapters.test_openai_chat_differential import our_view, sdk_final_completion, sdk_view

HEAD = {"object": "chat.completion.chunk", "created": 0, "model": "gpt-test"}


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, index: int = 0, **top: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]
    return {"id": top.pop("id", "chatcmpl-1"), **HEAD, "choices": choices, **top}


def call(tool: int, call_id: str | None = None, name: str | None = None, arguments: str | None = "") -> dict[str, Any]:
    fragment: dict[str, Any] = {"index": tool, "function": {"arguments": arguments}}
    if call_id is not None:
        fragment["id"], fragment["type"] = call_id, "function"
    if name is not None:
        fragment["function"]["name"] = name
    return fragment


def sse(*chunks: dict[str, Any], done: bool = True) -> bytes:
    events = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)
    return (events + ("data: [DONE]\n\n" if done else "")).encode()


def read(body: bytes) -> list[ProviderEvent]:
    """Our events for ``body``: imported as a transcript would be, read by one reader, then finished."""
    _, entries, _ = convert_text(body.decode(), name="stream.sse", scenario="s", protocol="openai.chat")
    reader = OpenAIChatResponseReader()
    events: list[ProviderEvent] = []
    for index, entry in enumerate(entries):
        events.extend(reader.feed(entry.frame, index))  # type: ignore[union-attr]
    events.extend(reader.finish(len(entries)))
    return events


def ours(body: bytes) -> ResponseCompleted:
    events = read(body)
    assert protocol_violations(events) == []
    terminal = terminal_of(events)
    assert isinstance(terminal, ResponseCompleted), terminal
    return terminal


def assert_same_as_the_sdk(body: bytes, *, tools: bool = True) -> ResponseCompleted:
    completion, parsed = sdk_final_completion(body, tools=tools)
    terminal = ours(body)
    assert our_view(terminal.message) == sdk_view(completion, parsed=parsed)
    return terminal


# -- chunk ids that change mid-stream (Groq) -----------------------------------------------------------

ROTATING = sse(
    chunk({"role": "assistant", "content": ""}, id="chatcmpl-a"),
    chunk({"content": "Hel"}, id="chatcmpl-b"),
    chunk({"content": "lo"}, id="chatcmpl-c"),
    chunk({"tool_calls": [call(0, "call_1", "get_weather", '{"city": ')]}, id="chatcmpl-d"),
    chunk({"tool_calls": [call(0, arguments='"Paris"}')]}, id="chatcmpl-e"),
    chunk({}, "tool_calls", id="chatcmpl-f"),
    chunk(id="chatcmpl-g", usage={"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}),
)


def test_rotating_chunk_ids_keep_the_whole_text_and_the_first_id() -> None:
    message = assert_same_as_the_sdk(ROTATING).message
    assert (message.native_id, message.text, message.stop_reason) == ("chatcmpl-a", "Hello", "tool_calls")
    assert [(c.name, c.arguments) for c in message.tool_calls] == [("get_weather", {"city": "Paris"})]


# -- no finish_reason ------------------------------------------------------------------------------------

NO_FINISH: dict[str, bytes] = {
    "text-then-done": sse(
        chunk({"role": "assistant", "content": ""}), chunk({"content": "Hi"}), chunk({"content": "!"})
    ),
    "text-then-end-of-stream": sse(chunk({"role": "assistant", "content": "Hi"}), chunk({"content": "!"}), done=False),
    "usage-but-no-finish": sse(
        chunk({"role": "assistant", "content": "Hi"}),
        chunk(usage={"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5}),
    ),
    "empty-arguments": sse(
        chunk({"role": "assistant", "content": None}), chunk({"tool_calls": [call(0, "call_1", "ping", "{}")]})
    ),
    "streamed-arguments": sse(
        chunk({"role": "assistant", "content": None}),
        chunk({"tool_calls": [call(0, "call_1", "get_weather")]}),
        chunk({"tool_calls": [call(0, arguments='{"city"')]}),
        chunk({"tool_calls": [call(0, arguments=': "Oslo"}')]}),
        chunk({"tool_calls": [call(1, "call_2", "ping", "{}")]}),
        done=False,
    ),
    "one-of-two-choices-finished": sse(
        chunk({"role": "assistant", "content": "a"}, index=0),
        chunk({"role": "assistant", "content": "b"}, index=1),
        chunk({}, "stop", index=0),
    ),
}


@pytest.mark.parametrize("name", sorted(NO_FINISH))
def test_a_stream_without_finish_reason_completes_as_in_the_sdk(name: str) -> None:
    message = assert_same_as_the_sdk(NO_FINISH[name]).message
    assert message.stop_reason is None or message.alternatives[0].stop_reason is None


def test_tool_calls_without_finish_reason_keep_their_arguments_and_run() -> None:
    message = assert_same_as_the_sdk(NO_FINISH["streamed-arguments"]).message
    assert [(c.name, c.arguments, c.complete) for c in message.tool_calls] == [
        ("get_weather", {"city": "Oslo"}, True),
        ("ping", {}, True),
    ]
    assert OpenAIChatAdapter().next_step(message) == "run_tools"


def test_text_without_finish_reason_ends_the_run() -> None:
    message = assert_same_as_the_sdk(NO_FINISH["text-then-end-of-stream"]).message
    assert (message.text, OpenAIChatAdapter().next_step(message)) == ("Hi!", "stop")


def test_the_core_runs_the_tools_of_a_response_without_finish_reason(tmp_path: Path) -> None:
    source = tmp_path / "no_finish.sse.txt"
    source.write_bytes(NO_FINISH["empty-arguments"])
    import_source(source, tmp_path / "no_finish.ndjson", protocol="openai.chat")
    summary = replay_summary(replay_transcript(tmp_path / "no_finish.ndjson"))
    events = summary["events"]
    assert "protocol.violation" not in [e["type"] for e in events]
    # The provider turn (one per request) completes, its call runs, then the loop sends the next
    # request, which the capture no longer holds: that request's turn ends with the recording
    # (cancelled) and the run completes.
    loop = [
        (e["type"], e["data"].get("status"))
        for e in events
        if e["type"] in ("provider-turn.updated", "tool_call.requested", "tool_call.completed", "run.updated")
    ]
    assert loop[loop.index(("provider-turn.updated", "completed")) :] == [
        ("provider-turn.updated", "completed"),
        ("tool_call.requested", None),
        ("tool_call.completed", None),
        ("provider-turn.updated", "running"),
        ("provider-turn.updated", "cancelled"),
        ("run.updated", "completed"),
    ]
    assert events[-1]["type"] == "run.updated"
    assert events[-1]["data"]["recording_ended"] is True
    (message,) = summary["messages"]
    assert (message["stop_reason"], message["tool_calls"]) == (
        None,
        [{"id": "call_1", "name": "ping", "arguments": {}}],
    )


def test_a_stream_without_any_chunk_stays_an_error_as_the_sdk_cannot_read_it_either() -> None:
    body = sse()
    with pytest.raises(AssertionError):  # the SDK asserts that a completion snapshot exists
        sdk_final_completion(body)
    terminal = terminal_of(read(body))
    assert isinstance(terminal, ResponseFailed) and terminal.rule == "openai.chat.stream.empty"


# -- argument and id/name fragments ---------------------------------------------------------------------

FRAGMENTS: dict[str, bytes] = {
    "null-arguments-fragments": sse(
        chunk({"role": "assistant", "content": None}),
        chunk({"tool_calls": [call(0, "call_1", "get_weather", None)]}),
        chunk({"tool_calls": [call(0, arguments='{"city": ')]}),
        chunk({"tool_calls": [call(0, arguments=None)]}),
        chunk({"tool_calls": [call(0, arguments='"Rome"}')]}),
        chunk({}, "tool_calls"),
    ),
    "id-and-name-repeated-in-every-fragment": sse(
        chunk({"role": "assistant", "content": None}),
        chunk({"tool_calls": [call(0, "call_1", "f", "")]}),
        chunk({"tool_calls": [call(0, "call_1", "f", '{"a": ')]}),
        chunk({"tool_calls": [call(0, "call_1", "f", "1}")]}),
        chunk({}, "tool_calls"),
    ),
    "name-in-pieces": sse(
        chunk({"role": "assistant", "content": None}),
        chunk({"tool_calls": [call(0, "call_1", "get_", "")]}),
        chunk({"tool_calls": [call(0, name="weather", arguments="{}")]}),
        chunk({}, "tool_calls"),
    ),
    "null-and-empty-id-and-name-later": sse(
        chunk({"role": "assistant", "content": None}),
        chunk({"tool_calls": [call(0, "call_1", "f", "")]}),
        chunk({"tool_calls": [{"index": 0, "id": None, "function": {"name": "", "arguments": "{}"}}]}),
        chunk({}, "tool_calls"),
    ),
}


@pytest.mark.parametrize("name", sorted(FRAGMENTS))
def test_tool_call_fragments_merge_as_in_the_sdk(name: str) -> None:
    # No tools given to the SDK: a concatenated name matches none, and parsing is compared on the raw
    # arguments instead.
    assert_same_as_the_sdk(FRAGMENTS[name], tools=False)


def test_a_repeated_id_and_name_are_concatenated_as_the_sdk_concatenates_them() -> None:
    (tool,) = assert_same_as_the_sdk(
        FRAGMENTS["id-and-name-repeated-in-every-fragment"], tools=False
    ).message.tool_calls
    assert (tool.native_id, tool.name, tool.arguments) == ("call_1call_1call_1", "fff", {"a": 1})


LEGACY_REPEATED_NAME = sse(
    chunk({"role": "assistant", "content": None}),
    chunk({"function_call": {"name": "f", "arguments": ""}}),
    chunk({"function_call": {"name": "f", "arguments": "{}"}}),
    chunk({}, "function_call"),
)


def test_a_repeated_legacy_function_call_name_is_concatenated_as_the_sdk_does() -> None:
    # The views leave the legacy function_call out (the SDK keeps it apart from tool_calls).
    completion, _ = sdk_final_completion(LEGACY_REPEATED_NAME, tools=False)
    (tool,) = ours(LEGACY_REPEATED_NAME).message.tool_calls
    function_call = completion.choices[0].message.function_call
    assert (tool.name, tool.arguments) == (function_call.name, json.loads(function_call.arguments)) == ("ff", {})


def test_a_later_fragment_with_type_null_keeps_the_call_where_the_sdk_asserts() -> None:
    # accumulate_delta replaces `type` with null, then the SDK asserts the call is still a function.
    body = sse(
        chunk({"role": "assistant", "content": None}),
        chunk({"tool_calls": [call(0, "call_1", "f", "")]}),
        chunk({"tool_calls": [{"index": 0, "type": None, "function": {"arguments": "{}"}}]}),
        chunk({}, "tool_calls"),
    )
    with pytest.raises(AssertionError):
        sdk_final_completion(body, tools=False)
    (tool,) = ours(body).message.tool_calls
    assert (tool.block_type, tool.native_id, tool.name, tool.arguments) == ("function", "call_1", "f", {})


# -- refusal ---------------------------------------------------------------------------------------------

REFUSALS: dict[str, bytes] = {
    "refusal-only": sse(
        chunk({"role": "assistant", "content": None, "refusal": ""}),
        chunk({"refusal": "I can't"}),
        chunk({"refusal": " help."}),
        chunk({}, "stop"),
    ),
    "content-then-refusal": sse(
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Well."}),
        chunk({"refusal": "No."}),
        chunk({}, "stop"),
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_a_refusal_stays_out_of_the_text_as_in_the_sdk(name: str) -> None:
    message = assert_same_as_the_sdk(REFUSALS[name]).message
    assert "No." not in message.text and "can't" not in message.text
    assert message.stop_details is not None and message.stop_details["type"] == "refusal"


# -- annotations and other delta fields ---------------------------------------------------------------

CITATION = {
    "type": "url_citation",
    "url_citation": {"url": "https://example.com", "title": "Example", "start_index": 0, "end_index": 5},
}
EXTRAS: dict[str, bytes] = {
    "annotations-once": sse(
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hello"}),
        chunk({"annotations": [CITATION]}),
        chunk({}, "stop"),
    ),
    "annotations-before-content": sse(
        chunk({"role": "assistant", "content": "", "annotations": [CITATION]}),
        chunk({"content": "Hello"}),
        chunk({}, "stop"),
    ),
    "audio": sse(
        chunk({"role": "assistant", "audio": {"id": "audio_1", "data": "UklG", "transcript": "Hel"}}),
        chunk({"audio": {"data": "Rg==", "transcript": "lo"}}),
        chunk({"audio": {"expires_at": 1700000000}}),
        chunk({}, "stop"),
    ),
    "provider-fields": sse(
        chunk({"role": "assistant", "content": "x", "provider_note": "a", "scores": [1]}),
        chunk({"provider_note": "b", "scores": [2], "meta": {"k": "v", "n": 1}}),
        chunk({"meta": {"k": "w", "n": 2}, "steps": [{"index": 0, "t": "p"}]}),
        chunk({"steps": [{"index": 0, "t": "q"}, {"index": 1, "t": "r"}]}, "stop"),
    ),
}


@pytest.mark.parametrize("name", sorted(EXTRAS))
def test_annotations_and_extra_delta_fields_are_kept_as_in_the_sdk(name: str) -> None:
    assert_same_as_the_sdk(EXTRAS[name])


def test_annotations_are_citations_of_the_content() -> None:
    (item,) = assert_same_as_the_sdk(EXTRAS["annotations-once"]).message.items
    assert (item.block_type, item.text, item.citations) == ("content", "Hello", [CITATION])


def test_a_second_annotations_list_is_appended_where_the_sdk_raises() -> None:
    second = {**CITATION, "url_citation": {**CITATION["url_citation"], "url": "https://example.org"}}
    body = sse(
        chunk({"role": "assistant", "content": "Hello"}),
        chunk({"annotations": [CITATION]}),
        chunk({"annotations": [second]}),
        chunk({}, "stop"),
    )
    with pytest.raises(RuntimeError, match="Expected list delta entry to have an `index` key"):
        sdk_final_completion(body)
    (item,) = ours(body).message.items
    assert item.citations == [CITATION, second]
