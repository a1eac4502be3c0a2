"""SSE framing: events, line numbers, data joining, comments and the end of the stream."""

from __future__ import annotations

import pytest

from harness.record.sse import RawSseEvent, parse_sse, split_lines


def test_named_events_keep_name_data_and_line():
    parsed = parse_sse('event: ping\ndata: {}\n\nevent: message_stop\ndata: {"a":1}\n\n')
    assert parsed.events == (
        RawSseEvent("ping", "{}", 2, 2),
        RawSseEvent("message_stop", '{"a":1}', 5, 5),
    )
    assert not parsed.unterminated


def test_multiple_data_lines_join_with_newline():
    parsed = parse_sse('data: {"text":\ndata: "two lines"}\n\n')
    assert parsed.events == (RawSseEvent(None, '{"text":\n"two lines"}', 1, 2),)


def test_comment_lines_are_skipped_and_counted():
    parsed = parse_sse(": keep-alive\ndata: 1\n\n: another\n\n")
    assert [e.data for e in parsed.events] == ["1"]
    assert parsed.comments == 2


def test_only_one_space_after_the_colon_is_removed_and_padding_is_kept():
    parsed = parse_sse("data:  {}   \n\n")
    assert parsed.events[0].data == " {}   "


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_all_three_line_endings_frame_events(newline):
    text = newline.join(["event: a", "data: 1", "", "event: b", "data: 2", "", ""])
    assert [(e.event, e.data, e.first_line) for e in parse_sse(text).events] == [("a", "1", 2), ("b", "2", 5)]


def test_line_separator_inside_json_does_not_split_a_line():
    assert split_lines('data: {"t":"a\u2028b"}\n') == ['data: {"t":"a\u2028b"}']


def test_event_pending_at_end_of_text_is_kept_and_flagged():
    parsed = parse_sse("event: message_stop\ndata: {}")
    assert parsed.events == (RawSseEvent("message_stop", "{}", 2, 2),)
    assert parsed.unterminated


def test_event_name_without_data_is_dropped_and_counted():
    parsed = parse_sse("event: ping\n\ndata: 1\n\n")
    assert [e.data for e in parsed.events] == ["1"]
    assert parsed.dropped_without_data == 1


def test_id_and_retry_fields_are_ignored_and_counted():
    parsed = parse_sse("id: 7\nretry: 10\nid: 8\ndata: 1\n\n")
    assert parsed.ignored_fields == (("id", 2), ("retry", 1))
    assert [e.data for e in parsed.events] == ["1"]


def test_leading_byte_order_mark_is_ignored():
    assert parse_sse("\ufeffevent: a\ndata: 1\n\n").events == (RawSseEvent("a", "1", 2, 2),)
