"""Render Chrome Trace Event Format JSON from the analysis database, for Perfetto and chrome://tracing.

One process per verdict (a scenario, or a variant of one), with these lanes (threads):

* ``outbound requests`` and ``inbound frames``: the entries of the scenario's transcript
  (``frames`` via ``verdicts.transcript_id``), on the recording's clock: the cumulative
  ``after_ms`` within the transcript (0 when absent);
* ``commands``: the ``command.accepted`` events; ``domain events``: every other event;
* ``tool calls``: a span per ``tool_call.requested`` event to the ``tool_call.completed`` event
  with its ``tool_call_id`` (an instant when it never completed);
* ``runs``: a span per run from its first to its last event;

events on the replay's logical clock, ``events.at_ms``. Both clocks count milliseconds and the
trace's ``ts`` microseconds; entries that share a millisecond are spread 1 µs apart in log order
(more than 1000 evenly over the millisecond), so they keep their order and spans their extent.
Spans that would overlap without nesting go to further lanes (``tool calls (2)``, ...).

Everything comes from named queries on the DuckDB file, and the JSON is written with sorted keys
and no timestamps of its own: the same database renders the same bytes.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from harness.analysis import query_many
from harness.analysis.db import require_schema, sql_literal
from harness.errors import UsageError

#: Every verdict: the processes of the trace, in the order the results were given.
TRACE_VERDICTS_SQL = """
SELECT scenario, position, transcript_id, protocol, status, variant_of
FROM verdicts
ORDER BY position
"""

#: The entries of each verdict's transcript, in file order. ``{where}`` selects the scenario.
TRACE_FRAMES_SQL = """
SELECT v.scenario, f.entry_index, f.line, f.direction, f.label, f.kind, f.sse_event, f.data_type,
       f.after_ms, f.exchange, f.frame
FROM verdicts AS v
JOIN frames AS f ON f.transcript_id = v.transcript_id
{where}
ORDER BY v.position, f.entry_index
"""

#: Each verdict's stored events, in log order.
TRACE_EVENTS_SQL = """
SELECT v.scenario, e.sequence, e.event_id, e.type, e.thread_id, e.run_id, e.command_id, e.at_ms, e.data
FROM verdicts AS v
JOIN events AS e ON e.scenario = v.scenario
{where}
ORDER BY v.position, e.sequence
"""

#: Each verdict's tool calls, each request with the completion that answers it (tool_call_spans).
TRACE_TOOL_CALLS_SQL = """
SELECT v.scenario, t.requested_sequence, t.completed_sequence
FROM verdicts AS v
JOIN tool_call_spans AS t ON t.scenario = v.scenario
{where}
ORDER BY v.position, t.requested_sequence
"""

#: Each verdict's runs, as the orchestrator's projection left them.
TRACE_RUNS_SQL = """
SELECT v.scenario, r.run_id, r.thread_id, r.ordinal, r.status, r.stop_reason, r.error_type, r.error_message,
       r.requests, r.responses
FROM verdicts AS v
JOIN runs AS r ON r.scenario = v.scenario
{where}
ORDER BY v.position, r.created_sequence NULLS LAST, r.run_id
"""

OUTBOUND = "outbound requests"
INBOUND = "inbound frames"
COMMANDS = "commands"
DOMAIN_EVENTS = "domain events"
TOOL_CALLS = "tool calls"
RUNS = "runs"
#: The lanes every process has, in display order; span lanes get more when spans overlap.
LANES: tuple[str, ...] = (OUTBOUND, INBOUND, COMMANDS, DOMAIN_EVENTS, TOOL_CALLS, RUNS)

#: How many known scenarios an unknown-scenario error lists.
_KNOWN_LISTED = 8

Json = dict[str, Any]
Micros = int | float


@dataclass(frozen=True, slots=True)
class _Event:
    sequence: int
    event_id: str
    type: str
    thread_id: str | None
    run_id: str | None
    command_id: str | None
    at_ms: int
    data: Any
    ts: Micros


@dataclass(frozen=True, slots=True)
class _Span:
    name: str
    start: Micros
    end: Micros
    category: str
    args: Json


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


def spread(millis: Sequence[int]) -> list[Micros]:
    """Microsecond timestamps for ``millis`` (in order): entries that share a millisecond are
    1 µs apart in the order given, or evenly spread over it when more than 1000 share it."""
    counts = Counter(millis)
    seen: Counter[int] = Counter()
    out: list[Micros] = []
    for ms in millis:
        rank = seen[ms]
        seen[ms] += 1
        if counts[ms] <= 1000:
            out.append(ms * 1000 + rank)
        else:
            out.append(round(ms * 1000 + rank * 1000 / counts[ms], 3))
    return out


def _compact(args: Json) -> Json:
    return {k: v for k, v in args.items() if v is not None}


def _instant(name: str, ts: Micros, category: str, args: Json) -> Json:
    return {"name": name, "cat": category, "ph": "i", "s": "t", "ts": ts, "args": _compact(args)}


def _frame_name(direction: str, kind: str | None, data_type: str | None, label: str | None) -> str:
    """The entry's label (``POST /v1/messages``, ``message_start``, ``turn/start``), else its kind."""
    if direction == "exit":
        return f"exit: {kind}" if kind else "exit"
    return label or data_type or kind or direction


