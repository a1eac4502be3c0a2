"""render_junit: JUnit XML from the DuckDB file, for CI test reporters; deterministic, always valid XML."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from harness.analysis import build_database, query
from harness.errors import UsageError
from harness.report.junit import render_junit
from harness.scenario import Failure, ScenarioResult, run_suite
from harness.scenario.recorded import RecordedTest

ROOT = Path(__file__).resolve().parents[2]
TOOL_LOOP = "scenarios/anthropic/tool_loop_two_requests.yaml"
PARITY = "scenarios/parity/parity_capital_france.yaml"  # a scenario with three variants
BROKEN = "tool_loop_broken"
TESTS = [
    RecordedTest("tests/test_app.py::test_ok", position=1),
    RecordedTest(
        "tests/test_app.py::TestDesk::test_rate[usd-eur]",
        position=2,
        status="failed",
        message="AssertionError: assert 0.5 == 0.92",
        detail="    def test_rate():\n>       assert rate == 0.92\nE       AssertionError: assert 0.5 == 0.92",
    ),
    RecordedTest("tests/test_app.py::test_db", position=3, status="failed", message="error at setup: no database"),
    RecordedTest("tests/test_other.py::test_live", position=4, status="skipped", message="needs the network"),
]


@dataclasses.dataclass(frozen=True)
class Built:
    db: Path
    results: list[ScenarioResult]
    directory: Path


def broken_copy(directory: Path) -> Path:
    """tool_loop_two_requests with another tool output: the second request differs from the
    recording (a replay failure, then expectations), and it has no golden (golden_missing)."""
    declared = yaml.safe_load((ROOT / TOOL_LOOP).read_text(encoding="utf-8"))
    transcript = (ROOT / TOOL_LOOP).parent / declared["transcript"]
    declared |= {"name": BROKEN, "transcript": str(transcript.resolve())}
    declared["tools"]["get_exchange_rate"]["output"] = "1 USD = 0.50 EUR"
    path = directory / "broken.yaml"
    path.write_text(yaml.safe_dump(declared), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A database of real replays: two passing scenarios (one with variants), one failing, and
    four recorded tests (passed, failed, failed at setup, skipped)."""
    directory = tmp_path_factory.mktemp("junit")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        suite = run_suite([Path(TOOL_LOOP), Path(PARITY), broken_copy(directory)])
        db = directory / "harness.duckdb"
        build_database(db, transcripts=suite.transcripts, results=suite.results, tests=TESTS)
    return Built(db, suite.results, directory)


@pytest.fixture(scope="module")
def root(built: Built) -> ET.Element:
    return ET.fromstring(render_junit(built.db))


def suite(root: ET.Element, name: str) -> ET.Element:
    (found,) = [s for s in root.findall("testsuite") if s.get("name") == name]
    return found


def counts(element: ET.Element) -> tuple[int, int, int, int]:
    tests, failures, errors, skipped = (int(element.get(k, "-1")) for k in ("tests", "failures", "errors", "skipped"))
    return tests, failures, errors, skipped


def test_scenario_suite_has_one_testcase_per_scenario_in_run_order(built: Built, root: ET.Element) -> None:
    rows = query(
        built.db,
        "SELECT scenario, protocol, scenario_path FROM verdicts WHERE variant_of IS NULL ORDER BY position",
    ).rows
    cases = suite(root, "harness.scenarios").findall("testcase")
    assert [(c.get("name"), c.get("classname"), c.get("file")) for c in cases] == rows
    assert len(rows) == 3  # tool_loop_two_requests, the broken copy, parity_capital_france (its variants are in it)
    names = {c.get("name") for c in cases}
    assert not any(str(name).startswith("parity_capital_france.") for name in names)


def test_counts_on_each_suite_and_on_testsuites_add_up(root: ET.Element) -> None:
    assert counts(suite(root, "harness.scenarios")) == (3, 1, 0, 0)
    assert counts(suite(root, "harness.tests")) == (4, 1, 1, 1)
    assert counts(root) == (7, 2, 1, 1)
    assert root.tag == "testsuites"
    assert [s.get("name") for s in root.findall("testsuite")] == ["harness.scenarios", "harness.tests"]


def test_only_the_failed_verdict_has_a_failure(root: ET.Element) -> None:
    failed = [
        c.get("name") for c in suite(root, "harness.scenarios").findall("testcase") if c.find("failure") is not None
    ]
    assert failed == [BROKEN]


