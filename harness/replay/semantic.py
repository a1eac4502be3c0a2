"""What a recorded request means: canonical request bodies for semantic matching.

A recording made by another client (pydantic-ai, simonw's ``llm``, vercel ``ai``, a team's own
code) spells the second and later requests of an agent loop differently from the ones the core
builds, without meaning anything else: tool arguments with other JSON spacing, ``is_error: false``
written or left out, ``content: ""`` or ``null``, a tool result as a string or as a list of text
parts, tool-call ids the client invented. :func:`canonical_request` rewrites a request frame of
``anthropic.messages``, ``openai.chat`` or ``openai.responses`` into one spelling per meaning, so
two requests that mean the same thing compare equal and the first element that differs is named
in the canonical form (``$.messages[3].content[0].input.city``) and in the recorded frame
(:meth:`Canonical.recorded_at`). ``docs/scenarios.md`` (section "Semantic matching") lists every
rule; this module is their one implementation.

The frame's request line is compared as it is (``method``, ``path``, ``query``) and so are its
headers, except those that describe the transport encoding (:data:`TRANSPORT_HEADERS`,
``x-stainless-*``). Anything that is not an ``http.request`` frame with an object body is compared
verbatim.

>>> a = {"kind": "http.request", "method": "POST", "path": "/v1/chat/completions",
...      "body": {"model": "m", "messages": [{"role": "assistant", "content": None}]}}
>>> b = {"kind": "http.request", "method": "POST", "path": "/v1/chat/completions",
...      "body": {"model": "m", "messages": [{"role": "assistant", "content": ""}]}}
>>> canonical_request("openai.chat", a).body == canonical_request("openai.chat", b).body
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from harness.limits import format_json_path

Segments = tuple[str | int, ...]

#: Protocols whose request bodies have a canonical form.
SEMANTIC_PROTOCOLS: tuple[str, ...] = ("anthropic.messages", "openai.chat", "openai.responses")

#: Request headers semantic matching does not compare: they say how the body is encoded or who
#: sent it, not what it asks (``x-stainless-*`` headers, the SDKs' telemetry, are left out too).
TRANSPORT_HEADERS: frozenset[str] = frozenset({"accept", "content-type", "user-agent", "accept-encoding"})

#: Header ``metadata`` keys that say a transcript's requests were made by another client than the
#: harness core (see :func:`recorded_by_another_client`).
FOREIGN_RECORDING_KEYS: tuple[str, ...] = ("client", "importer")


def recorded_by_another_client(metadata: Mapping[str, Any]) -> bool:
    """Whether a transcript header's ``metadata`` says its requests came from another client.

    ``importer`` is written by ``harness import`` (a cassette, an SSE capture or a payload file
    made by some other program); ``client`` names the program that sent the recorded requests
    (e.g. ``"pydantic-ai"``), for transcripts written by other tools. Either one, as a non-empty
    string, makes ``harness replay`` match requests semantically.
    """
    return any(isinstance(metadata.get(key), str) and metadata[key].strip() for key in FOREIGN_RECORDING_KEYS)


@dataclass(slots=True)
class Canonical:
    """A request frame in canonical form.

    ``line`` is the request line and the compared headers; ``body`` the canonical body (the body
    itself when it is not an object); ``origins`` maps a canonical body path to the recorded
    frame's path and whether the structure below it is the frame's own (so a deeper path can be
    followed into the frame) or was rewritten (a string content turned into a list of parts, tool
    arguments parsed from a JSON string).
    """

    line: dict[str, Any]
    body: Any
    origins: dict[Segments, tuple[Segments, bool]] = field(default_factory=dict)

    def recorded_at(self, segments: Segments) -> str:
        """Where the canonical body path ``segments`` lies in the frame, as a JSON path.

        The nearest recorded ancestor is followed; below a rewritten node the path stops at it
        (for parsed arguments: the JSON string holding them).
        """
        for cut in range(len(segments), -1, -1):
            found = self.origins.get(segments[:cut])
            if found is not None:
                frame_path, same_shape = found
                return format_json_path(frame_path + segments[cut:] if same_shape else frame_path)
        return format_json_path(("body", *segments))


class _Ids:
    """Tool-call ids replaced by their position: the first id a request mentions is ``<call 1>``.

    A result then says which call it answers by position, whatever the ids were spelled as (a
    client may invent them, or send the item id where the call id belongs).
    """

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}

    def ref(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        number = self._numbers.setdefault(value, len(self._numbers) + 1)
        return f"<call {number}>"


def _without_nulls(value: Mapping[str, Any], drop: frozenset[str] = frozenset()) -> dict[str, Any]:
    """An object's members without the null ones (null and absent mean the same) and ``drop``."""
    return {k: v for k, v in value.items() if v is not None and k not in drop}


def _parsed_json(text: Any) -> Any:
    """Tool arguments sent as a JSON string, parsed; a string that is not JSON stays as it is."""
    if not isinstance(text, str):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


