"""The orchestrator: commands in, entity-snapshot events out, for every protocol.

There is one core. It follows t3code's orchestration model (``docs/events.md`` sections 5-7 and
16): threads, runs, attempts, execution nodes, provider sessions, threads and turns, turn items,
runtime requests and context transfers, each stored whole every time it changes.

* **Commands** (:mod:`harness.core.commands`) come in through :meth:`Orchestrator.dispatch`.
  Each is receipted by a ``command.accepted`` event, so a repeated command id returns the first
  result, also after a restart.
* The command asks the :class:`~harness.adapters.runtime.RuntimeAdapter` for frames (start a turn,
  steer, interrupt, answer a request, fork, roll back), then **pumps** the link: inbound frames are
  handed to the adapter, whose signals become entity-snapshot events, until the runtime waits for
  the app again (in a replay: the next recorded ``expect_outbound``). An agent runtime's adapter
  speaks its stdio protocol; an HTTP model API's is
  :class:`~harness.adapters.http_runtime.HttpRuntime`, the agent loop as a runtime (one provider
  turn per request, the harness's tool runner for the model's tool calls).
* A run becomes terminal only when the runtime says its turn ended (:class:`TurnEnded`); an
  interrupt is an acknowledged request, nothing more.
* Tool calls, whoever runs them, are ``tool_call.requested`` / ``tool_call.completed`` events.

All state is in the event store; :class:`~harness.core.projection.Projection` folds it. A second
orchestrator over the same durable store (``SqliteEventStore``) continues where the first stopped:
same sequence, same receipts, same provider threads, which its fresh adapter resumes.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from harness.adapters.runtime import (
    ConversationHead,
    FrameIgnored,
    ItemDelta,
    ItemUpdated,
    PlanUpdated,
    ProviderThreadBound,
    ProviderTurnEnded,
    RequestOpened,
    RequestResolved,
    RequestResponse,
    RuleBroken,
    RuntimeAdapter,
    RuntimeLink,
    RuntimeSettings,
    SessionExited,
    Signal,
    ThreadContext,
    TurnEnded,
    TurnOptions,
    TurnStarted,
    TurnUsage,
)
from harness.core.commands import (
    RUNTIME_COMMAND_ADAPTER,
    MessageDispatch,
    RunInterrupt,
    RuntimeCommandType,
    RuntimeRequestRespond,
    ThreadCreate,
    ThreadFork,
    ThreadMergeBack,
    ThreadRollback,
)
from harness.core.events import NewEvent, StoredEvent
from harness.core.projection import ACTIVE_RUN_STATUSES, TERMINAL_RUN_STATUSES, Projection
from harness.core.store import EventStore, InMemoryEventStore, batch, iter_events, spills
from harness.errors import ReplayError, UsageError
from harness.replay.clock import Clock, LogicalClock
from harness.replay.driver import Inbound
from harness.replay.matcher import HANDOFF_PREFIX, HANDOFF_TAIL
from harness.transcript import RuntimeExit
from harness.transcript.io import format_validation_error

#: Turn item type -> execution node kind (user messages and interrupt signals hang off the root).
NODE_KINDS: dict[str, str] = {
    "assistant_message": "assistant_message",
    "reasoning": "reasoning",
    "proposed_plan": "plan",
    "todo_list": "todo_list",
    "command_execution": "tool_call",
    "file_change": "tool_call",
    "file_search": "tool_call",
    "web_search": "tool_call",
    "dynamic_tool": "tool_call",
    "subagent": "subagent",
    "approval_request": "approval_request",
    "user_input_request": "user_input_request",
    "system": "system",
}
#: Item statuses as node statuses.
ITEM_TO_NODE_STATUS = {"declined": "failed"}
#: Turn items that are tool calls the runtime executes: each gets ``tool_call.requested`` when it
#: first appears and ``tool_call.completed`` (the outcome union) when it reaches a final status,
#: as the HTTP agent loop records the calls the harness's tool runner executes.
TOOL_CALL_ITEMS = frozenset(
    {"command_execution", "file_change", "file_search", "web_search", "dynamic_tool", "subagent"}
)
#: A tool item's fields that are its result, not its request.
TOOL_RESULT_FIELDS = ("output", "exit_code", "error")
FINAL_ITEM_STATUSES = frozenset({"completed", "failed", "declined", "interrupted", "cancelled"})
HANDOFF_HEADER = f"{HANDOFF_PREFIX}merge_back / fork_delta_summary):\n"


def _outcome(item: dict[str, Any]) -> dict[str, Any]:
    """A finished tool item's outcome: ``succeeded`` with its ``output`` (with an ``exit_code``:
    ``{"output", "exit_code"}``; null when it has none), or ``failed`` with its ``error`` or else
    how it ended."""
    data = item["data"]
    if item["status"] == "completed":
        if data.get("exit_code") is not None:
            return {"status": "succeeded", "output": {k: data[k] for k in ("output", "exit_code") if k in data}}
        return {"status": "succeeded", "output": data.get("output")}
    if isinstance(data.get("error"), str):
        return {"status": "failed", "error": data["error"]}
    why = item["status"]
    if data.get("exit_code") is not None:
        why += f" with exit code {data['exit_code']}"
    return {"status": "failed", "error": why}


def _frame_kind(frame: Any) -> str | None:
    """A frame's method (JSON-RPC) or type/subtype (Claude), for the ignored-frame trace."""
    if not isinstance(frame, dict):
        return None
    if isinstance(frame.get("method"), str):
        return str(frame["method"])
    if isinstance(frame.get("type"), str):
        subtype = frame.get("subtype")
        return f"{frame['type']}/{subtype}" if isinstance(subtype, str) else str(frame["type"])
    return "response" if "id" in frame else None


class _WatchedLink:
    """The link as the adapter sees it; remembers the last inbound entry, for event origins."""

    def __init__(self, link: RuntimeLink) -> None:
        self.link = link
        self.last: Inbound | None = None
        #: ``(line, label)`` of ``last``: one tuple per inbound frame, shared by its events.
        self.origin: tuple[int | None, str | None] | None = None

    def send(self, frame: Any) -> None:
        self.link.send(frame)

    def peek_inbound(self) -> Any:
        """The next inbound frame without taking it, when the link can tell (else None)."""
        peek = getattr(self.link, "peek_inbound", None)
        return peek() if peek is not None else None

    def receive(self) -> Inbound | RuntimeExit | None:
        inbound = self.link.receive()
        if isinstance(inbound, Inbound):
            self.last = inbound
            self.origin = (inbound.line, inbound.label)
        return inbound


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


