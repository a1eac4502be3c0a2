"""Every error the harness raises, rooted at :class:`HarnessError`.

Two families, so callers (the CLI, the pytest plugin, CI) can tell "you used it wrong" from
"the system under test broke a contract"::

    HarnessError
    ├── UsageError                    bad input from the user: exit code 2
    │   ├── TranscriptError           a transcript file is malformed (file, line, what is wrong)
    │   ├── UnknownProtocolError      a protocol name nobody registered (lists the known ones)
    │   ├── ScenarioError             a scenario file is malformed (file, field, what is wrong)
    │   ├── ImportSourceError         an import source cannot be read or classified
    │   ├── EventLogError             a user's event log holds something that is not JSON (event index, JSON path)
    │   ├── RuleDeclarationError      an event-rule declaration is malformed (file, JSON path, what is wrong)
    │   ├── OutputError               a file cannot be written (path, reason); the previous file is kept
    │   └── GoldenError               a golden file is unreadable or lies outside the goldens dir (file, line)
    └── CheckFailure                  the system under test broke a contract: exit code 1
        ├── ReplayError               the replay driver saw something it did not expect
        │   ├── FrameMismatch         an outbound frame differs from the recorded one
        │   ├── UnexpectedOutbound    an outbound frame arrived where none was recorded
        │   ├── UnconsumedEntries     entries were left in the transcript at the end
        │   └── TranscriptExhausted   a stream-only recording has no response for a further request
        │       └── RecordingEnded    ... after it answered earlier ones: the capture ends here
        ├── GoldenMismatch            the event log differs from the golden file
        ├── GoldenMissing             no golden file exists and goldens are not being updated
        ├── ExpectationFailed         a scenario expectation (status, event types, invariants) failed
        └── ScenarioFailed            (pytest plugin) a scenario item failed; carries its failures

Messages say what was seen, what was expected, where (file, line, event index, JSON path) and
what to do next. The offending objects stay on the exception as attributes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class HarnessError(Exception):
    """Root of every error the harness raises on purpose."""


class UsageError(HarnessError):
    """The user gave the harness bad input: a missing file, a bad option, a malformed format."""


class TranscriptError(UsageError):
    """A transcript line could not be read; names the file and the 1-based line number."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.reason = message
        where = self.path or "<transcript>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


class UnknownProtocolError(UsageError):
    """A protocol name that no adapter or frame model is registered for."""

    def __init__(self, protocol: str, known: list[str], *, where: str | None = None) -> None:
        self.protocol = protocol
        self.known = known
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}unknown protocol {protocol!r}; known protocols: {', '.join(sorted(known))}")


