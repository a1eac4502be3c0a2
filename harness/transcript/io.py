"""Read and write transcript NDJSON, streaming, with errors that name the file and line.

Reading follows t3code's parser: lines are trimmed, blank lines are skipped (line numbers still
count them), the first record must be ``transcript_start`` and no other line may be one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import ValidationError

from harness.errors import TranscriptError, UnknownProtocolError, UsageError
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
        found_text = orjson.dumps(found, default=repr).decode()[:120] if found is not None else "nothing"
        parts.append(f"{path}: {problem['msg']} (found {found_text})")
    return "; ".join(parts)


def _iter_lines(source: Path | str | IO[bytes] | Iterable[bytes | str]) -> Iterator[tuple[int, bytes]]:
    if isinstance(source, (str, Path)):
        try:
            with open(source, "rb") as handle:
                yield from _iter_lines(handle)
        except FileNotFoundError:
            raise UsageError(f"{source}: no such transcript file") from None
        return
    for number, raw in enumerate(source, start=1):
        line = raw.encode() if isinstance(raw, str) else raw
        line = line.strip()
        if line:
            yield number, line


def iter_records(
    source: Path | str | IO[bytes] | Iterable[bytes | str], *, path: str | None = None
) -> Iterator[tuple[int, TranscriptHeader | Entry]]:
    """Yield ``(line_number, record)`` for every non-blank line, validating each one as it goes."""
    name = path if path is not None else (str(source) if isinstance(source, (str, Path)) else None)
    first = True
    http = False
    for number, line in _iter_lines(source):
        try:
            raw: Any = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise TranscriptError(f"not valid JSON: {exc}", path=name, line=number) from None
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


def write_atomic(path: Path | str, data: bytes, *, force: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename; never clobber unless ``force``."""
    target = Path(path)
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class TranscriptWriter:
    """Write a transcript record by record; the file appears whole, atomically, on close.

    Records stream to a temporary file next to ``path``; :meth:`close` renames it into place, and
    an exception inside the ``with`` block removes it, so a reader never sees half a transcript.
    An existing ``path`` is an error unless ``force``.

    >>> with TranscriptWriter(path, header) as writer:  # doctest: +SKIP
    ...     writer.write(EmitInbound(frame={"kind": "sse.done"}))
    """

    def __init__(self, path: Path | str, header: TranscriptHeader, *, force: bool = False) -> None:
        self.path = Path(path)
        if self.path.exists() and not force:
            raise UsageError(f"{self.path} already exists; pass --force to overwrite it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self._tmp = Path(tmp)
        self._handle = os.fdopen(fd, "wb")
        self._handle.write(dump_record(header))
        self.count = 0

    def write(self, entry: Entry) -> None:
        """Append one entry."""
        self._handle.write(dump_record(entry))
        self.count += 1

    def close(self) -> None:
        """Finish the file and move it into place."""
        self._handle.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop everything written so far."""
        self._handle.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> TranscriptWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
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
