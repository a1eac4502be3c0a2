"""The HTML report: self-contained, made from the database alone, byte-deterministic, and showing
the same numbers as the database.

One database is built from real scenario results (a passing tool loop, a scenario whose golden
differs, a scenario with two variants, a recording with afterMs timings), two recorded tests, an
unused golden, two invocations and a small sweep, and rendered once; larger suites are made by
copying a passing scenario's rows under new names with SQL.
"""

from __future__ import annotations

import html as htmllib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from harness.analysis import Invocation, build_database, build_simulation_database, query
from harness.report import render_summary
from harness.report.html import REPORT_QUERIES, ROWS_PER_PAGE, render_report, rerecord_command
from harness.scenario import load_scenario, run_scenario
from harness.scenario.recorded import RecordedTest

ROOT = Path(__file__).resolve().parents[2]
GOLDENS = ROOT / "fixtures" / "goldens"
TOOL_LOOP = "scenarios/anthropic/tool_loop_two_requests.yaml"  # two tool calls, no afterMs
BROKEN_GOLDEN = "scenarios/anthropic/plain_text.yaml"  # its golden is edited so that it differs
PARITY = "scenarios/parity/parity_capital_uk.yaml"  # two variants: anthropic, openai_chat
TIMED = "scenarios/timed/anthropic_exchange_rate.yaml"  # afterMs on every inbound frame
SIM_TARGET = TOOL_LOOP


def _sweep_runs() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Three simulated runs as ``SweepResult.runs`` gives them (a pass, a failure, a vacuous
    run) and the failure's group."""

    def run(seed: int, verdict: str, faults: list[dict[str, Any]], violations: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "seed": seed,
            "plan": ";".join(f["fault"] for f in faults) or "none",
            "policy": "random",
            "schedule": "0,1*2",
            "decisions": 3,
            "verdict": verdict,
            "signature": "+".join(v["rule"] for v in violations),
            "digest": f"{seed:064x}",
            "faults": faults,
            "steps": 40 + seed,
            "virtual_ms": 100 * seed,
            "outcome": "ok",
            "violations": violations,
        }

    runs = [
        run(0, "pass", [{"fault": "reset@1.4", "fired": True}], []),
        run(
            1,
            "fail",
            [{"fault": "stream_error@1.3", "fired": True}, {"fault": "slow@2.2:ms=50", "fired": False}],
            [{"rule": "sim.replay.diverged", "message": "replay ended with 12 unconsumed entries", "at": None}],
        ),
        run(2, "vacuous", [{"fault": "truncate@2.5", "fired": False}], []),
    ]
    groups = [
        {
            "signature": "sim.replay.diverged",
            "runs": 1,
            "first_seed": 1,
            "message": "replay ended with 12 unconsumed entries",
            "reproduce": f"harness simulate {SIM_TARGET} --seed 1 --plan stream_error@1.3 --policy fifo",
            "timeline": [
                ["decision", 2, "ran task-2", "2 ready"],
                ["exchange", 3, "exchange 1: status 200", "cut"],
                ["point", 5, "retry", "attempt 2"],
                ["decision", 7, "ran task-1", "3 ready"],
                ["fault", 3, "stream_error@1.3", None],
                ["fault", None, "slow@2.2:ms=50", None],
            ],
        }
    ]
    return runs, groups


def _build_suite(directory: Path) -> Path:
    """The test database: scenario results, recorded tests, two invocations, then a sweep."""
    broken = directory / "goldens"
    broken.mkdir()
    golden = (GOLDENS / "plain_text.ndjson").read_text(encoding="utf-8")
    assert "Answer with just the number." in golden
    (broken / "plain_text.ndjson").write_text(golden.replace("just the number.", "only the number."), encoding="utf-8")
    db = directory / "harness.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)  # relative paths, as the CLI run from the repository root writes them
        results = [
            run_scenario(load_scenario(Path(TOOL_LOOP)), goldens_dir=GOLDENS),
            run_scenario(load_scenario(Path(BROKEN_GOLDEN)), goldens_dir=broken),
            run_scenario(load_scenario(Path(PARITY)), goldens_dir=GOLDENS),
            run_scenario(load_scenario(Path(TIMED)), goldens_dir=GOLDENS),
        ]
        tests = [
            RecordedTest("tests/test_app.py::test_answers", position=1, goldens=[("goldens/app.ndjson", "matched")]),
            RecordedTest(
                "tests/test_app.py::test_retries",
                position=2,
                status="failed",
                message="AssertionError: expected 2 requests, saw 1",
                detail="assert 1 == 2",
            ),
        ]
        for hour in ("10", "11"):
            build_database(
                db,
                results=results,
                tests=tests,
                unused_goldens=["fixtures/goldens/nobody_uses_this.ndjson"],
                invocation=Invocation("harness run", f"2026-12-04T{hour}:00:00Z"),
            )
    runs, groups = _sweep_runs()
    build_simulation_database(
        db,
        target=SIM_TARGET,
        runs=runs,
        groups=groups,
        invocation=Invocation("harness simulate", "2026-12-04T12:00:00Z", elapsed_ms=1500),
    )
    return db