class ScenarioError(UsageError):
    """A scenario file is malformed or names something that does not exist."""

    def __init__(self, message: str, *, path: Path | str | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class ImportSourceError(UsageError):
    """An import source cannot be read, classified or converted."""


class EventLogError(UsageError):
    """An event log handed to the harness is not a list of JSON-able mappings.

    Names the 0-based event ``index`` and the ``json_path`` inside that event; the offending
    ``value`` stays on the exception.
    """

    def __init__(self, message: str, *, index: int, json_path: str = "$", value: Any = None) -> None:
        self.index = index
        self.json_path = json_path
        self.value = value
        self.reason = message
        where = f"event {index}" if json_path == "$" else f"event {index}, {json_path}"
        super().__init__(f"{where}: {message}")


class RuleDeclarationError(UsageError):
    """An event-rule declaration is malformed; names the file (if any) and the JSON path of the field."""

    def __init__(self, message: str, *, path: Path | str | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class CheckFailure(HarnessError):
    """The system under test broke a contract the harness checks."""


class ReplayError(CheckFailure):
    """The replay driver saw traffic that does not match the transcript."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        entry_index: int | None = None,
        label: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.entry_index = entry_index
        self.label = label
        super().__init__(message)


class FrameMismatch(ReplayError):
    """The code under test sent a frame that differs from the recorded ``expect_outbound``."""

    def __init__(
        self,
        *,
        expected: Any,
        actual: Any,
        json_path: str,
        expected_value: Any,
        actual_value: Any,
        path: str | None,
        line: int | None,
        entry_index: int,
        label: str | None,
        recorded_at: str | None = None,
    ) -> None:
        self.expected = expected
        self.actual = actual
        self.json_path = json_path
        self.expected_value = expected_value
        self.actual_value = actual_value
        #: Semantic matching: where ``json_path`` (a path in the canonical request) lies in the recorded frame.
        self.recorded_at = recorded_at
        where = f"{path}:{line}" if path else f"entry {entry_index}"
        tag = f" ({label})" if label else ""
        if recorded_at is None:
            at, ignore = f"differs from the recording at {json_path}", ""
        else:
            at = (
                f"means something else than the recording at {json_path} "
                f"(semantic match; recorded frame: {recorded_at})"
            )
            ignore = f" {recorded_at}"
        super().__init__(
            f"{where}: outbound frame{tag} {at}: "
            f"expected {_short(expected_value)}, found {_short(actual_value)}. "
            f"If this field is volatile, ignore its JSON path{ignore}: `match.ignore` in a scenario, "
            "`ignore=` of a cassette or transport, `--ignore` of `harness serve`.",
            path=path,
            line=line,
            entry_index=entry_index,
            label=label,
        )


class UnexpectedOutbound(ReplayError):
    """The code under test sent a frame where the transcript records none."""

    def __init__(self, *, actual: Any, found: str, path: str | None, line: int | None, entry_index: int) -> None:
        self.actual = actual
        self.found = found
        where = f"{path}:{line}" if path and line else (path or "<transcript>")
        super().__init__(
            f"{where}: unexpected outbound frame {_short(actual)}; the transcript has {found} here",
            path=path,
            line=line,
            entry_index=entry_index,
        )


class UnconsumedEntries(ReplayError):
    """Replay ended with transcript entries nobody consumed."""

    def __init__(self, *, remaining: list[tuple[int, str, str | None]], path: str | None) -> None:
        self.remaining = remaining
        first_line, first_type, first_label = remaining[0]
        tag = f" ({first_label})" if first_label else ""
        super().__init__(
            f"{path or '<transcript>'}:{first_line}: replay ended with {len(remaining)} unconsumed "
            f"entr{'y' if len(remaining) == 1 else 'ies'}, starting with {first_type}{tag}",
            path=path,
            line=first_line,
        )


class TranscriptExhausted(ReplayError):
    """A stream-only transcript ran out: the recording has no response to this request.

    Not a fault of the code under test (stream-only recordings end where the capture ended), so
    the driver does not keep it as its failure; the run that needed the response fails with
    error type ``transcript_exhausted``.
    """


class RecordingEnded(TranscriptExhausted):
    """A stream-only transcript whose responses were all delivered got a further request.

    The capture ends here (it recorded responses, never requests): the run that sent the request
    completes with ``recording_ended`` rather than failing, when its earlier responses came from
    the recording. See ``docs/transcripts.md``, "Stream-only transcripts".
    """


class GoldenMismatch(CheckFailure):
    """The normalized event log differs from the golden file; carries the first divergence."""

    def __init__(self, message: str, *, golden_path: str, divergence: Any, diff: str) -> None:
        self.golden_path = golden_path
        self.divergence = divergence
        self.diff = diff
        super().__init__(message)


class GoldenMissing(CheckFailure):
    """No golden file exists for a scenario and goldens are not being updated."""

    def __init__(self, golden_path: str) -> None:
        self.golden_path = golden_path
        super().__init__(
            f"golden file {golden_path} does not exist; create it with `harness goldens update` "
            "or `pytest --harness-update-goldens`"
        )


class ExpectationFailed(CheckFailure):
    """A scenario's declared expectation did not hold."""


def _short(value: Any, limit: int = 160) -> str:
    # Imported here: the matcher imports this module for UsageError.
    from harness.replay.matcher import short_json

    return short_json(value, limit)


class OutputError(UsageError):
    """A file could not be written or a directory made: read-only, no permission, a full disk.

    The message names the ``path`` and the ``reason`` in one line, and says whether a previous
    file there was left unchanged (it always is: files are replaced atomically).
    """

    def __init__(self, message: str, *, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(message)


class GoldenError(UsageError):
    """A golden file is unreadable (not a regular file, not UTF-8, not JSON) or would be written
    outside the goldens directory; names the file and, where it applies, the 1-based line.

    A scenario run reports it as that scenario's ``golden`` failure and goes on with the others.
    """

    def __init__(self, message: str, *, path: Path | str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")
