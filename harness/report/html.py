"""Render the HTML report: one self-contained, offline file made from the DuckDB analysis file only.

:func:`render_report` runs the named queries below on one read-only connection
(:func:`harness.analysis.query_many`), shapes their rows into plain records, and renders the Jinja
templates in ``harness/report/templates/``. Nothing else is read: no clock, no environment, no
file beside the database. Every query orders its rows on a unique key, and every collection the
templates iterate is a list built in that order, so the same database renders the same bytes.

The file needs nothing but itself: the CSS is inline, the charts are inline SVG (Vega-Lite
specifications built with altair on ``alt.Data(values=...)`` and rendered by ``vl_convert``), the
swim-lane timelines are SVG drawn by a template, and there is no script. Its pages are
``<section>`` elements shown one at a time with the CSS ``:target`` selector (the overview when
the address has no fragment), so navigation is plain links. ``docs/reports.md`` describes every
page and where each number comes from.

jinja2, altair and vl_convert are imported inside the functions that use them, so importing this
module (and starting the CLI) does not load them.
"""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.analysis import QueryResult, query_many
from harness.analysis.db import require_schema, sql_literal
from harness.report.summary import VERDICT_COUNTS_SQL
from harness.report.writer import distinct_safe_names

if TYPE_CHECKING:
    import jinja2

#: Scenarios (variants travel with their scenario) per page of the scenario table.
ROWS_PER_PAGE = 100
#: Above this many scenarios, only failing scenarios (and the variants of failing scenarios) get
#: a timeline and a token chart; the others get their summary, the reproduce command and a note.
DETAIL_LIMIT = 200
#: At most this many marks are drawn in one lane of a timeline; beyond, neighbours are merged.
LANE_CAP = 400
#: Characters of a failure's ``detail`` shown; the rest is left to ``harness query``.
DETAIL_CHARS = 20_000
#: Invocations in the trend chart, and in the table of recent invocations.
TREND_INVOCATIONS = 50
RECENT_INVOCATIONS = 10
#: Failing scenarios listed by name on the overview (all of them are on the scenario pages).
OVERVIEW_FAILURES = 50

# -- queries ----------------------------------------------------------------------------------

#: Pass/fail counts over the scenarios (a scenario with variants counts once), and its variants:
#: the very query summary.md runs, so both show one count.
COUNTS_SQL = VERDICT_COUNTS_SQL

#: One row per scenario and variant (scenario_summary), scenarios in run order, each followed by
#: its variants, with the verdict's file, transcript and golden and the transcript's recorder
#: metadata (for the re-record command).
SCENARIOS_SQL = """
SELECT s.scenario, s.variant_of, s.status, s.protocol, s.runs, s.final_status, s.error_type, s.stop_reason,
       s.tool_calls, s.approvals, s.events, s.failure_count, s.ttft_ms, s.variants,
       v.position, v.scenario_path, v.transcript_id, v.reproduce, v.golden_path, v.golden_outcome,
       t.path AS transcript_path, t.transport,
       t.metadata ->> '$.importer' AS importer,
       t.metadata ->> '$.source' AS source,
       t.metadata ->> '$.format' AS source_format,
       t.metadata ->> '$.derivation' AS derivation,
       t.metadata ->> '$.generatedBy' AS generated_by,
       CAST(t.metadata -> '$.argv' AS VARCHAR) AS argv,
       t.metadata ->> '$.commandLine' AS command_line,
       t.metadata ->> '$.capturedWith' AS captured_with
FROM scenario_summary AS s
JOIN verdicts AS v USING (scenario)
LEFT JOIN verdicts AS p ON p.scenario = v.variant_of
LEFT JOIN transcripts AS t ON t.transcript_id = v.transcript_id
ORDER BY coalesce(p.position, v.position), v.variant_of IS NOT NULL, v.position
"""

#: The scenarios whose run sections get a timeline and a token chart: every one while the suite
#: has at most DETAIL_LIMIT scenarios, else the failing ones and the variants of failing ones.
DETAILED_CTE = f"""
detailed AS (
    SELECT v.scenario
    FROM verdicts AS v
    LEFT JOIN verdicts AS p ON p.scenario = v.variant_of
    WHERE (SELECT count(*) FROM verdicts WHERE variant_of IS NULL) <= {DETAIL_LIMIT}
       OR v.status = 'failed'
       OR p.status = 'failed'
)
"""

#: The events the timelines draw, with the payload fields their lanes and tooltips need.
TIMELINE_EVENTS_SQL = f"""
WITH {DETAILED_CTE}
SELECT e.scenario, e.sequence, e.type, e.run_id, e.at_ms,
       CASE WHEN e.type = 'command.accepted' THEN e.data ->> '$.type' END AS command_type,
       t.tool_call_id, t.name AS tool_name, t.outcome, t.completed_sequence
FROM events AS e
JOIN detailed USING (scenario)
LEFT JOIN tool_call_spans AS t ON t.scenario = e.scenario AND t.requested_sequence = e.sequence
ORDER BY e.scenario, e.sequence
"""

#: The frames of the transcript each detailed scenario replayed. A scenario with variants
#: replayed nothing itself (its transcript_id is its first variant's), so it has none here.
TIMELINE_FRAMES_SQL = f"""
WITH {DETAILED_CTE}
SELECT v.scenario, f.entry_index, f.direction, f.kind, f.label, f.data_type, f.after_ms, f.exchange
FROM verdicts AS v
JOIN detailed USING (scenario)
JOIN frames AS f ON f.transcript_id = v.transcript_id
WHERE NOT EXISTS (SELECT 1 FROM verdicts AS c WHERE c.variant_of = v.scenario)
ORDER BY v.scenario, f.entry_index
"""

