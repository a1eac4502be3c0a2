"""Read and write transcript NDJSON, streaming, with errors that name the file and line.

Reading follows t3code's parser: lines are trimmed, blank lines are skipped (line numbers still
count them), the first record must be ``transcript_start`` and no other line may be one.
"""

from __future__ import annotations

import json
import os
import stat
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, overload

import jiter
import jsonlines
import orjson
from pydantic import ValidationError

from harness.errors import TranscriptError, UnknownProtocolError, UsageError
from harness.files import AtomicWriter
from harness.files import write_atomic as write_atomic  # re-exported: the one safe way to write a file
from harness.limits import (
    INT_MAX,
    INT_MIN,
    LARGE_LINE,
    MAX_AFTER_MS,
    MAX_DEPTH,
    MAX_LINE_BYTES,
    find_instance,
    format_json_path,
    json_loads,
    too_deep,
)
from harness.transcript.models import (
    HTTP_FRAME_ADAPTER,
    RECORD_ADAPTER,
    EmitInbound,
    ExpectOutbound,
    RuntimeExit,
    TranscriptHeader,
)
from harness.transcript.protocols import get_protocol

Entry = ExpectOutbound | EmitInbound | RuntimeExit
_RECORD_TAGS = frozenset({"transcript_start", "expect_outbound", "emit_inbound", "runtime_exit"})
_FRAME_TAGS = frozenset({"http.request", "http.response", "sse", "sse.done", "http.body"})


@dataclass(frozen=True, slots=True)
class Transcript:
    """A loaded transcript: its header, its entries in order, and each entry's source line.

    ``entries`` is a tuple, or for a large file an :class:`IndexedEntries` that reads inbound
    frames back from disk (see :func:`read_transcript`); both are sequences.
    """

    header: TranscriptHeader
    entries: Sequence[Entry]
    lines: Sequence[int] = field(default=())
    path: str | None = None

    def line_of(self, index: int) -> int | None:
        """1-based source line of entry ``index``, when the transcript came from a file."""
        return self.lines[index] if index < len(self.lines) else None

    @property
    def protocol(self) -> str:
        return self.header.protocol

    @property
    def indexed(self) -> bool:
        """True when the transcript was large enough to be read as an index (see :func:`read_transcript`)."""
        return isinstance(self.entries, IndexedEntries)

    @property
    def has_outbound(self) -> bool:
        """False for stream-only transcripts (no ``expect_outbound`` entries)."""
        return next(self.outbound(), None) is not None

    def outbound(self) -> Iterator[tuple[int, ExpectOutbound]]:
        """``(index, entry)`` of every ``expect_outbound``, in order (an indexed transcript answers
        from its index, without reading its inbound frames)."""
        if isinstance(self.entries, IndexedEntries):
            yield from self.entries.outbound()
            return
        for index, entry in enumerate(self.entries):
            if isinstance(entry, ExpectOutbound):
                yield index, entry


def format_validation_error(error: ValidationError, *, tags: frozenset[str] = frozenset()) -> str:
    """One line per problem: the JSON path, what was wrong, what was found.

    ``tags`` are discriminator values pydantic puts first in a location (``emit_inbound``,
    ``sse``); they are not part of the document, so they are left out of the path.
    """
    parts = []
    for problem in error.errors(include_url=False):
        loc = list(problem["loc"])
        if loc and loc[0] in tags:
            loc = loc[1:]
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        found = problem.get("input")
        try:
            found_text = orjson.dumps(found, default=repr).decode()[:120] if found is not None else "nothing"
        except (orjson.JSONEncodeError, TypeError):
            found_text = f"a {type(found).__name__}"
        parts.append(f"{path}: {problem['msg']} (found {found_text})")
    return "; ".join(parts)


