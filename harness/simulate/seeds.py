"""Seeded, portable randomness for simulations.

Every random choice of a simulation comes from an :class:`Rng` whose state is derived from the
run's integer seed and a *path* of names (``derive(seed, "plan")``, ``derive(seed, "schedule")``),
by SHA-256. The generator is SplitMix64 in plain integer arithmetic, so a seed gives the same
stream on every platform, in every process, under every ``PYTHONHASHSEED`` and on every Python
version; nothing here uses :mod:`random`, whose derived methods (``randrange``, ``choice``,
``shuffle``) may change between Python releases.
"""

from __future__ import annotations

import hashlib
from collections.abc import MutableSequence, Sequence
from typing import TypeVar

T = TypeVar("T")
_MASK = (1 << 64) - 1


def derive(seed: int, *path: str | int) -> int:
    """A 64-bit sub-seed for ``path`` under ``seed``: independent streams for independent choices."""
    text = "/".join([str(seed), *(str(part) for part in path)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


class Rng:
    """SplitMix64: a tiny, fast, fully specified 64-bit generator.

    >>> Rng(derive(7, "plan")).below(10) == Rng(derive(7, "plan")).below(10)
    True
    """

    __slots__ = ("_state",)

    def __init__(self, seed: int) -> None:
        self._state = seed & _MASK

    def next64(self) -> int:
        """The next 64-bit value."""
        self._state = (self._state + 0x9E3779B97F4A7C15) & _MASK
        z = self._state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        """A value in ``range(n)`` (``n >= 1``), by multiply-shift (no floats)."""
        if n < 1:
            raise ValueError(f"below() needs n >= 1, found {n}")
        return (self.next64() * n) >> 64

    def between(self, low: int, high: int) -> int:
        """A value in ``[low, high]``, both included."""
        return low + self.below(high - low + 1)

    def chance(self, per_mille: int) -> bool:
        """True with probability ``per_mille / 1000``."""
        return self.below(1000) < per_mille

    def choice(self, items: Sequence[T]) -> T:
        """One of ``items`` (not empty)."""
        return items[self.below(len(items))]

    def shuffle(self, items: MutableSequence[T]) -> None:
        """Fisher-Yates, in place."""
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]
