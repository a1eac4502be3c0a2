"""Record a stdio runtime live: run it as a child, pass its stdio through, write a transcript.

``harness record exec -o OUT -- CMD ARGS...`` sits between an app and its runtime process (``codex
app-server``, ``claude -p --output-format stream-json ...``):

* each line of this process's stdin is recorded as ``expect_outbound`` and copied to the child's
  stdin (recorded first, so it precedes whatever the child answers);
* each line of the child's stdout is recorded as ``emit_inbound`` (with ``afterMs``) and copied to
  this process's stdout;
* the child's stderr passes through unrecorded;
* when the child exits, ``runtime_exit`` is recorded (0 → ``success``; n → ``error`` with
  ``{"exitCode": n}``; killed by signal n → ``cancelled`` with ``{"signal": n}``) and
  :func:`record_exec` returns the status a shell would report (n, or 128 + signal).

One :class:`~harness.record.recorder.TranscriptRecorder` writes the file: it redacts secrets and
replaces the workspace and home paths by ``<workspace>`` and ``<home>`` at write time, stamps
``afterMs`` from a monotonic clock and serialises the two pumping threads. SIGINT and SIGTERM sent
to the recorder are forwarded to the child, which runs in its own process group.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import orjson

from harness.errors import UsageError
from harness.record.recorder import TranscriptRecorder
from harness.record.redact import Redactor
from harness.transcript import TranscriptHeader, get_protocol, known_protocols

PROG = "harness record exec"
RECORDED_WITH = "harness record exec"


def record_exec_command(
    out: Path | str,
    command: Sequence[str],
    *,
    protocol: str | None = None,
    force: bool = False,
    python: str = sys.executable,
) -> list[str]:
    """The argv that runs ``command`` through ``harness record exec``, recording it to ``out``.

    >>> record_exec_command("t.ndjson", ["codex", "app-server"], python="python")
    ['python', '-m', 'harness', 'record', 'exec', '-o', 't.ndjson', '--', 'codex', 'app-server']
    """
    options = ["-o", str(out)]
    if protocol is not None:
        options += ["--protocol", protocol]
    if force:
        options.append("--force")
    return [python, "-m", "harness", "record", "exec", *options, "--", *command]


def guess_protocol(command: Sequence[str]) -> str | None:
    """The protocol a command speaks, when its argv says: None when it does not.

    ``codex.app-server`` when one word's basename is ``codex`` and a later word is ``app-server``;
    ``claude-code.stream-json`` when one word's basename is ``claude`` and a later word is
    ``stream-json`` or ``--output-format=stream-json`` (wrappers such as ``npx codex app-server``
    are recognised the same way).
    """
    words = [os.path.basename(word) for word in command]
    for index, word in enumerate(words):
        later = command[index + 1 :]
        if word == "codex" and "app-server" in later:
            return "codex.app-server"
        if word == "claude" and any(arg in ("stream-json", "--output-format=stream-json") for arg in later):
            return "claude-code.stream-json"
    return None


@dataclass
class ExecResult:
    """What :func:`record_exec` did: the file, the child's status, and what was recorded."""

    out: Path
    exit_code: int
    status: str
    entries: int
    redactions: int
    warnings: list[str] = field(default_factory=list)


class _Labeler:
    """Labels for people: the JSON-RPC method (a response gets its request's), else the ``type``."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, Any], str] = {}

    def label(self, frame: Any, *, direction: str) -> str | None:
        if not isinstance(frame, dict):
            return None
        method, ident = frame.get("method"), frame.get("id")
        key_ok = isinstance(ident, (str, int)) and not isinstance(ident, bool)
        if isinstance(method, str):
            if key_ok:
                self._requests[(direction, ident)] = method
            return method
        if key_ok and ("result" in frame or "error" in frame):
            other = "in" if direction == "out" else "out"
            return self._requests.pop((other, ident), None)
        kind = frame.get("type")
        return kind if isinstance(kind, str) else None


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    """Lines of ``stream`` as they arrive, each with its newline (the last one may lack it).

    A real file descriptor is read with :func:`os.read`, so a daemon thread blocked here holds no
    buffer lock when the interpreter exits.
    """
    try:
        fd: int | None = stream.fileno()
    except (OSError, ValueError, AttributeError):
        fd = None
    if fd is None:
        yield from iter(stream.readline, b"")
        return
    buffer = bytearray()
    searched = 0
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            if buffer:
                yield bytes(buffer)
            return
        buffer += chunk
        while (cut := buffer.find(b"\n", searched)) >= 0:
            yield bytes(buffer[: cut + 1])
            del buffer[: cut + 1]
            searched = 0
        searched = len(buffer)


class _Session:
    """The two pumps and the recorder of one :func:`record_exec` call."""

    def __init__(self, recorder: TranscriptRecorder, proc: subprocess.Popen[bytes], stderr: IO[str]) -> None:
        self.recorder = recorder
        self.proc = proc
        self.stderr = stderr
        self.labeler = _Labeler()
        self.gate = threading.Lock()
        self.done = False
        self.failure: BaseException | None = None
        self.warnings: list[str] = []
        self.counts = {"stdin": 0, "stdout": 0}

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        try:
            self.stderr.write(f"{PROG}: warning: {message}\n")
            self.stderr.flush()
        except OSError:
            pass

    def _frame(self, raw: bytes, stream: str) -> Any:
        self.counts[stream] += 1
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.warn(f"{stream} line {self.counts[stream]} is not JSON; recorded as a JSON string")
            return raw.decode("utf-8", "replace").rstrip("\r\n")

    def _record(self, raw: bytes, stream: str) -> None:
        """Record one line (blank lines are passed on but not recorded)."""
        if not raw.strip() or self.failure is not None:
            return
        direction = "out" if stream == "stdin" else "in"
        with self.gate:
            if self.done:
                return
            try:
                frame = self._frame(raw, stream)
                label = self.labeler.label(frame, direction=direction)
                label = self.recorder.redactor.text(label) if label is not None else None
                if direction == "out":
                    self.recorder.outbound(frame, label=label)
                else:
                    self.recorder.inbound(frame, label=label)
            except Exception as exc:  # a disk error: keep the child's traffic flowing, fail at the end
                self.failure = exc

    def pump_stdin(self, source: IO[bytes]) -> None:
        """This process's stdin → record → the child's stdin; closes the child's stdin at the end."""
        child = self.proc.stdin
        assert child is not None
        try:
            for raw in _lines(source):
                self._record(raw, "stdin")
                try:
                    child.write(raw)
                    child.flush()
                except OSError:  # the child is gone
                    return
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                child.close()

    def pump_stdout(self, sink: IO[bytes]) -> None:
        """The child's stdout → record → this process's stdout, until the child closes it."""
        source = self.proc.stdout
        assert source is not None
        forward = True
        for raw in iter(source.readline, b""):
            self._record(raw, "stdout")
            if forward:
                try:
                    sink.write(raw)
                    sink.flush()
                except OSError:  # the app stopped reading: keep draining and recording the child
                    forward = False

    def finish(self, returncode: int) -> tuple[int, str]:
        """Record ``runtime_exit``; the status to exit with and the recorded status."""
        with self.gate:
            self.done = True
            if returncode == 0:
                self.recorder.runtime_exit("success")
                return 0, "success"
            if returncode > 0:
                self.recorder.runtime_exit("error", {"exitCode": returncode})
                return returncode, "error"
            self.recorder.runtime_exit("cancelled", {"signal": -returncode})
            return 128 - returncode, "cancelled"


