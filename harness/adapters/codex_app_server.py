"""Codex ``app-server`` runtime adapter: JSON-RPC over stdio, seen from the core.

The app-server speaks JSON-RPC 2.0 without the ``"jsonrpc"`` member: requests ``{id, method,
params}``, responses ``{id, result}`` or ``{id, error: {code, message}}``, notifications
``{method, params}``; the server also sends the app requests (approvals, questions) that the app
answers with ``{id, result}``.

**Process and sessions.** Request ids count from 1 per app-server *process*; a ``runtime_exit``
(:meth:`CodexAppServerAdapter.exited`) ends the process, so ids start again at 1 and every app
thread must initialize again. Each app thread has its own provider session: its first operation
in a process sends ``initialize`` (``capabilities.experimentalApi`` and ``clientInfo``), waits
for the response, then sends ``initialized``. A fork's target thread initializes too, in the same
process, while the source keeps its session.

**Waiting.** ``initialize``, ``thread/start``, ``thread/resume``, ``thread/fork`` and
``thread/rollback`` wait for their response: the adapter pulls frames from the link and handles
each one (notifications in between become signals in order) until the response has been handled.
``turn/start``, ``turn/steer``, ``turn/interrupt`` and answers to server requests do not wait;
their responses are handled whenever they arrive, before or after related notifications. If the
link returns ``None`` (the transcript expects the app to send) while a response is awaited, the
adapter raises :class:`~harness.errors.ReplayError` naming the request. If the process exits
instead, :meth:`~CodexAppServerAdapter.exited` reports it and the intent stops there.

**Turns.** ``start_turn`` makes the app thread's turn active at once. ``TurnStarted`` is reported
once per turn, from whichever comes first of the ``turn/start`` response and ``turn/started``;
``turn/completed`` ends the turn with :class:`TurnEnded`. A failed ``turn/start`` ends it as
``failed``; so does a failed ``initialize``, ``thread/start`` or ``thread/resume`` on the way
(after the :class:`RuleBroken` for the error response). When the process exits, every active turn
ends: ``interrupted`` if an interrupt was requested, else ``failed``.

**Signals.** Items map to t3code's turn item types (``userMessage`` -> ``user_message``,
``agentMessage`` -> ``assistant_message``, ``commandExecution`` -> ``command_execution``, ...,
anything unknown -> ``system`` with its ``native_type``); ``data`` keeps a small,
provider-neutral subset and leaves out ``None`` values, timestamps, durations and process ids.
Todo steps report ``pending``, ``in_progress`` and ``completed``. Known background notifications
(:data:`KNOWN_NOISE`), ``turn/diff/updated`` (the ``file_change`` items carry the changes) and
``error`` notifications (the ``turn/completed`` that follows a final error carries it) become
``FrameIgnored(known=True)``; any other method, and notifications for a provider thread no app
thread is bound to, become ``FrameIgnored(known=False)``. Successful responses that carry nothing
for the core (``initialize``, ``turn/steer``, ``turn/interrupt``, ``thread/rollback``) report no
signal.

**Rules** (:data:`RULES`), reported as :class:`RuleBroken`:

* ``codex.frame.shape`` -- an inbound frame is a JSON object that is a response, a server
  request or a notification, with the fields its method needs, each of its wire type (an item's
  ``text`` a string, its ``content`` an array, ...); one that is not is reported and not applied;
* ``codex.response.unmatched`` -- a response answers a pending request of this process;
* ``codex.response.error`` -- a request other than ``turn/start`` succeeds;
* ``codex.response.shape`` -- a ``thread/start``, ``thread/resume`` or ``thread/fork`` result
  names its thread (``result.thread.id``), a ``turn/start`` result its turn (``result.turn.id``);
  one that does not is reported (naming the JSON path) and not applied;
* ``codex.request.unsupported`` -- the server only sends requests the app can answer (command and
  file-change approvals, user input);
* ``codex.request.unknown_thread`` -- a server request names a provider thread bound to an app
  thread;
* ``codex.turn.status`` -- ``turn/completed`` carries ``completed``, ``interrupted`` or
  ``failed`` (any other status also ends the turn, as ``failed``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.adapters.base import FrameShapeError, JsonKind, expect, json_path, wire_field
from harness.adapters.runtime import (
    CollaborationMode,
    FrameIgnored,
    ItemDelta,
    ItemStatus,
    ItemUpdated,
    PlanUpdated,
    ProviderThreadBound,
    RequestKind,
    RequestOpened,
    RequestResolved,
    RequestResponse,
    RuleBroken,
    RuntimeLink,
    RuntimeSettings,
    SandboxSettings,
    SessionExited,
    Signal,
    SignalSink,
    ThreadContext,
    TurnEnded,
    TurnStarted,
    TurnStatus,
    TurnUsage,
)
from harness.errors import HarnessError, ReplayError, UsageError
from harness.replay.driver import Inbound
from harness.transcript import EmitInbound, ExpectOutbound, RuntimeExit
from harness.transcript.io import Entry

PROTOCOL = "codex.app-server"
PROVIDER = "codex"

#: Every protocol rule this adapter can report, with its one-line contract.
RULES: dict[str, str] = {
    "codex.frame.shape": "an inbound frame is a response, a server request or a notification with the fields it needs",
    "codex.response.unmatched": "a response answers a pending request of this app-server process",
    "codex.response.error": "a request other than turn/start succeeds",
    "codex.response.shape": (
        "a thread/start, thread/resume or thread/fork result names its thread; a turn/start result names its turn"
    ),
    "codex.request.unsupported": "the server only sends requests the app can answer",
    "codex.request.unknown_thread": "a server request names a provider thread bound to an app thread",
    "codex.turn.status": "turn/completed carries completed, interrupted or failed",
}

#: The ``clientInfo`` the app sends with ``initialize`` unless told otherwise.
DEFAULT_CLIENT_INFO: Mapping[str, str] = {"name": "t3code_desktop", "title": "T3 Code Desktop", "version": "0.1.0"}

#: Notifications with no meaning for the core.
KNOWN_NOISE = frozenset(
    {
        "thread/status/changed",
        "mcpServer/startupStatus/updated",
        "account/rateLimits/updated",
        "deprecationNotice",
        "warning",
        "remoteControl/status/changed",
        "configWarning",
        "thread/name/updated",
        "hook/started",
        "hook/completed",
        "item/reasoning/summaryPartAdded",
    }
)

#: Native item type -> turn item type.
ITEM_TYPES: Mapping[str, str] = {
    "userMessage": "user_message",
    "agentMessage": "assistant_message",
    "reasoning": "reasoning",
    "plan": "proposed_plan",
    "commandExecution": "command_execution",
    "fileChange": "file_change",
    "webSearch": "web_search",
    "mcpToolCall": "dynamic_tool",
    "dynamicToolCall": "dynamic_tool",
    "collabAgentToolCall": "subagent",
}

#: Delta notification -> (turn item type, field).
DELTAS: Mapping[str, tuple[str, str]] = {
    "item/agentMessage/delta": ("assistant_message", "text"),
    "item/reasoning/textDelta": ("reasoning", "text"),
    "item/reasoning/summaryTextDelta": ("reasoning", "text"),
    "item/plan/delta": ("proposed_plan", "text"),
    "item/commandExecution/outputDelta": ("command_execution", "output"),
    "item/fileChange/outputDelta": ("file_change", "output"),
}

#: Server request method -> request kind.
REQUEST_KINDS: Mapping[str, RequestKind] = {
    "item/commandExecution/requestApproval": "command_approval",
    "item/fileChange/requestApproval": "file_change_approval",
    "item/tool/requestUserInput": "user_input",
}

_DECISIONS: Mapping[str, str] = {
    "accept": "accept",
    "accept_for_session": "acceptForSession",
    "decline": "decline",
    "cancel": "cancel",
}
_ITEM_STATUSES: Mapping[str, ItemStatus] = {"completed": "completed", "failed": "failed", "declined": "declined"}
_TURN_STATUSES: Mapping[str, TurnStatus] = {
    "completed": "completed",
    "interrupted": "interrupted",
    "failed": "failed",
}
_STEP_STATUSES: Mapping[str, str] = {"pending": "pending", "inProgress": "in_progress", "completed": "completed"}
_WAITING = frozenset({"initialize", "thread/start", "thread/resume", "thread/fork", "thread/rollback"})
_EXIT_ERROR = "the app-server exited mid-turn"


@dataclass(slots=True, eq=False)
class _Turn:
    """The active turn of one app thread, from ``start_turn`` (or ``turn/started``) to its end."""

    native_turn_id: str | None = None
    reported: bool = False
    interrupt_requested: bool = False


@dataclass(frozen=True, slots=True)
class _Pending:
    """A request of this process that has no response yet."""

    method: str
    thread_id: str
    turn: _Turn | None = None
    native_thread_id: str | None = None


@dataclass(frozen=True, slots=True)
class _ServerRequest:
    """A server request not yet resolved: its id as sent (JSON type kept), thread and kind."""

    raw_id: Any
    thread_id: str
    kind: RequestKind


class CodexAppServerAdapter:
    """The Codex app-server side of an agent runtime; see the module docstring."""

    protocol: str = PROTOCOL
    provider: str = PROVIDER

    def __init__(self, *, client_info: Mapping[str, str] | None = None) -> None:
        self.client_info: dict[str, str] = dict(DEFAULT_CLIENT_INFO if client_info is None else client_info)
        self._link: RuntimeLink | None = None
        self._sink: SignalSink | None = None
        # What the adapter knows across processes: provider thread ids of app threads.
        self._native_of: dict[str, str] = {}
        self._app_of: dict[str, str] = {}
        # The current process.
        self._process = 0
        self._next_id = 1
        self._sessions: dict[str, None] = {}
        self._loaded: dict[str, str] = {}
        self._pending: dict[int, _Pending] = {}
        self._replies: dict[int, dict[str, Any]] = {}
        self._turns: dict[str, _Turn] = {}
        self._requests: dict[str, _ServerRequest] = {}
        self._handlers: dict[str, Callable[[str, dict[str, Any], str, dict[str, Any]], None]] = {
            "turn/started": self._on_turn_started,
            "turn/completed": self._on_turn_completed,
            "item/started": self._on_item,
            "item/completed": self._on_item,
            "turn/plan/updated": self._on_plan,
            "thread/tokenUsage/updated": self._on_usage,
        }

    # -- wiring ------------------------------------------------------------------------------

    def bind(self, link: RuntimeLink, sink: SignalSink) -> None:
        """Attach the transport and the core's signal sink."""
        self._link = link
        self._sink = sink

    @property
    def link(self) -> RuntimeLink:
        """The bound transport."""
        if self._link is None:
            raise HarnessError("CodexAppServerAdapter: call bind(link, sink) before any intent")
        return self._link

    def _emit(self, signal: Signal) -> None:
        if self._sink is None:
            raise HarnessError("CodexAppServerAdapter: call bind(link, sink) before handling frames")
        self._sink(signal)

    # -- intents -----------------------------------------------------------------------------

    def start_turn(self, thread: ThreadContext, text: str) -> None:
        """Initialize the session and load the provider thread if needed, then ``turn/start``."""
        thread_id = thread.thread_id
        turn = _Turn()
        self._turns[thread_id] = turn
        if not self._ensure_session(thread_id, turn):
            return
        native = self._ensure_loaded(thread, turn)
        if native is None:
            return
        params: dict[str, Any] = {"input": _text_input(text), "threadId": native}
        params.update(_turn_settings(thread.settings))
        self._request("turn/start", params, thread_id, turn=turn)

    def steer(self, thread: ThreadContext, text: str) -> None:
        """``turn/steer`` the active turn; nothing is sent if no active turn is known (or it just ended)."""
        turn_id = self._active_turn_id(thread, "turn/steer")
        native = self._native(thread)
        if turn_id is None or native is None:
            return
        self._request(
            "turn/steer",
            {"threadId": native, "input": _text_input(text), "expectedTurnId": turn_id},
            thread.thread_id,
        )

    def interrupt(self, thread: ThreadContext) -> None:
        """``turn/interrupt`` the active turn; nothing is sent if no active turn is known (or it just ended)."""
        turn = self._turns.get(thread.thread_id)
        if turn is not None:
            turn.interrupt_requested = True
        turn_id = self._active_turn_id(thread, "turn/interrupt")
        native = self._native(thread)
        if turn_id is None or native is None:
            return
        self._request("turn/interrupt", {"threadId": native, "turnId": turn_id}, thread.thread_id)

    def respond(self, thread: ThreadContext, native_request_id: str, response: RequestResponse) -> None:
        """Answer the server request ``native_request_id`` with its original id."""
        request = self._requests.get(native_request_id)
        raw_id: Any = request.raw_id if request is not None else _raw_request_id(native_request_id)
        if response.answers is not None and response.decision is None:
            if request is not None and request.kind != "user_input":
                raise UsageError(f"request {native_request_id} is a {request.kind}; answer it with a decision")
            answers = {question: {"answers": list(chosen)} for question, chosen in response.answers.items()}
            result: dict[str, Any] = {"answers": answers}
        elif response.decision is not None and response.answers is None:
            if request is not None and request.kind == "user_input":
                raise UsageError(f"request {native_request_id} asks for user input; answer it with answers")
            result = {"decision": _DECISIONS[response.decision]}
        else:
            raise UsageError(f"request {native_request_id}: a response needs exactly one of decision and answers")
        self.link.send({"id": raw_id, "result": result})

    def fork(self, source: ThreadContext, target: ThreadContext) -> None:
        """Initialize ``target``'s session, then ``thread/fork`` the source's provider thread."""
        source_native = self._native(source)
        if source_native is None:
            raise UsageError(f"cannot fork thread {source.thread_id}: it has no provider thread yet")
        if not self._ensure_session(target.thread_id, None):
            return
        self._call("thread/fork", {"threadId": source_native}, target.thread_id, native_thread_id=source_native)

    def rollback(self, thread: ThreadContext, turns: int) -> None:
        """``thread/rollback`` the last ``turns`` turns (nothing to do without a provider thread)."""
        if turns < 1 or self._native(thread) is None:
            return
        if not self._ensure_session(thread.thread_id, None):
            return
        native = self._ensure_loaded(thread, None)
        if native is None:
            return
        self._call("thread/rollback", {"threadId": native, "numTurns": turns}, thread.thread_id)

    # -- the process -------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        params: dict[str, Any],
        thread_id: str,
        *,
        turn: _Turn | None = None,
        native_thread_id: str | None = None,
    ) -> int:
        request_id = self._next_id
        self._next_id += 1
        self._pending[request_id] = _Pending(method, thread_id, turn, native_thread_id)
        self.link.send({"id": request_id, "method": method, "params": params})
        return request_id

    def _call(
        self, method: str, params: dict[str, Any], thread_id: str, *, native_thread_id: str | None = None
    ) -> dict[str, Any] | None:
        """Send a request and handle inbound frames until its response; None if the process exited."""
        process = self._process
        request_id = self._request(method, params, thread_id, native_thread_id=native_thread_id)
        while True:
            if request_id in self._replies:
                return self._replies.pop(request_id)
            if self._process != process:
                return None
            self._read_one(
                f"codex app-server: no response to request {request_id} ({method}) arrived before "
                "the transcript expects the app to send again"
            )

    def _ensure_session(self, thread_id: str, turn: _Turn | None) -> bool:
        if thread_id in self._sessions:
            return True
        params = {"capabilities": {"experimentalApi": True}, "clientInfo": dict(self.client_info)}
        reply = self._call("initialize", params, thread_id)
        if reply is None:
            return False
        if "error" in reply:
            self._fail_turn(thread_id, turn, f"initialize failed: {_error_message(reply)}")
            return False
        self.link.send({"method": "initialized"})
        self._sessions[thread_id] = None
        return True

    def _ensure_loaded(self, thread: ThreadContext, turn: _Turn | None) -> str | None:
        """The provider thread of ``thread``, started or resumed in this process if needed."""
        thread_id = thread.thread_id
        loaded = self._loaded.get(thread_id)
        if loaded is not None:
            return loaded
        native = self._native(thread)
        if native is None:
            method, reply = "thread/start", self._call("thread/start", {}, thread_id)
        else:
            method = "thread/resume"
            # Frames about the thread may arrive before the response: attribute them already.
            self._native_of[thread_id] = native
            self._app_of[native] = thread_id
            reply = self._call("thread/resume", {"threadId": native}, thread_id, native_thread_id=native)
        if reply is None:
            return None
        loaded = self._loaded.get(thread_id)
        if "error" in reply or loaded is None:
            problem = _error_message(reply) if "error" in reply else "the result names no thread"
            self._fail_turn(thread_id, turn, f"{method} failed: {problem}")
            return None
        return loaded

    def _native(self, thread: ThreadContext) -> str | None:
        return self._loaded.get(thread.thread_id) or thread.native_thread_id or self._native_of.get(thread.thread_id)

    def _active_turn_id(self, thread: ThreadContext, method: str) -> str | None:
        """The native id of the thread's active turn, reading on until it is known if need be."""
        turn = self._turns.get(thread.thread_id)
        if turn is None:
            return thread.native_turn_id
        process = self._process
        while turn.native_turn_id is None:
            if self._turns.get(thread.thread_id) is not turn or self._process != process:
                return None
            self._read_one(
                f"codex app-server: {method} for thread {thread.thread_id} needs the native turn id, but "
                "neither the turn/start response nor turn/started arrived before the app had to send"
            )
        return turn.native_turn_id

    def _read_one(self, missing: str) -> None:
        """Read and handle the next inbound frame or exit while waiting; ``missing`` says for what."""
        item = self.link.receive()
        if item is None:
            raise ReplayError(missing)
        if isinstance(item, RuntimeExit):
            self.exited(item)
        else:
            self.handle(item)

    def _fail_turn(self, thread_id: str, turn: _Turn | None, error: str) -> None:
        if turn is not None and self._turns.get(thread_id) is turn:
            del self._turns[thread_id]
            self._emit(TurnEnded(thread_id, "failed", error=error, native_turn_id=turn.native_turn_id))

    def _bind_thread(self, thread_id: str, native: str) -> None:
        self._native_of[thread_id] = native
        self._app_of[native] = thread_id
        self._loaded[thread_id] = native

    def exited(self, exit_: RuntimeExit) -> None:
        """End every turn in flight, report the exit and forget the process."""
        for thread_id in sorted(self._turns):
            turn = self._turns[thread_id]
            status: TurnStatus = "interrupted" if turn.interrupt_requested else "failed"
            self._emit(TurnEnded(thread_id, status, error=_EXIT_ERROR, native_turn_id=turn.native_turn_id))
        self._emit(SessionExited(tuple(sorted(self._sessions)), exit_.status, error=_exit_error(exit_.error)))
        self._process += 1
        self._next_id = 1
        self._sessions.clear()
        self._loaded.clear()
        self._pending.clear()
        self._replies.clear()
        self._turns.clear()
        self._requests.clear()

    # -- inbound -----------------------------------------------------------------------------

    def handle(self, inbound: Inbound) -> None:
        """Interpret one inbound frame: a response, a server request or a notification."""
        frame = inbound.frame
        if not isinstance(frame, dict):
            self._broken(None, "codex.frame.shape", f"inbound frame is not a JSON object: {_short(frame)}")
            return
        method = frame.get("method")
        if "id" in frame and method is None:
            if "result" in frame or "error" in frame:
                self._on_response(frame)
            else:
                self._broken(None, "codex.frame.shape", f"response {frame['id']!r} has neither result nor error")
            return
        if not isinstance(method, str):
            self._broken(None, "codex.frame.shape", f"inbound frame has no method and no id: {_short(frame)}")
            return
        params = frame.get("params", {})
        if not isinstance(params, dict):
            self._broken(None, "codex.frame.shape", f"{method}: params is not a JSON object")
            return
        if "id" in frame:
            self._on_server_request(frame, method, params)
        else:
            self._on_notification(frame, method, params)

    def _broken(self, thread_id: str | None, rule: str, message: str) -> None:
        self._emit(RuleBroken(thread_id, rule, message))

    def _on_response(self, frame: dict[str, Any]) -> None:
        request_id = frame["id"]
        pending = None
        if isinstance(request_id, int) and not isinstance(request_id, bool):
            pending = self._pending.pop(request_id, None)
        if pending is None:
            self._broken(None, "codex.response.unmatched", f"response to id {request_id!r}, which no request awaits")
            return
        if pending.method in _WAITING:
            self._replies[request_id] = frame
        thread_id = pending.thread_id
        if "error" in frame:
            message = _error_message(frame)
            if pending.method == "turn/start":
                turn = pending.turn
                if turn is not None and self._turns.get(thread_id) is turn:
                    del self._turns[thread_id]
                    self._emit(TurnEnded(thread_id, "failed", error=message, native_turn_id=turn.native_turn_id))
                return
            self._broken(thread_id, "codex.response.error", f"{pending.method} (id {request_id}) failed: {message}")
            return
        result = _obj(frame.get("result"))
        problem = response_shape_problem(pending.method, frame)
        if problem is not None:
            self._broken(thread_id, "codex.response.shape", f"{pending.method} (id {request_id}) {problem}")
            return
        if pending.method in ("thread/start", "thread/resume", "thread/fork"):
            native = _str(_obj(result.get("thread")).get("id"))
            assert native is not None  # response_shape_problem
            self._bind_thread(thread_id, native)
            if pending.method == "thread/fork":
                self._emit(ProviderThreadBound(thread_id, native, forked_from_native=pending.native_thread_id))
            elif pending.method == "thread/start" or native != pending.native_thread_id:
                # thread/resume reports only a provider thread other than the one it asked for.
                self._emit(ProviderThreadBound(thread_id, native))
        elif pending.method == "turn/start":
            turn = pending.turn
            native_turn = _str(_obj(result.get("turn")).get("id"))
            assert native_turn is not None  # response_shape_problem
            if turn is not None and self._turns.get(thread_id) is turn:
                self._report_turn_started(thread_id, turn, native_turn)

    def _report_turn_started(self, thread_id: str, turn: _Turn, native_turn: str) -> None:
        if turn.native_turn_id is None:
            turn.native_turn_id = native_turn
        if not turn.reported:
            turn.reported = True
            self._emit(TurnStarted(thread_id, turn.native_turn_id))

    def _on_server_request(self, frame: dict[str, Any], method: str, params: dict[str, Any]) -> None:
        native_thread = _str(params.get("threadId"))
        thread_id = self._app_of.get(native_thread) if native_thread is not None else None
        kind = REQUEST_KINDS.get(method)
        if kind is None:
            self._broken(thread_id, "codex.request.unsupported", f"server request {method} cannot be answered")
            return
        if thread_id is None:
            self._broken(
                None, "codex.request.unknown_thread", f"{method} names provider thread {native_thread!r}, bound to none"
            )
            return
        native_request_id = str(frame["id"])
        self._requests[native_request_id] = _ServerRequest(frame["id"], thread_id, kind)
        payload: dict[str, Any]
        if kind == "user_input":
            payload = {"questions": [_question(q) for q in _list(params.get("questions"))]}
        else:
            payload = _present({"reason": params.get("reason"), "command": params.get("command")})
        self._emit(RequestOpened(thread_id, native_request_id, kind, _str(params.get("itemId")), payload))

    def _on_notification(self, frame: dict[str, Any], method: str, params: dict[str, Any]) -> None:
        native_thread = _str(params.get("threadId"))
        thread_id = self._app_of.get(native_thread) if native_thread is not None else None
        if method in DELTAS:
            # The bulk of a stream, first: no shape rule reads a delta's params but _on_delta.
            if thread_id is None:
                reason = f"{method} for provider thread {native_thread!r}, bound to no app thread"
                self._emit(FrameIgnored(None, frame, reason, known=False))
            else:
                self._on_delta(thread_id, frame, method, params)
            return
        if method in KNOWN_NOISE:
            self._emit(FrameIgnored(thread_id, frame, f"{method}: no meaning for the core", known=True))
            return
        if method == "thread/started":
            native = _str(_obj(params.get("thread")).get("id"))
            bound = self._app_of.get(native) if native is not None else None
            reason = "thread/started: already bound" if bound is not None else "thread/started: not bound (yet)"
            self._emit(FrameIgnored(bound, frame, reason, known=True))
            return
        if method == "serverRequest/resolved":
            if params.get("requestId") is None:
                self._broken(thread_id, "codex.frame.shape", f"{method} names no requestId")
                return
            native_request_id = str(params["requestId"])
            request = self._requests.pop(native_request_id, None)
            owner = thread_id if thread_id is not None else (request.thread_id if request is not None else None)
            if owner is None:
                self._emit(FrameIgnored(None, frame, f"{method}: request of an unknown thread", known=False))
                return
            self._emit(RequestResolved(owner, native_request_id))
            return
        if method == "error":
            error = _obj(params.get("error"))
            retry = " (will retry)" if params.get("willRetry") else ""
            message = _str(error.get("message")) or "no message"
            self._emit(FrameIgnored(thread_id, frame, f"error notification: {message}{retry}", known=True))
            return
        if method == "turn/diff/updated":
            self._emit(FrameIgnored(thread_id, frame, f"{method}: file_change items carry the changes", known=True))
            return
        problem = notification_shape_problem(method, params)
        if problem is not None:
            self._broken(thread_id, "codex.frame.shape", problem)
            return
        handler = self._handlers.get(method)
        if handler is None:
            self._emit(FrameIgnored(thread_id, frame, f"unknown notification {method}", known=False))
            return
        if thread_id is None:
            reason = f"{method} for provider thread {native_thread!r}, bound to no app thread"
            self._emit(FrameIgnored(None, frame, reason, known=False))
            return
        handler(thread_id, frame, method, params)

    def _on_turn_started(self, thread_id: str, frame: dict[str, Any], method: str, params: dict[str, Any]) -> None:
        native_turn = _str(_obj(params.get("turn")).get("id"))
        if native_turn is None:
            self._broken(thread_id, "codex.frame.shape", f"{method} names no turn")
            return
        turn = self._turns.get(thread_id)
        if turn is None or (turn.native_turn_id is not None and turn.native_turn_id != native_turn):
            turn = self._turns[thread_id] = _Turn()
        if turn.reported:
            self._emit(FrameIgnored(thread_id, frame, f"{method}: turn already started", known=True))
            return
        self._report_turn_started(thread_id, turn, native_turn)

    def _on_turn_completed(self, thread_id: str, frame: dict[str, Any], method: str, params: dict[str, Any]) -> None:
        native_turn = _obj(params.get("turn"))
        raw_status = native_turn.get("status")
        status = _TURN_STATUSES.get(raw_status) if isinstance(raw_status, str) else None
        error = _str(_obj(native_turn.get("error")).get("message"))
        if status is None:
            self._broken(thread_id, "codex.turn.status", f"{method} with status {raw_status!r}")
            status = "failed"
            error = error or f"turn ended with status {raw_status!r}"
        native_turn_id = _str(native_turn.get("id"))
        turn = self._turns.get(thread_id)
        if turn is not None and turn.native_turn_id in (None, native_turn_id):
            del self._turns[thread_id]
        self._emit(TurnEnded(thread_id, status, error=error, native_turn_id=native_turn_id))

    def _on_item(self, thread_id: str, frame: dict[str, Any], method: str, params: dict[str, Any]) -> None:
        item = _obj(params.get("item"))
        native_item = _str(item.get("id"))
        native_type = _str(item.get("type"))
        if native_item is None or native_type is None:
            self._broken(thread_id, "codex.frame.shape", f"{method}: the item has no id or type")
            return
        status: ItemStatus = "running"
        if method == "item/completed":
            raw = item.get("status")
            status = _ITEM_STATUSES.get(raw, "completed") if isinstance(raw, str) else "completed"
        item_type, data = _item_data(native_type, item)
        self._emit(ItemUpdated(thread_id, native_item, item_type, status, data))

    def _on_delta(self, thread_id: str, frame: dict[str, Any], method: str, params: dict[str, Any]) -> None:
        item_type, field = DELTAS[method]
        native_item = _str(params.get("itemId"))
        delta = params.get("delta")
        if native_item is None or not isinstance(delta, str):
            self._broken(thread_id, "codex.frame.shape", f"{method} needs itemId and a string delta")
            return
        self._emit(ItemDelta(thread_id, native_item, item_type, field, delta))

    def _on_plan(self, thread_id: str, frame: dict[str, Any], method: str, params: dict[str, Any]) -> None:
        steps = []
        for entry in _list(params.get("plan")):
            step = _obj(entry)
            raw = step.get("status")
            status = _STEP_STATUSES.get(raw, raw) if isinstance(raw, str) else raw
            steps.append({"step": step.get("step"), "status": status})
        explanation = _str(params.get("explanation"))
        self._emit(PlanUpdated(thread_id, "todo_list", steps=steps, explanation=explanation))

    def _on_usage(self, thread_id: str, frame: dict[str, Any], method: str, params: dict[str, Any]) -> None:
        usage = _obj(params.get("tokenUsage"))
        chosen = usage.get("last") or usage.get("total")
        self._emit(TurnUsage(thread_id, dict(chosen) if isinstance(chosen, dict) else {}))


