"""TextBuffer: streamed text grows in linear time and near-flat memory."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.text import FOLD_EVERY, TextBuffer


def test_reads_see_every_append_in_order() -> None:
    buffer = TextBuffer("ab")
    buffer.append("c")
    assert buffer.text == "abc"
    buffer.append("d")
    buffer.append("")
    assert buffer.text == "abcd"
    assert TextBuffer().text == ""


@settings(max_examples=60, derandomize=True)
@given(st.lists(st.text(max_size=4), max_size=3 * FOLD_EVERY), st.sets(st.integers(0, 3 * FOLD_EVERY), max_size=5))
def test_any_mix_of_appends_and_reads_gives_the_concatenation(fragments: list[str], reads: set[int]) -> None:
    buffer = TextBuffer()
    for position, fragment in enumerate(fragments):
        if position in reads:
            assert buffer.text == "".join(fragments[:position])
        buffer.append(fragment)
    assert buffer.text == "".join(fragments)


def test_fragments_are_folded_so_a_long_stream_does_not_keep_one_object_per_fragment() -> None:
    buffer = TextBuffer()
    for _ in range(10 * FOLD_EVERY + 3):
        buffer.append("xy")
    assert len(buffer._parts) == 3
    assert len(buffer._chunks) == 10
    assert buffer.text == "xy" * (10 * FOLD_EVERY + 3)
    assert len(buffer._chunks) == 1 and not buffer._parts