def _copies(source: Path, target: Path, copies: int, scenario: str = "tool_loop_two_requests") -> Path:
    """``source`` with ``copies`` more passing scenarios: ``scenario``'s verdict, events and runs
    under the names ``<scenario>_copy<N>``."""
    shutil.copyfile(source, target)
    with duckdb.connect(str(target)) as conn:
        params = {"scenario": scenario}
        conn.execute("CREATE TEMP TABLE copies AS SELECT range AS n FROM range(1, $copies + 1)", {"copies": copies})
        conn.execute(
            """
            INSERT INTO verdicts
            SELECT v.scenario || '_copy' || c.n, 1000 + c.n, v.scenario_path, v.transcript_id, v.protocol, v.status,
                   v.failure_count, v.golden_path, v.golden_outcome, v.reproduce, v.variant_of
            FROM verdicts AS v, copies AS c WHERE v.scenario = $scenario
            """,
            params,
        )
        conn.execute(
            """
            INSERT INTO events
            SELECT e.scenario || '_copy' || c.n, e.sequence, e.event_id, e.type, e.thread_id, e.run_id, e.command_id,
                   e.at_ms, e.data
            FROM events AS e, copies AS c WHERE e.scenario = $scenario
            """,
            params,
        )
        conn.execute(
            """
            INSERT INTO runs
            SELECT r.scenario || '_copy' || c.n, r.run_id, r.thread_id, r.protocol, r.ordinal, r.created_sequence,
                   r.status, r.stop_reason, r.error_type, r.error_message, r.requests, r.responses
            FROM runs AS r, copies AS c WHERE r.scenario = $scenario
            """,
            params,
        )
    return target


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_suite(tmp_path_factory.mktemp("suite"))


@pytest.fixture(scope="module")
def report(db: Path) -> str:
    return render_report(db).decode("utf-8")


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    return query(db, sql).rows


SECTION = re.compile(r'<section class="page( [^"]*)?" id="([^"]+)"([^>]*)>(.*?)</section>', re.S)


def sections(report: str) -> dict[str, str]:
    """Every page section's inner HTML, by id (sections are never nested)."""
    found = {m.group(2): m.group(4) for m in SECTION.finditer(report)}
    assert len(found) == len(SECTION.findall(report)), "two sections share an id"
    return found


def run_sections(report: str) -> dict[str, str]:
    """Run sections by the scenario they show (data-scenario, unescaped)."""
    out = {}
    for m in SECTION.finditer(report):
        if m.group(1) == " run":
            name = re.search(r'data-scenario="([^"]*)"', m.group(3))
            assert name is not None
            out[htmllib.unescape(name.group(1))] = m.group(4)
    return out


def lanes(section: str) -> dict[str, str]:
    """The lanes of the first timeline in a section: name -> the lane's SVG."""
    timeline = re.search(r'<svg class="timeline".*?</svg>', section, re.S)
    assert timeline is not None, "no timeline"
    return dict(re.findall(r'<g class="lane" data-lane="([^"]+)"[^>]*>(.*?)</g>', timeline.group(0), re.S))