class _Canonicalizer:
    """One frame's rewrite: the tool-call numbering and the origins of rewritten nodes."""

    def __init__(self) -> None:
        self.ids = _Ids()
        self.origins: dict[Segments, tuple[Segments, bool]] = {(): (("body",), True)}

    def rewritten(self, canonical: Segments, frame: Segments) -> None:
        self.origins[canonical] = (("body", *frame), False)

    def text_parts(self, content: Any, path: Segments, *, text_types: frozenset[str]) -> Any:
        """Content as a list of parts: a string is one text part, ``""`` and null no parts, and
        parts of any type in ``text_types`` are ``{"type": "text", ...}``."""
        if content is None or content == "":
            self.rewritten(path, path)
            return []
        if isinstance(content, str):
            self.rewritten(path, path)
            return [{"type": "text", "text": content}]
        if not isinstance(content, list):
            return content
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") in text_types:
                part = {**_without_nulls(part), "type": "text"}
                if not part.get("annotations") and "annotations" in part:
                    del part["annotations"]  # Responses: [] and absent say the same (no citations)
                if not part.get("logprobs") and "logprobs" in part:
                    del part["logprobs"]
            elif isinstance(part, dict):
                part = _without_nulls(part)
            parts.append(part)
        return parts

    def tools(self, tools: Any, *, function_key: str | None, strict_default: bool | None) -> Any:
        """Tool definitions: an empty or null description is no description; ``strict`` equal to
        the API's default is the same as leaving it out."""
        if not isinstance(tools, list):
            return tools
        out = []
        for tool in tools:
            if not isinstance(tool, dict):
                out.append(tool)
                continue
            tool = _without_nulls(tool)
            holder = tool.get(function_key) if function_key else tool
            if isinstance(holder, dict):
                holder = _without_nulls(holder)
                if holder.get("description") == "":
                    del holder["description"]
                if strict_default is not None and holder.get("strict") is strict_default:
                    del holder["strict"]
                tool = {**tool, function_key: holder} if function_key else holder
            out.append(tool)
        return out


