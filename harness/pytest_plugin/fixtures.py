"""Fixtures for ordinary tests: ``harness_replay`` replays, ``harness_golden`` checks goldens.

Example::

    def test_plain_text(harness_replay, harness_golden):
        execution = harness_replay("transcripts/anthropic/pydantic-ai-cassettes/anthropic__plain_text_stream.ndjson")
        assert execution.runs[-1]["status"] == "completed"
        harness_golden.assert_match("plain_text_from_test", execution.events)

Relative paths are relative to the rootdir, so a test does not depend on the working directory.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import ValidationError

from harness.core.events import StoredEvent
from harness.errors import EventLogError, GoldenError, GoldenMismatch, GoldenMissing, UsageError
from harness.golden import (
    TEST_OWNER,
    GoldenNormalization,
    check_golden,
    dump_golden,
    normalize_events,
    normalize_mappings,
)
from harness.golden.files import GoldenOutcome, golden_path_inside
from harness.pytest_plugin.session import HarnessSession, display_path, fail_test, get_session
from harness.scenario import Execution, Scenario, execute, load_scenario, scenario_for_transcript
from harness.scenario.model import SCENARIO_SUFFIXES
from harness.scenario.recorded import GoldenCheck
from harness.transcript import Transcript, read_transcript
from harness.transcript.io import format_validation_error


class HarnessReplay:
    """The ``harness_replay`` fixture: ``replay(path, **overrides) -> Execution``.

    ``path`` is a transcript (``.ndjson``, replayed with the scenario it implies, see
    :func:`~harness.scenario.scenario_for_transcript`) or a scenario file (``.yaml``, ``.yml``,
    ``.toml``), relative to the rootdir. ``overrides`` replace top-level
    :class:`~harness.scenario.Scenario` fields (``commands``, ``tools``, ``request``, ``seed``, ...)
    and are validated like the file format; a replacement ``transcript`` is relative to the
    scenario file, or to the rootdir when replaying a bare transcript.
    The replay is not judged: inspect ``execution.runs``, ``execution.events`` and
    ``execution.driver.failure`` yourself, or hand the events to ``harness_golden``.
    """

    def __init__(self, session: HarnessSession, nodeid: str = "") -> None:
        self._session = session
        self._nodeid = nodeid

    def __call__(self, path: str | os.PathLike[str], /, **overrides: Any) -> Execution:
        __tracebackhide__ = True
        # Relative paths are taken from the rootdir, and kept relative: the transcript path can
        # reach the event log (error messages), so it is spelled as `harness replay` would
        # spell it from the repository root, whatever the working directory of the test run.
        try:
            with contextlib.chdir(self._session.rootpath):
                return self._replay(Path(path), overrides)
        except UsageError as exc:
            # The caller's input is wrong; the harness frames behind it would only be noise.
            fail_test(f"harness_replay({os.fspath(path)!r}): {exc}")

    def _replay(self, target: Path, overrides: dict[str, Any]) -> Execution:
        transcript: Transcript | None = None
        if target.suffix in SCENARIO_SUFFIXES:
            scenario = load_scenario(target)
        else:
            transcript = read_transcript(target)
            scenario = scenario_for_transcript(transcript, path=str(target))
        if overrides:
            scenario = self._override(scenario, overrides)
            if "transcript" in overrides:
                transcript = None
        # An explicit ``seed=`` override wins over --harness-seed; otherwise the option, if given.
        seed = None if "seed" in overrides else self._session.seed
        execution = execute(scenario, transcript=transcript, seed=seed)
        self._session.note_transcript(execution.transcript)
        record = self._session.recorded.get(self._nodeid)
        if record is not None and execution.transcript.path is not None:
            record.transcripts.append(Path(os.path.normpath(execution.transcript.path)).as_posix())
        return execution

    def _override(self, scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
        data = {**scenario.model_dump(), **overrides, "source": scenario.source}
        try:
            return Scenario.model_validate(data)
        except ValidationError as exc:
            raise UsageError(f"invalid override: {format_validation_error(exc)}") from None


class HarnessGolden:
    """The ``harness_golden`` fixture: check an event log against ``<goldens dir>/<name>.ndjson``.

    Honours ``--harness-update-goldens`` (create or refresh instead of failing) and
    ``--harness-goldens DIR``. A golden checked here counts as used for the unused-golden report,
    and its header says ``"owner": "test"`` so ``harness goldens update --prune`` keeps it. In a
    test that uses ``harness_results`` every check is recorded with its outcome.
    """

    def __init__(self, session: HarnessSession, nodeid: str = "") -> None:
        self._session = session
        self._nodeid = nodeid

    def path_for(self, name: str) -> Path:
        """Where the golden called ``name`` lives; ``name`` may contain ``/`` for subfolders."""
        __tracebackhide__ = True
        filename = name if name.endswith(".ndjson") else f"{name}.ndjson"
        goldens = self._session.goldens_dir
        path = golden_path_inside(goldens, filename) if name else None
        if path is None:
            fail_test(f"harness_golden: golden name {name!r} must be a relative path inside {goldens}")
        return path

    def assert_match(
        self,
        name: str,
        events: Execution | Iterable[StoredEvent] | Iterable[Mapping[str, Any]],
        *,
        deltas: Literal["coalesced", "full"] = "coalesced",
        normalization: GoldenNormalization | None = None,
    ) -> GoldenOutcome:
        """Normalize ``events`` and compare them with the golden ``name``; fail the test on a mismatch.

        ``events`` is an :class:`Execution`, this harness's stored events (normalized as scenario
        goldens are, with ``deltas``), or any iterable of JSON-able mappings -- your own
        orchestrator's log -- normalized as ``normalization`` declares
        (:class:`~harness.golden.GoldenNormalization`: volatile paths, id placeholders, delta
        coalescing). A declaration given with stored events applies after the built-in one.
        Returns ``"matched"``, or ``"created"``/``"updated"`` under ``--harness-update-goldens``.
        The golden of an :class:`Execution` whose replay failed is not written unless
        ``--harness-update-failed-goldens`` is given.

        >>> harness_golden.assert_match(  # doctest: +SKIP
        ...     "my_app/tool_loop", my_app.events, normalization=GoldenNormalization(volatile=["$.ts"])
        ... )
        'matched'
        """
        __tracebackhide__ = True
        path = self.path_for(name)
        failed_replay = None
        if isinstance(events, Execution):
            failed_replay = events.driver.failure
            events = events.events
        log = list(events)
        stem = name.removesuffix(".ndjson")
        try:
            content = _golden_content(stem, log, deltas=deltas, normalization=normalization)
        except UsageError as exc:
            fail_test(f"harness_golden.assert_match({name!r}): {exc}")
        where = display_path(path, self._session.rootpath)
        update = self._session.update_goldens
        skip = update and failed_replay is not None and not self._session.update_failed_goldens
        type_field = normalization.type_field if normalization is not None else "$.type"
        try:
            outcome = check_golden(path, content, update=update and not skip, type_field=type_field)
        except GoldenError as exc:
            self._note(path, None, "differs")
            fail_test(f"harness_golden.assert_match({name!r}): {str(exc).replace(str(path), where)}")
        except (GoldenMissing, GoldenMismatch) as exc:
            if skip:
                self._note(path, None, "skipped")
                self._session.golden_skips.append((path, "the replay failed, so the event log is not one to keep"))
                fail_test(
                    f"golden {where} not written: the replay failed ({failed_replay}). Fix the replay, or "
                    "pass --harness-update-failed-goldens to write it anyway."
                )
            if isinstance(exc, GoldenMissing):
                self._note(path, None, "missing")
                fail_test(str(exc).replace(str(path), where))
            self._note(path, None, "differs")
            message = str(exc).replace(str(path), where)
            if exc.divergence.index == -1 and exc.divergence.json_path == "$.owner":
                message += (
                    ' (goldens written by harness_golden now carry "owner": "test" in their header, so that '
                    "`harness goldens update --prune` keeps them; rewrite this one once with --harness-update-goldens)"
                )
            fail_test(f"golden {where} does not match:\n{message}\n\n{exc.diff}")
        self._note(path, outcome, outcome)
        return outcome

    def _note(self, path: Path, outcome: str | None, check: GoldenCheck) -> None:
        self._session.note_fixture_golden(path, outcome)
        record = self._session.recorded.get(self._nodeid)
        if record is not None:
            record.goldens.append((display_path(path, self._session.rootpath), check))


def _golden_content(
    stem: str,
    log: list[Any],
    *,
    deltas: Literal["coalesced", "full"],
    normalization: GoldenNormalization | None,
) -> bytes:
    """The golden bytes of a stored-event log (today's format) or of a log of plain mappings."""
    stored = isinstance(log[0], StoredEvent) if log else normalization is None
    if stored:
        for index, event in enumerate(log):
            if not isinstance(event, StoredEvent):
                raise EventLogError(
                    f"{type(event).__name__} value {event!r:.60} in a log of StoredEvents (event 0 is one); "
                    "hand over one kind of log",
                    index=index,
                )
        records = normalize_events(log, deltas=deltas)
        if normalization is not None:
            records = normalize_mappings(records, normalization)
        return dump_golden(stem, records, deltas=deltas, owner=TEST_OWNER)
    if deltas != "coalesced":
        raise UsageError(
            "deltas= applies to this harness's own stored events; for your own events declare the delta "
            "types to merge in GoldenNormalization(coalesce=[...])"
        )
    return dump_golden(stem, normalize_mappings(log, normalization), deltas=None, owner=TEST_OWNER)


@pytest.fixture
def harness_replay(request: pytest.FixtureRequest) -> HarnessReplay:
    """Replay a transcript or a scenario file and return the :class:`~harness.scenario.Execution`."""
    return HarnessReplay(get_session(request.config), request.node.nodeid)


@pytest.fixture
def harness_golden(request: pytest.FixtureRequest) -> HarnessGolden:
    """Check an event log against a golden file, honouring ``--harness-update-goldens``."""
    return HarnessGolden(get_session(request.config), request.node.nodeid)
