"""Split server-sent-event text into raw events, remembering the source line of each one.

This is the framing half of the WHATWG event-stream algorithm
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation),
done on text already in memory and without any JSON parsing: turning ``data`` into frames is the
importer's job, so this module stays a pure function of its input.

Differences from a browser, each chosen because a recording is evidence, not a live connection:

* An event still pending at the end of the text is kept (a browser drops it). Five of the seven
  anthropic-sdk fixtures end right after their last ``data:`` line with no blank line, and the
  ``message_stop`` there was certainly sent. :attr:`SseParse.unterminated` says when it happened.
* ``id:`` and ``retry:`` and unknown fields are ignored but counted, so the importer can warn.
* An event name with no ``data:`` line is dropped (as in a browser) and counted.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

# SSE lines end in CRLF, LF or CR. str.splitlines() would also split on U+2028, U+0085 and other
# characters that may legally appear raw inside a JSON string, so split on exactly these three.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class RawSseEvent:
    """One dispatched event: its ``event:`` name (None when absent), joined data, source lines."""

    event: str | None
    data: str
    first_line: int
    last_line: int


@dataclass(frozen=True, slots=True)
class SseParse:
    """Everything :func:`parse_sse` found: the events and what it skipped or had to assume."""

    events: tuple[RawSseEvent, ...]
    comments: int
    ignored_fields: tuple[tuple[str, int], ...]
    dropped_without_data: int
    unterminated: bool


def split_lines(text: str) -> list[str]:
    """Lines of ``text`` split on CRLF, LF or CR; a final line break does not start a new line."""
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def parse_sse(text: str) -> SseParse:
    """Split an event stream into events; line numbers are 1-based positions in ``text``.

    Several ``data:`` lines in one event are joined with ``"\\n"``, as the SSE spec says. A single
    space after the colon is removed; everything else, including trailing padding, is kept.

    >>> parse_sse("event: ping\\ndata: {}\\n\\n").events
    (RawSseEvent(event='ping', data='{}', first_line=2, last_line=2),)
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    events: list[RawSseEvent] = []
    comments = 0
    ignored: Counter[str] = Counter()
    dropped = 0
    event_name: str | None = None
    data_lines: list[str] = []
    first_data_line = 0
    last_data_line = 0
    pending_name = False

    def dispatch() -> None:
        nonlocal event_name, data_lines, pending_name, dropped
        if data_lines:
            events.append(RawSseEvent(event_name, "\n".join(data_lines), first_data_line, last_data_line))
        elif pending_name:
            dropped += 1
        event_name, data_lines, pending_name = None, [], False

    for number, line in enumerate(split_lines(text), start=1):
        if line == "":
            dispatch()
            continue
        if line.startswith(":"):
            comments += 1
            continue
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            event_name = value or None
            pending_name = True
        elif field == "data":
            if not data_lines:
                first_data_line = number
            data_lines.append(value)
            last_data_line = number
        else:
            ignored[field] += 1
    unterminated = bool(data_lines)
    dispatch()
    return SseParse(
        events=tuple(events),
        comments=comments,
        ignored_fields=tuple(sorted(ignored.items())),
        dropped_without_data=dropped,
        unterminated=unterminated,
    )


class SseDecoder:
    """Incremental SSE framing for a live stream: feed bytes as they arrive, get whole events.

    The same rules as :func:`parse_sse` (LF, CRLF or CR line ends; blank line dispatches; one
    space after the colon removed; comments, ``id:`` and ``retry:`` ignored), applied to a stream
    that arrives in arbitrary chunks, so a recording can write each event the moment it is
    complete. A line end split across two chunks (``\\r`` then ``\\n``) is handled.

    >>> decoder = SseDecoder()
    >>> decoder.feed(b"event: ping\\ndata: {}")
    []
    >>> decoder.feed(b"\\n\\n")
    [('ping', '{}')]
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[str] = []
        self._bom_checked = False
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[tuple[str | None, str]]:
        """Add bytes; return the ``(event name, data)`` of every event completed by them."""
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._pending_cr = False
        self._buffer += chunk
        if not self._bom_checked and len(self._buffer) >= 3:
            self._buffer = self._buffer.removeprefix(b"\xef\xbb\xbf")
            self._bom_checked = True
        events: list[tuple[str | None, str]] = []
        while True:
            cut = min((i for i in (self._buffer.find(b"\n"), self._buffer.find(b"\r")) if i >= 0), default=-1)
            if cut < 0:
                return events
            line = self._buffer[:cut]
            end = cut + 1
            if self._buffer[cut : cut + 1] == b"\r":
                if end < len(self._buffer):
                    if self._buffer[end : end + 1] == b"\n":
                        end += 1
                else:
                    self._pending_cr = True
            self._buffer = self._buffer[end:]
            self._line(line.decode("utf-8", errors="replace"), events)

    def _line(self, line: str, events: list[tuple[str | None, str]]) -> None:
        if line == "":
            if self._data:
                events.append((self._event, "\n".join(self._data)))
            self._event, self._data = None, []
            return
        if line.startswith(":"):
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value or None
        elif name == "data":
            self._data.append(value)

    def close(self) -> list[tuple[str | None, str]]:
        """End of stream: an event still pending (no blank line after it) is returned, as
        :func:`parse_sse` keeps it."""
        events: list[tuple[str | None, str]] = []
        if self._buffer:
            self._line(self._buffer.decode("utf-8", errors="replace"), events)
            self._buffer = b""
        if self._data:
            events.append((self._event, "\n".join(self._data)))
        self._event, self._data = None, []
        return events