def test_failure_message_and_type_are_the_first_failure(built: Built, root: ET.Element) -> None:
    first = query(built.db, f"SELECT message, kind FROM failures WHERE scenario = '{BROKEN}' AND ordinal = 1").rows
    (case,) = [c for c in suite(root, "harness.scenarios").findall("testcase") if c.get("name") == BROKEN]
    failure = case.find("failure")
    assert failure is not None
    assert [(failure.get("message"), failure.get("type"))] == first
    assert failure.get("type") == "replay"


def test_failure_text_lists_every_failure_and_the_reproduce_command(built: Built, root: ET.Element) -> None:
    rows = query(
        built.db, f"SELECT ordinal, kind, message FROM failures WHERE scenario = '{BROKEN}' ORDER BY ordinal"
    ).rows
    assert {kind for _, kind, _ in rows} >= {"replay", "expectation", "golden_missing"}
    (case,) = [c for c in suite(root, "harness.scenarios").findall("testcase") if c.get("name") == BROKEN]
    text = case.findtext("failure") or ""
    for ordinal, kind, message in rows:
        assert f"{ordinal}. [{kind}] {message}\n" in text
    (reproduce,) = query(built.db, f"SELECT reproduce FROM verdicts WHERE scenario = '{BROKEN}'").rows[0]
    assert text.endswith(f"\nreproduce: {reproduce}\n")


def test_recorded_tests_are_named_as_pytest_names_them(root: ET.Element) -> None:
    cases = suite(root, "harness.tests").findall("testcase")
    assert [(c.get("classname"), c.get("name"), c.get("file")) for c in cases] == [
        ("tests.test_app", "test_ok", "tests/test_app.py"),
        ("tests.test_app.TestDesk", "test_rate[usd-eur]", "tests/test_app.py"),
        ("tests.test_app", "test_db", "tests/test_app.py"),
        ("tests.test_other", "test_live", "tests/test_other.py"),
    ]


def test_recorded_test_outcomes_are_failure_error_and_skipped(root: ET.Element) -> None:
    ok, failed, setup, skipped = suite(root, "harness.tests").findall("testcase")
    assert list(ok) == []
    failure = failed.find("failure")
    assert failure is not None and failure.get("message") == "AssertionError: assert 0.5 == 0.92"
    assert "E       AssertionError" in (failure.text or "")
    assert (failure.text or "").endswith("reproduce: pytest 'tests/test_app.py::TestDesk::test_rate[usd-eur]'\n")
    error = setup.find("error")
    assert error is not None and (error.get("type"), error.get("message")) == ("setup", "error at setup: no database")
    skip = skipped.find("skipped")
    assert skip is not None and skip.get("message") == "needs the network"


def test_without_recorded_tests_there_is_no_tests_suite(built: Built, tmp_path: Path) -> None:
    db = tmp_path / "no-tests.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        build_database(db, results=built.results)
    root = ET.fromstring(render_junit(db))
    assert [s.get("name") for s in root.findall("testsuite")] == ["harness.scenarios"]
    assert counts(root) == (3, 1, 0, 0)


def test_two_renders_of_one_database_are_identical_bytes(built: Built) -> None:
    assert render_junit(built.db) == render_junit(built.db)


def test_a_rebuilt_database_renders_the_same_bytes(built: Built, tmp_path: Path) -> None:
    again = tmp_path / "again.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        build_database(again, results=built.results, tests=TESTS)
    assert render_junit(again) == render_junit(built.db)


def test_no_timestamps_host_names_or_times(root: ET.Element) -> None:
    attributes = {name for element in root.iter() for name in element.attrib}
    assert attributes.isdisjoint({"timestamp", "hostname", "time"})


def test_control_characters_are_dropped_and_the_xml_still_parses(built: Built, tmp_path: Path) -> None:
    result = next(r for r in built.results if r.scenario.name == BROKEN)
    noisy = Failure("expectation", "ansi \x1b[31mred\x1b[0m nul \x00 bell \x07 end", "line \x0b one\nline two \ufffe")
    db = tmp_path / "noisy.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        build_database(db, results=[dataclasses.replace(result, failures=[noisy])])
    xml = render_junit(db)
    failure = ET.fromstring(xml).find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == "ansi [31mred[0m nul  bell  end"
    assert "1. [expectation] ansi [31mred[0m nul  bell  end\n    line  one\n    line two \n" in (failure.text or "")


def test_a_missing_database_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such database"):
        render_junit(tmp_path / "nothing.duckdb")
