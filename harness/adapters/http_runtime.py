"""HTTP model APIs as an agent runtime: the agent loop over Anthropic Messages, OpenAI Responses
and OpenAI Chat, seen by the core exactly as the Codex app-server or the Claude Agent SDK are.

:class:`HttpRuntime` implements :class:`~harness.adapters.runtime.RuntimeAdapter` over one
:class:`~harness.adapters.base.ProviderAdapter` (which builds requests and reads responses), the
harness's :class:`~harness.core.tools.ToolRunner` and the scenario's request template:

* ``start_turn`` adds the user's message to the thread's conversation and sends the first request.
  **Each request/response is one provider turn** (:class:`TurnStarted` after the request went out,
  with the response's native id and model once it starts).
* Inbound frames go to the response reader; its canonical events become signals: items
  (``assistant_message``, ``reasoning``, ``dynamic_tool`` for tool calls, ``system`` for blocks
  with no turn-item type), their streamed ``text``/``arguments`` fragments, usage, rule breaks.
  A tool call stays ``pending`` while its arguments stream and until the loop runs it.
* Where a response ends, the loop decides (:meth:`idle`): run the model's complete tool calls with
  the tool runner (each ``running``, then ``completed`` or ``failed``: the core records
  ``tool_call.requested``/``tool_call.completed``), end the provider turn
  (:class:`ProviderTurnEnded`) and send the next request; or end the run (:class:`TurnEnded`):
  the model stopped, an output tool ran, the loop limit was reached, the response failed (after
  the rest of its frames, counted as ``frames_discarded``), the transcript has nothing more.
* A provider-run call (web search, code execution, MCP) is a ``dynamic_tool`` item too, with
  ``executor: "provider"``: ``running`` once its input is complete and ``completed`` with its
  result (the result block, or the item's own results on OpenAI Responses).

Steering, interrupts, runtime requests, forks and rollbacks have no HTTP counterpart: they are
refused with a named error. Nothing here does I/O: frames go through the link, tools through the
runner, so the same transcript always gives the same signals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.adapters.base import (
    AssistantMessage,
    AssistantTurn,
    ContentItem,
    ConversationTurn,
    ItemCompleted,
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
from harness.adapters.base import ItemDelta as ProviderItemDelta
from harness.adapters.runtime import (
    FrameIgnored,
    ItemDelta,
    ItemUpdated,
    ProviderTurnEnded,
    RequestResponse,
    RuleBroken,
    RuntimeLink,
    Signal,
    SignalSink,
    ThreadContext,
    TurnEnded,
    TurnOptions,
    TurnStarted,
    TurnUsage,
)
from harness.core.tools import Outcome, ToolRunner
from harness.errors import HarnessError, RecordingEnded, TranscriptExhausted, UsageError
from harness.replay.driver import Inbound
from harness.transcript import RuntimeExit

#: Canonical item kind -> turn item type.
ITEM_TYPES = {
    "text": "assistant_message",
    "reasoning": "reasoning",
    "redacted_reasoning": "reasoning",
    "tool_call": "dynamic_tool",
    "server_tool_call": "dynamic_tool",
    "other": "system",
}
#: Streamed fragment kinds that add to a turn item's field; the others arrive whole with the item.
DELTA_FIELDS = {"text": "text", "reasoning": "text", "arguments": "arguments"}


@dataclass(slots=True)
class _Exchange:
    """One request of the loop and what its response has said so far."""

    number: int
    reader: ResponseReader
    last_index: int = -1
    outcome: ResponseCompleted | ResponseFailed | None = None
    discarded: int = 0
    #: the first response, while a background-mode resumption of it is read
    resumed_from: ResponseCompleted | ResponseFailed | None = None


@dataclass(slots=True)
class _Run:
    """The loop state of the thread's current run."""

    thread_id: str
    options: TurnOptions
    exchange: _Exchange | None = None
    requests: int = 0
    last_stop_reason: str | None = None
    exit: RuntimeExit | None = None
    #: provider-run calls still without a result, by the provider's call id -> the item's native
    #: ref (a result may come in a later response: programmatic tool calling, ``pause_turn``)
    provider_calls: dict[str, str] = field(default_factory=dict)


