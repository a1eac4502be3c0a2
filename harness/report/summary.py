"""Render ``summary.md`` from the analysis database, never from Python objects.

Every number and message in the summary comes from one of the named queries below, run on the
DuckDB file through :func:`harness.analysis.query`, so the summary and ``harness query`` can never
disagree. The output has no timestamps: the same database renders the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.analysis import query_many

#: Pass/fail counts over the scenarios (a scenario with variants counts once), and its variants.
VERDICT_COUNTS_SQL = """
SELECT count(*) FILTER (WHERE variant_of IS NULL) AS scenarios,
       count(*) FILTER (WHERE variant_of IS NULL AND status = 'passed') AS passed,
       count(*) FILTER (WHERE variant_of IS NULL AND status = 'failed') AS failed,
       count(*) FILTER (WHERE variant_of IS NOT NULL) AS variants
FROM verdicts
"""

#: One row per scenario, in run order, each followed by its variants (the view scenario_summary).
SCENARIO_TABLE_SQL = """
SELECT scenario, variant_of, status, protocol, runs, final_status, error_type, stop_reason, tool_calls,
       approvals, events, failure_count, ttft_ms
FROM scenario_summary
"""

#: Every failure of every failing scenario, with the command that reproduces it.
FAILURES_SQL = """
SELECT v.scenario, v.scenario_path, v.transcript_id, v.reproduce, f.ordinal, f.kind, f.message, f.detail
FROM verdicts AS v
JOIN failures AS f USING (scenario)
WHERE v.status = 'failed'
ORDER BY v.position, f.ordinal
"""

#: Failing verdicts, so a failed scenario without failure rows still gets its section.
FAILED_VERDICTS_SQL = """
SELECT scenario, scenario_path, transcript_id, reproduce
FROM verdicts
WHERE status = 'failed'
ORDER BY position
"""

#: Invariant and protocol violations, in run order and then log order.
VIOLATIONS_SQL = """
SELECT x.scenario, x.source, x.rule, x.severity, x.sequence, x.run_id, x.message
FROM violations AS x
JOIN verdicts AS v USING (scenario)
ORDER BY v.position, x.ordinal
"""

#: Time to first token and inter-token latency, only where the recording had timings.
TTFT_SQL = """
SELECT t.transcript_id, t.exchange, t.first_content_type, t.ttft_ms, i.median_ms, i.max_ms
FROM time_to_first_token AS t
LEFT JOIN inter_token_latency AS i USING (transcript_id, exchange)
WHERE t.ttft_ms IS NOT NULL
ORDER BY t.transcript_id, t.exchange
"""

UNUSED_GOLDENS_SQL = "SELECT path FROM unused_goldens ORDER BY path"

#: Recorded tests (``harness_results``), in collection order, with what each recorded.
TESTS_SQL = """
SELECT nodeid, status, transcripts, events, violations, goldens
FROM test_summary
"""

#: Failed recorded tests with their failure text and the command that reruns them.
FAILED_TESTS_SQL = """
SELECT nodeid, path, message, detail, reproduce
FROM tests
WHERE status = 'failed'
ORDER BY position
"""

#: Violations that recorded tests found in their own event logs.
TEST_VIOLATIONS_SQL = """
SELECT x.nodeid, x.log, x.rule, x.severity, x.event_index, x.subject, x.message
FROM test_violations AS x
JOIN tests AS t USING (nodeid)
ORDER BY t.position, x.ordinal
"""

#: Every query the summary runs, in the order it runs them (on one read-only connection).
SUMMARY_QUERIES: tuple[str, ...] = (
    VERDICT_COUNTS_SQL,
    SCENARIO_TABLE_SQL,
    FAILED_VERDICTS_SQL,
    FAILURES_SQL,
    VIOLATIONS_SQL,
    TTFT_SQL,
    UNUSED_GOLDENS_SQL,
    TESTS_SQL,
    FAILED_TESTS_SQL,
    TEST_VIOLATIONS_SQL,
)


def _cell(value: Any) -> str:
    """A value as one Markdown table cell: no pipes or newlines can break the row."""
    if value is None:
        return ""
    text = str(value).replace("\\", "\\\\").replace("|", "\\|")
    return " ".join(text.split())


def _code(value: Any) -> str:
    """Inline code that survives backticks inside the value."""
    text = " ".join(str(value).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fenced(text: str, language: str = "text") -> list[str]:
    """A fenced block whose fence is longer than any backtick run inside ``text``."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", *text.rstrip("\n").splitlines(), fence]


