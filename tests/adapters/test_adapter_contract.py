"""Every bundled adapter passes the shipped adapter conformance tests on a real recorded response."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.adapters import get_adapter
from harness.adapters.base import ProviderAdapter
from harness.testing import AdapterContract
from harness.transcript import EmitInbound, ExpectOutbound, read_transcript

ROOT = Path(__file__).resolve().parents[2]


def first_response(path: str) -> list[Any]:
    """The inbound frames of the first exchange of a recorded transcript."""
    frames: list[Any] = []
    for entry in read_transcript(ROOT / path).entries:
        if isinstance(entry, ExpectOutbound) and frames:
            break
        if isinstance(entry, EmitInbound):
            frames.append(entry.frame)
    return frames


class TestAnthropicMessagesContract(AdapterContract):
    def make_adapter(self) -> ProviderAdapter:
        return get_adapter("anthropic.messages")

    def complete_response(self) -> list[Any]:
        return first_response(
            "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"
        )


class TestOpenAIResponsesContract(AdapterContract):
    def make_adapter(self) -> ProviderAdapter:
        return get_adapter("openai.responses")

    def complete_response(self) -> list[Any]:
        return first_response(
            "transcripts/openai/pydantic-ai-cassettes/openai-responses__reasoning_text_and_function_call_multiturn.ndjson"
        )


class TestOpenAIChatContract(AdapterContract):
    def make_adapter(self) -> ProviderAdapter:
        return get_adapter("openai.chat")

    def complete_response(self) -> list[Any]:
        return first_response(
            "transcripts/openai/pydantic-ai-cassettes/openai-chat__parallel_tool_calls_multiturn.ndjson"
        )
