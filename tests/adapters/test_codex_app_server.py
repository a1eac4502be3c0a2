"""The Codex app-server adapter replays t3code's recordings frame for frame and maps them to signals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.codex_app_server import RULES, CodexAppServerAdapter
from harness.adapters.runtime import (
    CollaborationMode,
    FrameIgnored,
    ItemDelta,
    ItemUpdated,
    PlanUpdated,
    ProviderThreadBound,
    RequestOpened,
    RequestResolved,
    RequestResponse,
    RuleBroken,
    RuntimeAdapter,
    RuntimeSettings,
    SandboxSettings,
    SessionExited,
    Signal,
    ThreadContext,
    TurnEnded,
    TurnStarted,
    TurnUsage,
)
from harness.errors import ReplayError
from harness.replay import Inbound, ReplayDriver
from harness.replay.driver import ReplayLink
from harness.transcript import ExpectOutbound, RuntimeExit, read_transcript

ROOT = Path(__file__).resolve().parents[2]
T3 = ROOT / "transcripts" / "t3code"
EXTRA = ROOT / "transcripts" / "t3code-extra"
RECORDINGS = sorted([*T3.glob("*/codex_transcript.ndjson"), *EXTRA.glob("*codex*.ndjson")])


# -- links ----------------------------------------------------------------------------------


class FakeLink:
    """Serves scripted frames in order; a ``None`` in the script is a point where the app must send."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.sent: list[Any] = []

    def send(self, frame: Any) -> None:
        self.sent.append(frame)

    def receive(self) -> Inbound | RuntimeExit | None:
        if not self.script:
            return None
        item = self.script.pop(0)
        if item is None or isinstance(item, RuntimeExit):
            return item
        return inbound(item)


def inbound(frame: Any) -> Inbound:
    return Inbound(frame=frame, label=None, entry_index=0, line=None, at_ms=0)


def replay(name: str) -> tuple[CodexAppServerAdapter, ReplayLink, list[Signal]]:
    path = T3 / name / "codex_transcript.ndjson" if (T3 / name).is_dir() else EXTRA / f"{name}__codex_transcript.ndjson"
    link = ReplayLink(ReplayDriver(read_transcript(path)))
    adapter = CodexAppServerAdapter()
    signals: list[Signal] = []
    adapter.bind(link, signals.append)
    return adapter, link, signals


def pump(adapter: CodexAppServerAdapter, link: ReplayLink | FakeLink) -> None:
    """Handle inbound frames until the app must act (or the recording is over)."""
    while (item := link.receive()) is not None:
        if isinstance(item, RuntimeExit):
            adapter.exited(item)
        else:
            adapter.handle(item)


def ctx(thread_id: str = "t1", native: str | None = None, **settings: Any) -> ThreadContext:
    return ThreadContext(thread_id=thread_id, settings=RuntimeSettings(**settings), native_thread_id=native)


def bound(signals: list[Signal], thread_id: str) -> str:
    return next(s.native_id for s in signals if isinstance(s, ProviderThreadBound) and s.thread_id == thread_id)


def meaningful(signals: list[Signal]) -> list[Signal]:
    """Signals without known noise."""
    return [s for s in signals if not (isinstance(s, FrameIgnored) and s.known)]


def describe(signal: Signal) -> tuple[Any, ...]:
    if isinstance(signal, ItemUpdated):
        return ("item", signal.item_type, signal.status)
    if isinstance(signal, ItemDelta):
        return ("delta", signal.item_type, signal.field)
    if isinstance(signal, TurnEnded):
        return ("ended", signal.status)
    return (type(signal).__name__,)


INIT_OK = {"id": 1, "result": {"userAgent": "test"}}


def thread_started(native: str = "n1", request_id: int = 2) -> dict[str, Any]:
    return {"id": request_id, "result": {"thread": {"id": native}}}