# -- frame building -------------------------------------------------------------------------


def _text_input(text: str) -> list[dict[str, Any]]:
    return [{"text": text, "type": "text"}]


def _turn_settings(settings: RuntimeSettings) -> dict[str, Any]:
    """The ``turn/start`` fields a thread's settings set; unset ones are left out."""
    out: dict[str, Any] = {}
    if settings.approval_policy is not None:
        policy = settings.approval_policy
        out["approvalPolicy"] = policy if isinstance(policy, str) else {k: dict(v) for k, v in policy.items()}
    if settings.sandbox is not None:
        out["sandboxPolicy"] = sandbox_policy(settings.sandbox)
    if settings.model is not None:
        out["model"] = settings.model
    if settings.collaboration_mode is not None:
        out["collaborationMode"] = collaboration_mode(settings.collaboration_mode)
    return out


def sandbox_policy(sandbox: SandboxSettings) -> dict[str, Any]:
    """Codex ``sandboxPolicy`` for ``sandbox``."""
    if sandbox.mode == "read-only":
        return {"type": "readOnly", "networkAccess": sandbox.network_access}
    if sandbox.mode == "workspace-write":
        return {
            "type": "workspaceWrite",
            "writableRoots": list(sandbox.writable_roots),
            "networkAccess": sandbox.network_access,
        }
    return {"type": "dangerFullAccess"}


