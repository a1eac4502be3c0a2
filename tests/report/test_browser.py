"""The HTML report in a real browser: headless Chromium (Debian's, driven by Playwright) opens the
file, nothing errs and nothing is fetched, the overview, a run's timeline and the charts are drawn,
and a link leads to a run section. Screenshots go to reports/screenshots/.

Skipped only where no Chromium is installed and CI is not set: in CI a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.analysis import Invocation, build_database, build_simulation_database
from harness.report.html import render_report
from harness.scenario import load_scenario, run_scenario

ROOT = Path(__file__).resolve().parents[2]
GOLDENS = ROOT / "fixtures" / "goldens"
SCREENSHOTS = ROOT / "reports" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file() and not os.environ.get("CI"),
    reason="no chromium installed (apt-get install chromium); required when CI is set",
)


def _build(directory: Path) -> Path:
    """A passing tool loop, a scenario whose golden differs, one with variants, one with timings, and a sweep."""
    broken = directory / "goldens"
    broken.mkdir()
    golden = (GOLDENS / "plain_text.ndjson").read_text(encoding="utf-8")
    (broken / "plain_text.ndjson").write_text(golden.replace("just the number.", "only the number."), encoding="utf-8")
    db = directory / "harness.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        results = [
            run_scenario(load_scenario(Path("scenarios/anthropic/tool_loop_two_requests.yaml")), goldens_dir=GOLDENS),
            run_scenario(load_scenario(Path("scenarios/anthropic/plain_text.yaml")), goldens_dir=broken),
            run_scenario(load_scenario(Path("scenarios/parity/parity_capital_uk.yaml")), goldens_dir=GOLDENS),
            run_scenario(load_scenario(Path("scenarios/timed/anthropic_exchange_rate.yaml")), goldens_dir=GOLDENS),
        ]
        for hour in ("09", "10", "11"):
            build_database(db, results=results, invocation=Invocation("harness run", f"2026-12-04T{hour}:00:00Z"))
    runs = [
        {
            "seed": seed,
            "plan": plan,
            "policy": "random",
            "schedule": "",
            "decisions": 0,
            "verdict": verdict,
            "signature": "sim.replay.diverged" if verdict == "fail" else "",
            "digest": f"{seed:064x}",
            "faults": [{"fault": plan, "fired": verdict != "vacuous"}],
            "steps": 50,
            "virtual_ms": 120,
            "outcome": "ok",
            "violations": [{"rule": "sim.replay.diverged", "message": "entries left unserved", "at": None}]
            if verdict == "fail"
            else [],
        }
        for seed, plan, verdict in (
            (0, "reset@1.4", "pass"),
            (1, "stream_error@1.3", "fail"),
            (2, "truncate@2.5", "vacuous"),
            (3, "slow@1.2:ms=40", "pass"),
        )
    ]
    groups = [
        {
            "signature": "sim.replay.diverged",
            "runs": 1,
            "first_seed": 1,
            "message": "entries left unserved",
            "reproduce": "harness simulate scenarios/anthropic/tool_loop_two_requests.yaml --seed 1 "
            "--plan stream_error@1.3 --policy fifo",
        }
    ]
    build_simulation_database(
        db,
        target="scenarios/anthropic/tool_loop_two_requests.yaml",
        runs=runs,
        groups=groups,
        invocation=Invocation("harness simulate", "2026-12-04T12:00:00Z", elapsed_ms=400),
    )
    return db


@dataclass
class Browser:
    page: Any
    url: str
    chromium: Any = None
    problems: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    directory = tmp_path_factory.mktemp("browser")
    report = directory / "index.html"
    report.write_bytes(render_report(_build(directory)))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            state = _open(chromium, report.as_uri())
            state.page.goto(state.url, wait_until="load")
            yield state
        finally:
            chromium.close()


def _open(chromium: Any, url: str) -> Browser:
    """A new page that notes every console error, page error, failed request and request."""
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    state = Browser(page, url, chromium)
    page.on(
        "console",
        lambda message: (
            state.problems.append(f"console {message.type}: {message.text}")
            if message.type in ("error", "assert")
            else None
        ),
    )
    page.on("pageerror", lambda error: state.problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: state.problems.append(f"request failed: {request.url}"))
    page.on("request", lambda request: state.requests.append(request.url))
    return state


def _visible_box(locator: Any) -> dict[str, float]:
    assert locator.is_visible()
    box = locator.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0, box
    return dict(box)


def _clean(browser: Browser) -> None:
    assert browser.problems == []
    # Nothing but the file itself was ever requested: the report needs no network.
    assert {url.partition("#")[0] for url in browser.requests} == {browser.url}


def test_the_overview_renders_without_errors(browser: Browser) -> None:
    page = browser.page
    page.goto(browser.url, wait_until="load")
    _visible_box(page.locator("#overview"))
    assert page.locator("#count-scenarios").inner_text() == "4"
    assert page.locator("#count-failed").inner_text() == "1"
    _visible_box(page.locator("#overview table.matrix.variants"))
    _visible_box(page.locator("#overview figure.chart.trend svg"))
    assert page.locator("#overview figure.chart.trend svg path, #overview figure.chart.trend svg rect").count() > 0
    assert not page.locator("#scenarios").is_visible()  # other pages stay hidden
    assert not page.locator("#sweep").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "overview.png"))
    _clean(browser)


def test_a_link_leads_to_a_run_section_with_its_timeline_and_chart(browser: Browser) -> None:
    page = browser.page
    page.goto(browser.url, wait_until="load")
    page.locator("header nav a", has_text="Scenarios").click()
    _visible_box(page.locator("#scenarios table.scenarios"))
    assert not page.locator("#overview").is_visible()
    page.locator("#scenarios a[href='#run-tool_loop_two_requests']").click()
    assert page.evaluate("location.hash") == "#run-tool_loop_two_requests"
    section = page.locator("#run-tool_loop_two_requests")
    _visible_box(section)
    assert not page.locator("#overview").is_visible()
    timeline = section.locator("svg.timeline")
    _visible_box(timeline)
    lanes = timeline.locator("g.lane")
    assert [lanes.nth(i).get_attribute("data-lane") for i in range(lanes.count())] == [
        "requests",
        "frames",
        "commands",
        "events",
        "tools",
    ]
    for i in range(lanes.count()):
        _visible_box(lanes.nth(i))
    spans = timeline.locator("g.lane[data-lane='tools'] rect")
    assert spans.count() == 2
    for i in range(spans.count()):
        _visible_box(spans.nth(i))
    _visible_box(section.locator("figure.chart.usage svg"))
    page.screenshot(path=str(SCREENSHOTS / "run.png"))
    _clean(browser)


def test_a_failing_run_shows_its_divergence(browser: Browser) -> None:
    page = browser.page
    page.goto(browser.url, wait_until="load")
    page.locator("#overview ul.failing a", has_text="plain_text").click()
    section = page.locator("#run-plain_text")
    _visible_box(section.locator(".divergence pre.diff"))
    assert section.locator(".divergence pre.diff").inner_text().startswith("--- golden")
    _clean(browser)


def test_the_sweep_page_renders(browser: Browser) -> None:
    page = browser.page
    page.goto(browser.url, wait_until="load")
    page.locator("header nav a", has_text="Sweep").click()
    sweep = page.locator("#sweep")
    _visible_box(sweep)
    assert page.locator("#sim-runs").inner_text() == "4"
    _visible_box(sweep.locator("figure.chart.faults svg"))
    _visible_box(sweep.locator("table.sim-groups"))
    page.screenshot(path=str(SCREENSHOTS / "sweep.png"))
    _clean(browser)


def test_the_report_harness_run_writes_for_the_bundled_scenarios(browser: Browser, tmp_path: Path) -> None:
    """What a new user opens first: `harness run` on every bundled scenario, then reports/index.html."""
    reports = tmp_path / "reports"
    subprocess.run(
        [sys.executable, "-m", "harness", "run", "--report-dir", str(reports)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    report = reports / "index.html"
    opened = _open(browser.chromium, report.as_uri())
    page = opened.page
    try:
        page.goto(opened.url, wait_until="load")
        _visible_box(page.locator("#overview"))
        scenarios = len(list((ROOT / "scenarios").rglob("*.yaml")))
        assert page.locator("#count-scenarios").inner_text() == str(scenarios)
        _visible_box(page.locator("#overview figure.chart.trend svg"))
        page.screenshot(path=str(SCREENSHOTS / "bundled-overview.png"))
        page.goto(opened.url + "#run-timed_anthropic_exchange_rate", wait_until="load")
        section = page.locator("#run-timed_anthropic_exchange_rate")
        _visible_box(section.locator("svg.timeline"))
        _visible_box(section.locator("figure.chart.usage svg"))
        page.screenshot(path=str(SCREENSHOTS / "bundled-run.png"))
    finally:
        page.close()
    _clean(opened)
