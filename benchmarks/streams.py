"""Transcripts of a requested number of events, inflated from bundled recordings.

Each protocol starts from one real recording under ``transcripts/`` (:data:`BASES`). Its header,
requests, ids and every frame that is not a streamed fragment are kept; the streamed parts (text
deltas and tool-argument deltas) get more fragments, so that the transcript holds exactly the
requested number of entries (lines after the header). Everything that restates a streamed part is
rewritten to agree with the new fragments, so the result replays ``completed`` with no violations:

* ``anthropic.messages`` (SSE): ``text_delta`` and ``input_json_delta`` of each content block; the
  next request's conversation history (assistant text blocks, ``tool_use``/``server_tool_use``
  inputs).
* ``openai.responses`` (SSE): ``response.output_text.delta`` and
  ``response.function_call_arguments.delta``; the ``.done`` events, ``content_part.done``,
  ``output_item.done``, ``response.completed`` and the next request's ``input``;
  ``sequence_number`` renumbered in each exchange.
* ``openai.chat`` (``chat.completion.chunk``, ``[DONE]``): ``delta.content`` and
  ``delta.tool_calls[].function.arguments`` fragments; the next request's ``messages``.
* ``codex.app-server`` (JSON-RPC notifications): ``item/agentMessage/delta``; the agent message's
  ``item/completed`` text. A runtime transcript replays through a scenario file, so the generator
  also writes ``OUT.yaml`` next to ``OUT.ndjson``: the base recording's scenario, pointed at the
  new transcript.

How a part grows: the recorded fragments come first, unchanged and in place; the extra fragments
follow the part's last recorded fragment. A text part repeats its recorded fragments in order (so
the recorded text is a prefix of the new one); a tool-argument part keeps its recorded JSON object
and adds one string member, ``"note"``, whose value is streamed in word-sized pieces. The extra
fragments are shared among the parts in proportion to their recorded fragment counts (largest
remainder), so the generated stream keeps the recording's mix of text and arguments.

Event counts: a generated transcript of ``N`` events has exactly ``N`` entries. ``N`` must be at
least the base recording's entry count (:func:`minimum_events`, 25 to 136 entries); at that
count the generator writes the recording itself (with the restatements made consistent, see
:data:`BASES`). Generation is deterministic (no randomness) and streaming: one output line is
built at a time; what is held in memory is the base recording and each part's full text (which
the restating frames carry anyway), never the lines.

    python benchmarks/streams.py PROTOCOL EVENTS OUT.ndjson
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent

#: The marker a template line carries where a fragment goes (JSON-encoded, with its quotes).
_FRAGMENT = "\x1bFRAGMENT\x1b"
_FRAGMENT_JSON = orjson.dumps(_FRAGMENT)
#: The marker for a renumbered ``sequence_number`` (Responses).
_SEQUENCE = 7_777_777_777_777_777
_SEQUENCE_JSON = str(_SEQUENCE).encode()

#: The member added to a tool-argument object; its value is what the extra fragments stream.
NOTE_KEY = "note"
#: Word pieces for the note when the recording has no plain text of its own.
_FALLBACK_WORDS = (" the", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".")
#: Typographic characters some recorded clients sent back as ASCII (see ``BASES``).
_ASCII_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


@dataclass(frozen=True)
class Base:
    """The recording a protocol's streams are inflated from."""

    transcript: str
    #: The scenario that replays it (agent runtimes only; HTTP transcripts replay bare).
    scenario: str | None = None
    note: str = ""


BASES: dict[str, Base] = {
    "anthropic.messages": Base(
        "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson",
        note="two requests: text, a server tool search, text and a client tool_use, then the answer",
    ),
    "openai.responses": Base(
        "transcripts/openai/pydantic-ai-cassettes/openai-responses__reasoning_text_and_function_call_multiturn.ndjson",
        note=(
            "two requests: reasoning, a commentary message and a function_call, then the answer. The recorded "
            "second request carries the commentary with ASCII quotes where the stream had typographic ones; "
            "the generated one carries the streamed text, as a client that echoes it does"
        ),
    ),
    "openai.chat": Base(
        "transcripts/openai/pydantic-ai-cassettes/openai-chat__tool_call_then_text_usage_chunk.ndjson",
        note="two requests: a tool call, then the answer; usage chunks and [DONE]",
    ),
    "codex.app-server": Base(
        "transcripts/t3code-extra/tool_call_restricted_granular__codex_transcript.ndjson",
        scenario="scenarios/t3code/codex/tool_call_restricted_granular.yaml",
        note="one turn: three agent messages, commands, a file change behind an approval",
    ),
}

PROTOCOLS = tuple(BASES)


# -- where the fragments are ---------------------------------------------------------------------