def started_adapter(
    *script: Any, thread: ThreadContext | None = None
) -> tuple[CodexAppServerAdapter, FakeLink, list[Signal]]:
    """An adapter whose thread t1 has sent turn/start (id 3) on provider thread n1; then ``script``."""
    link = FakeLink(INIT_OK, thread_started(), *script)
    adapter = CodexAppServerAdapter()
    signals: list[Signal] = []
    adapter.bind(link, signals.append)
    adapter.start_turn(thread or ctx(), "hi")
    return adapter, link, signals


# -- whole recordings ---------------------------------------------------------------------


def upcoming(driver: ReplayDriver) -> Iterator[Any]:
    for entry in driver.transcript.entries[driver.cursor :]:
        if isinstance(entry, ExpectOutbound):
            yield entry.frame


def turn_text(driver: ReplayDriver) -> str:
    """The text of the next recorded turn/start."""
    frame = next(f for f in upcoming(driver) if f.get("method") == "turn/start")
    text: str = frame["params"]["input"][0]["text"]
    return text


def settings_from(params: dict[str, Any]) -> RuntimeSettings:
    """The runtime settings a recorded turn/start was built from."""
    values: dict[str, Any] = {}
    if "approvalPolicy" in params:
        values["approval_policy"] = params["approvalPolicy"]
    if "model" in params:
        values["model"] = params["model"]
    sandbox = params.get("sandboxPolicy")
    if sandbox is not None:
        mode = {"readOnly": "read-only", "workspaceWrite": "workspace-write"}.get(sandbox["type"], "danger-full-access")
        values["sandbox"] = SandboxSettings(
            mode=mode,
            network_access=sandbox.get("networkAccess", False),
            writable_roots=sandbox.get("writableRoots", []),
        )
    collaboration = params.get("collaborationMode")
    if collaboration is not None:
        values["collaboration_mode"] = CollaborationMode(mode=collaboration["mode"], **collaboration["settings"])
    return RuntimeSettings(**values)


def play_app(path: Path) -> tuple[ReplayDriver, list[Signal]]:
    """Replay a recording, acting as the app: each recorded app frame is produced by the intent behind it."""
    driver = ReplayDriver(read_transcript(path))
    link = ReplayLink(driver)
    adapter = CodexAppServerAdapter()
    signals: list[Signal] = []
    adapter.bind(link, signals.append)
    app_of: dict[str, str] = {}
    native_of: dict[str, str] = {}
    requests: dict[str, str] = {}

    def learn() -> None:
        for signal in signals:
            if isinstance(signal, ProviderThreadBound):
                app_of[signal.native_id] = signal.thread_id
                native_of[signal.thread_id] = signal.native_id
            if isinstance(signal, RequestOpened):
                requests[signal.native_request_id] = signal.thread_id

    def context(thread_id: str, settings: RuntimeSettings | None = None) -> ThreadContext:
        return ThreadContext(thread_id, settings or RuntimeSettings(), native_thread_id=native_of.get(thread_id))

    while True:
        pump(adapter, link)
        learn()
        frames = list(upcoming(driver))
        if not frames:
            break
        frame = frames[0]
        method = frame.get("method")
        if method == "initialize":
            frame = next(f for f in frames if f.get("method") not in ("initialize", "initialized"))
            method = frame["method"]
        params = frame.get("params", {})
        if method == "thread/fork":
            target = f"t{len(native_of) + 1}"
            adapter.fork(context(app_of[params["threadId"]]), context(target))
            continue
        if method in ("thread/start", "thread/resume"):
            turn_start = next(f for f in frames if f.get("method") == "turn/start")
            params = turn_start["params"]
            native = params["threadId"] if method == "thread/resume" else None
            thread_id = app_of.get(native, f"t{len(native_of) + 1}") if native else f"t{len(native_of) + 1}"
            method = "turn/start"
        else:
            thread_id = app_of[params["threadId"]] if "threadId" in params else requests[str(frame["id"])]
        if method == "turn/start":
            adapter.start_turn(context(thread_id, settings_from(params)), params["input"][0]["text"])
        elif method == "turn/steer":
            adapter.steer(context(thread_id), params["input"][0]["text"])
        elif method == "turn/interrupt":
            adapter.interrupt(context(thread_id))
        else:
            result = frame["result"]
            if "answers" in result:
                answers = {q: a["answers"] for q, a in result["answers"].items()}
                response = RequestResponse(answers=answers)
            else:
                names = {"accept": "accept", "acceptForSession": "accept_for_session"}
                response = RequestResponse(decision=names.get(result["decision"], result["decision"]))
            adapter.respond(context(thread_id), str(frame["id"]), response)
    driver.finish()
    return driver, signals


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.parent.name if p.parent.parent == T3 else p.stem)
def test_every_codex_recording_replays_to_the_end_without_unknowns(path: Path) -> None:
    _, signals = play_app(path)
    assert [s for s in signals if isinstance(s, RuleBroken)] == []
    assert [s for s in signals if isinstance(s, FrameIgnored) and not s.known] == []
    started = [s for s in signals if isinstance(s, TurnStarted)]
    ended = [s for s in signals if isinstance(s, TurnEnded)]
    assert len(started) == len(ended) > 0
    assert all(s.native_turn_id for s in started)
    # Every delta belongs to an item already started.
    seen: set[str] = set()
    for signal in signals:
        if isinstance(signal, ItemUpdated):
            seen.add(signal.native_item_id)
        if isinstance(signal, ItemDelta):
            assert signal.native_item_id in seen


