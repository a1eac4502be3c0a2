"""A fake agent runtime on stdio: play a recording to a real client process, and fail closed.

``harness fake-runtime TRANSCRIPT`` stands in for ``codex app-server`` or the Claude Code CLI: the
user's code spawns it as it would spawn the runtime, and it plays one **process segment** of a
stdio transcript over its own stdin and stdout:

* every ``emit_inbound`` frame is written to stdout as one compact JSON line, flushed, up to the
  next ``expect_outbound``;
* then one line is read from stdin (blank lines are skipped), parsed as JSON and checked with a
  :class:`~harness.replay.driver.ReplayDriver` and its :class:`~harness.replay.matcher.FrameMatcher`
  (strict equality, key order aside; the first differing JSON path is reported with FILE:LINE);
* a ``runtime_exit`` ends the process with the recorded status (:func:`exit_status`), without
  waiting for stdin to close.

A transcript is split into process segments at each ``runtime_exit`` (:func:`split_segments`): an
app that restarts its runtime starts the fake runtime again, and with a state file
(:class:`StateFile`) each start claims the next unplayed segment and records its outcome, so a
supervising test can check afterwards that every segment was played and nothing failed
(:meth:`FakeRuntime.finish`).

Any replay failure is printed to stderr as ``harness fake-runtime: FILE:LINE: ...`` and the
process exits with :data:`EXIT_REPLAY_FAILED` (97). Replay never reads the clock: frames are
written as fast as the client reads them unless ``pace="recorded"`` asks for the recorded
``afterMs`` delays.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any, Literal

import orjson

from harness.errors import FrameMismatch, ReplayError, UnconsumedEntries, UsageError
from harness.record.redact import Redactor, redacted_pattern
from harness.replay.driver import ReplayDriver
from harness.replay.matcher import MISSING, FrameMatcher, short_json
from harness.transcript import (
    EmitInbound,
    Entry,
    ExpectOutbound,
    RuntimeExit,
    Transcript,
    TranscriptHeader,
    get_protocol,
    iter_records,
)

EXIT_OK = 0
EXIT_ERROR = 1
"""A recorded ``runtime_exit`` with status ``error`` and no usable ``error.exitCode``."""
EXIT_USAGE = 2
"""The transcript cannot be read, or the options are wrong."""
EXIT_REPLAY_FAILED = 97
"""The client broke the recording: a frame differed, was missing or extra, or argv differed."""
EXIT_CANCELLED = 130
"""A recorded ``runtime_exit`` with status ``cancelled`` (128 + SIGINT, as a shell reports it)."""

PROG = "harness fake-runtime"
STATE_FORMAT = "harness.fake-runtime.state/1"
ARGV_PATH = "$.metadata.argv"
IGNORED_JSONRPC = "$.jsonrpc"
Pace = Literal["instant", "recorded"]

# Codex app-server speaks JSON-RPC 2.0 with the "jsonrpc" member omitted, and the recordings omit
# it too; a client may still send "jsonrpc": "2.0". So for codex.app-server the top-level
# "jsonrpc" member of outbound frames is not compared (docs/cli.md, `harness fake-runtime`).
_IGNORED_BY_PROTOCOL: dict[str, tuple[str, ...]] = {"codex.app-server": (IGNORED_JSONRPC,)}


class StdioReplayError(ReplayError):
    """A fake runtime's replay failure; names FILE:LINE and, when a frame is involved, the JSON path.

    ``kind`` is the failure class (``FrameMismatch``, ``StdinClosed``, ``InvalidJson``,
    ``UnexpectedOutbound``, ``ArgvMismatch``, ``SegmentsExhausted``, ``Terminated``,
    ``StdoutClosed``, ``StillRunning``); ``segment`` the 1-based process segment, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        path: str | None,
        line: int | None,
        json_path: str | None = None,
        segment: int | None = None,
        entry_index: int | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__(message, path=path, line=line, entry_index=entry_index, label=label)
        self.kind = kind
        self.json_path = json_path
        self.segment = segment

    def to_json(self) -> dict[str, Any]:
        """The error as the state file keeps it."""
        return {
            "type": self.kind,
            "message": str(self),
            "path": self.path,
            "line": self.line,
            "jsonPath": self.json_path,
            "segment": self.segment,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StdioReplayError:
        """Rebuild an error kept by :meth:`to_json`."""
        return cls(
            str(data.get("message", "")),
            kind=str(data.get("type", "ReplayError")),
            path=data.get("path"),
            line=data.get("line"),
            json_path=data.get("jsonPath"),
            segment=data.get("segment"),
        )


def redact_message(message: str) -> str:
    """An error message safe to print: every known secret shape replaced by ``<redacted:KIND>``."""
    return Redactor().text(message)


# -- the transcript, split into process segments ---------------------------------------------


@dataclass(frozen=True, slots=True)
class StdioTranscript:
    """A stdio transcript ready to play: the whole of it, its header line and its process segments."""

    transcript: Transcript
    header_line: int
    segments: tuple[Transcript, ...]

    @property
    def path(self) -> str:
        return self.transcript.path or "<transcript>"

    @property
    def header(self) -> TranscriptHeader:
        return self.transcript.header

    @property
    def argv(self) -> list[str] | None:
        """``metadata.argv``: the argv the recorded runtime was started with, or None."""
        value = self.header.metadata.get("argv")
        return list(value) if isinstance(value, list) else None

    @property
    def stream_only(self) -> bool:
        """No ``expect_outbound`` anywhere: stdin is consumed and ignored."""
        return not self.transcript.has_outbound


def split_segments(transcript: Transcript) -> tuple[Transcript, ...]:
    """The transcript cut after each ``runtime_exit``: one :class:`Transcript` per runtime process.

    Entries after the last ``runtime_exit`` form a final segment that ends without one; a
    transcript without entries is one empty segment. Line numbers are kept.
    """
    entries = transcript.entries
    cuts = [i + 1 for i, entry in enumerate(entries) if isinstance(entry, RuntimeExit)]
    if not cuts or cuts[-1] < len(entries):
        cuts.append(len(entries))
    segments: list[Transcript] = []
    start = 0
    for end in cuts:
        segments.append(
            Transcript(
                header=transcript.header,
                entries=entries[start:end],
                lines=transcript.lines[start:end],
                path=transcript.path,
            )
        )
        start = end
    return tuple(segments)


def load_stdio_transcript(path: Path | str) -> StdioTranscript:
    """Read a transcript of a stdio protocol; raise :class:`UsageError` naming FILE:LINE otherwise."""
    name = str(path)
    header: TranscriptHeader | None = None
    header_line = 1
    entries: list[Entry] = []
    lines: list[int] = []
    try:
        for number, record in iter_records(path, path=name):
            if isinstance(record, TranscriptHeader):
                header, header_line = record, number
            else:
                entries.append(record)
                lines.append(number)
    except OSError as exc:
        raise UsageError(f"{name}: cannot read the transcript: {exc.strerror or exc}") from None
    assert header is not None  # iter_records raises on an empty transcript
    protocol = get_protocol(header.protocol)
    if protocol.transport != "stdio":
        raise UsageError(
            f"{name}:{header_line}: protocol {header.protocol} runs over {protocol.transport}, not stdio; "
            "fake-runtime plays codex.app-server, claude-code.stream-json and claude-agent-sdk.query transcripts"
        )
    argv = header.metadata.get("argv")
    if argv is not None and not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
        raise UsageError(f"{name}:{header_line}: {ARGV_PATH} must be a list of strings, found {short_json(argv)}")
    transcript = Transcript(header=header, entries=tuple(entries), lines=tuple(lines), path=name)
    return StdioTranscript(transcript=transcript, header_line=header_line, segments=split_segments(transcript))


def exit_status(entry: RuntimeExit | None) -> int:
    """The process exit status a recorded ``runtime_exit`` stands for.

    ``success`` → 0; ``cancelled`` → 130; ``error`` → ``error.exitCode`` when it is an integer
    from 1 to 255, else 1. No ``runtime_exit`` (the recording ends with the process running) → 0.
    """
    if entry is None or entry.status == "success":
        return EXIT_OK
    if entry.status == "cancelled":
        return EXIT_CANCELLED
    code = entry.error.get("exitCode") if isinstance(entry.error, dict) else None
    if isinstance(code, int) and not isinstance(code, bool) and 1 <= code <= 255:
        return code
    return EXIT_ERROR


def frame_line(frame: Any) -> bytes:
    """One stdout line for a frame: compact JSON, or the text itself for a string frame.

    ``harness record exec`` keeps a line that is not JSON as a JSON string frame, so a string
    frame is written back as the raw line it was. The stdio protocols never send a bare string.
    """
    if isinstance(frame, str):
        return frame.encode("utf-8") + b"\n"
    return orjson.dumps(frame) + b"\n"


def _describe(entry: Entry) -> str:
    label = getattr(entry, "label", None)
    return f"{entry.type}" + (f" ({label})" if label else "")


# -- playing one segment ------------------------------------------------------------------------


class Terminated(Exception):
    """A signal asked the fake runtime to stop (raised by the CLI's signal handlers)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"terminated by {signal.Signals(signum).name}")


class SegmentPlayer:
    """Plays one process segment over a pair of byte streams; see the module docstring.

    :meth:`play` returns the exit status the recording gives the process, or raises
    :class:`StdioReplayError` at the first difference. Placeholders (``<workspace>``,
    ``<home>``) are filled in expected frames, in emitted frames and in ``metadata.argv``.
    """

    def __init__(
        self,
        stdio: StdioTranscript,
        segment: int,
        *,
        stdin: IO[bytes],
        stdout: IO[bytes],
        workspace: str,
        home: str,
        pace: Pace = "instant",
        ignore: Sequence[str] = (),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.stdio = stdio
        self.segment = segment
        self.transcript = stdio.segments[segment - 1]
        self.stdin = stdin
        self.stdout = stdout
        self.pace = pace
        self.sleep = sleep
        ignored = (*_IGNORED_BY_PROTOCOL.get(stdio.header.protocol, ()), *ignore)
        self.matcher = FrameMatcher.from_paths(ignored, placeholders=(("<workspace>", workspace), ("<home>", home)))
        self.driver = ReplayDriver(self.transcript, matcher=self.matcher)
        self.stdin_lines = 0

    # -- errors ----------------------------------------------------------------------------

    def _error(
        self, message: str, *, kind: str, index: int | None = None, json_path: str | None = None
    ) -> StdioReplayError:
        entries = self.transcript.entries
        index = self.driver.cursor if index is None else index
        if index < len(entries):
            line = self.transcript.line_of(index)
            label = getattr(entries[index], "label", None)
        else:  # past the last entry: point at the last one (or the header of an empty segment)
            line = self.transcript.line_of(len(entries) - 1) if entries else self.stdio.header_line
            label = None
        return StdioReplayError(
            redact_message(f"{self.stdio.path}:{line}: {message}"),
            kind=kind,
            path=self.stdio.path,
            line=line,
            json_path=json_path,
            segment=self.segment,
            entry_index=index,
            label=label,
        )

    def _expected_here(self) -> tuple[ExpectOutbound, str]:
        entry = self.transcript.entries[self.driver.cursor]
        assert isinstance(entry, ExpectOutbound)
        return entry, short_json(self.matcher.expected(entry.frame))

    # -- argv ------------------------------------------------------------------------------

    def check_argv(self, argv: Sequence[str]) -> None:
        """Raise unless ``argv`` matches ``metadata.argv`` (when the recording has one).

        Placeholders are filled; ``<redacted:KIND>`` stands for any value of that kind.
        """
        expected = self.stdio.argv
        if expected is None:
            return
        actual = list(argv)
        for index in range(max(len(expected), len(actual))):
            want: Any = self.matcher.expected(expected[index]) if index < len(expected) else MISSING
            got: Any = actual[index] if index < len(actual) else MISSING
            if want is MISSING or got is MISSING:
                same = False
            else:
                pattern = redacted_pattern(want)
                same = bool(pattern.fullmatch(got)) if pattern is not None else want == got
            if not same:
                line = self.stdio.header_line
                json_path = f"{ARGV_PATH}[{index}]"
                raise StdioReplayError(
                    redact_message(
                        f"{self.stdio.path}:{line}: the runtime was started with another argv than the recording's "
                        f"at {json_path}: expected {short_json(want)}, found {short_json(got)}"
                    ),
                    kind="ArgvMismatch",
                    path=self.stdio.path,
                    line=line,
                    json_path=json_path,
                    segment=self.segment,
                )

    # -- the protocol ----------------------------------------------------------------------

    def play(self) -> int:
        """Emit and check the whole segment; the exit status of its ``runtime_exit``."""
        if self.stdio.stream_only:
            return self._play_stream_only()
        entries = self.transcript.entries
        while True:
            inbound = self.driver.receive()
            if inbound is not None:
                self._emit(inbound.entry_index, inbound.frame)
                continue
            if self.driver.runtime_exit is not None:
                return exit_status(self.driver.runtime_exit)
            if self.driver.cursor >= len(entries):
                self._expect_end_of_input()
                return EXIT_OK
            self._check_next_outbound()

    def _emit(self, index: int, frame: Any) -> None:
        entry = self.transcript.entries[index]
        if self.pace == "recorded" and isinstance(entry, EmitInbound) and entry.after_ms:
            self.sleep(entry.after_ms / 1000)
        data = frame_line(self.matcher.expected(frame))
        try:
            self.stdout.write(data)
            self.stdout.flush()
        except (BrokenPipeError, ConnectionResetError):
            raise self._error(
                f"the app closed the runtime's stdout while {_describe(entry)} was being delivered",
                kind="StdoutClosed",
                index=index,
            ) from None

    def _read_line(self) -> bytes | None:
        """The next non-blank stdin line, or None at end of input."""
        while True:
            raw = self.stdin.readline()
            if not raw:
                return None
            self.stdin_lines += 1
            if raw.strip():
                return raw

    def _check_next_outbound(self) -> None:
        entry, expected_text = self._expected_here()
        what = f"outbound frame{f' ({entry.label})' if entry.label else ''}"
        raw = self._read_line()
        if raw is None:
            raise self._error(
                f"the app closed stdin where the recording expects {what} at $: "
                f"expected {expected_text}, found end of input",
                kind="StdinClosed",
                json_path="$",
            )
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            text = raw.decode("utf-8", "replace").strip()
            if isinstance(entry.frame, str):  # the recorder kept a non-JSON line as a string frame
                frame = raw.decode("utf-8", "replace").rstrip("\r\n")
            else:
                shown = text if len(text) <= 200 else text[:199] + "…"
                raise self._error(
                    f"stdin line {self.stdin_lines} is not valid JSON ({exc}) where the recording expects {what} "
                    f"at $: expected {expected_text}, found {shown!r}",
                    kind="InvalidJson",
                    json_path="$",
                ) from None
        try:
            self.driver.send(frame)
        except FrameMismatch as exc:
            raise self._error(
                f"{what} differs from the recording at {exc.json_path}: expected {short_json(exc.expected_value)}, "
                f"found {short_json(exc.actual_value)} (stdin line {self.stdin_lines}). If this field is volatile, "
                f"ignore it with --ignore '{exc.json_path}'",
                kind="FrameMismatch",
                json_path=exc.json_path,
            ) from None

    def _expect_end_of_input(self) -> None:
        """The segment ends without a ``runtime_exit``: the process runs until stdin closes."""
        while (raw := self._read_line()) is not None:
            try:
                found = short_json(orjson.loads(raw))
            except orjson.JSONDecodeError:
                found = repr(raw.decode("utf-8", "replace").strip()[:200])
            raise self._error(
                f"unexpected outbound frame after the last recorded entry at $: expected end of input, "
                f"found {found} (stdin line {self.stdin_lines})",
                kind="UnexpectedOutbound",
                json_path="$",
            )

    def _play_stream_only(self) -> int:
        """Emit everything; stdin is read and thrown away (the recording holds nothing to check)."""
        eof = threading.Event()
        _drain_in_background(self.stdin, eof)
        while True:
            inbound = self.driver.receive()
            if inbound is not None:
                self._emit(inbound.entry_index, inbound.frame)
                continue
            if self.driver.runtime_exit is not None:
                return exit_status(self.driver.runtime_exit)
            eof.wait()
            return EXIT_OK

    def remaining(self) -> list[Entry]:
        """Entries of this segment not played yet."""
        return list(self.transcript.entries[self.driver.cursor :])


def _drain_in_background(stream: IO[bytes], eof: threading.Event) -> None:
    """Read ``stream`` to its end on a daemon thread, discarding it; set ``eof`` at the end.

    A real file descriptor is read with :func:`os.read`, not through the buffered object, so
    that the interpreter can exit while the thread is blocked (no buffer lock is held).
    """
    try:
        fd: int | None = stream.fileno()
    except (OSError, ValueError, AttributeError):
        fd = None

    def drain() -> None:
        try:
            if fd is not None:
                while os.read(fd, 65536):
                    pass
            else:
                while stream.read(65536):
                    pass
        except OSError:
            pass
        eof.set()

    threading.Thread(target=drain, name="fake-runtime-stdin", daemon=True).start()


# -- the state file ---------------------------------------------------------------------------


class StateFile:
    """The JSON document through which successive fake-runtime processes share one transcript.

    ``{"format", "transcript", "segments": [{"firstLine", "lastLine", "entries"}], "runs": [{"segment",
    "status": "running"|"consumed"|"failed", "exitCode", "error"}]}``. Every access holds an
    exclusive :func:`fcntl.flock` on the file, so concurrent starts claim distinct segments.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @contextmanager
    def _locked(self) -> Iterator[tuple[IO[bytes], dict[str, Any]]]:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UsageError(f"{self.path}: cannot open the state file: {exc.strerror or exc}") from None
        with os.fdopen(fd, "r+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            data = handle.read()
            document: dict[str, Any] = {}
            if data.strip():
                try:
                    loaded = orjson.loads(data)
                except orjson.JSONDecodeError as exc:
                    raise UsageError(f"{self.path}: not a fake-runtime state file: {exc}") from None
                if not isinstance(loaded, dict) or loaded.get("format") != STATE_FORMAT:
                    raise UsageError(f"{self.path}: not a fake-runtime state file (expected format {STATE_FORMAT})")
                document = loaded
            yield handle, document

    @staticmethod
    def _write(handle: IO[bytes], document: dict[str, Any]) -> None:
        handle.seek(0)
        handle.truncate()
        handle.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        handle.flush()

    @staticmethod
    def fresh(stdio: StdioTranscript) -> dict[str, Any]:
        """The document of a transcript no process has started yet."""
        return {
            "format": STATE_FORMAT,
            "transcript": str(Path(stdio.path).resolve()),
            "segments": [
                {
                    "firstLine": segment.line_of(0),
                    "lastLine": segment.line_of(len(segment.entries) - 1),
                    "entries": len(segment.entries),
                }
                for segment in stdio.segments
            ],
            "runs": [],
        }

    def reset(self, stdio: StdioTranscript) -> None:
        """Start over: no segment played."""
        with self._locked() as (handle, _):
            self._write(handle, self.fresh(stdio))

    def read(self) -> dict[str, Any]:
        """The current document (``{}`` when nothing was written yet)."""
        with self._locked() as (_, document):
            return document

    def claim(self, stdio: StdioTranscript) -> tuple[int, int | None]:
        """Register a start: ``(run index, 1-based segment)``, segment None when all were claimed."""
        with self._locked() as (handle, document):
            if not document:
                document = self.fresh(stdio)
            elif document.get("transcript") != str(Path(stdio.path).resolve()):
                raise UsageError(
                    f"{self.path}: this state file belongs to {document.get('transcript')}, not {stdio.path}; "
                    "use one state file per transcript"
                )
            runs: list[dict[str, Any]] = document.setdefault("runs", [])
            played = sum(1 for run in runs if run.get("segment") is not None)
            segment = played + 1 if played < len(stdio.segments) else None
            runs.append({"segment": segment, "status": "running"})
            self._write(handle, document)
            return len(runs) - 1, segment

    def record(self, run: int, *, exit_code: int, error: StdioReplayError | None) -> None:
        """Record how run ``run`` ended: consumed, or the replay error that failed it."""
        with self._locked() as (handle, document):
            runs = document.get("runs", [])
            if run >= len(runs):  # reset while this process ran: nothing to attach the outcome to
                return
            runs[run].update(
                {
                    "status": "failed" if error is not None else "consumed",
                    "exitCode": exit_code,
                    "error": error.to_json() if error is not None else None,
                }
            )
            self._write(handle, document)


# -- the process --------------------------------------------------------------------------------


def _install_signal_handlers() -> dict[int, Any]:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise Terminated(signum)

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            previous[signum] = signal.signal(signum, stop)
    return previous


def run_fake_runtime(
    transcript: Path | str,
    *,
    argv: Sequence[str] = (),
    state: Path | str | None = None,
    workspace: Path | str | None = None,
    pace: Pace = "instant",
    ignore: Sequence[str] = (),
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | None = None,
    stderr: IO[str] | None = None,
    handle_signals: bool = False,
) -> int:
    """Be the runtime process: play one segment of ``transcript``; return the process exit status.

    0/1/N/130 as the recording's ``runtime_exit`` says (:func:`exit_status`),
    :data:`EXIT_REPLAY_FAILED` after printing the replay error, :data:`EXIT_USAGE` when the
    transcript, the state file or the options are unusable. Never raises for those.
    """
    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout.buffer
    stderr = stderr if stderr is not None else sys.stderr

    def say(message: str) -> None:
        try:
            stderr.write(f"{PROG}: {redact_message(message)}\n")
            stderr.flush()
        except OSError:
            pass

    state_file: StateFile | None = None
    try:
        stdio = load_stdio_transcript(transcript)
        if pace not in ("instant", "recorded"):
            raise UsageError(f"--pace must be instant or recorded, found {pace!r}")
        for path in ignore:
            FrameMatcher.from_paths([path])  # a bad JSON path is a usage error, before anything is played
        state_file = StateFile(state) if state is not None else None
        run, segment = state_file.claim(stdio) if state_file is not None else (0, 1)
    except UsageError as exc:
        say(str(exc))
        return EXIT_USAGE

    exhausted: StdioReplayError | None = None
    player: SegmentPlayer | None = None
    if segment is None:
        last = stdio.segments[-1]
        line = last.line_of(len(last.entries) - 1) or stdio.header_line
        exhausted = StdioReplayError(
            f"{stdio.path}:{line}: the runtime was started {run + 1} times, but the recording has "
            f"{len(stdio.segments)} process segment(s) (one per runtime_exit)",
            kind="SegmentsExhausted",
            path=stdio.path,
            line=line,
        )
    else:
        player = SegmentPlayer(
            stdio,
            segment,
            stdin=stdin,
            stdout=stdout,
            workspace=str(workspace) if workspace is not None else os.getcwd(),
            home=str(Path.home()),
            pace=pace,
            ignore=ignore,
        )

    previous = _install_signal_handlers() if handle_signals else {}
    error: StdioReplayError | None = None
    exit_code = EXIT_REPLAY_FAILED
    try:
        if player is None:
            assert exhausted is not None
            raise exhausted
        player.check_argv(argv)
        exit_code = player.play()
    except StdioReplayError as exc:
        error = exc
    except Terminated as exc:
        exit_code = 128 + exc.signum
        left = [e for e in player.remaining() if not isinstance(e, RuntimeExit)] if player is not None else []
        if player is None:
            error = exhausted
        elif left:
            error = player._error(
                f"the runtime was {exc} with {len(left)} recorded entr{'y' if len(left) == 1 else 'ies'} left, "
                f"starting with {_describe(left[0])}",
                kind="Terminated",
            )
    finally:
        for signum in previous:  # the outcome is being recorded: a late signal must not interrupt it
            signal.signal(signum, signal.SIG_IGN)
    if error is not None:
        exit_code = EXIT_REPLAY_FAILED
        say(str(error))
        if error.kind == "StdoutClosed" and stdout is sys.stdout.buffer:
            _discard_stdout()
    if state_file is not None:
        try:
            state_file.record(run, exit_code=exit_code, error=error)
        except UsageError as exc:
            say(str(exc))
    for signum, handler in previous.items():
        signal.signal(signum, handler)
    return exit_code


def _discard_stdout() -> None:
    """Point fd 1 at /dev/null: the app closed the pipe, and the exit flush must not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


# -- supervision from Python ------------------------------------------------------------------


class FakeRuntime:
    """One recording served to a real client that may start the runtime several times.

    >>> fake = FakeRuntime("transcripts/t3code/provider_thread_resume/codex_transcript.ndjson",
    ...                    state=tmp_path / "state.json")  # doctest: +SKIP
    >>> shim = fake.write_shim(tmp_path / "codex")  # doctest: +SKIP
    >>> run_my_app(codex_bin=shim)  # starts `codex app-server` twice  # doctest: +SKIP
    >>> fake.finish()  # raises the first replay error, or UnconsumedEntries  # doctest: +SKIP

    Creating it (or :meth:`reset`) writes a fresh ``state`` file; each process started with
    :meth:`command` or through the shim claims the next process segment and records its outcome.
    """

    def __init__(
        self,
        transcript: Path | str,
        *,
        state: Path | str,
        workspace: Path | str | None = None,
        pace: Pace = "instant",
        ignore: Sequence[str] = (),
        python: str = sys.executable,
    ) -> None:
        self.transcript = Path(transcript).resolve()
        self.stdio = load_stdio_transcript(self.transcript)
        self.state = Path(state).resolve()
        self.workspace = Path(workspace).resolve() if workspace is not None else None
        self.pace = pace
        self.ignore = tuple(ignore)
        for path in self.ignore:
            FrameMatcher.from_paths([path])
        self.python = python
        self._state = StateFile(self.state)
        self.reset()

    @property
    def segments(self) -> int:
        """How many runtime processes the recording holds."""
        return len(self.stdio.segments)

    def reset(self) -> None:
        """Forget every run: the next start plays segment 1 again."""
        self._state.reset(self.stdio)

    def command(self, *runtime_args: str) -> list[str]:
        """The argv that starts one fake runtime process; ``runtime_args`` are checked against ``metadata.argv``."""
        options = ["--state", str(self.state)]
        if self.workspace is not None:
            options += ["--workspace", str(self.workspace)]
        if self.pace != "instant":
            options += ["--pace", self.pace]
        for path in self.ignore:
            options += ["--ignore", path]
        return [self.python, "-m", "harness", "fake-runtime", *options, str(self.transcript), "--", *runtime_args]

    def write_shim(self, path: Path | str) -> Path:
        """Write an executable ``/bin/sh`` script that execs :meth:`command` with the script's own arguments.

        Point the app at it where it expects the runtime's executable (``CODEX_BIN=...``, ``cli_path=...``).
        """
        target = Path(path)
        command = " ".join(shlex.quote(part) for part in self.command())
        target.write_text(
            "#!/bin/sh\n"
            "# Written by harness (FakeRuntime.write_shim): replays a recorded runtime over stdio.\n"
            "# The arguments the app passes are checked against the recording's metadata.argv.\n"
            f'exec {command} "$@"\n',
            encoding="utf-8",
        )
        target.chmod(0o755)
        return target

    def runs(self) -> list[dict[str, Any]]:
        """Every start so far, in order: ``{"segment", "status", "exitCode", "error"}``."""
        runs = self._state.read().get("runs", [])
        return list(runs) if isinstance(runs, list) else []

    def finish(self) -> None:
        """Raise the first replay error a run recorded, else :class:`UnconsumedEntries` if a
        segment was not played (or :class:`StdioReplayError` if one is still running)."""
        runs = self.runs()
        for run in runs:
            if run.get("status") == "failed" and isinstance(run.get("error"), dict):
                raise StdioReplayError.from_json(run["error"])
        for run in runs:
            if run.get("status") == "running":
                segment = self.stdio.segments[int(run["segment"]) - 1] if run.get("segment") else None
                line = segment.line_of(0) if segment is not None and segment.entries else self.stdio.header_line
                raise StdioReplayError(
                    f"{self.stdio.path}:{line}: process segment {run.get('segment')} is still running "
                    "(the fake runtime has not exited yet); wait for the app to stop its runtime before finish()",
                    kind="StillRunning",
                    path=self.stdio.path,
                    line=line,
                    segment=run.get("segment"),
                )
        played = sum(1 for run in runs if run.get("segment") is not None)
        if played < len(self.stdio.segments):
            remaining: list[tuple[int, str, str | None]] = []
            for segment in self.stdio.segments[played:]:
                remaining.extend(
                    (segment.line_of(i) or 0, entry.type, getattr(entry, "label", None))
                    for i, entry in enumerate(segment.entries)
                )
            if remaining:
                raise UnconsumedEntries(remaining=remaining, path=self.stdio.path)
