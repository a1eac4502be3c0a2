"""Claude Agent SDK runtime adapter: t3code's ``query()`` boundary, or the Claude Code CLI's stream-json.

Two dialects of one conversation partner (:class:`ClaudeAgentSdkAdapter`):

``sdk`` (protocol ``claude-agent-sdk.query``)
    The boundary t3code records around the TypeScript SDK's ``query()``. Outbound frames are
    synthetic: ``query.open`` (the stable subset of the query options), ``prompt.offer`` (one
    ``SDKUserMessage``; a steering prompt adds ``"priority": "now"``), ``query.interrupt``,
    ``permission.response`` (the ``canUseTool`` callback's answer) and ``session.fork``. Inbound
    frames are the SDK's own messages plus the synthetic ``permission.request`` and
    ``session.forked``.

``cli`` (protocol ``claude-code.stream-json``)
    What ``claude --output-format stream-json --input-format stream-json --verbose
    --permission-prompt-tool stdio`` reads and writes: user messages in, the same output messages
    out, and the control protocol (``control_request`` / ``control_response``) for interrupts and
    ``can_use_tool`` permission prompts. The CLI has no stdio frame for opening, resuming, forking
    or rewinding a session (those are command-line flags), so :meth:`ClaudeAgentSdkAdapter.fork`
    and :meth:`~ClaudeAgentSdkAdapter.rollback` are usage errors in this dialect.

How a turn ends, learned from the recordings: every prompt offered is answered by one ``result``.
A steering prompt supersedes the one it interrupts, which is answered first with
``error_during_execution`` (``message_steering``); only the result that leaves no prompt pending
ends the turn. An interrupted query may end with no ``result`` at all (``turn_interrupt``: two
hook messages, then the query exits), so the turn ends at :meth:`~ClaudeAgentSdkAdapter.exited`.
API failures arrive as ``subtype: "success"`` with ``is_error: true``.

Claude has no native turn id. Items are keyed by the assistant message ``uuid`` (text, thinking)
or the ``tool_use`` block id (tools, whose results arrive later in ``user`` messages).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.adapters.base import FrameShapeError, expect, json_path, wire_field
from harness.adapters.runtime import (
    ConversationHead,
    FrameIgnored,
    ItemUpdated,
    ProviderThreadBound,
    RequestKind,
    RequestOpened,
    RequestResolved,
    RequestResponse,
    RuleBroken,
    RuntimeLink,
    SessionExited,
    Signal,
    SignalSink,
    ThreadContext,
    TurnEnded,
    TurnStarted,
    TurnStatus,
    TurnUsage,
)
from harness.errors import ReplayError, UsageError
from harness.replay.driver import Inbound
from harness.transcript import EmitInbound, RuntimeExit
from harness.transcript.io import Entry

PROTOCOL = "claude-agent-sdk.query"
PROVIDER = "claudeAgent"
CLI_PROTOCOL = "claude-code.stream-json"
CLI_PROVIDER = "claudeCode"

Dialect = Literal["sdk", "cli"]

#: Every protocol rule this adapter can report, with its one-line contract.
RULES: dict[str, str] = {
    "claude.session.mismatch": "system/init names the session the query was opened (or resumed) with",
    "claude.fork.unexpected": "session.forked arrives only in answer to session.fork",
    "claude.frame.orphan": "runtime messages arrive only while a query is live",
    "claude.result.unexpected": "a result answers a prompt that is still pending",
    "claude.tool_result.unknown": "a tool_result names a tool_use the runtime announced",
    "claude.request.unknown": "control_cancel_request names a permission request that is pending",
    "claude.frame.shape": (
        "every value the adapter reads has its wire type (a message is an object, its content an array of "
        "blocks, a block's text a string, ...); a frame that breaks it is reported and not applied"
    ),
}

#: Turn item type of a tool, by the tool's name; any other tool is a ``dynamic_tool``.
TOOL_ITEM_TYPES: dict[str, str] = {
    "Bash": "command_execution",
    "Edit": "file_change",
    "Write": "file_change",
    "MultiEdit": "file_change",
    "NotebookEdit": "file_change",
    "Read": "file_search",
    "Glob": "file_search",
    "Grep": "file_search",
    "LS": "file_search",
    "WebSearch": "web_search",
    "WebFetch": "web_search",
    "Agent": "subagent",
    "Task": "subagent",
    "TodoWrite": "todo_list",
}

#: ``system`` subtypes that carry nothing the core acts on (hooks, subagent task progress, ...).
KNOWN_SYSTEM_SUBTYPES = frozenset(
    {
        "hook_started",
        "hook_progress",
        "hook_response",
        "task_started",
        "task_progress",
        "task_notification",
        "task_updated",
        "status",
        "compact_boundary",
        "session_state_changed",
    }
)

_FILE_EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})
_DECLINED = "The user declined this tool use."
_MID_TURN = "the query ended mid-turn"


def seeded_session_ids(seed: int = 0) -> Callable[[], str]:
    """A deterministic session-id allocator: version-4-shaped UUIDs from ``random.Random(seed)``.

    The app allocates a random UUID per new session; replays pass the recorded id instead
    (``metadata.nativeSessionId``), and everything else gets the same ids on every run.
    """
    rng = random.Random(seed)

    def allocate() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    return allocate


def tool_item_type(tool_name: str) -> str:
    """The turn item type of a Claude tool (``Bash`` -> ``command_execution``, ...)."""
    return TOOL_ITEM_TYPES.get(tool_name, "dynamic_tool")


def request_kind(tool_name: str) -> RequestKind:
    """The approval kind of a permission prompt for ``tool_name``."""
    if tool_name == "Bash":
        return "command_approval"
    if tool_name in _FILE_EDIT_TOOLS:
        return "file_change_approval"
    return "tool_approval"


@dataclass(slots=True)
class _PendingRequest:
    """A permission prompt waiting for the app: what it asked about, to answer it."""

    tool_use_id: str | None
    tool: str
    input: Any


@dataclass(slots=True)
class _ThreadState:
    """What the adapter knows about one app thread's provider session."""

    thread_id: str
    native_id: str | None = None
    live: bool = False
    pending_prompts: int = 0
    interrupt_requested: bool = False
    head: str | None = None
    requests: dict[str, _PendingRequest] = field(default_factory=dict)
    resume_at: str | None = None
    #: After a rollback past every head the next query starts a new session instead of resuming.
    fresh_session: bool = False
    #: tool_use id -> (tool name, item type), so a tool_result reports the same item.
    tools: dict[str, tuple[str, str]] = field(default_factory=dict)