def _messages(
    body: dict[str, Any], out: dict[str, Any], canonical: Callable[[int, dict[str, Any]], dict[str, Any]]
) -> None:
    """``out["messages"]``: each object of the body's ``messages`` list in canonical form (by
    position), anything else in it as it is; a ``messages`` that is not a list as it is."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        if messages is not None:
            out["messages"] = messages
        return
    out["messages"] = [
        canonical(m, message) if isinstance(message, dict) else message for m, message in enumerate(messages)
    ]


# -- anthropic.messages ----------------------------------------------------------------------------

_ANTHROPIC_CALLS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})


def _anthropic(body: dict[str, Any], c: _Canonicalizer) -> dict[str, Any]:
    out = _without_nulls(body, frozenset({"messages", "system", "tools"}))
    system = body.get("system")
    if system not in (None, "", []):
        out["system"] = c.text_parts(system, ("system",), text_types=frozenset({"text"}))
    if body.get("tools") is not None:
        out["tools"] = c.tools(body["tools"], function_key=None, strict_default=None)
    _messages(body, out, lambda m, message: _anthropic_message(m, message, c))
    return out


def _anthropic_message(m: int, message: dict[str, Any], c: _Canonicalizer) -> dict[str, Any]:
    path: Segments = ("messages", m, "content")
    blocks = c.text_parts(message.get("content"), path, text_types=frozenset({"text"}))
    if isinstance(blocks, list):
        blocks = [_anthropic_block(block, (*path, b), c) for b, block in enumerate(blocks)]
    return {**_without_nulls(message), "content": blocks}


def _anthropic_block(block: Any, path: Segments, c: _Canonicalizer) -> Any:
    if not isinstance(block, dict):
        return block
    kind = block.get("type")
    if kind in _ANTHROPIC_CALLS:
        return {**block, "id": c.ids.ref(block.get("id"))}
    if isinstance(kind, str) and kind.endswith("tool_result") and "tool_use_id" in block:
        block = {**block, "tool_use_id": c.ids.ref(block["tool_use_id"])}
        if kind == "tool_result":
            content = c.text_parts(block.get("content"), (*path, "content"), text_types=frozenset({"text"}))
            block["content"] = content
            if block.get("is_error") is None:
                block["is_error"] = False  # the API's default: a result is not an error
    return block


# -- openai.chat -----------------------------------------------------------------------------------


def _openai_chat(body: dict[str, Any], c: _Canonicalizer) -> dict[str, Any]:
    out = _without_nulls(body, frozenset({"messages", "tools"}))
    if body.get("tools") is not None:
        out["tools"] = c.tools(body["tools"], function_key="function", strict_default=False)
    _messages(body, out, lambda m, message: _openai_chat_message(m, message, c))
    return out


def _openai_chat_message(m: int, message: dict[str, Any], c: _Canonicalizer) -> dict[str, Any]:
    entry = _without_nulls(message)
    entry["content"] = c.text_parts(message.get("content"), ("messages", m, "content"), text_types=frozenset({"text"}))
    if "tool_call_id" in entry:
        entry["tool_call_id"] = c.ids.ref(entry["tool_call_id"])
    calls = entry.pop("tool_calls", None)
    if isinstance(calls, list) and calls:
        entry["tool_calls"] = [
            _openai_chat_call(call, ("messages", m, "tool_calls", n), c) for n, call in enumerate(calls)
        ]
    elif calls not in (None, []):
        entry["tool_calls"] = calls
    legacy = entry.get("function_call")
    if isinstance(legacy, dict) and "arguments" in legacy:
        entry["function_call"] = {**legacy, "arguments": _parsed_json(legacy["arguments"])}
        c.rewritten(("messages", m, "function_call", "arguments"), ("messages", m, "function_call", "arguments"))
    return entry


def _openai_chat_call(call: Any, path: Segments, c: _Canonicalizer) -> Any:
    if not isinstance(call, dict):
        return call
    out = {**_without_nulls(call), "id": c.ids.ref(call.get("id")), "type": call.get("type") or "function"}
    function = call.get("function")
    if isinstance(function, dict) and "arguments" in function:
        out["function"] = {**_without_nulls(function), "arguments": _parsed_json(function["arguments"])}
        c.rewritten((*path, "function", "arguments"), (*path, "function", "arguments"))
    return out


# -- openai.responses ------------------------------------------------------------------------------

_RESPONSES_TEXT = frozenset({"input_text", "output_text"})
_RESPONSES_CALLS = frozenset({"function_call", "custom_tool_call"})
_RESPONSES_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output"})


def _openai_responses(body: dict[str, Any], c: _Canonicalizer) -> dict[str, Any]:
    out = _without_nulls(body, frozenset({"input", "tools", "instructions"}))
    if body.get("instructions") not in (None, ""):
        out["instructions"] = body["instructions"]
    if body.get("tools") is not None:
        out["tools"] = c.tools(body["tools"], function_key=None, strict_default=None)
    items = body.get("input")
    if isinstance(items, str):
        # A bare string is one user message (the API's own reading of it).
        c.rewritten(("input",), ("input",))
        out["input"] = [{"type": "message", "role": "user", "content": [{"type": "text", "text": items}]}]
        return out
    if not isinstance(items, list):
        if items is not None:
            out["input"] = items
        return out
    out["input"] = [_responses_item(item, ("input", n), c) for n, item in enumerate(items)]
    return out


def _responses_item(item: Any, path: Segments, c: _Canonicalizer) -> Any:
    if not isinstance(item, dict):
        return item
    kind = item.get("type") or ("message" if "role" in item else None)
    if kind == "item_reference":
        return item  # its id is what it says
    # Item ids and statuses echo what the provider assigned; a client may send them back or not.
    entry = _without_nulls(item, frozenset({"id", "status"}))
    entry["type"] = kind
    if kind == "message":
        entry["content"] = c.text_parts(item.get("content"), (*path, "content"), text_types=_RESPONSES_TEXT)
    elif kind in _RESPONSES_CALLS:
        entry["call_id"] = c.ids.ref(item.get("call_id"))
        if kind == "function_call" and "arguments" in item:
            entry["arguments"] = _parsed_json(item["arguments"])
            c.rewritten((*path, "arguments"), (*path, "arguments"))
    elif kind in _RESPONSES_OUTPUTS:
        entry["call_id"] = c.ids.ref(item.get("call_id"))
        entry["output"] = c.text_parts(item.get("output"), (*path, "output"), text_types=_RESPONSES_TEXT)
    elif kind == "reasoning":
        for key in ("summary", "content"):
            if entry.get(key) == []:
                del entry[key]
    return entry


_BODIES: dict[str, Callable[[dict[str, Any], _Canonicalizer], dict[str, Any]]] = {
    "anthropic.messages": _anthropic,
    "openai.chat": _openai_chat,
    "openai.responses": _openai_responses,
}


def canonical_request(protocol: str, frame: Any) -> Canonical:
    """The canonical form of an ``http.request`` frame of ``protocol`` (one of
    :data:`SEMANTIC_PROTOCOLS`); anything else is its own canonical form."""
    if not isinstance(frame, dict) or frame.get("kind") != "http.request":
        return Canonical(line={"frame": frame}, body=None)
    headers = frame.get("headers")
    line = {
        "method": frame.get("method"),
        "path": frame.get("path"),
        "query": frame.get("query") or {},
        "headers": {
            k: v
            for k, v in headers.items()
            if k.lower() not in TRANSPORT_HEADERS and not k.lower().startswith("x-stainless-")
        }
        if isinstance(headers, dict)
        else headers,
    }
    body = frame.get("body")
    rewrite = _BODIES.get(protocol)
    if rewrite is None or not isinstance(body, dict):
        return Canonical(line=line, body=body)
    canonicalizer = _Canonicalizer()
    return Canonical(line=line, body=rewrite(body, canonicalizer), origins=canonicalizer.origins)