def _frame_lanes(rows: Sequence[tuple[Any, ...]]) -> dict[str, list[Json]]:
    """The transcript's entries on the recording's clock: outbound and inbound (and exit) lanes."""
    cumulative: list[int] = []
    total = 0
    for row in rows:
        total += int(row[8] or 0)
        cumulative.append(total)
    lanes: dict[str, list[Json]] = {OUTBOUND: [], INBOUND: []}
    for row, ts in zip(rows, spread(cumulative), strict=True):
        _, entry_index, line, direction, label, kind, sse_event, data_type, after_ms, exchange, frame = row
        args = {
            "entry_index": entry_index,
            "line": line,
            "direction": direction,
            "label": label,
            "kind": kind,
            "sse_event": sse_event,
            "data_type": data_type,
            "after_ms": after_ms,
            "exchange": exchange,
            "frame": _json(frame),
        }
        lane = OUTBOUND if direction == "outbound" else INBOUND
        lanes[lane].append(_instant(_frame_name(direction, kind, data_type, label), ts, "frame", args))
    return lanes


def _events(rows: Sequence[tuple[Any, ...]]) -> list[_Event]:
    stamps = spread([int(row[7]) for row in rows])
    return [
        _Event(sequence, event_id, kind, thread_id, run_id, command_id, int(at_ms), _json(data), ts)
        for (_, sequence, event_id, kind, thread_id, run_id, command_id, at_ms, data), ts in zip(
            rows, stamps, strict=True
        )
    ]


def _event_args(event: _Event) -> Json:
    return {
        "sequence": event.sequence,
        "type": event.type,
        "event_id": event.event_id,
        "thread_id": event.thread_id,
        "run_id": event.run_id,
        "command_id": event.command_id,
        "at_ms": event.at_ms,
        "data": event.data,
    }


def _field(data: Any, key: str) -> Any:
    return data.get(key) if isinstance(data, dict) else None


def _tool_calls(events: Sequence[_Event], pairs: Sequence[tuple[Any, ...]]) -> tuple[list[_Span], list[Json]]:
    """Spans from each ``tool_call.requested`` to the ``tool_call.completed`` that answers it
    (``pairs``: the scenario's tool_call_spans rows, (requested_sequence, completed_sequence));
    instants for completions never requested and requests never completed."""
    by_sequence = {event.sequence: event for event in events}
    answered = {int(done): int(asked) for asked, done in pairs if done is not None}
    spans = [_tool_span(by_sequence[answered[done]], by_sequence[done]) for done in sorted(answered)]
    instants: list[Json] = []
    for event in events:
        if event.type == "tool_call.completed" and event.sequence not in answered:
            call_id = _field(event.data, "tool_call_id")
            args = {"tool_call_id": call_id, "completed_sequence": event.sequence, "run_id": event.run_id}
            args["outcome"] = _field(event.data, "outcome")
            instants.append(_instant(f"{call_id} (completed, never requested)", event.ts, "tool_call", args))
    for asked, done in pairs:
        if done is None:
            requested = by_sequence[int(asked)]
            instants.append(
                _instant(
                    _tool_name(requested), requested.ts, "tool_call", {**_tool_args(requested), "completed": False}
                )
            )
    return spans, instants


def _tool_name(requested: _Event) -> str:
    name = _field(requested.data, "name")
    return name if isinstance(name, str) else str(_field(requested.data, "tool_call_id"))


