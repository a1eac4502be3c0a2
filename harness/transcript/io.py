"""Read and write transcript NDJSON, streaming, with errors that name the file and line.

Reading follows t3code's parser: lines are trimmed, blank lines are skipped (line numbers still
count them), the first record must be ``transcript_start`` and no other line may be one.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import ValidationError

from harness.errors import TranscriptError, UnknownProtocolError, UsageError
from harness.files import AtomicWriter
from harness.files import write_atomic as write_atomic  # re-exported: the one safe way to write a file
from harness.limits import INT_MAX, INT_MIN, MAX_DEPTH, MAX_LINE_BYTES, find_instance, format_json_path, too_deep
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
    """A loaded transcript: its header, its entries in order, and each entry's source line."""

    header: TranscriptHeader
    entries: tuple[Entry, ...]
    lines: tuple[int, ...] = field(default=())
    path: str | None = None

    def line_of(self, index: int) -> int | None:
        """1-based source line of entry ``index``, when the transcript came from a file."""
        return self.lines[index] if index < len(self.lines) else None

    @property
    def protocol(self) -> str:
        return self.header.protocol

    @property
    def has_outbound(self) -> bool:
        """False for stream-only transcripts (no ``expect_outbound`` entries)."""
        return any(isinstance(e, ExpectOutbound) for e in self.entries)


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


def _iter_lines(
    source: Path | str | IO[bytes] | Iterable[bytes | str], name: str | None
) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based numbers; a line is never read past the length limit."""
    if isinstance(source, (str, Path)):
        with open_regular(source, what="transcript") as opened:
            yield from _iter_lines(opened, name)
        return
    lines: Iterable[bytes | str]
    if hasattr(source, "readline"):
        reader: Any = source
        lines = iter(lambda: reader.readline(MAX_LINE_BYTES + 1), b"")
    else:
        lines = source
    for number, raw in enumerate(lines, start=1):
        data = raw.encode() if isinstance(raw, str) else raw
        if len(data) > MAX_LINE_BYTES:
            raise TranscriptError(f"line longer than {MAX_LINE_BYTES} bytes", path=name, line=number)
        data = data.strip()
        if data:
            yield number, data


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
    """
    value = orjson.loads(line)
    if line.count(b"[") + line.count(b"{") > MAX_DEPTH:  # cheap: fewer brackets cannot nest deeper
        deep = too_deep(value)
        if deep is not None:
            shown = format_json_path(deep) if len(deep) <= 8 else format_json_path(deep[:6]) + "..."
            raise ValueError(f"{shown}: nested deeper than {MAX_DEPTH} levels")
    try:
        same = orjson.dumps(value) == line
    except orjson.JSONEncodeError:
        same = False
    if not same:
        strict = json.loads(line, object_pairs_hook=_strict_object, parse_int=_strict_int)
        found = find_instance(strict, _Found)
        if found is not None:
            path, marker = found
            raise ValueError(f"{format_json_path(path)}: {marker.problem}")
    return value


def iter_records(
    source: Path | str | IO[bytes] | Iterable[bytes | str], *, path: str | None = None
) -> Iterator[tuple[int, TranscriptHeader | Entry]]:
    """Yield ``(line_number, record)`` for every non-blank line, validating each one as it goes."""
    name = path if path is not None else (str(source) if isinstance(source, (str, Path)) else None)
    first = True
    http = False
    for number, line in _iter_lines(source, name):
        try:
            raw: Any = load_json_line(line)
        except orjson.JSONDecodeError as exc:
            raise TranscriptError(f"not valid JSON: {exc}", path=name, line=number) from None
        except ValueError as exc:
            raise TranscriptError(str(exc), path=name, line=number) from None
        if not isinstance(raw, dict):
            raise TranscriptError(f"expected a JSON object, found {type(raw).__name__}", path=name, line=number)
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
        elif http and not isinstance(record, RuntimeExit):
            try:
                HTTP_FRAME_ADAPTER.validate_python(record.frame)
            except ValidationError as exc:
                message = format_validation_error(exc, tags=_FRAME_TAGS).replace("$", "$.frame", 1)
                raise TranscriptError(message, path=name, line=number) from None
        yield number, record
    if first:
        raise TranscriptError("empty transcript: expected a transcript_start line", path=name, line=1)


def read_transcript(source: Path | str | IO[bytes] | Iterable[bytes | str], *, path: str | None = None) -> Transcript:
    """Load a whole transcript; raises :class:`TranscriptError` naming the file and line."""
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
