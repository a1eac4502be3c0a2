"""render_trace / render_traces: Chrome Trace Event Format JSON from the DuckDB file, one process
per scenario with a lane per kind of thing, deterministic."""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.analysis import build_database, query
from harness.errors import UsageError
from harness.report.trace import LANES, render_trace, render_traces, spread
from harness.scenario import ScenarioResult, run_suite

ROOT = Path(__file__).resolve().parents[2]
TOOL_LOOP = "tool_loop_two_requests"  # two tool calls, one run
TIMED = "timed_anthropic_exchange_rate"  # a recording with afterMs on every inbound entry
OVERLAPPING = "claude.tool_call_read_only"  # two Read calls: the second starts before the first completes
SUBAGENT = "claude.subagent"  # a subagent's calls, nested within the Agent calls
MULTI_TURN = "claude.multi_turn"  # two runs
SCENARIO_FILES = [
    "scenarios/anthropic/tool_loop_two_requests.yaml",
    "scenarios/timed/anthropic_exchange_rate.yaml",
    "scenarios/t3code/claude/tool_call_read_only.yaml",
    "scenarios/t3code/claude/subagent.yaml",
    "scenarios/t3code/claude/multi_turn.yaml",
]

Trace = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Built:
    db: Path
    results: list[ScenarioResult]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    db = tmp_path_factory.mktemp("trace") / "harness.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        suite = run_suite([Path(p) for p in SCENARIO_FILES])
        build_database(db, transcripts=suite.transcripts, results=suite.results)
    return Built(db, suite.results)


@pytest.fixture(scope="module")
def traces(built: Built) -> Trace:
    trace: Trace = orjson.loads(render_traces(built.db))
    return trace


def process(trace: Trace, scenario: str) -> list[dict[str, Any]]:
    """The trace events of the scenario's process."""
    (pid,) = [e["pid"] for e in trace["traceEvents"] if e["name"] == "process_name" and e["args"]["name"] == scenario]
    return [e for e in trace["traceEvents"] if e["pid"] == pid]