#: One row per provider turn of every detailed scenario: the span of its provider-turn.updated
#: events and the last token counts it reported (Anthropic and OpenAI Responses input_tokens /
#: output_tokens, OpenAI Chat prompt_tokens / completion_tokens, Codex inputTokens / outputTokens).
PROVIDER_TURNS_SQL = f"""
WITH {DETAILED_CTE}, turns AS (
    SELECT e.scenario, e.sequence, e.at_ms, e.data ->> '$.provider_turn_id' AS provider_turn_id,
           coalesce(TRY_CAST(e.data ->> '$.usage.input_tokens' AS BIGINT),
                    TRY_CAST(e.data ->> '$.usage.prompt_tokens' AS BIGINT),
                    TRY_CAST(e.data ->> '$.usage.inputTokens' AS BIGINT)) AS input_tokens,
           coalesce(TRY_CAST(e.data ->> '$.usage.output_tokens' AS BIGINT),
                    TRY_CAST(e.data ->> '$.usage.completion_tokens' AS BIGINT),
                    TRY_CAST(e.data ->> '$.usage.outputTokens' AS BIGINT)) AS output_tokens
    FROM events AS e
    JOIN detailed USING (scenario)
    WHERE e.type = 'provider-turn.updated'
)
SELECT scenario, provider_turn_id,
       min(sequence) AS first_sequence, max(sequence) AS last_sequence, min(at_ms) AS first_at_ms,
       arg_max(input_tokens, sequence) FILTER (WHERE input_tokens IS NOT NULL) AS input_tokens,
       arg_max(output_tokens, sequence) FILTER (WHERE output_tokens IS NOT NULL) AS output_tokens
FROM turns
GROUP BY scenario, provider_turn_id
ORDER BY scenario, first_sequence, provider_turn_id
"""

#: Time to first token per exchange of every detailed scenario's transcript, where recorded.
TTFT_SQL = f"""
WITH {DETAILED_CTE}
SELECT v.scenario, t.exchange, t.ttft_ms
FROM verdicts AS v
JOIN detailed USING (scenario)
JOIN time_to_first_token AS t ON t.transcript_id = v.transcript_id
WHERE t.ttft_ms IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM verdicts AS c WHERE c.variant_of = v.scenario)
ORDER BY v.scenario, t.exchange
"""

#: Every failure, in run order; the detail cut at DETAIL_CHARS (detail_chars says how long it is).
FAILURES_SQL = f"""
SELECT f.scenario, f.ordinal, f.kind, f.message, left(f.detail, {DETAIL_CHARS}) AS detail,
       length(f.detail) AS detail_chars
FROM failures AS f
JOIN verdicts AS v USING (scenario)
ORDER BY v.position, f.ordinal
"""

#: Every invariant and protocol violation, in run order and then log order.
VIOLATIONS_SQL = """
SELECT x.scenario, x.ordinal, x.source, x.rule, x.severity, x.sequence, x.run_id, x.message
FROM violations AS x
JOIN verdicts AS v USING (scenario)
ORDER BY v.position, x.ordinal
"""

#: The invocation history, oldest first.
INVOCATIONS_SQL = """
SELECT invocation, run_id, started_at, command, kind, scenarios, variants, passed, failed, tests, tests_failed,
       sim_runs, sim_failed, elapsed_ms
FROM invocations
ORDER BY invocation
"""

#: Recorded tests (test_summary) with their one-line message and reproduce command.
TESTS_SQL = """
SELECT s.nodeid, s.status, s.transcripts, s.logs, s.events, s.violations, s.errors, s.goldens, t.message,
       t.reproduce
FROM test_summary AS s
JOIN tests AS t USING (nodeid)
ORDER BY t.position
"""

UNUSED_GOLDENS_SQL = "SELECT path FROM unused_goldens ORDER BY path"

#: The latest sweep, per target: its runs and their verdicts, faults planned and fired.
SIM_TARGETS_SQL = """
SELECT target, count(*) AS runs,
       count(*) FILTER (WHERE verdict = 'pass') AS passed,
       count(*) FILTER (WHERE verdict = 'fail') AS failed,
       count(*) FILTER (WHERE verdict = 'vacuous') AS vacuous,
       sum(faults_planned) AS faults_planned,
       sum(faults_fired) AS faults_fired,
       sum(steps) AS steps,
       sum(virtual_ms) AS virtual_ms
FROM sim_runs
GROUP BY target
ORDER BY target
"""

#: The latest sweep's invocation: its wall time gives runs per second.
SIM_INVOCATION_SQL = """
SELECT invocation, run_id, started_at, command, sim_runs, sim_failed, elapsed_ms
FROM invocations
WHERE kind = 'simulation'
ORDER BY invocation DESC
LIMIT 1
"""

#: Fault coverage per target and fault kind: faults planned, fired, the runs in which one fired,
#: and those of them that failed (runs joined by sim_runs.run).
SIM_FAULTS_SQL = """
SELECT f.target, f.kind,
       count(*) AS planned,
       count(*) FILTER (WHERE f.fired) AS fired,
       count(DISTINCT f.run) FILTER (WHERE f.fired) AS fired_runs,
       count(DISTINCT f.run) FILTER (WHERE f.fired AND r.verdict = 'fail') AS failing_runs
FROM sim_faults AS f
JOIN sim_runs AS r USING (run)
GROUP BY f.target, f.kind
ORDER BY f.target, f.kind
"""

#: The latest sweep's failures grouped by signature, each with its shrunk reproduction.
SIM_GROUPS_SQL = """
SELECT target, signature, runs, first_seed, message, reproduce
FROM sim_groups
ORDER BY target, runs DESC, signature
"""

#: The swim lanes of each failure signature's shrunk run (sim_steps), in the order recorded.
SIM_STEPS_SQL = """
SELECT target, signature, lane, step, label, detail
FROM sim_steps
ORDER BY target, signature, ordinal
"""

#: The rules the latest sweep's runs broke: violations, and the runs that broke each.
SIM_RULES_SQL = """
SELECT target, rule, count(*) AS violations, count(DISTINCT run) AS runs
FROM sim_violations
GROUP BY target, rule
ORDER BY target, rule
"""

#: Every query the report runs, in order, on one read-only connection.
REPORT_QUERIES: tuple[str, ...] = (
    COUNTS_SQL,
    SCENARIOS_SQL,
    TIMELINE_EVENTS_SQL,
    TIMELINE_FRAMES_SQL,
    PROVIDER_TURNS_SQL,
    TTFT_SQL,
    FAILURES_SQL,
    VIOLATIONS_SQL,
    INVOCATIONS_SQL,
    TESTS_SQL,
    UNUSED_GOLDENS_SQL,
    SIM_TARGETS_SQL,
    SIM_INVOCATION_SQL,
    SIM_FAULTS_SQL,
    SIM_GROUPS_SQL,
    SIM_RULES_SQL,
    SIM_STEPS_SQL,
)

# -- records the templates render ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True, slots=True)
class Mark:
    """One item of a lane: a dot at ``x``, or a span from ``x`` that is ``width`` wide."""

    x: float
    width: float
    dot: bool
    css: str
    title: str