#: A fragment entry: (part key, "text" or "args", the fragment, the JSON path of the fragment).
Fragment = tuple[tuple[Any, ...], str, str, tuple[Any, ...]]


def _anthropic_fragment(frame: Any, exchange: int) -> Fragment | None:
    data = frame.get("data") if isinstance(frame, dict) and frame.get("kind") == "sse" else None
    if not isinstance(data, dict) or data.get("type") != "content_block_delta":
        return None
    delta = data.get("delta") or {}
    key = (exchange, data.get("index"))
    if delta.get("type") == "text_delta" and delta.get("text"):
        return key, "text", delta["text"], ("data", "delta", "text")
    if delta.get("type") == "input_json_delta" and delta.get("partial_json"):
        return key, "args", delta["partial_json"], ("data", "delta", "partial_json")
    return None


def _responses_fragment(frame: Any, exchange: int) -> Fragment | None:
    data = frame.get("data") if isinstance(frame, dict) and frame.get("kind") == "sse" else None
    if not isinstance(data, dict) or not data.get("delta") or not isinstance(data["delta"], str):
        return None
    if data.get("type") == "response.output_text.delta":
        return (exchange, data.get("item_id"), data.get("content_index")), "text", data["delta"], ("data", "delta")
    if data.get("type") == "response.function_call_arguments.delta":
        return (exchange, data.get("item_id")), "args", data["delta"], ("data", "delta")
    return None


def _chat_fragment(frame: Any, exchange: int) -> Fragment | None:
    data = frame.get("data") if isinstance(frame, dict) and frame.get("kind") == "sse" else None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or len(choices) != 1 or choices[0].get("finish_reason") is not None:
        return None
    choice = choices[0]
    delta = choice.get("delta") or {}
    if list(delta) == ["content"] and isinstance(delta["content"], str) and delta["content"]:
        return (
            (exchange, choice.get("index"), "content"),
            "text",
            delta["content"],
            ("data", "choices", 0, "delta", "content"),
        )
    calls = delta.get("tool_calls")
    if list(delta) == ["tool_calls"] and isinstance(calls, list) and len(calls) == 1:
        call = calls[0]
        function = call.get("function") or {}
        if set(call) == {"index", "function"} and list(function) == ["arguments"] and function["arguments"]:
            path = ("data", "choices", 0, "delta", "tool_calls", 0, "function", "arguments")
            return (exchange, choice.get("index"), "tool", call["index"]), "args", function["arguments"], path
    return None


def _codex_fragment(frame: Any, exchange: int) -> Fragment | None:
    if not isinstance(frame, dict) or frame.get("method") != "item/agentMessage/delta":
        return None
    params = frame.get("params") or {}
    if not isinstance(params.get("delta"), str) or not params["delta"]:
        return None
    return (params.get("itemId"),), "text", params["delta"], ("params", "delta")


_FRAGMENTS: dict[str, Callable[[Any, int], Fragment | None]] = {
    "anthropic.messages": _anthropic_fragment,
    "openai.responses": _responses_fragment,
    "openai.chat": _chat_fragment,
    "codex.app-server": _codex_fragment,
}


# -- the plan: the base recording, its parts and how they grow --------------------------------------


@dataclass
class Part:
    """One streamed part: a text block or one tool call's arguments."""

    key: tuple[Any, ...]
    kind: str
    #: Entry index (0-based, header excluded) and fragment of each recorded fragment entry.
    entries: list[int] = field(default_factory=list)
    fragments: list[str] = field(default_factory=list)
    extra: int = 0

    @property
    def recorded(self) -> str:
        return "".join(self.fragments)


@dataclass
class Plan:
    protocol: str
    header: dict[str, Any]
    entries: list[dict[str, Any]]
    raw: list[bytes]
    parts: list[Part]
    #: entry index -> (part, fragment number within the part's recorded fragments)
    owner: dict[int, tuple[Part, int]]

    @property
    def minimum(self) -> int:
        return len(self.entries)


def _load(protocol: str) -> Plan:
    base = BASES[protocol]
    lines = [line for line in (ROOT / base.transcript).read_bytes().splitlines() if line.strip()]
    header, entries = orjson.loads(lines[0]), [orjson.loads(line) for line in lines[1:]]
    find = _FRAGMENTS[protocol]
    parts: dict[tuple[Any, ...], Part] = {}
    owner: dict[int, tuple[Part, int]] = {}
    exchange = 0
    for index, entry in enumerate(entries):
        if entry["type"] == "expect_outbound" and protocol != "codex.app-server":
            exchange += 1
        if entry["type"] != "emit_inbound":
            continue
        found = find(entry["frame"], exchange)
        if found is None:
            continue
        key, kind, fragment, _ = found
        part = parts.setdefault(key, Part(key, kind))
        owner[index] = (part, len(part.entries))
        part.entries.append(index)
        part.fragments.append(fragment)
    return Plan(protocol, header, entries, lines[1:], list(parts.values()), owner)