def _tool_args(requested: _Event) -> Json:
    data = requested.data
    return {
        "tool_call_id": _field(data, "tool_call_id"),
        "name": _field(data, "name"),
        "executor": _field(data, "executor"),
        "arguments": _field(data, "arguments"),
        "run_id": requested.run_id,
        "requested_sequence": requested.sequence,
    }


def _tool_span(requested: _Event, completed: _Event) -> _Span:
    outcome = _field(completed.data, "outcome")
    args = {
        **_tool_args(requested),
        "completed_sequence": completed.sequence,
        "status": _field(outcome, "status"),
        "outcome": outcome,
    }
    return _Span(_tool_name(requested), requested.ts, completed.ts, "tool_call", args)


def _run_spans(events: Sequence[_Event], runs: Sequence[tuple[Any, ...]]) -> list[_Span]:
    """A span per run id the events carry, from its first to its last event, with its row in ``runs``."""
    bounds: dict[str, tuple[_Event, _Event]] = {}
    for event in events:
        if event.run_id is not None:
            first = bounds.get(event.run_id, (event, event))[0]
            bounds[event.run_id] = (first, event)
    projection = {row[1]: row for row in runs}
    spans: list[_Span] = []
    for run_id, (first, last) in sorted(bounds.items(), key=lambda item: (item[1][0].sequence, item[0])):
        args: Json = {"run_id": run_id, "first_sequence": first.sequence, "last_sequence": last.sequence}
        row = projection.get(run_id)
        if row is not None:
            _, _, thread_id, ordinal, status, stop_reason, error_type, error_message, requests, responses = row
            args |= {
                "thread_id": thread_id,
                "ordinal": ordinal,
                "status": status,
                "stop_reason": stop_reason,
                "error_type": error_type,
                "error_message": error_message,
                "requests": requests,
                "responses": responses,
            }
        spans.append(_Span(run_id, first.ts, last.ts, "run", args))
    return spans


def _nesting_lane(open_ends: list[list[Micros]], span: _Span) -> int:
    """The first lane ``span`` nests in (closing the spans there that ended by its start), else a new one."""
    for index, stack in enumerate(open_ends):
        while stack and stack[-1] <= span.start:
            stack.pop()
        if not stack or span.end <= stack[-1]:
            return index
    return len(open_ends)


def _span_lanes(name: str, spans: Iterable[_Span]) -> list[tuple[str, list[Json]]]:
    """Spans as complete events, each on the first lane where it nests: slices on one thread must
    nest, and two tool calls (or runs) may overlap without one holding the other. A span that lies
    within another (a subagent's tool calls within the subagent's call) shares its lane."""
    lanes: list[tuple[str, list[Json]]] = []
    open_ends: list[list[Micros]] = []  # per lane: the ends of the spans still open, innermost last
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        index = _nesting_lane(open_ends, span)
        if index == len(open_ends):
            open_ends.append([])
            lanes.append((name if index == 0 else f"{name} ({index + 1})", []))
        open_ends[index].append(span.end)
        dur = span.end - span.start
        lanes[index][1].append(
            {
                "name": span.name,
                "cat": span.category,
                "ph": "X",
                "ts": span.start,
                "dur": round(dur, 3) if isinstance(dur, float) else dur,
                "args": _compact(span.args),
            }
        )
    return lanes or [(name, [])]