def open_regular(path: Path | str, *, what: str) -> IO[bytes]:
    """Open ``path`` for reading only if it is a regular file (never blocks on a FIFO).

    A directory, a device such as ``/dev/zero`` or a FIFO is refused with a :class:`UsageError`
    naming the path, so no reader hangs or reads forever.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such {what} file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what} file: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "not a regular file"
            raise UsageError(f"{path}: expected a {what} file, found {kind}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class _Lines:
    """Every line of a source (blank ones too, so numbers count them), each read with a bound on
    its length; :attr:`number` is the 1-based number of the line handed out last."""

    def __init__(self, source: IO[bytes] | Iterable[bytes | str], name: str | None) -> None:
        if hasattr(source, "readline"):
            reader: Any = source
            self._lines: Iterator[bytes | str] = iter(lambda: reader.readline(MAX_LINE_BYTES + 1), b"")
        else:
            self._lines = iter(source)
        self.name = name
        self.number = 0
        #: Byte offsets of the line handed out last and of the one after it (for files, in bytes).
        self.start = 0
        self.end = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> bytes | str:
        raw = next(self._lines)
        self.number += 1
        self.start = self.end
        self.end += len(raw)
        if len(raw) > MAX_LINE_BYTES and len(raw.encode() if isinstance(raw, str) else raw) > MAX_LINE_BYTES:
            raise TranscriptError(f"line longer than {MAX_LINE_BYTES} bytes", path=self.name, line=self.number)
        return raw


def _load_line(text: str | bytes) -> Any:
    """``jsonlines``' decoder (it hands over decoded text): the trimmed line, parsed strictly (see
    :func:`load_json_line`)."""
    return load_json_line((text.encode() if isinstance(text, str) else text).strip())


def _iter_objects(
    source: Path | str | IO[bytes] | Iterable[bytes | str], name: str | None
) -> Iterator[tuple[int, Any]]:
    """``(line number, JSON value)`` for every non-blank line, read with ``jsonlines`` over orjson.

    Errors name the file and line; the line itself is never quoted (it may hold a secret).
    """
    if isinstance(source, (str, Path)):
        with open_regular(source, what="transcript") as opened:
            yield from _iter_objects(opened, name)
        return
    yield from _iter_objects_from(_Lines(source, name), name)


def _iter_objects_from(lines: _Lines, name: str | None) -> Iterator[tuple[int, Any]]:
    reader = jsonlines.Reader(lines, loads=_load_line)
    while True:
        try:
            value = reader.read(skip_empty=True, allow_none=True)
        except EOFError:
            return
        except jsonlines.InvalidLineError as exc:
            cause = exc.__cause__
            if isinstance(cause, UnicodeDecodeError):
                message = f"not valid JSON: the line is not valid UTF-8 ({cause.reason} at byte {cause.start})"
            elif isinstance(cause, orjson.JSONDecodeError):
                message = f"not valid JSON: {cause}"
            elif isinstance(cause, ValueError):
                message = str(cause)
            else:
                message = exc.args[0] if exc.args else "not valid JSON"
            raise TranscriptError(message, path=name, line=exc.lineno) from None
        yield lines.number, value


class _Found:
    """Marks where the strict parse met a duplicate key or an out-of-range integer."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def _strict_int(text: str) -> int | _Found:
    number = int(text)
    if INT_MIN <= number <= INT_MAX:
        return number
    shown = text if len(text) <= 24 else text[:24] + "..."
    return _Found(f"integer {shown} ({len(text.lstrip('-'))} digits) does not fit in 64 bits")


def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any] | _Found:
    out: dict[str, Any] = {}
    for key, item in pairs:
        if key in out:
            shown = orjson.dumps(key[:80]).decode()
            return _Found(f"duplicate key {shown} (a JSON reader keeps only one of its values)")
        out[key] = item
    return out


def load_json_line(line: bytes) -> Any:
    """Parse one NDJSON line strictly; raises ``ValueError`` with a JSON path on what JSON lets slip.

    orjson parses; a line that does not serialize back to the same bytes (not compact, escapes
    written differently, a duplicated key, an integer beyond 64 bits) is parsed again by the
    standard library with hooks that find duplicate keys and out-of-range integers, which orjson
    would silently merge or turn into a float. Values nested deeper than :data:`MAX_DEPTH` are
    refused. Invalid JSON raises ``orjson.JSONDecodeError``.

    A line over :data:`~harness.limits.LARGE_LINE` is parsed by jiter instead, which refuses duplicate keys
    itself and keeps every integer exact, so no serialized copy of the line is made to compare;
    the same problems get the same located messages.
    """
    large = len(line) > LARGE_LINE
    if large:
        try:
            value = jiter.from_json(line, allow_inf_nan=False, catch_duplicate_keys=True)
        except ValueError as exc:
            if str(exc).startswith("Detected duplicate key"):
                _raise_strict_problem(line)
            raise ValueError(f"not valid JSON: {exc}") from None
    else:
        value = orjson.loads(line)
    if line.count(b"[") + line.count(b"{") > MAX_DEPTH:  # cheap: fewer brackets cannot nest deeper
        deep = too_deep(value)
        if deep is not None:
            shown = format_json_path(deep) if len(deep) <= 8 else format_json_path(deep[:6]) + "..."
            raise ValueError(f"{shown}: nested deeper than {MAX_DEPTH} levels")
    if large:
        if _has_wide_int(value):
            _raise_strict_problem(line)
        return value
    try:
        same = orjson.dumps(value) == line
    except orjson.JSONEncodeError:
        same = False
    if not same:
        _raise_strict_problem(line)
    return value