@dataclass(frozen=True, slots=True)
class Lane:
    key: str
    label: str
    y: float
    marks: tuple[Mark, ...]


@dataclass(frozen=True, slots=True)
class Timeline:
    width: int
    height: int
    plot_left: int
    plot_right: int
    axis_y: float
    axis_label: str
    ticks: tuple[Tick, ...]
    lanes: tuple[Lane, ...]
    placement: str  # how frames were placed, said under the timeline


@dataclass(frozen=True, slots=True)
class Rerecord:
    """How to record a transcript again: a command and what to do with it (None when no command
    can be derived, ``note`` then says what is needed), and other ways, each a text and a command."""

    command: str | None
    note: str
    alternatives: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Failure:
    ordinal: int
    kind: str
    message: str
    detail: str
    truncated: bool


@dataclass(frozen=True, slots=True)
class Violation:
    ordinal: int
    source: str
    rule: str
    severity: str
    sequence: int | None
    run_id: str | None
    message: str


@dataclass(slots=True)
class ScenarioRow:
    """One row of scenario_summary with its verdict, and what its run section shows."""

    name: str
    anchor: str
    variant_of: str | None
    suffix: str  # a variant's name after "<scenario>."; "" for a scenario
    status: str
    protocol: str
    runs: int
    final_status: str | None
    error_type: str | None
    stop_reason: str | None
    tool_calls: int
    approvals: int
    events: int
    failure_count: int
    ttft_ms: int | None
    scenario_path: str | None
    transcript_id: str
    reproduce: str
    golden_path: str | None
    golden_outcome: str | None
    page_anchor: str = ""
    parent_anchor: str = ""
    variants: list[ScenarioRow] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    detailed: bool = False
    timeline: Timeline | None = None
    chart: str = ""
    rerecord: Rerecord | None = None
    events_query: str = ""

    @property
    def divergence(self) -> Failure | None:
        """The first failure whose detail is the replay's or the golden's divergence."""
        return next((f for f in self.failures if f.kind in ("replay", "golden")), None)


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    anchor: str
    rows: tuple[ScenarioRow, ...]


# -- small helpers ---------------------------------------------------------------------------------


def anchors(names: Iterable[str], prefix: str) -> dict[str, str]:
    """A fragment id per name: ``<prefix>-<name>`` made safe and distinct, as file names are
    (:func:`~harness.report.writer.distinct_safe_names`).

    >>> anchors(["tool loop", "tool_loop", "codex.simple"], "run")
    {'tool loop': 'run-tool_loop-ccc5dc2f', 'tool_loop': 'run-tool_loop-cb387724', 'codex.simple': 'run-codex.simple'}
    """
    return distinct_safe_names({name: (f"{prefix}-{name}", name) for name in names})


def _num(value: float) -> float:
    """A coordinate rounded to a tenth of a pixel, so that the SVG text is short and stable."""
    return round(value, 1) + 0.0  # + 0.0 turns -0.0 into 0.0


