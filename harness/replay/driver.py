"""Serve a transcript to the code under test exactly as the provider did, and fail closed.

The driver keeps one cursor over the transcript's entries:

* :meth:`ReplayDriver.receive` hands out ``emit_inbound`` frames in order, advancing the
  injected clock by each frame's ``afterMs``. It returns ``None`` when the next entry is an
  ``expect_outbound`` (the app must speak next), a ``runtime_exit`` or the end.
* :meth:`ReplayDriver.send` checks an outbound frame against the next ``expect_outbound`` with a
  :class:`~harness.replay.matcher.FrameMatcher` (strict, or semantic for another client's recording).
* :meth:`ReplayDriver.finish` raises if entries are left unconsumed.

A transcript without any ``expect_outbound`` replays in stream-only mode: outbound frames are
recorded but not checked, and the app decides where one response ends. A request after the last
recorded response raises :class:`~harness.errors.RecordingEnded` (the capture ends there; the
orchestrator completes the run) when the capture answered an earlier request, and
:class:`~harness.errors.TranscriptExhausted` when it holds no response at all.

The first failure is kept on :attr:`ReplayDriver.failure` so that a caller that turns transport
errors into run failures can still report the precise replay error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import (
    FrameMismatch,
    RecordingEnded,
    ReplayError,
    TranscriptExhausted,
    UnconsumedEntries,
    UnexpectedOutbound,
)
from harness.replay.clock import Clock, LogicalClock
from harness.replay.matcher import FrameMatcher
from harness.transcript import EmitInbound, ExpectOutbound, RuntimeExit, Transcript


@dataclass(frozen=True, slots=True)
class Inbound:
    """One inbound frame as delivered: the frame, where it came from and when (logical ms)."""

    frame: Any
    label: str | None
    entry_index: int
    line: int | None
    at_ms: int


class ReplayDriver:
    """Plays one transcript to one consumer; see the module docstring for the protocol."""

    def __init__(
        self,
        transcript: Transcript,
        *,
        matcher: FrameMatcher | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.transcript = transcript
        self.matcher = matcher or FrameMatcher()
        self.clock: Clock = clock or LogicalClock()
        self.cursor = 0
        self.stream_only = not transcript.has_outbound
        self.sent: list[Any] = []
        self.runtime_exit: RuntimeExit | None = None
        self.failure: ReplayError | None = None
        #: Stream-only: the number of the request that found the capture at its end, if one did.
        self.recording_ended_at: int | None = None
        # Look-ahead answers, kept so that no call rescans the rest of the transcript:
        self._last_inbound: int | None = None  # index of the last emit_inbound (-1: none)
        self._outbound_scan: tuple[int, int | None] | None = None  # (scanned from, next expect_outbound)

    # -- helpers ---------------------------------------------------------------------------

    def fail(self, message: str) -> ReplayError:
        """Record (unless one is kept already) and return a failure at the cursor's position."""
        index = self.cursor
        entry = self.transcript.entries[index] if index < len(self.transcript.entries) else None
        error = ReplayError(
            f"{self.transcript.path}:{self.transcript.line_of(index) if entry is not None else 'end'}: "
            f"with {self._describe(index)} next in the transcript, {message}",
            path=self.transcript.path,
            line=self.transcript.line_of(index) if entry is not None else None,
            entry_index=index,
            label=getattr(entry, "label", None),
        )
        return self._fail(error)

    def _fail(self, error: ReplayError) -> ReplayError:
        if self.failure is None:
            self.failure = error
        return error

    def _describe(self, index: int) -> str:
        if index >= len(self.transcript.entries):
            return "the end of the transcript"
        entry = self.transcript.entries[index]
        label = getattr(entry, "label", None)
        return f"{entry.type}" + (f" ({label})" if label else "")

    @property
    def remaining(self) -> int:
        """Entries not yet consumed."""
        return len(self.transcript.entries) - self.cursor

    # -- the protocol ----------------------------------------------------------------------

    def send(self, frame: Any) -> None:
        """Deliver an outbound frame; in strict mode it must equal the next ``expect_outbound``."""
        self.sent.append(frame)
        if self.stream_only:
            last = self._last_inbound_index()
            if last < self.cursor:
                # No path in the message: it lands in event logs, which must not depend on
                # how the transcript's path was spelled.
                message = f"the stream-only recording ends here; it has no response to request {len(self.sent)}"
                if last < 0:
                    raise TranscriptExhausted(message, path=self.transcript.path, entry_index=self.cursor)
                self.recording_ended_at = len(self.sent)
                raise RecordingEnded(message, path=self.transcript.path, entry_index=self.cursor)
            return
        entries = self.transcript.entries
        index = self.cursor
        entry = entries[index] if index < len(entries) else None
        if not isinstance(entry, ExpectOutbound):
            raise self._fail(
                UnexpectedOutbound(
                    actual=frame,
                    found=self._describe(index),
                    path=self.transcript.path,
                    line=self.transcript.line_of(index),
                    entry_index=index,
                )
            )
        difference = self.matcher.difference(entry.frame, frame)
        if difference is not None:
            raise self._fail(
                FrameMismatch(
                    expected=entry.frame,
                    actual=frame,
                    json_path=difference.json_path,
                    expected_value=difference.expected,
                    actual_value=difference.actual,
                    path=self.transcript.path,
                    line=self.transcript.line_of(index),
                    entry_index=index,
                    label=entry.label,
                    recorded_at=difference.recorded_at,
                )
            )
        self.cursor += 1

    def receive(self) -> Inbound | None:
        """The next inbound frame, or None when the app must send, the runtime exited or it is over."""
        entries = self.transcript.entries
        if self.cursor >= len(entries):
            return None
        entry = entries[self.cursor]
        if isinstance(entry, RuntimeExit):
            self.runtime_exit = entry
            self.cursor += 1
            return None
        if isinstance(entry, ExpectOutbound):
            return None
        assert isinstance(entry, EmitInbound)
        if entry.after_ms:
            self.clock.advance(entry.after_ms)
        index = self.cursor
        self.cursor += 1
        return Inbound(
            frame=entry.frame,
            label=entry.label,
            entry_index=index,
            line=self.transcript.line_of(index),
            at_ms=self.clock.now_ms(),
        )

    def peek_inbound(self) -> Any:
        """The frame of the next entry when it is an ``emit_inbound``, else None; nothing is consumed."""
        entries = self.transcript.entries
        entry = entries[self.cursor] if self.cursor < len(entries) else None
        return entry.frame if isinstance(entry, EmitInbound) else None

    def peek_outbound(self) -> ExpectOutbound | None:
        """The next recorded ``expect_outbound`` at or after the cursor, without consuming anything.

        The answer is kept until the cursor passes it, so asking once per tool call costs one
        scan of the transcript in total, not one per call.
        """
        entries = self.transcript.entries
        scan = self._outbound_scan
        if scan is not None and scan[0] <= self.cursor and (scan[1] is None or scan[1] >= self.cursor):
            found = scan[1]
        else:
            found = None
            for index in range(self.cursor, len(entries)):
                if isinstance(entries[index], ExpectOutbound):
                    found = index
                    break
            self._outbound_scan = (self.cursor, found)
        if found is None:
            return None
        entry = entries[found]
        assert isinstance(entry, ExpectOutbound)
        return entry

    def _last_inbound_index(self) -> int:
        """Index of the transcript's last ``emit_inbound`` (-1 when there is none), found once."""
        if self._last_inbound is None:
            entries = self.transcript.entries
            self._last_inbound = next(
                (i for i in range(len(entries) - 1, -1, -1) if isinstance(entries[i], EmitInbound)), -1
            )
        return self._last_inbound

    def finish(self) -> None:
        """Raise :class:`UnconsumedEntries` unless every entry was consumed.

        A trailing ``runtime_exit`` counts as consumed: it is the process ending.
        """
        entries = self.transcript.entries
        while self.cursor < len(entries) and isinstance(entries[self.cursor], RuntimeExit):
            self.runtime_exit = entries[self.cursor]  # type: ignore[assignment]
            self.cursor += 1
        if self.cursor < len(entries):
            remaining: list[tuple[int, str, str | None]] = [
                (self.transcript.line_of(i) or i + 2, entries[i].type, getattr(entries[i], "label", None))
                for i in range(self.cursor, len(entries))
            ]
            raise self._fail(UnconsumedEntries(remaining=remaining, path=self.transcript.path))


class ReplayLink:
    """A :class:`ReplayDriver` seen as an agent runtime's link: the exit is an event, not a stop.

    :meth:`receive` returns the next inbound frame, the :class:`RuntimeExit` entry when the
    runtime process ended (so the adapter can end its turns and sessions), or None when the app
    must send next or the transcript is over.
    """

    def __init__(self, driver: ReplayDriver) -> None:
        self.driver = driver

    def send(self, frame: Any) -> None:
        self.driver.send(frame)

    def peek_inbound(self) -> Any:
        """The next ``emit_inbound`` frame, without consuming it (see :meth:`ReplayDriver.peek_inbound`)."""
        return self.driver.peek_inbound()

    def receive(self) -> Inbound | RuntimeExit | None:
        before = self.driver.cursor
        inbound = self.driver.receive()
        if inbound is None and self.driver.cursor > before and self.driver.runtime_exit is not None:
            return self.driver.runtime_exit
        return inbound