def _raise_strict_problem(line: bytes) -> None:
    """Parse ``line`` with the standard library's hooks; raise the first duplicate key or
    out-of-range integer with its JSON path (return if there is none)."""
    strict = json.loads(line, object_pairs_hook=_strict_object, parse_int=_strict_int)
    found = find_instance(strict, _Found)
    if found is not None:
        path, marker = found
        raise ValueError(f"{format_json_path(path)}: {marker.problem}")


def _has_wide_int(value: Any) -> bool:
    """Whether an integer outside 64 bits is anywhere inside ``value``."""
    stack = [value]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is dict:
            stack.extend(node.values())
        elif kind is list:
            stack.extend(node)
        elif kind is int and not INT_MIN <= node <= INT_MAX:
            return True
    return False


_SSE_KEYS = frozenset({"kind", "event", "data"})


def is_plain_sse(frame: Any) -> bool:
    """Whether ``frame`` is a valid :class:`~harness.transcript.models.SseEvent`, decided without
    pydantic: streams are almost all SSE events, so this keeps validation out of the per-frame
    loop. False means "let the model decide" (it accepts or names the problem); a test holds the
    two to the same answer."""
    return (
        type(frame) is dict
        and frame.get("kind") == "sse"
        and "data" in frame
        and type(frame.get("event")) in (str, type(None))
        and frame.keys() <= _SSE_KEYS
    )


def iter_records(
    source: Path | str | IO[bytes] | Iterable[bytes | str], *, path: str | None = None
) -> Iterator[tuple[int, TranscriptHeader | Entry]]:
    """Yield ``(line_number, record)`` for every non-blank line, validating each one as it goes."""
    name = path if path is not None else (str(source) if isinstance(source, (str, Path)) else None)
    for number, _, record in _validated(_iter_objects(source, name), name):
        yield number, record


_EMIT_KEYS = frozenset({"type", "label", "frame", "afterMs"})


def is_plain_emit(raw: Any, *, http: bool) -> bool:
    """Whether ``raw`` is a valid ``emit_inbound`` record (with an SSE frame when ``http``), decided
    without pydantic. False means "let the model decide"; a test holds the two to the same answer."""
    if type(raw) is not dict or raw.get("type") != "emit_inbound" or "frame" not in raw or not raw.keys() <= _EMIT_KEYS:
        return False
    label = raw.get("label")
    after = raw.get("afterMs")
    return (
        (label is None or type(label) is str)
        and (after is None or (type(after) is int and 0 <= after <= MAX_AFTER_MS))
        and (not http or is_plain_sse(raw["frame"]))
    )


#: What :func:`_validated` yields, without building a model, for a line :func:`is_plain_emit` accepts.
PLAIN_EMIT: Any = object()


def _validated(
    objects: Iterator[tuple[int, Any]], name: str | None, lines: _Lines | None = None, *, build: bool = True
) -> Iterator[tuple[int, int, TranscriptHeader | Entry]]:
    """``(line number, byte offset, record)`` for each parsed line (the offset when ``lines`` is given).

    With ``build=False`` a plain ``emit_inbound`` line is checked without pydantic and yields
    :data:`PLAIN_EMIT` instead of a model (the index re-reads such entries when they are used).
    """
    first = True
    http = False
    for number, raw in objects:
        if not isinstance(raw, dict):
            raise TranscriptError(f"expected a JSON object, found {type(raw).__name__}", path=name, line=number)
        if not build and not first and is_plain_emit(raw, http=http):
            yield number, lines.start if lines is not None else 0, PLAIN_EMIT
            continue
        try:
            record = RECORD_ADAPTER.validate_python(raw)
        except ValidationError as exc:
            raise TranscriptError(format_validation_error(exc, tags=_RECORD_TAGS), path=name, line=number) from None
        if first:
            if not isinstance(record, TranscriptHeader):
                raise TranscriptError(
                    f"the first record must be transcript_start, found {raw.get('type')!r}",
                    path=name,
                    line=number,
                )
            try:
                http = get_protocol(record.protocol).transport == "http"
            except UnknownProtocolError as exc:
                raise TranscriptError(str(exc), path=name, line=number) from None
            first = False
        elif isinstance(record, TranscriptHeader):
            raise TranscriptError("transcript_start may only appear on the first line", path=name, line=number)
        elif http and not isinstance(record, RuntimeExit) and not is_plain_sse(record.frame):
            try:
                HTTP_FRAME_ADAPTER.validate_python(record.frame)
            except ValidationError as exc:
                message = format_validation_error(exc, tags=_FRAME_TAGS).replace("$", "$.frame", 1)
                raise TranscriptError(message, path=name, line=number) from None
        yield number, lines.start if lines is not None else 0, record
    if first:
        raise TranscriptError("empty transcript: expected a transcript_start line", path=name, line=1)