def test_recordings_are_all_found() -> None:
    assert len(RECORDINGS) == 13


# -- the recordings, one intent at a time ------------------------------------------------


def test_simple_replays_end_to_end_with_the_expected_signals() -> None:
    adapter, link, signals = replay("simple")
    adapter.start_turn(ctx(), "Respond with the following text: fixture simple ok")
    pump(adapter, link)
    link.driver.finish()
    core = [s for s in meaningful(signals) if not isinstance(s, TurnUsage | SessionExited)]
    assert [describe(s) for s in core] == [
        ("ProviderThreadBound",),
        ("TurnStarted",),
        ("item", "user_message", "running"),
        ("item", "user_message", "completed"),
        ("item", "reasoning", "running"),
        ("item", "reasoning", "completed"),
        ("item", "assistant_message", "running"),
        ("delta", "assistant_message", "text"),
        ("delta", "assistant_message", "text"),
        ("delta", "assistant_message", "text"),
        ("item", "assistant_message", "completed"),
        ("ended", "completed"),
    ]
    native = "019dadea-f49b-7012-aa03-534f1bfc3181"
    native_turn = "019dadea-f4a8-75f0-9e95-07b357d41cfe"
    assert core[0] == ProviderThreadBound("t1", native)
    assert core[1] == TurnStarted("t1", native_turn)
    assert core[2].data == {"text": "Respond with the following text: fixture simple ok"}  # type: ignore[union-attr]
    assert "".join(s.delta for s in core if isinstance(s, ItemDelta)) == "fixture simple ok"
    assert core[10].data == {"text": "fixture simple ok", "phase": "final_answer"}  # type: ignore[union-attr]
    assert core[-1] == TurnEnded("t1", "completed", native_turn_id=native_turn)
    usage = next(s for s in signals if isinstance(s, TurnUsage))
    assert usage.usage["totalTokens"] == 28260
    assert signals[-1] == SessionExited(("t1",), "success")


def test_turn_interrupt_sends_the_recorded_frame_and_ends_interrupted() -> None:
    adapter, link, signals = replay("turn_interrupt")
    thread = ctx(approval_policy="never", sandbox=SandboxSettings(mode="workspace-write"))
    adapter.start_turn(thread, turn_text(link.driver))
    pump(adapter, link)
    assert not any(isinstance(s, TurnEnded) for s in signals)
    adapter.interrupt(ThreadContext("t1", thread.settings, native_thread_id=bound(signals, "t1")))
    pump(adapter, link)
    link.driver.finish()
    ended = [s for s in signals if isinstance(s, TurnEnded)]
    assert ended == [TurnEnded("t1", "interrupted", native_turn_id="019daded-1d2f-70f2-8abd-bf90f7dff165")]