def text(fragment: str) -> str:
    """The text of an HTML fragment: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


# -- the file stands alone -------------------------------------------------------------------------


def test_the_file_is_self_contained_and_offline(report: str) -> None:
    lower = report.lower()
    assert "<script" not in lower
    assert "<link" not in lower
    assert "<iframe" not in lower and "<img" not in lower and "<object" not in lower
    assert "@import" not in lower and "@font-face" not in lower
    assert not re.search(r"""\b(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?//""", report, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//""", report, re.I)
    # Every link stays inside the file.
    assert all(target.startswith("#") for target in re.findall(r'href="([^"]*)"', report))


def test_rendering_reads_the_database_without_changing_it(db: Path) -> None:
    before = db.read_bytes()
    render_report(db)
    assert db.read_bytes() == before
    assert not db.with_name(db.name + ".wal").exists()


def test_same_database_same_bytes_in_two_processes(db: Path, report: str) -> None:
    code = "import sys; from pathlib import Path; from harness.report.html import render_report; "
    code += "sys.stdout.buffer.write(render_report(Path(sys.argv[1])))"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(db)],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=ROOT,
        )
        for seed in ("0", "4242")
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes)
    assert outputs[0] == outputs[1]
    assert outputs[0] == report.encode("utf-8")


def test_every_query_names_its_columns() -> None:
    # Others add columns to the tables and views: the report selects the ones it shows by name.
    for sql in REPORT_QUERIES:
        assert not re.search(r"SELECT\s+(?:\w+\.)?\*", sql, re.I), sql


# -- the numbers are the database's ----------------------------------------------------------------


def test_the_overview_counts_equal_the_database(db: Path, report: str) -> None:
    overview = sections(report)["overview"]

    def shown(name: str) -> int:
        match = re.search(rf'id="count-{name}">(\d+)<', overview)
        assert match is not None, name
        return int(match.group(1))

    ((scenarios, passed, failed, variants),) = rows(
        db,
        "SELECT count(*) FILTER (WHERE variant_of IS NULL), "
        "count(*) FILTER (WHERE variant_of IS NULL AND status = 'passed'), "
        "count(*) FILTER (WHERE variant_of IS NULL AND status = 'failed'), "
        "count(*) FILTER (WHERE variant_of IS NOT NULL) FROM verdicts",
    )
    assert (scenarios, passed, failed, variants) == (4, 3, 1, 2)
    assert shown("scenarios") == scenarios
    assert shown("passed") == passed
    assert shown("failed") == failed
    assert shown("variants") == variants
    assert shown("tests") == rows(db, "SELECT count(*) FROM tests")[0][0]
    assert shown("sim-runs") == rows(db, "SELECT count(*) FROM sim_runs")[0][0]
    assert shown("unused-goldens") == rows(db, "SELECT count(*) FROM unused_goldens")[0][0]


def test_every_scenario_and_variant_has_a_run_section_linked_from_the_table(db: Path, report: str) -> None:
    names = {name for (name,) in rows(db, "SELECT scenario FROM verdicts")}
    runs = run_sections(report)
    assert set(runs) == names
    pages = sections(report)
    table = pages["scenarios"]
    for m in SECTION.finditer(report):
        if m.group(1) == " run":
            assert f'href="#{m.group(2)}"' in table, m.group(2)


def test_a_failing_scenario_shows_its_first_divergence_and_reproduce_command(db: Path, report: str) -> None:
    ((name, reproduce, kind, message, detail),) = rows(
        db,
        "SELECT v.scenario, v.reproduce, f.kind, f.message, f.detail FROM verdicts AS v "
        "JOIN failures AS f USING (scenario) WHERE v.status = 'failed' AND f.kind IN ('replay', 'golden')",
    )
    assert kind == "golden" and detail.startswith("--- golden")
    section = run_sections(report)[name]
    divergence = re.search(r'<div class="card divergence">(.*?)</div>', section, re.S)
    assert divergence is not None
    assert message in text(divergence.group(1))
    diff = re.search(r'<pre class="diff">(.*?)</pre>', divergence.group(1), re.S)
    assert diff is not None
    assert htmllib.unescape(diff.group(1)) == detail
    assert f'<pre class="cmd">{htmllib.escape(reproduce, quote=False)}</pre>' in section
    # The overview lists it, linked.
    assert f">{name}</a>" in sections(report)["overview"]


def test_a_passing_scenario_shows_no_failures_and_its_reproduce_command(db: Path, report: str) -> None:
    ((reproduce,),) = rows(db, "SELECT reproduce FROM verdicts WHERE scenario = 'tool_loop_two_requests'")
    section = run_sections(report)["tool_loop_two_requests"]
    assert "<h2>Failures" not in section
    assert f'<pre class="cmd">{htmllib.escape(reproduce, quote=False)}</pre>' in section