def _grouped(rows: Iterable[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    """Rows keyed by their first column, each list in query order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        out.setdefault(str(row[0]), []).append(row)
    return out


def _records(result: QueryResult) -> list[dict[str, Any]]:
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


# -- re-recording ---------------------------------------------------------------------------------

_UPSTREAMS = {
    "anthropic.messages": "https://api.anthropic.com",
    "openai.chat": "https://api.openai.com",
    "openai.responses": "https://api.openai.com",
}


def rerecord_command(protocol: str, transcript_path: str | None, metadata: Mapping[str, str | None]) -> Rerecord:
    """How to record a scenario's transcript again, from its protocol and its header's metadata.

    HTTP model APIs are recorded by ``harness record proxy``, stdio runtimes by ``harness record
    exec`` (``docs/cli.md``); a recording imported or derived from another file says so too, and a
    protocol no recorder captures (``claude-agent-sdk.query``) says what made it.

    >>> rerecord_command("openai.chat", "transcripts/x.ndjson", {}).command
    'harness record proxy --upstream https://api.openai.com --protocol openai.chat -o transcripts/x.ndjson --force'
    """
    if transcript_path is None:
        return Rerecord(None, "The transcript was built in memory, not read from a file: record it where it was built.")
    out = shlex.quote(transcript_path)
    alternatives: list[tuple[str, str | None]] = []
    if metadata.get("importer"):
        fmt = f" ({metadata['format']})" if metadata.get("format") else ""
        alternatives.append(
            (
                f"This transcript was imported with {metadata['importer']} from {metadata.get('source') or 'a capture'}"
                f"{fmt}: capture that source again and import it (SOURCE is the new capture):",
                f"harness import SOURCE -o {out} --force",
            )
        )
    if metadata.get("derivation"):
        alternatives.append(
            (
                f"This transcript is derived, not recorded: {metadata['derivation']}. Derive it again from "
                f"{metadata.get('source') or 'its source'} once that is recorded again.",
                None,
            )
        )
    if protocol in _UPSTREAMS:
        base = "URL/v1" if protocol.startswith("openai.") else "URL"
        return Rerecord(
            f"harness record proxy --upstream {_UPSTREAMS[protocol]} --protocol {protocol} -o {out} --force",
            f"Point the client that drives this conversation at {base}, where URL is the base URL the proxy prints "
            "on its first line, run it, then stop the proxy with Ctrl-C to write the file.",
            tuple(alternatives),
        )
    if protocol in ("codex.app-server", "claude-code.stream-json"):
        argv = _argv(metadata.get("argv"))
        if protocol == "codex.app-server":
            runtime = ["codex", *(argv if argv is not None else ["app-server"])]
        elif argv is not None:
            runtime = ["claude", *argv]
        else:
            line = metadata.get("command_line") or metadata.get("captured_with")
            runtime = shlex.split(line) if line else ["claude", "-p", "--output-format", "stream-json", "--verbose"]
        note = (
            "Run it from the workspace in place of the runtime the app starts (or give the app a shim that runs "
            "this command): it passes stdin and stdout through and records them."
        )
        if any("<" in word for word in runtime):
            note += " Replace the <placeholders> with the real arguments."
        return Rerecord(
            f"harness record exec -o {out} --protocol {protocol} --force -- {shlex.join(runtime)}",
            note,
            tuple(alternatives),
        )
    if protocol == "claude-agent-sdk.query":
        made_by = metadata.get("generated_by")
        return Rerecord(
            None,
            "claude-agent-sdk.query frames are t3code's SDK boundary, neither HTTP nor a process's stdio, so "
            "harness record cannot capture them: regenerate the file with the tool that wrote it"
            + (f" ({made_by})." if made_by else "."),
            tuple(alternatives),
        )
    return Rerecord(
        None,
        f"No recorder is known for protocol {protocol}: record {transcript_path} again with the tool that made it.",
        tuple(alternatives),
    )


def _argv(text: str | None) -> list[str] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return None


# -- timelines ---------------------------------------------------------------------------------

TIMELINE_WIDTH = 960
_LABEL_WIDTH = 128
_RIGHT_PAD = 14
_LANE_HEIGHT = 24
_TOP = 6
_MIN_SPAN = 3.0


@dataclass(slots=True)
class _Item:
    """A lane item before scaling: from ``start`` to ``end`` (None: a point) on the x axis."""

    start: float
    end: float | None
    css: str
    title: str
    key: str | None = None  # consecutive items with the same key merge into one span
    label: str = ""
    ref: str = ""


_EVENT_CLASSES = (
    ("protocol.violation", "ev-violation"),
    ("run", "ev-run"),
    ("provider", "ev-provider"),
    ("turn-item", "ev-item"),
    ("message", "ev-message"),
    ("node", "ev-node"),
)


def _event_class(event_type: str) -> str:
    for prefix, css in _EVENT_CLASSES:
        if event_type == prefix or event_type.startswith(prefix + ".") or event_type.startswith(prefix + "-"):
            return css
    return "ev-other"


def _merge(items: Sequence[_Item]) -> list[_Item]:
    """Consecutive items with the same key as one span, titled with their count, label and range."""
    out: list[_Item] = []
    run: list[_Item] = []

    def flush() -> None:
        if not run:
            return
        if len(run) == 1:
            out.append(run[0])
        else:
            first, last = run[0], run[-1]
            out.append(
                _Item(
                    first.start,
                    max(last.end if last.end is not None else last.start, first.start),
                    first.css,
                    f"{len(run)} of {first.label}, {first.ref} to {last.ref}",
                )
            )
        run.clear()

    for item in items:
        if run and (item.key is None or item.key != run[-1].key):
            flush()
        run.append(item)
        if item.key is None:
            flush()
    flush()
    return out


def _cap(items: list[_Item], cap: int) -> list[_Item]:
    """At most ``cap`` items: consecutive ones merged into equal buckets when there are more."""
    if len(items) <= cap:
        return items
    size = -(-len(items) // cap)
    out = []
    for start in range(0, len(items), size):
        bucket = items[start : start + size]
        end = max(i.end if i.end is not None else i.start for i in bucket)
        out.append(
            _Item(
                bucket[0].start,
                end,
                "merged",
                f"{len(bucket)} items merged to keep the file small: {bucket[0].title} … {bucket[-1].title}",
            )
        )
    return out


def _ticks(lo: float, hi: float) -> list[float]:
    """About six round tick values covering [lo, hi]."""
    span = hi - lo
    raw = span / 5 if span > 0 else 1.0
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1.0
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = -(-lo // step) * step
    values = []
    value = first
    while value <= hi + 1e-9:
        values.append(value)
        value += step
    return values


def build_timeline(
    events: Sequence[tuple[Any, ...]],
    frames: Sequence[tuple[Any, ...]],
    turns: Sequence[tuple[Any, ...]],
    violations: Sequence[Violation],
) -> Timeline | None:
    """The swim lanes of one scenario's replay, or None when it has neither events nor frames.

    ``events`` rows are TIMELINE_EVENTS_SQL's without the scenario: (sequence, type, run_id, at_ms,
    command_type, and for a ``tool_call.requested`` event its tool_call_spans row: tool_call_id,
    tool_name, outcome, completed_sequence); ``frames`` TIMELINE_FRAMES_SQL's (entry_index,
    direction, kind, label, data_type, after_ms, exchange); ``turns`` PROVIDER_TURNS_SQL's
    (provider_turn_id, first_sequence, last_sequence, first_at_ms, input_tokens, output_tokens).

    **The x axis.** When the transcript recorded delays (an inbound frame with ``after_ms`` > 0),
    x is the logical clock ``events.at_ms``, which replay advances by those delays; frames are
    placed at the start of their exchange plus the ``after_ms`` summed over the exchange's frames
    up to and including them. The start of exchange k is ``at_ms`` of the first
    ``provider-turn.updated`` event of the k-th provider turn when the scenario has as many provider
    turns as exchanges, else the first event's ``at_ms`` plus the delays of all earlier frames.
    Without recorded delays the clock advances only once per command (every event of a run has the
    same ``at_ms``), so x is the event ``sequence`` instead; the frames of exchange k are spread
    evenly, in entry order, over the sequences of the k-th provider turn's ``provider-turn.updated``
    events (same condition), else all frames evenly over the event sequences in entry order.
    """
    if not events and not frames:
        return None
    timed = any(direction == "inbound" and (after or 0) > 0 for _, direction, _, _, _, after, _ in frames)

    def pos(sequence: int, at_ms: int) -> float:
        return float(at_ms) if timed else float(sequence)

    positions = {int(row[0]): pos(int(row[0]), int(row[3])) for row in events}
    exchanges = sorted({int(row[6]) for row in frames})
    aligned = bool(turns) and len(turns) == len(exchanges)
    frame_x = _frame_positions(frames, turns, events, timed, aligned)

    requests: list[_Item] = []
    inbound: list[_Item] = []
    for row, x in zip(frames, frame_x, strict=True):
        entry, direction, kind, label, data_type, after, exchange = row
        what = " ".join(str(p) for p in (kind, data_type) if p) or "frame"
        delay = f", after {after} ms" if after is not None else ""
        if direction == "outbound":
            requests.append(_Item(x, None, "frame-out", f"exchange {exchange} · entry {entry} · {label or what}"))
        elif direction == "exit":
            inbound.append(_Item(x, None, "frame-exit", f"exchange {exchange} · entry {entry} · runtime exit: {kind}"))
        else:
            inbound.append(
                _Item(
                    x,
                    None,
                    "frame-in",
                    f"exchange {exchange} · entry {entry} · {what}{delay}",
                    key=f"{exchange}\0{kind}\0{data_type}",
                    label=what,
                    ref=f"entry {entry}",
                )
            )

    commands: list[_Item] = []
    domain: list[_Item] = []
    requested: list[tuple[int, str, str | None, str | None, int | None]] = []
    for sequence, event_type, run_id, at_ms, command_type, call_id, tool_name, outcome, completed_at in events:
        x = positions[int(sequence)]
        where = f"#{sequence} · at {at_ms} ms" + (f" · {run_id}" if run_id else "")
        if event_type == "command.accepted":
            commands.append(_Item(x, None, "command", f"{where} · command.accepted {command_type or ''}".rstrip()))
        elif event_type == "tool_call.requested":
            requested.append((int(sequence), str(call_id), tool_name, outcome, completed_at))
        elif event_type == "tool_call.completed":
            continue  # drawn as the end of its request's span
        else:
            domain.append(
                _Item(
                    x,
                    None,
                    _event_class(event_type),
                    f"{where} · {event_type}",
                    key=event_type,
                    label=event_type,
                    ref=f"#{sequence}",
                )
            )
    all_x = [*positions.values(), *frame_x]
    lo, hi = min(all_x), max(all_x)
    tools: list[_Item] = []
    for sequence, call_id, tool_name, outcome, completed_at in requested:
        start = positions[sequence]
        if completed_at is None:
            tools.append(
                _Item(start, hi, "tool-open", f"{tool_name} · {call_id} · requested #{sequence}, never completed")
            )
        else:
            status = outcome or "completed"
            tools.append(
                _Item(
                    start,
                    positions[int(completed_at)],
                    "tool-failed" if status == "failed" else "tool",
                    f"{tool_name} · {call_id} · {status} · requested #{sequence}, completed #{completed_at}",
                )
            )
    broken = [
        _Item(
            positions[v.sequence],
            None,
            "violation" if v.severity == "error" else "warning",
            f"#{v.sequence} · {v.rule} ({v.severity}) · {v.message}",
        )
        for v in violations
        if v.sequence is not None and v.sequence in positions
    ]

    lanes_in = [
        ("requests", "requests (out)", requests),
        ("frames", "inbound frames", _merge(inbound)),
        ("commands", "commands", commands),
        ("events", "domain events", _merge(domain)),
        ("tools", "tool calls", tools),
        ("violations", "violations", broken),
    ]
    if timed:
        axis_label = "logical clock (events.at_ms, ms)"
        placement = (
            "x is the logical clock events.at_ms. Frames: their exchange's start "
            + ("(its provider turn's first event)" if aligned else "(the first event)")
            + " plus the after_ms summed over the exchange's frames so far."
        )
    else:
        axis_label = "event sequence (no recorded delays: the clock does not advance within a command)"
        placement = "x is events.sequence. Frames: " + (
            "each exchange's frames spread in entry order over its provider turn's events."
            if aligned
            else "spread in entry order over the whole event log."
        )
    return _layout(lanes_in, lo, hi, axis_label, placement)


def _layout(
    lanes_in: Sequence[tuple[str, str, Sequence[_Item]]], lo: float, hi: float, axis_label: str, placement: str
) -> Timeline:
    """Scale lane items from ``lo``..``hi`` to the plot; lanes without items are not drawn."""
    plot_left, plot_right = _LABEL_WIDTH, TIMELINE_WIDTH - _RIGHT_PAD
    if hi <= lo:
        lo, hi = lo - 1, hi + 1

    def px(value: float) -> float:
        return plot_left + (value - lo) / (hi - lo) * (plot_right - plot_left)

    lanes: list[Lane] = []
    y = float(_TOP)
    for key, label, items in lanes_in:
        if not items:
            continue  # a lane without data is not drawn (faults, violations, tools of a plain run)
        marks = []
        for item in _cap(list(items), LANE_CAP):
            x1 = px(item.start)
            if item.end is None:
                marks.append(Mark(_num(x1), 0.0, True, item.css, item.title))
            else:
                marks.append(Mark(_num(x1), _num(max(px(item.end) - x1, _MIN_SPAN)), False, item.css, item.title))
        lanes.append(Lane(key, label, y, tuple(marks)))
        y += _LANE_HEIGHT
    axis_y = y + 4
    ticks = tuple(Tick(_num(px(v)), f"{v:.0f}" if float(v).is_integer() else f"{v:g}") for v in _ticks(lo, hi))
    return Timeline(
        width=TIMELINE_WIDTH,
        height=int(axis_y + 26),
        plot_left=plot_left,
        plot_right=plot_right,
        axis_y=_num(axis_y),
        axis_label=axis_label,
        ticks=ticks,
        lanes=tuple(lanes),
        placement=placement,
    )


def build_history_timeline(rows: Sequence[tuple[Any, ...]]) -> Timeline | None:
    """The swim lanes of one simulated run from its ``sim_steps`` rows ``(lane, step, label,
    detail)``: x is the simulated loop's step. Lanes: scheduling decisions, named yield points,
    exchanges served and faults fired (a fault at the step its exchange was requested, or for a
    tool fault the step the tool was called); items without a step are left out. None when no
    row has a step."""
    placed = [row for row in rows if row[1] is not None]
    if not placed:
        return None
    names = {
        "decision": ("decisions", "scheduling decisions", "decision"),
        "point": ("points", "yield points", "point"),
        "exchange": ("exchanges", "exchanges served", "request"),
        "fault": ("faults", "faults fired", "fault"),
    }
    lanes: dict[str, list[_Item]] = {lane: [] for lane in names}
    for lane, step, label, detail in placed:
        if lane in lanes:
            title = f"step {step} · {label}" + (f" · {detail}" if detail else "")
            lanes[lane].append(_Item(float(step), None, names[lane][2], title))
    lo = min(float(row[1]) for row in placed)
    hi = max(float(row[1]) for row in placed)
    lanes_in = [(names[lane][0], names[lane][1], items) for lane, items in lanes.items()]
    return _layout(lanes_in, lo, hi, "simulated loop step", "x is the simulated loop's step (SimLoop.steps).")


def _frame_positions(
    frames: Sequence[tuple[Any, ...]],
    turns: Sequence[tuple[Any, ...]],
    events: Sequence[tuple[Any, ...]],
    timed: bool,
    aligned: bool,
) -> list[float]:
    """The x of every frame, as :func:`build_timeline` describes."""
    if not frames:
        return []
    by_exchange: dict[int, list[int]] = {}
    for i, row in enumerate(frames):
        by_exchange.setdefault(int(row[6]), []).append(i)
    out = [0.0] * len(frames)
    if timed:
        first_at = float(events[0][3]) if events else 0.0
        total = 0.0
        for rank, exchange in enumerate(sorted(by_exchange)):
            start = float(turns[rank][3]) if aligned else first_at + total
            elapsed = 0.0
            for i in by_exchange[exchange]:
                elapsed += float(frames[i][5] or 0)
                out[i] = start + elapsed
            total += elapsed
        return out
    if aligned:
        for rank, exchange in enumerate(sorted(by_exchange)):
            first, last = float(turns[rank][1]), float(turns[rank][2])
            members = by_exchange[exchange]
            steps = max(len(members) - 1, 1)
            for k, i in enumerate(members):
                out[i] = first + (last - first) * k / steps
        return out
    lo = float(events[0][0]) if events else 0.0
    hi = float(events[-1][0]) if events else float(len(frames) - 1)
    steps = max(len(frames) - 1, 1)
    return [lo + (hi - lo) * k / steps for k in range(len(frames))]


# -- charts -------------------------------------------------------------------------------------

_PASSED, _FAILED, _VACUOUS = "#1a7f37", "#cf222e", "#bf8700"
_CHART_CONFIG: dict[str, Any] = {
    "aria": False,
    "background": "#ffffff",
    "font": "sans-serif",
    "view": {"stroke": "#d0d7de"},
    "axis": {"labelFontSize": 11, "titleFontSize": 11, "labelLimit": 140},
    "legend": {"labelFontSize": 11, "titleFontSize": 11, "orient": "top"},
}
_XML_PROLOG = re.compile(r"^\s*<\?xml[^>]*\?>\s*")
_SVG_ID = re.compile(r'\bid="([^"]+)"')


def _data(values: list[dict[str, Any]]) -> Any:
    """Inline data for a chart: ``alt.Data(values=...)``'s inline form (no pandas, no URL).
    ``alt.InlineData`` is the typed class that ``alt.Data`` wraps; the specification is the same."""
    import altair as alt

    return alt.InlineData(values=values)


def chart_svg(spec: Mapping[str, Any], scope: str, cache: dict[str, str] | None = None) -> str:
    """A Vega-Lite specification as inline SVG: no XML prolog, and every id (clip paths, gradients)
    prefixed with ``scope`` so that several charts in one document never share one.

    ``cache`` maps a specification's canonical JSON to its SVG: variants and the scenarios they
    share a transcript with draw the same chart, which is then converted once.
    """
    import vl_convert

    key = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    svg = None if cache is None else cache.get(key)
    if svg is None:
        svg = _XML_PROLOG.sub("", vl_convert.vegalite_to_svg(dict(spec)))
        if cache is not None:
            cache[key] = svg
    ids = sorted(set(_SVG_ID.findall(svg)), key=lambda i: (-len(i), i))  # longest first: no id eats another
    if ids:
        pattern = re.compile(r'(id="|url\(#|href="#)(' + "|".join(re.escape(i) for i in ids) + r')(?=["\)])')
        svg = pattern.sub(lambda m: f"{m.group(1)}{scope}-{m.group(2)}", svg)
    return svg.strip()


def _configured(chart: Any) -> dict[str, Any]:
    # Not validated against the schema here (a third of the time a chart takes): the tests do.
    spec: dict[str, Any] = chart.to_dict(validate=False)
    spec["config"] = {**_CHART_CONFIG, **spec.get("config", {})}
    return spec


def trend_chart(invocations: Sequence[Mapping[str, Any]]) -> str:
    """Stacked bars of scenarios passed and failed per 'scenarios' invocation (the last ones)."""
    import altair as alt

    order = [str(row["run_id"]) for row in invocations]
    values = [
        {"run_id": str(row["run_id"]), "outcome": outcome, "scenarios": int(row[outcome]), "rank": rank}
        for row in invocations
        for rank, outcome in enumerate(("passed", "failed"))
    ]
    chart = (
        alt.Chart(_data(values))
        .mark_bar()
        .encode(
            x=alt.X("run_id:N", sort=order, title="invocation (invocations.run_id)", axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("scenarios:Q", title="scenarios", stack="zero"),
            color=alt.Color(
                "outcome:N",
                scale=alt.Scale(domain=["passed", "failed"], range=[_PASSED, _FAILED]),
                title=None,
            ),
            order=alt.Order("rank:Q"),
        )
        .properties(width=560, height=160)
    )
    return chart_svg(_configured(chart), "trend")


def fault_chart(rows: Sequence[Mapping[str, Any]]) -> str:
    """Grouped bars per fault kind: faults planned, fired, and the failing runs in which one fired."""
    import altair as alt

    totals: dict[str, list[int]] = {}
    for row in rows:
        sums = totals.setdefault(str(row["kind"]), [0, 0, 0])
        sums[0] += int(row["planned"])
        sums[1] += int(row["fired"])
        sums[2] += int(row["failing_runs"])
    measures = ("planned", "fired", "failing runs")
    values = [
        {"kind": kind, "measure": measure, "count": sums[i], "rank": i}
        for kind, sums in sorted(totals.items())
        for i, measure in enumerate(measures)
    ]
    chart = (
        alt.Chart(_data(values))
        .mark_bar()
        .encode(
            x=alt.X("kind:N", sort=sorted(totals), title="fault kind (sim_faults.kind)"),
            xOffset=alt.XOffset("measure:N", sort=list(measures)),
            y=alt.Y("count:Q", title="count"),
            color=alt.Color(
                "measure:N",
                scale=alt.Scale(domain=list(measures), range=["#8c959f", "#0969da", _FAILED]),
                title=None,
            ),
        )
        .properties(width=560, height=180)
    )
    return chart_svg(_configured(chart), "faults")


def usage_chart(
    scope: str,
    turns: Sequence[tuple[Any, ...]],
    frames: Sequence[tuple[Any, ...]],
    ttft: Sequence[tuple[Any, ...]],
    cache: dict[str, str] | None = None,
) -> str:
    """Tokens per provider turn and recorded milliseconds per exchange, side by side; "" when the
    replay reported no tokens and the transcript recorded no delays."""
    import altair as alt

    token_values: list[dict[str, Any]] = []
    for rank, (_, _, _, _, input_tokens, output_tokens) in enumerate(turns, start=1):
        for kind, count in (("input", input_tokens), ("output", output_tokens)):
            if count is not None:
                token_values.append({"turn": f"turn {rank}", "kind": kind, "tokens": int(count)})
    per_exchange: dict[int, list[int]] = {}
    for row in frames:
        if row[5] is not None:
            per_exchange.setdefault(int(row[6]), []).append(int(row[5]))
    first_token = {int(exchange): int(ms) for exchange, ms in ttft}
    latency_values = [
        {"exchange": f"exchange {exchange}", "measure": "recorded (sum of after_ms)", "ms": sum(delays)}
        for exchange, delays in sorted(per_exchange.items())
    ] + [
        {"exchange": f"exchange {exchange}", "measure": "time to first token", "ms": ms}
        for exchange, ms in sorted(first_token.items())
        if exchange in per_exchange
    ]
    charts = []
    if token_values:
        turn_order = list(dict.fromkeys(v["turn"] for v in token_values))
        charts.append(
            alt.Chart(_data(token_values), title="tokens per provider turn")
            .mark_bar()
            .encode(
                x=alt.X("turn:N", sort=turn_order, title=None, axis=alt.Axis(labelAngle=0)),
                xOffset=alt.XOffset("kind:N", sort=["input", "output"]),
                y=alt.Y("tokens:Q", title="tokens"),
                color=alt.Color(
                    "kind:N", scale=alt.Scale(domain=["input", "output"], range=["#0969da", "#8250df"]), title=None
                ),
            )
            .properties(width=max(120, min(360, 60 * len(turn_order))), height=130)
        )
    if latency_values:
        exchange_order = [f"exchange {e}" for e in sorted(per_exchange)]
        measures = ["recorded (sum of after_ms)", "time to first token"]
        charts.append(
            alt.Chart(_data(latency_values), title="recorded latency per exchange")
            .mark_bar()
            .encode(
                x=alt.X("exchange:N", sort=exchange_order, title=None, axis=alt.Axis(labelAngle=0)),
                xOffset=alt.XOffset("measure:N", sort=measures),
                y=alt.Y("ms:Q", title="ms"),
                color=alt.Color(
                    "measure:N", scale=alt.Scale(domain=measures, range=["#bf8700", "#1a7f37"]), title=None
                ),
            )
            .properties(width=max(120, min(360, 70 * len(exchange_order))), height=130)
        )
    if not charts:
        return ""
    combined = charts[0] if len(charts) == 1 else alt.hconcat(*charts).resolve_scale(color="independent")
    return chart_svg(_configured(combined), scope, cache)


# -- the report ------------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("harness.report", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "svg"), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _pages(scenarios: Sequence[ScenarioRow]) -> list[Page]:
    """The scenario table in pages of ROWS_PER_PAGE scenarios, each with its variants."""
    tops = [row for row in scenarios if row.variant_of is None]
    pages = []
    for number, start in enumerate(range(0, max(len(tops), 1), ROWS_PER_PAGE), start=1):
        anchor = "scenarios" if number == 1 else f"scenarios-{number}"
        rows: list[ScenarioRow] = []
        for top in tops[start : start + ROWS_PER_PAGE]:
            top.page_anchor = anchor
            rows.append(top)
            for variant in top.variants:
                variant.page_anchor = anchor
                rows.append(variant)
        pages.append(Page(number, anchor, tuple(rows)))
    return pages


def _scenario_rows(result: QueryResult) -> list[ScenarioRow]:
    records = _records(result)
    ids = anchors([str(r["scenario"]) for r in records], "run")
    rows: list[ScenarioRow] = []
    by_name: dict[str, ScenarioRow] = {}
    for r in records:
        name = str(r["scenario"])
        parent = r["variant_of"]
        row = ScenarioRow(
            name=name,
            anchor=ids[name],
            variant_of=parent,
            suffix=name.removeprefix(f"{parent}.") if parent else "",
            status=str(r["status"]),
            protocol=str(r["protocol"]),
            runs=int(r["runs"] or 0),
            final_status=r["final_status"],
            error_type=r["error_type"],
            stop_reason=r["stop_reason"],
            tool_calls=int(r["tool_calls"] or 0),
            approvals=int(r["approvals"] or 0),
            events=int(r["events"] or 0),
            failure_count=int(r["failure_count"] or 0),
            ttft_ms=None if r["ttft_ms"] is None else int(r["ttft_ms"]),
            scenario_path=r["scenario_path"],
            transcript_id=str(r["transcript_id"]),
            reproduce=str(r["reproduce"]),
            golden_path=r["golden_path"],
            golden_outcome=r["golden_outcome"],
        )
        row.events_query = (
            'harness query "SELECT sequence, type, run_id, at_ms FROM events WHERE scenario = '
            + sql_literal(name).replace('"', '\\"')
            + ' ORDER BY sequence"'
        )
        if int(r["variants"] or 0) == 0:
            path = r["transcript_path"] or (None if row.transcript_id.startswith("memory:") else row.transcript_id)
            row.rerecord = rerecord_command(
                row.protocol,
                path,
                {
                    "importer": r["importer"],
                    "source": r["source"],
                    "format": r["source_format"],
                    "derivation": r["derivation"],
                    "generated_by": r["generated_by"],
                    "argv": r["argv"],
                    "command_line": r["command_line"],
                    "captured_with": r["captured_with"],
                },
            )
        rows.append(row)
        by_name[name] = row
    for row in rows:
        if row.variant_of is not None and row.variant_of in by_name:
            parent_row = by_name[row.variant_of]
            parent_row.variants.append(row)
            row.parent_anchor = parent_row.anchor
    return rows


def _sim_groups(groups: QueryResult, steps: QueryResult) -> list[dict[str, Any]]:
    """sim_groups rows, each with the timeline of its shrunk run (``timeline``, None without steps)."""
    lanes: dict[tuple[Any, Any], list[tuple[Any, ...]]] = {}
    for target, signature, *rest in steps.rows:
        lanes.setdefault((target, signature), []).append(tuple(rest))
    out = _records(groups)
    for group in out:
        group["timeline"] = build_history_timeline(lanes.get((group["target"], group["signature"]), []))
        group["name"] = f"{group['target']} {group['signature']}"
    return out


def _rate(runs: int, elapsed_ms: int | None) -> str | None:
    if not runs or not elapsed_ms:
        return None
    return f"{runs / (elapsed_ms / 1000):.1f}"


def report_context(results: Sequence[QueryResult]) -> dict[str, Any]:
    """What the templates render, from the results of :data:`REPORT_QUERIES` in order."""
    (
        counts_result,
        scenarios_result,
        events_result,
        frames_result,
        turns_result,
        ttft_result,
        failures_result,
        violations_result,
        invocations_result,
        tests_result,
        unused_result,
        sim_targets_result,
        sim_invocation_result,
        sim_faults_result,
        sim_groups_result,
        sim_rules_result,
        sim_steps_result,
    ) = results
    total, passed, failed, variants = (int(v or 0) for v in counts_result.rows[0])
    scenarios = _scenario_rows(scenarios_result)
    by_name = {row.name: row for row in scenarios}
    for name, rows in _grouped(failures_result.rows).items():
        if name in by_name:
            by_name[name].failures = [
                Failure(int(o), str(k), str(m), str(d), int(n or 0) > len(str(d))) for _, o, k, m, d, n in rows
            ]
    for name, rows in _grouped(violations_result.rows).items():
        if name in by_name:
            by_name[name].violations = [
                Violation(int(o), str(src), str(rule), str(sev), None if seq is None else int(seq), run, str(msg))
                for _, o, src, rule, sev, seq, run, msg in rows
            ]
    events = _grouped(events_result.rows)
    frames = _grouped(frames_result.rows)
    turns = _grouped(turns_result.rows)
    ttft = _grouped(ttft_result.rows)
    large = total > DETAIL_LIMIT
    charts: dict[str, str] = {}
    for row in scenarios:
        parent = by_name.get(row.variant_of) if row.variant_of is not None else None
        # The same rule as DETAILED_CTE, which chose the rows fetched above.
        row.detailed = not large or row.status == "failed" or (parent is not None and parent.status == "failed")
        if not row.detailed or row.variants:
            continue  # a scenario with variants replayed nothing itself
        own_events = [r[1:] for r in events.get(row.name, [])]
        own_frames = [r[1:] for r in frames.get(row.name, [])]
        own_turns = [r[1:] for r in turns.get(row.name, [])]
        row.timeline = build_timeline(own_events, own_frames, own_turns, row.violations)
        row.chart = usage_chart(row.anchor, own_turns, own_frames, [r[1:] for r in ttft.get(row.name, [])], charts)

    pages = _pages(scenarios)
    invocations = _records(invocations_result)
    scenario_runs = [row for row in invocations if row["kind"] == "scenarios"][-TREND_INVOCATIONS:]
    tests = _records(tests_result)
    test_counts = Counter(str(t["status"]) for t in tests)

    sim_targets = _records(sim_targets_result)
    sim_invocation = next(iter(_records(sim_invocation_result)), None)
    sim_faults = _records(sim_faults_result)
    sim_runs = sum(int(t["runs"]) for t in sim_targets)
    sweep: dict[str, Any] | None = None
    if sim_targets:
        elapsed = None if sim_invocation is None else sim_invocation["elapsed_ms"]
        kinds = sorted({str(f["kind"]) for f in sim_faults})
        matrix = [
            (
                target,
                [next((f for f in sim_faults if f["target"] == target and f["kind"] == kind), None) for kind in kinds],
            )
            for target in [str(t["target"]) for t in sim_targets]
        ]
        sweep = {
            "runs": sim_runs,
            "passed": sum(int(t["passed"]) for t in sim_targets),
            "failed": sum(int(t["failed"]) for t in sim_targets),
            "vacuous": sum(int(t["vacuous"]) for t in sim_targets),
            "faults_planned": sum(int(t["faults_planned"] or 0) for t in sim_targets),
            "faults_fired": sum(int(t["faults_fired"] or 0) for t in sim_targets),
            "targets": sim_targets,
            "invocation": sim_invocation,
            "elapsed_ms": elapsed,
            "rate": _rate(sim_runs, elapsed),
            "kinds": kinds,
            "matrix": matrix,
            "faults": sim_faults,
            "groups": _sim_groups(sim_groups_result, sim_steps_result),
            "rules": _records(sim_rules_result),
            "chart": fault_chart(sim_faults) if sim_faults else "",
        }

    variant_parents = [row for row in scenarios if row.variants]
    suffixes = sorted({v.suffix for row in variant_parents for v in row.variants})
    variant_matrix = [
        (row, [next((v for v in row.variants if v.suffix == s), None) for s in suffixes]) for row in variant_parents
    ]
    latest = invocations[-1] if invocations else None
    return {
        "counts": {"scenarios": total, "passed": passed, "failed": failed, "variants": variants},
        "scenarios": scenarios,
        "failing": [row for row in scenarios if row.variant_of is None and row.status == "failed"],
        "overview_failures": OVERVIEW_FAILURES,
        "pages": pages,
        "large": large,
        "detail_limit": DETAIL_LIMIT,
        "rows_per_page": ROWS_PER_PAGE,
        "suffixes": suffixes,
        "variant_matrix": variant_matrix,
        "invocations": invocations,
        "recent": list(reversed(invocations))[:RECENT_INVOCATIONS],
        "latest": latest,
        "trend": trend_chart(scenario_runs) if scenario_runs else "",
        "trend_count": len(scenario_runs),
        "tests": tests,
        "test_counts": {s: test_counts.get(s, 0) for s in ("passed", "failed", "skipped")},
        "unused_goldens": [str(path) for (path,) in unused_result.rows],
        "sweep": sweep,
    }


def render_report(db_path: Path) -> bytes:
    """The HTML report of the database at ``db_path``: one self-contained, offline UTF-8 file.

    Rendered from the queries in :data:`REPORT_QUERIES` only, on a read-only connection; the same
    database gives the same bytes. Raises :class:`~harness.errors.UsageError` for a missing file
    or one that is not an analysis database of this schema.
    """
    from markupsafe import Markup

    require_schema(Path(db_path))
    context = report_context(query_many(Path(db_path), REPORT_QUERIES))
    # Chart SVG comes from vl_convert, which escapes the text it draws; everything else is escaped.
    for row in context["scenarios"]:
        row.chart = Markup(row.chart)
    context["trend"] = Markup(context["trend"])
    if context["sweep"] is not None:
        context["sweep"]["chart"] = Markup(context["sweep"]["chart"])
    html = _environment().get_template("report.html").render(**context)
    return html.encode("utf-8")