def test_message_steering_sends_the_recorded_steer_and_keeps_one_turn() -> None:
    adapter, link, signals = replay("message_steering")
    adapter.start_turn(ctx(), "Respond with exactly: steering fixture initial response")
    pump(adapter, link)
    adapter.steer(ctx(native=bound(signals, "t1")), "Actually, respond with exactly: steering fixture observed")
    pump(adapter, link)
    link.driver.finish()
    assert link.driver.sent[4]["method"] == "turn/steer"
    assert len([s for s in signals if isinstance(s, TurnStarted)]) == 1
    assert [describe(s) for s in signals if isinstance(s, TurnEnded)] == [("ended", "completed")]


def test_command_approval_opens_a_request_and_accept_matches_the_recording() -> None:
    adapter, link, signals = replay("tool_call_read_only_on_request")
    thread = ctx(approval_policy="on-request", sandbox=SandboxSettings(mode="read-only"))
    adapter.start_turn(thread, turn_text(link.driver))
    pump(adapter, link)
    opened = [s for s in signals if isinstance(s, RequestOpened)]
    assert len(opened) == 1
    request = opened[0]
    assert (request.kind, request.native_request_id, request.native_item_id) == (
        "command_approval",
        "0",
        "call_amHJNIBwvjyYP8oLIY2jnZmZ",
    )
    assert request.payload["reason"].startswith("Allow creating or overwriting")
    assert request.payload["command"].startswith("/bin/zsh -lc")
    adapter.respond(thread, "0", RequestResponse(decision="accept"))
    assert link.driver.sent[-1] == {"id": 0, "result": {"decision": "accept"}}
    pump(adapter, link)
    link.driver.finish()
    assert RequestResolved("t1", "0") in signals
    commands = [s for s in signals if isinstance(s, ItemUpdated) and s.item_type == "command_execution"]
    assert [c.status for c in commands] == ["running", "completed"]
    assert commands[-1].data["exit_code"] == 0
    assert "output" not in commands[-1].data  # aggregatedOutput was null


def test_plan_questions_sends_collaboration_mode_and_the_answers() -> None:
    adapter, link, signals = replay("plan_questions")
    recorded = next(f for f in upcoming(link.driver) if f.get("method") == "turn/start")["params"]
    instructions = recorded["collaborationMode"]["settings"]["developer_instructions"]
    plan = CollaborationMode(
        mode="plan", model="gpt-5.4", reasoning_effort="medium", developer_instructions=instructions
    )
    thread = ctx(approval_policy="never", sandbox=SandboxSettings(mode="read-only"), collaboration_mode=plan)
    adapter.start_turn(thread, recorded["input"][0]["text"])
    pump(adapter, link)
    request = next(s for s in signals if isinstance(s, RequestOpened))
    assert request.kind == "user_input"
    (question,) = request.payload["questions"]
    assert question["id"] == "schema_vs_ui_flexibility"
    assert [o["label"] for o in question["options"]] == ["Strict schemas (Recommended)", "UI flexibility"]
    adapter.respond(
        thread, request.native_request_id, RequestResponse(answers={question["id"]: [question["options"][0]["label"]]})
    )
    pump(adapter, link)
    link.driver.finish()
    assert link.driver.sent[4] == {
        "id": 0,
        "result": {"answers": {"schema_vs_ui_flexibility": {"answers": ["Strict schemas (Recommended)"]}}},
    }


def test_thread_fork_native_initializes_the_target_with_the_next_id() -> None:
    adapter, link, signals = replay("thread_fork_native")
    adapter.start_turn(ctx("src"), "Respond with the following text: source fork seed ok")
    pump(adapter, link)
    source = ctx("src", native="native-source-thread")
    adapter.fork(source, ctx("fork"))
    assert [f.get("id") for f in link.driver.sent[4:]] == [4, None, 5]
    assert ProviderThreadBound("fork", "native-fork-thread", forked_from_native="native-source-thread") in signals
    adapter.start_turn(ctx("fork", native="native-fork-thread"), "Respond with the following text: fork native ok")
    assert link.driver.sent[-1]["id"] == 6  # no second initialize, no thread/start: the fork is loaded
    pump(adapter, link)
    link.driver.finish()
    ended = [(s.thread_id, s.status) for s in signals if isinstance(s, TurnEnded)]
    assert ended == [("src", "completed"), ("fork", "completed")]
    assert signals[-1] == SessionExited(("fork", "src"), "success")


