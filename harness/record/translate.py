"""Translate a transcript into another protocol: the same conversation, another wire format.

The source is replayed through its own adapter and the core (with the scenario it implies), which
yields the conversation: the user turn, each assistant response as canonical items, each tool
outcome. The target protocol's adapter then builds every request from that conversation, and a
renderer writes every response as the target's frames. The result is a *derived* transcript: its
header says so and names the source, and it carries only what both protocols can express (text,
reasoning text (Chat Completions: ``reasoning_content``), client tool calls, stop reasons and token
counts; server-tool blocks and signatures are dropped).

Its purpose is parity testing: replaying the original and the translation with the same commands
and tools must give the same canonical projection (see ``variants`` in ``docs/scenarios.md``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from harness.adapters import get_adapter
from harness.adapters.base import (
    AssistantMessage,
    AssistantTurn,
    ConversationTurn,
    RequestTemplate,
    ToolResultsTurn,
)
from harness.adapters.http_runtime import HttpRuntime
from harness.errors import ImportSourceError
from harness.transcript import EmitInbound, Entry, ExpectOutbound, TranscriptHeader, get_protocol, read_transcript
from harness.transcript.io import write_transcript

#: Canonical finish -> each protocol's stop reason.
_FINISH = {
    "anthropic.messages": {"tool_calls": "tool_use", "stop": "end_turn", "length": "max_tokens", "refusal": "refusal"},
    "openai.chat": {"tool_calls": "tool_calls", "stop": "stop", "length": "length", "refusal": "content_filter"},
}
_LENGTH = {"max_tokens", "length", "max_output_tokens"}
_REFUSAL = {"refusal", "content_filter"}

#: Where each protocol's requests go.
_ENDPOINTS = {"anthropic.messages": "/v1/messages", "openai.chat": "/v1/chat/completions"}


@dataclass(frozen=True, slots=True)
class TranslationResult:
    """What :func:`translate_transcript` wrote."""

    out: Path
    protocol: str
    responses: int
    entries: int


def _finish(message: AssistantMessage, source_next_step: str) -> str:
    if source_next_step == "run_tools" and message.tool_calls:
        return "tool_calls"
    if message.stop_reason in _LENGTH:
        return "length"
    if message.stop_reason in _REFUSAL:
        return "refusal"
    return "stop"


def _portable(message: AssistantMessage) -> AssistantMessage:
    """The part of a response every target can express: text, reasoning text, client tool calls."""
    # block_type names the source protocol's wire shape; a translation has none, so it says the kind.
    items = [
        dataclasses.replace(item, index=position, block_type=item.kind, signature=None, citations=[], block={})
        for position, item in enumerate(i for i in message.items if i.kind in ("text", "reasoning", "tool_call"))
    ]
    return dataclasses.replace(message, items=items, alternatives=[])


def _portable_results(turn: ToolResultsTurn) -> ToolResultsTurn:
    """Tool outcomes as plain values: recorded provider-native content (a list of text blocks)
    becomes its text, so the target adapter renders it its own way."""
    results = []
    for result in turn.results:
        output = result.output
        if result.verbatim and isinstance(output, list):
            output = "".join(b.get("text", "") for b in output if isinstance(b, dict))
        results.append(dataclasses.replace(result, output=output, verbatim=False))
    return ToolResultsTurn(tuple(results))


def _sse(event: str | None, data: Any) -> dict[str, Any]:
    return {"kind": "sse", "event": event, "data": data}


def _render_anthropic(message: AssistantMessage, finish: str, index: int) -> list[dict[str, Any]]:
    frames = [
        _sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message.native_id or f"msg_translated_{index}",
                    "type": "message",
                    "role": "assistant",
                    "model": message.model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": message.input_tokens or 0, "output_tokens": 1},
                },
            },
        )
    ]
    for position, item in enumerate(message.items):
        if item.kind == "text":
            start: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": item.text}]
        elif item.kind == "reasoning":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": item.text}, {"type": "signature_delta", "signature": ""}]
        else:
            start = {"type": "tool_use", "id": item.native_id, "name": item.name, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": orjson.dumps(item.arguments).decode()}]
        start_event = {"type": "content_block_start", "index": position, "content_block": start}
        frames.append(_sse("content_block_start", start_event))
        frames.extend(
            _sse("content_block_delta", {"type": "content_block_delta", "index": position, "delta": d}) for d in deltas
        )
        frames.append(_sse("content_block_stop", {"type": "content_block_stop", "index": position}))
    frames.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": _FINISH["anthropic.messages"][finish], "stop_sequence": None},
                "usage": {"output_tokens": message.output_tokens or 0},
            },
        )
    )
    frames.append(_sse("message_stop", {"type": "message_stop"}))
    return frames


def _render_openai_chat(message: AssistantMessage, finish: str, index: int) -> list[dict[str, Any]]:
    head = {
        "id": message.native_id or f"chatcmpl-translated-{index}",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": message.model,
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return _sse(None, {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})

    frames = [chunk({"role": "assistant", "content": ""})]
    if message.reasoning:
        frames.append(chunk({"reasoning_content": message.reasoning}))
    text = message.text
    if text:
        frames.append(chunk({"content": text}))
    for position, call in enumerate(message.tool_calls):
        frames.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": position,
                            "id": call.native_id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        arguments = call.arguments_json or orjson.dumps(call.arguments).decode()
        frames.append(chunk({"tool_calls": [{"index": position, "function": {"arguments": arguments}}]}))
    frames.append(chunk({}, _FINISH["openai.chat"][finish]))
    usage = {"prompt_tokens": message.input_tokens or 0, "completion_tokens": message.output_tokens or 0}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    frames.append(_sse(None, {**head, "choices": [], "usage": usage}))
    frames.append({"kind": "sse.done"})
    return frames


_RENDERERS: dict[str, Callable[[AssistantMessage, str, int], list[dict[str, Any]]]] = {
    "anthropic.messages": _render_anthropic,
    "openai.chat": _render_openai_chat,
}


def _tools_for(protocol: str, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Client tool definitions in the target's shape (server tools have no equivalent: dropped)."""
    out = []
    for tool in tools:
        if "function" in tool:  # OpenAI Chat
            name, description, schema = (tool["function"].get(k) for k in ("name", "description", "parameters"))
        elif "input_schema" in tool:  # Anthropic client tool
            name, description, schema = tool.get("name"), tool.get("description"), tool.get("input_schema")
        else:
            continue
        if protocol == "openai.chat":
            function = {"name": name, "parameters": schema, **({"description": description} if description else {})}
            out.append({"type": "function", "function": function})
        else:
            out.append({"name": name, "input_schema": schema, **({"description": description} if description else {})})
    return out


