"""Property tests: any valid Chat Completions stream means to us what it means to the official SDK.

Hypothesis generates a logical completion (1 to 3 choices; per choice optional reasoning, text or a
refusal, up to three parallel tool calls, a finish reason; an optional usage chunk), renders it as
SSE bytes with every text and tool-argument fragment split at arbitrary points (inside ``\\u``
escapes included) and the choices' chunks interleaved in any order that keeps each choice's own
order. The same bytes go through our importer and adapter and through the SDK's stream
accumulator. Failures shrink to a minimal stream.

The quirks of OpenAI-compatible providers are drawn too (:class:`Quirks`): chunk ids that change
from chunk to chunk (Groq), choices that never get a ``finish_reason``, ``arguments: null``
fragments, and a call's id and name repeated in later fragments (which the SDK concatenates).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx2
import jiter
import openai
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.adapters.base import AssistantMessage, ResponseCompleted
from harness.adapters.openai_chat import OpenAIChatResponseReader
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
tool_names = st.from_regex(r"[a-z_]{1,12}", fullmatch=True)


@dataclass(frozen=True)
class Choice:
    reasoning: str
    text: str
    refusal: str
    tool_calls: tuple[tuple[str, dict[str, Any]], ...]
    #: None: the stream never gives this choice a finish_reason.
    finish_reason: str | None


@dataclass(frozen=True)
class Quirks:
    """How a compatible provider renders a stream, beyond what OpenAI itself sends."""

    rotate_ids: bool = False  # every chunk has its own id
    null_arguments: bool = False  # `arguments: null` on first fragments and between fragments
    repeat_id_name: bool = False  # later argument fragments repeat the call's id, type and name


NO_QUIRKS = Quirks()
#: Quirks that leave the meaning of a stream as it is (a repeated name is concatenated, so the
#: meaning then depends on how many fragments carry it).
meaning_preserving_quirks = st.builds(Quirks, rotate_ids=st.booleans(), null_arguments=st.booleans())
any_quirks = st.builds(Quirks, st.booleans(), st.booleans(), st.booleans())


@st.composite
def logical_choices(draw: st.DrawFn, *, unfinished: bool = False) -> Choice:
    calls = tuple(
        draw(
            st.lists(
                st.tuples(tool_names, st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=4)),
                max_size=3,
            )
        )
    )
    refusing = not calls and draw(st.booleans())
    text = "" if refusing else draw(st.text(max_size=40))
    refusal = draw(st.text(min_size=1, max_size=30)) if refusing else ""
    reasons: list[str | None] = ["tool_calls", "length", "stop"] if calls else ["stop", "length", "content_filter"]
    if unfinished:
        reasons.append(None)
    return Choice(draw(st.text(max_size=30)), text, refusal, calls, draw(st.sampled_from(reasons)))


completions = st.tuples(st.lists(logical_choices(), min_size=1, max_size=3), st.booleans())
#: Completions whose choices may end without a finish_reason.
unfinished_completions = st.tuples(st.lists(logical_choices(unfinished=True), min_size=1, max_size=3), st.booleans())


@st.composite
def splits(draw: st.DrawFn, text: str) -> list[str]:
    """``text`` cut into fragments at arbitrary points (possibly an empty first fragment)."""
    if not text:
        return []
    cuts = sorted(draw(st.sets(st.integers(1, len(text) - 1), max_size=6)) if len(text) > 1 else set())
    parts = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    if draw(st.booleans()):
        parts.insert(0, "")
    return parts


def call_id(choice: int, tool: int) -> str:
    return f"call_{choice}_{tool}"


@st.composite
def choice_deltas(
    draw: st.DrawFn, index: int, choice: Choice, quirks: Quirks = NO_QUIRKS
) -> list[tuple[dict[str, Any], str | None]]:
    """The (delta, finish_reason) sequence of one choice, in its own order."""
    deltas: list[tuple[dict[str, Any], str | None]] = [
        ({"role": "assistant", "content": draw(st.sampled_from(["", None]))}, None)
    ]
    deltas += [({"reasoning_content": part}, None) for part in draw(splits(choice.reasoning))]
    deltas += [({"content": part}, None) for part in draw(splits(choice.text))]
    deltas += [({"refusal": part}, None) for part in draw(splits(choice.refusal))]
    for tool, (name, arguments) in enumerate(choice.tool_calls):
        first_arguments = None if quirks.null_arguments and draw(st.booleans()) else ""
        start = {
            "index": tool,
            "id": call_id(index, tool),
            "type": "function",
            "function": {"name": name, "arguments": first_arguments},
        }
        deltas.append(({"tool_calls": [start]}, None))
        # ensure_ascii: non-ASCII becomes \\u escapes, which the splits may cut through.
        encoded = json.dumps(arguments, ensure_ascii=True)
        for part in draw(splits(encoded)):
            fragment: dict[str, Any] = {"index": tool, "function": {"arguments": part}}
            if quirks.repeat_id_name and draw(st.booleans()):
                fragment = {**start, "function": {"name": name, "arguments": part}}
            deltas.append(({"tool_calls": [fragment]}, None))
            if quirks.null_arguments and draw(st.booleans()):
                deltas.append(({"tool_calls": [{"index": tool, "function": {"arguments": None}}]}, None))
    if choice.finish_reason is None:
        pass  # the stream never finishes this choice
    elif draw(st.booleans()) and len(deltas) > 1:
        deltas[-1] = (deltas[-1][0], choice.finish_reason)  # the finish rides on the last content chunk
    else:
        deltas.append(({}, choice.finish_reason))
    return deltas


@st.composite
def renderings(draw: st.DrawFn, choices: list[Choice], with_usage: bool, quirks: Quirks = NO_QUIRKS) -> bytes:
    """One SSE rendering of a logical completion: fragment boundaries and interleaving are drawn."""
    queues = [draw(choice_deltas(index, c, quirks)) for index, c in enumerate(choices)]
    positions = [0] * len(queues)
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "gpt-test"}
    events = []

    def sse(data: dict[str, Any]) -> str:
        if quirks.rotate_ids:
            data = {**data, "id": f"chatcmpl-r{len(events) + 1}"}
        return f"data: {json.dumps(data)}\n\n"

    while any(p < len(q) for p, q in zip(positions, queues, strict=True)):
        # A choice's first chunk only comes after every lower choice has started (indexes 0, 1, 2, ...).
        ready = [i for i, q in enumerate(queues) if positions[i] < len(q) and all(positions[j] for j in range(i))]
        index = draw(st.sampled_from(ready))
        delta, finish_reason = queues[index][positions[index]]
        positions[index] += 1
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        events.append(sse({**head, "choices": [choice]}))
    if with_usage:
        events.append(
            sse({**head, "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 42, "total_tokens": 49}})
        )
    events.append("data: [DONE]\n\n")
    return "".join(events).encode()


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[Choice], bytes]:
    choices, with_usage = draw(completions)
    return choices, draw(renderings(choices, with_usage))


@st.composite
def quirky_streams(draw: st.DrawFn, quirks: st.SearchStrategy[Quirks] = any_quirks) -> tuple[list[Choice], bytes]:
    """A stream as compatible providers send it: any quirks, choices possibly left unfinished."""
    choices, with_usage = draw(unfinished_completions)
    return choices, draw(renderings(choices, with_usage, draw(quirks)))


def ours(body: bytes) -> AssistantMessage:
    _, entries, _ = convert_text(body.decode(), name="stream.sse", scenario="s", protocol="openai.chat")
    reader = OpenAIChatResponseReader()
    events = []
    for index, entry in enumerate(entries):
        events.extend(reader.feed(entry.frame, index))  # type: ignore[union-attr]
    events.extend(reader.finish(len(entries)))
    (completed,) = [e for e in events if isinstance(e, ResponseCompleted)]
    return completed.message


def sdk(body: bytes) -> Any:
    """The SDK's accumulated completion (see the differential test for the truncated case)."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = openai.OpenAI(
        api_key="test", http_client=httpx2.Client(transport=httpx2.MockTransport(handler)), max_retries=0
    )
    with client.chat.completions.stream(model="m", messages=[{"role": "user", "content": "x"}]) as stream:
        try:
            return stream.get_final_completion()
        except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
            return exc.completion