def test_provider_thread_resume_in_a_fresh_adapter_initializes_from_id_1() -> None:
    first, link, signals = replay("provider_thread_resume")
    first.start_turn(ctx(), "Respond with exactly: provider thread resume fixture first turn complete")
    pump(first, link)
    native = bound(signals, "t1")
    assert signals[-1] == SessionExited(("t1",), "success")
    second = CodexAppServerAdapter()
    later: list[Signal] = []
    second.bind(link, later.append)
    text = turn_text(link.driver)
    second.start_turn(ctx(native=native), text)
    pump(second, link)
    link.driver.finish()
    assert [(f.get("id"), f["method"]) for f in link.driver.sent[4:]] == [
        (1, "initialize"),
        (None, "initialized"),
        (2, "thread/resume"),
        (3, "turn/start"),
    ]
    assert not any(isinstance(s, ProviderThreadBound) for s in later)  # resumed what it asked for
    assert [describe(s) for s in later if isinstance(s, TurnEnded)] == [("ended", "completed")]


def test_the_same_adapter_after_an_exit_resumes_the_thread_it_knows() -> None:
    adapter, link, signals = replay("provider_thread_resume")
    adapter.start_turn(ctx(), "Respond with exactly: provider thread resume fixture first turn complete")
    pump(adapter, link)
    text = turn_text(link.driver)
    adapter.start_turn(ctx(), text)  # the context lacks the native id; the adapter remembers it
    pump(adapter, link)
    link.driver.finish()
    assert [s.thread_ids for s in signals if isinstance(s, SessionExited)] == [("t1",), ("t1",)]


# -- turn/start settings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, {}),
        ({"approval_policy": "never"}, {"approvalPolicy": "never"}),
        ({"approval_policy": "untrusted"}, {"approvalPolicy": "untrusted"}),
        (
            {"approval_policy": {"granular": {"rules": True, "sandbox_approval": False}}},
            {"approvalPolicy": {"granular": {"rules": True, "sandbox_approval": False}}},
        ),
        (
            {"sandbox": SandboxSettings(mode="read-only")},
            {"sandboxPolicy": {"type": "readOnly", "networkAccess": False}},
        ),
        (
            {"sandbox": SandboxSettings(mode="read-only", network_access=True)},
            {"sandboxPolicy": {"type": "readOnly", "networkAccess": True}},
        ),
        (
            {"sandbox": SandboxSettings(mode="workspace-write", writable_roots=["/w", "/x"])},
            {"sandboxPolicy": {"type": "workspaceWrite", "writableRoots": ["/w", "/x"], "networkAccess": False}},
        ),
        (
            {"sandbox": SandboxSettings(mode="danger-full-access", network_access=True)},
            {"sandboxPolicy": {"type": "dangerFullAccess"}},
        ),
        ({"model": "gpt-5.4"}, {"model": "gpt-5.4"}),
        (
            {"collaboration_mode": CollaborationMode(mode="default")},
            {"collaborationMode": {"mode": "default", "settings": {}}},
        ),
        (
            {"collaboration_mode": CollaborationMode(mode="plan", model="m", reasoning_effort="high")},
            {"collaborationMode": {"mode": "plan", "settings": {"model": "m", "reasoning_effort": "high"}}},
        ),
        ({"cwd": "/w", "permission_mode": "plan", "tools": "claude_code"}, {}),
    ],
    ids=lambda v: repr(v)[:60],
)
def test_settings_map_to_turn_start_fields(settings: dict[str, Any], expected: dict[str, Any]) -> None:
    _, link, _ = started_adapter(thread=ctx(**settings))
    turn_start = link.sent[-1]
    assert turn_start == {
        "id": 3,
        "method": "turn/start",
        "params": {"input": [{"text": "hi", "type": "text"}], "threadId": "n1", **expected},
    }


