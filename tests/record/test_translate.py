"""Translating a transcript keeps the conversation: replaying the translation gives the same
canonical result as replaying the source."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ImportSourceError, UnknownProtocolError, UsageError
from harness.record import translate_transcript
from harness.scenario import replay_summary, replay_transcript
from harness.transcript import read_transcript

ROOT = Path(__file__).resolve().parents[2]
TOOL_LOOP = ROOT / "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"
STREAM_ONLY = ROOT / "transcripts/anthropic/vercel-ai-fixtures/anthropic-three-messages-tool-loop.ndjson"


def portable(summary: dict[str, object]) -> list[tuple[object, ...]]:
    return [(m["text"], [(c["name"], c["arguments"]) for c in m["tool_calls"]]) for m in summary["messages"]]  # type: ignore[index, union-attr]


@pytest.mark.parametrize("source", [TOOL_LOOP, STREAM_ONLY], ids=["with-requests", "stream-only"])
def test_translation_to_anthropic_replays_to_the_same_conversation(tmp_path: Path, source: Path) -> None:
    out = tmp_path / "t.ndjson"
    result = translate_transcript(source, out, protocol="anthropic.messages")
    original = replay_summary(replay_transcript(source))
    translated = replay_transcript(out)
    assert translated.driver.failure is None and translated.driver.remaining == 0
    assert portable(replay_summary(translated)) == portable(original)
    assert result.responses == len(original["messages"])  # type: ignore[arg-type]


def test_translation_header_says_it_is_derived_and_names_the_source(tmp_path: Path) -> None:
    out = tmp_path / "t.ndjson"
    translate_transcript(TOOL_LOOP, out, protocol="anthropic.messages")
    header = read_transcript(out).header
    assert header.version == "derived"
    assert header.metadata["source"] == TOOL_LOOP.name
    assert "translated from" in header.metadata["derivation"]


def test_translation_drops_server_tool_blocks_from_responses_and_history(tmp_path: Path) -> None:
    out = tmp_path / "t.ndjson"
    translate_transcript(TOOL_LOOP, out, protocol="anthropic.messages")
    text = out.read_text()
    assert "server_tool_use" not in text and "tool_search_tool_result" not in text


def test_translation_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "t.ndjson"
    translate_transcript(TOOL_LOOP, out, protocol="anthropic.messages")
    with pytest.raises(UsageError, match="already exists"):
        translate_transcript(TOOL_LOOP, out, protocol="anthropic.messages")
    translate_transcript(TOOL_LOOP, out, protocol="anthropic.messages", force=True)


def test_unknown_target_protocol_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownProtocolError, match="known protocols"):
        translate_transcript(TOOL_LOOP, tmp_path / "t.ndjson", protocol="gemini.generate")


def test_a_protocol_without_a_renderer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportSourceError, match=r"translation targets: anthropic\.messages, openai\.chat"):
        translate_transcript(TOOL_LOOP, tmp_path / "t.ndjson", protocol="codex.app-server")


def test_translation_is_deterministic(tmp_path: Path) -> None:
    translate_transcript(TOOL_LOOP, tmp_path / "a" / "t.ndjson", protocol="anthropic.messages")
    translate_transcript(TOOL_LOOP, tmp_path / "b" / "t.ndjson", protocol="anthropic.messages")
    assert (tmp_path / "a" / "t.ndjson").read_bytes() == (tmp_path / "b" / "t.ndjson").read_bytes()


PARITY = [
    (
        "transcripts/openai/pydantic-ai-cassettes/openai-chat__tool_call_then_text_usage_chunk.ndjson",
        "anthropic.messages",
        "capital_uk.anthropic",
    ),
    (
        "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson",
        "openai.chat",
        "exchange_rate.openai_chat",
    ),
    (
        "scenarios/openai/responses/openai_responses_function_call_no_sequence_numbers.yaml",
        "anthropic.messages",
        "capital_france.anthropic",
    ),
    (
        "scenarios/openai/responses/openai_responses_function_call_no_sequence_numbers.yaml",
        "openai.chat",
        "capital_france.openai_chat",
    ),
]


@pytest.mark.parametrize(("source", "protocol", "name"), PARITY, ids=[p[2] for p in PARITY])
def test_committed_parity_translations_are_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, protocol: str, name: str
) -> None:
    monkeypatch.chdir(ROOT)  # paths inside the header and scenario are repository-relative
    fresh = tmp_path / f"{name}.ndjson"
    translate_transcript(source, fresh, protocol=protocol)
    committed = ROOT / "transcripts" / "parity" / f"{name}.ndjson"
    assert fresh.read_bytes() == committed.read_bytes(), f"regenerate {committed.name} (transcripts/parity/README.md)"