def test_the_scenario_table_shows_scenario_summary(db: Path, report: str) -> None:
    """Tool calls, approvals, events and TTFT: the HTML, summary.md and DuckDB give the same numbers."""
    table = sections(report)["scenarios"]
    summary = render_summary(db)
    found = rows(
        db, "SELECT scenario, variant_of, status, tool_calls, approvals, events, ttft_ms FROM scenario_summary"
    )
    assert any(ttft is not None for *_, ttft in found)
    for name, parent, status, tool_calls, approvals, events, ttft in found:
        row = re.search(rf'<tr data-scenario="{re.escape(name)}"[^>]*>(.*?)</tr>', table, re.S)
        assert row is not None, name
        cells = [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]
        assert cells[1] == status
        assert cells[6:9] == [str(tool_calls), str(approvals), str(events)]
        assert cells[10] == ("" if ttft is None else str(ttft))
        label = f"↳ {name}" if parent else name
        line = next(line for line in summary.splitlines() if line.startswith(f"| {label} |"))
        numbers = [cell.strip() for cell in line.strip("|").split("|")]
        assert numbers[6:9] == [str(tool_calls), str(approvals), str(events)]
        assert numbers[10] == ("" if ttft is None else str(ttft))


def test_variants_are_nested_under_their_scenario(db: Path, report: str) -> None:
    variants = sorted(
        name for (name,) in rows(db, "SELECT scenario FROM verdicts WHERE variant_of = 'parity_capital_uk'")
    )
    assert variants == ["parity_capital_uk.anthropic", "parity_capital_uk.openai_chat"]
    table = sections(report)["scenarios"]
    order = re.findall(r'<tr data-scenario="([^"]+)"( class="variant" data-variant-of="([^"]+)")?', table)
    names = [name for name, _, _ in order]
    at = names.index("parity_capital_uk")
    assert not order[at][1]  # the scenario itself is not a variant row
    following = order[at + 1 : at + 1 + len(variants)]
    assert sorted(name for name, _, _ in following) == variants
    assert all(parent == "parity_capital_uk" for _, _, parent in following)
    assert sum(1 for _, variant, _ in order if variant) == len(variants)  # and nowhere else
    # The overview's matrix: one row for the scenario, one column per variant suffix.
    overview = sections(report)["overview"]
    matrix = re.search(r'<table class="matrix variants">(.*?)</table>', overview, re.S)
    assert matrix is not None
    header = [text(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", matrix.group(1), re.S)]
    assert header == ["scenario", "anthropic", "openai_chat", "parity verdict"]
    row = re.search(r'<tr data-scenario="parity_capital_uk">(.*?)</tr>', matrix.group(1), re.S)
    assert row is not None
    assert [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)][1:] == ["passed"] * 3
    # The scenario's own section lists its variants, linked.
    parent = run_sections(report)["parity_capital_uk"]
    assert all(f">↳ {v}</a>" in parent for v in variants)


# -- charts and timelines -------------------------------------------------------------------------


def test_charts_are_inline_svg(report: str) -> None:
    pages = sections(report)
    trend = re.search(r'<figure class="chart trend">\s*<svg [^>]*>', pages["overview"])
    assert trend is not None
    assert "<svg" in re.search(r'<figure class="chart faults">(.*?)</figure>', pages["sweep"], re.S).group(1)  # type: ignore[union-attr]
    usage = re.search(
        r'<figure class="chart usage">(.*?)</figure>', run_sections(report)["timed_anthropic_exchange_rate"], re.S
    )
    assert usage is not None and usage.group(1).lstrip().startswith("<svg")
    assert "<?xml" not in report
    # Several charts in one document: their clip paths must not share ids.
    ids = re.findall(r'\bid="([^"]+)"', report)
    assert len(ids) == len(set(ids))


def test_the_trend_has_one_bar_group_per_scenario_invocation(db: Path, report: str) -> None:
    runs = [
        run_id for (run_id,) in rows(db, "SELECT run_id FROM invocations WHERE kind = 'scenarios' ORDER BY invocation")
    ]
    assert runs == ["run-1", "run-2"]
    trend = re.search(r'<figure class="chart trend">(.*?)</figure>', sections(report)["overview"], re.S)
    assert trend is not None
    labels = re.findall(r"<text[^>]*>(run-\d+)</text>", trend.group(1))
    assert labels == runs
    table = re.search(r'<table class="invocations">(.*?)</table>', sections(report)["overview"], re.S)
    assert table is not None
    for run_id, started_at, command in rows(db, "SELECT run_id, started_at, command FROM invocations"):
        assert f"<td>{run_id}</td><td>{started_at}</td><td>{command}</td>" in table.group(1)


def test_the_timeline_has_its_lanes_and_one_span_per_tool_call(db: Path, report: str) -> None:
    found = lanes(run_sections(report)["tool_loop_two_requests"])
    assert list(found) == ["requests", "frames", "commands", "events", "tools"]  # no violations, no faults
    calls = [
        call
        for (call,) in rows(
            db,
            "SELECT data->>'$.tool_call_id' FROM events WHERE scenario = 'tool_loop_two_requests' "
            "AND type = 'tool_call.requested' ORDER BY sequence",
        )
    ]
    assert len(calls) == 2
    spans = re.findall(r"<rect [^>]*><title>(.*?)</title></rect>", found["tools"])
    assert len(spans) == len(calls)
    assert all(call in title for call, title in zip(calls, spans, strict=True))
    requests = rows(
        db,
        "SELECT count(*) FROM frames WHERE direction = 'outbound' AND transcript_id = "
        "(SELECT transcript_id FROM verdicts WHERE scenario = 'tool_loop_two_requests')",
    )[0][0]
    assert found["requests"].count("<circle") == requests
    commands = rows(
        db, "SELECT count(*) FROM events WHERE scenario = 'tool_loop_two_requests' AND type = 'command.accepted'"
    )[0][0]
    assert found["commands"].count("<circle") == commands


def test_a_recording_with_delays_is_drawn_on_the_logical_clock(report: str) -> None:
    timed = run_sections(report)["timed_anthropic_exchange_rate"]
    untimed = run_sections(report)["tool_loop_two_requests"]
    assert "logical clock (events.at_ms, ms)" in timed
    assert "event sequence" in untimed


def test_a_scenario_with_variants_has_no_timeline_of_its_own(report: str) -> None:
    runs = run_sections(report)
    assert '<svg class="timeline"' not in runs["parity_capital_uk"]
    assert '<svg class="timeline"' in runs["parity_capital_uk.anthropic"]


# -- the other pages ---------------------------------------------------------------------------------


def test_the_sweep_page_shows_the_latest_sweep(db: Path, report: str) -> None:
    sweep = sections(report)["sweep"]
    ((runs, passed, failed, vacuous),) = rows(
        db,
        "SELECT count(*), count(*) FILTER (WHERE verdict = 'pass'), count(*) FILTER (WHERE verdict = 'fail'), "
        "count(*) FILTER (WHERE verdict = 'vacuous') FROM sim_runs",
    )
    for name, value in (("runs", runs), ("passed", passed), ("failed", failed), ("vacuous", vacuous)):
        assert re.search(rf'id="sim-{name}">{value}<', sweep), name
    ((elapsed,),) = rows(
        db, "SELECT elapsed_ms FROM invocations WHERE kind = 'simulation' ORDER BY invocation DESC LIMIT 1"
    )
    assert f'id="sim-rate">{runs / (elapsed / 1000):.1f}<' in sweep
    for signature, reproduce in rows(db, "SELECT signature, reproduce FROM sim_groups"):
        assert f"<code>{signature}</code>" in sweep
        assert f'<pre class="cmd">{reproduce}</pre>' in sweep
    coverage = re.search(r'<table class="sim-faults">(.*?)</table>', sweep, re.S)
    assert coverage is not None
    kinds = [kind for (kind,) in rows(db, "SELECT DISTINCT kind FROM sim_faults ORDER BY kind")]
    assert re.findall(r'<td class="mono">[^<]*</td><td>([^<]+)</td>', coverage.group(1)) == kinds
    # stream_error fired in the failing run: one failing run.
    line = re.search(r"<td>stream_error</td>((?:<td[^>]*>\d+</td>)+)", coverage.group(1))
    assert line is not None
    assert re.findall(r">(\d+)<", line.group(1)) == ["1", "1", "1", "1"]


def test_the_sweep_page_draws_each_shrunk_run_from_sim_steps(db: Path, report: str) -> None:
    sweep = sections(report)["sweep"]
    figure = re.search(r'<h3 id="sim-run-1">.*?</figure>', sweep, re.S)
    assert figure is not None
    svg = figure.group(0)
    placed = rows(db, "SELECT lane, count(*) FROM sim_steps WHERE step IS NOT NULL GROUP BY lane ORDER BY lane")
    lanes = {"decision": "decisions", "exchange": "exchanges", "fault": "faults", "point": "points"}
    for lane, count in placed:
        marks = re.search(rf'data-lane="{lanes[str(lane)]}"(.*?)</g>', svg, re.S)
        assert marks is not None, lane
        assert marks.group(1).count("<circle") == count, lane
    assert "step 3 · stream_error@1.3" in svg
    assert "slow@2.2" not in svg  # a fault without a step is not placed


def test_a_database_without_a_sweep_says_so(tmp_path: Path, db: Path) -> None:
    plain = tmp_path / "harness.duckdb"
    shutil.copyfile(db, plain)
    with duckdb.connect(str(plain)) as conn:
        for table in ("sim_runs", "sim_faults", "sim_violations", "sim_groups"):
            conn.execute(f"DELETE FROM {table}")
    pages = sections(render_report(plain).decode("utf-8"))
    assert "No sweep in this database." in pages["sweep"]
    assert "No sweep in this database." in pages["overview"]
    assert '<table class="sim-faults">' not in pages["sweep"]


def test_unused_goldens_and_recorded_tests_are_listed(db: Path, report: str) -> None:
    pages = sections(report)
    unused = [path for (path,) in rows(db, "SELECT path FROM unused_goldens ORDER BY path")]
    assert re.findall(r"<li><code>([^<]+)</code></li>", pages["goldens"]) == unused
    tests = rows(db, "SELECT nodeid, status FROM test_summary")
    shown = re.findall(
        r'<tr data-test="([^"]+)"><td class="mono">[^<]*</td><td><span class="badge \w+">(\w+)<', pages["tests"]
    )
    assert shown == tests
    ((reproduce,),) = rows(db, "SELECT reproduce FROM tests WHERE status = 'failed'")
    assert htmllib.escape(reproduce, quote=False) in pages["tests"]


def test_no_unused_goldens_say_none(tmp_path: Path, db: Path) -> None:
    plain = tmp_path / "harness.duckdb"
    shutil.copyfile(db, plain)
    with duckdb.connect(str(plain)) as conn:
        conn.execute("DELETE FROM unused_goldens")
        conn.execute("DELETE FROM tests")
    pages = sections(render_report(plain).decode("utf-8"))
    assert "<p>None.</p>" in pages["goldens"]
    assert "tests" not in pages  # no recorded tests: no page, no nav link
    assert 'href="#tests"' not in render_report(plain).decode("utf-8")


# -- re-recording ---------------------------------------------------------------------------------


def test_the_rerecord_command_is_one_the_cli_accepts(report: str) -> None:
    from harness.cli import _parser

    section = run_sections(report)["tool_loop_two_requests"]
    command = re.search(r'<pre class="cmd rerecord">([^<]+)</pre>', section)
    assert command is not None
    words = shlex.split(htmllib.unescape(command.group(1)))
    assert words[:3] == ["harness", "record", "proxy"]
    args = _parser().parse_args(words[1:])
    assert args.upstream == "https://api.anthropic.com"
    assert args.protocol == "anthropic.messages"
    assert (
        str(args.out)
        == "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"
    )


@pytest.mark.parametrize(
    ("protocol", "metadata", "expected"),
    [
        ("openai.responses", {}, "harness record proxy --upstream https://api.openai.com --protocol openai.responses"),
        (
            "codex.app-server",
            {},
            "harness record exec -o t.ndjson --protocol codex.app-server --force -- codex app-server",
        ),
        (
            "claude-code.stream-json",
            {"command_line": "claude --output-format stream-json --verbose"},
            "--protocol claude-code.stream-json --force -- claude --output-format stream-json --verbose",
        ),
        ("codex.app-server", {"argv": '["app-server", "--listen", "stdio"]'}, "-- codex app-server --listen stdio"),
    ],
)
def test_rerecord_commands_per_protocol(protocol: str, metadata: dict[str, str], expected: str) -> None:
    from harness.cli import _parser

    made = rerecord_command(protocol, "t.ndjson", metadata)
    assert made.command is not None and expected in made.command
    args = _parser().parse_args(shlex.split(made.command)[1:])
    assert args.protocol == protocol and str(args.out) == "t.ndjson" and args.force


def test_what_cannot_be_rerecorded_says_what_is_needed() -> None:
    sdk = rerecord_command("claude-agent-sdk.query", "t.ndjson", {"generated_by": "recordClaudeAgentSdk"})
    assert sdk.command is None and "recordClaudeAgentSdk" in sdk.note
    assert rerecord_command("anthropic.messages", None, {}).command is None
    imported = rerecord_command("anthropic.messages", "t.ndjson", {"importer": "harness import", "source": "a.yaml"})
    assert ("harness import SOURCE -o t.ndjson --force") in [command for _, command in imported.alternatives]


# -- large suites -----------------------------------------------------------------------------------


def _top_rows(page: str) -> list[str]:
    return [
        name for name, variant in re.findall(r'<tr data-scenario="([^"]+)"( class="variant")?', page) if not variant
    ]


def test_more_than_a_page_of_scenarios_is_paged(tmp_path: Path, db: Path) -> None:
    big = _copies(db, tmp_path / "harness.duckdb", 246)  # 250 scenarios
    total = rows(big, "SELECT count(*) FROM verdicts WHERE variant_of IS NULL")[0][0]
    assert total == 250
    html = render_report(big).decode("utf-8")
    pages = sections(html)
    ids = ["scenarios", "scenarios-2", "scenarios-3"]
    assert [i for i in pages if i.startswith("scenarios")] == ids
    counts = [len(_top_rows(pages[i])) for i in ids]
    assert counts == [ROWS_PER_PAGE, ROWS_PER_PAGE, total - 2 * ROWS_PER_PAGE]
    for i in ids:  # every page links to the others
        assert all(f'href="#{other}"' in pages[i] for other in ids if other != i)
    # A copied scenario's link leads to its run section.
    assert 'href="#run-tool_loop_two_requests_copy246"' in pages["scenarios-3"]
    assert "run-tool_loop_two_requests_copy246" in pages


def test_a_thousand_scenarios_stay_small_and_draw_only_the_failing_timelines(tmp_path: Path, db: Path) -> None:
    big = _copies(db, tmp_path / "harness.duckdb", 996)
    assert rows(big, "SELECT count(*) FROM verdicts WHERE variant_of IS NULL")[0][0] == 1000
    data = render_report(big)
    assert len(data) < 3_000_000
    runs = run_sections(data.decode("utf-8"))
    assert len(runs) == 1000 + 2
    failing = {name for (name,) in rows(big, "SELECT scenario FROM verdicts WHERE status = 'failed'")}
    drawn = {name for name, section in runs.items() if '<svg class="timeline"' in section}
    assert drawn == failing
    passing = runs["tool_loop_two_requests_copy1"]
    assert "only failing scenarios get a timeline" in passing
    assert "harness query" in passing and "harness run scenarios/anthropic/tool_loop_two_requests.yaml" in passing


def test_a_long_event_log_is_capped_per_lane(tmp_path: Path, db: Path) -> None:
    long = tmp_path / "harness.duckdb"
    shutil.copyfile(db, long)
    with duckdb.connect(str(long)) as conn:  # 3,000 commands, each its own mark in the commands lane
        conn.execute(
            """
            INSERT INTO events
            SELECT 'tool_loop_two_requests', 1000 + range, 'event:x' || range, 'command.accepted', NULL, NULL, NULL,
                   2, '{"command_id": "c", "type": "message.dispatch"}'
            FROM range(3000)
            """
        )
    html = render_report(long).decode("utf-8")
    commands = lanes(run_sections(html)["tool_loop_two_requests"])["commands"]
    assert 0 < commands.count("<rect") + commands.count("<circle") <= 400
    assert "items merged to keep the file small" in commands


def test_every_chart_is_a_valid_vega_lite_specification(monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    # The report skips altair's validation for speed; the specifications it renders must pass it.
    from altair.utils.schemapi import validate_jsonschema
    from altair.vegalite.v6.schema.core import load_schema

    from harness.report import html

    specs: list[dict[str, Any]] = []
    real = html.chart_svg

    def capture(spec: dict[str, Any], scope: str, cache: dict[str, str] | None = None) -> str:
        specs.append(spec)
        return real(spec, scope, cache)

    monkeypatch.setattr(html, "chart_svg", capture)
    html.render_report(db)
    assert len(specs) >= 3  # the trend, the fault coverage, and the runs' token and latency charts
    schema = load_schema()
    for spec in specs:
        validate_jsonschema(spec, schema)
        assert spec["config"]["aria"] is False