def test_client_info_is_a_constructor_option() -> None:
    link = FakeLink(INIT_OK, thread_started())
    adapter = CodexAppServerAdapter(client_info={"name": "other", "version": "2"})
    adapter.bind(link, lambda signal: None)
    adapter.start_turn(ctx(), "hi")
    assert link.sent[0]["params"]["clientInfo"] == {"name": "other", "version": "2"}


# -- inbound mapping ----------------------------------------------------------------------


def test_an_unknown_notification_is_counted_as_unknown() -> None:
    adapter, _, signals = started_adapter()
    frame = {"method": "thread/brandNew", "params": {"threadId": "n1"}}
    adapter.handle(inbound(frame))
    assert signals[-1] == FrameIgnored("t1", frame, "unknown notification thread/brandNew", known=False)


def test_known_noise_is_ignored_as_known() -> None:
    adapter, _, signals = started_adapter()
    adapter.handle(inbound({"method": "thread/status/changed", "params": {"threadId": "n1", "status": {}}}))
    assert isinstance(signals[-1], FrameIgnored)
    assert signals[-1].known and signals[-1].thread_id == "t1"


def test_a_notification_for_an_unbound_provider_thread_is_unknown() -> None:
    adapter, _, signals = started_adapter()
    adapter.handle(inbound({"method": "turn/started", "params": {"threadId": "elsewhere", "turn": {"id": "x"}}}))
    assert isinstance(signals[-1], FrameIgnored)
    assert not signals[-1].known and signals[-1].thread_id is None
    assert not any(isinstance(s, TurnStarted) for s in signals)


def test_a_response_with_no_pending_request_breaks_a_rule() -> None:
    adapter, _, signals = started_adapter()
    adapter.handle(inbound({"id": 2, "result": {}}))  # id 2 was answered already
    assert signals[-1] == RuleBroken(None, "codex.response.unmatched", "response to id 2, which no request awaits")


@pytest.mark.parametrize("frame", [[1, 2], "text", {"params": {}}, {"id": 9}, {"method": 3}])
def test_a_frame_of_the_wrong_shape_breaks_a_rule(frame: Any) -> None:
    adapter, _, signals = started_adapter()
    adapter.handle(inbound(frame))
    assert isinstance(signals[-1], RuleBroken)
    assert signals[-1].rule == "codex.frame.shape"


def test_waiting_for_a_response_that_never_comes_names_the_request() -> None:
    link = FakeLink(INIT_OK, {"method": "warning", "params": {"message": "x"}})
    adapter = CodexAppServerAdapter()
    signals: list[Signal] = []
    adapter.bind(link, signals.append)
    with pytest.raises(ReplayError, match=r"request 2 \(thread/start\)"):
        adapter.start_turn(ctx(), "hi")
    assert isinstance(signals[-1], FrameIgnored)  # the frame before the stop was handled


def test_turn_started_is_reported_once_from_the_first_of_response_and_notification() -> None:
    adapter, _, signals = started_adapter(
        {"method": "turn/started", "params": {"threadId": "n1", "turn": {"id": "turn-1"}}},
        {"id": 3, "result": {"turn": {"id": "turn-1"}}},
    )
    pump(adapter, adapter.link)  # type: ignore[arg-type]
    assert [s for s in signals if isinstance(s, TurnStarted)] == [TurnStarted("t1", "turn-1")]


def test_an_error_response_to_turn_start_fails_the_turn() -> None:
    adapter, _, signals = started_adapter({"id": 3, "error": {"code": -32600, "message": "bad input"}})
    pump(adapter, adapter.link)  # type: ignore[arg-type]
    assert signals[-1] == TurnEnded("t1", "failed", error="bad input")


def test_an_error_response_to_thread_start_breaks_a_rule_and_fails_the_turn() -> None:
    link = FakeLink(INIT_OK, {"id": 2, "error": {"code": 1, "message": "no"}})
    adapter = CodexAppServerAdapter()
    signals: list[Signal] = []
    adapter.bind(link, signals.append)
    adapter.start_turn(ctx(), "hi")
    assert [f.get("method") for f in link.sent] == ["initialize", "initialized", "thread/start"]
    assert signals == [
        RuleBroken("t1", "codex.response.error", "thread/start (id 2) failed: no"),
        TurnEnded("t1", "failed", error="thread/start failed: no"),
    ]


