"""Protocol adapters: pure maps from each wire protocol to the canonical provider events."""

from harness.adapters.anthropic import AnthropicMessagesAdapter, adapt_frames
from harness.adapters.base import AssistantMessage, ContentItem, ProviderAdapter, RequestTemplate
from harness.errors import UsageError
from harness.transcript.protocols import get_protocol

_ADAPTERS: dict[str, type[AnthropicMessagesAdapter]] = {"anthropic.messages": AnthropicMessagesAdapter}


def get_adapter(protocol: str) -> ProviderAdapter:
    """A new adapter for ``protocol``; unknown protocols list the known ones."""
    get_protocol(protocol)
    try:
        return _ADAPTERS[protocol]()
    except KeyError:
        raise UsageError(
            f"protocol {protocol!r} can be read and validated but not yet replayed through the core; "
            f"replayable protocols: {', '.join(sorted(_ADAPTERS))}"
        ) from None


def replayable_protocols() -> list[str]:
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
