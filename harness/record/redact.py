"""Keep secrets out of imported transcripts: header allowlists and API-key scrubbing.

Two independent layers, both always on:

1. Headers are copied only when their (lower-cased) name is on an allowlist. Credentials such as
   ``authorization``, ``x-api-key``, ``api-key``, ``cookie``, ``set-cookie`` and
   ``proxy-authorization`` are never on it, so they can never reach a transcript.
2. Every string anywhere in request and response JSON (and in kept header and query values) is
   searched for things that look like API keys; each match is replaced by ``<redacted>`` and
   counted. Only the match is replaced, so the rest of the string survives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "<redacted>"

REQUEST_HEADER_ALLOWLIST: frozenset[str] = frozenset(
    {"anthropic-version", "anthropic-beta", "content-type", "accept", "openai-beta"}
)
"""Request headers worth keeping: they change what the provider does and hold no secret."""

RESPONSE_HEADER_ALLOWLIST: frozenset[str] = frozenset({"content-type", "request-id", "x-request-id"})
"""Response headers worth keeping: the stream's media type and the provider's request id."""

SECRET_HEADERS: frozenset[str] = frozenset(
    {"authorization", "x-api-key", "api-key", "cookie", "set-cookie", "proxy-authorization"}
)
"""Headers that carry credentials; listed for documentation and tests, never copied."""

# The left look-behind keeps ordinary words from matching: without it "risk-assessment-for-the-
# quarterly-report" would contain "sk-" followed by 20+ key characters. Bearer tokens need 16+
# characters so that prose such as "Bearer authentication" is left alone; real tokens (API keys,
# OAuth tokens, JWTs) are far longer.
SECRET_PATTERN = re.compile(
    r"(?<![A-Za-z0-9])sk-ant-[A-Za-z0-9_\-]{10,}"
    r"|(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-]{20,}"
    r"|\b(?i:bearer)\s+[A-Za-z0-9\-._~+/]{16,}=*"
)
"""What counts as a secret inside a string: Anthropic and OpenAI-style keys, bearer tokens."""


def redact_text(text: str) -> tuple[str, int]:
    """Return ``text`` with every secret-looking match replaced by ``<redacted>``, and the count.

    >>> redact_text("key=sk-ant-api03-abcdefghijkl rest")
    ('key=<redacted> rest', 1)
    """
    return SECRET_PATTERN.subn(REDACTED, text)


def redact_json(value: Any) -> tuple[Any, int]:
    """Return a copy of a JSON value with every string value scrubbed, and the number of matches.

    Object keys are left alone (they are field names, not data); key order is preserved.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        total = 0
        scrubbed: dict[str, Any] = {}
        for key, item in value.items():
            scrubbed[key], count = redact_json(item)
            total += count
        return scrubbed, total
    if isinstance(value, list):
        total = 0
        items: list[Any] = []
        for item in value:
            clean, count = redact_json(item)
            items.append(clean)
            total += count
        return items, total
    return value, 0


def keep_headers(headers: Iterable[tuple[str, str]], allowlist: frozenset[str]) -> tuple[dict[str, str], int]:
    """Allowlisted headers with lower-cased names, sorted by name, values scrubbed; and the count.

    When a name repeats, the first value wins (as in vcrpy's ``HeadersDict``).
    """
    kept: dict[str, str] = {}
    total = 0
    for name, value in headers:
        key = name.lower()
        if key in allowlist and key not in kept:
            kept[key], count = redact_text(value)
            total += count
    return dict(sorted(kept.items())), total


def redact_mapping(values: Mapping[str, str]) -> tuple[dict[str, str], int]:
    """Scrub every value of a string mapping (used for URL query parameters)."""
    total = 0
    clean: dict[str, str] = {}
    for key, value in values.items():
        clean[key], count = redact_text(value)
        total += count
    return clean, total
