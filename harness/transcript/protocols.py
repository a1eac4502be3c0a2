"""The protocols a transcript may name, and how their frames are validated.

A protocol is known when the transcript format can read it; whether it can also be replayed
through the core depends on an adapter being registered (``harness.adapters.replayable_protocols``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.errors import UnknownProtocolError


@dataclass(frozen=True, slots=True)
class ProtocolInfo:
    """What the harness knows about one wire protocol."""

    name: str
    provider: str
    transport: Literal["http", "stdio"]
    description: str


PROTOCOLS: dict[str, ProtocolInfo] = {
    info.name: info
    for info in (
        ProtocolInfo("anthropic.messages", "anthropic", "http", "Anthropic Messages API (SSE streaming)"),
        ProtocolInfo("openai.responses", "openai", "http", "OpenAI Responses API (SSE streaming)"),
        ProtocolInfo("openai.chat", "openai", "http", "OpenAI Chat Completions API (SSE chunks)"),
        ProtocolInfo("codex.app-server", "codex", "stdio", "OpenAI Codex app-server JSON-RPC 2.0 over stdio"),
        ProtocolInfo(
            "claude-agent-sdk.query",
            "claudeAgent",
            "stdio",
            "Claude Agent SDK query() boundary as t3code records it",
        ),
        ProtocolInfo(
            "claude-code.stream-json",
            "claudeCode",
            "stdio",
            "Claude Code CLI stream-json (--input-format/--output-format stream-json) over stdio",
        ),
    )
}


def get_protocol(name: str, *, where: str | None = None) -> ProtocolInfo:
    """Return the registered protocol ``name`` or raise an error listing the known ones."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise UnknownProtocolError(name, list(PROTOCOLS), where=where) from None


def known_protocols() -> list[str]:
    """Names of every protocol the transcript format can read, sorted."""
    return sorted(PROTOCOLS)
