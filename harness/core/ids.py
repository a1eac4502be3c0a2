"""Deterministic ids: derived from structure where possible, else from a seeded allocator."""

from __future__ import annotations

import random


class IdAllocator:
    """Hands out ids that depend only on the seed and the order of requests.

    >>> IdAllocator(seed=7).new("thread") == IdAllocator(seed=7).new("thread")
    True
    """

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)
        self._counts: dict[str, int] = {}

    def new(self, prefix: str) -> str:
        """``<prefix>-<8 hex digits>``, reproducible for a given seed and call order."""
        return f"{prefix}-{self._random.getrandbits(32):08x}"

    def next_ordinal(self, scope: str) -> int:
        """1, 2, 3, ... per scope."""
        self._counts[scope] = self._counts.get(scope, 0) + 1
        return self._counts[scope]