def collaboration_mode(mode: CollaborationMode) -> dict[str, Any]:
    """Codex ``collaborationMode`` for ``mode``; unset settings are left out."""
    settings = _present(
        {
            "developer_instructions": mode.developer_instructions,
            "model": mode.model,
            "reasoning_effort": mode.reasoning_effort,
        }
    )
    return {"mode": mode.mode, "settings": settings}


def _raw_request_id(native_request_id: str) -> Any:
    """A server request id as the server sent it: the recordings use integers."""
    digits = native_request_id[1:] if native_request_id.startswith("-") else native_request_id
    return int(native_request_id) if digits.isascii() and digits.isdigit() else native_request_id


# -- frame reading --------------------------------------------------------------------------

#: Successful responses that must name what they started or loaded (``result.<key>.id``): method -> key.
_RESPONSE_NAMES: Mapping[str, str] = {
    "thread/start": "thread",
    "thread/resume": "thread",
    "thread/fork": "thread",
    "turn/start": "turn",
}


#: Item fields :func:`_item_data` reads, by native item type: field -> allowed JSON types.
_ITEM_FIELDS: Mapping[str, Mapping[str, tuple[JsonKind, ...]]] = {
    "userMessage": {"content": ("array", "null")},
    "agentMessage": {"text": ("string", "null"), "phase": ("string", "null")},
    "reasoning": {"summary": ("array", "null"), "content": ("array", "null")},
    "plan": {"text": ("string", "null")},
    "commandExecution": {
        "command": ("string", "array", "null"),
        "cwd": ("string", "null"),
        "aggregatedOutput": ("string", "null"),
        "exitCode": ("integer", "null"),
        "status": ("string", "null"),
    },
    "fileChange": {"changes": ("array", "null"), "status": ("string", "null")},
    "webSearch": {"query": ("string", "null")},
}