class ClaudeAgentSdkAdapter:
    """The Claude Agent SDK side of an agent runtime; see the module docstring for the dialects.

    >>> adapter = ClaudeAgentSdkAdapter()
    >>> adapter.protocol, adapter.provider
    ('claude-agent-sdk.query', 'claudeAgent')

    ``session_ids`` allocates the id of each new session (``sdk`` dialect only: the CLI names its
    own session in ``system/init``); the default is :func:`seeded_session_ids`.
    """

    protocol: str = PROTOCOL
    provider: str = PROVIDER

    def __init__(self, *, session_ids: Callable[[], str] | None = None, dialect: Dialect = "sdk") -> None:
        if dialect not in ("sdk", "cli"):
            raise UsageError(f"unknown Claude dialect {dialect!r}; expected 'sdk' or 'cli'")
        self.dialect: Dialect = dialect
        if dialect == "cli":
            self.protocol, self.provider = CLI_PROTOCOL, CLI_PROVIDER
        self._session_ids = session_ids or seeded_session_ids()
        self._link: RuntimeLink | None = None
        self._sink: SignalSink | None = None
        self._threads: dict[str, _ThreadState] = {}
        #: Thread ids with a live query, oldest first.
        self._live: list[str] = []
        self._control_requests = 0

    # -- plumbing ----------------------------------------------------------------------------

    def bind(self, link: RuntimeLink, sink: SignalSink) -> None:
        """Attach the transport and the core's signal sink; called once before any intent."""
        self._link = link
        self._sink = sink

    def _send(self, frame: dict[str, Any]) -> None:
        if self._link is None:
            raise UsageError("ClaudeAgentSdkAdapter.bind() must be called before any intent")
        self._link.send(frame)

    def _emit(self, signal: Signal) -> None:
        if self._sink is None:
            raise UsageError("ClaudeAgentSdkAdapter.bind() must be called before any frame is handled")
        self._sink(signal)

    def _state(self, thread_id: str) -> _ThreadState:
        state = self._threads.get(thread_id)
        if state is None:
            state = self._threads[thread_id] = _ThreadState(thread_id)
        return state

    def _open(self, state: _ThreadState) -> None:
        state.live = True
        state.pending_prompts = 0
        state.interrupt_requested = False
        if state.thread_id not in self._live:
            self._live.append(state.thread_id)

    def _close(self, state: _ThreadState) -> None:
        state.live = False
        state.pending_prompts = 0
        state.interrupt_requested = False
        if state.thread_id in self._live:
            self._live.remove(state.thread_id)

    def _thread_for(self, frame: dict[str, Any]) -> _ThreadState | None:
        """The thread a runtime message belongs to: the live query naming its session, else the
        newest live query (hook messages of a resumed query carry the hook's own session id)."""
        if not self._live:
            return None
        session_id = frame.get("session_id")
        if isinstance(session_id, str):
            for thread_id in reversed(self._live):
                state = self._threads[thread_id]
                if state.native_id == session_id:
                    return state
        return self._threads[self._live[-1]]

    # -- intents -----------------------------------------------------------------------------

    def start_turn(self, thread: ThreadContext, text: str) -> None:
        """Offer ``text`` as a new prompt, opening (or resuming) the thread's query first if none is live."""
        state = self._state(thread.thread_id)
        if state.native_id is None:
            state.native_id = thread.native_thread_id
        if self.dialect == "cli":
            if not state.live:
                self._open(state)
            self._send(_cli_user_message(text))
        else:
            if not state.live:
                self._open_query(thread, state)
            self._send(_prompt_offer(text))
        state.pending_prompts += 1
        self._emit(TurnStarted(thread.thread_id))

    def _open_query(self, thread: ThreadContext, state: _ThreadState) -> None:
        settings = thread.settings
        options: dict[str, Any] = {}
        if settings.model is not None:
            options["model"] = settings.model
        if settings.tools is not None:
            options["tools"] = (
                {"type": "preset", "preset": "claude_code"} if settings.tools == "claude_code" else list(settings.tools)
            )
        if settings.permission_mode is not None:
            options["permissionMode"] = settings.permission_mode
        if settings.allowed_tools is not None:
            options["allowedTools"] = list(settings.allowed_tools)
        if settings.disallowed_tools is not None:
            options["disallowedTools"] = list(settings.disallowed_tools)
        if settings.permission_mode == "bypassPermissions":
            # The SDK refuses bypassPermissions without this explicit second switch.
            options["allowDangerouslySkipPermissions"] = True
        if state.resume_at is not None:
            options["resumeSessionAt"] = state.resume_at
        native = None if state.fresh_session else (thread.native_thread_id or state.native_id)
        bound: str | None = None
        if native is None:
            bound = self._session_ids()
            options["sessionId"] = bound
        else:
            options["resume"] = native
        self._send({"type": "query.open", "options": options})
        state.resume_at = None
        state.fresh_session = False
        self._open(state)
        if bound is not None:
            state.native_id = bound
            self._emit(ProviderThreadBound(thread.thread_id, bound))

    def steer(self, thread: ThreadContext, text: str) -> None:
        """Offer ``text`` into the live query with priority ``now`` (it supersedes the running prompt)."""
        state = self._live_state(thread, "steer")
        if self.dialect == "cli":
            # stream-json user messages have no priority field; the CLI takes this one as the next input.
            self._send(_cli_user_message(text))
        else:
            self._send(_prompt_offer(text, priority="now"))
        state.pending_prompts += 1

    def interrupt(self, thread: ThreadContext) -> None:
        """Ask the live query to stop; the turn ends with the next ``result`` or the query's exit."""
        state = self._live_state(thread, "interrupt")
        if self.dialect == "cli":
            self._send(self._control_request("interrupt", {"subtype": "interrupt"}))
        else:
            self._send({"type": "query.interrupt"})
        state.interrupt_requested = True

    def _control_request(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        # The SDKs number control requests per process with a random suffix (req_1_<8 hex>);
        # the suffix here is the request's subtype, so the ids are the same on every run.
        self._control_requests += 1
        return {"type": "control_request", "request_id": f"req_{self._control_requests}_{name}", "request": request}

    def _live_state(self, thread: ThreadContext, intent: str) -> _ThreadState:
        state = self._state(thread.thread_id)
        if not state.live:
            raise UsageError(f"{intent}: thread {thread.thread_id!r} has no live Claude query; start a turn first")
        return state

    def respond(self, thread: ThreadContext, native_request_id: str, response: RequestResponse) -> None:
        """Answer a pending permission prompt (``decision`` only: Claude asks no user-input questions here)."""
        state = self._state(thread.thread_id)
        request = state.requests.get(native_request_id)
        if request is None:
            pending = ", ".join(state.requests) or "none"
            raise UsageError(
                f"thread {thread.thread_id!r} has no pending Claude permission request {native_request_id!r} "
                f"(pending: {pending})"
            )
        decision = response.decision
        if decision is None:
            raise UsageError(f"permission request {native_request_id!r} needs a decision, not answers")
        del state.requests[native_request_id]
        result: dict[str, Any]
        if decision in ("accept", "accept_for_session"):
            result = {"behavior": "allow", "updatedInput": request.input}
        else:
            result = {"behavior": "deny", "message": _DECLINED}
            if decision == "cancel":
                # Deny and stop the turn: the turn that ends next ends interrupted.
                result["interrupt"] = True
                state.interrupt_requested = True
        if self.dialect == "cli":
            self._send(
                {
                    "type": "control_response",
                    "response": {"subtype": "success", "request_id": native_request_id, "response": result},
                }
            )
        else:
            result["toolUseID"] = request.tool_use_id
            result["decisionClassification"] = {
                "accept": "user_temporary",
                "accept_for_session": "user_permanent",
                "decline": "user_reject",
                "cancel": "user_reject",
            }[decision]
            self._send({"type": "permission.response", "result": result})
        self._emit(RequestResolved(thread.thread_id, native_request_id))

    def fork(self, source: ThreadContext, target: ThreadContext) -> None:
        """Fork the source session up to its newest kept head, then wait for ``session.forked``."""
        if self.dialect == "cli":
            raise UsageError(
                "the Claude Code CLI forks a session on its command line (--resume <id> --fork-session); "
                "stream-json has no fork frame"
            )
        native = source.native_thread_id or self._state(source.thread_id).native_id
        if native is None:
            raise UsageError(f"fork: thread {source.thread_id!r} has no Claude session to fork")
        options: dict[str, Any] = {}
        if source.settings.cwd is not None:
            options["dir"] = source.settings.cwd
        head = _newest_head(source.heads)
        if head is not None:
            options["upToMessageId"] = head
        self._send({"type": "session.fork", "sessionId": native, "options": options})
        link = self._link
        assert link is not None  # _send checked it
        while True:
            received = link.receive()
            if received is None:
                raise ReplayError(
                    f"fork of thread {source.thread_id!r}: awaited session.forked for session {native}, "
                    "but the runtime has nothing more to say"
                )
            if isinstance(received, RuntimeExit):
                self.exited(received)
                continue
            frame = received.frame
            if isinstance(frame, dict) and frame.get("type") == "session.forked":
                forked = frame.get("sessionId")
                if not isinstance(forked, str) or not forked:
                    raise ReplayError(
                        f"session.forked for session {native} carries no sessionId",
                        line=received.line,
                        entry_index=received.entry_index,
                    )
                state = self._state(target.thread_id)
                state.native_id = forked
                state.head = head
                self._emit(ProviderThreadBound(target.thread_id, forked, forked_from_native=native))
                return
            # Anything before the answer (the tail of a running query) is handled as usual.
            self.handle(received)

    def rollback(self, thread: ThreadContext, turns: int) -> None:
        """Resume the next query at the newest kept head (``resumeSessionAt``); no frame is sent.

        The SDK rewinds a session only when a query opens, so the live query (if any) is treated
        as closed and the next :meth:`start_turn` opens a new one with ``resume``.
        """
        if self.dialect == "cli":
            raise UsageError(
                "the Claude Code CLI rewinds a session on its command line; stream-json has no rollback frame"
            )
        state = self._state(thread.thread_id)
        if state.native_id is None:
            state.native_id = thread.native_thread_id
        head = _newest_head(thread.heads)
        if head is None:
            # Every turn was dropped: the next query starts an empty session.
            state.resume_at, state.fresh_session = None, True
        else:
            state.resume_at, state.fresh_session = head, False
        state.head = head
        self._close(state)

    # -- inbound -----------------------------------------------------------------------------

    def handle(self, inbound: Inbound) -> None:
        """Interpret one inbound frame, reporting signals to the sink."""
        frame = inbound.frame
        if not isinstance(frame, dict):
            self._emit(FrameIgnored(None, frame, "not a JSON object", known=False))
            return
        kind = frame.get("type")
        if kind == "session.forked" and self.dialect == "sdk":
            # fork() consumes the session.forked that answers it; any other one is unasked for.
            state = self._thread_for(frame)
            self._emit(
                RuleBroken(
                    state.thread_id if state else None,
                    "claude.fork.unexpected",
                    f"session.forked ({frame.get('sessionId')}) arrived, but no session.fork was sent",
                )
            )
            return
        state = self._thread_for(frame)
        if state is None:
            self._emit(
                RuleBroken(None, "claude.frame.orphan", f"a {kind!r} message arrived while no Claude query is live")
            )
            return
        thread_id = state.thread_id
        if kind == "stream_event":
            # Partial messages, the bulk of a stream with includePartialMessages; no shape rule reads them.
            self._emit(
                FrameIgnored(thread_id, frame, "partial message; the assistant message carries the content", known=True)
            )
            return
        problem = frame_shape_problem(frame, self.dialect)
        if problem is not None:
            self._emit(RuleBroken(thread_id, "claude.frame.shape", problem))
            return
        if kind == "system":
            self._on_system(state, frame)
        elif kind == "assistant":
            self._on_assistant(state, frame)
        elif kind == "user":
            self._on_user(state, frame)
        elif kind == "result":
            self._on_result(state, frame)
        elif kind == "rate_limit_event":
            self._emit(FrameIgnored(thread_id, frame, "rate limit status", known=True))
        elif kind == "permission.request" and self.dialect == "sdk":
            self._on_permission_request(state, frame)
        elif kind == "control_request" and self.dialect == "cli":
            self._on_control_request(state, frame)
        elif kind == "control_response" and self.dialect == "cli":
            response = _object(frame.get("response"))
            reason = f"the CLI's answer to control request {response.get('request_id')!r}"
            if response.get("subtype") == "error":
                reason += f": {response.get('error')}"
            self._emit(FrameIgnored(thread_id, frame, reason, known=True))
        elif kind == "control_cancel_request" and self.dialect == "cli":
            request_id = frame.get("request_id")
            if isinstance(request_id, str) and state.requests.pop(request_id, None) is not None:
                self._emit(RequestResolved(thread_id, request_id))
            else:
                self._emit(
                    RuleBroken(
                        thread_id,
                        "claude.request.unknown",
                        f"control_cancel_request for {request_id!r}, which is not pending",
                    )
                )
        else:
            self._emit(FrameIgnored(thread_id, frame, f"unknown {self.protocol} message type {kind!r}", known=False))

    def _on_system(self, state: _ThreadState, frame: dict[str, Any]) -> None:
        subtype = frame.get("subtype")
        if subtype == "init":
            session_id = frame.get("session_id")
            if isinstance(session_id, str) and state.native_id is None:
                # The CLI names its own session; the SDK dialect allocated it when opening.
                state.native_id = session_id
                self._emit(ProviderThreadBound(state.thread_id, session_id))
                return
            if isinstance(session_id, str) and session_id != state.native_id:
                self._emit(
                    RuleBroken(
                        state.thread_id,
                        "claude.session.mismatch",
                        f"system/init names session {session_id}, but the query runs session {state.native_id}",
                    )
                )
                return
            self._emit(FrameIgnored(state.thread_id, frame, "session initialised", known=True))
        elif subtype in KNOWN_SYSTEM_SUBTYPES:
            self._emit(FrameIgnored(state.thread_id, frame, f"system/{subtype}", known=True))
        else:
            self._emit(FrameIgnored(state.thread_id, frame, f"unknown system subtype {subtype!r}", known=False))

    def _on_assistant(self, state: _ThreadState, frame: dict[str, Any]) -> None:
        message = _object(frame.get("message"))
        content = _array(message.get("content"))
        message_uuid = frame.get("uuid") if isinstance(frame.get("uuid"), str) else message.get("id")
        parent = frame.get("parent_tool_use_id")
        parent = parent if isinstance(parent, str) else None
        thread_id = state.thread_id
        for index, block in enumerate(content):
            block_type = block.get("type") if isinstance(block, dict) else None
            # One assistant message per content block is what the CLI writes; when several blocks
            # share a message, the block index keeps their item ids apart.
            item_id = str(message_uuid) if len(content) == 1 else f"{message_uuid}:{index}"
            if block_type == "text":
                self._emit(
                    ItemUpdated(
                        thread_id, item_id, "assistant_message", "completed", {"text": block.get("text", "")}, parent
                    )
                )
            elif block_type == "thinking":
                # The signature is opaque provider state, not content.
                self._emit(
                    ItemUpdated(
                        thread_id, item_id, "reasoning", "completed", {"text": block.get("thinking", "")}, parent
                    )
                )
            elif block_type in ("tool_use", "server_tool_use"):
                tool = str(block.get("name"))
                tool_id = str(block.get("id"))
                item_type = tool_item_type(tool)
                state.tools[tool_id] = (tool, item_type)
                tool_input = block.get("input")
                data: dict[str, Any] = {"tool": tool, "input": tool_input}
                if isinstance(tool_input, dict):
                    if item_type == "command_execution" and "command" in tool_input:
                        data["command"] = tool_input["command"]
                    if item_type == "web_search" and "query" in tool_input:
                        data["query"] = tool_input["query"]
                self._emit(ItemUpdated(thread_id, tool_id, item_type, "running", data, parent))
            else:
                self._emit(
                    FrameIgnored(thread_id, frame, f"assistant content block {block_type!r} is not mapped", known=False)
                )
        if parent is None and isinstance(message_uuid, str):
            state.head = message_uuid
            self._emit(ConversationHead(thread_id, message_uuid))

    def _on_user(self, state: _ThreadState, frame: dict[str, Any]) -> None:
        message = _object(frame.get("message"))
        content = message.get("content")
        parent = frame.get("parent_tool_use_id")
        parent = parent if isinstance(parent, str) else None
        thread_id = state.thread_id
        blocks: list[Any] = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        texts: list[str] = []
        acted = False
        for block in blocks:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_result":
                acted = True
                tool_id = str(block.get("tool_use_id"))
                known = state.tools.get(tool_id)
                if known is None:
                    self._emit(
                        RuleBroken(
                            thread_id, "claude.tool_result.unknown", f"tool_result for {tool_id}, which never started"
                        )
                    )
                    continue
                tool, item_type = known
                self._emit(
                    ItemUpdated(
                        thread_id,
                        tool_id,
                        item_type,
                        "failed" if block.get("is_error") else "completed",
                        {"tool": tool, "output": _text_of(block.get("content"))},
                        parent,
                    )
                )
            elif block.get("type") == "text":
                texts.append(str(block.get("text", "")))
        if texts and parent is not None:
            # A subagent's prompt, written into the subagent's own conversation.
            self._emit(
                ItemUpdated(
                    thread_id,
                    str(frame.get("uuid")),
                    "user_message",
                    "completed",
                    {"text": "\n".join(texts)},
                    parent,
                )
            )
        elif not acted:
            self._emit(FrameIgnored(thread_id, frame, "a top-level user message: the app's own prompt", known=True))

    def _on_result(self, state: _ThreadState, frame: dict[str, Any]) -> None:
        thread_id = state.thread_id
        if state.pending_prompts == 0:
            self._emit(RuleBroken(thread_id, "claude.result.unexpected", "a result arrived with no prompt pending"))
            return
        state.pending_prompts -= 1
        if state.pending_prompts:
            self._emit(
                FrameIgnored(
                    thread_id,
                    frame,
                    f"answers a prompt a steering prompt superseded ({frame.get('subtype')}); "
                    "the steering prompt's result ends the turn",
                    known=True,
                )
            )
            return
        usage = frame.get("usage")
        if isinstance(usage, dict):
            self._emit(TurnUsage(thread_id, usage))
        subtype = frame.get("subtype")
        if state.interrupt_requested:
            self._end_turn(state, "interrupted")
        elif frame.get("is_error") or (isinstance(subtype, str) and subtype.startswith("error")):
            text = frame.get("result")
            errors = frame.get("errors")
            if isinstance(text, str) and text:
                error = text
            elif isinstance(errors, list) and errors:
                error = "; ".join(str(e) for e in errors)
            else:
                error = str(subtype)
            self._end_turn(state, "failed", error)
        else:
            self._end_turn(state, "completed")

    def _end_turn(self, state: _ThreadState, status: TurnStatus, error: str | None = None) -> None:
        for request_id in list(state.requests):
            del state.requests[request_id]
            self._emit(RequestResolved(state.thread_id, request_id))
        state.pending_prompts = 0
        state.interrupt_requested = False
        self._emit(TurnEnded(state.thread_id, status, error))

    def _on_permission_request(self, state: _ThreadState, frame: dict[str, Any]) -> None:
        # The SDK's canUseTool callback has no request id of its own: the tool_use id names it.
        options = _object(frame.get("options"))
        tool = str(frame.get("toolName"))
        tool_input = frame.get("input")
        tool_use_id = str(options.get("toolUseID"))
        payload: dict[str, Any] = {"tool": tool, "input": tool_input}
        for key in ("decisionReason", "blockedPath", "title"):
            if options.get(key) is not None:
                payload[key] = options[key]
        self._open_request(state, tool_use_id, tool_use_id, tool, tool_input, payload)

    def _on_control_request(self, state: _ThreadState, frame: dict[str, Any]) -> None:
        request = _object(frame.get("request"))
        subtype = request.get("subtype")
        if subtype != "can_use_tool":
            self._emit(
                FrameIgnored(
                    state.thread_id, frame, f"control request {subtype!r} is not supported by this adapter", known=False
                )
            )
            return
        tool = str(request.get("tool_name"))
        tool_input = request.get("input")
        payload: dict[str, Any] = {"tool": tool, "input": tool_input}
        for wire, key in (("decision_reason", "decisionReason"), ("blocked_path", "blockedPath"), ("title", "title")):
            if request.get(wire) is not None:
                payload[key] = request[wire]
        tool_use_id = request.get("tool_use_id")
        # The control request id is what the answer must name, so it is the native request id.
        self._open_request(
            state,
            str(frame.get("request_id")),
            tool_use_id if isinstance(tool_use_id, str) else None,
            tool,
            tool_input,
            payload,
        )

    def _open_request(
        self,
        state: _ThreadState,
        request_id: str,
        tool_use_id: str | None,
        tool: str,
        tool_input: Any,
        payload: dict[str, Any],
    ) -> None:
        state.requests[request_id] = _PendingRequest(tool_use_id, tool, tool_input)
        self._emit(RequestOpened(state.thread_id, request_id, request_kind(tool), tool_use_id, payload))

    def exited(self, exit_: RuntimeExit) -> None:
        """The query (or CLI process) ended: end a turn still in flight, then report the exit."""
        error = _error_text(exit_.error)
        if not self._live:
            self._emit(SessionExited((), exit_.status, error))
            return
        # One live query at a time in every recording: the exit is the newest one's.
        state = self._threads[self._live[-1]]
        if state.pending_prompts:
            if state.interrupt_requested:
                self._end_turn(state, "interrupted")
            elif exit_.status == "cancelled":
                self._end_turn(state, "cancelled")
            else:
                self._end_turn(state, "failed", f"{_MID_TURN}: {error}" if error else _MID_TURN)
        self._close(state)
        self._emit(SessionExited((state.thread_id,), exit_.status, error))


# -- wire shapes -----------------------------------------------------------------------------------


def _check_blocks(content: Any, path: str) -> None:
    """Content blocks: objects whose ``type`` is a string; the fields the adapter reads, typed."""
    for position, block in enumerate(content if isinstance(content, list) else []):
        block_path = json_path(path, position)
        expect(block, block_path, "object")
        block_type = wire_field(block, "type", block_path, "string", required=True)
        if block_type == "text":
            wire_field(block, "text", block_path, "string", required=True)
        elif block_type == "thinking":
            wire_field(block, "thinking", block_path, "string", required=True)
        elif block_type in ("tool_use", "server_tool_use"):
            wire_field(block, "id", block_path, "string", required=True)
            wire_field(block, "name", block_path, "string", required=True)
        elif block_type == "tool_result":
            wire_field(block, "tool_use_id", block_path, "string", required=True)
            wire_field(block, "is_error", block_path, "boolean", "null")
            wire_field(block, "content", block_path, "string", "array", "null")


def frame_shape_problem(frame: dict[str, Any], dialect: Dialect = "sdk") -> str | None:
    """What is wrong with an inbound message (``claude.frame.shape``), or None: a value the adapter
    reads that has another JSON type than the SDK and the CLI send."""
    kind = frame.get("type")
    try:
        if kind == "system":
            wire_field(frame, "subtype", "$.frame", "string", "null")
            wire_field(frame, "session_id", "$.frame", "string", "null")
        elif kind in ("assistant", "user"):
            wire_field(frame, "uuid", "$.frame", "string", "null")
            wire_field(frame, "parent_tool_use_id", "$.frame", "string", "null")
            message = wire_field(frame, "message", "$.frame", "object", required=True)
            if kind == "assistant":
                wire_field(message, "content", "$.frame.message", "array", required=True)
            else:
                wire_field(message, "content", "$.frame.message", "string", "array", "null")
            _check_blocks(message.get("content"), "$.frame.message.content")
        elif kind == "result":
            wire_field(frame, "subtype", "$.frame", "string", "null")
            wire_field(frame, "is_error", "$.frame", "boolean", "null")
            wire_field(frame, "result", "$.frame", "string", "null")
            wire_field(frame, "errors", "$.frame", "array", "null")
            wire_field(frame, "usage", "$.frame", "object", "null")
        elif kind == "permission.request" and dialect == "sdk":
            wire_field(frame, "toolName", "$.frame", "string", required=True)
            options = wire_field(frame, "options", "$.frame", "object", "null") or {}
            wire_field(options, "toolUseID", "$.frame.options", "string", "null")
        elif kind == "control_request" and dialect == "cli":
            wire_field(frame, "request_id", "$.frame", "string", required=True)
            request = wire_field(frame, "request", "$.frame", "object", required=True)
            if request.get("subtype") == "can_use_tool":
                wire_field(request, "tool_name", "$.frame.request", "string", required=True)
                wire_field(request, "tool_use_id", "$.frame.request", "string", "null")
        elif kind == "control_response" and dialect == "cli":
            wire_field(frame, "response", "$.frame", "object", "null")
    except FrameShapeError as exc:
        return f"{kind}: {exc}"
    return None


def lint_frames(entries: Sequence[Entry], dialect: Dialect = "sdk") -> list[tuple[int, str, str]]:
    """The shape problems the adapter reports, found without a replay: ``(entry index, rule, message)``."""
    found: list[tuple[int, str, str]] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, EmitInbound) and isinstance(entry.frame, dict):
            problem = frame_shape_problem(entry.frame, dialect)
            if problem is not None:
                found.append((index, "claude.frame.shape", problem))
    return found


