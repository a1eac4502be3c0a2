"""Provider-neutral scenarios: one task, several recordings, the same canonical projection."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.errors import ScenarioError
from harness.record import translate_transcript
from harness.scenario import load_scenario, run_scenario
from harness.scenario.runner import parity_view

ROOT = Path(__file__).resolve().parents[2]
TOOL_LOOP = ROOT / "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"
PLAIN = ROOT / "transcripts/anthropic/pydantic-ai-cassettes/anthropic__plain_text_stream.ndjson"


def tool_loop_request() -> dict[str, object]:
    frame = next(
        line for line in map(yaml.safe_load, TOOL_LOOP.read_text().splitlines()) if line["type"] == "expect_outbound"
    )
    body = dict(frame["frame"]["body"])
    body.pop("messages")
    return {"path": "/v1/messages", "query": {"beta": "true"}, "headers": frame["frame"]["headers"], "params": body}


def write_pair(tmp_path: Path, second: Path, second_request: dict[str, object] | None, **expect: object) -> Path:
    doc = {
        "name": "pair",
        "variants": {
            "recorded": {"transcript": str(TOOL_LOOP), "request": tool_loop_request()},
            "other": {"transcript": str(second), **({"request": second_request} if second_request else {})},
        },
        "commands": [
            {"type": "thread.create", "thread_id": "t"},
            {"type": "message.dispatch", "text": "What is the current USD to EUR exchange rate?"},
        ],
        "tools": {"get_exchange_rate": {"output": "1 USD = 0.92 EUR"}},
        "expect": {"golden": False, **expect},
    }
    path = tmp_path / "pair.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_a_recording_and_its_translation_agree(tmp_path: Path) -> None:
    translated = tmp_path / "translated.ndjson"
    translate_transcript(TOOL_LOOP, translated, protocol="anthropic.messages")
    header_request = next(
        line["frame"]
        for line in map(yaml.safe_load, translated.read_text().splitlines())
        if line["type"] == "expect_outbound"
    )
    body = dict(header_request["body"])
    body.pop("messages")
    request = {"path": header_request["path"], "headers": header_request["headers"], "params": body}
    result = run_scenario(load_scenario(write_pair(tmp_path, translated, request)), goldens_dir=tmp_path)
    assert result.passed, result.failures
    assert [name for name, _ in result.executions()] == ["pair.recorded", "pair.other"]
    view = parity_view(result.execution)
    assert view["runs"][0]["tool_calls"] == [
        {"name": "get_exchange_rate", "arguments": {"from_currency": "USD", "to_currency": "EUR"}}
    ]


def test_variants_that_disagree_fail_with_the_first_differing_path(tmp_path: Path) -> None:
    # The plain-text recording answers another question without calling any tool.
    scenario = load_scenario(write_pair(tmp_path, PLAIN, None, status="completed"))
    scenario = scenario.model_copy(
        update={"variants": {**scenario.variants, "other": scenario.variants["other"].model_copy()}}
    )
    result = run_scenario(scenario, goldens_dir=tmp_path)
    parity = [f.message for f in result.failures if f.kind == "parity"]
    assert len(parity) == 1
    assert parity[0].startswith(
        "variant 'other' differs from 'recorded' at $.runs[0].final_text: recorded has \"The current"
    )
    assert any(f.message.startswith("[other] ") for f in result.failures if f.kind == "replay")


def test_each_variant_has_its_own_golden(tmp_path: Path) -> None:
    translated = tmp_path / "translated.ndjson"
    translate_transcript(TOOL_LOOP, translated, protocol="anthropic.messages")
    path = write_pair(tmp_path, translated, None)
    doc = yaml.safe_load(path.read_text())
    doc["expect"]["golden"] = True
    doc["expect"]["parity"] = ["tool_calls"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = run_scenario(load_scenario(path), goldens_dir=tmp_path, update_goldens=True)
    assert sorted(p.name for p in result.golden_paths) == ["pair.other.ndjson", "pair.recorded.ndjson"]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"transcript": "a.ndjson", "variants": {"a": {"transcript": "a"}, "b": {"transcript": "b"}}}, "either one"),
        ({}, "either one"),
        ({"variants": {"a": {"transcript": "a"}}}, "at least two"),
        ({"variants": {"a": {"transcript": "a"}, "b": {"transcript": "b"}}, "request": {}}, "inside each variant"),
        (
            {"variants": {"a": {"transcript": "a"}, "b": {"transcript": "b"}}, "expect": {"parity": ["colour"]}},
            "parity",
        ),
        (
            {"variants": {"a": {"transcript": "a", "expect": {"golden": False}}, "b": {"transcript": "b"}}},
            r"golden belong to the scenario's expect",
        ),
        (
            {"variants": {"a": {"transcript": "a", "expect": {"runs": "completed"}}, "b": {"transcript": "b"}}},
            r"variants\.a\.expect",
        ),
    ],
    ids=["both", "neither", "one-variant", "shared-request", "unknown-aspect", "variant-golden", "variant-expect-type"],
)
def test_malformed_variant_scenarios_are_named(tmp_path: Path, doc: dict[str, object], message: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)


T3CODE = ROOT / "scenarios" / "t3code"


def runtime_pair(tmp_path: Path, codex: str, claude: str, parity: list[str]) -> Path:
    """A parity scenario pairing two bundled runtime scenarios, each with its own commands and expect."""
    variants = {}
    for name, source in (("codex", T3CODE / "codex" / codex), ("claude", T3CODE / "claude" / claude)):
        raw = yaml.safe_load(source.read_text())
        expect = {k: v for k, v in raw["expect"].items() if k != "golden"}
        variants[name] = {
            "transcript": str((source.parent / raw["transcript"]).resolve()),
            **({"workspace": raw["workspace"]} if "workspace" in raw else {}),
            "commands": raw["commands"],
            "expect": expect,
        }
    path = tmp_path / "pair.yaml"
    doc = {"name": "pair", "variants": variants, "expect": {"golden": False, "parity": parity}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_runtime_variants_replay_with_their_own_commands_and_expectations(tmp_path: Path) -> None:
    scenario = load_scenario(runtime_pair(tmp_path, "simple.yaml", "simple.yaml", ["status", "final_text"]))
    codex, claude = scenario.for_variant("codex"), scenario.for_variant("claude")
    assert codex.commands[0].runtime is None
    assert claude.commands[0].runtime is not None and claude.commands[0].runtime.tools == "claude_code"
    assert codex.expect.turn_items["main/run-1"] == ["user_message", "reasoning", "assistant_message"]
    assert claude.expect.turn_items["main/run-1"] == ["user_message", "assistant_message"]
    assert claude.expect.golden is False and claude.expect.parity == ["status", "final_text"]
    result = run_scenario(scenario, goldens_dir=tmp_path)
    assert result.failures == []
    assert [parity_view(v.execution) for v in result.variants] == [
        {"runs": [{"status": "completed", "tool_calls": [], "tool_outcomes": [], "final_text": "fixture simple ok"}]}
    ] * 2


def test_runtime_variants_that_disagree_fail_parity_at_the_first_differing_path(tmp_path: Path) -> None:
    path = runtime_pair(tmp_path, "simple.yaml", "message_steering.yaml", ["status", "final_text"])
    result = run_scenario(load_scenario(path), goldens_dir=tmp_path)
    (failure,) = [f for f in result.failures if f.kind == "parity"]
    assert failure.message == (
        "variant 'claude' differs from 'codex' at $.runs[0].final_text: "
        'codex has "fixture simple ok", claude has "steering fixture observed"'
    )


def test_the_parity_view_of_a_runtime_run_has_its_tool_calls_and_outcomes(tmp_path: Path) -> None:
    path = runtime_pair(tmp_path, "turn_interrupt_mid_tool.yaml", "turn_interrupt_mid_tool.yaml", ["tool_outcomes"])
    result = run_scenario(load_scenario(path), goldens_dir=tmp_path)
    assert result.failures == []
    codex, claude = (parity_view(v.execution)["runs"][0] for v in result.variants)
    assert codex["tool_outcomes"] == claude["tool_outcomes"] == [{"status": "failed", "error": "interrupted"}]
    assert codex["tool_calls"][0]["name"] == "command_execution"
    assert claude["tool_calls"][0]["name"] == "Bash"
