"""`harness fake-runtime`: every bundled stdio recording replayed to a real client process, and
every way a client can break a recording failing closed with FILE:LINE, the JSON path and exit 97."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.errors import UnconsumedEntries
from harness.replay.stdio import (
    EXIT_CANCELLED,
    EXIT_REPLAY_FAILED,
    FakeRuntime,
    StdioReplayError,
    exit_status,
    load_stdio_transcript,
    split_segments,
)
from harness.transcript import EmitInbound, ExpectOutbound, RuntimeExit, Transcript, read_transcript

ROOT = Path(__file__).resolve().parents[2]
CODEX = sorted(ROOT.glob("transcripts/t3code/*/codex_transcript.ndjson"))
CLAUDE_CLI = sorted(ROOT.glob("transcripts/claude-cli/**/*.ndjson"))
SIMPLE = ROOT / "transcripts/t3code/simple/codex_transcript.ndjson"
RESUME = ROOT / "transcripts/t3code/provider_thread_resume/codex_transcript.ndjson"
BASIC_QUERY = ROOT / "transcripts/claude-cli/basic_query.ndjson"
TIMEOUT = 30.0


def fake_runtime(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness", "fake-runtime", *args]


class StdioClient:
    """The app's side of a runtime's stdio: spawn it, read its stdout lines, write frames to its stdin."""

    def __init__(self, command: list[str], *, cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            self.lines.put(line)
        self.lines.put(b"")

    def receive(self) -> bytes:
        """The next stdout line (b"" at end of output)."""
        return self.lines.get(timeout=TIMEOUT)

    def send(self, frame: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(frame, separators=(",", ":")).encode() + b"\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def wait(self) -> tuple[int, str]:
        """Exit status and stderr, once the process is gone."""
        assert self.proc.stderr is not None
        code = self.proc.wait(timeout=TIMEOUT)
        return code, self.proc.stderr.read().decode()


def play_as_app(
    client: StdioClient,
    segment: Transcript,
    *,
    outbound: Callable[[Any], Any] = lambda frame: frame,
) -> tuple[list[Any], int, str]:
    """Act as the recorded app over one process segment: write its outbound frames when the
    transcript says the app spoke, read every inbound frame. Returns (frames received, exit, stderr)."""
    received: list[Any] = []
    for entry in segment.entries:
        if isinstance(entry, ExpectOutbound):
            client.send(outbound(entry.frame))
        elif isinstance(entry, EmitInbound):
            line = client.receive()
            assert line, f"the fake runtime ended its output before line {segment.line_of(len(received))}"
            received.append(json.loads(line))
    assert client.receive() == b"", "the fake runtime wrote more than the recording holds"
    code, stderr = client.wait()
    return received, code, stderr


def inbound_frames(segment: Transcript) -> list[Any]:
    return [entry.frame for entry in segment.entries if isinstance(entry, EmitInbound)]


def recorded_exit(segment: Transcript) -> int:
    last = segment.entries[-1] if segment.entries else None
    return exit_status(last if isinstance(last, RuntimeExit) else None)


def write_transcript(path: Path, header: dict[str, Any], entries: list[dict[str, Any]]) -> Path:
    record = {"type": "transcript_start", "version": "unknown", "scenario": path.stem, **header}
    path.write_text("".join(json.dumps(r) + "\n" for r in [record, *entries]))
    return path


CLAUDE_HEADER = {"provider": "claudeCode", "protocol": "claude-code.stream-json"}


# -- every bundled recording, played through a real process ------------------------------------


@pytest.mark.parametrize("path", CODEX + CLAUDE_CLI, ids=lambda p: str(p.relative_to(ROOT / "transcripts")))
def test_every_bundled_stdio_transcript_replays_into_a_real_client(path: Path, tmp_path: Path) -> None:
    fake = FakeRuntime(path, state=tmp_path / "state.json")
    segments = split_segments(read_transcript(path))
    assert fake.segments == len(segments)
    for segment in segments:
        received, code, stderr = play_as_app(StdioClient(fake.command()), segment)
        assert (code, stderr) == (recorded_exit(segment), "")
        assert received == inbound_frames(segment)
    fake.finish()
    assert [run["status"] for run in fake.runs()] == ["consumed"] * len(segments)


def test_provider_thread_resume_is_two_runtime_processes() -> None:
    segments = split_segments(read_transcript(RESUME))
    assert [(s.lines[0], s.lines[-1]) for s in segments] == [(2, 35), (36, 78)]
    assert all(isinstance(s.entries[-1], RuntimeExit) for s in segments)


def test_codex_clients_may_send_the_jsonrpc_member() -> None:
    segment = split_segments(read_transcript(SIMPLE))[0]
    received, code, stderr = play_as_app(
        StdioClient(fake_runtime(str(SIMPLE))), segment, outbound=lambda frame: {"jsonrpc": "2.0", **frame}
    )
    assert (code, stderr, received) == (0, "", inbound_frames(segment))


def test_a_stream_only_recording_ignores_stdin_and_exits_with_the_recorded_status() -> None:
    client = StdioClient(fake_runtime(str(BASIC_QUERY)))
    client.send({"type": "user", "message": {"role": "user", "content": "anything"}})
    frames = [json.loads(line) for line in iter(client.receive, b"")]
    assert frames == inbound_frames(read_transcript(BASIC_QUERY))
    assert client.wait() == (0, "")


# -- fail closed ---------------------------------------------------------------------------------


def run_failing(transcript: Path, script: Callable[[StdioClient], None], *args: str) -> tuple[int, str]:
    """Spawn a fake runtime, let ``script`` act as the app, close stdin; exit status and stderr."""
    client = StdioClient(fake_runtime(*args, str(transcript)))
    script(client)
    client.close()
    code, stderr = client.wait()
    assert "Traceback" not in stderr
    return code, stderr


def frames_of(transcript: Path) -> list[Any]:
    return [e.frame for e in read_transcript(transcript).entries if isinstance(e, ExpectOutbound)]


def test_a_changed_prompt_fails_with_file_line_and_json_path() -> None:
    initialize, initialized, thread_start, turn_start = frames_of(SIMPLE)
    changed = json.loads(json.dumps(turn_start))
    changed["params"]["input"][0]["text"] = "Respond with the following text: something else"

    def script(client: StdioClient) -> None:
        client.send(initialize)
        client.send(initialized)
        client.send(thread_start)
        client.send(changed)

    code, stderr = run_failing(SIMPLE, script)
    assert code == EXIT_REPLAY_FAILED
    assert stderr.startswith(f"harness fake-runtime: {SIMPLE}:7: outbound frame (turn/start) differs")
    assert "at $.params.input[0].text: expected " in stderr
    assert '"Respond with the following text: fixture simple ok"' in stderr
    assert '"Respond with the following text: something else"' in stderr


def test_an_extra_frame_fails_at_the_next_recorded_frame() -> None:
    initialize, initialized, *_ = frames_of(SIMPLE)

    def script(client: StdioClient) -> None:
        client.send(initialize)
        client.send(initialized)
        client.send(initialized)  # once too often

    code, stderr = run_failing(SIMPLE, script)
    assert code == EXIT_REPLAY_FAILED
    assert (
        f"{SIMPLE}:5: outbound frame (thread/start) differs from the recording at $.id: expected 2, found <missing>"
        in stderr
    )


def test_a_missing_frame_fails_when_the_app_closes_stdin() -> None:
    initialize, *_ = frames_of(SIMPLE)
    code, stderr = run_failing(SIMPLE, lambda client: client.send(initialize))
    assert code == EXIT_REPLAY_FAILED
    assert f"{SIMPLE}:4: the app closed stdin where the recording expects outbound frame (initialized) at $: " in stderr
    assert 'expected {"method":"initialized"}, found end of input' in stderr


def test_a_reordered_frame_fails() -> None:
    initialize, initialized, thread_start, _ = frames_of(SIMPLE)

    def script(client: StdioClient) -> None:
        client.send(initialize)
        client.send(thread_start)
        client.send(initialized)

    code, stderr = run_failing(SIMPLE, script)
    assert code == EXIT_REPLAY_FAILED
    assert (
        f"{SIMPLE}:4: outbound frame (initialized) differs from the recording at $.id: expected <missing>, found 2"
        in stderr
    )


def test_invalid_json_on_stdin_fails_and_blank_lines_are_skipped() -> None:
    def script(client: StdioClient) -> None:
        assert client.proc.stdin is not None
        client.proc.stdin.write(b"\n  \n{not json\n")
        client.proc.stdin.flush()

    code, stderr = run_failing(SIMPLE, script)
    assert code == EXIT_REPLAY_FAILED
    assert f"{SIMPLE}:2: stdin line 3 is not valid JSON" in stderr
    assert "where the recording expects outbound frame (initialize) at $: " in stderr


def test_finish_reports_a_segment_nobody_played(tmp_path: Path) -> None:
    fake = FakeRuntime(RESUME, state=tmp_path / "state.json")
    first = split_segments(read_transcript(RESUME))[0]
    _, code, _ = play_as_app(StdioClient(fake.command()), first)
    assert code == 0
    with pytest.raises(
        UnconsumedEntries,
        match=rf"{RESUME}:36: replay ended with 43 unconsumed entries, starting with expect_outbound \(initialize\)",
    ):
        fake.finish()


def test_finish_raises_the_first_replay_error_a_run_recorded(tmp_path: Path) -> None:
    fake = FakeRuntime(SIMPLE, state=tmp_path / "state.json")
    initialize, _, thread_start, _ = frames_of(SIMPLE)

    def script(client: StdioClient) -> None:
        client.send(initialize)
        client.send(thread_start)

    client = StdioClient(fake.command())
    script(client)
    client.close()
    assert client.wait()[0] == EXIT_REPLAY_FAILED
    with pytest.raises(StdioReplayError, match=rf"^{SIMPLE}:4: outbound frame \(initialized\) differs") as caught:
        fake.finish()
    assert (caught.value.kind, caught.value.line, caught.value.json_path) == ("FrameMismatch", 4, "$.id")
    assert fake.runs()[0]["status"] == "failed"


def test_finish_reports_entries_left_in_a_segment_the_app_killed(tmp_path: Path) -> None:
    fake = FakeRuntime(SIMPLE, state=tmp_path / "state.json")
    client = StdioClient(fake.command())
    client.send(frames_of(SIMPLE)[0])
    assert json.loads(client.receive())["id"] == 1  # the initialize response: the runtime waits for `initialized`
    client.proc.send_signal(signal.SIGTERM)
    code, stderr = client.wait()
    assert code == EXIT_REPLAY_FAILED
    assert f"{SIMPLE}:4: the runtime was terminated by SIGTERM with 27 recorded entries left" in stderr
    with pytest.raises(StdioReplayError, match="terminated by SIGTERM") as caught:
        fake.finish()
    assert caught.value.kind == "Terminated"


def test_a_start_beyond_the_last_segment_fails(tmp_path: Path) -> None:
    fake = FakeRuntime(SIMPLE, state=tmp_path / "state.json")
    segment = split_segments(read_transcript(SIMPLE))[0]
    assert play_as_app(StdioClient(fake.command()), segment)[1] == 0
    client = StdioClient(fake.command())
    client.close()
    code, stderr = client.wait()
    assert code == EXIT_REPLAY_FAILED
    assert f"{SIMPLE}:31: the runtime was started 2 times, but the recording has 1 process segment(s)" in stderr
    with pytest.raises(StdioReplayError, match="started 2 times"):
        fake.finish()


# -- argv ------------------------------------------------------------------------------------------


@pytest.fixture
def claude_with_argv(tmp_path: Path) -> Path:
    entries = [json.loads(line) for line in BASIC_QUERY.read_text().splitlines()[1:]]
    argv = ["-p", "--output-format", "stream-json", "--verbose", "--add-dir", "<workspace>/src", "What is 2+2?"]
    return write_transcript(tmp_path / "basic_query.ndjson", {**CLAUDE_HEADER, "metadata": {"argv": argv}}, entries)


ARGV = ["-p", "--output-format", "stream-json", "--verbose", "--add-dir"]


def test_the_recorded_argv_is_accepted_with_placeholders_filled(claude_with_argv: Path, tmp_path: Path) -> None:
    client = StdioClient(
        fake_runtime(
            "--workspace", str(tmp_path), str(claude_with_argv), "--", *ARGV, f"{tmp_path}/src", "What is 2+2?"
        )
    )
    assert len(list(iter(client.receive, b""))) == 3
    assert client.wait() == (0, "")


def test_a_different_prompt_in_argv_fails_closed(claude_with_argv: Path, tmp_path: Path) -> None:
    command = fake_runtime(str(claude_with_argv), "--", *ARGV, f"{tmp_path}/src", "What is 3+3?")
    client = StdioClient(command, cwd=tmp_path)
    assert client.receive() == b""  # nothing is played to a runtime started the wrong way
    code, stderr = client.wait()
    assert code == EXIT_REPLAY_FAILED
    assert stderr == (
        f"harness fake-runtime: {claude_with_argv}:1: the runtime was started with another argv than the "
        'recording\'s at $.metadata.argv[6]: expected "What is 2+2?", found "What is 3+3?"\n'
    )


def test_redacted_argv_matches_any_value_of_its_kind_and_nothing_else(tmp_path: Path) -> None:
    transcript = write_transcript(
        tmp_path / "t.ndjson",
        {**CLAUDE_HEADER, "metadata": {"argv": ["--api-key", "<redacted:anthropic-key>"]}},
        [{"type": "runtime_exit", "status": "success"}],
    )
    key = "sk-ant-api03-" + "A" * 20
    ok = StdioClient(fake_runtime(str(transcript), "--", "--api-key", key))
    assert ok.wait() == (0, "")
    bad = StdioClient(fake_runtime(str(transcript), "--", "--api-key", "hunter2"))
    code, stderr = bad.wait()
    assert code == EXIT_REPLAY_FAILED
    assert 'at $.metadata.argv[1]: expected "<redacted:anthropic-key>", found "hunter2"' in stderr


# -- exit statuses, placeholders, shims, usage errors ---------------------------------------------


@pytest.mark.parametrize(
    ("entry", "status"),
    [
        ({"status": "success"}, 0),
        ({"status": "error", "error": {"exitCode": 3}}, 3),
        ({"status": "error", "error": {"message": "boom"}}, 1),
        ({"status": "error", "error": {"exitCode": 300}}, 1),
        ({"status": "cancelled", "error": {"signal": 2}}, EXIT_CANCELLED),
    ],
)
def test_runtime_exit_maps_to_an_exit_status(entry: dict[str, Any], status: int) -> None:
    assert exit_status(RuntimeExit.model_validate({"type": "runtime_exit", **entry})) == status


def test_the_process_exits_with_the_recorded_error_status_without_waiting_for_stdin(tmp_path: Path) -> None:
    transcript = write_transcript(
        tmp_path / "t.ndjson",
        CLAUDE_HEADER,
        [
            {"type": "expect_outbound", "frame": {"type": "user"}},
            {"type": "emit_inbound", "frame": {"type": "result", "cwd": "<workspace>", "home": "<home>/x"}},
            {"type": "runtime_exit", "status": "error", "error": {"exitCode": 7}},
        ],
    )
    client = StdioClient(fake_runtime("--workspace", str(tmp_path), str(transcript)))
    client.send({"type": "user"})  # stdin stays open
    assert json.loads(client.receive()) == {"type": "result", "cwd": str(tmp_path), "home": f"{Path.home()}/x"}
    assert client.wait() == (7, "")


def test_a_shim_is_a_single_executable_that_plays_the_next_segment(tmp_path: Path) -> None:
    fake = FakeRuntime(RESUME, state=tmp_path / "state.json")
    shim = fake.write_shim(tmp_path / "codex")
    assert shim.read_text().startswith("#!/bin/sh\n")
    for segment in split_segments(read_transcript(RESUME)):
        received, code, _ = play_as_app(StdioClient([str(shim), "app-server"]), segment)
        assert (code, received) == (0, inbound_frames(segment))
    fake.finish()


def test_a_missing_transcript_is_a_usage_error_without_a_traceback() -> None:
    result = subprocess.run(
        fake_runtime("missing.ndjson"), capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "harness fake-runtime: missing.ndjson: no such transcript file\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [str(ROOT / "transcripts/anthropic/anthropic-sdk/basic_response.ndjson")],
            "protocol anthropic.messages runs over http, not stdio",
        ),
        (["--ignore", "params", str(SIMPLE)], "JSON path 'params' must start with '$'"),
        ([str(SIMPLE), "--pace", "recorded", "--bogus"], "unrecognized arguments: --bogus"),
        ([], "a TRANSCRIPT is required"),
    ],
    ids=["http-protocol", "bad-ignore", "unknown-option", "no-transcript"],
)
def test_unusable_input_is_a_usage_error(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["fake-runtime", *args])
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert "harness fake-runtime: " in err and message in err


def test_segments_split_after_each_runtime_exit_and_keep_line_numbers(tmp_path: Path) -> None:
    transcript = write_transcript(
        tmp_path / "t.ndjson",
        CLAUDE_HEADER,
        [
            {"type": "emit_inbound", "frame": 1},
            {"type": "runtime_exit", "status": "success"},
            {"type": "expect_outbound", "frame": 2},
            {"type": "emit_inbound", "frame": 3},
        ],
    )
    stdio = load_stdio_transcript(transcript)
    assert [segment.lines for segment in stdio.segments] == [(2, 3), (4, 5)]
    assert stdio.header_line == 1
