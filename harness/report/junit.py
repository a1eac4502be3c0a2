"""Render JUnit XML from the analysis database, for CI test reporters (Jenkins, GitLab, GitHub).

The XML is built only from named queries on the DuckDB file (never from Python objects), with
:mod:`xml.etree.ElementTree`, so it agrees with ``summary.md`` and ``harness query``. It holds no
timestamps, durations or host names: the same database renders the same bytes.

Shape (the de-facto schema CI reporters read)::

    <testsuites name="harness" tests= failures= errors= skipped=>
      <testsuite name="harness.scenarios" ...>     one <testcase> per scenario (variants are covered by theirs)
      <testsuite name="harness.tests" ...>         one <testcase> per row of tests (only when there are any)
    </testsuites>
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.analysis import query_many
from harness.analysis.db import require_schema

#: Every scenario, in the order the results were given. A variant is not a test case of its own:
#: its scenario's verdict covers it (its failures are the scenario's, prefixed ``[variant]``), so
#: the count of test cases is the count of scenarios that summary.md and ``harness run`` report.
JUNIT_VERDICTS_SQL = """
SELECT scenario, scenario_path, protocol, status, reproduce
FROM verdicts
WHERE variant_of IS NULL
ORDER BY position
"""

#: Every failure of every verdict, in run order and then the order the runner found them.
JUNIT_FAILURES_SQL = """
SELECT f.scenario, f.kind, f.message, f.detail
FROM failures AS f
JOIN verdicts AS v USING (scenario)
ORDER BY v.position, f.ordinal
"""

#: Recorded pytest tests, in collection order.
JUNIT_TESTS_SQL = """
SELECT nodeid, path, status, message, detail, reproduce
FROM tests
ORDER BY position
"""

JUNIT_QUERIES: tuple[str, ...] = (JUNIT_VERDICTS_SQL, JUNIT_FAILURES_SQL, JUNIT_TESTS_SQL)

SCENARIO_SUITE = "harness.scenarios"
TEST_SUITE = "harness.tests"

#: Characters XML 1.0 cannot carry at all (not even as character references): C0 controls other
#: than tab, newline and carriage return, lone surrogates, U+FFFE and U+FFFF.
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

#: tests.message prefixes of a test that broke outside its call (docs/analysis.md, ``tests``):
#: JUnit calls those errors, as pytest's own junitxml does.
_ERROR_PREFIXES = {"error at setup: ": "setup", "error at teardown: ": "teardown"}


def xml_text(value: object) -> str:
    """``value`` as text XML can hold: ``None`` is ``''`` and XML-invalid characters are dropped."""
    if value is None:
        return ""
    return _XML_INVALID.sub("", str(value))


@dataclass(slots=True)
class _Suite:
    element: ET.Element
    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0

    def count(self, outcome: str) -> None:
        self.tests += 1
        if outcome == "failure":
            self.failures += 1
        elif outcome == "error":
            self.errors += 1
        elif outcome == "skipped":
            self.skipped += 1


def _element(parent: ET.Element, tag: str, text: str | None = None, **attributes: object) -> ET.Element:
    """A child of ``parent``; attributes whose value is ``None`` are left out."""
    child = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attributes.items() if v is not None})
    if text is not None:
        child.text = xml_text(text)
    return child


def _suite(root: ET.Element, name: str) -> _Suite:
    return _Suite(_element(root, "testsuite", name=name))


def failure_text(failures: Sequence[tuple[str, str, str]], reproduce: str) -> str:
    """The body of a scenario's ``<failure>``: every failure (kind, message, indented detail), then
    the command that reruns the scenario."""
    lines: list[str] = []
    for number, (kind, message, detail) in enumerate(failures, start=1):
        lines.append(f"{number}. [{kind}] {message}")
        if detail:
            # newlines only: str.splitlines would also break at form feeds and the like
            lines.extend(f"    {line}" if line else "" for line in xml_text(detail).rstrip("\n").split("\n"))
    if not failures:
        lines.append("failed without a recorded failure")
    lines += ["", f"reproduce: {reproduce}"]
    return "\n".join(lines) + "\n"


def _scenario_cases(
    suite: _Suite, verdicts: Sequence[tuple[Any, ...]], failures: dict[str, list[tuple[str, str, str]]]
) -> None:
    for scenario, scenario_path, protocol, status, reproduce in verdicts:
        case = _element(suite.element, "testcase", classname=protocol, name=scenario, file=scenario_path)
        if status != "failed":
            suite.count("passed")
            continue
        found = failures.get(scenario, [])
        kind, message = (found[0][0], found[0][1]) if found else ("failed", f"{scenario} failed")
        _element(case, "failure", failure_text(found, reproduce), message=message, type=kind)
        suite.count("failure")


def pytest_names(nodeid: str) -> tuple[str, str]:
    """``(classname, name)`` of a pytest node id, as pytest's own junitxml spells them:
    ``tests/test_app.py::TestX::test_y[1]`` -> ``("tests.test_app.TestX", "test_y[1]")``."""
    path, *names = nodeid.split("::")
    module = path.removesuffix(".py").replace("/", ".").replace("\\", ".")
    if not names:
        return module, nodeid
    return ".".join([module, *names[:-1]]), names[-1]


def _test_cases(suite: _Suite, tests: Sequence[tuple[Any, ...]]) -> None:
    for nodeid, path, status, message, detail, reproduce in tests:
        classname, name = pytest_names(nodeid)
        case = _element(suite.element, "testcase", classname=classname, name=name, file=path)
        if status == "skipped":
            _element(case, "skipped", message=message or "skipped")
            suite.count("skipped")
        elif status == "failed":
            text = f"{detail.rstrip()}\n\nreproduce: {reproduce}\n" if detail else f"reproduce: {reproduce}\n"
            line = message or f"{nodeid} failed"
            phase = next((p for prefix, p in _ERROR_PREFIXES.items() if line.startswith(prefix)), None)
            if phase is None:
                _element(case, "failure", text, message=line)
                suite.count("failure")
            else:
                _element(case, "error", text, message=line, type=phase)
                suite.count("error")
        else:
            suite.count("passed")


def _set_counts(element: ET.Element, tests: int, failures: int, errors: int, skipped: int) -> None:
    element.set("tests", str(tests))
    element.set("failures", str(failures))
    element.set("errors", str(errors))
    element.set("skipped", str(skipped))


def render_junit(db_path: Path) -> bytes:
    """JUnit XML of the database at ``db_path``: a ``harness.scenarios`` suite with a testcase per
    verdict (classname: its protocol; name: the scenario; ``file``: the scenario file) and, when
    tests recorded themselves, a ``harness.tests`` suite with a testcase per recorded test.

    A failed verdict's ``<failure>`` has the first failure's message and kind as ``message`` and
    ``type``, and lists every failure and the reproduce command in its text. Characters XML cannot
    hold are dropped. Raises :class:`~harness.errors.UsageError` when the file is missing or is not
    an analysis database.
    """
    require_schema(db_path)
    verdicts_result, failures_result, tests_result = query_many(db_path, JUNIT_QUERIES)
    failures: dict[str, list[tuple[str, str, str]]] = {}
    for scenario, kind, message, detail in failures_result.rows:
        failures.setdefault(scenario, []).append((kind, message, detail or ""))
    root = ET.Element("testsuites", {"name": "harness"})
    suites = [_suite(root, SCENARIO_SUITE)]
    _scenario_cases(suites[0], verdicts_result.rows, failures)
    if tests_result.rows:
        suites.append(_suite(root, TEST_SUITE))
        _test_cases(suites[1], tests_result.rows)
    for suite in suites:
        _set_counts(suite.element, suite.tests, suite.failures, suite.errors, suite.skipped)
    _set_counts(
        root,
        sum(s.tests for s in suites),
        sum(s.failures for s in suites),
        sum(s.errors for s in suites),
        sum(s.skipped for s in suites),
    )
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
