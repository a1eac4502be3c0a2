"""Scenario files: validation errors, defaults, expectations and the bundled suite."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.errors import ScenarioError, UsageError
from harness.scenario import load_scenario, run_scenario, run_suite
from harness.scenario.model import discover_scenarios

ROOT = Path(__file__).resolve().parents[2]
PLAIN = ROOT / "transcripts/anthropic/pydantic-ai-cassettes/anthropic__plain_text_stream.ndjson"
REQUEST = {
    "path": "/v1/messages",
    "query": {"beta": "true"},
    "headers": {"accept": "application/json", "content-type": "application/json"},
    "params": {"max_tokens": 32000, "model": "claude-sonnet-4-5", "stream": True},
}
PROMPT = "What is 1+1? Answer with just the number."


def write(tmp_path: Path, doc: dict[str, object], name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return path


def plain(tmp_path: Path, **overrides: object) -> Path:
    doc: dict[str, object] = {
        "name": "plain",
        "transcript": str(PLAIN),
        "request": REQUEST,
        "commands": [{"type": "thread.create", "thread_id": "t"}, {"type": "message.dispatch", "text": PROMPT}],
        "expect": {"golden": False},
    }
    doc.update(overrides)
    return write(tmp_path, doc)


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    path = write(tmp_path, {"transcript": "x.ndjson"}, "my_case.yaml")
    assert load_scenario(path).name == "my_case"


def test_unknown_field_is_named_with_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, {"transcript": "x.ndjson", "expect": {"stauts": "completed"}})
    with pytest.raises(ScenarioError, match=r"s\.yaml: \$\.expect\.stauts: Extra inputs are not permitted"):
        load_scenario(path)


def test_bad_command_type_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, {"transcript": "x.ndjson", "commands": [{"type": "thread.explode"}]})
    with pytest.raises(ScenarioError, match=r"\$\.commands\[0\]"):
        load_scenario(path)


def test_tool_needs_exactly_one_behaviour(tmp_path: Path) -> None:
    path = write(tmp_path, {"transcript": "x.ndjson", "tools": {"t": {"output": "a", "error": "b"}}})
    with pytest.raises(ScenarioError, match=r"exactly one of output, error, from_recording"):
        load_scenario(path)


def test_bad_ignore_path_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, {"transcript": "x.ndjson", "match": {"ignore": ["body.x"]}})
    with pytest.raises(ScenarioError, match="must start with"):
        load_scenario(path)


def test_invalid_yaml_and_non_mapping_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("a: [")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ScenarioError, match="expected a mapping"):
        load_scenario(tmp_path / "list.yaml")


def test_toml_scenarios_load(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(f'transcript = "{PLAIN.as_posix()}"\n[expect]\ngolden = false\n')
    assert load_scenario(tmp_path / "s.toml").transcript == PLAIN.as_posix()


def test_missing_scenario_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(UsageError, match="no such scenario file or directory"):
        discover_scenarios([tmp_path / "nope"])


def test_passing_scenario_has_no_failures(tmp_path: Path) -> None:
    result = run_scenario(load_scenario(plain(tmp_path)), goldens_dir=tmp_path)
    assert result.passed, result.failures


def test_wrong_expected_status_is_reported(tmp_path: Path) -> None:
    result = run_scenario(
        load_scenario(plain(tmp_path, expect={"golden": False, "status": "failed"})), goldens_dir=tmp_path
    )
    assert [f.kind for f in result.failures] == ["expectation"]
    assert "ended 'completed', expected 'failed'" in result.failures[0].message


def test_missing_required_event_type_is_reported(tmp_path: Path) -> None:
    scenario = load_scenario(plain(tmp_path, expect={"golden": False, "events": ["tool_call.requested"]}))
    result = run_scenario(scenario, goldens_dir=tmp_path)
    assert "required event types never appeared: tool_call.requested" in result.failures[0].message


def test_a_wrong_prompt_is_a_frame_mismatch_with_line_and_json_path(tmp_path: Path) -> None:
    commands = [{"type": "thread.create"}, {"type": "message.dispatch", "text": "What is 2+2?"}]
    result = run_scenario(load_scenario(plain(tmp_path, commands=commands)), goldens_dir=tmp_path)
    replay = [f.message for f in result.failures if f.kind == "replay"]
    assert len(replay) == 1
    assert "anthropic__plain_text_stream.ndjson:2: outbound frame (POST /v1/messages)" in replay[0]
    assert "$.body.messages[0].content[0].text" in replay[0]
    assert result.execution.runs[-1]["error"]["type"] == "transport_error"


def test_a_declared_ignore_lets_a_volatile_field_differ(tmp_path: Path) -> None:
    request = {**REQUEST, "params": {**REQUEST["params"], "max_tokens": 1}}  # type: ignore[dict-item]
    failing = run_scenario(load_scenario(plain(tmp_path, request=request)), goldens_dir=tmp_path)
    assert any("$.body.max_tokens" in f.message for f in failing.failures)
    ignoring = plain(tmp_path, request=request, match={"ignore": ["$.body.max_tokens"]})
    assert run_scenario(load_scenario(ignoring), goldens_dir=tmp_path).passed


def test_reproduce_names_the_scenario_file(tmp_path: Path) -> None:
    path = plain(tmp_path)
    result = run_scenario(load_scenario(path), goldens_dir=tmp_path)
    assert result.reproduce == f"harness run {path}"


def test_duplicate_scenario_names_are_a_usage_error(tmp_path: Path) -> None:
    plain(tmp_path)
    doc = yaml.safe_load((tmp_path / "s.yaml").read_text())
    write(tmp_path, doc, "copy.yaml")
    with pytest.raises(UsageError, match="scenario name 'plain' is already used"):
        run_suite([tmp_path], goldens_dir=tmp_path)


def test_every_bundled_scenario_passes(repo_root: Path) -> None:
    suite = run_suite(goldens_dir=Path("fixtures/goldens"))
    assert len(suite.results) >= 8
    assert [r.scenario.name for r in suite.results if not r.passed] == []
    assert suite.unused_goldens == []


def test_a_tool_that_ends_the_run_stops_the_loop_after_it_ran(tmp_path: Path) -> None:
    loop = ROOT / "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"
    source = load_scenario(ROOT / "scenarios/anthropic/tool_loop_two_requests.yaml")
    scenario = source.model_copy(
        update={
            "transcript": str(loop),
            "tools": {"get_exchange_rate": source.tools["get_exchange_rate"].model_copy(update={"ends_run": True})},
            "expect": source.expect.model_copy(update={"golden": False, "stop_reason": None}),
        }
    )
    result = run_scenario(scenario, goldens_dir=tmp_path)
    events = result.execution.events
    # one request: one provider turn
    assert len({e.data["provider_turn_id"] for e in events if e.type == "provider-turn.updated"}) == 1
    terminal = events[-1]
    assert (terminal.type, terminal.data["status"]) == ("run.updated", "completed")
    # what the terminal snapshot adds to the running run's: no error, the stop reason and the tool
    running = next(e for e in events if e.type == "run.updated" and e.data["status"] == "running")
    added = {key: value for key, value in terminal.data.items() if key not in running.data}
    assert added == {"error": None, "stop_reason": "tool_use", "ended_by_tool": "get_exchange_rate"}
    # The recording goes on with a second request that was never sent, so the replay says so.
    assert [f.kind for f in result.failures] == ["replay"]
    assert "unconsumed" in result.failures[0].message


def test_dispatch_params_replace_the_request_params_for_that_run(tmp_path: Path) -> None:
    commands = [
        {"type": "thread.create", "thread_id": "t"},
        {"type": "message.dispatch", "text": PROMPT, "params": {**REQUEST["params"], "max_tokens": 7}},  # type: ignore[dict-item]
    ]
    result = run_scenario(load_scenario(plain(tmp_path, commands=commands)), goldens_dir=tmp_path)
    assert any("$.body.max_tokens: expected 32000, found 7" in f.message for f in result.failures)