#: Transcript files larger than this are read into an index (:class:`IndexedEntries`) rather than
#: into memory. Every line is validated either way.
INDEX_THRESHOLD_BYTES = 8 * 1024 * 1024


def read_transcript(
    source: Path | str | IO[bytes] | Iterable[bytes | str], *, path: str | None = None, index: bool | None = None
) -> Transcript:
    """Load a whole transcript; raises :class:`TranscriptError` naming the file and line.

    Every line is read and validated before this returns. A transcript file larger than
    :data:`INDEX_THRESHOLD_BYTES` (or any file, with ``index=True``) keeps its inbound frames
    on disk: :attr:`Transcript.entries` is then an :class:`IndexedEntries`, which reads them back
    as they are used, so memory stays flat in transcript length.
    """
    if isinstance(source, (str, Path)) and index is not False:
        with open_regular(source, what="transcript") as opened:
            if index or os.fstat(opened.fileno()).st_size > INDEX_THRESHOLD_BYTES:
                return _read_indexed(opened, Path(source), path if path is not None else str(source))
    header: TranscriptHeader | None = None
    entries: list[Entry] = []
    lines: list[int] = []
    name = path if path is not None else (str(source) if isinstance(source, (str, Path)) else None)
    for number, record in iter_records(source, path=name):
        if isinstance(record, TranscriptHeader):
            header = record
        else:
            entries.append(record)
            lines.append(number)
    assert header is not None  # iter_records raises on an empty transcript
    return Transcript(header=header, entries=tuple(entries), lines=tuple(lines), path=name)


def _read_indexed(opened: IO[bytes], source: Path, name: str) -> Transcript:
    lines = _Lines(opened, name)
    header: TranscriptHeader | None = None
    offsets = array("q")
    numbers = array("q")
    kinds = bytearray()
    kept: dict[int, Entry] = {}
    for number, offset, record in _validated(_iter_objects_from(lines, name), name, lines, build=False):
        if isinstance(record, TranscriptHeader):
            header = record
            continue
        if record is PLAIN_EMIT or isinstance(record, EmitInbound):
            kinds.append(1)
        else:
            kept[len(kinds)] = record
            kinds.append(_KIND_CODES[type(record)])
        offsets.append(offset)
        numbers.append(number)
    assert header is not None  # _validated raises on an empty transcript
    fingerprint = _fingerprint(os.fstat(opened.fileno()))
    entries = IndexedEntries(source, name, fingerprint, offsets, kinds, kept, lines.end)
    first = numbers[0] if numbers else 2
    if not numbers or numbers[-1] - first == len(numbers) - 1:
        # No blank line between entries: the line numbers are a range, which costs nothing.
        return Transcript(header=header, entries=entries, lines=range(first, first + len(numbers)), path=name)
    return Transcript(header=header, entries=entries, lines=numbers, path=name)


_KIND_CODES: dict[type, int] = {ExpectOutbound: 0, EmitInbound: 1, RuntimeExit: 2}


def _fingerprint(result: os.stat_result) -> tuple[int, int, int]:
    return (result.st_ino, result.st_size, result.st_mtime_ns)