def record_exec(
    out: Path | str,
    command: Sequence[str],
    *,
    protocol: str | None = None,
    force: bool = False,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | None = None,
    stderr: IO[str] | None = None,
    workspace: Path | str | None = None,
    handle_signals: bool = False,
) -> ExecResult:
    """Run ``command`` with its stdio passed through and recorded to ``out``; see the module docstring.

    Raises :class:`UsageError` (nothing written, nothing run) when ``command`` is empty, ``out``
    exists without ``force``, or the protocol is neither given nor guessable; and when the child
    cannot be started, or a secret survived redaction (the file is removed).
    """
    out = Path(out)
    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout.buffer
    stderr = stderr if stderr is not None else sys.stderr
    command = list(command)
    if not command:
        raise UsageError(f"no command to record; put it after --, e.g. {PROG} -o codex.ndjson -- codex app-server")
    if out.exists() and not force:
        raise UsageError(f"{out} already exists; pass --force to overwrite it")
    name = protocol or guess_protocol(command)
    if name is None:
        raise UsageError(
            f"cannot tell which protocol {shlex.join(command)} speaks; pass --protocol "
            f"(one of {', '.join(p for p in known_protocols() if get_protocol(p).transport == 'stdio')})"
        )
    info = get_protocol(name, where="--protocol")
    if info.transport != "stdio":
        raise UsageError(f"--protocol {name} runs over {info.transport}; record exec records stdio runtimes")
    root = Path(workspace) if workspace is not None else Path.cwd()
    redactor = Redactor.for_project(root, placeholders={"<workspace>": str(root), "<home>": str(Path.home())})
    header = TranscriptHeader(
        provider=info.provider,
        protocol=name,
        version="unknown",
        scenario=out.stem,
        metadata={"argv": command[1:], "recordedWith": RECORDED_WITH},
    )
    recorder = TranscriptRecorder(out, header, redactor=redactor, force=force)
    try:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, process_group=0)
    except OSError as exc:
        recorder.abort()
        raise UsageError(f"cannot run {command[0]}: {exc.strerror or exc}") from None

    session = _Session(recorder, proc, stderr)
    previous: dict[int, Any] = {}
    if handle_signals and threading.current_thread() is threading.main_thread():

        def forward(signum: int, frame: FrameType | None) -> None:
            proc.send_signal(signum)

        for forwarded in (signal.SIGINT, signal.SIGTERM):
            previous[forwarded] = signal.signal(forwarded, forward)
    try:
        threading.Thread(target=session.pump_stdin, args=(stdin,), name="record-exec-stdin", daemon=True).start()
        reader = threading.Thread(target=session.pump_stdout, args=(stdout,), name="record-exec-stdout")
        reader.start()
        reader.join()
        returncode = proc.wait()
        exit_code, status = session.finish(returncode)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        recorder.abort()
        raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if session.failure is not None:
        recorder.abort()
        raise UsageError(f"{out}: recording failed, nothing written: {session.failure}")
    recorder.close()  # raises SecretLeak (a UsageError) and removes the file if a secret survived
    return ExecResult(
        out=out,
        exit_code=exit_code,
        status=status,
        entries=recorder.entries,
        redactions=redactor.total,
        warnings=session.warnings,
    )
