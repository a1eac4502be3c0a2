"""`harness record exec`: record a scripted stdio runtime driven by a real client, then replay the
recording with `harness fake-runtime` into the same client and get the same bytes back."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.record.exec import guess_protocol, record_exec_command
from harness.transcript import EmitInbound, ExpectOutbound, RuntimeExit, read_transcript

TIMEOUT = 30.0

# A runtime in miniature: greets with its argv and cwd, answers each JSON-RPC request with a
# notification, a log line that is not JSON and the response, logs to stderr; "exit" ends it with
# the status asked for, "die" kills it with SIGKILL, SIGTERM makes it say goodbye and exit 0.
RUNTIME = r"""
import json, os, signal, sys

def say(frame):
    sys.stdout.write(json.dumps(frame, separators=(",", ":")) + "\n")
    sys.stdout.flush()

def goodbye(signum, frame):
    say({"method": "goodbye", "params": {"signal": signum}})
    sys.exit(0)

signal.signal(signal.SIGTERM, goodbye)
say({"method": "ready", "params": {"argv": sys.argv[1:], "cwd": os.getcwd(), "secrets": os.environ.get("LEAK", "")}})
for line in sys.stdin:
    request = json.loads(line)
    print("stderr: handling", request["id"], file=sys.stderr, flush=True)
    say({"method": "progress", "params": {"id": request["id"]}})
    sys.stdout.write(f"log: handled request {request['id']}\n")
    say({"id": request["id"], "result": {"method": request["method"], "params": request.get("params")}})
    if request["method"] == "exit":
        sys.exit(request["params"]["status"])
    if request["method"] == "die":
        os.kill(os.getpid(), signal.SIGKILL)
"""

ANTHROPIC_KEY = "sk-ant-api03-" + "Q7xZ2kLmN4pR8sT1vW3y"
BEARER = "Bearer " + "abcDEF123ghiJKL456mnoPQR"
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"


class Client:
    """An app driving a runtime: one request at a time, each sent after the previous response."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env={**os.environ, **(env or {})},
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.received: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            self.lines.put(line)
        self.lines.put(b"")

    def until(self, predicate: Any) -> None:
        """Read lines until one parses as JSON and satisfies ``predicate``."""
        while True:
            line = self.lines.get(timeout=TIMEOUT)
            assert line, "the runtime ended its output early"
            self.received.append(line)
            try:
                frame = json.loads(line)
            except ValueError:
                continue
            if predicate(frame):
                return

    def send(self, ident: int, method: str, params: Any) -> None:
        assert self.proc.stdin is not None
        frame = {"id": ident, "method": method, "params": params}
        self.proc.stdin.write(json.dumps(frame).encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, ident: int, method: str, params: Any) -> None:
        """Send a request and wait for its response."""
        self.send(ident, method, params)
        self.until(lambda f: f.get("id") == ident and "result" in f)

    def finish(self) -> tuple[int, str]:
        """Read to the end of output; exit status and stderr."""
        while line := self.lines.get(timeout=TIMEOUT):
            self.received.append(line)
        assert self.proc.stderr is not None
        return self.proc.wait(timeout=TIMEOUT), self.proc.stderr.read().decode()


def session(command: list[str], cwd: Path, *, secret: str = "", env: dict[str, str] | None = None) -> Client:
    """The app's whole conversation with its runtime."""
    client = Client(command, cwd, env)
    client.until(lambda f: f.get("method") == "ready")
    client.request(1, "initialize", {"clientInfo": {"name": "test"}, "note": secret})
    client.request(2, "turn/start", {"input": "hello"})
    client.request(3, "exit", {"status": 5})
    return client


def harness_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness", *args]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "runtime.py").write_text(RUNTIME)
    return tmp_path


RUNTIME_COMMAND = [sys.executable, "runtime.py", "--model", "m-1"]


def test_a_recording_replays_byte_identically_into_the_same_client(workspace: Path) -> None:
    live = session(record_exec_command("out.ndjson", RUNTIME_COMMAND, protocol="codex.app-server"), workspace)
    code, stderr = live.finish()
    assert code == 5
    assert "stderr: handling 1" in stderr  # the child's stderr passes through
    assert "warning: stdout line 3 is not JSON; recorded as a JSON string" in stderr
    assert "harness record exec: wrote out.ndjson: " in stderr

    out = workspace / "out.ndjson"
    transcript = read_transcript(out)
    header = transcript.header
    assert (header.provider, header.protocol, header.version, header.scenario) == (
        "codex",
        "codex.app-server",
        "unknown",
        "out",
    )
    assert header.metadata == {"argv": ["runtime.py", "--model", "m-1"], "recordedWith": "harness record exec"}
    assert str(workspace) not in out.read_text()  # the greeting's cwd became <workspace>
    entries = transcript.entries
    assert [e.type for e in entries[:2]] == ["emit_inbound", "expect_outbound"]
    assert isinstance(entries[-1], RuntimeExit)
    assert (entries[-1].status, entries[-1].error) == ("error", {"exitCode": 5})
    assert all(e.after_ms is not None and e.after_ms >= 0 for e in entries if isinstance(e, EmitInbound))
    outbound = [e for e in entries if isinstance(e, ExpectOutbound)]
    assert [(e.label, e.frame["id"]) for e in outbound] == [("initialize", 1), ("turn/start", 2), ("exit", 3)]
    labels = [e.label for e in entries if isinstance(e, EmitInbound)]
    assert labels[:5] == ["ready", "progress", None, "initialize", "progress"]

    replay = session(harness_cli("fake-runtime", "out.ndjson", "--", "runtime.py", "--model", "m-1"), workspace)
    assert replay.finish() == (5, "")
    assert replay.received == live.received
    assert b"log: handled request 1\n" in replay.received


