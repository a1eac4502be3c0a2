"""Break every agent-runtime transcript on purpose: its scenario must fail, and say where.

Each t3code scenario (Codex app-server and Claude Agent SDK) is replayed against a mutated copy
of its transcript, written as NDJSON into ``tmp_path`` so that the line numbers in the messages
are real lines of that file (line 1 is the header, entry ``i`` is on line ``i + 2``):

* **delete** the inbound frame that ends the (last) turn: the last ``turn/completed`` (Codex),
  the last ``result`` (Claude), or the last ``emit_inbound`` when there is no result. The wire
  exchange still lines up (nothing is left over and nothing unexpected is sent), so no replay
  error names the deleted line; the runtime exit then ends the turn instead, which the golden
  file catches at its first differing event and JSON path, and the expectations catch as a
  ``failed`` run. Deleting an *earlier* ``turn/completed`` of a multi-turn Codex transcript
  leaves the thread busy for the next command, which must still be a scenario failure.
* **swap** an outbound frame with the inbound frame next to it: the replay fails at the line of
  the first entry of the swapped pair, the place where the driver expected something else (except
  where the swapped order is itself a valid exchange: see ``WIRE_COMPATIBLE_SWAPS``).
* **change one outbound policy field** (or the prompt, for Codex turns without a policy): the
  replay fails with a frame mismatch naming that line and the JSON path of the field.
"""

from __future__ import annotations

import copy
import itertools
import re
from pathlib import Path
from typing import Any

import pytest

from harness.errors import FrameMismatch, UsageError
from harness.scenario import load_scenario, run_scenario
from harness.scenario.model import Scenario
from harness.scenario.runner import ScenarioResult
from harness.transcript import EmitInbound, ExpectOutbound, Transcript, read_transcript
from harness.transcript.io import Entry, dump_transcript

ROOT = Path(__file__).resolve().parents[2]
GOLDENS = ROOT / "fixtures/goldens"
SCENARIO_FILES = sorted((ROOT / "scenarios/t3code").rglob("*.yaml"))
SCENARIOS = [pytest.param(path, id=load_scenario(path).name) for path in SCENARIO_FILES]

#: Why a runtime turn ends when its end frame is gone: the process exit that follows it.
EXIT_ERRORS = {
    "codex.app-server": "the app-server exited mid-turn",
    "claude-agent-sdk.query": "the query ended mid-turn",
}
#: Swaps that leave a valid wire exchange: the runtime sends an assistant frame after the app's
#: interrupt instead of before it (a race real runtimes have). The replay is faithful; the
#: outcome (the order of the run's turn items) is what changes.
WIRE_COMPATIBLE_SWAPS = {"claude.turn_interrupt_mid_tool", "claude.turn_interrupt_restart"}


def test_every_t3code_scenario_is_covered() -> None:
    assert len(SCENARIO_FILES) == 27
    assert {p.parent.name for p in SCENARIO_FILES} == {"codex", "claude"}


# -- helpers -------------------------------------------------------------------------------------


def _load(path: Path) -> tuple[Scenario, Transcript]:
    scenario = load_scenario(path)
    return scenario, read_transcript(scenario.transcript_path())


def _is_codex(transcript: Transcript) -> bool:
    return transcript.protocol == "codex.app-server"


def _frame(entry: Entry) -> dict[str, Any]:
    frame = getattr(entry, "frame", None)
    return frame if isinstance(frame, dict) else {}


def _describe(entry: Entry) -> str:
    """An entry as replay messages name it: ``type (label)``."""
    label = getattr(entry, "label", None)
    return entry.type + (f" ({label})" if label else "")


def _write(
    tmp_path: Path, scenario: Scenario, transcript: Transcript, entries: list[Entry]
) -> tuple[Scenario, Transcript]:
    """Write ``entries`` as a transcript file and point a copy of ``scenario`` at it."""
    path = tmp_path / f"{scenario.name}.ndjson"
    path.write_bytes(dump_transcript(transcript.header, entries))
    mutated = read_transcript(path)
    assert list(mutated.entries) == entries
    return scenario.model_copy(update={"transcript": str(path)}), mutated