def _template_for(protocol: str, source: RequestTemplate, model: str | None) -> RequestTemplate:
    params: dict[str, Any] = {"model": model or source.params.get("model"), "stream": True}
    if protocol == "anthropic.messages":
        params["max_tokens"] = source.params.get("max_tokens") or source.params.get("max_completion_tokens") or 4096
    tools = _tools_for(protocol, list(source.params.get("tools") or []))
    if tools:
        params["tools"] = tools
    return RequestTemplate(
        method="POST",
        path=_ENDPOINTS[protocol],
        headers={"accept": "application/json", "content-type": "application/json"},
        params=params,
    )


def translate_transcript(
    source: Path | str, out: Path | str, *, protocol: str, model: str | None = None, force: bool = False
) -> TranslationResult:
    """Write ``source``'s conversation as a ``protocol`` transcript at ``out`` (see module docstring).

    ``source`` is a transcript (replayed with the scenario it implies) or a scenario file (replayed
    as it says: its commands, tools and declared ignores), holding one thread.
    """
    from harness.scenario.model import SCENARIO_SUFFIXES, load_scenario
    from harness.scenario.runner import execute, scenario_for_transcript

    if protocol not in _RENDERERS:
        get_protocol(protocol)
        raise ImportSourceError(
            f"cannot translate into {protocol!r}; translation targets: {', '.join(sorted(_RENDERERS))}"
        )
    if Path(source).suffix in SCENARIO_SUFFIXES:
        # A scenario says how the source replays (its commands, tools and declared ignores).
        scenario = load_scenario(source)
        if scenario.variants:
            raise ImportSourceError(f"{source}: translate one recording, not a scenario with variants")
        transcript = read_transcript(scenario.transcript_path())
    else:
        transcript = read_transcript(source)
        scenario = scenario_for_transcript(transcript, path=str(source))
    execution = execute(scenario, transcript=transcript)
    if execution.driver.failure is not None:
        raise ImportSourceError(f"{source}: the source does not replay cleanly: {execution.driver.failure}")
    source_adapter = get_adapter(transcript.protocol)
    target = get_adapter(protocol)
    spec = scenario.request
    template = _template_for(protocol, RequestTemplate(params=dict(spec.params) if spec else {}), model)
    runtime = execution.orchestrator.adapter
    if not isinstance(runtime, HttpRuntime):
        raise ImportSourceError(f"{source}: {transcript.protocol} is an agent runtime; translate HTTP recordings")
    threads = list(runtime.conversations.values())
    if len(threads) != 1:
        raise ImportSourceError(f"{source}: translate a recording of one thread, not {len(threads)}")
    conversation: list[ConversationTurn] = []
    for turn in threads[0]:
        if isinstance(turn, AssistantTurn):
            conversation.append(AssistantTurn(_portable(turn.message)))
        elif isinstance(turn, ToolResultsTurn):
            conversation.append(_portable_results(turn))
        else:
            conversation.append(turn)
    with_requests = transcript.has_outbound
    entries: list[Entry] = []
    responses = 0
    for position, turn in enumerate(conversation):
        if not isinstance(turn, AssistantTurn):
            continue
        responses += 1
        if with_requests:
            frame = target.build_request(template, conversation[:position])
            entries.append(ExpectOutbound(label=f"POST {template.path}", frame=frame))
        message = turn.message
        finish = _finish(message, source_adapter.next_step(message))
        for frame in _RENDERERS[protocol](message, finish, responses):
            label = frame.get("event") or ("[DONE]" if frame["kind"] == "sse.done" else "chunk")
            entries.append(EmitInbound(label=label, frame=frame))
    if not responses:
        raise ImportSourceError(f"{source}: no completed response to translate")
    name = Path(transcript.path or source).name
    header = TranscriptHeader(
        provider=get_protocol(protocol).provider,
        protocol=protocol,
        version="derived",
        scenario=Path(out).stem,
        metadata={
            "source": name,
            "format": "derived",
            "derivation": f"translated from {name} ({transcript.protocol}) by harness translate",
        },
    )
    write_transcript(out, header, entries, force=force)
    return TranslationResult(out=Path(out), protocol=protocol, responses=responses, entries=len(entries))
