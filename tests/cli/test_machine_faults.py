"""The real `harness` command under faults of the machine: Ctrl-C, kill -9, a directory it may not write.

Each test runs ``python -m harness ...`` as a subprocess. To make a signal land in the middle of a
write, deterministically, the subprocess gets a ``sitecustomize`` module (on ``PYTHONPATH``) that
wraps :meth:`harness.files.AtomicWriter.write`: once a file under ``FAULT_HOOK_UNDER`` has had
``FAULT_HOOK_AFTER_BYTES`` written to it, it prints ``fault-hook: writing PATH`` on stderr and
sleeps. The test waits for that line, then sends the signal: the write is open, its bytes are on
the disk, and nothing else is running.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = "scenarios/anthropic/plain_text.yaml"
SSE_SAMPLE = ROOT / "fixtures" / "corpus" / "anthropic-sdk" / "basic_response.sse.txt"
HOOK_LINE = "fault-hook: writing "
TIMEOUT = 120  # generous: only reached if something is broken

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and permissions")

HOOK = """
import os
import sys
import time

_under = os.environ.get("FAULT_HOOK_UNDER")
if _under:
    import harness.files as _files

    if os.environ.get("FAULT_HOOK_NAMED"):
        _files._tmpfile_works = False  # as where there is no O_TMPFILE
    _after = int(os.environ.get("FAULT_HOOK_AFTER_BYTES", "0"))
    _write = _files.AtomicWriter.write
    _written = {}
    _blocked = []

    def write(self, data):
        _write(self, data)
        path = os.path.abspath(self.path)
        if _blocked or not path.startswith(_under + os.sep):
            return
        _written[path] = _written.get(path, 0) + len(data)
        if _written[path] >= _after:
            _blocked.append(path)
            sys.stderr.write("fault-hook: writing " + path + "\\n")
            sys.stderr.flush()
            time.sleep(600)

    _files.AtomicWriter.write = write
"""


class Harness:
    """A ``python -m harness`` subprocess whose stderr is read line by line as it comes."""

    def __init__(self, args: list[str], *, hook: Path | None = None, env: dict[str, str] | None = None) -> None:
        environment = dict(os.environ, **(env or {}))
        if hook is not None:
            environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook), environment.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness", *args],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.lines.put(None)

    def wait_for_hook(self) -> Path:
        """Wait until the hook says a write is open; returns the file being written."""
        while True:
            try:
                line = self.lines.get(timeout=TIMEOUT)
            except queue.Empty:
                self.process.kill()
                pytest.fail("the write never started")
            if line is None:
                pytest.fail(f"exited with {self.process.wait()} before writing: {self.stderr}")
            self.stderr.append(line)
            if line.startswith(HOOK_LINE):
                return Path(line[len(HOOK_LINE) :])

    def finish(self) -> tuple[int, list[str]]:
        """Wait for the exit; returns the status and every stderr line except the hook's."""
        try:
            self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        self._reader.join(TIMEOUT)
        while (line := self.lines.get(timeout=TIMEOUT)) is not None:
            self.stderr.append(line)
        return self.process.returncode, [line for line in self.stderr if not line.startswith(HOOK_LINE)]


@pytest.fixture
def hook(tmp_path: Path) -> Path:
    directory = tmp_path / "hook"
    directory.mkdir()
    (directory / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
    return directory


def snapshot(directory: Path) -> dict[str, bytes | None]:
    """Every entry under ``directory`` (hidden ones too), with the bytes of each file."""
    return {
        str(path.relative_to(directory)): (path.read_bytes() if path.is_file() else None)
        for path in sorted(directory.rglob("*"))
    }


def leftovers(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.name.endswith((".tmp", ".build")) or p.name.startswith(".")]


def big_sse_capture(path: Path, deltas: int = 200) -> None:
    """An Anthropic SSE body of about a megabyte: the sample's head and tail around many text deltas."""
    events = SSE_SAMPLE.read_text(encoding="utf-8").strip().split("\n\n")
    middle = [
        "event: content_block_delta\ndata: "
        + json.dumps(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"word {i} " * 600}},
            separators=(",", ":"),
        )
        for i in range(deltas)
    ]
    path.write_text("\n\n".join(events[:2] + middle + events[6:]) + "\n\n", encoding="utf-8")