def _check_item(item: Any) -> None:
    if not isinstance(item, dict):
        return  # "the item has no id or type"
    item_type = item.get("type")
    fields = _ITEM_FIELDS.get(item_type, {}) if isinstance(item_type, str) else {}
    for key, kinds in fields.items():
        wire_field(item, key, "$.frame.params.item", *kinds)
    for key in ("content", "summary"):
        parts = item.get(key) if key in fields else None
        for position, part in enumerate(parts if isinstance(parts, list) else []):
            path = json_path("$.frame.params.item", key, position)
            if not isinstance(part, str):
                wire_field(expect(part, path, "object", "string"), "text", path, "string", "null")


def notification_shape_problem(method: str, params: dict[str, Any]) -> str | None:
    """What is wrong with a notification's ``params`` (``codex.frame.shape``), or None: a value the
    adapter reads (an item's ``text``, a plan step, token usage) of another JSON type than Codex sends.
    """
    try:
        if method in ("item/started", "item/completed"):
            _check_item(params.get("item"))
        elif method == "turn/plan/updated":
            for position, entry in enumerate(wire_field(params, "plan", "$.frame.params", "array", "null") or []):
                path = json_path("$.frame.params.plan", position)
                wire_field(expect(entry, path, "object"), "step", path, "string", "null")
                wire_field(entry, "status", path, "string", "null")
            wire_field(params, "explanation", "$.frame.params", "string", "null")
        elif method == "thread/tokenUsage/updated":
            usage = wire_field(params, "tokenUsage", "$.frame.params", "object", "null") or {}
            for key in ("last", "total"):
                wire_field(usage, key, "$.frame.params.tokenUsage", "object", "null")
    except FrameShapeError as exc:
        return f"{method}: {exc}"
    return None


