"""Run many scenarios: discovery, the per-scenario loop and what the reports need."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.defaults import DEFAULT_GOLDENS, DEFAULT_SCENARIOS
from harness.errors import UsageError
from harness.golden import TEST_OWNER, golden_owner, unused_goldens
from harness.scenario.model import discover_scenarios, load_scenario
from harness.scenario.runner import ScenarioResult, check_golden_paths, run_scenario
from harness.transcript import Transcript, read_transcript


@dataclass(slots=True)
class SuiteResult:
    """The verdicts of a suite, plus every transcript involved and goldens nobody used."""

    results: list[ScenarioResult] = field(default_factory=list)
    transcripts: list[Transcript] = field(default_factory=list)
    unused_goldens: list[Path] = field(default_factory=list)
    #: Goldens no scenario uses whose header says ``"owner": "test"`` (written by
    #: ``harness_golden.assert_match``): only a test run knows whether they are used, so they are
    #: never counted as unused here, and ``harness goldens update --prune`` keeps them.
    test_goldens: list[Path] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> list[ScenarioResult]:
        return [r for r in self.results if not r.passed]


def _relative(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def run_suite(
    paths: Sequence[Path] = (),
    *,
    goldens_dir: Path = DEFAULT_GOLDENS,
    update_goldens: bool = False,
    seed: int | None = None,
    transcripts_dir: Path | None = None,
    on_start: Callable[[int], None] | None = None,
    on_result: Callable[[ScenarioResult], None] | None = None,
    update_failed: bool = False,
) -> SuiteResult:
    """Load and run every scenario under ``paths`` (default ``scenarios/``), in sorted order.

    Unused goldens are reported only when the whole default scenario set ran; with explicit
    paths the run is a subset and "unused" would be meaningless. ``transcripts_dir`` adds every
    transcript under it to :attr:`SuiteResult.transcripts` (for the DuckDB file), used or not
    (regular files only), and is a directory scenario files may name transcripts in even when it
    lies outside their project (see :func:`~harness.scenario.model.allowed_transcript_roots`).
    A scenario whose golden would lie outside ``goldens_dir`` is refused before any runs.
    ``update_failed`` also writes the goldens of replays that failed (see :func:`run_scenario`).
    """
    whole_suite = not paths
    files = discover_scenarios([_relative(p) for p in (paths or [DEFAULT_SCENARIOS])])
    # A --transcripts-dir the user gave is where transcripts may live too (see load_scenario).
    roots = [transcripts_dir] if transcripts_dir is not None else []
    scenarios = [load_scenario(f, transcript_roots=roots) for f in files]
    names: dict[str, str | None] = {}
    for scenario in scenarios:
        if scenario.name in names:
            raise UsageError(
                f"{scenario.source}: scenario name {scenario.name!r} is already used by {names[scenario.name]}; "
                "names must be unique because they name golden files and reports"
            )
        names[scenario.name] = scenario.source
        check_golden_paths(scenario, goldens_dir)  # nothing runs, nothing is written, if one would escape
    suite = SuiteResult()
    if on_start:
        on_start(len(scenarios))
    for scenario in scenarios:
        result = run_scenario(
            scenario, goldens_dir=goldens_dir, update_goldens=update_goldens, seed=seed, update_failed=update_failed
        )
        suite.results.append(result)
        if on_result:
            on_result(result)
    seen: dict[str, Transcript] = {}
    for result in suite.results:
        for _, execution in result.executions():
            transcript = execution.transcript
            seen.setdefault(str(_relative(Path(transcript.path or ""))), transcript)
    if transcripts_dir is not None and transcripts_dir.is_dir():
        for path in sorted(transcripts_dir.rglob("*.ndjson")):
            if not path.is_file():  # a directory, FIFO or device named *.ndjson is no transcript
                continue
            key = str(_relative(path))
            if key not in seen:
                seen[key] = read_transcript(key)
    suite.transcripts = [seen[k] for k in sorted(seen)]
    if whole_suite:
        used = [path for r in suite.results for path in r.golden_paths]
        unused = unused_goldens(goldens_dir, used)
        suite.unused_goldens = [p for p in unused if golden_owner(p) != TEST_OWNER]
        suite.test_goldens = [p for p in unused if golden_owner(p) == TEST_OWNER]
    return suite