def _line(transcript: Transcript, index: int) -> int:
    line = transcript.line_of(index)
    assert line == index + 2  # the header is line 1, and dump_transcript writes no blank lines
    return line


def _run(scenario: Scenario) -> ScenarioResult:
    """Judge the scenario as ``harness run`` does; a mutation must fail it, not crash the runner."""
    try:
        return run_scenario(scenario, goldens_dir=GOLDENS)
    except UsageError as exc:
        pytest.fail(f"the mutated replay escaped the runner as {type(exc).__name__} instead of a failure: {exc}")


def _messages(result: ScenarioResult, kind: str) -> list[str]:
    return [f.message for f in result.failures if f.kind == kind]


# -- delete one inbound frame --------------------------------------------------------------------


def _turn_ends(transcript: Transcript) -> list[int]:
    return [
        i
        for i, e in enumerate(transcript.entries)
        if isinstance(e, EmitInbound) and _frame(e).get("method") == "turn/completed"
    ]


def _turn_end_index(transcript: Transcript) -> int:
    if _is_codex(transcript):
        return _turn_ends(transcript)[-1]
    inbound = [i for i, e in enumerate(transcript.entries) if isinstance(e, EmitInbound)]
    results = [i for i in inbound if _frame(transcript.entries[i]).get("type") == "result"]
    return (results or inbound)[-1]


@pytest.mark.parametrize("path", SCENARIOS)
def test_deleting_the_turn_end_frame_fails_at_the_first_divergent_event(path: Path, tmp_path: Path) -> None:
    scenario, transcript = _load(path)
    index = _turn_end_index(transcript)
    entries = list(transcript.entries)
    removed = entries.pop(index)
    mutated, _ = _write(tmp_path, scenario, transcript, entries)

    result = _run(mutated)

    assert not result.passed, (
        f"{scenario.name} passed although {_describe(removed)} (line {transcript.line_of(index)}) was deleted"
    )
    # Whatever catches it (a replay error, or the golden at the first divergent event), the report
    # names a line of the mutated transcript; a golden divergence also names its JSON path.
    _assert_names_a_line(result, mutated.transcript or "")
    for message in _messages(result, "golden"):
        assert re.search(r"first divergence at event index \d+ \([\w.-]+\), \$", message), message


def _assert_names_a_line(result: ScenarioResult, transcript_path: str) -> None:
    messages = [f.message for f in result.failures]
    pattern = re.escape(transcript_path) + r":\d+"
    assert any(re.search(pattern, m) for m in messages), messages


MULTI_TURN_CODEX = [
    pytest.param(path, id=scenario.name)
    for path in SCENARIO_FILES
    for scenario, transcript in [_load(path)]
    if _is_codex(transcript) and len(_turn_ends(transcript)) > 1
]


@pytest.mark.parametrize("path", MULTI_TURN_CODEX)
def test_deleting_an_earlier_turn_end_fails_the_scenario_without_crashing_the_runner(
    path: Path, tmp_path: Path
) -> None:
    """With the first turn never ended, the next command finds the thread busy; that must be a
    scenario failure, not an exception out of the runner."""
    scenario, transcript = _load(path)
    entries = list(transcript.entries)
    del entries[_turn_ends(transcript)[0]]
    mutated, _ = _write(tmp_path, scenario, transcript, entries)
    result = _run(mutated)
    assert not result.passed
    assert result.execution.runs[0]["status"] != "completed"


# -- swap two adjacent entries around an outbound frame ------------------------------------------


def _swap_index(transcript: Transcript) -> tuple[int, bool]:
    """The first pair (inbound, outbound) to swap, else the first (outbound, inbound); whether the
    outbound came second."""
    entries = transcript.entries
    pairs = list(itertools.pairwise(entries))
    for i, (a, b) in enumerate(pairs):
        if isinstance(a, EmitInbound) and isinstance(b, ExpectOutbound):
            return i, True
    for i, (a, b) in enumerate(pairs):
        if isinstance(a, ExpectOutbound) and isinstance(b, EmitInbound):
            return i, False
    raise AssertionError("no outbound frame next to an inbound frame")