def minimum_events(protocol: str) -> int:
    """The fewest events a generated transcript of ``protocol`` can hold (its base recording's entries)."""
    return _load(protocol).minimum


def _share(plan: Plan, extra: int) -> None:
    """Give each part its share of ``extra`` fragments, in proportion to its recorded count."""
    total = sum(len(p.fragments) for p in plan.parts)
    if not total:
        raise ValueError(f"{plan.protocol}: the base recording streams nothing to inflate")
    exact = [extra * len(p.fragments) / total for p in plan.parts]
    shares = [int(x) for x in exact]
    left = extra - sum(shares)
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[:left]:
        shares[i] += 1
    for part, share in zip(plan.parts, shares, strict=True):
        part.extra = share


def _words(plan: Plan) -> list[str]:
    """Plain word pieces (nothing JSON would escape) from the recording's own text parts."""
    words = [
        f
        for p in plan.parts
        if p.kind == "text"
        for f in p.fragments
        if f.isascii() and f.isprintable() and '"' not in f and "\\" not in f
    ]
    return words or list(_FALLBACK_WORDS)


def _new_args(recorded: str, note: str) -> tuple[str, str]:
    """The arguments with the note member added, and the piece that opens the note's value."""
    stripped = recorded.rstrip()
    if not stripped.endswith("}"):
        raise ValueError(f"tool arguments {recorded!r} are not a JSON object")
    body = stripped[:-1]
    opener = ("," if body.strip() != "{" else "") + orjson.dumps(NOTE_KEY).decode() + ':"'
    return body + opener + note + '"}', opener


def _grow(part: Part, words: list[str]) -> Iterator[str]:
    """The part's extra fragments, lazily (a 1M-event part never exists as a list)."""
    if part.kind == "text":
        count = len(part.fragments)
        for i in range(part.extra):
            yield part.fragments[i % count]
    else:
        for i in range(part.extra - 1):
            yield words[i % len(words)]
        if part.extra:
            yield '"}'


def _replacements(part: Part, words: list[str]) -> tuple[list[tuple[Any, Any]], str]:
    """(old value -> new value) for every restatement of ``part``, and the new last recorded fragment."""
    recorded = part.recorded
    last = part.fragments[-1]
    if part.kind == "text":
        new = recorded + "".join(_grow(part, words)) if part.extra else recorded
        pairs: list[tuple[Any, Any]] = [(recorded, new)]
        if recorded.translate(_ASCII_QUOTES) != recorded:
            pairs.append((recorded.translate(_ASCII_QUOTES), new))
        return pairs, last
    if not part.extra:
        return [(recorded, recorded)], last
    note = "".join(words[i % len(words)] for i in range(part.extra - 1))
    new, opener = _new_args(recorded, note)
    if not last.rstrip().endswith("}"):
        raise ValueError(f"tool arguments {recorded!r}: the last fragment {last!r} does not close the object")
    body_last = last.rstrip()[:-1]  # the recorded last fragment without its closing brace
    return [(recorded, new), (orjson.loads(recorded), orjson.loads(new))], body_last + opener


def _replace(value: Any, table: list[tuple[Any, Any]]) -> Any:
    """``value`` with every string or object equal to an old value replaced by its new value."""
    for old, new in table:
        if type(value) is type(old) and value == old:
            return new
    if isinstance(value, dict):
        return {k: _replace(v, table) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, table) for v in value]
    return value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of ``value`` with ``path`` set to ``new`` (only the containers on the path are copied)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        copy = list(value)
        copy[head] = _set(value[head], rest, new)
        return copy
    return {**value, head: _set(value[head], rest, new)}


def _template(entry: dict[str, Any], path: tuple[Any, ...], sequenced: bool) -> tuple[bytes, bytes]:
    """The entry's line split around its fragment marker (the sequence marker left in place)."""
    frame = _set(entry["frame"], path, _FRAGMENT)
    if sequenced:
        frame = _set(frame, ("data", "sequence_number"), _SEQUENCE)
    line = orjson.dumps({**entry, "frame": frame})
    before, after = line.split(_FRAGMENT_JSON)
    return before, after


@dataclass(frozen=True)
class Generated:
    """A generated stream."""

    protocol: str
    transcript: Path
    #: What ``harness replay`` takes: the transcript, or for an agent runtime its scenario file.
    target: Path
    events: int
    #: The final text (or arguments JSON) of each streamed part, in stream order.
    parts: tuple[str, ...]


