"""Protocol adapters: pure maps from each wire protocol to the canonical provider events."""

from importlib import import_module
from typing import Any

from harness.adapters.anthropic import AnthropicMessagesAdapter, adapt_frames
from harness.adapters.base import AssistantMessage, ContentItem, ProviderAdapter, RequestTemplate
from harness.adapters.runtime import RuntimeAdapter, RuntimeSettings
from harness.errors import UsageError
from harness.transcript.protocols import get_protocol

#: protocol -> "module:class" of its adapter, imported on first use.
_ADAPTERS: dict[str, str] = {
    "anthropic.messages": "harness.adapters.anthropic:AnthropicMessagesAdapter",
    "openai.responses": "harness.adapters.openai_responses:OpenAIResponsesAdapter",
    "openai.chat": "harness.adapters.openai_chat:OpenAIChatAdapter",
}
#: protocol -> ("module:class", constructor keywords) of its agent-runtime adapter.
_RUNTIME_ADAPTERS: dict[str, tuple[str, dict[str, Any]]] = {
    "codex.app-server": ("harness.adapters.codex_app_server:CodexAppServerAdapter", {}),
    "claude-agent-sdk.query": ("harness.adapters.claude_agent_sdk:ClaudeAgentSdkAdapter", {}),
    "claude-code.stream-json": ("harness.adapters.claude_agent_sdk:ClaudeAgentSdkAdapter", {"dialect": "cli"}),
}


def is_runtime_protocol(protocol: str) -> bool:
    """Whether ``protocol`` is an agent runtime (stateful, bidirectional) rather than HTTP."""
    return protocol in _RUNTIME_ADAPTERS


def get_runtime_adapter(protocol: str, **options: Any) -> RuntimeAdapter:
    """A new agent-runtime adapter for ``protocol``, with constructor ``options``."""
    get_protocol(protocol)
    if protocol not in _RUNTIME_ADAPTERS:
        raise UsageError(
            f"protocol {protocol!r} is not an agent runtime; agent runtimes: {', '.join(sorted(_RUNTIME_ADAPTERS))}"
        )
    target, defaults = _RUNTIME_ADAPTERS[protocol]
    module, _, name = target.partition(":")
    adapter: RuntimeAdapter = getattr(import_module(module), name)(**{**defaults, **options})
    return adapter


def get_adapter(protocol: str) -> ProviderAdapter:
    """A new adapter for ``protocol``; unknown protocols list the known ones."""
    get_protocol(protocol)
    if protocol in _RUNTIME_ADAPTERS:
        raise UsageError(
            f"protocol {protocol!r} is an agent runtime; its adapter comes from get_runtime_adapter() and "
            "replays through the Orchestrator"
        )
    target = _ADAPTERS.get(protocol)
    if target is None:
        raise UsageError(
            f"protocol {protocol!r} can be read and validated but not yet replayed through the core; "
            f"replayable protocols: {', '.join(replayable_protocols())}"
        )
    module, _, name = target.partition(":")
    adapter: ProviderAdapter = getattr(import_module(module), name)()
    return adapter


def http_protocols() -> list[str]:
    """Protocols with an HTTP provider adapter, sorted."""
    return sorted(_ADAPTERS)


def replayable_protocols() -> list[str]:
    """Protocols with an adapter (HTTP or agent runtime), sorted."""
    return sorted([*_ADAPTERS, *_RUNTIME_ADAPTERS])


__all__ = [
    "AnthropicMessagesAdapter",
    "AssistantMessage",
    "ContentItem",
    "ProviderAdapter",
    "RequestTemplate",
    "RuntimeAdapter",
    "RuntimeSettings",
    "adapt_frames",
    "get_adapter",
    "get_runtime_adapter",
    "http_protocols",
    "is_runtime_protocol",
    "replayable_protocols",
]
