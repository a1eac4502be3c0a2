"""The protocols a transcript may name, and how their frames are validated.

A protocol is known when the transcript format can read it; whether it can also be replayed
through the core depends on an adapter being registered (``harness.adapters.replayable_protocols``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

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


PROTOCOL_HOSTS: dict[str, str] = {"api.anthropic.com": "anthropic.messages"}
"""A request to one of these hosts was made with the mapped protocol."""

PROTOCOL_PATHS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/v1/messages$"), "anthropic.messages"),
    # Claude on Google Vertex AI: the Messages API behind .../publishers/anthropic/models/<model>.
    (re.compile(r"/publishers/anthropic/models/[^/]+:(?:streamRawPredict|rawPredict)$"), "anthropic.messages"),
    # POST .../responses creates a response; GET .../responses/<id> resumes its stream.
    (re.compile(r"/responses(?:/[^/]+)?$"), "openai.responses"),
    (re.compile(r"/chat/completions$"), "openai.chat"),
)
"""A request whose URL path matches one of these (any host: compatible providers, gateways)."""


def protocol_from_url(uri: str) -> str | None:
    """The protocol a request URL implies, else None.

    The path decides first (``…/v1/messages``, Vertex AI's
    ``…/publishers/anthropic/models/<model>:streamRawPredict`` or ``:rawPredict``,
    ``…/responses[/<id>]``, ``…/chat/completions``), because one host serves several protocols;
    a known host decides otherwise.

    >>> protocol_from_url("https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5"
    ...                   "/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict")
    'anthropic.messages'
    >>> protocol_from_url("https://oauth2.googleapis.com/token") is None
    True
    """
    url = urlsplit(uri)
    path = url.path.rstrip("/")
    for pattern, protocol in PROTOCOL_PATHS:
        if pattern.search(path):
            return protocol
    return PROTOCOL_HOSTS.get((url.hostname or "").lower())
