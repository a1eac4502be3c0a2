"""The orchestrator: commands in, domain events out, with the agent loop for HTTP providers.

``dispatch(command)`` validates a command, runs it to completion and returns the events it
stored. For ``message.dispatch`` that means the whole agent loop::

    build request from the thread's conversation -> send it through the transport
    -> read the response frame by frame through the protocol adapter -> store events
    -> if the model called tools: tool_call.requested, run the tool, tool_call.completed,
       add the results to the conversation and go round again
    -> otherwise end the run with exactly one terminal event

Nothing here does I/O of its own: the transport, the tools, the clock and the id allocator are
injected, so the same inputs always give the same event log.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from harness.adapters.base import (
    AssistantMessage,
    AssistantTurn,
    ConversationTurn,
    ItemCompleted,
    ItemDelta,
    ItemStarted,
    ProtocolViolation,
    ProviderAdapter,
    ProviderEvent,
    RequestTemplate,
    ResponseCompleted,
    ResponseFailed,
    ResponseReader,
    ResponseStarted,
    ToolResult,
    ToolResultsTurn,
    UnrecognizedFrame,
    UserTurn,
)
from harness.core.commands import COMMAND_ADAPTER, MessageDispatch, ThreadCreate
from harness.core.events import NewEvent, StoredEvent
from harness.core.ids import IdAllocator
from harness.core.projections import Projection
from harness.core.store import EventStore, InMemoryEventStore, batch, spills
from harness.core.tools import Outcome, ToolRunner
from harness.errors import HarnessError, RecordingEnded, TranscriptExhausted, UsageError
from harness.replay.clock import Clock, LogicalClock
from harness.replay.driver import Inbound
from harness.transcript.io import format_validation_error


def _item_id(response_id: str, index: int, choice: int = 0) -> str:
    """``<response>/item-<index>``; other choices of a multi-choice response nest one level deeper."""
    if choice:
        return f"{response_id}/choice-{choice}/item-{index}"
    return f"{response_id}/item-{index}"


class Transport(Protocol):
    """Where requests go and responses come from: the replay driver, in tests."""

    def send(self, frame: Any) -> None: ...

    def receive(self) -> Inbound | None: ...


@dataclass(slots=True)
class CommandResult:
    """What a command did: its id and the events it stored.

    With a store that ``spills`` its log to disk (:class:`~harness.core.store.FileEventStore`)
    ``events`` stays empty, so a long run holds no events in memory; read them from the store.
    """

    command_id: str
    events: list[StoredEvent] = field(default_factory=list)
    run_id: str | None = None
    thread_id: str | None = None
    #: True when the command id had a receipt already: nothing ran, ``events`` are the first run's.
    replayed: bool = False


class Orchestrator:
    """An event-sourced orchestrator for one provider protocol."""

    def __init__(
        self,
        *,
        adapter: ProviderAdapter,
        transport: Transport,
        tools: ToolRunner,
        request_template: RequestTemplate | None = None,
        store: EventStore | None = None,
        clock: Clock | None = None,
        ids: IdAllocator | None = None,
        max_requests_per_run: int = 25,
    ) -> None:
        self.adapter = adapter
        self.transport = transport
        self.tools = tools
        self.template = request_template or RequestTemplate()
        self.store: EventStore = store or InMemoryEventStore()
        self.clock: Clock = clock or LogicalClock()
        self.ids = ids or IdAllocator()
        self.max_requests_per_run = max_requests_per_run
        #: A store that ``spills`` (:class:`~harness.core.store.FileEventStore`) keeps the log out of
        #: memory; the orchestrator then does not hold each command's events either.
        self._keep_results = not spills(self.store)
        self.projection = Projection()
        self.conversations: dict[str, list[ConversationTurn]] = {}
        self.receipts: dict[str, CommandResult] = {}
        #: Every provider response in order: (response_id, final or partial message, status).
        self.responses: list[tuple[str, AssistantMessage, str]] = []
        self._command_id: str | None = None
        self._resume_after: int | None = None  # background-mode resumption (see _resume_stream)
        self._recover: frozenset[str] = frozenset()  # MessageDispatch.recover of the current run

    # -- event plumbing --------------------------------------------------------------------

    def _emit(
        self,
        type_: str,
        data: dict[str, Any],
        *,
        thread_id: str | None,
        run_id: str | None = None,
        at_ms: int | None = None,
    ) -> StoredEvent:
        new = NewEvent(
            type=type_,
            data=data,
            thread_id=thread_id,
            run_id=run_id,
            at_ms=self.clock.now_ms() if at_ms is None else at_ms,
            command_id=self._command_id,
        )
        (stored,) = self.store.append([new])
        self.projection.apply(stored)
        if self._keep_results:
            self._current.append(stored)
        return stored

    # -- commands --------------------------------------------------------------------------

    def dispatch(self, command: ThreadCreate | MessageDispatch | dict[str, Any]) -> CommandResult:
        """Run one command to completion; a repeated ``command_id`` returns the first result."""
        if isinstance(command, dict):
            try:
                command = COMMAND_ADAPTER.validate_python(command)
            except ValidationError as exc:
                raise UsageError(f"invalid command: {format_validation_error(exc)}") from None
        command_id = command.command_id or self.ids.new("command")
        if command_id in self.receipts:
            return self.receipts[command_id]
        self._command_id = command_id
        self._current: list[StoredEvent] = []
        result = CommandResult(command_id=command_id)
        try:
            with batch(self.store):
                if isinstance(command, ThreadCreate):
                    result.thread_id = self._thread_create(command)
                else:
                    result.thread_id, result.run_id = self._message_dispatch(command)
        finally:
            result.events = self._current
            self._command_id = None
        self.receipts[command_id] = result
        return result

    def _thread_create(self, command: ThreadCreate) -> str:
        if command.runtime is not None:
            raise UsageError(
                f"thread.create: runtime settings are for agent-runtime protocols; {self.adapter.protocol} "
                "takes its request parameters from the scenario's request"
            )
        thread_id = command.thread_id or self.ids.new("thread")
        if "/" in thread_id:
            raise UsageError(f"thread.create: thread id {thread_id!r} may not contain '/' (ids nest with it)")
        if thread_id in self.projection.threads:
            raise UsageError(f"thread.create: thread {thread_id!r} already exists")
        self._emit(
            "thread.created",
            {"thread_id": thread_id, "title": command.title, "protocol": self.adapter.protocol},
            thread_id=thread_id,
        )
        self.conversations[thread_id] = []
        return thread_id

    def _message_dispatch(self, command: MessageDispatch) -> tuple[str, str]:
        if command.mode != "start_immediately":
            raise UsageError(
                f"message.dispatch: mode {command.mode!r} needs an agent runtime; an HTTP run finishes "
                "within its dispatch, so there is never an active run to queue behind, steer or restart"
            )
        thread_id = command.thread_id
        if thread_id is None:
            if len(self.projection.threads) != 1:
                raise UsageError("message.dispatch: thread_id is required when there is not exactly one thread")
            thread_id = next(iter(self.projection.threads))
        if thread_id not in self.projection.threads:
            raise UsageError(f"message.dispatch: no thread {thread_id!r}; dispatch thread.create first")
        ordinal = self.ids.next_ordinal(f"run:{thread_id}")
        run_id = f"{thread_id}/run-{ordinal}"
        message_id = command.message_id or f"{thread_id}/message-{ordinal}"
        if message_id in self.projection.messages:
            raise UsageError(f"message.dispatch: message id {message_id!r} is already used")
        self._recover = frozenset(command.recover)
        # -- begin: background-mode resumption (openai.responses) ------------------------------
        self._resume_after = command.resume_starting_after
        if self._resume_after is not None and not hasattr(self.adapter, "resume_response"):
            raise UsageError(
                f"message.dispatch: resume_starting_after needs an adapter that can resume a response "
                f"stream; {self.adapter.protocol} cannot"
            )
        # -- end: background-mode resumption ---------------------------------------------------
        self._emit(
            "message.added", {"message_id": message_id, "role": "user", "text": command.text}, thread_id=thread_id
        )
        self._emit(
            "run.created",
            {"run_id": run_id, "ordinal": ordinal, "message_id": message_id},
            thread_id=thread_id,
            run_id=run_id,
        )
        conversation = self.conversations[thread_id]
        conversation.append(UserTurn(text=command.text, content=command.content))
        self._emit("run.started", {}, thread_id=thread_id, run_id=run_id)
        try:
            template = self.template
            if command.params is not None:
                template = dataclasses.replace(template, params=dict(command.params))
            self._agent_loop(thread_id, run_id, conversation, template)
        except Exception as exc:
            # Fail closed: a bug below still leaves the run with exactly one terminal event.
            if self.projection.runs[run_id]["status"] in ("created", "running"):
                self._emit(
                    "run.failed",
                    {"error": {"type": "internal_error", "message": f"{type(exc).__name__}: {exc}"}},
                    thread_id=thread_id,
                    run_id=run_id,
                )
            raise
        return thread_id, run_id

    # -- the agent loop --------------------------------------------------------------------

    def _agent_loop(
        self, thread_id: str, run_id: str, conversation: list[ConversationTurn], template: RequestTemplate
    ) -> None:
        last_stop_reason: str | None = None
        for request_number in range(1, self.max_requests_per_run + 1):
            request_id = f"{run_id}/request-{request_number}"
            frame = self.adapter.build_request(template, conversation)
            self._emit(
                "request.sent",
                {"request_id": request_id, "index": request_number, "turns": len(conversation)},
                thread_id=thread_id,
                run_id=run_id,
            )
            exit_before = getattr(self.transport, "runtime_exit", None)
            try:
                self.transport.send(frame)
            except TranscriptExhausted as exc:
                if isinstance(exc, RecordingEnded) and request_number > 1:
                    # A stream-only capture ends after a complete response that asked for more
                    # (tool calls): the recording stops here; the provider did not fail.
                    ended = {"stop_reason": last_stop_reason, "recording_ended": True}
                    self._terminal(thread_id, run_id, "run.completed", ended)
                    return
                self._terminal(
                    thread_id, run_id, "run.failed", {"error": {"type": "transcript_exhausted", "message": str(exc)}}
                )
                return
            except HarnessError as exc:
                self._terminal(
                    thread_id, run_id, "run.failed", {"error": {"type": "transport_error", "message": str(exc)}}
                )
                return
            outcome = self._read_response(thread_id, run_id, f"{run_id}/response-{request_number}")
            # -- begin: background-mode resumption (openai.responses) --------------------------
            if self._resume_after is not None and request_number == 1:
                outcome = self._resume_stream(thread_id, run_id, outcome)
            # -- end: background-mode resumption -----------------------------------------------
            if isinstance(outcome, ResponseFailed) and outcome.error_type in self._recover:
                recovered = [c for c in outcome.partial.tool_calls if c.complete]
                if recovered:
                    # The app recovers this error: what the failed response produced joins the
                    # conversation and its finished tool calls run (MessageDispatch.recover).
                    self._drain()
                    conversation.append(AssistantTurn(outcome.partial))
                    ran = [self._run_tool(thread_id, run_id, outcome.partial, call) for call in recovered]
                    conversation.append(ToolResultsTurn(tuple(result for result, _ in ran)))
                    continue
            if isinstance(outcome, ResponseFailed):
                discarded = self._drain()
                error = {"type": outcome.error_type, "message": outcome.message}
                data: dict[str, Any] = {"error": error}
                if outcome.rule:
                    data["rule"] = outcome.rule
                if discarded:
                    data["frames_discarded"] = discarded
                self._terminal(thread_id, run_id, "run.failed", data)
                return
            message = outcome.message
            last_stop_reason = message.stop_reason
            conversation.append(AssistantTurn(message))
            exit_now = getattr(self.transport, "runtime_exit", None)
            exit_status = getattr(exit_now, "status", None) if exit_now is not exit_before else None
            if exit_status in ("error", "cancelled"):
                kind = "run.cancelled" if exit_status == "cancelled" else "run.failed"
                self._terminal(thread_id, run_id, kind, {"error": {"type": "runtime_exit", "message": exit_status}})
                return
            step = self.adapter.next_step(message)
            calls = [c for c in message.tool_calls if c.complete]
            if step == "run_tools" and calls:
                ran = [self._run_tool(thread_id, run_id, outcome.message, call) for call in calls]
                conversation.append(ToolResultsTurn(tuple(result for result, _ in ran)))
                ending = [result.name for result, ends in ran if ends]
                if ending:
                    # An output tool was called: the run is over, with no further request.
                    data = {"stop_reason": message.stop_reason, "ended_by_tool": ending[0]}
                    self._terminal(thread_id, run_id, "run.completed", data)
                    return
                continue
            if step == "continue":
                continue
            self._terminal(thread_id, run_id, "run.completed", {"stop_reason": message.stop_reason})
            return
        self._terminal(
            thread_id,
            run_id,
            "run.failed",
            {
                "error": {
                    "type": "loop_limit",
                    "message": f"the run reached its limit of {self.max_requests_per_run} requests",
                }
            },
        )

    def _terminal(self, thread_id: str, run_id: str, type_: str, data: dict[str, Any]) -> None:
        self._emit(type_, data, thread_id=thread_id, run_id=run_id)

    def _drain(self) -> int:
        """Consume what is left of a failed response, so nothing stays unconsumed; count it."""
        count = 0
        while self.transport.receive() is not None:
            count += 1
        return count

    def _read_response(
        self,
        thread_id: str,
        run_id: str,
        response_id: str,
        reader: ResponseReader | None = None,  # background-mode resumption: the resume reader
    ) -> ResponseCompleted | ResponseFailed:
        if reader is None:
            reader = self.adapter.new_response()
        last_index = -1
        while True:
            inbound = self.transport.receive()
            if inbound is None:
                events: list[ProviderEvent] = reader.finish(last_index + 1)
                at_ms = None
            else:
                last_index = inbound.entry_index
                events = reader.feed(inbound.frame, inbound.entry_index)
                at_ms = inbound.at_ms
            for event in events:
                terminal = self._ingest(thread_id, run_id, response_id, event, at_ms)
                if terminal is not None:
                    if isinstance(terminal, ResponseCompleted):
                        self._consume_trailer(reader)
                    return terminal
            if inbound is None:
                raise AssertionError("an adapter's finish() must produce a terminal event")

    def _consume_trailer(self, reader: ResponseReader) -> None:
        """Take the frames a completed response still owns (OpenRouter's ``data: [DONE]`` after a
        Responses stream's terminal event), so they are neither the next response nor left over."""
        absorbs = getattr(reader, "absorbs", None)
        peek = getattr(self.transport, "peek_inbound", None)
        while absorbs is not None and peek is not None and (frame := peek()) is not None and absorbs(frame):
            self.transport.receive()

    # -- begin: background-mode resumption (openai.responses) ----------------------------------
    def _resume_stream(
        self, thread_id: str, run_id: str, first: ResponseCompleted | ResponseFailed
    ) -> ResponseCompleted | ResponseFailed:
        """Re-attach to the run's first response and reconcile what its resumed stream says.

        Stores ``request.sent`` for the resume request (``request_id`` ``<run>/request-1/resume``,
        ``index`` 1, ``turns`` 0, ``starting_after`` N) and the resumed stream's events as the
        response ``<run>/response-1/resume``. Returns the outcome the loop goes on with: a failure
        of the resume; else the first response if it completed (the adapter checked the resumed
        stream against it); else the resumed response, which completes the one the first stream
        lost. A first response that never said its id cannot be resumed: it is returned as is.
        """
        starting_after, self._resume_after = self._resume_after, None
        previous = first.message if isinstance(first, ResponseCompleted) else first.partial
        if starting_after is None or previous.native_id is None:
            return first
        if isinstance(first, ResponseFailed):
            self._drain()  # what is left of the failed stream is what the client never read
        adapter: Any = self.adapter  # resume_response / build_resume_request are optional methods
        frame = adapter.build_resume_request(self.template, previous.native_id, starting_after)
        self._emit(
            "request.sent",
            {"request_id": f"{run_id}/request-1/resume", "index": 1, "turns": 0, "starting_after": starting_after},
            thread_id=thread_id,
            run_id=run_id,
        )
        try:
            self.transport.send(frame)
        except HarnessError as exc:
            error_type = "transcript_exhausted" if isinstance(exc, TranscriptExhausted) else "transport_error"
            return ResponseFailed(error_type=error_type, message=str(exc), partial=previous, frame_index=-1)
        reader = adapter.resume_response(previous, starting_after, verify=isinstance(first, ResponseCompleted))
        resumed = self._read_response(thread_id, run_id, f"{run_id}/response-1/resume", reader)
        if isinstance(resumed, ResponseFailed) or isinstance(first, ResponseFailed):
            return resumed
        return first

    # -- end: background-mode resumption -------------------------------------------------------

    def _ingest(
        self, thread_id: str, run_id: str, response_id: str, event: ProviderEvent, at_ms: int | None
    ) -> ResponseCompleted | ResponseFailed | None:
        """Translate one canonical provider event into domain events."""
        if type(event) is ItemDelta:  # most events of a stream: no closure, no isinstance chain
            delta: dict[str, Any] = {"item_id": _item_id(response_id, event.index, event.choice), "kind": event.kind}
            if event.kind in ("text", "reasoning", "arguments"):
                delta["text"] = event.text
            elif event.kind == "signature":
                delta["signature"] = event.data  # under its own name, so goldens treat it as opaque
            else:
                delta["data"] = event.data
            self._emit("item.delta", delta, thread_id=thread_id, run_id=run_id, at_ms=at_ms)
            return None

        def emit(type_: str, data: dict[str, Any]) -> None:
            self._emit(type_, data, thread_id=thread_id, run_id=run_id, at_ms=at_ms)

        if isinstance(event, ResponseStarted):
            emit("response.started", {"response_id": response_id, "native_id": event.native_id, "model": event.model})
        elif isinstance(event, ItemStarted):
            emit(
                "item.started",
                {
                    "item_id": _item_id(response_id, event.index, event.choice),
                    "response_id": response_id,
                    "index": event.index,
                    "kind": event.kind,
                    "block_type": event.block_type,
                    "native_id": event.native_id,
                    "name": event.name,
                    **({"choice": event.choice} if event.choice else {}),
                },
            )
        elif isinstance(event, ItemCompleted):
            item_id = _item_id(response_id, event.item.index, event.item.choice)
            emit("item.completed", {"item_id": item_id, "item": event.item.to_json()})
        elif isinstance(event, ProtocolViolation):
            emit(
                "protocol.violation",
                {
                    "response_id": response_id,
                    "rule": event.rule,
                    "message": event.message,
                    "entry_index": event.frame_index,
                    "fatal": event.fatal,
                },
            )
        elif isinstance(event, UnrecognizedFrame):
            emit(
                "provider.frame.unrecognized",
                {
                    "response_id": response_id,
                    "name": event.name,
                    "frame": event.frame,
                    "entry_index": event.frame_index,
                },
            )
        elif isinstance(event, ResponseCompleted):
            message = event.message
            emit(
                "response.completed",
                {
                    "response_id": response_id,
                    "stop_reason": message.stop_reason,
                    "stop_sequence": message.stop_sequence,
                    "stop_details": message.stop_details,
                    "usage": message.usage,
                    **({"alternatives": [m.to_json() for m in message.alternatives]} if message.alternatives else {}),
                },
            )
            self.responses.append((response_id, message, "completed"))
            return event
        elif isinstance(event, ResponseFailed):
            emit(
                "response.failed",
                {
                    "response_id": response_id,
                    "error": {"type": event.error_type, "message": event.message},
                    "rule": event.rule,
                },
            )
            if response_id in self.projection.messages:  # the response had started
                self.responses.append((response_id, event.partial, "failed"))
            return event
        return None

    def _run_tool(self, thread_id: str, run_id: str, message: AssistantMessage, call: Any) -> tuple[ToolResult, bool]:
        response_id = self.projection.runs[run_id]["responses"][-1]
        tool_call_id = f"{response_id}/tool-call-{call.index}"
        self._emit(
            "tool_call.requested",
            {
                "tool_call_id": tool_call_id,
                "item_id": f"{response_id}/item-{call.index}",
                "name": call.name,
                "native_id": call.native_id,
                "arguments": call.arguments,
            },
            thread_id=thread_id,
            run_id=run_id,
        )
        try:
            outcome = self.tools.run(call)
        except Exception as exc:
            # A tool that raises is a failed tool call, as in any real orchestrator; the loop goes on.
            outcome = Outcome("failed", error=f"{type(exc).__name__}: {exc}")
        self._emit(
            "tool_call.completed",
            {"tool_call_id": tool_call_id, "outcome": outcome.to_json()},
            thread_id=thread_id,
            run_id=run_id,
        )
        result = ToolResult(
            native_id=call.native_id,
            name=call.name or "",
            status=outcome.status,
            output=outcome.output,
            error=outcome.error,
            verbatim=outcome.verbatim,
        )
        return result, outcome.ends_run