#: event sequence -> (transcript line, entry label) of the inbound frame being handled when it was stored
Origins = MutableMapping[int, tuple[int | None, str | None]]


class Orchestrator:
    """An event-sourced orchestrator driving one agent runtime; see the module docstring."""

    def __init__(
        self,
        *,
        adapter: RuntimeAdapter,
        link: RuntimeLink,
        store: EventStore | None = None,
        clock: Clock | None = None,
        origins: Origins | None = None,
        seed: int | None = None,
    ) -> None:
        self.adapter = adapter
        #: Command ids the caller does not give are ``command-<n>``, or with a seed
        #: ``command-<8 hex digits of SHA-256(seed/command/n)>``: the same across processes and
        #: orchestrator restarts (n counts the receipts in the store).
        self.seed = seed
        self.link = _WatchedLink(link)
        #: Where each stored event came from (not part of the log; error messages use it).
        self.origins: Origins = origins if origins is not None else {}
        self.store: EventStore = store or InMemoryEventStore()
        self.clock: Clock = clock or LogicalClock()
        self.projection = Projection()
        for event in iter_events(self.store):
            self.projection.apply(event)
        #: A store that ``spills`` keeps the log out of memory; so do the command results then.
        self._keep_results = not spills(self.store)
        self._signals: deque[Signal] = deque()
        self._accepted: dict[str, Any] | None = None
        self._command_id: str | None = None
        self._current: list[StoredEvent] = []
        #: run id -> text of a restart_active dispatch waiting for the active attempt to end.
        self._pending_restart: dict[str, str] = {}
        adapter.bind(self.link, self._signals.append)

    # -- event plumbing --------------------------------------------------------------------

    def _emit(self, type_: str, data: dict[str, Any], *, thread_id: str | None, run_id: str | None = None) -> None:
        if self._accepted is not None:
            # The receipt goes in with the command's first event: a command refused before it
            # changed anything leaves no receipt, and its id stays free.
            accepted, self._accepted = self._accepted, None
            self._emit("command.accepted", accepted, thread_id=None)
        new = NewEvent(
            type=type_,
            data=data,
            thread_id=thread_id,
            run_id=run_id,
            at_ms=self.clock.now_ms(),
            command_id=self._command_id,
        )
        (stored,) = self.store.append([new])
        self.projection.apply(stored)
        if self._keep_results:
            self._current.append(stored)
        origin = self.link.origin
        if origin is not None:
            self.origins[stored.sequence] = origin

    def _put(self, type_: str, collection: str, key: str, entity: dict[str, Any]) -> dict[str, Any]:
        """Emit ``entity`` as a snapshot event unless it equals the stored snapshot."""
        if self.projection.get(collection, entity[key]) == entity:
            return entity
        self._emit(type_, entity, thread_id=entity.get("thread_id"), run_id=entity.get("run_id"))
        return entity

    def _update(self, type_: str, collection: str, key: str, entity_id: str, **changes: Any) -> dict[str, Any]:
        current = self.projection.collections[collection][entity_id]
        return self._put(type_, collection, key, {**current, **changes})

    def _run(self, run_id: str, **changes: Any) -> dict[str, Any]:
        return self._update("run.updated", "runs", "run_id", run_id, **changes)

    def _attempt(self, attempt_id: str, **changes: Any) -> dict[str, Any]:
        return self._update("run-attempt.updated", "attempts", "attempt_id", attempt_id, **changes)

    def _node(self, entity: dict[str, Any]) -> dict[str, Any]:
        return self._put("node.updated", "nodes", "node_id", entity)

    def _item(self, entity: dict[str, Any]) -> dict[str, Any]:
        return self._put("turn-item.updated", "turn_items", "turn_item_id", entity)

    # -- commands --------------------------------------------------------------------------

    def dispatch(self, command: RuntimeCommandType | dict[str, Any]) -> CommandResult:
        """Run one command and pump the runtime until it waits for the app again.

        A repeated ``command_id`` returns the first result (from the durable receipt) without
        doing anything.
        """
        if isinstance(command, dict):
            try:
                command = RUNTIME_COMMAND_ADAPTER.validate_python(command)
            except ValidationError as exc:
                raise UsageError(f"invalid command: {format_validation_error(exc)}") from None
        refused: Mapping[str, str] = getattr(self.adapter, "refuses", {})
        if command.type in refused:
            raise UsageError(f"{command.type}: {refused[command.type]}")
        # The next receipt's number: a command refused before it stored anything takes none, so
        # generated ids continue the same way after a restart on the same store.
        command_id = command.command_id or self._command_name(len(self.projection.receipts) + 1)
        receipt = self.projection.receipts.get(command_id)
        if receipt is not None:
            events: list[StoredEvent] = []
            if self._keep_results:
                for event in iter_events(self.store, after=receipt.first - 1):
                    if event.sequence > receipt.last:
                        break
                    if event.command_id == command_id:
                        events.append(event)
            return CommandResult(
                command_id=command_id,
                events=events,
                thread_id=receipt.thread_id,
                run_id=receipt.run_id,
                replayed=True,
            )
        self._command_id = command_id
        self._current = []
        result = CommandResult(command_id=command_id)
        try:
            with batch(self.store):
                self._accepted = {"command_id": command_id, "type": command.type}
                if isinstance(command, ThreadCreate):
                    result.thread_id = self._thread_create(command)
                elif isinstance(command, MessageDispatch):
                    result.thread_id, result.run_id = self._message_dispatch(command)
                elif isinstance(command, RunInterrupt):
                    result.thread_id, result.run_id = self._run_interrupt(command)
                elif isinstance(command, RuntimeRequestRespond):
                    result.thread_id, result.run_id = self._respond(command)
                elif isinstance(command, ThreadFork):
                    result.thread_id = self._thread_fork(command)
                elif isinstance(command, ThreadMergeBack):
                    result.thread_id = self._merge_back(command)
                else:
                    result.thread_id = self._rollback(command)
                if not isinstance(command, (ThreadCreate, ThreadMergeBack)):
                    # Commands that talk to the runtime wait for its answer; the others only change
                    # app state (and must not start reading a stream-only recording early).
                    self._pump()
        except Exception as exc:
            if not isinstance(exc, UsageError):
                # Fail closed: a bug below still leaves every active run with its terminal snapshot.
                self._abort(exc)
            raise
        finally:
            result.events = self._current
            self._command_id = None
            self._accepted = None
        return result

    def _abort(self, exc: Exception) -> None:
        """End every active run ``failed`` after an exception escaped a command: ``replay_error`` when
        the replay failed (the app left the recording), else ``internal_error``."""
        self._signals.clear()
        with batch(self.store):
            for run in list(self.projection.runs.values()):
                if run["status"] in ACTIVE_RUN_STATUSES and run.get("active_attempt_id") is not None:
                    message = f"{type(exc).__name__}: {exc}"
                    # The replay leaving the recording is the boundary's verdict, not a bug here.
                    kind = "replay_error" if isinstance(exc, ReplayError) else "internal_error"
                    self._on_signal(TurnEnded(run["thread_id"], "failed", error=message, error_type=kind))

    def _command_name(self, number: int) -> str:
        if self.seed is None:
            return f"command-{number}"
        return f"command-{hashlib.sha256(f'{self.seed}/command/{number}'.encode()).hexdigest()[:8]}"

    def pump(self) -> None:
        """Deliver whatever the runtime says until it waits for the app (or the replay ends)."""
        with batch(self.store):
            self._pump()

    # -- thread.create ---------------------------------------------------------------------

    def _thread_create(self, command: ThreadCreate) -> str:
        if command.runtime is not None and getattr(self.adapter, "takes_settings", True) is False:
            raise UsageError(
                f"thread.create: runtime settings are for agent runtimes; {self.adapter.protocol} takes its request "
                "parameters from the scenario's request"
            )
        thread_id = command.thread_id or f"thread-{len(self.projection.threads) + 1}"
        self._new_thread(thread_id, command.title, command.runtime or RuntimeSettings(), lineage=None)
        return thread_id

    def _new_thread(
        self, thread_id: str, title: str | None, settings: RuntimeSettings, lineage: dict[str, Any] | None
    ) -> None:
        if "/" in thread_id:
            raise UsageError(f"thread id {thread_id!r} may not contain '/' (ids nest with it)")
        if thread_id in self.projection.threads:
            raise UsageError(f"thread {thread_id!r} already exists")
        self._emit(
            "thread.created",
            {
                "thread_id": thread_id,
                "title": title,
                "protocol": self.adapter.protocol,
                "provider": self.adapter.provider,
                "runtime": settings.model_dump(mode="json", exclude_none=True),
                "lineage": lineage or {"parent_thread_id": None, "relationship": None, "forked_from": None},
            },
            thread_id=thread_id,
        )
        provider_thread_id = f"{thread_id}/provider-thread"
        self._put(
            "provider-thread.updated",
            "provider_threads",
            "provider_thread_id",
            {
                "provider_thread_id": provider_thread_id,
                "thread_id": thread_id,
                "provider": self.adapter.provider,
                "status": "not_loaded",
                "native_ref": None,
                "native_head": None,
                "forked_from": None,
            },
        )

    def _thread(self, thread_id: str | None, command: str) -> str:
        if thread_id is None:
            if len(self.projection.threads) != 1:
                raise UsageError(f"{command}: thread_id is required when there is not exactly one thread")
            return next(iter(self.projection.threads))
        if thread_id not in self.projection.threads:
            raise UsageError(f"{command}: no thread {thread_id!r}; dispatch thread.create first")
        return thread_id

    def _settings(self, thread_id: str) -> RuntimeSettings:
        return RuntimeSettings.model_validate(self.projection.threads[thread_id]["runtime"])

    def _context(self, thread_id: str) -> ThreadContext:
        provider_thread = self.projection.provider_threads[f"{thread_id}/provider-thread"]
        heads: list[str | None] = []
        for run in self.projection.thread_runs(thread_id):
            if run["status"] in TERMINAL_RUN_STATUSES:
                turn = self.projection.get("provider_turns", self._last_turn_of(run))
                heads.append(turn.get("native_head") if turn else None)
        if not heads and provider_thread.get("native_head") is not None:
            heads.append(provider_thread["native_head"])  # a fork's inherited head
        active = self.projection.active_run(thread_id)
        native_turn = None
        if active is not None:
            turn = self.projection.get("provider_turns", self._last_turn_of(active))
            native_turn = turn.get("native_ref") if turn else None
        return ThreadContext(
            thread_id=thread_id,
            settings=self._settings(thread_id),
            native_thread_id=provider_thread.get("native_ref"),
            heads=tuple(heads),
            native_turn_id=native_turn,
        )

    def _last_turn_of(self, run: dict[str, Any]) -> str | None:
        attempt = self.projection.get("attempts", run.get("active_attempt_id"))
        return attempt.get("provider_turn_id") if attempt else None

    # -- message.dispatch ------------------------------------------------------------------

    def _message_dispatch(self, command: MessageDispatch) -> tuple[str, str]:
        thread_id = self._thread(command.thread_id, "message.dispatch")
        options = TurnOptions(
            content=command.content,
            params=command.params,
            recover=tuple(command.recover),
            resume_starting_after=command.resume_starting_after,
        )
        configure = getattr(self.adapter, "configure_turn", None)
        if options != TurnOptions() and configure is None:
            raise UsageError(
                f"message.dispatch: content, params, recover and resume_starting_after are for HTTP model APIs; "
                f"{self.adapter.protocol} takes `text`"
            )
        active = self.projection.active_run(thread_id)
        queued = [r for r in self.projection.thread_runs(thread_id) if r["status"] == "queued"]
        mode = command.mode
        if command.message_id is not None and command.message_id in self.projection.messages:
            raise UsageError(f"message.dispatch: message id {command.message_id!r} is already used")
        if mode in ("steer_active", "restart_active") and active is None:
            raise UsageError(f"message.dispatch: {mode} needs an active run, and thread {thread_id!r} is idle")
        if mode == "start_immediately" and active is not None:
            raise UsageError(
                f"message.dispatch: thread {thread_id!r} has an active run {active['run_id']!r}; dispatch with mode "
                "queue_after_active, steer_active or restart_active"
            )
        text = self._with_handoff(thread_id, command.text)
        if mode in ("steer_active", "restart_active"):
            if active is None:
                raise UsageError(f"message.dispatch: {mode} needs an active run, and thread {thread_id!r} is idle")
            if command.target_run_id is not None and command.target_run_id != active["run_id"]:
                raise UsageError(
                    f"message.dispatch: {mode} targets run {command.target_run_id!r}, but the active run is "
                    f"{active['run_id']!r}"
                )
            message_id = self._message(thread_id, active["run_id"], text, command.message_id)
            run_id = active["run_id"]
            if mode == "steer_active":
                self._new_item(
                    run_id, "user_message", "completed", {"text": text, "input_intent": "steer"}, message_id=message_id
                )
                self.adapter.steer(self._context(thread_id), text)
            else:
                self._pending_restart[run_id] = text
                self._run(run_id, interrupt_requested=True)
                self.adapter.interrupt(self._context(thread_id))
            return thread_id, run_id
        if mode == "start_immediately" and active is not None:
            raise UsageError(
                f"message.dispatch: thread {thread_id!r} has an active run {active['run_id']!r}; dispatch with mode "
                "queue_after_active, steer_active or restart_active"
            )
        ordinal = len(self.projection.thread_runs(thread_id)) + 1
        run_id = f"{thread_id}/run-{ordinal}"
        wait = active is not None or bool(queued)
        run = {
            "run_id": run_id,
            "thread_id": thread_id,
            "ordinal": ordinal,
            "status": "queued" if wait else "starting",
            "dispatch_mode": mode,
            "queue_position": len(queued) + 1 if wait else None,
            "provider": self.adapter.provider,
            "provider_thread_id": f"{thread_id}/provider-thread",
            "user_message_id": None,
            "root_node_id": None,
            "active_attempt_id": None,
            "interrupt_requested": False,
        }
        self._emit("run.created", run, thread_id=thread_id, run_id=run_id)
        message_id = self._message(thread_id, run_id, text, command.message_id)
        self._run(run_id, user_message_id=message_id)
        if configure is not None:
            configure(thread_id, options)
        if not wait:
            self._start_attempt(run_id, "initial")
        return thread_id, run_id

    def _message(self, thread_id: str, run_id: str, text: str, message_id: str | None) -> str:
        count = self.projection.count("messages", thread_id=thread_id, role="user")
        message_id = message_id or f"{thread_id}/message-{count + 1}"
        if message_id in self.projection.messages:
            raise UsageError(f"message.dispatch: message id {message_id!r} is already used")
        self._put(
            "message.updated",
            "messages",
            "message_id",
            {
                "message_id": message_id,
                "thread_id": thread_id,
                "run_id": run_id,
                "role": "user",
                "text": text,
                "streaming": False,
            },
        )
        return message_id

    def _with_handoff(self, thread_id: str, text: str) -> str:
        """Prefix a pending merge-back handoff to the thread's next message, and consume it."""
        for transfer in self.projection.group("context_transfers", target_thread_id=thread_id):
            if transfer["type"] == "merge_back" and transfer["status"] == "pending":
                self._put(
                    "context-transfer.updated",
                    "context_transfers",
                    "context_transfer_id",
                    {**transfer, "status": "consumed"},
                )
                return HANDOFF_HEADER + str(transfer["summary"]) + HANDOFF_TAIL + text
        return text

    def _start_attempt(self, run_id: str, reason: str, text: str | None = None) -> None:
        run = self.projection.runs[run_id]
        thread_id = run["thread_id"]
        attempts = list(self.projection.group("attempts", run_id=run_id))
        for previous in attempts:
            if previous["status"] in ("pending", "running"):
                self._attempt(previous["attempt_id"], status="superseded")
        ordinal = len(attempts) + 1
        attempt_id = f"{run_id}/attempt-{ordinal}"
        root = f"{attempt_id}/root"
        self._emit(
            "run-attempt.created",
            {
                "attempt_id": attempt_id,
                "run_id": run_id,
                "thread_id": thread_id,
                "ordinal": ordinal,
                "reason": reason,
                "status": "running",
                "root_node_id": root,
                "provider_turn_id": None,
            },
            thread_id=thread_id,
            run_id=run_id,
        )
        self._node(
            {
                "node_id": root,
                "thread_id": thread_id,
                "run_id": run_id,
                "attempt_id": attempt_id,
                "parent_node_id": None,
                "root_node_id": root,
                "kind": "root_turn",
                "status": "running",
                "counts_for_run": True,
                "turn_item_id": None,
                "runtime_request_id": None,
            }
        )
        self._run(
            run_id,
            status="starting",
            queue_position=None,
            root_node_id=root,
            active_attempt_id=attempt_id,
            interrupt_requested=False,
        )
        message = self.projection.messages[run["user_message_id"]]
        if text is None:
            text = str(message["text"])
            intent = "queued_turn" if run["dispatch_mode"] == "queue_after_active" else "turn_start"
            self._new_item(
                run_id,
                "user_message",
                "completed",
                {"text": text, "input_intent": intent},
                message_id=message["message_id"],
            )
        else:
            self._new_item(run_id, "user_message", "completed", {"text": text, "input_intent": "restart"})
        self._provider_thread(thread_id, status="active")
        self.adapter.start_turn(self._context(thread_id), text)

    def _provider_thread(self, thread_id: str, **changes: Any) -> None:
        self._update(
            "provider-thread.updated",
            "provider_threads",
            "provider_thread_id",
            f"{thread_id}/provider-thread",
            **changes,
        )

    # -- turn items ------------------------------------------------------------------------

    def _new_item(
        self,
        run_id: str,
        item_type: str,
        status: str,
        data: dict[str, Any],
        *,
        native_ref: str | None = None,
        parent_item_id: str | None = None,
        message_id: str | None = None,
    ) -> dict[str, Any]:
        run = self.projection.runs[run_id]
        attempt = self.projection.attempts.get(run["active_attempt_id"] or "")
        ordinal = self.projection.run_item_count(run_id) + 1
        item_id = f"{run_id}/item-{ordinal}"
        root = run["root_node_id"]
        node_id = root
        kind = NODE_KINDS.get(item_type)
        if kind is not None and attempt is not None:
            parent_node = root
            if parent_item_id is not None:
                parent_node = self.projection.turn_items[parent_item_id]["node_id"]
            node_id = f"{attempt['attempt_id']}/node-{ordinal}"
            self._node(
                {
                    "node_id": node_id,
                    "thread_id": run["thread_id"],
                    "run_id": run_id,
                    "attempt_id": attempt["attempt_id"],
                    "parent_node_id": parent_node,
                    "root_node_id": root,
                    "kind": kind,
                    "status": ITEM_TO_NODE_STATUS.get(status, status),
                    "counts_for_run": False,
                    "turn_item_id": item_id,
                    "runtime_request_id": None,
                }
            )
        return self._tool_call_events(
            None,
            {
                "turn_item_id": item_id,
                "thread_id": run["thread_id"],
                "run_id": run_id,
                "attempt_id": attempt["attempt_id"] if attempt else None,
                "node_id": node_id,
                "provider_turn_id": attempt.get("provider_turn_id") if attempt else None,
                "parent_item_id": parent_item_id,
                "ordinal": ordinal,
                "type": item_type,
                "status": status,
                "native_ref": native_ref,
                "message_id": message_id,
                "data": data,
            },
        )

    def _tool_call_events(self, previous: dict[str, Any] | None, item: dict[str, Any]) -> dict[str, Any]:
        """Store ``item`` (new when ``previous`` is None); for a tool item, also its
        ``tool_call.requested`` at its first snapshot that is not ``pending`` (its input is then
        complete) and its ``tool_call.completed`` when its status first becomes final, if it was
        requested (a call that never ran ends without either). Returns the stored item."""
        stored = self._item(item)
        if item["type"] not in TOOL_CALL_ITEMS:
            return stored
        status = item["status"]
        if status == "pending":
            return stored  # not ready to run: its input streams, or it waits for the tool runner
        data = item["data"]
        call_id = item["turn_item_id"]
        scope = {"thread_id": item["thread_id"], "run_id": item["run_id"]}
        was_requested = previous is not None and previous["status"] != "pending"
        if not was_requested:
            if status in FINAL_ITEM_STATUSES and previous is not None:
                return stored  # it never ran (its turn ended first): no call to record
            arguments = (
                data["input"]
                if "input" in data
                else {
                    key: value
                    for key, value in data.items()
                    if key not in TOOL_RESULT_FIELDS and key not in ("executor", "native_id")
                }
            )
            self._emit(
                "tool_call.requested",
                {
                    "tool_call_id": call_id,
                    "item_id": call_id,
                    "name": data.get("tool") or item["type"],
                    "native_id": data.get("native_id", item["native_ref"]),
                    "arguments": arguments,
                    "executor": data.get("executor", "runtime"),
                },
                **scope,
            )
        was_final = previous is not None and previous["status"] in FINAL_ITEM_STATUSES
        if status in FINAL_ITEM_STATUSES and not was_final:
            self._emit("tool_call.completed", {"tool_call_id": call_id, "outcome": _outcome(item)}, **scope)
        return stored

    def _set_item(self, item: dict[str, Any], **changes: Any) -> None:
        updated = self._tool_call_events(item, {**item, **changes})
        node = self.projection.nodes.get(updated["node_id"])
        if node is not None and node["kind"] != "root_turn":
            self._node({**node, "status": ITEM_TO_NODE_STATUS.get(updated["status"], updated["status"])})

    def _find_item(self, run_id: str, native_ref: str) -> dict[str, Any] | None:
        item_id = self.projection.find_item_id(run_id, native_ref)
        return self.projection.turn_items[item_id] if item_id is not None else None

    # -- run.interrupt ---------------------------------------------------------------------

    def _run_interrupt(self, command: RunInterrupt) -> tuple[str, str]:
        thread_id = self._thread(command.thread_id, "run.interrupt")
        active = self.projection.active_run(thread_id)
        if command.run_id is not None:
            run = self.projection.runs.get(command.run_id)
            if run is None or run["thread_id"] != thread_id:
                raise UsageError(f"run.interrupt: no run {command.run_id!r} in thread {thread_id!r}")
            if run is not active:
                raise UsageError(f"run.interrupt: run {command.run_id!r} is {run['status']}, not active")
        if active is None:
            raise UsageError(f"run.interrupt: thread {thread_id!r} has no active run")
        run_id = active["run_id"]
        self._run(run_id, interrupt_requested=True)
        self._new_item(run_id, "run_interrupt_request", "completed", {})
        self.adapter.interrupt(self._context(thread_id))
        return thread_id, run_id

    # -- runtime-request.respond -----------------------------------------------------------

    def _respond(self, command: RuntimeRequestRespond) -> tuple[str, str]:
        thread_id = self._thread(command.thread_id, "runtime-request.respond")
        pending = [
            r for r in self.projection.group("runtime_requests", thread_id=thread_id) if r["status"] == "pending"
        ]
        if command.request_id is not None:
            chosen = [r for r in pending if r["runtime_request_id"] == command.request_id]
            if not chosen:
                known = self.projection.runtime_requests.get(command.request_id)
                why = f"is {known['status']}" if known else "does not exist"
                raise UsageError(f"runtime-request.respond: request {command.request_id!r} {why}")
        elif len(pending) != 1:
            raise UsageError(
                f"runtime-request.respond: thread {thread_id!r} has {len(pending)} pending requests; name request_id"
            )
        else:
            chosen = pending
        request = chosen[0]
        if request["kind"] == "user_input" and command.answers is None:
            raise UsageError("runtime-request.respond: a user_input request needs answers, not a decision")
        if request["kind"] != "user_input" and command.decision is None:
            raise UsageError(f"runtime-request.respond: a {request['kind']} request needs a decision, not answers")
        response = RequestResponse(decision=command.decision, answers=command.answers)
        self.adapter.respond(self._context(thread_id), request["native_ref"], response)
        answer = {"decision": command.decision} if command.decision else {"answers": command.answers}
        self._put(
            "runtime-request.updated",
            "runtime_requests",
            "runtime_request_id",
            {**request, "status": "resolved", "response": answer},
        )
        item = self.projection.turn_items[request["turn_item_id"]]
        self._set_item(item, status="completed", data={**item["data"], "response": answer})
        run = self.projection.runs[request["run_id"]]
        if run["status"] == "waiting" and not self._pending(run["run_id"]):
            self._run(run["run_id"], status="running")
        return thread_id, request["run_id"]

    def _pending(self, run_id: str) -> list[dict[str, Any]]:
        return [r for r in self.projection.group("runtime_requests", run_id=run_id) if r["status"] == "pending"]

    # -- thread.fork / thread.merge_back / thread.rollback ---------------------------------

    def _thread_fork(self, command: ThreadFork) -> str:
        source = self._thread(command.source_thread_id, "thread.fork")
        if self.projection.active_run(source) is not None:
            raise UsageError(f"thread.fork: thread {source!r} has an active run; fork from a stable point")
        kept = [r for r in self.projection.thread_runs(source) if r["status"] in TERMINAL_RUN_STATUSES]
        if not kept:
            raise UsageError(f"thread.fork: thread {source!r} has no finished run to fork from")
        point = kept[-1]
        self._new_thread(
            command.target_thread_id,
            command.title,
            self._settings(source),
            lineage={
                "parent_thread_id": source,
                "relationship": "fork",
                "forked_from": {"run_id": point["run_id"], "run_ordinal": point["ordinal"]},
            },
        )
        transfer_id = f"{command.target_thread_id}/transfer-fork"
        self._put(
            "context-transfer.updated",
            "context_transfers",
            "context_transfer_id",
            {
                "context_transfer_id": transfer_id,
                "type": "fork",
                "source_thread_id": source,
                "target_thread_id": command.target_thread_id,
                "status": "pending",
                "resolution": None,
                "summary": None,
            },
        )
        source_context = self._context(source)
        self.adapter.fork(source_context, self._context(command.target_thread_id))
        self._drain()
        target_thread = self.projection.provider_threads[f"{command.target_thread_id}/provider-thread"]
        if target_thread["native_ref"] is None:
            raise UsageError(f"thread.fork: the runtime did not name a forked provider thread for {source!r}")
        source_thread = self.projection.provider_threads[f"{source}/provider-thread"]
        self._provider_thread(
            command.target_thread_id,
            status="idle",
            native_head=source_context.heads[-1] if source_context.heads else None,
            forked_from=source_thread["provider_thread_id"],
        )
        self._put(
            "context-transfer.updated",
            "context_transfers",
            "context_transfer_id",
            {
                **self.projection.context_transfers[transfer_id],
                "status": "resolved_native",
                "resolution": {"native_fork": target_thread["provider_thread_id"]},
            },
        )
        return command.target_thread_id

    def _merge_back(self, command: ThreadMergeBack) -> str:
        fork = self._thread(command.source_thread_id, "thread.merge_back")
        target = self._thread(command.target_thread_id, "thread.merge_back")
        parent = (self.projection.threads[fork].get("lineage") or {}).get("parent_thread_id")
        if parent != target:
            raise UsageError(
                f"thread.merge_back: thread {fork!r} is not a fork of {target!r} (its parent is {parent!r})"
            )
        for thread_id in (fork, target):
            if self.projection.active_run(thread_id) is not None:
                raise UsageError(f"thread.merge_back: thread {thread_id!r} has an active run")
        delta: list[str] = []
        for run in self.projection.thread_runs(fork):
            if run["status"] not in TERMINAL_RUN_STATUSES:
                continue
            for item in self.projection.run_items(run["run_id"]):
                if item["type"] == "user_message":
                    delta.append(f"- User: {item['data'].get('text', '')}")
                elif item["type"] == "assistant_message" and item["parent_item_id"] is None:
                    delta.append(f"- Assistant: {item['data'].get('text', '')}")
        if not delta:
            raise UsageError(f"thread.merge_back: fork {fork!r} has no finished run to hand back")
        summary = "Merge-back context from forked conversation.\n\nFork delta:\n" + "\n".join(delta)
        count = self.projection.count("context_transfers", target_thread_id=target)
        self._put(
            "context-transfer.updated",
            "context_transfers",
            "context_transfer_id",
            {
                "context_transfer_id": f"{target}/transfer-{count + 1}",
                "type": "merge_back",
                "source_thread_id": fork,
                "target_thread_id": target,
                "status": "pending",
                "resolution": {"fork_delta_context": "summary"},
                "summary": summary,
            },
        )
        return target

    def _rollback(self, command: ThreadRollback) -> str:
        thread_id = self._thread(command.thread_id, "thread.rollback")
        if self.projection.active_run(thread_id) is not None:
            raise UsageError(f"thread.rollback: thread {thread_id!r} has an active run")
        kept = [r for r in self.projection.thread_runs(thread_id) if r["status"] in TERMINAL_RUN_STATUSES]
        if len(kept) < command.runs:
            raise UsageError(
                f"thread.rollback: thread {thread_id!r} has {len(kept)} finished runs; cannot roll back {command.runs}"
            )
        dropped = [r["run_id"] for r in kept[-command.runs :]]
        self._emit("thread.rolled_back", {"thread_id": thread_id, "run_ids": dropped}, thread_id=thread_id)
        self.adapter.rollback(self._context(thread_id), command.runs)
        return thread_id

    # -- the pump and the signals ----------------------------------------------------------

    def _pump(self) -> None:
        self._drain()
        wants = getattr(self.adapter, "wants_inbound", None)
        idle = getattr(self.adapter, "idle", None)
        while True:
            inbound = self.link.receive() if wants is None or wants() else None
            if inbound is None:
                # Nothing more to read now: an adapter with a loop of its own (HTTP) finishes the
                # response, runs its tools and may send again, which gives more to read.
                sent = idle() if idle is not None else False
                self._drain()
                if sent:
                    continue
                break
            if isinstance(inbound, RuntimeExit):
                self.adapter.exited(inbound)
            else:
                self.adapter.handle(inbound)
            self._drain()

    def _drain(self) -> None:
        while self._signals:
            self._on_signal(self._signals.popleft())

    def _active(self, thread_id: str) -> dict[str, Any] | None:
        if thread_id not in self.projection.threads:
            return None
        return self.projection.active_run(thread_id)

    def _violation(
        self,
        thread_id: str | None,
        rule: str,
        message: str,
        *,
        fatal: bool | None = None,
        entry_index: int | None = None,
    ) -> None:
        run = self._active(thread_id) if thread_id else None
        data: dict[str, Any] = {"rule": rule, "message": message}
        if fatal is not None:
            data["fatal"] = fatal
        if entry_index is not None:
            data["entry_index"] = entry_index
        self._emit("protocol.violation", data, thread_id=thread_id, run_id=run["run_id"] if run else None)

    def _on_signal(self, signal: Signal) -> None:
        if type(signal) is ItemDelta:
            self._item_delta(signal)  # the bulk of a stream: first, and nothing it does not need
            return
        if isinstance(signal, FrameIgnored):
            run = self._active(signal.thread_id) if signal.thread_id else None
            if not signal.known:
                self._emit(
                    "provider.frame.unrecognized",
                    {"reason": signal.reason, "frame": signal.frame},
                    thread_id=signal.thread_id,
                    run_id=run["run_id"] if run else None,
                )
            else:
                # Known noise leaves a small trace, so that losing or moving it is visible too.
                self._emit(
                    "provider.frame.ignored",
                    {"kind": _frame_kind(signal.frame), "reason": signal.reason},
                    thread_id=signal.thread_id,
                    run_id=run["run_id"] if run else None,
                )
            return
        if isinstance(signal, RuleBroken):
            self._violation(
                signal.thread_id, signal.rule, signal.message, fatal=signal.fatal, entry_index=signal.entry_index
            )
            return
        if isinstance(signal, SessionExited):
            self._session_exited(signal)
            return
        if isinstance(signal, ProviderThreadBound):
            self._provider_thread(signal.thread_id, native_ref=signal.native_id)
            self._session(signal.thread_id, "ready")
            return
        thread_id = signal.thread_id
        if isinstance(signal, ConversationHead):
            self._provider_thread(thread_id, native_head=signal.native_ref)
        run = self._active(thread_id)
        if run is None:
            if not isinstance(signal, ConversationHead):
                self._violation(
                    thread_id,
                    "runtime.signal.no_active_run",
                    f"{type(signal).__name__} for thread {thread_id!r}, which has no active run",
                )
            return
        run_id = run["run_id"]
        attempt = self.projection.attempts[run["active_attempt_id"]]
        if isinstance(signal, TurnStarted):
            self._turn_started(run, attempt, signal.native_turn_id, signal.model)
        elif isinstance(signal, ProviderTurnEnded):
            self._provider_turn_ended(run, attempt, signal)
        elif isinstance(signal, ConversationHead):
            turn_id = attempt["provider_turn_id"]
            if turn_id is not None:
                self._update(
                    "provider-turn.updated",
                    "provider_turns",
                    "provider_turn_id",
                    turn_id,
                    native_head=signal.native_ref,
                )
        elif isinstance(signal, ItemUpdated):
            self._item_updated(run, signal)
        elif isinstance(signal, ItemDelta):
            self._item_delta(signal)
        elif isinstance(signal, PlanUpdated):
            self._plan(run, signal)
        elif isinstance(signal, RequestOpened):
            self._request_opened(run, signal)
        elif isinstance(signal, RequestResolved):
            for request in self._pending(run_id):
                if request["native_ref"] == signal.native_request_id:
                    # The runtime settled it without the app's answer (cleared by the turn ending).
                    self._put(
                        "runtime-request.updated",
                        "runtime_requests",
                        "runtime_request_id",
                        {**request, "status": "cancelled"},
                    )
        elif isinstance(signal, TurnUsage):
            turn_id = attempt["provider_turn_id"]
            if turn_id is not None:
                self._update("provider-turn.updated", "provider_turns", "provider_turn_id", turn_id, usage=signal.usage)
        elif isinstance(signal, TurnEnded):
            self._turn_ended(run, attempt, signal)

    def _item_delta(self, signal: ItemDelta) -> None:
        thread_id = signal.thread_id
        run = self._active(thread_id)
        if run is None:
            self._violation(
                thread_id,
                "runtime.signal.no_active_run",
                f"{type(signal).__name__} for thread {thread_id!r}, which has no active run",
            )
            return
        # The item's id only: reading the item would join the text streamed so far.
        item_id = self.projection.find_item_id(run["run_id"], signal.native_item_id)
        if item_id is None:
            self._violation(
                thread_id,
                "runtime.item.delta_before_start",
                f"a {signal.field} delta for item {signal.native_item_id!r} before the item started",
            )
            return
        self._emit(
            "turn-item.delta",
            {"turn_item_id": item_id, "field": signal.field, "delta": signal.delta},
            thread_id=thread_id,
            run_id=run["run_id"],
        )

    def _session(self, thread_id: str, status: str) -> None:
        sessions = list(self.projection.group("sessions", thread_id=thread_id))
        current = sessions[-1] if sessions else None
        if current is not None and current["status"] not in ("stopped", "error"):
            self._put("provider-session.updated", "sessions", "provider_session_id", {**current, "status": status})
            return
        self._put(
            "provider-session.updated",
            "sessions",
            "provider_session_id",
            {
                "provider_session_id": f"{thread_id}/session-{len(sessions) + 1}",
                "thread_id": thread_id,
                "provider": self.adapter.provider,
                "status": status,
            },
        )
        self._provider_thread(thread_id, provider_session_id=f"{thread_id}/session-{len(sessions) + 1}")

    def _session_exited(self, signal: SessionExited) -> None:
        for thread_id in signal.thread_ids:
            for session in self.projection.group("sessions", thread_id=thread_id):
                if session["status"] != "stopped":
                    self._put(
                        "provider-session.updated",
                        "sessions",
                        "provider_session_id",
                        {
                            **session,
                            "status": "stopped" if signal.status == "success" else "error",
                            "exit": {"status": signal.status, "error": signal.error},
                        },
                    )

    def _turn_started(
        self, run: dict[str, Any], attempt: dict[str, Any], native_turn_id: str | None, model: str | None = None
    ) -> None:
        thread_id = run["thread_id"]
        turn_id = attempt["provider_turn_id"]
        turn = self.projection.provider_turns.get(turn_id) if turn_id is not None else None
        if turn is None or turn["status"] in TERMINAL_RUN_STATUSES:
            # The attempt's first provider turn, or (HTTP) the next request of its agent loop.
            count = self.projection.count("provider_turns", thread_id=thread_id)
            turn_id = f"{thread_id}/provider-thread/turn-{count + 1}"
            entity: dict[str, Any] = {
                "provider_turn_id": turn_id,
                "thread_id": thread_id,
                "run_id": run["run_id"],
                "attempt_id": attempt["attempt_id"],
                "node_id": attempt["root_node_id"],
                "provider_thread_id": f"{thread_id}/provider-thread",
                "ordinal": count + 1,
                "status": "running",
                "native_ref": native_turn_id,
                "native_head": None,
                "usage": None,
                "error": None,
            }
            if model is not None:
                entity["model"] = model
            self._put("provider-turn.updated", "provider_turns", "provider_turn_id", entity)
            self._attempt(attempt["attempt_id"], provider_turn_id=turn_id)
            for item in self.projection.run_items(run["run_id"]):
                if item["provider_turn_id"] is None and item["attempt_id"] == attempt["attempt_id"]:
                    self._item({**item, "provider_turn_id": turn_id})
            self._session(thread_id, "running")
        else:
            changes: dict[str, Any] = {}
            if native_turn_id is not None and turn["native_ref"] is None:
                changes["native_ref"] = native_turn_id
            if model is not None and turn.get("model") is None:
                changes["model"] = model
            if changes:
                self._update("provider-turn.updated", "provider_turns", "provider_turn_id", turn_id, **changes)
        if run["status"] == "starting":
            self._run(run["run_id"], status="running")

    def _provider_turn_ended(self, run: dict[str, Any], attempt: dict[str, Any], signal: ProviderTurnEnded) -> None:
        """One provider turn of the run ended; the run goes on (the next turn starts with the next
        :class:`TurnStarted`)."""
        self._ensure_turn(run)
        turn_id = self.projection.attempts[attempt["attempt_id"]]["provider_turn_id"]
        changes: dict[str, Any] = {"status": signal.status, "error": signal.error}
        if signal.stop_reason is not None:
            changes["stop_reason"] = signal.stop_reason
        changes.update(signal.detail)
        self._update("provider-turn.updated", "provider_turns", "provider_turn_id", turn_id, **changes)

    def _ensure_turn(self, run: dict[str, Any]) -> None:
        attempt = self.projection.attempts[run["active_attempt_id"]]
        if attempt["provider_turn_id"] is None:
            self._turn_started(run, attempt, None)

    def _item_updated(self, run: dict[str, Any], signal: ItemUpdated) -> None:
        self._ensure_turn(run)
        run = self.projection.runs[run["run_id"]]
        run_id = run["run_id"]
        item = self._find_item(run_id, signal.native_item_id)
        if item is None and signal.item_type == "user_message" and signal.parent_native_item_id is None:
            # The runtime echoes the app's own user message: bind it rather than add a second one.
            echoed = self.projection.find_item_id(run_id, None, "user_message")
            if echoed is not None:
                item = self.projection.turn_items[echoed]
        if item is None:
            parent = None
            if signal.parent_native_item_id is not None:
                found = self._find_item(run_id, signal.parent_native_item_id)
                parent = found["turn_item_id"] if found else None
            item = self._new_item(
                run_id,
                signal.item_type,
                signal.status,
                dict(signal.data),
                native_ref=signal.native_item_id,
                parent_item_id=parent,
            )
        else:
            data = {**item["data"], **signal.data}
            self._set_item(item, status=signal.status, native_ref=signal.native_item_id, data=data)
            item = self.projection.turn_items[item["turn_item_id"]]
        if signal.item_type == "assistant_message" and signal.status == "completed":
            message_id = f"{item['turn_item_id']}/message"
            self._put(
                "message.updated",
                "messages",
                "message_id",
                {
                    "message_id": message_id,
                    "thread_id": run["thread_id"],
                    "run_id": run_id,
                    "role": "assistant",
                    "text": item["data"].get("text", ""),
                    "streaming": False,
                    "turn_item_id": item["turn_item_id"],
                },
            )

    def _plan(self, run: dict[str, Any], signal: PlanUpdated) -> None:
        self._ensure_turn(run)
        run_id = run["run_id"]
        plan_id = f"{run_id}/plan-{signal.kind}"
        done = bool(signal.steps) and all(s.get("status") == "completed" for s in signal.steps)
        self._put(
            "plan.updated",
            "plans",
            "plan_id",
            {
                "plan_id": plan_id,
                "thread_id": run["thread_id"],
                "run_id": run_id,
                "kind": signal.kind,
                "status": "completed" if done else "active",
                "steps": signal.steps,
                "markdown": signal.markdown,
                "explanation": signal.explanation,
            },
        )
        item = self._find_item(run_id, plan_id)
        data = {"plan_id": plan_id, "steps": signal.steps}
        if item is None:
            self._new_item(run_id, signal.kind, "completed" if done else "running", data, native_ref=plan_id)
        else:
            self._set_item(item, status="completed" if done else "running", data=data)

    def _request_opened(self, run: dict[str, Any], signal: RequestOpened) -> None:
        self._ensure_turn(run)
        run_id = run["run_id"]
        count = self.projection.count("runtime_requests", run_id=run_id)
        request_id = f"{run_id}/request-{count + 1}"
        subject = self._find_item(run_id, signal.native_item_id) if signal.native_item_id else None
        item_type = "user_input_request" if signal.kind == "user_input" else "approval_request"
        item = self._new_item(
            run_id,
            item_type,
            "waiting",
            {"kind": signal.kind, **signal.payload},
            native_ref=f"request:{signal.native_request_id}",
            parent_item_id=subject["turn_item_id"] if subject else None,
        )
        self._put(
            "runtime-request.updated",
            "runtime_requests",
            "runtime_request_id",
            {
                "runtime_request_id": request_id,
                "thread_id": run["thread_id"],
                "run_id": run_id,
                "node_id": item["node_id"],
                "turn_item_id": item["turn_item_id"],
                "subject_item_id": subject["turn_item_id"] if subject else None,
                "kind": signal.kind,
                "status": "pending",
                "native_ref": signal.native_request_id,
                "payload": signal.payload,
                "response": None,
                "response_capability": "live",
            },
        )
        node = self.projection.nodes[item["node_id"]]
        self._node({**node, "runtime_request_id": request_id})
        self._run(run_id, status="waiting")

    def _turn_ended(self, run: dict[str, Any], attempt: dict[str, Any], signal: TurnEnded) -> None:
        self._ensure_turn(run)
        run = self.projection.runs[run["run_id"]]
        attempt = self.projection.attempts[attempt["attempt_id"]]
        run_id = run["run_id"]
        thread_id = run["thread_id"]
        status = signal.status
        restart = self._pending_restart.pop(run_id, None)
        for request in self._pending(run_id):
            self._put(
                "runtime-request.updated", "runtime_requests", "runtime_request_id", {**request, "status": "cancelled"}
            )
            item = self.projection.turn_items[request["turn_item_id"]]
            self._set_item(item, status="cancelled")
        for item in self.projection.run_items(run_id):
            if item["status"] in ("pending", "running", "waiting") and item["attempt_id"] == attempt["attempt_id"]:
                self._set_item(item, status="interrupted" if status == "interrupted" else "failed")
        if status == "interrupted" and run["interrupt_requested"] and restart is None:
            self._new_item(run_id, "run_interrupt_result", "completed", {"status": status})
        turn_id = attempt["provider_turn_id"]
        error = None
        if signal.error is not None or signal.error_type is not None:
            error = {"type": signal.error_type or "runtime_error", "message": signal.error or ""}
        if self.projection.provider_turns[turn_id]["status"] not in TERMINAL_RUN_STATUSES:
            # (An HTTP loop may end its run after its last provider turn ended: an output tool, the
            # loop limit, the end of a capture. That turn keeps its own outcome.)
            changes: dict[str, Any] = {"status": status, "error": error}
            if signal.stop_reason is not None:
                changes["stop_reason"] = signal.stop_reason
            self._update("provider-turn.updated", "provider_turns", "provider_turn_id", turn_id, **changes)
        self._node({**self.projection.nodes[attempt["root_node_id"]], "status": status})
        self._provider_thread(thread_id, status="idle")
        self._session(thread_id, "ready")
        if restart is not None:
            self._attempt(attempt["attempt_id"], status="superseded")
            self._start_attempt(run_id, "steering_restart", text=restart)
            return
        self._attempt(attempt["attempt_id"], status=status)
        ending: dict[str, Any] = {"status": status, "error": error}
        if signal.stop_reason is not None:
            ending["stop_reason"] = signal.stop_reason
        ending.update(signal.detail)
        self._run(run_id, **ending)
        queued = [r for r in self.projection.thread_runs(thread_id) if r["status"] == "queued"]
        if queued:
            self._start_attempt(queued[0]["run_id"], "initial")