def test_ctrl_c_during_run_exits_130_and_leaves_the_previous_reports(tmp_path: Path, hook: Path) -> None:
    reports = tmp_path / "reports"
    (reports / "events").mkdir(parents=True)
    (reports / "summary.md").write_bytes(b"# the previous summary\n")
    (reports / "harness.duckdb").write_bytes(b"the previous database\n")
    (reports / "events" / "plain_text.ndjson").write_bytes(b'{"previous": true}\n')
    (reports / "events" / "gone.ndjson").write_bytes(b'{"previous": true}\n')
    before = snapshot(reports)

    run = Harness(["run", SCENARIO, "--report-dir", str(reports)], hook=hook, env={"FAULT_HOOK_UNDER": str(reports)})
    assert run.wait_for_hook() == reports / "events" / "plain_text.ndjson"
    run.process.send_signal(signal.SIGINT)
    status, stderr = run.finish()

    assert (status, stderr) == (130, ["interrupted"])
    assert snapshot(reports) == before
    assert leftovers(reports) == []


def test_ctrl_c_during_goldens_update_exits_130_and_leaves_the_previous_golden(tmp_path: Path, hook: Path) -> None:
    goldens = tmp_path / "goldens"
    goldens.mkdir()
    lines = (ROOT / "fixtures" / "goldens" / "plain_text.ndjson").read_bytes().splitlines(keepends=True)
    (goldens / "plain_text.ndjson").write_bytes(b"".join(lines[:-1]))  # out of date: the update rewrites it
    before = snapshot(goldens)

    update = Harness(
        ["goldens", "update", SCENARIO, "--goldens-dir", str(goldens)],
        hook=hook,
        env={"FAULT_HOOK_UNDER": str(goldens)},
    )
    assert update.wait_for_hook() == goldens / "plain_text.ndjson"
    update.process.send_signal(signal.SIGINT)
    status, stderr = update.finish()

    assert (status, stderr) == (130, ["interrupted"])
    assert snapshot(goldens) == before


@pytest.mark.parametrize("temporaries", ["unnamed", "named"])
def test_kill_9_during_import_leaves_no_partial_file(tmp_path: Path, hook: Path, temporaries: str) -> None:
    source = tmp_path / "capture.sse.txt"
    big_sse_capture(source)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "big.ndjson"
    out.write_bytes(b"the previous transcript\n")
    args = ["import", str(source), "-o", str(out), "--protocol", "anthropic.messages", "--force"]
    env = {"FAULT_HOOK_UNDER": str(out_dir), "FAULT_HOOK_AFTER_BYTES": str(300_000)}
    if temporaries == "named":
        env["FAULT_HOOK_NAMED"] = "1"

    killed = Harness(args, hook=hook, env=env)
    assert killed.wait_for_hook() == out
    killed.process.send_signal(signal.SIGKILL)
    status, _ = killed.finish()

    assert status == -signal.SIGKILL
    assert out.read_bytes() == b"the previous transcript\n"  # no partial output
    if temporaries == "unnamed":
        assert [p.name for p in out_dir.iterdir()] == ["big.ndjson"]  # an unnamed temporary file: nothing left
        return
    # A named temporary file survives its killed writer (holding what reached the disk: all but the
    # last 64 kB buffer), until the next write of the same file removes it.
    (left,) = leftovers(out_dir)
    assert left.name.startswith(".big.ndjson.") and left.stat().st_size >= 300_000 - 65_536
    again = Harness(args)
    status, stderr = again.finish()
    assert (status, stderr) == (0, [])
    assert [p.name for p in out_dir.iterdir()] == ["big.ndjson"]
    assert out.read_bytes().startswith(b'{"type":"transcript_start"')


def _assert_one_line_usage_error(args: list[str], *, says: str) -> None:
    status, stderr = Harness(args).finish()
    assert status == 2
    assert len(stderr) == 1 and stderr[0].startswith("error: ") and says in stderr[0], stderr
    assert "Traceback" not in stderr[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_a_read_only_report_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    reports.chmod(0o555)
    try:
        _assert_one_line_usage_error(
            ["run", SCENARIO, "--report-dir", str(reports)],
            says=f"{reports / 'events'}: cannot create the directory: permission denied",
        )
        assert list(reports.iterdir()) == []
    finally:
        reports.chmod(0o755)


def test_a_report_dir_that_cannot_be_a_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"a file\n")
    _assert_one_line_usage_error(
        ["run", SCENARIO, "--report-dir", str(tmp_path / "file" / "reports")],
        says="cannot create the directory: not a directory",
    )
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
