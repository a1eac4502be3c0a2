"""Write the report directory: per-scenario event logs, the DuckDB file and ``summary.md``.

Layout of ``report_dir``::

    events/<scenario>.ndjson   the full event log of one scenario, one StoredEvent per line
    test-events/<test>.<log>.ndjson
                               an event log a test recorded (harness_results), one event per line
    harness.duckdb             the analysis database (harness.analysis.build_database)
    summary.md                 rendered from queries on harness.duckdb (render_summary)

Every file is written atomically by :mod:`harness.files` (a temporary file, then a rename; the
user's umask; a one-line :class:`~harness.errors.OutputError` when the directory cannot be
written), and every byte is a function of the inputs: running the same scenarios twice gives
identical files.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

from harness.analysis import DatabaseSummary, Invocation, build_database
from harness.core.events import StoredEvent
from harness.errors import UsageError
from harness.files import AtomicWriter, make_dirs, remove, write_atomic
from harness.report.summary import render_summary
from harness.scenario.recorded import RecordedTest
from harness.scenario.runner import ScenarioResult
from harness.transcript import Transcript

DATABASE_NAME = "harness.duckdb"
SUMMARY_NAME = "summary.md"
HTML_NAME = "index.html"
JUNIT_NAME = "junit.xml"
EVENTS_DIR = "events"
TEST_EVENTS_DIR = "test-events"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class ReportPaths:
    """Where :func:`write_reports` put everything, and what went into the database."""

    report_dir: Path
    summary: Path
    database: Path
    html: Path
    junit: Path
    events_dir: Path
    event_logs: tuple[Path, ...]
    database_summary: DatabaseSummary


def write_html_and_junit(report_dir: Path, database: Path) -> tuple[Path, Path]:
    """``index.html`` and ``junit.xml`` in ``report_dir``, rendered from ``database`` alone."""
    from harness.report.html import render_report
    from harness.report.junit import render_junit

    html, junit = report_dir / HTML_NAME, report_dir / JUNIT_NAME
    write_atomic(html, render_report(database), force=True)
    write_atomic(junit, render_junit(database), force=True)
    return html, junit


def event_log_name(scenario: str) -> str:
    """The file name of a scenario's event log: the name with anything unsafe in a path as ``_``.

    >>> event_log_name("tool loop/two requests")
    'tool_loop_two_requests.ndjson'
    """
    return _UNSAFE.sub("_", scenario) + ".ndjson"


def event_log_lines(events: Iterable[StoredEvent]) -> Iterator[bytes]:
    """An event log as NDJSON lines: one ``StoredEvent.to_json()`` per line, keys sorted."""
    option = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
    for event in events:
        yield orjson.dumps(event.to_json(), option=option)


def event_log_bytes(events: Iterable[StoredEvent]) -> bytes:
    """An event log as NDJSON (:func:`event_log_lines`, joined)."""
    return b"".join(event_log_lines(events))


def distinct_safe_names(names: Mapping[K, tuple[str, str]]) -> dict[K, str]:
    """Per key, its text (``names[key][0]``) with anything but ``[A-Za-z0-9._-]`` as ``_``; two
    keys whose safe texts coincide both get ``-`` and the first 8 hex digits of the SHA-1 of their
    identity (``names[key][1]``) appended. File names and the report's anchors are made so.

    >>> distinct_safe_names({1: ("tool loop", "a"), 2: ("tool_loop", "b"), 3: ("x.y", "c")})
    {1: 'tool_loop-86f7e437', 2: 'tool_loop-e9d71f5e', 3: 'x.y'}
    """
    safe = {key: _UNSAFE.sub("_", text) for key, (text, _) in names.items()}
    counts = Counter(safe.values())
    return {
        key: stem if counts[stem] == 1 else f"{stem}-{hashlib.sha1(names[key][1].encode()).hexdigest()[:8]}"
        for key, stem in safe.items()
    }


def recorded_log_names(tests: Sequence[RecordedTest]) -> dict[tuple[str, str], str]:
    """The file name of every recorded test's every log: ``<node id>.<log>.ndjson`` made safe.

    Two logs whose safe names collide (node ids differing only in characters a file name cannot
    hold) get the first 8 hex digits of the SHA-1 of ``<node id>::<log>`` appended.

    >>> from harness.scenario.recorded import EventLog, RecordedTest
    >>> recorded_log_names([RecordedTest("tests/test_a.py::test_x[1]", logs={"events": EventLog([])})])
    {('tests/test_a.py::test_x[1]', 'events'): 'tests_test_a.py__test_x_1_.events.ndjson'}
    """
    stems = {(t.nodeid, log): (f"{t.nodeid}.{log}", f"{t.nodeid}::{log}") for t in tests for log in t.logs}
    return {key: stem + ".ndjson" for key, stem in distinct_safe_names(stems).items()}


def _json_lines(events: Sequence[dict[str, Any]]) -> bytes:
    option = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
    return b"".join(orjson.dumps(event, option=option) for event in events)


def _replace_logs(directory: Path, logs: dict[str, bytes]) -> list[Path]:
    """Write ``logs`` (file name -> bytes) into ``directory`` and remove every other ``*.ndjson``."""
    make_dirs(directory)
    written = []
    for name, content in logs.items():
        write_atomic(directory / name, content, force=True)
        written.append(directory / name)
    for stale in sorted(directory.glob("*.ndjson")):
        if stale.name not in logs:
            remove(stale)
    return written


def write_reports(
    report_dir: Path,
    *,
    results: Sequence[ScenarioResult],
    transcripts: Sequence[Transcript],
    unused_goldens: Sequence[Path] = (),
    tests: Sequence[RecordedTest] = (),
    invocation: Invocation | None = None,
) -> ReportPaths:
    """Write event logs, ``harness.duckdb`` and ``summary.md`` under ``report_dir``.

    Event logs of scenarios not in ``results`` are removed from ``events/``, and logs of tests not
    in ``tests`` from ``test-events/``, so the directory always describes one run. Raises
    :class:`UsageError` when two scenarios would share an event-log file.

    >>> paths = write_reports(Path("reports"), results=suite.results, transcripts=suite.transcripts)  # doctest: +SKIP
    >>> paths.summary  # doctest: +SKIP
    PosixPath('reports/summary.md')
    """
    report_dir = Path(report_dir)
    events_dir = report_dir / EVENTS_DIR
    make_dirs(events_dir)
    written: dict[str, str] = {}
    logs: list[Path] = []
    for scenario_name, execution in (item for result in results for item in result.executions()):
        name = event_log_name(scenario_name)
        if name in written:
            raise UsageError(
                f"scenarios {written[name]!r} and {scenario_name!r} would both write {events_dir / name}; "
                "give them distinct names"
            )
        written[name] = scenario_name
        path = events_dir / name
        with AtomicWriter(path, force=True) as out:  # event by event: a long log is never held whole
            for line in event_log_lines(execution.iter_events()):
                out.write(line)
        logs.append(path)
    for stale in sorted(events_dir.glob("*.ndjson")):
        if stale.name not in written:
            remove(stale)
    test_events_dir = report_dir / TEST_EVENTS_DIR
    if tests or test_events_dir.is_dir():
        names = recorded_log_names(tests)
        logs.extend(
            _replace_logs(
                test_events_dir,
                {names[(t.nodeid, name)]: _json_lines(log.events) for t in tests for name, log in t.logs.items()},
            )
        )
    database = report_dir / DATABASE_NAME
    database_summary = build_database(
        database,
        transcripts=transcripts,
        results=results,
        unused_goldens=unused_goldens,
        tests=tests,
        invocation=invocation,
    )
    summary = report_dir / SUMMARY_NAME
    write_atomic(summary, render_summary(database).encode("utf-8"), force=True)
    html, junit = write_html_and_junit(report_dir, database)
    return ReportPaths(
        report_dir=report_dir,
        summary=summary,
        database=database,
        html=html,
        junit=junit,
        events_dir=events_dir,
        event_logs=tuple(logs),
        database_summary=database_summary,
    )
