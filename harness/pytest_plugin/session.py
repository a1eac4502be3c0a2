"""Per-run plugin state: one :class:`HarnessSession` in ``config.stash``, never module globals.

The session collects what the end of the run needs: the :class:`ScenarioResult` of every scenario
item, the :class:`~harness.scenario.recorded.RecordedTest` of every test that used
``harness_results``, the transcripts that scenarios and the fixtures read, the goldens that
collected scenarios and the ``harness_golden`` fixture refer to, and enough about the selection
to decide whether "unused golden" means anything. Under pytest-xdist the workers ship a plain-data
summary (:meth:`HarnessSession.worker_payload`) to the controller, which merges it
(:meth:`HarnessSession.merge_worker_payload`) and rebuilds full results only when a report or a
DuckDB file was asked for (see :meth:`HarnessSession.materialize`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from harness.core.invariants import check_invariants
from harness.errors import HarnessError
from harness.golden import unused_goldens
from harness.scenario import ScenarioResult, execute, load_scenario
from harness.scenario.recorded import RecordedTest
from harness.scenario.runner import Failure
from harness.transcript import Transcript, read_transcript

DEFAULT_GOLDENS = Path("fixtures") / "goldens"
PAYLOAD_KEY = "harness"


#: Ini options that give a directory when the matching command-line option is not given.
GOLDENS_DIR_INI = "harness_goldens_dir"
TRANSCRIPTS_DIR_INI = "harness_transcripts_dir"
REPORTS_DIR_INI = "harness_reports_dir"


def resolve_option_path(config: pytest.Config, value: str | None, ini: str | None = None) -> Path | None:
    """A path from the command line, or else from the ini option ``ini``, relative to the rootdir.

    Never relative to the working directory: ``pytest`` started from a subdirectory must read
    and write the same goldens, transcripts and reports as ``pytest`` at the top.
    """
    if value is None and ini is not None:
        value = str(config.getini(ini) or "").strip() or None
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else config.rootpath / path


def fail_test(message: str) -> NoReturn:
    """Fail the running test with ``message`` alone: no traceback, no chained exception.

    ``pytest.fail`` inside an ``except`` block would print the caught harness error (with its
    absolute paths) as "During handling of the above exception" before the message.
    """
    __tracebackhide__ = True
    raise pytest.fail.Exception(message, pytrace=False) from None


def display_path(path: Path, rootpath: Path) -> str:
    """``path`` relative to the rootdir when it lies under it, in POSIX form; else as given."""
    try:
        return path.relative_to(rootpath).as_posix()
    except ValueError:
        return str(path)


@dataclass(frozen=True, slots=True)
class ScenarioSummary:
    """The verdict on one scenario item, as plain data that execnet can carry to the controller."""

    nodeid: str
    path: str
    failures: tuple[Failure, ...]
    golden_path: str | None
    golden_outcome: str | None

    @classmethod
    def from_result(cls, nodeid: str, path: Path, result: ScenarioResult) -> ScenarioSummary:
        return cls(
            nodeid=nodeid,
            path=str(path),
            failures=tuple(result.failures),
            golden_path=str(result.golden_path) if result.golden_path is not None else None,
            golden_outcome=result.golden_outcome,
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "path": self.path,
            "failures": [[f.kind, f.message, f.detail] for f in self.failures],
            "golden_path": self.golden_path,
            "golden_outcome": self.golden_outcome,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ScenarioSummary:
        return cls(
            nodeid=data["nodeid"],
            path=data["path"],
            failures=tuple(Failure(kind, message, detail) for kind, message, detail in data["failures"]),
            golden_path=data["golden_path"],
            golden_outcome=data["golden_outcome"],
        )


@dataclass(slots=True)
class HarnessSession:
    """Everything the plugin remembers during one pytest run."""

    rootpath: Path
    goldens_dir: Path
    update_goldens: bool = False
    #: Also write the goldens of replays that failed (``--harness-update-failed-goldens``).
    update_failed_goldens: bool = False
    seed: int | None = None
    report_dir: Path | None = None
    db_path: Path | None = None
    #: Where ``harness_cassette`` keeps each test's transcript (``harness_transcripts_dir``).
    transcripts_dir: Path = Path("transcripts")
    #: ``harness_cassette``'s record mode before the ``CI`` override (``--harness-record-mode``).
    record_mode: str = "none"
    #: Results of scenario items run in this process, by node id, in run order.
    results: dict[str, ScenarioResult] = field(default_factory=dict)
    #: Verdicts of scenario items that xdist workers ran, by node id.
    remote: dict[str, ScenarioSummary] = field(default_factory=dict)
    #: Every collected scenario item's golden file (``None`` when it has none), in collection order.
    scenario_goldens: dict[str, Path | None] = field(default_factory=dict)
    #: Goldens that ``harness_golden.assert_match`` checked.
    fixture_goldens: set[Path] = field(default_factory=set)
    #: Transcripts read in this process, by path.
    transcripts: dict[str, Transcript] = field(default_factory=dict)
    #: Transcript paths that workers' ``harness_replay`` calls read.
    remote_transcripts: set[str] = field(default_factory=set)
    #: Golden files written in this run, as (outcome, path) with outcome ``created`` or ``updated``.
    golden_writes: list[tuple[str, Path]] = field(default_factory=list)
    #: Goldens not written although goldens were being updated, as (path, why).
    golden_skips: list[tuple[Path, str]] = field(default_factory=list)
    #: Tests that use ``harness_results``, by node id: run here or shipped by xdist workers.
    recorded: dict[str, RecordedTest] = field(default_factory=dict)
    #: Collection position of every collected item, for ordering recorded tests.
    positions: dict[str, int] = field(default_factory=dict)
    deselected: int = 0
    collection_errors: int = 0
    #: xdist workers that went down without sending their payload (crashed or killed).
    silent_workers: int = 0
    #: Whether this run saw the whole scenario set; decided at session finish.
    whole_selection: bool = False
    unused: list[Path] = field(default_factory=list)
    #: Lines for the terminal summary (reports written, outputs skipped and why).
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: pytest.Config) -> HarnessSession:
        goldens = resolve_option_path(config, config.getoption("harness_goldens"), GOLDENS_DIR_INI)
        transcripts = resolve_option_path(config, None, TRANSCRIPTS_DIR_INI)
        update_failed = bool(config.getoption("harness_update_failed_goldens"))
        return cls(
            rootpath=config.rootpath,
            goldens_dir=goldens if goldens is not None else config.rootpath / DEFAULT_GOLDENS,
            # Writing failed replays' goldens is a kind of updating: asking for it implies updating.
            update_goldens=bool(config.getoption("harness_update_goldens")) or update_failed,
            update_failed_goldens=update_failed,
            seed=config.getoption("harness_seed"),
            report_dir=resolve_option_path(config, config.getoption("harness_report"), REPORTS_DIR_INI),
            db_path=resolve_option_path(config, config.getoption("harness_db")),
            transcripts_dir=transcripts if transcripts is not None else config.rootpath / "transcripts",
            record_mode=config.getoption("harness_record_mode") or str(config.getini("harness_record_mode")),
        )

    # -- recording, while the run goes on ---------------------------------------------------------

    def record_result(self, nodeid: str, result: ScenarioResult) -> None:
        self.results[nodeid] = result
        self.note_transcript(result.execution.transcript)
        self._note_golden_write(result.golden_outcome, result.golden_path)
        for checked in result.variants or [result]:
            if checked.golden_skipped is not None and checked.golden_path is not None:
                self.golden_skips.append((checked.golden_path, checked.golden_skipped))

    def note_transcript(self, transcript: Transcript) -> None:
        self.transcripts.setdefault(transcript.path or "", transcript)

    def note_fixture_golden(self, path: Path, outcome: str | None) -> None:
        self.fixture_goldens.add(path)
        self._note_golden_write(outcome, path)

    def _note_golden_write(self, outcome: str | None, path: Path | str | None) -> None:
        if outcome in ("created", "updated") and path is not None:
            self.golden_writes.append((outcome, Path(path)))

    def start_recorded_test(self, nodeid: str) -> RecordedTest:
        """The record of a test that asked for ``harness_results`` (one per test run)."""
        record = RecordedTest(nodeid=nodeid, position=self.positions.get(nodeid, len(self.positions)))
        self.recorded[nodeid] = record
        return record

    def recorded_tests(self) -> list[RecordedTest]:
        """Every recorded test, in collection order (the node id breaks ties)."""
        return sorted(self.recorded.values(), key=lambda t: (t.position, t.nodeid))

    # -- xdist ------------------------------------------------------------------------------------

    def worker_payload(self) -> dict[str, Any]:
        """What a worker sends to the controller through ``config.workeroutput``."""
        return {
            "scenarios": [
                ScenarioSummary.from_result(nodeid, Path(result.scenario.source or ""), result).to_wire()
                for nodeid, result in self.results.items()
            ],
            "scenario_goldens": {k: str(v) if v is not None else None for k, v in self.scenario_goldens.items()},
            "fixture_goldens": sorted(str(p) for p in self.fixture_goldens),
            "fixture_golden_writes": [
                [outcome, str(path)] for outcome, path in self.golden_writes if path in self.fixture_goldens
            ],
            "transcripts": sorted(self.transcripts),
            "deselected": self.deselected,
            "collection_errors": self.collection_errors,
            "tests": [test.to_wire() for test in self.recorded.values()],
            "golden_skips": [[str(path), why] for path, why in self.golden_skips],
        }

    def merge_worker_payload(self, payload: dict[str, Any] | None) -> None:
        """Fold one worker's payload into the controller's session; ``None`` marks a silent worker."""
        if payload is None:
            self.silent_workers += 1
            return
        for wire in payload["scenarios"]:
            summary = ScenarioSummary.from_wire(wire)
            self.remote[summary.nodeid] = summary
            self._note_golden_write(summary.golden_outcome, summary.golden_path)
        self.golden_skips.extend((Path(path), why) for path, why in payload["golden_skips"])
        for wire in payload["tests"]:
            test = RecordedTest.from_wire(wire)
            self.recorded[test.nodeid] = test
            self.remote_transcripts.update(test.transcripts)
        # Every worker collects the whole selection, so these agree across workers.
        for nodeid, golden in payload["scenario_goldens"].items():
            self.scenario_goldens.setdefault(nodeid, Path(golden) if golden is not None else None)
        self.fixture_goldens.update(Path(p) for p in payload["fixture_goldens"])
        for outcome, path in payload["fixture_golden_writes"]:
            self._note_golden_write(outcome, path)
        self.remote_transcripts.update(payload["transcripts"])
        self.deselected = max(self.deselected, payload["deselected"])
        self.collection_errors = max(self.collection_errors, payload["collection_errors"])

    # -- session finish ---------------------------------------------------------------------------

    def decide_whole_selection(self, config: pytest.Config, session: pytest.Session, exitstatus: int) -> bool:
        """Whether this run saw every scenario and every test, so "unused golden" is meaningful.

        The rule (documented in docs/pytest.md): no paths or node ids on the command line (pytest
        fell back to ``testpaths`` or the invocation directory), nothing deselected (``-k``, ``-m``,
        ``--deselect``, ``--lf``), no collection errors, the run was not stopped early (``-x``,
        ``--maxfail``, Ctrl-C), and under xdist every worker reported back.
        """
        stopped = bool(session.shouldstop or session.shouldfail) or exitstatus == pytest.ExitCode.INTERRUPTED
        self.whole_selection = (
            config.args_source != pytest.Config.ArgsSource.ARGS
            and not self.deselected
            and not self.collection_errors
            and not bool(config.getoption("lf", False))
            and not stopped
            and not self.silent_workers
        )
        return self.whole_selection

    def find_unused_goldens(self) -> list[Path]:
        used = [p for p in self.scenario_goldens.values() if p is not None]
        self.unused = unused_goldens(self.goldens_dir, [*used, *self.fixture_goldens])
        return self.unused

    def materialize(self) -> tuple[list[ScenarioResult], list[Transcript]]:
        """Full results and transcripts for the report writers, in collection order.

        Results that xdist workers produced are rebuilt here: the replay is re-executed on the
        controller (replays are deterministic and fast) while the verdict -- failures, golden path
        and outcome -- is the one the worker reached, so a golden the worker created still reads
        ``created`` and nothing is judged twice.
        """
        results: list[ScenarioResult] = []
        order = list(self.scenario_goldens) + [
            k for k in [*self.results, *self.remote] if k not in self.scenario_goldens
        ]
        for nodeid in order:
            if nodeid in self.results:
                results.append(self.results[nodeid])
            elif nodeid in self.remote:
                rebuilt = self._rebuild(self.remote[nodeid])
                if rebuilt is not None:
                    results.append(rebuilt)
        for path in sorted(self.remote_transcripts - set(self.transcripts)):
            try:
                self.note_transcript(read_transcript(path))
            except (HarnessError, OSError) as exc:
                self.notes.append(f"could not re-read transcript {path} for the report: {exc}")
        return results, [self.transcripts[k] for k in sorted(self.transcripts)]

    def _rebuild(self, summary: ScenarioSummary) -> ScenarioResult | None:
        try:
            scenario = load_scenario(summary.path)
            if scenario.variants:
                # A provider-neutral scenario: re-execute each variant; the verdict stays the worker's.
                variants = []
                for name in scenario.variants:
                    variant = execute(scenario.for_variant(name), seed=self.seed)
                    self.note_transcript(variant.transcript)
                    variants.append(
                        ScenarioResult(execution=variant, invariant_violations=check_invariants(variant.events))
                    )
                return ScenarioResult(
                    execution=variants[0].execution,
                    failures=list(summary.failures),
                    variants=variants,
                    declared=scenario,
                )
            execution = execute(scenario, seed=self.seed)
        except (HarnessError, OSError) as exc:
            self.notes.append(f"could not re-execute {summary.nodeid} for the report: {exc}")
            return None
        self.note_transcript(execution.transcript)
        return ScenarioResult(
            execution=execution,
            failures=list(summary.failures),
            invariant_violations=check_invariants(execution.events),
            golden_path=Path(summary.golden_path) if summary.golden_path is not None else None,
            golden_outcome=summary.golden_outcome,
        )


SESSION_KEY = pytest.StashKey[HarnessSession]()


def get_session(config: pytest.Config) -> HarnessSession:
    """The run's :class:`HarnessSession` (created in ``pytest_configure``)."""
    return config.stash[SESSION_KEY]