# -- frames ------------------------------------------------------------------------------------


def _prompt_offer(text: str, *, priority: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "user",
        "message": {"role": "user", "content": text},
        "parent_tool_use_id": None,
    }
    if priority is not None:
        message["priority"] = priority
    return {"type": "prompt.offer", "message": message}


def _cli_user_message(text: str) -> dict[str, Any]:
    # The SDKs send session_id "default"; the CLI ignores it and keeps its own session.
    return {
        "type": "user",
        "message": {"role": "user", "content": text},
        "parent_tool_use_id": None,
        "session_id": "default",
    }


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _array(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _newest_head(heads: tuple[str | None, ...]) -> str | None:
    """The newest kept conversation head; a run without an assistant message has none."""
    for head in reversed(heads):
        if head is not None:
            return head
    return None


def _text_of(content: Any) -> str:
    """The text of a tool_result's content: a string, or the text blocks of a list, one per line."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(block.get("text", "")) for block in content if isinstance(block, dict) and block.get("type") == "text"
        )
    return ""


def _error_text(error: Any) -> str | None:
    if error is None or isinstance(error, str):
        return error
    return json.dumps(error, sort_keys=True, ensure_ascii=False, default=repr)


__all__ = [
    "CLI_PROTOCOL",
    "CLI_PROVIDER",
    "KNOWN_SYSTEM_SUBTYPES",
    "PROTOCOL",
    "PROVIDER",
    "RULES",
    "TOOL_ITEM_TYPES",
    "ClaudeAgentSdkAdapter",
    "request_kind",
    "seeded_session_ids",
    "tool_item_type",
]