def lint_frames(entries: Sequence[Entry]) -> list[tuple[int, str, str]]:
    """The shape problems the adapter reports, found without a replay: ``(entry index, rule, message)``.

    A response is paired with the recorded request of the same app-server process that has its
    id (a ``runtime_exit`` ends the process); notifications are checked on their own.
    """
    found: list[tuple[int, str, str]] = []
    requests: dict[int, str] = {}
    for index, entry in enumerate(entries):
        if isinstance(entry, RuntimeExit):
            requests.clear()
            continue
        frame = entry.frame
        if not isinstance(frame, dict):
            if isinstance(entry, EmitInbound):
                found.append((index, "codex.frame.shape", f"inbound frame is not a JSON object: {_short(frame)}"))
            continue
        request_id, method = frame.get("id"), frame.get("method")
        if isinstance(entry, ExpectOutbound):
            if isinstance(request_id, int) and not isinstance(request_id, bool) and isinstance(method, str):
                requests[request_id] = method
            continue
        params = frame.get("params", {})
        if (
            method is None
            and isinstance(request_id, int)
            and not isinstance(request_id, bool)
            and request_id in requests
        ):
            asked = requests.pop(request_id)
            problem = response_shape_problem(asked, frame)
            if problem is not None:
                found.append((index, "codex.response.shape", f"{asked} (id {request_id}) {problem}"))
        elif isinstance(method, str) and "id" not in frame and isinstance(params, dict):
            problem = notification_shape_problem(method, params)
            if problem is not None:
                found.append((index, "codex.frame.shape", problem))
    return found