def _table(header: Sequence[str], align: str, rows: Iterable[Sequence[Any]]) -> list[str]:
    """A Markdown table; ``align`` has one letter per column, ``l`` or ``r``."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines.extend("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)
    return lines


def render_summary(db_path: Path) -> str:
    """The Markdown summary of the database at ``db_path``.

    Sections: pass/fail counts, a table of scenarios, one section per failing scenario (each
    failure's message and detail in a fenced block, and the reproduce command), violations,
    time to first token where known, and unused goldens. When tests recorded their outcome
    (``harness_results``) there are also their counts, a table of tests, a section per failing
    test and their violations; without them the summary is exactly the scenario one.
    """
    (
        counts_result,
        scenarios_result,
        failing_result,
        failures_result,
        violations_result,
        ttft_result,
        unused_result,
        tests_result,
        failed_tests_result,
        test_violations_result,
    ) = query_many(db_path, SUMMARY_QUERIES)
    counts = counts_result.rows[0]
    total, passed, failed, variants = (int(v or 0) for v in counts)
    tests = tests_result.rows
    out = ["# Harness report", ""]
    behind = f" ({variants} variant replay{'' if variants == 1 else 's'} behind them)" if variants else ""
    out.append(f"{total} scenario{'' if total == 1 else 's'}: {passed} passed, {failed} failed{behind}.")
    if tests:
        statuses = [row[1] for row in tests]
        tallies = ", ".join(f"{statuses.count(s)} {s}" for s in ("passed", "failed", "skipped"))
        out.append(f"{len(tests)} recorded test{'' if len(tests) == 1 else 's'}: {tallies}.")
    out.append("")

    out += ["## Scenarios", ""]
    scenarios = scenarios_result.rows
    if scenarios:
        table_rows = []
        for (
            name,
            parent,
            status,
            protocol,
            runs,
            final,
            error_type,
            stop,
            tools,
            approvals,
            events,
            failures,
            ttft,
        ) in scenarios:
            final_text = f"{final} ({error_type})" if final and error_type else final
            label = f"↳ {name}" if parent else name  # a variant, under its scenario
            table_rows.append(
                (label, status, protocol, runs, final_text, stop, tools, approvals, events, failures, ttft)
            )
        out += _table(
            (
                "scenario",
                "status",
                "protocol",
                "runs",
                "final status",
                "stop reason",
                "tool calls",
                "approvals",
                "events",
                "failures",
                "TTFT ms",
            ),
            "lllrllrrrrr",
            table_rows,
        )
    else:
        out.append("No scenarios ran.")
    out.append("")

    if tests:
        out += ["## Tests", ""]
        out += _table(("test", "status", "transcripts", "events", "violations", "goldens"), "llrrrl", tests)
        out.append("")

    failing = failing_result.rows
    failed_tests = failed_tests_result.rows
    if failing or failed_tests:
        out += ["## Failures", ""]
        by_scenario: dict[str, list[tuple[Any, ...]]] = {}
        for row in failures_result.rows:
            by_scenario.setdefault(row[0], []).append(row)
        for name, scenario_path, transcript_id, reproduce in failing:
            out += [f"### {_code(name)}", ""]
            if scenario_path:
                out.append(f"Scenario: {_code(scenario_path)}  ")
            out.append(f"Transcript: {_code(transcript_id)}")
            out.append("")
            for _, _, _, _, ordinal, kind, message, detail in by_scenario.get(name, []):
                out.append(f"{ordinal}. {kind}")
                out.append("")
                body = message if not detail else f"{message}\n\n{detail}"
                out += _fenced(body)
                out.append("")
            out += ["Reproduce:", "", *_fenced(reproduce, "sh"), ""]
        for nodeid, path, message, detail, reproduce in failed_tests:
            out += [f"### {_code(nodeid)}", "", f"Test file: {_code(path)}", ""]
            body = message or "failed"
            out += _fenced(body if not detail else f"{body}\n\n{detail}")
            out += ["", "Reproduce:", "", *_fenced(reproduce, "sh"), ""]

    out += ["## Violations", ""]
    violations = violations_result.rows
    if violations:
        out += _table(("scenario", "source", "rule", "severity", "event", "run", "message"), "llllrll", violations)
    else:
        out.append("None.")
    out.append("")

    if tests:
        out += ["## Test violations", ""]
        test_violations = test_violations_result.rows
        if test_violations:
            out += _table(
                ("test", "log", "rule", "severity", "event", "subject", "message"), "llllrll", test_violations
            )
        else:
            out.append("None.")
        out.append("")

    out += ["## Time to first token", ""]
    ttft = ttft_result.rows
    if ttft:
        out += _table(
            ("transcript", "exchange", "first content", "TTFT ms", "inter-token median ms", "inter-token max ms"),
            "lrlrrr",
            ttft,
        )
    else:
        out.append("No recording in this run has afterMs timings.")
    out.append("")

    out += ["## Unused goldens", ""]
    unused = unused_result.rows
    out += [f"- {_code(path)}" for (path,) in unused] if unused else ["None."]
    out.append("")
    return "\n".join(out)
