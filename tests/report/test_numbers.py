"""One set of numbers everywhere: scenario counts (variants apart), tool calls and approvals for
every protocol, time to first token and inter-token latency from recorded afterMs, the same in
DuckDB, summary.md and the invocation history."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis import Invocation, build_database, query
from harness.report import render_summary
from harness.scenario import ScenarioResult, load_scenario, run_scenario

ROOT = Path(__file__).resolve().parents[2]
PARITY = "scenarios/parity/parity_capital_uk.yaml"  # two variants: anthropic, openai_chat
TIMED = "scenarios/timed/anthropic_exchange_rate.yaml"  # afterMs on every inbound frame
CODEX = "scenarios/t3code/codex/tool_call_restricted_granular.yaml"  # command executions + one approval


@pytest.fixture(scope="module")
def results() -> list[ScenarioResult]:
    return [
        run_scenario(load_scenario(ROOT / path), goldens_dir=ROOT / "fixtures" / "goldens")
        for path in (PARITY, TIMED, CODEX)
    ]


@pytest.fixture
def db(tmp_path: Path, results: list[ScenarioResult]) -> Path:
    path = tmp_path / "harness.duckdb"
    build_database(path, results=results, invocation=Invocation("harness run", "2026-12-04T10:00:00Z"))
    return path


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    return query(db, sql).rows


def test_a_scenario_with_variants_counts_once_and_its_variants_apart(db: Path) -> None:
    assert rows(db, "SELECT count(*) FROM verdicts") == [(5,)]  # 3 scenarios + 2 variant replays
    assert rows(db, "SELECT scenarios, variants, passed, failed FROM invocations") == [(3, 2, 3, 0)]
    assert render_summary(db).splitlines()[2] == "3 scenarios: 3 passed, 0 failed (2 variant replays behind them)."


def test_variants_follow_their_scenario_with_its_totals(db: Path) -> None:
    table = rows(db, "SELECT scenario, variant_of, runs, tool_calls, events FROM scenario_summary")
    names = [row[0] for row in table]
    parent = names.index("parity_capital_uk")
    assert {row[1] for row in table[parent + 1 : parent + 3]} == {"parity_capital_uk"}
    variants = [row for row in table if row[1] == "parity_capital_uk"]
    assert table[parent][2:] == tuple(sum(int(str(v[i])) for v in variants) for i in (2, 3, 4))
    assert "| ↳ parity_capital_uk.anthropic | passed |" in render_summary(db)


def test_a_runtime_scenario_counts_its_command_executions_and_approvals(db: Path) -> None:
    (row,) = rows(
        db, "SELECT tool_calls, approvals FROM scenario_summary WHERE scenario = 'codex.tool_call_restricted_granular'"
    )
    requested = rows(
        db,
        "SELECT count(*) FROM events WHERE scenario = 'codex.tool_call_restricted_granular' "
        "AND type = 'tool_call.requested'",
    )
    assert row == (requested[0][0], 1)
    assert row[0] >= 3
    line = next(line for line in render_summary(db).splitlines() if "| codex.tool_call_restricted_granular |" in line)
    assert f"| {row[0]} | 1 |" in line


def test_time_to_first_token_and_inter_token_latency_come_from_recorded_after_ms(db: Path) -> None:
    frames = rows(
        db,
        "SELECT exchange, entry_index, after_ms, data_type FROM frames "
        "WHERE transcript_id LIKE '%anthropic_exchange_rate.ndjson' AND direction = 'inbound' ORDER BY entry_index",
    )
    expected: dict[int, int] = {}
    seen: dict[int, int] = {}
    gaps: dict[int, list[int]] = {}
    last: dict[int, int] = {}
    for exchange, _, after_ms, data_type in frames:
        seen[int(str(exchange))] = seen.get(int(str(exchange)), 0) + int(str(after_ms or 0))
        if data_type == "content_block_delta":
            key = int(str(exchange))
            expected.setdefault(key, seen[key])
            if key in last:
                gaps.setdefault(key, []).append(seen[key] - last[key])
            last[key] = seen[key]
    ttft = dict(
        rows(db, "SELECT exchange, ttft_ms FROM time_to_first_token WHERE transcript_id LIKE '%exchange_rate.ndjson'")
    )
    assert ttft == expected
    assert all(value > 0 for value in expected.values())
    itl = rows(
        db,
        "SELECT exchange, content_frames, max_ms FROM inter_token_latency "
        "WHERE transcript_id LIKE '%exchange_rate.ndjson' ORDER BY exchange",
    )
    assert itl == [(key, len(gaps[key]) + 1, max(gaps[key])) for key in sorted(gaps)]
    summary = render_summary(db)
    first = sorted(expected)[0]
    assert f"| {first} | content_block_delta | {expected[first]} | " in summary
    (scenario_ttft,) = rows(db, "SELECT ttft_ms FROM scenario_summary WHERE scenario = 'timed_anthropic_exchange_rate'")
    assert scenario_ttft == (expected[first],)


def test_a_codex_agent_message_delta_is_a_content_frame(db: Path) -> None:
    found = rows(
        db,
        "SELECT DISTINCT first_content_type FROM time_to_first_token WHERE transcript_id LIKE '%restricted_granular%'",
    )
    assert ("item/agentMessage/delta",) in found