def canonical(message: AssistantMessage) -> list[list[tuple[Any, ...]]]:
    return [
        [(i.index, i.kind, i.block_type, i.text, i.native_id, i.name, i.arguments, i.complete) for i in m.items]
        + [("stop", m.stop_reason)]
        for m in (message, *message.alternatives)
    ]


def assert_same_as_the_sdk(choices: list[Choice], body: bytes) -> None:
    mine, theirs = ours(body), sdk(body)
    messages = [mine, *mine.alternatives]
    assert len(messages) == len(theirs.choices) == len(choices)
    assert mine.native_id == theirs.id
    usage = theirs.usage
    assert (mine.input_tokens, mine.output_tokens) == (
        (usage.prompt_tokens, usage.completion_tokens) if usage else (None, None)
    )
    for message, choice in zip(messages, theirs.choices, strict=True):
        sdk_message = choice.message
        assert message.choice == choice.index
        assert message.stop_reason == choice.finish_reason
        assert message.text == (sdk_message.content or "")
        assert "".join(i.block["refusal"] for i in message.items if i.block_type == "refusal") == (
            sdk_message.refusal or ""
        )
        assert message.reasoning == ((sdk_message.model_extra or {}).get("reasoning_content") or "")
        assert [(c.native_id, c.name, c.arguments) for c in message.tool_calls] == [
            (c.id, c.function.name, jiter.from_json(c.function.arguments.encode()))
            for c in sdk_message.tool_calls or []
        ]


