"""Fuzz every bundled transcript through the public entry points; each outcome must be explained.

Every example takes one real transcript (all six protocols), applies one mutation (see
``mutations.py``) and runs it through reading, linting, the replay, the ``--json`` summary, the
golden writer and the DuckDB rows. The outcome must be one of:

* an error of the harness (:class:`~harness.errors.HarnessError`) whose message names the file
  and a line or a JSON path, or
* an accepted replay; and when the mutation changed the JSON type of a value inside a frame and
  the replay is clean (no error, no protocol violation, no lint finding), what the responses mean
  (text, tool calls, stop reasons, usage, status) is what the unmutated recording means: a
  malformed value is never dropped without a word.

The budget is small and derandomized in CI; set ``HARNESS_FUZZ_EXAMPLES`` for a longer, randomized
campaign (docs/transcripts.md, "Fuzzing").
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.adapters import is_runtime_protocol
from harness.analysis.rows import collect_rows
from harness.cli import main
from harness.errors import HarnessError
from harness.scenario.model import load_scenario
from harness.scenario.runner import replay_summary, run_scenario, scenario_for_transcript
from harness.transcript import parse_transcript
from harness.transcript.lint import lint_transcript
from tests.conftest import ROOT
from tests.fuzz.mutations import Mutation, mutations, retypes

FUZZ_EXAMPLES = int(os.environ.get("HARNESS_FUZZ_EXAMPLES", "0") or 0)
TRANSCRIPTS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "transcripts").rglob("*.ndjson"))


def fuzz_settings(default: int) -> settings:
    """CI: ``default`` derandomized examples. ``HARNESS_FUZZ_EXAMPLES=N``: N random examples."""
    return settings(
        max_examples=FUZZ_EXAMPLES or default,
        derandomize=not FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


@cache
def original(name: str) -> bytes:
    return (ROOT / name).read_bytes()


@cache
def scenario_of() -> dict[str, str]:
    """Agent-runtime transcripts replay only through a scenario (what the app did); the first
    bundled single-transcript scenario that names each one."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "scenarios").rglob("*.yaml")):
        scenario = load_scenario(path)
        if scenario.transcript is not None:
            name = scenario.transcript_path().resolve().relative_to(ROOT).as_posix()
            found.setdefault(name, path.relative_to(ROOT).as_posix())
    return found


def meaning(summary: dict[str, Any]) -> Any:
    """What a replay means to a user: the status, the error type and every message."""
    error = summary["error"]
    return summary["status"], error and error["type"], summary["messages"]


def replay_file(project: Path, name: str) -> dict[str, Any]:
    """What ``harness replay --json``, ``harness validate``, goldens and the DB do with ``name``
    as it is now in ``project``: bare for HTTP protocols, through its scenario for runtimes."""
    path = project / name
    transcript = parse_transcript(path.read_bytes(), path=name)
    issues = lint_transcript(transcript)
    if is_runtime_protocol(transcript.protocol) and name in scenario_of():
        scenario = load_scenario(project / scenario_of()[name])
    else:
        scenario = scenario_for_transcript(transcript, path=str(path))
    result = run_scenario(scenario, goldens_dir=project / "goldens", update_goldens=True, update_failed=True)
    summary = replay_summary(result.execution)
    orjson.dumps(summary)  # what --json prints
    collect_rows(transcripts=[result.execution.transcript], results=[result], base=project)
    violations = [e for e in summary["events"] if e["type"] in ("protocol.violation", "provider.frame.unrecognized")]
    return {
        "summary": summary,
        "clean": not issues and not violations and result.execution.driver.failure is None,
    }


@cache
def baseline(name: str, project: Path) -> Any:
    return meaning(replay_file(project, name)["summary"])


def assert_located(error: HarnessError, name: str) -> None:
    message = str(error)
    assert "Traceback" not in message
    assert Path(name).name in message, f"the error does not name the file: {message}"
    assert f"{Path(name).name}:" in message or "$" in message, (
        f"the error names neither a line nor a JSON path: {message}"
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the bundled scenarios and transcripts: mutations are written here, never into
    the repository."""
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "scenarios", root / "scenarios")
    shutil.copytree(ROOT / "transcripts", root / "transcripts")
    (root / "pyproject.toml").write_text('[project]\nname = "fuzzed"\n')
    yield root


@given(data=st.data(), name=st.sampled_from(TRANSCRIPTS))
@fuzz_settings(default=400)
def test_a_mutated_transcript_gives_a_located_error_or_a_replay_that_loses_nothing_silently(
    project: Path, data: st.DataObject, name: str
) -> None:
    text = original(name)
    expected = baseline(name, project)
    mutation: Mutation = data.draw(mutations(text), label="mutation")
    (project / name).write_bytes(mutation.apply(text))
    try:
        outcome = replay_file(project, name)
    except HarnessError as error:
        assert_located(error, name)
        return
    finally:
        (project / name).write_bytes(text)
    inside_a_frame = mutation.path[:1] == ("frame",)
    if inside_a_frame and retypes(mutation.target(text), mutation.op) and outcome["clean"]:
        assert meaning(outcome["summary"]) == expected, (
            f"{mutation.describe()} changed what {name} means without a violation or a lint finding"
        )


@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_every_bundled_transcript_replays_through_every_entry_point(project: Path, name: str) -> None:
    outcome = replay_file(project, name)
    assert outcome["summary"]["events"]


@given(data=st.data(), name=st.sampled_from(TRANSCRIPTS))
@fuzz_settings(default=60)
def test_the_cli_on_a_mutated_transcript_exits_0_1_or_2_and_prints_one_json_object(
    project: Path, data: st.DataObject, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = original(name)
    mutation: Mutation = data.draw(mutations(text), label="mutation")
    target = project / name
    target.write_bytes(mutation.apply(text))
    try:
        capsys.readouterr()
        for argv in (["validate", str(target)], ["replay", "--json", str(target)]):
            status = main(argv)
            out, err = capsys.readouterr()
            assert status in (0, 1, 2), f"{mutation.describe()}: {argv[0]} exited {status}"
            if status == 2:
                assert target.name in err, f"{mutation.describe()}: the error does not name the file: {err}"
                assert err.startswith("error: ") and err.count("\n") == 1, f"not one line: {err}"
            elif argv[0] == "replay":
                assert isinstance(orjson.loads(out), dict), f"{mutation.describe()}: --json printed {out[:200]}"
    finally:
        target.write_bytes(text)
