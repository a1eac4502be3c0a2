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
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import ValidationError

from harness.core.events import StoredEvent
from harness.errors import GoldenMismatch, GoldenMissing, UsageError
from harness.golden import check_golden, dump_golden, normalize_events
from harness.golden.files import GoldenOutcome
from harness.pytest_plugin.session import HarnessSession, display_path, get_session
from harness.scenario import Execution, Scenario, execute, load_scenario, scenario_for_transcript
from harness.scenario.model import SCENARIO_SUFFIXES
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

    def __init__(self, session: HarnessSession) -> None:
        self._session = session

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
            pytest.fail(f"harness_replay({os.fspath(path)!r}): {exc}", pytrace=False)

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
    ``--harness-goldens DIR``. A golden checked here counts as used for the unused-golden report.
    """

    def __init__(self, session: HarnessSession) -> None:
        self._session = session

    def path_for(self, name: str) -> Path:
        """Where the golden called ``name`` lives; ``name`` may contain ``/`` for subfolders."""
        __tracebackhide__ = True
        filename = name if name.endswith(".ndjson") else f"{name}.ndjson"
        goldens = self._session.goldens_dir
        path = goldens / filename
        if not name or Path(name).is_absolute() or not path.resolve().is_relative_to(goldens.resolve()):
            pytest.fail(f"harness_golden: golden name {name!r} must be a relative path inside {goldens}", pytrace=False)
        return path

    def assert_match(
        self,
        name: str,
        events: Iterable[StoredEvent] | Execution,
        *,
        deltas: Literal["coalesced", "full"] = "coalesced",
    ) -> GoldenOutcome:
        """Normalize ``events`` and compare them with the golden ``name``; fail the test on a mismatch.

        Returns ``"matched"``, or ``"created"``/``"updated"`` under ``--harness-update-goldens``.
        """
        __tracebackhide__ = True
        path = self.path_for(name)
        if isinstance(events, Execution):
            events = events.events
        stem = name.removesuffix(".ndjson")
        content = dump_golden(stem, normalize_events(events, deltas=deltas), deltas=deltas)
        where = display_path(path, self._session.rootpath)
        try:
            outcome = check_golden(path, content, update=self._session.update_goldens)
        except GoldenMissing as exc:
            self._session.note_fixture_golden(path, None)
            pytest.fail(str(exc).replace(str(path), where), pytrace=False)
        except GoldenMismatch as exc:
            self._session.note_fixture_golden(path, None)
            message = str(exc).replace(str(path), where)
            pytest.fail(f"golden {where} does not match:\n{message}\n\n{exc.diff}", pytrace=False)
        self._session.note_fixture_golden(path, outcome)
        return outcome


@pytest.fixture
def harness_replay(request: pytest.FixtureRequest) -> HarnessReplay:
    """Replay a transcript or a scenario file and return the :class:`~harness.scenario.Execution`."""
    return HarnessReplay(get_session(request.config))


@pytest.fixture
def harness_golden(request: pytest.FixtureRequest) -> HarnessGolden:
    """Check an event log against a golden file, honouring ``--harness-update-goldens``."""
    return HarnessGolden(get_session(request.config))
