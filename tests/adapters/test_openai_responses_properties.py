"""Property tests: any valid Responses stream means to us what it means to the official SDK.

Hypothesis generates a logical response (message items with one or two text parts, function calls
with any JSON arguments, custom tool calls with any raw input, reasoning items with any number of
summary parts), renders it as SSE bytes with every text, argument and summary fragment split at
arbitrary points (inside ``\\u`` escapes included), with or without ``sequence_number`` and with
or without the items repeated in ``response.completed``. The same bytes go through our importer
and adapter and through the SDK's stream accumulator. Strategies are composite, so a failure
shrinks to a minimal stream: the fewest items, the shortest texts, the fewest splits.

The SDK's final response is the ``response.completed`` snapshot (or, without one, the
``output_item.done`` payloads), so the comparison checks the items; that our deltas add up to
the same items is checked by requiring no ``delta.done_mismatch`` (no violation at all) and by
re-chunking the same logical response.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.adapters.base import AssistantMessage, ItemDelta, ProtocolViolation, ProviderEvent, ResponseCompleted
from harness.adapters.openai_responses import OpenAIResponsesReader
from harness.record import convert_text

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
names = st.from_regex(r"[a-z_]{1,12}", fullmatch=True)


@dataclass(frozen=True)
class Item:
    type: str  # message | function_call | custom_tool_call | reasoning
    payload: Any  # text parts, (name, arguments), (name, input) or summary parts


items = st.one_of(
    st.builds(Item, st.just("message"), st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=2)),
    st.builds(
        Item,
        st.just("function_call"),
        st.tuples(names, st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=4)),
    ),
    st.builds(Item, st.just("custom_tool_call"), st.tuples(names, st.text(min_size=1, max_size=30))),
    st.builds(Item, st.just("reasoning"), st.lists(st.text(min_size=1, max_size=30), max_size=3)),
)
logical_responses = st.lists(items, max_size=4)


@st.composite
def splits(draw: st.DrawFn, text: str) -> list[str]:
    """``text`` cut into fragments at arbitrary points (possibly an empty first fragment)."""
    cuts = sorted(draw(st.sets(st.integers(1, len(text) - 1), max_size=6)) if len(text) > 1 else set())
    parts = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    if draw(st.booleans()):
        parts.insert(0, "")
    return parts


def _final(index: int, item: Item) -> dict[str, Any]:
    """The item as output_item.done and response.completed carry it."""
    if item.type == "message":
        parts = [{"type": "output_text", "text": t, "annotations": [], "logprobs": []} for t in item.payload]
        return {"type": "message", "id": f"msg_{index}", "status": "completed", "role": "assistant", "content": parts}
    if item.type == "function_call":
        name, arguments = item.payload
        encoded = json.dumps(arguments, ensure_ascii=True)
        return {"type": "function_call", "id": f"fc_{index}", "call_id": f"call_{index}", "name": name,
                "arguments": encoded, "status": "completed"}  # fmt: skip
    if item.type == "custom_tool_call":
        name, raw = item.payload
        return {"type": "custom_tool_call", "id": f"ctc_{index}", "call_id": f"call_{index}", "name": name,
                "input": raw, "status": "completed"}  # fmt: skip
    summary = [{"type": "summary_text", "text": t} for t in item.payload]
    return {"type": "reasoning", "id": f"rs_{index}", "summary": summary, "encrypted_content": "gAAA"}


def _snapshot(status: str, output: list[Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": "resp_1", "object": "response", "created_at": 0, "model": "gpt-test", "status": status}
    if output is not None:
        out["output"] = output
    if status == "completed":
        out["usage"] = {"input_tokens": 7, "output_tokens": 42, "total_tokens": 49}
    return out


@st.composite
def renderings(draw: st.DrawFn, content: list[Item]) -> bytes:
    """One SSE rendering of a logical response: fragment boundaries and framing options are drawn."""
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _snapshot("in_progress", [])},
        {"type": "response.in_progress", "response": _snapshot("in_progress", [])},
    ]
    for index, item in enumerate(content):
        final = _final(index, item)
        where = {"output_index": index, "item_id": final["id"]}
        if item.type == "message":
            events.append({"type": "response.output_item.added", "output_index": index,
                           "item": {**final, "status": "in_progress", "content": []}})  # fmt: skip
            for k, text in enumerate(item.payload):
                part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
                events.append({"type": "response.content_part.added", **where, "content_index": k, "part": part})
                events.extend(
                    {
                        "type": "response.output_text.delta",
                        **where,
                        "content_index": k,
                        "delta": f,
                        "logprobs": [],
                        "obfuscation": "pad",
                    }
                    for f in draw(splits(text))
                )
                events.append({"type": "response.output_text.done", **where, "content_index": k, "text": text})
                events.append(
                    {"type": "response.content_part.done", **where, "content_index": k, "part": {**part, "text": text}}
                )
        elif item.type in ("function_call", "custom_tool_call"):
            function = item.type == "function_call"
            key = "arguments" if function else "input"
            event = "function_call_arguments" if function else "custom_tool_call_input"
            events.append({"type": "response.output_item.added", "output_index": index,
                           "item": {**final, key: "", "status": "in_progress"}})  # fmt: skip
            events.extend(
                {"type": f"response.{event}.delta", **where, "delta": f, "obfuscation": "pad"}
                for f in draw(splits(final[key]))
            )
            events.append({"type": f"response.{event}.done", **where, key: final[key]})
        else:
            events.append({"type": "response.output_item.added", "output_index": index,
                           "item": {**final, "summary": [], "encrypted_content": "gAAA-early"}})  # fmt: skip
            for k, text in enumerate(item.payload):
                at = {**where, "summary_index": k}
                events.append({"type": "response.reasoning_summary_part.added", **at,
                               "part": {"type": "summary_text", "text": ""}})  # fmt: skip
                events.extend(
                    {"type": "response.reasoning_summary_text.delta", **at, "delta": f} for f in draw(splits(text))
                )
                events.append({"type": "response.reasoning_summary_text.done", **at, "text": text})
                events.append({"type": "response.reasoning_summary_part.done", **at,
                               "part": {"type": "summary_text", "text": text}})  # fmt: skip
        events.append({"type": "response.output_item.done", "output_index": index, "item": final})
    with_output = draw(st.booleans())
    events.append(
        {
            "type": "response.completed",
            "response": _snapshot(
                "completed", [_final(i, item) for i, item in enumerate(content)] if with_output else None
            ),
        }
    )
    if draw(st.booleans()):
        events = [{**e, "sequence_number": n} for n, e in enumerate(events)]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[Item], bytes]:
    content = draw(logical_responses)
    return content, draw(renderings(content))


def adapt(body: bytes) -> list[ProviderEvent]:
    _, entries, _ = convert_text(body.decode(), name="stream.sse", scenario="s", protocol="openai.responses")
    reader = OpenAIResponsesReader()
    events: list[ProviderEvent] = []
    for index, entry in enumerate(entries):
        events.extend(reader.feed(entry.frame, index))  # type: ignore[union-attr]
    events.extend(reader.finish(len(entries)))
    return events


def ours(body: bytes) -> AssistantMessage:
    events = adapt(body)
    assert [e for e in events if isinstance(e, ProtocolViolation)] == []
    (completed,) = [e for e in events if isinstance(e, ResponseCompleted)]
    return completed.message


def sdk(body: bytes) -> Any:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = openai.OpenAI(
        api_key="test", http_client=httpx2.Client(transport=httpx2.MockTransport(handler)), max_retries=0
    )
    with client.responses.stream(model="m", input="x") as stream:
        return stream.get_final_response()


def canonical(message: AssistantMessage) -> list[dict[str, Any]]:
    return [i.to_json() for i in message.items]


@SETTINGS
@given(streams())
def test_our_final_message_equals_the_sdk_accumulation(stream: tuple[list[Item], bytes]) -> None:
    _, body = stream
    mine, theirs = ours(body), sdk(body)
    assert (mine.stop_reason, theirs.status) == ("completed", "completed")
    assert (mine.input_tokens, mine.output_tokens) == (theirs.usage.input_tokens, theirs.usage.output_tokens)
    assert [i.block_type for i in mine.items] == [o.type for o in theirs.output]
    assert mine.text == theirs.output_text
    for item, output in zip(mine.items, theirs.output, strict=True):
        if output.type == "function_call":
            assert (item.native_id, item.name, item.arguments) == (
                output.call_id,
                output.name,
                json.loads(output.arguments),
            )
        elif output.type == "custom_tool_call":
            assert (item.native_id, item.name, item.arguments) == (output.call_id, output.name, output.input)
        elif output.type == "reasoning":
            assert item.text == "\n\n".join(s.text for s in output.summary)
        else:
            assert item.text == "".join(c.text for c in output.content)


@SETTINGS
@given(st.data(), logical_responses)
def test_rechunking_the_same_logical_stream_never_changes_the_result(data: st.DataObject, content: list[Item]) -> None:
    # Two renderings of one logical response: fragment boundaries and framing options differ.
    first = data.draw(renderings(content), label="first")
    second = data.draw(renderings(content), label="second")
    assert canonical(ours(first)) == canonical(ours(second))


@SETTINGS
@given(streams())
def test_the_logical_content_survives_any_split(stream: tuple[list[Item], bytes]) -> None:
    content, body = stream
    expected: list[tuple[str, Any]] = []
    for item in content:
        if item.type == "message":
            expected.append(("text", "".join(item.payload)))
        elif item.type == "reasoning":
            expected.append(("reasoning", "\n\n".join(item.payload)))
        else:
            expected.append(("tool_call", item.payload[1]))
    found = [(i.kind, i.arguments if i.kind == "tool_call" else i.text) for i in ours(body).items]
    assert found == expected


@SETTINGS
@given(streams())
def test_deltas_add_up_to_each_final_item(stream: tuple[list[Item], bytes]) -> None:
    _, body = stream
    events = adapt(body)
    (completed,) = [e for e in events if isinstance(e, ResponseCompleted)]
    for item in completed.message.items:
        deltas = [e for e in events if isinstance(e, ItemDelta) and e.index == item.index]
        fragments = [e.text for e in deltas if e.kind in ("text", "reasoning", "arguments")]
        assert "".join(fragments) == (item.arguments_json if item.kind == "tool_call" else item.text)