def response_shape_problem(method: str, frame: dict[str, Any]) -> str | None:
    """What is wrong with a successful response to ``method`` (``codex.response.shape``), or None.

    ``thread/start``, ``thread/resume`` and ``thread/fork`` name their thread in
    ``result.thread.id``, ``turn/start`` its turn in ``result.turn.id``: a string, else the response
    is reported and not applied. The message names the JSON path and what was found there.
    """
    if "error" in frame or method not in _RESPONSE_NAMES:
        return None
    key = _RESPONSE_NAMES[method]
    try:
        result = wire_field(frame, "result", "$.frame", "object", required=True)
        named = wire_field(result, key, "$.frame.result", "object", required=True)
        wire_field(named, "id", f"$.frame.result.{key}", "string", required=True)
    except FrameShapeError as exc:
        return f"names no {key}: {exc}"
    return None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, sort_keys=True, default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_message(frame: dict[str, Any]) -> str:
    error = frame.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return _short(error)


def _exit_error(error: Any) -> str | None:
    if error is None or isinstance(error, str):
        return error
    return _short(error, 400)


def _texts(parts: Any) -> list[str]:
    """The text of each part: plain strings, or objects with a ``text``."""
    texts = []
    for part in _list(parts):
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
    return texts


def _question(raw: Any) -> dict[str, Any]:
    question = _obj(raw)
    options = [
        _present({"label": _obj(o).get("label"), "description": _obj(o).get("description")})
        for o in _list(question.get("options"))
    ]
    return _present(
        {
            "id": question.get("id"),
            "header": question.get("header"),
            "question": question.get("question"),
            "options": options,
            "allow_other": question.get("isOther"),
            "secret": question.get("isSecret"),
        }
    )


