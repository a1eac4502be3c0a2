"""The ``harness_results`` fixture: an ordinary test's transcripts, events and verdict in the report.

Example::

    def test_my_orchestrator_tool_loop(harness_replay, harness_results, harness_golden):
        app = MyOrchestrator(transport=my_transport_for("transcripts/tool_loop.ndjson"))
        app.run("What is the weather in Paris?")
        harness_results.add_transcript("transcripts/tool_loop.ndjson")
        harness_results.assert_invariants(app.events, "tests/app_rules.toml")
        harness_golden.assert_match("app/tool_loop", app.events, normalization=APP_GOLDENS)

A test that asks for the fixture gets a row in the ``tests`` table of ``--harness-db`` and of
``--harness-report`` (and a section in ``summary.md`` when it fails): its verdict as pytest saw it
(passed, failed or skipped, with the failure text), the transcripts it recorded or replayed (with
``harness_cassette``, ``harness_runtime`` or ``harness_replay``), the event logs it recorded, the
rule violations found in them and the goldens it checked with ``harness_golden``. Everything is
kept as plain data, so an xdist worker ships it to the controller as is.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.core.event_log import concrete_path, json_event_log
from harness.core.event_rules import AnyEventRule, EventRules, check_event_rules, load_event_rules
from harness.core.events import StoredEvent
from harness.core.invariants import Violation
from harness.errors import UsageError
from harness.pytest_plugin.session import HarnessSession, display_path, fail_test, get_session
from harness.scenario import Execution
from harness.scenario.recorded import EventLog, RecordedTest
from harness.transcript import Transcript, read_transcript

RuleSource = EventRules | Sequence[AnyEventRule | Mapping[str, Any]] | Mapping[str, Any] | str | os.PathLike[str]


class HarnessResults:
    """The ``harness_results`` fixture: what this test records for the report and the DuckDB file.

    The verdict is recorded for you (from pytest's reports for setup, call and teardown). Relative
    paths are relative to the rootdir.
    """

    def __init__(self, session: HarnessSession, record: RecordedTest) -> None:
        self._session = session
        self.record = record

    def add_transcript(self, transcript: str | os.PathLike[str] | Transcript) -> None:
        """Record a transcript the test replayed (a path, or a :class:`Transcript` read from one).

        Transcripts replayed with ``harness_replay`` in the same test are recorded already.
        """
        __tracebackhide__ = True
        if isinstance(transcript, Transcript):
            if transcript.path is None:
                fail_test(
                    "harness_results.add_transcript: this transcript was built in memory and has no path; "
                    "write it with harness.write_transcript and record the file"
                )
            loaded, given = transcript, transcript.path
        else:
            given = os.fspath(transcript)
            try:
                loaded = read_transcript(self._path(given))
            except UsageError as exc:
                fail_test(f"harness_results.add_transcript({given!r}): {exc}")
        path = display_path(self._path(given), self._session.rootpath)
        # Keyed as the report names it, so the transcripts table and test_transcripts agree.
        self._session.note_transcript(dataclasses.replace(loaded, path=path))
        self.record.transcripts.append(path)

    def add_events(
        self,
        events: Execution | Iterable[StoredEvent] | Iterable[Mapping[str, Any]],
        *,
        log: str = "events",
        type_field: str = "$.type",
    ) -> list[dict[str, Any]]:
        """Record an event log under the name ``log``; returns it as plain JSON objects.

        ``events`` is any iterable of JSON-able mappings (your orchestrator's log), this harness's
        stored events, or an :class:`Execution` (its transcript is recorded too). ``type_field`` is
        where an event names its type (the ``type`` column of ``test_events``). A value that is
        not JSON fails the test naming the event index and JSON path.
        """
        __tracebackhide__ = True
        if log in self.record.logs:
            fail_test(
                f"harness_results.add_events: this test already recorded a log named {log!r}; "
                "pass log='...' to record another"
            )
        if isinstance(events, Execution):
            self.add_transcript(events.transcript)
            events = events.events
        try:
            concrete_path(type_field)
            plain = json_event_log(events)
        except UsageError as exc:
            fail_test(f"harness_results.add_events(log={log!r}): {exc}")
        self.record.logs[log] = EventLog(plain, type_field)
        return plain

    def add_violations(self, violations: Iterable[Violation], *, log: str = "events") -> None:
        """Record violations found in the log ``log`` (their ``sequence`` is an index into it)."""
        __tracebackhide__ = True
        for violation in violations:
            try:
                orjson.dumps(violation.to_json())
            except TypeError as exc:
                fail_test(
                    f"harness_results.add_violations: violation {violation.rule!r} holds a value that is not JSON "
                    f"({exc}); expected and found must be JSON"
                )
            self.record.violations.append((log, violation))

    def assert_invariants(
        self,
        events: Execution | Iterable[StoredEvent] | Iterable[Mapping[str, Any]],
        rules: RuleSource,
        *,
        log: str = "events",
    ) -> list[Violation]:
        """Record ``events`` as ``log``, check ``rules`` on it, record the violations, and fail the
        test when one has severity ``error``; returns the (warning) violations otherwise.

        ``rules`` is an :class:`~harness.core.event_rules.EventRules`, a list of rules or of
        their mapping form, the mapping form of a whole rule set, or a ``.toml``/``.yaml``/
        ``.json`` file relative to the rootdir. The rule set's ``type_field`` applies to the log.
        """
        __tracebackhide__ = True
        try:
            rule_set = self._rules(rules)
        except UsageError as exc:
            fail_test(f"harness_results.assert_invariants: {exc}")
        plain = self.add_events(events, log=log, type_field=rule_set.type_field)
        violations = check_event_rules(plain, rule_set)
        self.add_violations(violations, log=log)
        errors = [v for v in violations if v.severity == "error"]
        if errors:
            lines = [f"{len(errors)} rule violation{'s' if len(errors) != 1 else ''} in log {log!r}:"]
            for violation in errors:
                where = f"event {violation.sequence}" if violation.sequence is not None else "end of log"
                lines.append(f"  [{violation.rule}] {where}: {violation.message}")
            fail_test("\n".join(lines))
        return violations

    def _rules(self, rules: RuleSource) -> EventRules:
        if isinstance(rules, EventRules):
            return rules
        if isinstance(rules, (str, os.PathLike)):
            return load_event_rules(self._path(os.fspath(rules)))
        if isinstance(rules, Mapping):
            return load_event_rules(rules)
        return load_event_rules({"rules": list(rules)})

    def _path(self, given: str) -> Path:
        path = Path(given).expanduser()
        return Path(os.path.normpath(path if path.is_absolute() else self._session.rootpath / path))


def note_report(record: RecordedTest, report: pytest.TestReport) -> None:
    """Fold one phase's report into the test's verdict: the first failure wins, then a skip."""
    if report.failed:
        if record.status == "failed":
            return
        record.status = "failed"
        longrepr = report.longrepr
        crash = getattr(longrepr, "reprcrash", None)
        text = crash.message if crash is not None else str(longrepr or "")
        first = text.strip().splitlines()[0] if text.strip() else "failed"
        first = first.removeprefix("Failed: ")  # pytest.fail's own class name says nothing
        record.message = first if report.when == "call" else f"error at {report.when}: {first}"
        record.detail = report.longreprtext
    elif report.skipped and record.status == "passed":
        record.status = "skipped"
        reason = getattr(report, "wasxfail", None)
        if reason is not None:
            record.message = f"xfail: {reason}" if reason else "xfail"
        elif isinstance(report.longrepr, tuple):
            record.message = str(report.longrepr[2])
        else:
            record.message = str(report.longrepr or "skipped").strip().splitlines()[0]


@pytest.fixture
def harness_results(request: pytest.FixtureRequest) -> HarnessResults:
    """Record this test's transcripts, events, violations and verdict for the report and the DuckDB file."""
    session = get_session(request.config)
    return HarnessResults(session, session.start_recorded_test(request.node.nodeid))