_NO_ACTIVE_RUN = "an HTTP run finishes within its message.dispatch, so there is never an active run to act on"


class HttpRuntime:
    """One HTTP model API's agent loop as a runtime; see the module docstring."""

    provider: str
    #: A thread's requests take their parameters from the request template, not runtime settings.
    takes_settings = False

    def __init__(
        self,
        adapter: ProviderAdapter,
        *,
        tools: ToolRunner,
        template: RequestTemplate | None = None,
        max_requests_per_run: int = 25,
        provider: str | None = None,
    ) -> None:
        self.adapter = adapter
        self.protocol = adapter.protocol
        self.provider = provider or adapter.protocol.split(".", 1)[0]
        self.tools = tools
        self.template = template or RequestTemplate()
        self.max_requests_per_run = max_requests_per_run
        self.conversations: dict[str, list[ConversationTurn]] = {}
        #: Every provider response in order: (response id, final or partial message, status).
        self.responses: list[tuple[str, AssistantMessage, str]] = []
        self._link: RuntimeLink | None = None
        self._sink: SignalSink | None = None
        self._options: dict[str, TurnOptions] = {}
        self._run: _Run | None = None
        #: Commands an HTTP model API cannot do, and why (the core refuses them before anything).
        self.refuses: dict[str, str] = {
            "run.interrupt": f"{self.protocol} is an HTTP model API; {_NO_ACTIVE_RUN}",
            "runtime-request.respond": f"{self.protocol} is an HTTP model API; {_NO_ACTIVE_RUN}",
            "thread.fork": f"{self.protocol} is an HTTP model API; its conversations are not forked",
            "thread.merge_back": f"{self.protocol} is an HTTP model API; its conversations are not merged",
            "thread.rollback": f"{self.protocol} is an HTTP model API; its conversations are not rolled back",
        }

    # -- wiring ------------------------------------------------------------------------------

    def bind(self, link: RuntimeLink, sink: SignalSink) -> None:
        self._link = link
        self._sink = sink

    def _emit(self, signal: Signal) -> None:
        if self._sink is None:
            raise HarnessError("HttpRuntime: call bind(link, sink) before starting a turn")
        self._sink(signal)

    # -- intents -----------------------------------------------------------------------------

    def configure_turn(self, thread_id: str, options: TurnOptions) -> None:
        if options.resume_starting_after is not None and not hasattr(self.adapter, "resume_response"):
            raise UsageError(
                f"message.dispatch: resume_starting_after needs an adapter that can resume a response "
                f"stream; {self.protocol} cannot"
            )
        self._options[thread_id] = options

    def start_turn(self, thread: ThreadContext, text: str) -> None:
        options = self._options.pop(thread.thread_id, TurnOptions())
        conversation = self.conversations.setdefault(thread.thread_id, [])
        conversation.append(UserTurn(text=text, content=options.content))
        self._run = _Run(thread.thread_id, options)
        self._send()

    # The core refuses these commands before they reach here (``refuses``); the intents say the same.

    def _refused(self, command: str) -> None:
        raise UsageError(f"{command}: {self.refuses[command]}")

    def steer(self, thread: ThreadContext, text: str) -> None:
        raise UsageError(f"message.dispatch (steer_active): {self.protocol} is an HTTP model API; {_NO_ACTIVE_RUN}")

    def interrupt(self, thread: ThreadContext) -> None:
        self._refused("run.interrupt")

    def respond(self, thread: ThreadContext, native_request_id: str, response: RequestResponse) -> None:
        self._refused("runtime-request.respond")

    def fork(self, source: ThreadContext, target: ThreadContext) -> None:
        self._refused("thread.fork")

    def rollback(self, thread: ThreadContext, turns: int) -> None:
        self._refused("thread.rollback")

    # -- the loop ----------------------------------------------------------------------------

    def _template(self, run: _Run) -> RequestTemplate:
        if run.options.params is None:
            return self.template
        return RequestTemplate(
            method=self.template.method,
            path=self.template.path,
            query=dict(self.template.query),
            headers=dict(self.template.headers),
            params=dict(run.options.params),
        )

    def _send(self, frame: Any = None, *, reader: ResponseReader | None = None) -> bool:
        """Send the run's next request (``frame``, or one built from the conversation) and open its
        exchange; False when the run ended instead (the loop limit, nothing more recorded)."""
        run = self._run
        assert run is not None and self._link is not None
        if frame is None and run.requests >= self.max_requests_per_run:
            message = f"the run reached its limit of {self.max_requests_per_run} requests"
            self._end(run, "failed", error_type="loop_limit", error=message)
            return False
        if frame is None:
            frame = self.adapter.build_request(self._template(run), self.conversations[run.thread_id])
        run.requests += 1
        try:
            self._link.send(frame)
        except RecordingEnded as exc:
            if run.requests > 1:
                # A stream-only capture ends after a complete response that asked for more (tool
                # calls): the recording stops here; the provider did not fail. The request went
                # out (it is a provider turn), and the turn ends with the recording.
                self._emit(TurnStarted(run.thread_id))
                error = {"type": "recording_ended", "message": str(exc)}
                self._emit(ProviderTurnEnded(run.thread_id, "cancelled", error=error))
                detail = {"recording_ended": True}
                self._end(run, "completed", stop_reason=run.last_stop_reason, detail=detail)
                return False
            self._failed_send(run, "transcript_exhausted", str(exc))
            return False
        except TranscriptExhausted as exc:
            self._failed_send(run, "transcript_exhausted", str(exc))
            return False
        except HarnessError as exc:
            self._failed_send(run, "transport_error", str(exc))
            return False
        self._emit(TurnStarted(run.thread_id))
        run.exchange = _Exchange(run.requests, reader or self.adapter.new_response())
        return True

    def _failed_send(self, run: _Run, error_type: str, message: str) -> None:
        self._emit(TurnStarted(run.thread_id))  # the request was made; the transcript had no answer
        self._end(run, "failed", error_type=error_type, error=message)

    def _end(
        self,
        run: _Run,
        status: Any,
        *,
        error_type: str | None = None,
        error: str | None = None,
        stop_reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self._run = None
        self._emit(
            TurnEnded(
                run.thread_id,
                status,
                error=error,
                error_type=error_type,
                stop_reason=stop_reason,
                detail=detail or {},
            )
        )

    # -- inbound -----------------------------------------------------------------------------

    def wants_inbound(self) -> bool:
        """Read on while a response is open; after it ended, only the frames it still owns (a
        ``data: [DONE]`` trailer; a failed response's leftovers), so the next response is read only
        once the loop has asked for it."""
        run = self._run
        exchange = run.exchange if run is not None else None
        if exchange is None:
            return False
        if exchange.outcome is None:
            return True
        if isinstance(exchange.outcome, ResponseFailed):
            return True  # what is left of a failed response is what the client never read
        peek = getattr(self._link, "peek_inbound", None)
        frame = peek() if peek is not None else None
        absorbs = getattr(exchange.reader, "absorbs", None)
        return frame is not None and absorbs is not None and bool(absorbs(frame))

    def handle(self, inbound: Inbound) -> None:
        run = self._run
        exchange = run.exchange if run is not None else None
        if run is None or exchange is None:
            self._emit(FrameIgnored(None, inbound.frame, "a frame after the run ended", known=False))
            return
        if isinstance(exchange.outcome, ResponseFailed):
            exchange.discarded += 1
            return
        exchange.last_index = inbound.entry_index
        self._ingest(run, exchange, exchange.reader.feed(inbound.frame, inbound.entry_index))

    def exited(self, exit_: RuntimeExit) -> None:
        run = self._run
        if run is None:
            return
        run.exit = exit_
        exchange = run.exchange
        if exchange is not None and exchange.outcome is None:
            # The process ended mid-response: the stream is over, as at the end of the transcript.
            self._ingest(run, exchange, exchange.reader.finish(exchange.last_index + 1))

    def idle(self) -> bool:
        """Where the response ends: run its tools and send the next request, or end the run."""
        run = self._run
        exchange = run.exchange if run is not None else None
        if run is None or exchange is None:
            return False
        if exchange.outcome is None:
            self._ingest(run, exchange, exchange.reader.finish(exchange.last_index + 1))
            assert exchange.outcome is not None, "an adapter's finish() must produce a terminal event"
        return self._next(run, exchange)

    def _next(self, run: _Run, exchange: _Exchange) -> bool:
        outcome = exchange.outcome
        assert outcome is not None
        # -- begin: background-mode resumption (openai.responses) ------------------------------
        if exchange.resumed_from is not None:
            first = exchange.resumed_from
            if isinstance(outcome, ResponseCompleted) and isinstance(first, ResponseCompleted):
                outcome = first
        elif run.options.resume_starting_after is not None and exchange.number == 1:
            return self._resume(run, exchange, outcome)
        # -- end: background-mode resumption ---------------------------------------------------
        if isinstance(outcome, ResponseFailed):
            recovered = [c for c in outcome.partial.tool_calls if c.complete]
            if outcome.error_type in run.options.recover and recovered:
                # The app recovers this error: what the failed response produced joins the
                # conversation and its finished tool calls run (MessageDispatch.recover).
                error = {"type": outcome.error_type, "message": outcome.message}
                self._emit(ProviderTurnEnded(run.thread_id, "failed", error=error))
                conversation = self.conversations[run.thread_id]
                conversation.append(AssistantTurn(outcome.partial))
                results = [self._run_tool(run, exchange, call) for call in recovered]
                conversation.append(ToolResultsTurn(tuple(result for result, _ in results)))
                return self._send()
            detail: dict[str, Any] = {}
            if outcome.rule:
                detail["rule"] = outcome.rule
            if exchange.discarded:
                detail["frames_discarded"] = exchange.discarded
            self._end(run, "failed", error_type=outcome.error_type, error=outcome.message, detail=detail)
            return False
        message = outcome.message
        run.last_stop_reason = message.stop_reason
        self.conversations[run.thread_id].append(AssistantTurn(message))
        exit_status = run.exit.status if run.exit is not None else None
        if exit_status in ("error", "cancelled"):
            status = "cancelled" if exit_status == "cancelled" else "failed"
            self._end(run, status, error_type="runtime_exit", error=str(exit_status))
            return False
        ending: dict[str, Any] = {}
        if message.stop_sequence is not None:
            ending["stop_sequence"] = message.stop_sequence
        if message.stop_details is not None:
            ending["stop_details"] = message.stop_details
        self._emit(ProviderTurnEnded(run.thread_id, "completed", stop_reason=message.stop_reason, detail=ending))
        step = self.adapter.next_step(message)
        calls = [c for c in message.tool_calls if c.complete]
        if step == "run_tools" and calls:
            results = [self._run_tool(run, exchange, call) for call in calls]
            self.conversations[run.thread_id].append(ToolResultsTurn(tuple(result for result, _ in results)))
            output_tools = [result.name for result, ends in results if ends]
            if output_tools:
                # An output tool was called: the run is over, with no further request.
                detail = {"ended_by_tool": output_tools[0]}
                self._end(run, "completed", stop_reason=message.stop_reason, detail=detail)
                return False
            return self._send()
        if step == "continue":
            return self._send()
        self._end(run, "completed", stop_reason=message.stop_reason)
        return False

    # -- begin: background-mode resumption (openai.responses) ----------------------------------
    def _resume(self, run: _Run, exchange: _Exchange, first: ResponseCompleted | ResponseFailed) -> bool:
        """Re-attach to the run's first response (``message.dispatch`` ``resume_starting_after``):
        the resume request is a provider turn of its own, read by the adapter's resume reader,
        which checks the resumed stream against what the first one said."""
        previous = first.message if isinstance(first, ResponseCompleted) else first.partial
        starting_after = run.options.resume_starting_after
        assert starting_after is not None
        run.options = TurnOptions(run.options.content, run.options.params, run.options.recover, None)
        if previous.native_id is None:
            return self._next(run, exchange)  # a response that never said its id cannot be resumed
        if isinstance(first, ResponseCompleted):
            stop_reason = first.message.stop_reason
            self._emit(ProviderTurnEnded(run.thread_id, "completed", stop_reason=stop_reason, detail={"resumed": True}))
        else:
            error = {"type": first.error_type, "message": first.message}
            self._emit(ProviderTurnEnded(run.thread_id, "failed", error=error, detail={"resumed": True}))
        adapter: Any = self.adapter  # resume_response / build_resume_request are optional methods
        frame = adapter.build_resume_request(self._template(run), previous.native_id, starting_after)
        reader = adapter.resume_response(previous, starting_after, verify=isinstance(first, ResponseCompleted))
        if not self._send(frame, reader=reader):
            return False
        assert run.exchange is not None
        run.exchange.resumed_from = first
        return True

    # -- end: background-mode resumption -------------------------------------------------------

    # -- canonical events to signals -----------------------------------------------------------

    def _native(self, exchange: _Exchange, index: int, choice: int = 0) -> str:
        """The item's native ref: request number, choice and index (unique within the run)."""
        return f"request-{exchange.number}/choice-{choice}/item-{index}"

    def _ingest(self, run: _Run, exchange: _Exchange, events: list[ProviderEvent]) -> None:
        thread_id = run.thread_id
        for event in events:
            kind = type(event)
            if kind is ProviderItemDelta:
                assert isinstance(event, ProviderItemDelta)
                delta_field = DELTA_FIELDS.get(event.kind)
                if delta_field is not None:
                    native = self._native(exchange, event.index, event.choice)
                    item_type = ITEM_TYPES["tool_call" if event.kind == "arguments" else event.kind]
                    self._emit(ItemDelta(thread_id, native, item_type, delta_field, event.text))
            elif isinstance(event, ResponseStarted):
                self._emit(TurnStarted(thread_id, native_turn_id=event.native_id, model=event.model))
            elif isinstance(event, ItemStarted):
                self._item_started(run, exchange, event)
            elif isinstance(event, ItemCompleted):
                self._item_completed(run, exchange, event.item)
            elif isinstance(event, ProtocolViolation):
                self._emit(RuleBroken(thread_id, event.rule, event.message, event.fatal, event.frame_index))
            elif isinstance(event, UnrecognizedFrame):
                reason = f"an unrecognized {event.name} frame" if event.name else "an unrecognized frame"
                self._emit(FrameIgnored(thread_id, event.frame, reason, known=False))
            elif isinstance(event, ResponseCompleted):
                exchange.outcome = event
                self.responses.append((self._response_id(run, exchange), event.message, "completed"))
                if event.message.usage:
                    self._emit(TurnUsage(thread_id, dict(event.message.usage)))
            elif isinstance(event, ResponseFailed):
                exchange.outcome = event
                if event.partial.native_id is not None or event.partial.items:
                    self.responses.append((self._response_id(run, exchange), event.partial, "failed"))

    def _response_id(self, run: _Run, exchange: _Exchange) -> str:
        return f"{run.thread_id}/response-{len(self.responses) + 1}"

    def _item_started(self, run: _Run, exchange: _Exchange, event: ItemStarted) -> None:
        item_type = ITEM_TYPES.get(event.kind, "system")
        data: dict[str, Any] = {"block_type": event.block_type}
        if event.choice:
            data["choice"] = event.choice
        status = "running"
        if event.kind in ("text", "reasoning"):
            data["text"] = ""
        elif event.kind in ("tool_call", "server_tool_call"):
            status = "pending"
            data["tool"] = event.name
            data["native_id"] = event.native_id
            data["executor"] = "harness"
            if event.kind == "server_tool_call":
                data["executor"] = "provider"
                if event.native_id is not None:
                    run.provider_calls[event.native_id] = self._native(exchange, event.index, event.choice)
        elif event.kind == "server_tool_result":
            return  # its result completes the call it answers (see _item_completed)
        native = self._native(exchange, event.index, event.choice)
        self._emit(ItemUpdated(run.thread_id, native, item_type, status, data))  # type: ignore[arg-type]

    def _item_completed(self, run: _Run, exchange: _Exchange, item: ContentItem) -> None:
        thread_id = run.thread_id
        native = self._native(exchange, item.index, item.choice)
        view = item.to_json()
        data: dict[str, Any] = {"block_type": item.block_type}
        if not item.complete:
            data["complete"] = False
        if item.kind == "server_tool_result":
            block = item.block if isinstance(item.block, dict) else {}
            call = run.provider_calls.pop(str(block.get("tool_use_id")), None)
            if call is not None:
                self._emit(ItemUpdated(thread_id, call, "dynamic_tool", "completed", {"output": block}))
                return
            self._emit(ItemUpdated(thread_id, native, "system", "completed", {**data, "block": item.block}))
            return
        if item.kind in ("text", "reasoning"):
            data["text"] = item.text
            for key in ("citations", "signature"):
                if key in view:
                    data[key] = view[key]
            self._emit(ItemUpdated(thread_id, native, ITEM_TYPES[item.kind], "completed", data))
        elif item.kind in ("tool_call", "server_tool_call"):
            data.update(tool=item.name, input=item.arguments)
            if item.kind == "tool_call":
                # Complete now; the loop runs it where the response ends.
                self._emit(ItemUpdated(thread_id, native, "dynamic_tool", "pending", data))
                return
            data.update(executor="provider", block=item.block)
            self._emit(ItemUpdated(thread_id, native, "dynamic_tool", "running", data))
            results = _provider_results(item.block)
            if results is not None:
                # OpenAI Responses: the item carries its own results.
                if item.native_id is not None:
                    run.provider_calls.pop(item.native_id, None)
                self._emit(ItemUpdated(thread_id, native, "dynamic_tool", "completed", {"output": item.block}))
        else:
            block = {**data, "block": item.block}
            self._emit(ItemUpdated(thread_id, native, ITEM_TYPES.get(item.kind, "system"), "completed", block))

    def _run_tool(self, run: _Run, exchange: _Exchange, call: ContentItem) -> tuple[ToolResult, bool]:
        native = self._native(exchange, call.index, call.choice)
        self._emit(ItemUpdated(run.thread_id, native, "dynamic_tool", "running", {}))
        try:
            outcome = self.tools.run(call)
        except Exception as exc:
            # A tool that raises is a failed tool call, as in any real orchestrator; the loop goes on.
            outcome = Outcome("failed", error=f"{type(exc).__name__}: {exc}")
        if outcome.status == "succeeded":
            self._emit(ItemUpdated(run.thread_id, native, "dynamic_tool", "completed", {"output": outcome.output}))
        else:
            self._emit(ItemUpdated(run.thread_id, native, "dynamic_tool", "failed", {"error": outcome.error}))
        result = ToolResult(
            native_id=call.native_id,
            name=call.name or "",
            status=outcome.status,
            output=outcome.output,
            error=outcome.error,
            verbatim=outcome.verbatim,
        )
        return result, outcome.ends_run


def _provider_results(block: Any) -> Any:
    """The results an OpenAI Responses provider-run call item carries (``status`` completed or
    failed, or any of its result fields), else None (an Anthropic call: its result is a block)."""
    if not isinstance(block, dict) or block.get("type") in ("server_tool_use", "mcp_tool_use"):
        return None
    return block
