"""Which provider failures are worth another attempt, and how long to wait first.

The SDK's own retries are off (``max_retries=0``): they cannot retry a stream that broke after it
started, and the event log could not see their attempts. The desk retries whole requests.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import anthropic
import httpx
import httpx2

TRANSIENT_STATUS = frozenset({408, 409, 429})
"""And every 5xx, including Anthropic's 529 overloaded."""
TRANSIENT_ERROR_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error"})
"""Error types a provider sends inside a stream that had started with status 200."""


class StreamTruncated(Exception):
    """The stream ended without ``message_stop``."""


@dataclass(frozen=True)
class Failure:
    error: str
    status: int | None
    retryable: bool
    retry_after: float | None = None


def classify(exc: BaseException) -> Failure:
    """What went wrong with one attempt; unknown exceptions are not retryable."""
    if isinstance(exc, anthropic.APIConnectionError):
        return Failure(f"{type(exc).__name__}: {exc.message}", None, True)
    if isinstance(exc, (httpx2.TransportError, httpx.TransportError)):
        # A stream cut while it is read: the SDK lets the transport error through.
        return Failure(type(exc).__name__, None, True)
    if isinstance(exc, StreamTruncated):
        return Failure(f"StreamTruncated: {exc}", None, True)
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body["error"] if isinstance(body.get("error"), dict) else body
        kind = error.get("type")
        status = exc.status_code
        retryable = status in TRANSIENT_STATUS or status >= 500 or kind in TRANSIENT_ERROR_TYPES
        if exc.response.headers.get("x-should-retry") == "false":
            retryable = False
        return Failure(f"{kind}: {error.get('message') or exc.message}", status, retryable, _retry_after(exc))
    return Failure(f"{type(exc).__name__}: {exc}", None, False)


def _retry_after(exc: anthropic.APIStatusError) -> float | None:
    headers = exc.response.headers
    with contextlib.suppress(TypeError, ValueError):
        if headers.get("retry-after-ms") is not None:
            return float(headers["retry-after-ms"]) / 1000
        if headers.get("retry-after") is not None:
            return float(headers["retry-after"])
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts, exponential backoff; a server's retry-after wins when it says more."""

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 20.0

    def delay(self, attempt: int, failure: Failure) -> float:
        backoff = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return min(self.max_delay, max(backoff, failure.retry_after or 0.0))


class AttemptFailed(Exception):
    """One provider attempt failed; ``started`` says whether its stream had begun."""

    def __init__(self, cause: BaseException, *, started: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.started = started
