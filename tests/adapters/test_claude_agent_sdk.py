"""The Claude Agent SDK runtime adapter replays t3code's recorded query() boundary and the CLI's stream-json.

Every replay test drives the adapter through a :class:`ReplayDriver` over a real transcript: the
driver checks each outbound frame against the recording, so a wrong policy mapping, a missing
``resume`` or a wrong permission answer fails the test at the frame's JSON path.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.claude_agent_sdk import ClaudeAgentSdkAdapter
from harness.adapters.runtime import (
    ConversationHead,
    FrameIgnored,
    ItemUpdated,
    ProviderThreadBound,
    RequestOpened,
    RequestResolved,
    RequestResponse,
    RuleBroken,
    RuntimeSettings,
    SessionExited,
    Signal,
    ThreadContext,
    TurnEnded,
    TurnStarted,
    TurnUsage,
)
from harness.errors import FrameMismatch, ReplayError
from harness.replay import ReplayDriver
from harness.replay.driver import Inbound, ReplayLink
from harness.transcript import EmitInbound, RuntimeExit, Transcript, read_transcript

ROOT = Path(__file__).resolve().parents[2]
T3CODE = ROOT / "transcripts" / "t3code"
EXTRA = ROOT / "transcripts" / "t3code-extra"
CLI = ROOT / "transcripts" / "claude-cli"
CORPUS = ROOT / "fixtures" / "corpus" / "claude-cli-stream-json"


# -- a replay session: driver, adapter and a tiny projection of what the core would keep -------


def recorded_session_ids(transcript: Transcript) -> Callable[[], str]:
    """The allocator a replay passes: the recorded session id, once."""
    ids = [transcript.header.metadata["nativeSessionId"]]

    def allocate() -> str:
        assert ids, "the adapter allocated a second session id; the recording has one"
        return str(ids.pop())

    return allocate


def settings_of(transcript: Transcript, **changes: Any) -> RuntimeSettings:
    """The runtime settings the recording was made with (header metadata), with ``changes``."""
    meta = transcript.header.metadata
    settings = RuntimeSettings(
        model=meta.get("model"),
        tools=meta.get("tools"),
        permission_mode=meta.get("permissionMode"),
        allowed_tools=meta.get("allowedTools"),
        disallowed_tools=meta.get("disallowedTools"),
    )
    return settings.model_copy(update=changes)


def recorded_cwd(transcript: Transcript) -> str:
    """The working directory the recording ran in, as its first system/init reports it."""
    for entry in transcript.entries:
        if isinstance(entry, EmitInbound) and entry.frame.get("subtype") == "init":
            return str(entry.frame["cwd"])
    raise AssertionError("the transcript has no system/init")


@dataclass
class Replay:
    """One transcript, one driver, one adapter, and the signals it reported."""

    transcript: Transcript
    driver: ReplayDriver
    adapter: ClaudeAgentSdkAdapter
    signals: list[Signal] = field(default_factory=list)
    native: dict[str, str] = field(default_factory=dict)
    heads: dict[str, list[str | None]] = field(default_factory=dict)
    current_head: dict[str, str] = field(default_factory=dict)
    link: ReplayLink = field(init=False)

    def __post_init__(self) -> None:
        self.link = ReplayLink(self.driver)
        self.adapter.bind(self.link, self.record)

    def record(self, signal: Signal) -> None:
        # The parts of the core's projection ThreadContext needs: native ids and per-run heads.
        self.signals.append(signal)
        if isinstance(signal, ProviderThreadBound):
            self.native[signal.thread_id] = signal.native_id
        elif isinstance(signal, ConversationHead):
            self.current_head[signal.thread_id] = signal.native_ref
        elif isinstance(signal, TurnEnded):
            self.heads.setdefault(signal.thread_id, []).append(self.current_head.pop(signal.thread_id, None))

    def thread(self, thread_id: str = "t1", settings: RuntimeSettings | None = None) -> ThreadContext:
        return ThreadContext(
            thread_id,
            settings or settings_of(self.transcript),
            native_thread_id=self.native.get(thread_id),
            heads=tuple(self.heads.get(thread_id, ())),
        )

    def prompt(self, index: int) -> str:
        return str(self.transcript.header.metadata["prompts"][index])

    def pump(self) -> RuntimeExit | None:
        """Handle inbound frames until the app must act (None) or the runtime exits."""
        while True:
            received = self.link.receive()
            if received is None:
                return None
            if isinstance(received, RuntimeExit):
                self.adapter.exited(received)
                return received
            self.adapter.handle(received)

    def of_type(self, kind: type[Any]) -> list[Any]:
        return [s for s in self.signals if isinstance(s, kind)]


def replay(path: Path, *, dialect: str = "sdk") -> Replay:
    transcript = read_transcript(path)
    adapter = (
        ClaudeAgentSdkAdapter(dialect="cli")
        if dialect == "cli"
        else ClaudeAgentSdkAdapter(session_ids=recorded_session_ids(transcript))
    )
    return Replay(transcript, ReplayDriver(transcript), adapter)


def summary(signal: Signal) -> tuple[Any, ...]:
    """The parts of a signal a test states; frames and payloads are checked separately."""
    if isinstance(signal, ProviderThreadBound):
        return ("bound", signal.thread_id, signal.native_id, signal.forked_from_native)
    if isinstance(signal, TurnStarted):
        return ("turn_started", signal.thread_id)
    if isinstance(signal, ItemUpdated):
        return ("item", signal.native_item_id, signal.item_type, signal.status, signal.parent_native_item_id)
    if isinstance(signal, ConversationHead):
        return ("head", signal.native_ref)
    if isinstance(signal, FrameIgnored):
        return ("ignored", signal.frame.get("type"), signal.frame.get("subtype"), signal.known)
    if isinstance(signal, TurnUsage):
        return ("usage",)
    if isinstance(signal, TurnEnded):
        return ("turn_ended", signal.status, signal.error)
    if isinstance(signal, SessionExited):
        return ("exited", signal.thread_ids, signal.status)
    if isinstance(signal, RequestOpened):
        return ("request", signal.native_request_id, signal.kind)
    if isinstance(signal, RequestResolved):
        return ("resolved", signal.native_request_id)
    assert isinstance(signal, RuleBroken)
    return ("rule", signal.rule)


def turn_ends(run: Replay) -> list[tuple[str, str | None]]:
    return [(s.status, s.error) for s in run.of_type(TurnEnded)]


SUCCESS = RuntimeExit(status="success")


# -- sdk dialect over the t3code recordings ---------------------------------------------------------


def test_simple_opens_offers_and_ends_the_turn_completed():
    run = replay(T3CODE / "simple" / "claude_transcript.ndjson")
    session = run.transcript.header.metadata["nativeSessionId"]

    run.adapter.start_turn(run.thread(), run.prompt(0))
    assert run.pump() == SUCCESS
    run.driver.finish()

    assert [summary(s) for s in run.signals] == [
        ("bound", "t1", session, None),
        ("turn_started", "t1"),
        ("ignored", "system", "hook_started", True),
        ("ignored", "system", "hook_response", True),
        ("ignored", "system", "init", True),
        ("item", "502cdf40-1af1-428c-87cb-a07cfc99dafd", "assistant_message", "completed", None),
        ("head", "502cdf40-1af1-428c-87cb-a07cfc99dafd"),
        ("ignored", "rate_limit_event", None, True),
        ("usage",),
        ("turn_ended", "completed", None),
        ("exited", ("t1",), "success"),
    ]
    assert run.of_type(ItemUpdated)[0].data == {"text": "fixture simple ok"}


def test_multi_turn_offers_the_second_prompt_into_the_live_query():
    run = replay(T3CODE / "multi_turn" / "claude_transcript.ndjson")

    run.adapter.start_turn(run.thread(), run.prompt(0))
    assert run.pump() is None  # the recording waits for prompt.offer:2
    # A second query.open here would not match the recorded prompt.offer.
    run.adapter.start_turn(run.thread(), run.prompt(1))
    assert run.pump() == SUCCESS
    run.driver.finish()

    assert [frame["type"] for frame in run.driver.sent] == ["query.open", "prompt.offer", "prompt.offer"]
    assert turn_ends(run) == [("completed", None), ("completed", None)]
    assert len(run.of_type(ProviderThreadBound)) == 1


def test_turn_interrupt_restart_resumes_the_session_after_the_exit():
    run = replay(T3CODE / "turn_interrupt_restart" / "claude_transcript.ndjson")
    session = run.transcript.header.metadata["nativeSessionId"]

    run.adapter.start_turn(run.thread(), run.prompt(0))
    assert run.pump() is None  # the tool_use arrived; the recording interrupts here
    run.adapter.interrupt(run.thread())
    assert run.pump() == SUCCESS
    run.adapter.start_turn(run.thread(), run.prompt(1))
    assert run.pump() == SUCCESS
    run.driver.finish()

    second_open = run.driver.sent[3]
    assert second_open["type"] == "query.open"
    assert second_open["options"]["resume"] == session
    assert "sessionId" not in second_open["options"]
    assert turn_ends(run) == [("interrupted", None), ("completed", None)]


def test_tool_call_read_only_opens_the_query_with_the_tools_list_policy():
    run = replay(T3CODE / "tool_call_read_only" / "claude_transcript.ndjson")

    run.adapter.start_turn(run.thread(), run.prompt(0))
    assert run.pump() == SUCCESS
    run.driver.finish()

    assert run.driver.sent[0]["options"] == {
        "model": "claude-sonnet-4-6",
        "tools": ["Read", "Glob", "Grep"],
        "permissionMode": "dontAsk",
        "allowedTools": ["Read", "Glob", "Grep"],
        "sessionId": "473fb58f-85a3-4f21-b9d3-b1fdf5ef41f9",
    }
    reads = [s for s in run.of_type(ItemUpdated) if s.item_type == "file_search"]
    assert [(s.native_item_id, s.status) for s in reads] == [
        ("toolu_017Q89TYYCDJPT2uLttrCn3A", "running"),
        ("toolu_01CAafSU7YvuRYWdrFzpGCCW", "running"),
        ("toolu_017Q89TYYCDJPT2uLttrCn3A", "completed"),
        ("toolu_01CAafSU7YvuRYWdrFzpGCCW", "completed"),
    ]
    assert reads[2].data["output"].startswith('1\t{\n2\t  "name": "claude-read-only-fixture"')
    assert turn_ends(run) == [("completed", None)]


@pytest.mark.parametrize(
    "path",
    [
        T3CODE / "tool_call_read_only_on_request" / "claude_transcript.ndjson",
        EXTRA / "tool_call_restricted_granular__claude_transcript.ndjson",
    ],
    ids=["tool_call_read_only_on_request", "tool_call_restricted_granular"],
)
def test_permission_request_opens_a_request_and_accept_answers_like_the_recording(path):
    run = replay(path)

    run.adapter.start_turn(run.thread(), run.prompt(0))
    assert run.pump() is None  # the recording answers the permission request here
    (request,) = run.of_type(RequestOpened)
    assert request.kind == "command_approval"
    assert request.native_item_id == request.native_request_id
    assert request.payload["tool"] == "Bash"
    assert "blockedPath" in request.payload
    run.adapter.respond(run.thread(), request.native_request_id, RequestResponse(decision="accept"))
    assert run.pump() == SUCCESS
    run.driver.finish()

    assert RequestResolved("t1", request.native_request_id) in run.signals
    bash = [s for s in run.of_type(ItemUpdated) if s.native_item_id == request.native_request_id]
    assert [(s.item_type, s.status) for s in bash] == [
        ("command_execution", "running"),
        ("command_execution", "completed"),
    ]
    assert bash[0].data["command"] == request.payload["input"]["command"]
    assert turn_ends(run) == [("completed", None)]


def test_message_steering_ignores_the_superseded_result_and_ends_one_turn_completed():
    run = replay(T3CODE / "message_steering" / "claude_transcript.ndjson")

    run.adapter.start_turn(run.thread(), run.prompt(0))
    run.adapter.steer(run.thread(), run.prompt(1))
    assert run.pump() == SUCCESS
    run.driver.finish()

    assert run.driver.sent[2]["message"]["priority"] == "now"
    superseded = [s for s in run.of_type(FrameIgnored) if s.frame["type"] == "result"]
    assert [(s.frame["subtype"], s.known) for s in superseded] == [("error_during_execution", True)]
    assert turn_ends(run) == [("completed", None)]


@pytest.mark.parametrize("scenario", ["turn_interrupt", "turn_interrupt_mid_tool"])
def test_interrupted_query_ends_the_turn_interrupted_at_its_exit(scenario):
    run = replay(T3CODE / scenario / "claude_transcript.ndjson")

    run.adapter.start_turn(run.thread(), run.prompt(0))
    assert run.pump() is None
    run.adapter.interrupt(run.thread())
    assert run.pump() == SUCCESS
    run.driver.finish()

    assert [summary(s) for s in run.signals[-2:]] == [
        ("turn_ended", "interrupted", None),
        ("exited", ("t1",), "success"),
    ]
    assert not run.of_type(TurnUsage)  # no result arrived


def test_thread_fork_native_forks_at_the_source_head_and_binds_the_forked_session():
    run = replay(T3CODE / "thread_fork_native" / "claude_transcript.ndjson")
    meta = run.transcript.header.metadata
    settings = settings_of(run.transcript, cwd=recorded_cwd(run.transcript))

    run.adapter.start_turn(run.thread("source", settings), run.prompt(0))
    assert run.pump() == SUCCESS
    run.adapter.fork(run.thread("source", settings), run.thread("fork", settings))
    run.adapter.start_turn(run.thread("fork", settings), run.prompt(1))
    assert run.pump() == SUCCESS
    run.driver.finish()

    assert run.driver.sent[2] == {
        "type": "session.fork",
        "sessionId": meta["nativeSessionId"],
        "options": {"dir": recorded_cwd(run.transcript), "upToMessageId": meta["forkUpToMessageId"]},
    }
    assert ProviderThreadBound("fork", meta["forkedNativeSessionId"], meta["nativeSessionId"]) in run.signals
    assert run.driver.sent[3]["options"]["resume"] == meta["forkedNativeSessionId"]
    assert [s.thread_id for s in run.of_type(TurnEnded)] == ["source", "fork"]


def test_thread_merge_back_continue_resumes_the_source_after_a_fork():
    run = replay(T3CODE / "thread_merge_back_continue" / "claude_transcript.ndjson")
    settings = settings_of(run.transcript, cwd=recorded_cwd(run.transcript))

    run.adapter.start_turn(run.thread("source", settings), run.prompt(0))
    assert run.pump() == SUCCESS
    run.adapter.fork(run.thread("source", settings), run.thread("fork", settings))
    run.adapter.start_turn(run.thread("fork", settings), run.prompt(1))
    assert run.pump() == SUCCESS
    run.adapter.start_turn(run.thread("source", settings), run.prompt(2))
    assert run.pump() is None
    run.adapter.start_turn(run.thread("source", settings), run.prompt(3))
    assert run.pump() == SUCCESS
    run.driver.finish()

    assert [(s.thread_id, s.status) for s in run.of_type(TurnEnded)] == [
        ("source", "completed"),
        ("fork", "completed"),
        ("source", "completed"),
        ("source", "completed"),
    ]
    assert not run.of_type(RuleBroken)


def test_thread_rollback_resumes_at_the_newest_kept_head():
    run = replay(T3CODE / "thread_rollback" / "claude_transcript.ndjson")
    meta = run.transcript.header.metadata

    run.adapter.start_turn(run.thread(), run.prompt(0))
    assert run.pump() is None
    run.adapter.start_turn(run.thread(), run.prompt(1))
    assert run.pump() == SUCCESS
    assert run.heads["t1"] == meta["sourceAssistantMessageUuids"]
    # The core trims heads to the kept turns before it calls rollback.
    kept = ThreadContext("t1", settings_of(run.transcript), run.native["t1"], tuple(run.heads["t1"][:1]))
    run.adapter.rollback(kept, 1)
    run.adapter.start_turn(kept, run.prompt(2))
    assert run.pump() == SUCCESS
    run.driver.finish()

    options = run.driver.sent[3]["options"]
    assert (options["resumeSessionAt"], options["resume"]) == (meta["resumeSessionAt"], meta["nativeSessionId"])
    assert turn_ends(run) == [("completed", None)] * 3


def test_subagent_items_carry_their_parent_tool_use_ids():
    run = replay(EXTRA / "subagent__claude_transcript.ndjson")

    run.adapter.start_turn(run.thread(), run.prompt(0))
    assert run.pump() == SUCCESS
    run.driver.finish()

    items = {(s.native_item_id, s.status): s for s in run.of_type(ItemUpdated)}
    first_agent, second_agent = "toolu_01FfHTrUeymLi4LfqJVmTZjz", "toolu_0113VSWTCamvp1adXDZrK5NG"
    assert items[first_agent, "running"].item_type == "subagent"
    assert items["toolu_01EV8j88CPEmhoWF3iuvaFSC", "running"].parent_native_item_id == first_agent
    assert items["toolu_01P6KQcUPy8t2bCbFjv8K4Jz", "completed"].parent_native_item_id == second_agent
    prompts = [s for s in run.of_type(ItemUpdated) if s.item_type == "user_message"]
    assert [s.parent_native_item_id for s in prompts] == [first_agent, second_agent]
    assert prompts[0].data["text"].startswith("Read the file `package.json`")
    assert items[first_agent, "completed"].parent_native_item_id is None
    # Only top-level assistant messages move the conversation head.
    assistants = [
        e.frame for e in run.transcript.entries if isinstance(e, EmitInbound) and e.frame["type"] == "assistant"
    ]
    top_level = [f["uuid"] for f in assistants if f["parent_tool_use_id"] is None]
    assert [s.native_ref for s in run.of_type(ConversationHead)] == top_level
    assert len(top_level) < len(assistants)


def test_web_search_tools_map_to_their_item_types():
    run = replay(EXTRA / "web_search__claude_transcript.ndjson")

    run.adapter.start_turn(run.thread(), run.prompt(0))
    assert run.pump() == SUCCESS
    run.driver.finish()

    running = [(s.data["tool"], s.item_type) for s in run.of_type(ItemUpdated) if s.status == "running"]
    assert running == [("ToolSearch", "dynamic_tool"), ("WebSearch", "web_search")]


@pytest.mark.parametrize(
    ("scenario", "change", "json_path"),
    [
        ("simple", {"model": "claude-opus-4-6"}, "$.options.model"),
        ("simple", {"tools": ["Read"]}, "$.options.tools"),
        ("tool_call_read_only", {"permission_mode": "default"}, "$.options.permissionMode"),
        ("tool_call_read_only", {"allowed_tools": ["Read", "Glob"]}, "$.options.allowedTools[2]"),
        ("tool_call_read_only", {"disallowed_tools": ["Bash"]}, "$.options.disallowedTools"),
    ],
    ids=["model", "tools", "permission_mode", "allowed_tools", "disallowed_tools"],
)
def test_a_changed_policy_field_fails_the_replay_at_its_json_path(scenario, change, json_path):
    run = replay(T3CODE / scenario / "claude_transcript.ndjson")

    with pytest.raises(FrameMismatch) as caught:
        run.adapter.start_turn(run.thread(settings=settings_of(run.transcript, **change)), run.prompt(0))

    assert caught.value.json_path == json_path
    assert caught.value.label == "query.open"


# -- cli dialect ------------------------------------------------------------------------------------


def test_cli_basic_query_replays_stream_only_and_binds_the_session_from_init():
    run = replay(CLI / "basic_query.ndjson", dialect="cli")
    assert run.adapter.protocol == run.transcript.protocol == "claude-code.stream-json"

    # The recorded prompt was a command-line argument; stream-only replay does not check this frame.
    run.adapter.start_turn(run.thread(settings=RuntimeSettings()), "What is 2 + 2?")
    assert run.pump() == SUCCESS
    run.driver.finish()

    assert run.driver.sent == [
        {
            "type": "user",
            "message": {"role": "user", "content": "What is 2 + 2?"},
            "parent_tool_use_id": None,
            "session_id": "default",
        }
    ]
    assert [summary(s) for s in run.signals] == [
        ("turn_started", "t1"),
        ("bound", "t1", "1d1e46f9-35c7-4834-b529-846d5bb82288", None),
        ("item", "14c64b53-70c9-4b34-93c5-27ac615e1f47", "assistant_message", "completed", None),
        ("head", "14c64b53-70c9-4b34-93c5-27ac615e1f47"),
        ("usage",),
        ("turn_ended", "completed", None),
        ("exited", ("t1",), "success"),
    ]


def test_cli_tool_permission_answers_can_use_tool_with_a_control_response():
    run = replay(CLI / "derived" / "tool_permission.ndjson", dialect="cli")

    run.adapter.start_turn(run.thread(settings=RuntimeSettings()), "List the files in the current directory using ls")
    assert run.pump() is None  # the recording answers the control request here
    (request,) = run.of_type(RequestOpened)
    assert (request.native_request_id, request.kind, request.native_item_id) == (
        "derived-can_use_tool-1",
        "command_approval",
        "toolu_01BeipFBP3sUY3EAwVg3qQnE",
    )
    run.adapter.respond(run.thread(), request.native_request_id, RequestResponse(decision="accept"))
    assert run.pump() == SUCCESS
    run.driver.finish()

    bash = [s for s in run.of_type(ItemUpdated) if s.native_item_id == "toolu_01BeipFBP3sUY3EAwVg3qQnE"]
    assert [(s.item_type, s.status) for s in bash] == [
        ("command_execution", "running"),
        ("command_execution", "completed"),
    ]
    assert bash[1].data["output"].startswith("total 1976")
    assert turn_ends(run) == [("completed", None)]


def test_cli_transcripts_carry_the_corpus_messages_unchanged():
    lines = (CORPUS / "basic_query.ndjson").read_text().splitlines()
    basic = read_transcript(CLI / "basic_query.ndjson")
    assert [e.frame for e in basic.entries if isinstance(e, EmitInbound)] == [json.loads(line) for line in lines]
    assert not basic.has_outbound

    derived = read_transcript(CLI / "derived" / "tool_permission.ndjson")
    assert derived.header.metadata["format"] == "derived"
    real = [json.loads((CORPUS / name).read_text()) for name in derived.header.metadata["sources"]]
    inbound = [e.frame for e in derived.entries if isinstance(e, EmitInbound)]
    assert [f for f in inbound if f["type"] != "control_request"] == real


# -- unit checks on a scripted link ---------------------------------------------------------------


class ScriptedLink:
    """Hands out the given inbound frames and exits, and keeps what the adapter sent."""

    def __init__(self, frames: list[Any | RuntimeExit]) -> None:
        self.pending = list(frames)
        self.sent: list[Any] = []

    def send(self, frame: Any) -> None:
        self.sent.append(frame)

    def receive(self) -> Inbound | RuntimeExit | None:
        if not self.pending:
            return None
        item = self.pending.pop(0)
        return item if isinstance(item, RuntimeExit) else Inbound(item, None, 0, None, 0)


def recorded_frames(path: Path) -> list[Any]:
    """The inbound frames of a recording, deep-copied so a test can change them."""
    return [copy.deepcopy(e.frame) for e in read_transcript(path).entries if isinstance(e, EmitInbound)]


def scripted(frames: list[Any], **kwargs: Any) -> tuple[ClaudeAgentSdkAdapter, ScriptedLink, list[Signal]]:
    adapter = ClaudeAgentSdkAdapter(**kwargs)
    link = ScriptedLink(frames)
    signals: list[Signal] = []
    adapter.bind(link, signals.append)
    return adapter, link, signals


def feed(adapter: ClaudeAgentSdkAdapter, link: ScriptedLink) -> None:
    while (received := link.receive()) is not None:
        if isinstance(received, RuntimeExit):
            adapter.exited(received)
        else:
            adapter.handle(received)


SIMPLE = T3CODE / "simple" / "claude_transcript.ndjson"
SIMPLE_SESSION = "77171d01-fb4f-4dff-a961-d9dd334be93d"
SIMPLE_THREAD = ThreadContext("t1", RuntimeSettings(model="claude-sonnet-4-6"))


def test_an_api_error_result_fails_the_turn_with_the_result_text():
    frames = recorded_frames(SIMPLE)
    result = frames[-1]
    result.update(is_error=True, result="API Error: 529 overloaded_error")
    adapter, link, signals = scripted(frames, session_ids=lambda: SIMPLE_SESSION)

    adapter.start_turn(SIMPLE_THREAD, "hi")
    feed(adapter, link)

    assert [(s.status, s.error) for s in signals if isinstance(s, TurnEnded)] == [
        ("failed", "API Error: 529 overloaded_error")
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [("success", ("failed", "the query ended mid-turn")), ("cancelled", ("cancelled", None))],
)
def test_a_query_exiting_mid_turn_ends_the_turn(status, expected):
    frames = [*recorded_frames(SIMPLE)[:3], RuntimeExit(status=status)]
    adapter, link, signals = scripted(frames, session_ids=lambda: SIMPLE_SESSION)

    adapter.start_turn(SIMPLE_THREAD, "hi")
    feed(adapter, link)

    assert [(s.status, s.error) for s in signals if isinstance(s, TurnEnded)] == [expected]
    assert signals[-1] == SessionExited(("t1",), status, None)


def test_an_init_naming_another_session_breaks_claude_session_mismatch():
    adapter, link, signals = scripted(recorded_frames(SIMPLE), session_ids=lambda: "another-session")

    adapter.start_turn(SIMPLE_THREAD, "hi")
    feed(adapter, link)

    assert [s.rule for s in signals if isinstance(s, RuleBroken)] == ["claude.session.mismatch"]


def test_session_forked_outside_a_fork_breaks_claude_fork_unexpected():
    frames = [*recorded_frames(SIMPLE)[:3], {"type": "session.forked", "sessionId": "x"}]
    adapter, link, signals = scripted(frames, session_ids=lambda: SIMPLE_SESSION)

    adapter.start_turn(SIMPLE_THREAD, "hi")
    feed(adapter, link)

    assert [s.rule for s in signals if isinstance(s, RuleBroken)] == ["claude.fork.unexpected"]


def test_fork_raises_a_replay_error_when_session_forked_never_arrives():
    adapter, link, _ = scripted([{"type": "rate_limit_event", "rate_limit_info": {"status": "allowed"}}])
    source = ThreadContext("source", RuntimeSettings(), native_thread_id=SIMPLE_SESSION, heads=("m1",))

    with pytest.raises(ReplayError, match=r"awaited session\.forked"):
        adapter.fork(source, ThreadContext("fork", RuntimeSettings()))

    assert link.sent == [{"type": "session.fork", "sessionId": SIMPLE_SESSION, "options": {"upToMessageId": "m1"}}]


@pytest.mark.parametrize(
    ("decision", "result"),
    [
        ("accept_for_session", {"behavior": "allow", "decisionClassification": "user_permanent"}),
        (
            "decline",
            {
                "behavior": "deny",
                "message": "The user declined this tool use.",
                "decisionClassification": "user_reject",
            },
        ),
        (
            "cancel",
            {
                "behavior": "deny",
                "message": "The user declined this tool use.",
                "interrupt": True,
                "decisionClassification": "user_reject",
            },
        ),
    ],
)
def test_respond_builds_the_permission_result_of_each_decision(decision, result):
    path = T3CODE / "tool_call_read_only_on_request" / "claude_transcript.ndjson"
    frames = recorded_frames(path)[:6]  # up to and including the permission request
    request = frames[-1]
    adapter, link, _ = scripted(frames)
    thread = ThreadContext("t1", RuntimeSettings())
    adapter.start_turn(thread, "hi")
    feed(adapter, link)

    adapter.respond(thread, request["options"]["toolUseID"], RequestResponse(decision=decision))

    expected = {**result, "toolUseID": request["options"]["toolUseID"]}
    if result["behavior"] == "allow":
        expected["updatedInput"] = request["input"]
    assert link.sent[-1] == {"type": "permission.response", "result": expected}


def test_system_and_stream_frames_are_ignored_as_known_or_unknown():
    frames = [
        {"type": "system", "subtype": "compact_boundary"},
        {"type": "system", "subtype": "something_new"},
        {"type": "stream_event", "event": {"type": "message_start"}},
        {"type": "brand_new_type"},
    ]
    adapter, link, signals = scripted(frames)
    adapter.start_turn(SIMPLE_THREAD, "hi")
    feed(adapter, link)

    assert [(s.frame["type"], s.known) for s in signals if isinstance(s, FrameIgnored)] == [
        ("system", True),
        ("system", False),
        ("stream_event", True),
        ("brand_new_type", False),
    ]


def test_the_default_session_ids_are_deterministic_uuids():
    first = [ClaudeAgentSdkAdapter(), ClaudeAgentSdkAdapter()]
    ids = []
    for adapter in first:
        link = ScriptedLink([])
        adapter.bind(link, lambda signal: None)
        adapter.start_turn(ThreadContext("t1", RuntimeSettings()), "hi")
        ids.append(link.sent[0]["options"]["sessionId"])

    assert ids[0] == ids[1]
    assert uuid.UUID(ids[0]).version == 4


def test_cli_interrupt_sends_numbered_control_requests():
    adapter, link, _ = scripted([], dialect="cli")
    thread = ThreadContext("t1", RuntimeSettings())
    adapter.start_turn(thread, "hi")

    adapter.interrupt(thread)
    adapter.interrupt(thread)

    assert link.sent[1:] == [
        {"type": "control_request", "request_id": "req_1_interrupt", "request": {"subtype": "interrupt"}},
        {"type": "control_request", "request_id": "req_2_interrupt", "request": {"subtype": "interrupt"}},
    ]


def test_cli_control_cancel_request_resolves_the_pending_request():
    frames = [
        {
            "type": "control_request",
            "request_id": "r1",
            "request": {"subtype": "can_use_tool", "tool_name": "Write", "input": {}, "tool_use_id": "toolu_1"},
        },
        {"type": "control_cancel_request", "request_id": "r1"},
    ]
    adapter, link, signals = scripted(frames, dialect="cli")
    adapter.start_turn(ThreadContext("t1", RuntimeSettings()), "hi")
    feed(adapter, link)

    assert [summary(s) for s in signals[1:]] == [
        ("request", "r1", "file_change_approval"),
        ("resolved", "r1"),
    ]