def _metadata(name: str, pid: int, tid: int, args: Json) -> Json:
    return {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": args}


def _process(
    verdict: tuple[Any, ...],
    frames: Sequence[tuple[Any, ...]],
    event_rows: Sequence[tuple[Any, ...]],
    runs: Sequence[tuple[Any, ...]],
    tool_calls: Sequence[tuple[Any, ...]],
) -> list[Json]:
    """The trace events of one verdict: metadata, then every lane's events in time order."""
    scenario, position, transcript_id, protocol, status, variant_of = verdict
    pid = int(position)
    events = _events(event_rows)
    tool_spans, tool_instants = _tool_calls(events, [row[1:] for row in tool_calls])
    commands = [_instant(_command_name(e), e.ts, "command", _event_args(e)) for e in events if _is_command(e)]
    domain = [_instant(e.type, e.ts, "event", _event_args(e)) for e in events if not _is_command(e)]
    frame_lanes = _frame_lanes(frames)
    tool_lanes = _span_lanes(TOOL_CALLS, tool_spans)
    tool_lanes[0][1].extend(tool_instants)
    lanes: list[tuple[str, list[Json]]] = [
        (OUTBOUND, frame_lanes[OUTBOUND]),
        (INBOUND, frame_lanes[INBOUND]),
        (COMMANDS, commands),
        (DOMAIN_EVENTS, domain),
        *tool_lanes,
        *_span_lanes(RUNS, _run_spans(events, runs)),
    ]
    labels = ", ".join(
        part for part in (status, protocol, f"variant of {variant_of}" if variant_of else None, transcript_id) if part
    )
    out = [
        _metadata("process_name", pid, 0, {"name": scenario}),
        _metadata("process_sort_index", pid, 0, {"sort_index": pid}),
        _metadata("process_labels", pid, 0, {"labels": labels}),
    ]
    body: list[Json] = []
    for tid, (lane, lane_events) in enumerate(lanes, start=1):
        out.append(_metadata("thread_name", pid, tid, {"name": lane}))
        out.append(_metadata("thread_sort_index", pid, tid, {"sort_index": tid}))
        lane_events.sort(key=lambda e: e["ts"])  # stable: ties keep log order
        body.extend({**e, "pid": pid, "tid": tid} for e in lane_events)
    return out + body


def _is_command(event: _Event) -> bool:
    return event.type == "command.accepted"


def _command_name(event: _Event) -> str:
    kind = _field(event.data, "type")
    return kind if isinstance(kind, str) else event.type


def _group(rows: Sequence[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    grouped: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    return grouped


def _trace(db_path: Path, scenario: str | None) -> bytes:
    where = "" if scenario is None else f"WHERE v.scenario = {sql_literal(scenario)}"
    verdicts, frames, events, runs, tool_calls = query_many(
        db_path,
        [
            TRACE_VERDICTS_SQL,
            TRACE_FRAMES_SQL.format(where=where),
            TRACE_EVENTS_SQL.format(where=where),
            TRACE_RUNS_SQL.format(where=where),
            TRACE_TOOL_CALLS_SQL.format(where=where),
        ],
    )
    selected = verdicts.rows if scenario is None else [row for row in verdicts.rows if row[0] == scenario]
    if scenario is not None and not selected:
        raise UsageError(_unknown(db_path, scenario, [str(row[0]) for row in verdicts.rows]))
    frames_of, events_of, runs_of = _group(frames.rows), _group(events.rows), _group(runs.rows)
    tool_calls_of = _group(tool_calls.rows)
    trace_events: list[Json] = []
    for verdict in selected:
        name = verdict[0]
        trace_events += _process(
            verdict,
            frames_of.get(name, []),
            events_of.get(name, []),
            runs_of.get(name, []),
            tool_calls_of.get(name, []),
        )
    document = {"traceEvents": trace_events, "displayTimeUnit": "ms"}
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)


def _unknown(db_path: Path, scenario: str, known: Sequence[str]) -> str:
    if not known:
        return f"{db_path}: no scenario {scenario!r}: the database has no verdicts"
    # names that contain what was asked for, then names that look like it, then the others in run order
    close = [name for name in known if scenario.lower() in name.lower()][:_KNOWN_LISTED]
    close += [name for name in difflib.get_close_matches(scenario, known, n=_KNOWN_LISTED) if name not in close]
    close = close[:_KNOWN_LISTED]
    listed = close + [name for name in known if name not in close][: _KNOWN_LISTED - len(close)]
    more = f", ... ({len(known)} in all)" if len(known) > len(listed) else ""
    return f"{db_path}: no scenario {scenario!r}; known scenarios: {', '.join(listed)}{more}"


def render_trace(db_path: Path, scenario: str) -> bytes:
    """Chrome Trace Event Format JSON of one verdict (a scenario or a variant, by name) of the
    database at ``db_path``: one process with the lanes of this module's docstring.

    Raises :class:`~harness.errors.UsageError` naming the scenario and some known ones when the
    database has no verdict of that name, or when the file is missing or not an analysis database.
    """
    require_schema(db_path)
    return _trace(db_path, scenario)


def render_traces(db_path: Path) -> bytes:
    """Chrome Trace Event Format JSON of every verdict of the database at ``db_path``, one process
    each (``pid`` = ``verdicts.position``), in run order."""
    require_schema(db_path)
    return _trace(db_path, None)