def test_an_unanswerable_server_request_breaks_a_rule_naming_the_method() -> None:
    adapter, _, signals = started_adapter()
    adapter.handle(inbound({"id": 0, "method": "item/tool/call", "params": {"threadId": "n1"}}))
    assert isinstance(signals[-1], RuleBroken)
    assert signals[-1].rule == "codex.request.unsupported" and "item/tool/call" in signals[-1].message


def test_file_change_approval_and_decisions_keep_the_request_id() -> None:
    adapter, link, signals = started_adapter()
    adapter.handle(
        inbound(
            {
                "id": 7,
                "method": "item/fileChange/requestApproval",
                "params": {"threadId": "n1", "itemId": "call_1", "reason": None, "grantRoot": None},
            }
        )
    )
    assert signals[-1] == RequestOpened("t1", "7", "file_change_approval", "call_1", {})
    for decision, wire in [("accept_for_session", "acceptForSession"), ("decline", "decline"), ("cancel", "cancel")]:
        adapter.respond(ctx(), "7", RequestResponse(decision=decision))  # type: ignore[arg-type]
        assert link.sent[-1] == {"id": 7, "result": {"decision": wire}}


@pytest.mark.parametrize(
    ("item", "item_type", "data"),
    [
        ({"type": "plan", "id": "p", "text": "# Plan"}, "proposed_plan", {"text": "# Plan"}),
        ({"type": "reasoning", "id": "r", "summary": ["a"], "content": ["b"]}, "reasoning", {"text": "a\nb"}),
        (
            {
                "type": "fileChange",
                "id": "f",
                "status": "declined",
                "changes": [{"path": "x", "kind": {"type": "add"}, "diff": "+"}],
            },
            "file_change",
            {"changes": [{"path": "x", "kind": "add", "diff": "+"}]},
        ),
        (
            {"type": "webSearch", "id": "w", "query": "q", "action": {"type": "search", "query": "q"}},
            "web_search",
            {"query": "q", "action": {"type": "search", "query": "q"}},
        ),
        (
            {"type": "dynamicToolCall", "id": "d", "tool": "lookup", "arguments": {"k": 1}, "contentItems": []},
            "dynamic_tool",
            {"tool": "lookup", "input": {"k": 1}, "output": []},
        ),
        (
            {
                "type": "mcpToolCall",
                "id": "m",
                "server": "s",
                "tool": "t",
                "arguments": {},
                "result": {"content": []},
                "error": None,
            },
            "dynamic_tool",
            {"server": "s", "tool": "t", "input": {}, "output": {"content": []}},
        ),
        (
            {"type": "collabAgentToolCall", "id": "c", "tool": "spawnAgent", "prompt": "go"},
            "subagent",
            {"tool": "spawnAgent", "prompt": "go"},
        ),
        ({"type": "contextCompaction", "id": "x"}, "system", {"native_type": "contextCompaction"}),
    ],
    ids=lambda v: v["type"] if isinstance(v, dict) and "type" in v else None,
)
def test_items_map_to_turn_item_types(item: dict[str, Any], item_type: str, data: dict[str, Any]) -> None:
    adapter, _, signals = started_adapter()
    adapter.handle(inbound({"method": "item/completed", "params": {"threadId": "n1", "item": item}}))
    status = "declined" if item.get("status") == "declined" else "completed"
    assert signals[-1] == ItemUpdated("t1", item["id"], item_type, status, data)  # type: ignore[arg-type]


def test_todo_list_recording_reports_plan_steps_in_neutral_statuses() -> None:
    _, signals = play_app(EXTRA / "todo_list__codex_transcript.ndjson")
    plans = [s for s in signals if isinstance(s, PlanUpdated)]
    assert len(plans) == 3
    assert plans[0].steps == [
        {"step": "inspect package.json", "status": "in_progress"},
        {"step": "inspect tsconfig.json", "status": "pending"},
        {"step": "report completion", "status": "pending"},
    ]