def lanes(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Lane name -> its non-metadata events, in the order the trace lists them."""
    names = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in names.values()}
    for e in events:
        if e["ph"] != "M":
            out[names[e["tid"]]].append(e)
    return out


def event_ts(events: list[dict[str, Any]]) -> dict[int, float]:
    """Event sequence -> its ts, from the commands and domain-events lanes."""
    by_lane = lanes(events)
    return {e["args"]["sequence"]: e["ts"] for e in by_lane["commands"] + by_lane["domain events"]}


def test_every_process_has_the_six_lanes_in_order(traces: Trace) -> None:
    for scenario in (TOOL_LOOP, TIMED, MULTI_TURN):
        events = process(traces, scenario)
        names = sorted((e["tid"], e["args"]["name"]) for e in events if e["name"] == "thread_name")
        assert [name for _, name in names] == list(LANES)
        order = sorted((e["args"]["sort_index"], e["tid"]) for e in events if e["name"] == "thread_sort_index")
        assert [tid for _, tid in order] == [tid for tid, _ in names]
    assert LANES == ("outbound requests", "inbound frames", "commands", "domain events", "tool calls", "runs")


def test_every_tool_call_is_a_span_from_its_request_to_its_completion(built: Built, traces: Trace) -> None:
    rows = query(
        built.db,
        f"""
        SELECT q.data->>'$.tool_call_id', q.data->>'$.name', q.sequence, c.sequence
        FROM events AS q
        JOIN events AS c ON c.scenario = q.scenario AND c.type = 'tool_call.completed'
                        AND c.data->>'$.tool_call_id' = q.data->>'$.tool_call_id'
        WHERE q.scenario = '{TOOL_LOOP}' AND q.type = 'tool_call.requested'
        ORDER BY q.sequence
        """,
    ).rows
    assert [name for _, name, _, _ in rows] == ["tool_search_tool_bm25", "get_exchange_rate"]
    events = process(traces, TOOL_LOOP)
    ts = event_ts(events)
    spans = [e for e in lanes(events)["tool calls"] if e["ph"] == "X"]
    assert [
        (s["args"]["tool_call_id"], s["name"], s["args"]["requested_sequence"], s["args"]["completed_sequence"])
        for s in spans
    ] == rows
    for span, (_, _, requested, completed) in zip(spans, rows, strict=True):
        assert span["ts"] == ts[requested]
        assert span["ts"] + span["dur"] == ts[completed]
        assert span["dur"] > 0
        assert span["args"]["status"] == "succeeded"


def test_a_tool_call_never_completed_is_an_instant_on_the_tool_lane(built: Built, tmp_path: Path) -> None:
    result = next(r for r in built.results if r.scenario.name == TOOL_LOOP)
    stored = [e for e in result.execution.events if e.type != "tool_call.completed"]
    cut = dataclasses.replace(result, execution=dataclasses.replace(result.execution, stored=stored))
    db = tmp_path / "cut.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        build_database(db, results=[cut])
    tool_lane = lanes(orjson.loads(render_trace(db, TOOL_LOOP))["traceEvents"])["tool calls"]
    assert [(e["ph"], e["name"], e["args"]["completed"]) for e in tool_lane] == [
        ("i", "tool_search_tool_bm25", False),
        ("i", "get_exchange_rate", False),
    ]


def nests(spans: list[dict[str, Any]]) -> bool:
    """Whether the complete events of one lane nest (no two overlap unless one holds the other)."""
    open_ends: list[float] = []
    for span in sorted(spans, key=lambda s: (s["ts"], -s["dur"])):
        while open_ends and open_ends[-1] <= span["ts"]:
            open_ends.pop()
        if open_ends and span["ts"] + span["dur"] > open_ends[-1]:
            return False
        open_ends.append(span["ts"] + span["dur"])
    return True


def test_overlapping_tool_calls_go_to_a_second_lane(traces: Trace) -> None:
    by_lane = lanes(process(traces, OVERLAPPING))
    first, second = by_lane["tool calls"], by_lane["tool calls (2)"]
    assert [e["name"] for e in first + second] == ["Read", "Read"]
    assert second[0]["ts"] < first[0]["ts"] + first[0]["dur"]  # it starts before the first completes ...
    assert second[0]["ts"] + second[0]["dur"] > first[0]["ts"] + first[0]["dur"]  # ... and ends after it


def test_tool_calls_within_another_share_its_lane(traces: Trace) -> None:
    by_lane = lanes(process(traces, SUBAGENT))
    assert not any(name.startswith("tool calls (") for name in by_lane)
    spans = by_lane["tool calls"]
    assert [s["name"] for s in spans] == ["Agent", "Agent", "Read", "Read"]
    assert nests(spans)


def test_spans_on_every_lane_of_every_process_nest(traces: Trace) -> None:
    per_lane: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for e in traces["traceEvents"]:
        if e["ph"] == "X":
            per_lane[e["pid"], e["tid"]].append(e)
    assert len(per_lane) >= 2 * len(SCENARIO_FILES)  # tool calls and runs of each
    assert all(nests(spans) for spans in per_lane.values())


def test_frames_are_the_transcript_entries_in_entry_order(built: Built, traces: Trace) -> None:
    rows = query(
        built.db,
        f"""
        SELECT f.entry_index, f.direction FROM frames AS f JOIN verdicts AS v USING (transcript_id)
        WHERE v.scenario = '{TOOL_LOOP}' ORDER BY f.entry_index
        """,
    ).rows
    by_lane = lanes(process(traces, TOOL_LOOP))
    outbound, inbound = by_lane["outbound requests"], by_lane["inbound frames"]
    assert [e["args"]["entry_index"] for e in outbound] == [i for i, d in rows if d == "outbound"]
    assert [e["args"]["entry_index"] for e in inbound] == [i for i, d in rows if d != "outbound"]
    assert [e["name"] for e in outbound] == ["POST /v1/messages", "POST /v1/messages"]
    in_order = sorted(outbound + inbound, key=lambda e: e["args"]["entry_index"])
    stamps = [e["ts"] for e in in_order]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # no afterMs: still 1 µs apart, in order


def test_frames_are_placed_by_the_recorded_after_ms(built: Built, traces: Trace) -> None:
    rows = query(
        built.db,
        f"""
        SELECT f.entry_index, sum(coalesce(f.after_ms, 0)) OVER (ORDER BY f.entry_index) AS elapsed
        FROM frames AS f JOIN verdicts AS v USING (transcript_id)
        WHERE v.scenario = '{TIMED}' ORDER BY f.entry_index
        """,
    ).rows
    assert rows[-1][1] > 100  # the recording has timings
    by_lane = lanes(process(traces, TIMED))
    placed = {e["args"]["entry_index"]: e["ts"] for e in by_lane["outbound requests"] + by_lane["inbound frames"]}
    assert {index: int(placed[index] // 1000) for index, _ in rows} == dict(rows)


def test_events_are_on_the_logical_clock_in_log_order(built: Built, traces: Trace) -> None:
    for scenario in (TOOL_LOOP, TIMED):
        rows = query(
            built.db, f"SELECT sequence, type, at_ms FROM events WHERE scenario = '{scenario}' ORDER BY sequence"
        ).rows
        by_lane = lanes(process(traces, scenario))
        assert [e["args"]["sequence"] for e in by_lane["commands"]] == [
            s for s, t, _ in rows if t == "command.accepted"
        ]
        assert [e["args"]["sequence"] for e in by_lane["domain events"]] == [
            s for s, t, _ in rows if t != "command.accepted"
        ]
        ts = event_ts(process(traces, scenario))
        assert [int(ts[s] // 1000) for s, _, _ in rows] == [at for _, _, at in rows]
        stamps = [ts[s] for s, _, _ in rows]
        assert all(a < b for a, b in itertools.pairwise(stamps))


def test_runs_are_spans_from_their_first_to_their_last_event(built: Built, traces: Trace) -> None:
    rows = query(
        built.db,
        f"""
        SELECT e.run_id, min(e.sequence), max(e.sequence), any_value(r.status)
        FROM events AS e JOIN runs AS r USING (scenario, run_id)
        WHERE e.scenario = '{MULTI_TURN}' GROUP BY e.run_id ORDER BY min(e.sequence)
        """,
    ).rows
    assert len(rows) == 2
    events = process(traces, MULTI_TURN)
    ts = event_ts(events)
    spans = lanes(events)["runs"]
    assert [(s["name"], s["ts"], s["ts"] + s["dur"], s["args"]["status"]) for s in spans] == [
        (run_id, ts[first], ts[last], status) for run_id, first, last, status in rows
    ]


def test_render_traces_has_one_process_per_verdict_in_run_order(built: Built, traces: Trace) -> None:
    rows = query(built.db, "SELECT position, scenario FROM verdicts ORDER BY position").rows
    named = [(e["pid"], e["args"]["name"]) for e in traces["traceEvents"] if e["name"] == "process_name"]
    assert named == rows
    assert traces["displayTimeUnit"] == "ms"


def test_render_trace_is_that_scenario_s_process_of_render_traces(built: Built, traces: Trace) -> None:
    one = orjson.loads(render_trace(built.db, TIMED))
    assert one["traceEvents"] == process(traces, TIMED)


def test_two_renders_give_identical_bytes(built: Built) -> None:
    assert render_trace(built.db, TOOL_LOOP) == render_trace(built.db, TOOL_LOOP)
    assert render_traces(built.db) == render_traces(built.db)


def test_keys_are_sorted_for_deterministic_bytes(built: Built) -> None:
    text = render_trace(built.db, TOOL_LOOP)
    assert text == orjson.dumps(orjson.loads(text), option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)


def test_an_unknown_scenario_is_a_usage_error_naming_it_and_known_ones(built: Built) -> None:
    # the scenario whose name holds what was asked comes first, though it ran fourth
    with pytest.raises(UsageError, match=r"no scenario 'read_only'; known scenarios: claude\.tool_call_read_only, "):
        render_trace(built.db, "read_only")


def test_a_scenario_name_with_quotes_is_a_value_not_sql(built: Built, tmp_path: Path) -> None:
    result = next(r for r in built.results if r.scenario.name == TOOL_LOOP)
    name = "it's \"quoted\" \\ '' 1"
    renamed = dataclasses.replace(result, declared=result.scenario.model_copy(update={"name": name}))
    db = tmp_path / "quoted.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        build_database(db, results=[renamed])
    events = orjson.loads(render_trace(db, name))["traceEvents"]
    assert [e["args"]["name"] for e in events if e["name"] == "process_name"] == [name]
    assert len([e for e in lanes(events)["tool calls"] if e["ph"] == "X"]) == 2
    with pytest.raises(UsageError, match="no scenario"):
        render_trace(db, "x' OR '1' = '1")


def test_spread_keeps_order_and_the_millisecond() -> None:
    assert spread([0, 0, 1, 1, 1, 4]) == [0, 1, 1000, 1001, 1002, 4000]
    crowded = spread([2] * 1500 + [3])
    assert all(a < b for a, b in itertools.pairwise(crowded))
    assert 2000 <= crowded[-2] < 3000 and crowded[-1] == 3000