@SETTINGS
@given(streams())
def test_our_final_messages_equal_the_sdk_accumulation(stream: tuple[list[Choice], bytes]) -> None:
    assert_same_as_the_sdk(*stream)


@SETTINGS
@given(quirky_streams())
def test_compatible_provider_quirks_mean_to_us_what_they_mean_to_the_sdk(stream: tuple[list[Choice], bytes]) -> None:
    assert_same_as_the_sdk(*stream)


@SETTINGS
@given(st.data(), unfinished_completions, meaning_preserving_quirks)
def test_rotating_ids_and_null_argument_fragments_change_nothing(
    data: st.DataObject, completion: tuple[list[Choice], bool], quirks: Quirks
) -> None:
    choices, with_usage = completion
    plain = data.draw(renderings(choices, with_usage), label="plain")
    quirky = data.draw(renderings(choices, with_usage, quirks), label="quirky")
    mine = ours(quirky)
    assert canonical(mine) == canonical(ours(plain))
    assert mine.native_id == ("chatcmpl-r1" if quirks.rotate_ids else "chatcmpl-1")  # the first chunk's id


@SETTINGS
@given(st.data(), completions)
def test_rechunking_the_same_logical_stream_never_changes_the_result(
    data: st.DataObject, completion: tuple[list[Choice], bool]
) -> None:
    choices, with_usage = completion
    # Two renderings of one logical completion: fragment boundaries and interleaving differ.
    first = data.draw(renderings(choices, with_usage), label="first")
    second = data.draw(renderings(choices, with_usage), label="second")
    assert canonical(ours(first)) == canonical(ours(second))


@SETTINGS
@given(quirky_streams(meaning_preserving_quirks))
def test_the_logical_content_survives_any_split(stream: tuple[list[Choice], bytes]) -> None:
    choices, body = stream
    message = ours(body)
    for index, (found, choice) in enumerate(zip([message, *message.alternatives], choices, strict=True)):
        expected: list[tuple[str, Any]] = []
        if choice.reasoning:
            expected.append(("reasoning_content", choice.reasoning))
        if choice.text:
            expected.append(("content", choice.text))
        if choice.refusal:
            expected.append(("refusal", choice.refusal))
        expected += [("function", (call_id(index, k), name, args)) for k, (name, args) in enumerate(choice.tool_calls)]
        assert [
            (i.block_type, (i.native_id, i.name, i.arguments) if i.kind == "tool_call" else i.text) for i in found.items
        ] == [(kind, value) for kind, value in expected]
        assert found.text == choice.text  # a refusal stays out of the text
        complete = choice.finish_reason not in ("length", "content_filter")
        assert all(i.complete is complete for i in found.items)
        assert found.stop_reason == choice.finish_reason
