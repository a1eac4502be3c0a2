"""One writer for every live recording: redact at write time, stamp ``afterMs``, appear atomically.

The HTTP recording transport, the recording proxy and ``harness record exec`` all write through a
:class:`TranscriptRecorder`:

* every frame passes through a :class:`~harness.record.redact.Redactor` before it touches the
  disk (never after);
* ``afterMs`` of an inbound entry is the time since the previous entry, from a monotonic clock
  (recording is the one place that reads real time; replay never does);
* writes are serialised by a lock, so two threads (a runtime's stdin and stdout) share one file
  in the order things happened;
* the file is written by :mod:`harness.files` (an unnamed temporary file where the system has
  them, so a killed recorder leaves nothing) and moved into place on :meth:`close`; then it is
  scanned, and removed with a :class:`~harness.record.redact.SecretLeak` if a known secret shape
  survived. An existing file (a dangling symlink too) is refused unless ``force``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from harness.record.redact import Redactor, check_written
from harness.transcript import EmitInbound, ExpectOutbound, RuntimeExit, TranscriptHeader, TranscriptWriter


class TranscriptRecorder:
    """Append entries to a new transcript as they happen; see the module docstring.

    >>> recorder = TranscriptRecorder(path, header)  # doctest: +SKIP
    >>> recorder.outbound({"id": 1, "method": "initialize"}, label="initialize")  # doctest: +SKIP
    >>> recorder.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        path: Path | str,
        header: TranscriptHeader,
        *,
        redactor: Redactor | None = None,
        force: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.redactor = redactor or Redactor()
        header = header.model_copy(update={"metadata": self.redactor.json(header.metadata)})
        self._writer = TranscriptWriter(self.path, header, force=force)
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()
        self.closed = False
        self.entries = 0

    def _elapsed_ms(self) -> int:
        now = self._clock()
        elapsed = max(0, round((now - self._last) * 1000))
        self._last = now
        return elapsed

    def outbound(self, frame: Any, *, label: str | None = None) -> None:
        """Record a frame the app sent."""
        with self._lock:
            self._elapsed_ms()
            self._write(ExpectOutbound(label=label, frame=self.redactor.json(frame)))

    def inbound(self, frame: Any, *, label: str | None = None) -> None:
        """Record a frame the provider sent, with the delay since the previous entry."""
        with self._lock:
            after = self._elapsed_ms()
            self._write(EmitInbound(label=label, frame=self.redactor.json(frame), after_ms=after))

    def copy(self, entry: ExpectOutbound | EmitInbound | RuntimeExit) -> None:
        """Write an entry of an earlier recording as it is (``new_episodes`` keeps the old ones)."""
        with self._lock:
            self._elapsed_ms()
            self._write(entry)

    def runtime_exit(self, status: Literal["success", "error", "cancelled"], error: Any = None) -> None:
        """Record the runtime process (or the connection) ending."""
        with self._lock:
            self._elapsed_ms()
            self._write(RuntimeExit(status=status, error=self.redactor.json(error)))

    def _write(self, entry: ExpectOutbound | EmitInbound | RuntimeExit) -> None:
        if self.closed:
            raise RuntimeError(f"{self.path}: the recording is closed")
        self._writer.write(entry)
        self.entries += 1

    def close(self) -> Path:
        """Move the file into place, then scan it; a surviving secret removes it and raises."""
        with self._lock:
            if self.closed:
                return self.path
            self.closed = True
            self._writer.close()
        check_written(self.path, self.redactor)
        return self.path

    def abort(self) -> None:
        """Drop the recording: nothing is written."""
        with self._lock:
            if not self.closed:
                self.closed = True
                self._writer.abort()
