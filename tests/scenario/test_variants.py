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
    ],
    ids=["both", "neither", "one-variant", "shared-request", "unknown-aspect"],
)
def test_malformed_variant_scenarios_are_named(tmp_path: Path, doc: dict[str, object], message: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)
