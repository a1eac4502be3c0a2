"""The replay-harness pytest plugin (entry point ``pytest11: harness``).

* Scenario files under a ``scenarios`` directory become test items, one per file, named after
  the scenario (:mod:`harness.pytest_plugin.collect`).
* Fixtures ``harness_replay`` and ``harness_golden`` for ordinary tests
  (:mod:`harness.pytest_plugin.fixtures`), and ``harness_results``, which puts a test's own
  transcripts, event logs, violations and verdict into the report and the DuckDB file
  (:mod:`harness.pytest_plugin.results`).
* At the end of the run: unused goldens in the terminal summary, and the report and DuckDB file
  when asked for (:mod:`harness.pytest_plugin.outputs`).

Every option lives in the ``harness`` group with a ``--harness-`` prefix; per-run state is one
:class:`~harness.pytest_plugin.session.HarnessSession` in ``config.stash``; xdist hooks are
registered only when pytest-xdist is installed (:mod:`harness.pytest_plugin.xdist`). See
``docs/pytest.md``.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from harness.pytest_plugin.cassette import MARKER_HELP, harness_cassette, harness_runtime
from harness.pytest_plugin.collect import (
    SCENARIO_DIRS_INI,
    ScenarioFailed,
    ScenarioFile,
    ScenarioItem,
    is_scenario_file,
)
from harness.pytest_plugin.fixtures import HarnessGolden, HarnessReplay, harness_golden, harness_replay
from harness.pytest_plugin.outputs import write_outputs
from harness.pytest_plugin.results import HarnessResults, harness_results, note_report
from harness.pytest_plugin.session import (
    GOLDENS_DIR_INI,
    REPORTS_DIR_INI,
    SESSION_KEY,
    TRANSCRIPTS_DIR_INI,
    HarnessSession,
    display_path,
    get_session,
)
from harness.pytest_plugin.simulate import MARKER_HELP as SIMULATE_MARKER_HELP
from harness.pytest_plugin.simulate import HarnessSimulate, harness_simulate
from harness.pytest_plugin.xdist import XdistHooks, is_worker, send_to_controller
from harness.record.modes import RECORD_MODES

__all__ = [
    "HarnessGolden",
    "HarnessReplay",
    "HarnessResults",
    "HarnessSession",
    "HarnessSimulate",
    "ScenarioFailed",
    "ScenarioFile",
    "ScenarioItem",
    "get_session",
    "harness_cassette",
    "harness_golden",
    "harness_replay",
    "harness_results",
    "harness_runtime",
    "harness_simulate",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "replay-harness scenarios and goldens")
    group.addoption(
        "--harness-update-goldens",
        action="store_true",
        default=False,
        dest="harness_update_goldens",
        help="Create missing golden files and rewrite differing ones instead of failing "
        "(not for scenarios whose replay failed).",
    )
    group.addoption(
        "--harness-update-failed-goldens",
        action="store_true",
        default=False,
        dest="harness_update_failed_goldens",
        help="Like --harness-update-goldens, and also write the goldens of scenarios whose replay failed.",
    )
    group.addoption(
        "--harness-goldens",
        metavar="DIR",
        default=None,
        dest="harness_goldens",
        help="Directory of golden files, relative to the rootdir (default: the harness_goldens_dir ini "
        "option, else fixtures/goldens).",
    )
    group.addoption(
        "--harness-seed",
        metavar="N",
        type=int,
        default=None,
        dest="harness_seed",
        help="Seed for generated ids in every replay (default: each scenario's own seed).",
    )
    group.addoption(
        "--harness-report",
        metavar="DIR",
        default=None,
        dest="harness_report",
        help="Write the report (scenarios and recorded tests) into DIR, relative to the rootdir, at the end "
        "of the run (default: the harness_reports_dir ini option, else no report).",
    )
    group.addoption(
        "--harness-db",
        metavar="PATH",
        default=None,
        dest="harness_db",
        help="Build the DuckDB analysis database at PATH, relative to the rootdir, at the end of the run.",
    )
    group.addoption(
        "--harness-record-mode",
        choices=RECORD_MODES,
        default=None,
        dest="harness_record_mode",
        help="Record mode of harness_cassette: none (replay only; the default, and forced when CI is set), "
        "once (record a missing transcript), new_episodes (replay, then record new requests), all (re-record).",
    )
    group.addoption(
        "--harness-sim-seeds",
        default=None,
        dest="harness_sim_seeds",
        metavar="A..B",
        help="Seeds the harness_simulate fixture sweeps, overriding every harness_simulate marker (e.g. 0..999).",
    )
    parser.addini(
        "harness_record_mode",
        default="none",
        help="Default record mode of harness_cassette (none, once, new_episodes, all).",
    )
    parser.addini(
        TRANSCRIPTS_DIR_INI,
        default="transcripts",
        help="Directory, relative to the rootdir, of the transcripts harness_cassette replays and records.",
    )
    parser.addini(
        GOLDENS_DIR_INI,
        default="",
        help="Directory of golden files, relative to the rootdir (default fixtures/goldens); "
        "--harness-goldens overrides it.",
    )
    parser.addini(
        REPORTS_DIR_INI,
        default="",
        help="Write the report into this directory, relative to the rootdir, after every run "
        "(default: none); --harness-report overrides it.",
    )
    parser.addini(
        SCENARIO_DIRS_INI,
        type="linelist",
        default=["scenarios"],
        help="Directory names whose *.yaml/*.yml/*.toml files are collected as harness scenarios.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    config.addinivalue_line("markers", SIMULATE_MARKER_HELP)
    session = HarnessSession.from_config(config)
    config.stash[SESSION_KEY] = session
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(session), "harness-xdist")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    if is_scenario_file(file_path, parent.config):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    state = get_session(session.config)
    # Nothing has run yet, so every failure counted so far is a collection error.
    state.collection_errors = session.testsfailed
    for position, item in enumerate(session.items):
        state.positions[item.nodeid] = position
        if isinstance(item, ScenarioItem):
            state.scenario_goldens[item.nodeid] = item.golden_path()
            # A provider-neutral scenario keeps one golden per variant; they count as used too.
            for variant in item.scenario.variants:
                name = item.scenario.for_variant(variant).golden_name()
                if name is not None:
                    state.scenario_goldens[f"{item.nodeid}::{variant}"] = state.goldens_dir / name


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A test that uses ``harness_results`` gets pytest's verdict on each phase recorded."""
    report = yield
    record = get_session(item.config).recorded.get(item.nodeid)
    if record is not None:
        note_report(record, report)
    return report


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        get_session(items[0].config).deselected += len(items)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = get_session(config)
    if is_worker(config):
        send_to_controller(config, state)
        return
    if config.option.collectonly:
        # Goldens asserted by harness_golden are only known once tests run.
        return
    if state.decide_whole_selection(config, session, exitstatus):
        state.find_unused_goldens()
    if not write_outputs(state) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.USAGE_ERROR


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if is_worker(config):
        return
    state = get_session(config)
    lines: list[str] = []
    for outcome, path in sorted(set(state.golden_writes), key=lambda w: (w[1], w[0])):
        lines.append(f"golden {outcome}: {display_path(path, state.rootpath)}")
    for path, why in sorted(set(state.golden_skips)):
        lines.append(
            f"golden skipped: {display_path(path, state.rootpath)} ({why}; pass --harness-update-failed-goldens "
            "to write it anyway)"
        )
    if state.unused:
        count = len(state.unused)
        lines.append(
            f"{count} unused golden file{'s' if count != 1 else ''} in "
            f"{display_path(state.goldens_dir, state.rootpath)} (no collected scenario or harness_golden "
            "call refers to them; delete them or point a scenario's expect.golden at them):"
        )
        lines.extend(f"  {display_path(path, state.rootpath)}" for path in state.unused)
    elif not state.whole_selection and config.get_verbosity() > 0:
        lines.append("unused goldens not checked: this run did not cover the whole test set")
    lines.extend(state.notes)
    if lines:
        terminalreporter.write_sep("-", "harness")
        for line in lines:
            terminalreporter.write_line(line)
