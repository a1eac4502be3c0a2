"""When to try a provider request again, and how long to wait first.

The SDKs' own retries are switched off (``max_retries=0``): they would retry inside one
``messages.stream`` call, where the event log cannot see the attempt, and they cannot retry a
stream that broke after it started. The orchestrators retry whole requests with this policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anthropic
import httpx2
import openai

TRANSIENT_STATUS = frozenset({408, 409, 429})
"""Request timeout, lock conflict, rate limit; and every 5xx, including Anthropic's 529 overloaded."""

TRANSIENT_ERROR_TYPES = frozenset(
    {"overloaded_error", "api_error", "rate_limit_error", "server_error", "rate_limit_exceeded", "stream_truncated"}
)
"""Error types and codes a provider sends inside a stream that had started with status 200."""


@dataclass(frozen=True)
class Failure:
    """What went wrong with one attempt, in the terms the event log uses."""

    error: str
    status: int | None
    retryable: bool
    retry_after: float | None = None


def classify(exc: BaseException) -> Failure:
    """Describe a provider error; unknown exceptions are not retryable."""
    if isinstance(exc, anthropic.APIConnectionError) and isinstance(exc.__cause__, httpx2.TransportError):
        # A stream cut while it was being read: anthropic 2.17 and later wrap the transport error
        # (earlier releases let it through, below). Its text names library internals.
        return Failure(type(exc.__cause__).__name__, None, retryable=True)
    if isinstance(exc, (anthropic.APIConnectionError, openai.APIConnectionError)):
        return Failure(f"{type(exc).__name__}: {exc.message}", None, retryable=True)
    if isinstance(exc, httpx2.TransportError):
        return Failure(type(exc).__name__, None, retryable=True)
    if isinstance(exc, (anthropic.APIStatusError, openai.APIStatusError)):
        status = exc.status_code
        # Anthropic keeps the whole body ({"type": "error", "error": {...}}); OpenAI the inner error.
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body["error"] if isinstance(body.get("error"), dict) else body
        kind = error.get("code") or error.get("type")
        message = error.get("message") or exc.message
        retryable = status in TRANSIENT_STATUS or status >= 500 or kind in TRANSIENT_ERROR_TYPES
        if exc.response.headers.get("x-should-retry") == "false":
            retryable = False
        return Failure(f"{kind}: {message}" if kind else message, status, retryable, _retry_after(exc))
    if isinstance(exc, StreamError):
        return Failure(str(exc), None, exc.code in TRANSIENT_ERROR_TYPES)
    return Failure(f"{type(exc).__name__}: {exc}", None, retryable=False)


def _retry_after(exc: anthropic.APIStatusError | openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date; the exponential backoff is close enough


class StreamError(Exception):
    """The provider reported a failure inside a stream (OpenAI ``response.failed``)."""

    def __init__(self, code: str | None, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts with exponential backoff; a server's ``retry-after`` wins when it says more.

    ``sleep`` is injected so tests never wait: pass an ``async def`` that records the delay.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def delay(self, attempt: int, failure: Failure) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        backoff = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        if failure.retry_after is not None:
            return min(self.max_delay, max(backoff, failure.retry_after))
        return backoff

    def should_retry(self, attempt: int, failure: Failure) -> bool:
        return failure.retryable and attempt < self.max_attempts