@pytest.mark.parametrize(
    ("method", "item_type", "field"),
    [
        ("item/agentMessage/delta", "assistant_message", "text"),
        ("item/reasoning/textDelta", "reasoning", "text"),
        ("item/reasoning/summaryTextDelta", "reasoning", "text"),
        ("item/plan/delta", "proposed_plan", "text"),
        ("item/commandExecution/outputDelta", "command_execution", "output"),
        ("item/fileChange/outputDelta", "file_change", "output"),
    ],
)
def test_deltas_carry_their_item_type_and_field(method: str, item_type: str, field: str) -> None:
    adapter, _, signals = started_adapter()
    adapter.handle(inbound({"method": method, "params": {"threadId": "n1", "itemId": "i", "delta": "d"}}))
    assert signals[-1] == ItemDelta("t1", "i", item_type, field, "d")


def test_an_error_notification_is_known_and_leaves_the_turn_to_turn_completed() -> None:
    adapter, _, signals = started_adapter()
    frame = {"method": "error", "params": {"threadId": "n1", "error": {"message": "overloaded"}, "willRetry": True}}
    adapter.handle(inbound(frame))
    assert signals[-1] == FrameIgnored("t1", frame, "error notification: overloaded (will retry)", known=True)


# -- the process ----------------------------------------------------------------------------


def test_an_exit_mid_turn_ends_the_turn_reports_the_exit_and_restarts_ids() -> None:
    adapter, link, signals = started_adapter(
        {"id": 3, "result": {"turn": {"id": "turn-1"}}}, RuntimeExit(status="error", error="killed")
    )
    pump(adapter, link)
    assert signals[-2:] == [
        TurnEnded("t1", "failed", error="the app-server exited mid-turn", native_turn_id="turn-1"),
        SessionExited(("t1",), "error", error="killed"),
    ]
    link.script = [INIT_OK, {"id": 2, "result": {"thread": {"id": "n1"}}}]
    adapter.start_turn(ctx(native="n1"), "again")
    assert [(f.get("id"), f["method"]) for f in link.sent[4:]] == [
        (1, "initialize"),
        (None, "initialized"),
        (2, "thread/resume"),
        (3, "turn/start"),
    ]


def test_an_exit_after_an_interrupt_request_ends_the_turn_interrupted() -> None:
    adapter, link, signals = started_adapter({"id": 3, "result": {"turn": {"id": "turn-1"}}})
    pump(adapter, link)
    adapter.interrupt(ctx(native="n1"))
    assert link.sent[-1] == {"id": 4, "method": "turn/interrupt", "params": {"threadId": "n1", "turnId": "turn-1"}}
    adapter.exited(RuntimeExit(status="success"))
    assert [describe(s) for s in signals if isinstance(s, TurnEnded)] == [("ended", "interrupted")]


def test_interrupt_before_the_turn_id_is_known_reads_on_until_it_is() -> None:
    adapter, link, signals = started_adapter(
        {"method": "thread/status/changed", "params": {"threadId": "n1"}},
        {"id": 3, "result": {"turn": {"id": "turn-1"}}},
    )
    adapter.interrupt(ctx(native="n1"))
    assert link.sent[-1]["params"] == {"threadId": "n1", "turnId": "turn-1"}
    assert TurnStarted("t1", "turn-1") in signals


def test_rollback_sends_num_turns_and_waits() -> None:
    adapter, link, _ = started_adapter({"id": 4, "result": {"thread": {"id": "n1"}}})
    adapter.rollback(ctx(native="n1"), 2)
    assert link.sent[-1] == {"id": 4, "method": "thread/rollback", "params": {"threadId": "n1", "numTurns": 2}}
    assert link.script == []  # the response was read


def test_the_adapter_satisfies_the_runtime_adapter_protocol() -> None:
    adapter: RuntimeAdapter = CodexAppServerAdapter()
    assert (adapter.protocol, adapter.provider) == ("codex.app-server", "codex")
    assert all(rule.startswith("codex.") for rule in RULES)