def _sequence_of(entry: dict[str, Any]) -> int | None:
    frame = entry.get("frame")
    data = frame.get("data") if isinstance(frame, dict) and frame.get("kind") == "sse" else None
    value = data.get("sequence_number") if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def generate(protocol: str, events: int, out: Path | str) -> Generated:
    """Write a transcript of ``protocol`` with exactly ``events`` entries to ``out``.

    For ``codex.app-server`` also write the scenario that replays it (``out`` with suffix ``.yaml``).
    """
    if protocol not in BASES:
        raise ValueError(f"unknown protocol {protocol!r}; one of {', '.join(PROTOCOLS)}")
    plan = _load(protocol)
    if events < plan.minimum:
        raise ValueError(f"{protocol}: at least {plan.minimum} events (the base recording's entries), not {events}")
    _share(plan, events - plan.minimum)
    words = _words(plan)
    table: list[tuple[Any, Any]] = []
    new_last: dict[int, str] = {}
    finals: list[str] = []
    for part in plan.parts:
        pairs, last = _replacements(part, words)
        table.extend((old, new) for old, new in pairs if old != new)
        new_last[id(part)] = last
        finals.append(pairs[0][1])
    olds = [orjson.dumps(old) for old, _ in table]
    if len(set(olds)) != len(olds):
        raise ValueError(f"{protocol}: two streamed parts restate the same value; the base cannot be inflated")
    sequenced = protocol == "openai.responses"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = dict(plan.header)
    header["metadata"] = {
        **(header.get("metadata") or {}),
        "generatedBy": "benchmarks/streams.py",
        "generatedFrom": BASES[protocol].transcript,
        "events": events,
    }
    find = _FRAGMENTS[protocol]
    with out.open("wb") as sink:
        sink.write(orjson.dumps(header) + b"\n")
        sequence: int | None = None
        written = 0
        for index, entry in enumerate(plan.entries):
            if entry["type"] == "expect_outbound":
                sequence = None  # a new exchange numbers its events from its first one
            recorded_sequence = _sequence_of(entry) if sequenced else None
            if sequence is None and recorded_sequence is not None:
                sequence = recorded_sequence
            owned = plan.owner.get(index)
            if owned is None:
                new_entry = _replace(entry, table) if table else entry
                if recorded_sequence is not None:
                    assert sequence is not None
                    new_entry = {**new_entry, "frame": _set(new_entry["frame"], ("data", "sequence_number"), sequence)}
                    sequence += 1
                line = plan.raw[index] if new_entry == entry else orjson.dumps(new_entry)
                sink.write(line + b"\n")
                written += 1
                continue
            part, number = owned
            found = find(entry["frame"], 0)
            assert found is not None
            is_sequenced = recorded_sequence is not None
            own = _template(entry, found[3], is_sequenced)
            if number < len(part.fragments) - 1:
                pieces: Iterator[str] = iter([part.fragments[number]])
                templates = [own]
            else:
                pieces = _chain(new_last[id(part)], _grow(part, words))
                # The extra fragments reuse the part's recorded entries as templates, in turn.
                templates = [own] + [_template(plan.entries[i], found[3], is_sequenced) for i in part.entries]
            for count, piece in enumerate(pieces):
                before, after = templates[0] if count == 0 else templates[1 + (count - 1) % (len(templates) - 1)]
                line = before + orjson.dumps(piece) + after
                if recorded_sequence is not None:
                    assert sequence is not None
                    line = line.replace(_SEQUENCE_JSON, str(sequence).encode(), 1)
                    sequence += 1
                sink.write(line + b"\n")
                written += 1
    if written != events:  # pragma: no cover - a bug in the share arithmetic
        raise AssertionError(f"wrote {written} events, meant {events}")
    target = out
    if BASES[protocol].scenario is not None:
        target = _write_scenario(protocol, out)
    return Generated(protocol, out, target, events, tuple(finals))


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _write_scenario(protocol: str, transcript: Path) -> Path:
    """The base recording's scenario, replaying ``transcript`` (written next to it)."""
    import yaml

    source = BASES[protocol].scenario
    assert source is not None
    scenario = yaml.safe_load((ROOT / source).read_text(encoding="utf-8"))
    scenario["name"] = transcript.stem
    scenario["transcript"] = transcript.name
    scenario["description"] = f"generated by benchmarks/streams.py from {source}"
    scenario.setdefault("expect", {})["golden"] = False
    path = transcript.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("protocol", choices=PROTOCOLS)
    parser.add_argument("events", type=int, help="entries after the header (at least the base recording's)")
    parser.add_argument("out", type=Path, help="the transcript to write (.ndjson)")
    args = parser.parse_args(argv)
    try:
        made = generate(args.protocol, args.events, args.out)
    except ValueError as exc:
        print(f"streams.py: {exc}", file=sys.stderr)
        return 2
    print(f"{made.transcript}: {made.events} events of {made.protocol}; replay: harness replay {made.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