def _item_data(native_type: str, item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The turn item type and provider-neutral ``data`` of a native item."""
    item_type = ITEM_TYPES.get(native_type)
    if item_type is None:
        return "system", {"native_type": native_type}
    data: dict[str, Any]
    if native_type == "userMessage":
        data = {"text": "\n".join(_texts(item.get("content")))}
    elif native_type == "agentMessage":
        data = {"text": item.get("text"), "phase": item.get("phase")}
    elif native_type == "reasoning":
        data = {"text": "\n".join(_texts(item.get("summary")) + _texts(item.get("content")))}
    elif native_type == "plan":
        data = {"text": item.get("text")}
    elif native_type == "commandExecution":
        data = {
            "command": item.get("command"),
            "cwd": item.get("cwd"),
            "output": item.get("aggregatedOutput"),
            "exit_code": item.get("exitCode"),
        }
    elif native_type == "fileChange":
        data = {"changes": [_change(c) for c in _list(item.get("changes"))]}
    elif native_type == "webSearch":
        data = {"query": item.get("query"), "action": item.get("action")}
    elif native_type == "mcpToolCall":
        error = item.get("error")
        data = {
            "server": item.get("server"),
            "tool": item.get("tool"),
            "input": item.get("arguments"),
            "output": item.get("result") if error is None else error,
        }
    elif native_type == "dynamicToolCall":
        data = {"tool": item.get("tool"), "input": item.get("arguments"), "output": item.get("contentItems")}
    else:  # collabAgentToolCall
        data = {"tool": item.get("tool"), "prompt": item.get("prompt"), "model": item.get("model")}
    return item_type, _present(data)


def _change(raw: Any) -> dict[str, Any]:
    change = _obj(raw)
    kind = change.get("kind")
    return _present(
        {
            "path": change.get("path"),
            "kind": _obj(kind).get("type") if isinstance(kind, dict) else kind,
            "diff": change.get("diff"),
        }
    )


__all__ = ["DEFAULT_CLIENT_INFO", "KNOWN_NOISE", "PROTOCOL", "RULES", "CodexAppServerAdapter"]