class IndexedEntries(Sequence[Entry]):
    """The entries of a large transcript file, kept on disk and read back as they are used.

    Built by :func:`read_transcript` after it validated every line: the index holds each entry's
    byte offset and kind (9 bytes an entry, with its line number 17) and keeps the few
    ``expect_outbound`` and ``runtime_exit`` entries; inbound frames are parsed again from the
    file, a chunk of consecutive entries at a time, when they are asked for. The file must not
    change meanwhile: if it does, reading raises :class:`TranscriptError`.
    """

    CHUNK = 512

    def __init__(
        self,
        path: Path,
        name: str,
        fingerprint: tuple[int, int, int],
        offsets: array[int],
        kinds: bytearray,
        kept: dict[int, Entry],
        end: int,
    ) -> None:
        self.path = path
        self.name = name
        self._fingerprint = fingerprint
        self._offsets = offsets
        self._kinds = kinds
        self._kept = kept
        self._end = end
        self._chunk_start = -1
        self._chunk: list[Entry] = []

    def __len__(self) -> int:
        return len(self._kinds)

    def outbound(self) -> Iterator[tuple[int, ExpectOutbound]]:
        """``(index, entry)`` of every ``expect_outbound``, from the index."""
        for index in sorted(self._kept):
            entry = self._kept[index]
            if isinstance(entry, ExpectOutbound):
                yield index, entry

    @overload
    def __getitem__(self, index: int) -> Entry: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Entry, ...]: ...

    def __getitem__(self, index: int | slice) -> Entry | tuple[Entry, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        if index < 0:
            index += len(self._kinds)
        if not 0 <= index < len(self._kinds):
            raise IndexError("transcript entry index out of range")
        kept = self._kept.get(index)
        if kept is not None:
            return kept
        if not self._chunk_start <= index < self._chunk_start + len(self._chunk):
            self._load_chunk(index)
        return self._chunk[index - self._chunk_start]

    def __iter__(self) -> Iterator[Entry]:
        for index in range(len(self._kinds)):
            yield self[index]

    def _load_chunk(self, index: int) -> None:
        last = min(index + self.CHUNK, len(self._kinds))
        start = self._offsets[index]
        stop = self._offsets[last] if last < len(self._offsets) else self._end
        try:
            with open(self.path, "rb") as handle:
                if _fingerprint(os.fstat(handle.fileno())) != self._fingerprint:
                    raise TranscriptError("the transcript file changed while it was being replayed", path=self.name)
                handle.seek(start)
                data = handle.read(stop - start)
        except OSError as exc:
            raise TranscriptError(f"cannot read the transcript again: {exc.strerror or exc}", path=self.name) from None
        chunk: list[Entry] = []
        for position in range(index, last):
            kept = self._kept.get(position)
            if kept is not None:
                chunk.append(kept)
                continue
            begin = self._offsets[position] - start
            finish = (self._offsets[position + 1] if position + 1 < len(self._offsets) else self._end) - start
            record = RECORD_ADAPTER.validate_python(json_loads(data[begin:finish]))
            assert isinstance(record, EmitInbound)
            chunk.append(record)
        self._chunk_start, self._chunk = index, chunk


def parse_transcript(text: str | bytes, *, path: str | None = None) -> Transcript:
    """Load a transcript from NDJSON text already in memory."""
    data = text.encode() if isinstance(text, str) else text
    return read_transcript(data.splitlines(), path=path)


_OPTIONAL = ("label", "afterMs", "error")


def dump_record(record: TranscriptHeader | Entry) -> bytes:
    """Serialize one record as a single NDJSON line (with the trailing newline).

    Optional fields that are unset are left out; a ``frame`` is written even when it is null.
    """
    data = record.model_dump(mode="json", by_alias=True)
    for key in _OPTIONAL:
        if data.get(key, 0) is None:
            del data[key]
    return orjson.dumps(data) + b"\n"


def dump_transcript(header: TranscriptHeader, entries: Iterable[Entry]) -> bytes:
    """Serialize a whole transcript to NDJSON bytes."""
    return dump_record(header) + b"".join(dump_record(e) for e in entries)


class TranscriptWriter:
    """Write a transcript record by record; the file appears whole, atomically, on close.

    Records stream to a temporary file in ``path``'s directory (an unnamed one where the system
    has them, see :mod:`harness.files`); :meth:`close` moves it into place, and an exception
    inside the ``with`` block drops it, so a reader never sees half a transcript. An existing
    ``path`` (a dangling symlink too) is an error unless ``force``; a file system that cannot be
    written is a one-line :class:`~harness.errors.OutputError`.

    >>> with TranscriptWriter(path, header) as writer:  # doctest: +SKIP
    ...     writer.write(EmitInbound(frame={"kind": "sse.done"}))
    """

    def __init__(self, path: Path | str, header: TranscriptHeader, *, force: bool = False) -> None:
        self.path = Path(path)
        self._out = AtomicWriter(self.path, force=force)
        self.count = 0
        try:
            self._out.write(dump_record(header))
        except BaseException:
            self._out.abort()
            raise

    def write(self, entry: Entry) -> None:
        """Append one entry."""
        self._out.write(dump_record(entry))
        self.count += 1

    def close(self) -> None:
        """Finish the file and move it into place."""
        self._out.commit()

    def abort(self) -> None:
        """Drop everything written so far."""
        self._out.abort()

    def __enter__(self) -> TranscriptWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._out.closed:
            return
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_transcript(
    path: Path | str, header: TranscriptHeader, entries: Iterable[Entry], *, force: bool = False
) -> None:
    """Write a transcript file atomically, streaming; an existing file is an error unless ``force``."""
    with TranscriptWriter(path, header, force=force) as writer:
        for entry in entries:
            writer.write(entry)