@pytest.mark.parametrize("path", SCENARIOS)
def test_swapping_an_outbound_frame_with_its_neighbour_fails_at_that_line(path: Path, tmp_path: Path) -> None:
    scenario, transcript = _load(path)
    index, _ = _swap_index(transcript)
    entries = list(transcript.entries)
    entries[index], entries[index + 1] = entries[index + 1], entries[index]
    mutated, mutated_transcript = _write(tmp_path, scenario, transcript, entries)
    line = _line(mutated_transcript, index)

    result = _run(mutated)

    assert not result.passed, f"{scenario.name} passed with lines {line} and {line + 1} swapped"
    error = result.execution.driver.failure
    if scenario.name in WIRE_COMPATIBLE_SWAPS:
        assert error is None
        (turn_items,) = [m for m in _messages(result, "expectation") if m.startswith("turn items of ")]
        found = turn_items.split(": ", 1)[1].split("], expected")[0]
        assert found.index("'run_interrupt_request'") < found.index("'command_execution'"), turn_items
        assert _messages(result, "golden")
        return
    # The outbound frame now comes first: the app, waiting for the inbound frame, cannot act (the
    # replay stops there, or the next step cannot apply); it now comes second: the app sends it
    # where the transcript has the inbound frame. Either way the replay failure names the line.
    if error is None:  # the swapped pair is still a valid exchange: the golden sees the new order
        _assert_names_a_line(result, mutated.transcript or "")
        assert any("$" in m for m in _messages(result, "golden"))
        return
    assert error.line in (line, line + 1, line + 2), repr(error)
    assert str(error).startswith(f"{mutated_transcript.path}:{error.line}: "), str(error)
    assert _messages(result, "replay") == [str(error)]


# -- change one outbound policy field ------------------------------------------------------------


def _policy_mutation(transcript: Transcript) -> tuple[int, dict[str, Any], str]:
    """The entry to change, its changed frame, and the JSON path of the change."""
    entries = transcript.entries
    if _is_codex(transcript):
        starts = [
            i
            for i, e in enumerate(entries)
            if isinstance(e, ExpectOutbound) and _frame(e).get("method") == "turn/start"
        ]
        with_policy = [i for i in starts if {"approvalPolicy", "sandboxPolicy"} & set(_frame(entries[i])["params"])]
        index = (with_policy or starts)[0]
        frame = copy.deepcopy(_frame(entries[index]))
        params = frame["params"]
        if not with_policy:
            params["input"][0]["text"] += " (changed)"
            return index, frame, "$.params.input[0].text"
        if isinstance(params.get("approvalPolicy"), str):
            params["approvalPolicy"] = "never" if params["approvalPolicy"] == "untrusted" else "untrusted"
            return index, frame, "$.params.approvalPolicy"
        params["sandboxPolicy"]["networkAccess"] = not params["sandboxPolicy"]["networkAccess"]
        return index, frame, "$.params.sandboxPolicy.networkAccess"
    index = next(
        i for i, e in enumerate(entries) if isinstance(e, ExpectOutbound) and _frame(e).get("type") == "query.open"
    )
    frame = copy.deepcopy(_frame(entries[index]))
    options = frame["options"]
    options["permissionMode"] = "default" if options["permissionMode"] == "acceptEdits" else "acceptEdits"
    return index, frame, "$.options.permissionMode"


@pytest.mark.parametrize("path", SCENARIOS)
def test_changing_one_outbound_policy_field_is_a_frame_mismatch_at_its_line_and_path(
    path: Path, tmp_path: Path
) -> None:
    scenario, transcript = _load(path)
    index, frame, json_path = _policy_mutation(transcript)
    entries = list(transcript.entries)
    original = entries[index]
    assert isinstance(original, ExpectOutbound)
    entries[index] = original.model_copy(update={"frame": frame})
    mutated, mutated_transcript = _write(tmp_path, scenario, transcript, entries)
    line = _line(mutated_transcript, index)

    result = _run(mutated)

    error = result.execution.driver.failure
    assert isinstance(error, FrameMismatch), repr(error)
    assert (error.line, error.entry_index, error.label, error.json_path) == (line, index, original.label, json_path)
    assert _messages(result, "replay") == [str(error)]
    assert str(error).startswith(f"{mutated_transcript.path}:{line}: outbound frame ({original.label}) differs ")
    assert f"differs from the recording at {json_path}: " in str(error)
