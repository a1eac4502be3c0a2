"""Outbound-frame matching: the JSON path subset, ignores, and where two frames first differ."""

from __future__ import annotations

from typing import Any

import pytest

from harness.errors import UsageError
from harness.limits import format_json_path
from harness.replay.matcher import MISSING, WILDCARD, FrameMatcher, first_difference, parse_json_path

# -- parse_json_path ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("$", ()),
        ("$.body", ("body",)),
        ("$.body.metadata", ("body", "metadata")),
        ("$.a.b-c", ("a", "b-c")),
        ("$.headers['user-agent']", ("headers", "user-agent")),
        ('$.headers["x y"]', ("headers", "x y")),
        ("$['it\\'s']", ("it's",)),
        ("$.body.messages[0]", ("body", "messages", 0)),
        ("$.body.messages[12].id", ("body", "messages", 12, "id")),
        ("$.body.messages[*].id", ("body", "messages", WILDCARD, "id")),
        ("$.body.*.cache_control", ("body", WILDCARD, "cache_control")),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_parse_json_path_forms(path: str, segments: tuple[Any, ...]) -> None:
    assert parse_json_path(path) == segments


@pytest.mark.parametrize("path", ["body.metadata", "", "$.", "$a", "$..a", "$[x]", "$.a[", "$[-1]", "$.1a", "$.a b"])
def test_bad_json_paths_are_usage_errors(path: str) -> None:
    with pytest.raises(UsageError, match="JSON path"):
        parse_json_path(path)


def test_a_bad_path_error_says_where_it_stopped() -> None:
    with pytest.raises(UsageError, match=r"cannot parse '\[x\]' at offset 6"):
        parse_json_path("$.body[x]")


@pytest.mark.parametrize("segments", [("a", 0, "b"), ("user-agent",), ("it's",), ("x y", 3)])
def test_format_json_path_round_trips_through_parse(segments: tuple[str | int, ...]) -> None:
    assert parse_json_path(format_json_path(segments)) == segments


def test_format_json_path_quotes_keys_that_are_not_identifiers() -> None:
    assert format_json_path(["headers", "user-agent", 0]) == "$.headers['user-agent'][0]"


# -- ignore ---------------------------------------------------------------------------------------


def normalize(paths: list[str], frame: Any) -> Any:
    return FrameMatcher.from_paths(paths).normalize(frame)


def test_ignore_removes_a_key() -> None:
    assert normalize(["$.body.metadata"], {"body": {"metadata": {"user": "u"}, "model": "m"}}) == {
        "body": {"model": "m"}
    }


def test_ignore_removes_a_quoted_key() -> None:
    frame = {"headers": {"user-agent": "x/1", "accept": "json"}}
    assert normalize(["$.headers['user-agent']"], frame) == {"headers": {"accept": "json"}}


def test_ignore_removes_a_list_item() -> None:
    assert normalize(["$.items[1]"], {"items": ["a", "b", "c"]}) == {"items": ["a", "c"]}


def test_ignore_with_a_list_wildcard_reaches_into_every_item() -> None:
    frame = {"messages": [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}]}
    assert normalize(["$.messages[*].id"], frame) == {"messages": [{"text": "a"}, {"text": "b"}]}


def test_ignore_with_an_object_wildcard_reaches_into_every_value() -> None:
    frame = {"tools": {"a": {"cache_control": 1, "name": "a"}, "b": {"name": "b"}}}
    assert normalize(["$.tools.*.cache_control"], frame) == {"tools": {"a": {"name": "a"}, "b": {"name": "b"}}}


def test_ignore_with_a_trailing_wildcard_empties_the_container() -> None:
    assert normalize(["$.a[*]", "$.b.*"], {"a": [1, 2], "b": {"x": 1}}) == {"a": [], "b": {}}


def test_ignore_of_a_path_that_matches_nothing_changes_nothing() -> None:
    frame = {"body": {"model": "m"}, "items": [1]}
    assert normalize(["$.body.metadata", "$.items[5]", "$.body.model.deeper"], frame) == frame


def test_ignore_does_not_modify_the_frame_it_was_given() -> None:
    frame = {"body": {"metadata": 1, "model": "m"}}
    normalize(["$.body.metadata"], frame)
    assert frame == {"body": {"metadata": 1, "model": "m"}}


def test_compare_applies_the_ignores_to_both_sides() -> None:
    matcher = FrameMatcher.from_paths(["$.body.metadata"])
    assert matcher.compare({"body": {"metadata": 1}}, {"body": {}}) is None
    assert matcher.compare({"body": {"metadata": 1, "model": "a"}}, {"body": {"metadata": 2, "model": "b"}}) == (
        "$.body.model",
        "a",
        "b",
    )


def test_matcher_from_bad_paths_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        FrameMatcher.from_paths(["$.ok", "not-a-path"])


# -- first_difference --------------------------------------------------------------------------------


def test_equal_values_have_no_difference_whatever_the_key_order() -> None:
    assert first_difference({"a": 1, "b": [1, {"c": None}]}, {"b": [1, {"c": None}], "a": 1}) is None


def test_true_and_one_differ() -> None:
    assert first_difference({"stream": True}, {"stream": 1}) == ("$.stream", True, 1)


def test_false_and_zero_differ() -> None:
    assert first_difference([False], [0]) == ("$[0]", False, 0)


def test_an_int_equals_the_same_float() -> None:
    assert first_difference({"temperature": 1}, {"temperature": 1.0}) is None


def test_a_missing_key_on_the_actual_side() -> None:
    assert first_difference({"a": 1, "b": 2}, {"a": 1}) == ("$.b", 2, MISSING)


def test_an_extra_key_on_the_actual_side() -> None:
    assert first_difference({"a": 1}, {"a": 1, "z": 0}) == ("$.z", MISSING, 0)


def test_a_longer_actual_list_differs_at_the_first_extra_index() -> None:
    assert first_difference({"m": [1, 2]}, {"m": [1, 2, 3]}) == ("$.m[2]", MISSING, 3)


def test_a_shorter_actual_list_differs_at_the_first_missing_index() -> None:
    assert first_difference({"m": [1, 2, 3]}, {"m": [1, 2]}) == ("$.m[2]", 3, MISSING)


def test_an_element_difference_comes_before_a_length_difference() -> None:
    assert first_difference([1, 2], [1, 9, 3]) == ("$[1]", 2, 9)


def test_the_first_difference_is_in_sorted_key_order() -> None:
    assert first_difference({"b": 1, "a": 1}, {"b": 2, "a": 2}) == ("$.a", 1, 2)


def test_the_path_quotes_keys_that_are_not_identifiers() -> None:
    expected = {"headers": {"user-agent": "a"}}
    assert first_difference(expected, {"headers": {"user-agent": "b"}}) == ("$.headers['user-agent']", "a", "b")


def test_an_object_and_a_list_differ_at_their_path() -> None:
    assert first_difference({"a": {}}, {"a": []}) == ("$.a", {}, [])


def test_null_and_zero_differ_at_the_root() -> None:
    assert first_difference(None, 0) == ("$", None, 0)


def test_missing_renders_as_missing() -> None:
    assert repr(MISSING) == "<missing>"
