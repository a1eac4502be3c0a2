"""Protocol adapters: pure maps from each wire protocol to the canonical provider events."""

from importlib import import_module

from harness.adapters.anthropic import AnthropicMessagesAdapter, adapt_frames
from harness.adapters.base import AssistantMessage, ContentItem, ProviderAdapter, RequestTemplate
from harness.errors import UsageError
from harness.transcript.protocols import get_protocol

#: protocol -> "module:class" of its adapter, imported on first use.
_ADAPTERS: dict[str, str] = {
    "anthropic.messages": "harness.adapters.anthropic:AnthropicMessagesAdapter",
    "openai.responses": "harness.adapters.openai_responses:OpenAIResponsesAdapter",
    "openai.chat": "harness.adapters.openai_chat:OpenAIChatAdapter",
}


def get_adapter(protocol: str) -> ProviderAdapter:
    """A new adapter for ``protocol``; unknown protocols list the known ones."""
    get_protocol(protocol)
    target = _ADAPTERS.get(protocol)
    if target is None:
        raise UsageError(
            f"protocol {protocol!r} can be read and validated but not yet replayed through the core; "
            f"replayable protocols: {', '.join(replayable_protocols())}"
        )
    module, _, name = target.partition(":")
    adapter: ProviderAdapter = getattr(import_module(module), name)()
    return adapter


def replayable_protocols() -> list[str]:
    """Protocols with an adapter, sorted."""
    return sorted(_ADAPTERS)


__all__ = [
    "AnthropicMessagesAdapter",
    "AssistantMessage",
    "ContentItem",
    "ProviderAdapter",
    "RequestTemplate",
    "adapt_frames",
    "get_adapter",
    "replayable_protocols",
]