def test_secrets_from_either_side_never_reach_the_file_and_the_recording_still_replays(workspace: Path) -> None:
    leak = {"LEAK": f"{BEARER} {AWS_KEY}"}  # the runtime prints these in its greeting
    live = session(
        record_exec_command("out.ndjson", RUNTIME_COMMAND, protocol="codex.app-server"),
        workspace,
        secret=f"my key is {ANTHROPIC_KEY}",
        env=leak,
    )
    assert live.finish()[0] == 5
    text = (workspace / "out.ndjson").read_text()
    for secret in (ANTHROPIC_KEY, BEARER, AWS_KEY):
        assert secret not in text
    for marker in ("<redacted:anthropic-key>", "<redacted:bearer>", "<redacted:aws-access-key>"):
        assert marker in text

    # The app sends its real key again: the recorded <redacted:anthropic-key> stands for any such key.
    replay = session(
        harness_cli("fake-runtime", "out.ndjson", "--", *RUNTIME_COMMAND[1:]),
        workspace,
        secret=f"my key is {ANTHROPIC_KEY}",
    )
    code, stderr = replay.finish()
    assert (code, stderr) == (5, "")
    assert b"<redacted:anthropic-key>" in b"".join(replay.received)

    # ... but not any value at all, and the error does not print the key either.
    other = Client(harness_cli("fake-runtime", "out.ndjson", "--", *RUNTIME_COMMAND[1:]), workspace)
    other.until(lambda f: f.get("method") == "ready")
    other.send(1, "initialize", {"clientInfo": {"name": "test"}, "note": f"your key is {ANTHROPIC_KEY}"})
    code, stderr = other.finish()
    assert code == 97
    assert (
        'out.ndjson:3: outbound frame (initialize) differs from the recording at $.params.note: expected "my key'
        in stderr
    )
    assert 'found "your key is <redacted' in stderr
    assert ANTHROPIC_KEY not in stderr


def test_an_existing_file_is_never_overwritten_without_force(workspace: Path) -> None:
    out = workspace / "out.ndjson"
    out.write_text("precious\n")
    result = subprocess.run(
        record_exec_command(out, RUNTIME_COMMAND, protocol="codex.app-server"),
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert f"{out} already exists; pass --force to overwrite it" in result.stderr
    assert out.read_text() == "precious\n"
    assert result.stdout == ""  # the runtime never ran

    live = session(record_exec_command(out, RUNTIME_COMMAND, protocol="codex.app-server", force=True), workspace)
    assert live.finish()[0] == 5
    assert read_transcript(out).header.protocol == "codex.app-server"


def test_a_runtime_killed_by_a_signal_is_recorded_as_cancelled(workspace: Path) -> None:
    client = Client(record_exec_command("out.ndjson", RUNTIME_COMMAND, protocol="codex.app-server"), workspace)
    client.until(lambda f: f.get("method") == "ready")
    client.request(1, "die", {})
    code, _ = client.finish()
    assert code == 128 + signal.SIGKILL
    last = read_transcript(workspace / "out.ndjson").entries[-1]
    assert isinstance(last, RuntimeExit)
    assert (last.status, last.error) == ("cancelled", {"signal": signal.SIGKILL})


def test_sigterm_to_the_recorder_is_forwarded_to_the_runtime(workspace: Path) -> None:
    client = Client(record_exec_command("out.ndjson", RUNTIME_COMMAND, protocol="codex.app-server"), workspace)
    client.until(lambda f: f.get("method") == "ready")
    client.proc.send_signal(signal.SIGTERM)
    code, _ = client.finish()
    assert code == 0
    entries = read_transcript(workspace / "out.ndjson").entries
    assert entries[-2].frame == {"method": "goodbye", "params": {"signal": signal.SIGTERM}}  # type: ignore[union-attr]
    assert entries[-1] == RuntimeExit(status="success")


def test_the_protocol_is_guessed_from_the_command_or_asked_for(workspace: Path) -> None:
    assert guess_protocol(["codex", "app-server"]) == "codex.app-server"
    assert guess_protocol(["/usr/local/bin/codex", "app-server", "--listen", "stdio://"]) == "codex.app-server"
    assert guess_protocol(["npx", "codex", "app-server"]) == "codex.app-server"
    assert guess_protocol(["claude", "-p", "--output-format", "stream-json", "hi"]) == "claude-code.stream-json"
    assert guess_protocol(["claude", "--output-format=stream-json"]) == "claude-code.stream-json"
    assert guess_protocol(["claude", "-p", "hi"]) is None
    assert guess_protocol(RUNTIME_COMMAND) is None

    result = subprocess.run(
        record_exec_command("out.ndjson", RUNTIME_COMMAND),
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "pass --protocol (one of claude-agent-sdk.query, claude-code.stream-json, codex.app-server)" in result.stderr
    assert not (workspace / "out.ndjson").exists()


def test_record_exec_command_puts_options_before_the_separator() -> None:
    assert record_exec_command("o.ndjson", ["claude", "-p", "--", "hi"], protocol="p", force=True, python="py") == [
        "py",
        "-m",
        "harness",
        "record",
        "exec",
        "-o",
        "o.ndjson",
        "--protocol",
        "p",
        "--force",
        "--",
        "claude",
        "-p",
        "--",
        "hi",
    ]
