"""Ids depend only on the seed and the order of requests."""

from __future__ import annotations

import re

from harness.core.ids import IdAllocator


def draw(allocator: IdAllocator) -> list[str]:
    return [allocator.new("thread"), allocator.new("command"), allocator.new("thread")]


def test_the_same_seed_gives_the_same_ids() -> None:
    assert draw(IdAllocator(seed=7)) == draw(IdAllocator(seed=7))


def test_different_seeds_give_different_ids() -> None:
    assert draw(IdAllocator(seed=1)) != draw(IdAllocator(seed=2))


def test_ids_are_a_prefix_and_eight_hex_digits() -> None:
    for value in draw(IdAllocator()):
        assert re.fullmatch(r"(thread|command)-[0-9a-f]{8}", value)


def test_successive_ids_of_one_allocator_differ() -> None:
    allocator = IdAllocator(seed=3)
    assert len({allocator.new("x") for _ in range(100)}) == 100


def test_ordinals_count_from_one_per_scope() -> None:
    allocator = IdAllocator()
    assert [allocator.next_ordinal("run:a"), allocator.next_ordinal("run:a"), allocator.next_ordinal("run:b")] == [
        1,
        2,
        1,
    ]


def test_ordinals_do_not_disturb_the_id_sequence() -> None:
    plain, mixed = IdAllocator(seed=5), IdAllocator(seed=5)
    first = plain.new("t")
    mixed.next_ordinal("run:t")
    assert mixed.new("t") == first
