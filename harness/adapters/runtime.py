"""Agent-runtime adapters: the Codex app-server and the Claude Agent SDK, seen from the core.

An HTTP provider answers one request with one response; an agent runtime is a long-lived
conversation partner that runs its own tools, asks for approvals, streams items and decides when
a turn is over. Its adapter is therefore *stateful* and *bidirectional*:

* the core calls **intents** (:class:`RuntimeAdapter`: ``start_turn``, ``steer``, ``interrupt``,
  ``respond``, ``fork``, ``rollback``) and the adapter turns each into the protocol's outbound
  frames, built from the thread's :class:`RuntimeSettings` and the native ids it has learned;
* every inbound frame goes through :meth:`RuntimeAdapter.handle`, which reports what it means as
  provider-neutral **signals** (the dataclasses below) to the sink the core gave it.

Adapters never read clocks, files or the network: frames go through a :class:`RuntimeLink` (the
replay driver, in tests), so the same transcript always yields the same signals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from harness.replay.driver import Inbound
from harness.transcript import RuntimeExit

# -- runtime settings: what the app tells the runtime, per thread -----------------------------


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SandboxSettings(_Settings):
    """Where the runtime's own tools may write (Codex ``sandboxPolicy``)."""

    mode: Literal["read-only", "workspace-write", "danger-full-access"]
    network_access: bool = False
    writable_roots: list[str] = Field(default_factory=list)


class CollaborationMode(_Settings):
    """Codex ``collaborationMode``: plan mode and its instructions."""

    mode: Literal["plan", "default"]
    model: str | None = None
    reasoning_effort: str | None = None
    developer_instructions: str | None = None


ApprovalPolicy = Literal["never", "on-request", "on-failure", "untrusted"]


class RuntimeSettings(_Settings):
    """A thread's runtime settings; each adapter maps the fields its protocol has.

    Codex reads ``approval_policy`` (a policy name or ``{"granular": {flag: bool}}``),
    ``sandbox`` and ``collaboration_mode`` into every ``turn/start``. The Claude Agent SDK reads
    ``model``, ``tools`` (``"claude_code"`` for the preset or a list of tool names),
    ``permission_mode``, ``allowed_tools`` and ``disallowed_tools`` into every ``query.open``,
    and ``cwd`` into ``session.fork``. Unset fields are left out of the frames.
    """

    model: str | None = None
    cwd: str | None = None
    approval_policy: ApprovalPolicy | dict[str, dict[str, bool]] | None = None
    sandbox: SandboxSettings | None = None
    collaboration_mode: CollaborationMode | None = None
    tools: Literal["claude_code"] | list[str] | None = None
    permission_mode: Literal["default", "acceptEdits", "bypassPermissions", "plan", "dontAsk"] | None = None
    allowed_tools: list[str] | None = None
    disallowed_tools: list[str] | None = None


# -- signals: what an inbound frame meant ---------------------------------------------------

#: Turn item types, as t3code's TurnItem union names them.
TURN_ITEM_TYPES = frozenset(
    {
        "user_message",
        "assistant_message",
        "reasoning",
        "proposed_plan",
        "todo_list",
        "user_input_request",
        "file_change",
        "command_execution",
        "file_search",
        "web_search",
        "approval_request",
        "run_interrupt_request",
        "run_interrupt_result",
        "subagent",
        "dynamic_tool",
        "system",
    }
)

#: ``pending``: the item is not ready to run yet (an HTTP model's tool call whose arguments are
#: still streaming, or that waits for the harness's tool runner).
ItemStatus = Literal["pending", "running", "completed", "failed", "declined", "interrupted"]
TurnStatus = Literal["completed", "interrupted", "failed", "cancelled"]
RequestKind = Literal["command_approval", "file_change_approval", "tool_approval", "user_input"]


@dataclass(frozen=True, slots=True)
class ProviderThreadBound:
    """The runtime named the provider thread (Codex thread id, Claude session id) of an app thread."""

    thread_id: str
    native_id: str
    forked_from_native: str | None = None


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """The runtime began a provider turn of the app thread's current run; ``native_turn_id`` if it
    has one (a second signal may name it later), ``model`` if the provider says which answers.

    An agent runtime has one provider turn per attempt; an HTTP model API has one per request of
    its agent loop: a turn that has ended (:class:`ProviderTurnEnded`) is followed by a new one.
    """

    thread_id: str
    native_turn_id: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class ItemUpdated:
    """An item of the current turn started or changed; ``data`` holds its provider-neutral fields.

    ``data`` keys by type: ``text`` (messages, reasoning, plans), ``command``/``output``/
    ``exit_code`` (command_execution), ``changes`` (file_change), ``query`` (web_search),
    ``tool``/``input``/``output`` (tools), ``questions`` (user_input_request).
    """

    thread_id: str
    native_item_id: str
    item_type: str
    status: ItemStatus
    data: dict[str, Any] = field(default_factory=dict)
    parent_native_item_id: str | None = None


@dataclass(frozen=True, slots=True)
class ItemDelta:
    """A streamed fragment of an item's ``field`` (``text`` or ``output``)."""

    thread_id: str
    native_item_id: str
    item_type: str
    field: str
    delta: str


@dataclass(frozen=True, slots=True)
class PlanUpdated:
    """The runtime's plan for the current turn: a todo list (``steps``) or a proposed plan."""

    thread_id: str
    kind: Literal["todo_list", "proposed_plan"]
    steps: list[dict[str, Any]] = field(default_factory=list)
    markdown: str | None = None
    explanation: str | None = None


@dataclass(frozen=True, slots=True)
class RequestOpened:
    """The runtime asks the app something (an approval, a question) and waits for the answer."""

    thread_id: str
    native_request_id: str
    kind: RequestKind
    native_item_id: str | None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestResolved:
    """The runtime considers a request settled (answered, or cleared by the turn ending)."""

    thread_id: str
    native_request_id: str


@dataclass(frozen=True, slots=True)
class TurnUsage:
    """Token usage the runtime reported for the current turn."""

    thread_id: str
    usage: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ConversationHead:
    """The newest native message of the provider thread (what fork and rollback point at)."""

    thread_id: str
    native_ref: str


@dataclass(frozen=True, slots=True)
class ProviderTurnEnded:
    """One provider turn of the current run ended and the run goes on (an HTTP agent loop sends
    its next request); ``error`` is ``{"type", "message", ...}`` for a turn that failed."""

    thread_id: str
    status: TurnStatus
    stop_reason: str | None = None
    error: dict[str, Any] | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TurnEnded:
    """The runtime's own word that the current turn is over: the only way a run becomes terminal.

    ``error`` says why in words, ``error_type`` names it (``runtime_error`` when not given: an
    HTTP provider's ``overloaded_error``, ``transcript_exhausted``, ...); ``detail`` adds keys to
    the run's snapshot (``ended_by_tool``, ``recording_ended``, ``frames_discarded``, ``rule``).
    """

    thread_id: str
    status: TurnStatus
    error: str | None = None
    native_turn_id: str | None = None
    error_type: str | None = None
    stop_reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SessionExited:
    """The runtime process (Codex app-server, Claude query) ended; ``thread_ids`` it served."""

    thread_ids: tuple[str, ...]
    status: Literal["success", "error", "cancelled"]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FrameIgnored:
    """A frame the adapter does not act on: ``known`` ones are noise, unknown ones are counted."""

    thread_id: str | None
    frame: Any
    reason: str
    known: bool


@dataclass(frozen=True, slots=True)
class RuleBroken:
    """An inbound frame broke a named protocol rule; ``fatal`` (when known) if it ended the
    response, ``entry_index`` the transcript entry that broke it."""

    thread_id: str | None
    rule: str
    message: str
    fatal: bool | None = None
    entry_index: int | None = None


Signal = (
    ProviderThreadBound
    | TurnStarted
    | ProviderTurnEnded
    | ItemUpdated
    | ItemDelta
    | PlanUpdated
    | RequestOpened
    | RequestResolved
    | TurnUsage
    | ConversationHead
    | TurnEnded
    | SessionExited
    | FrameIgnored
    | RuleBroken
)
SignalSink = Callable[[Signal], None]


# -- what the core tells the adapter ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThreadContext:
    """The core's view of one app thread, enough to build frames after an orchestrator restart.

    ``native_thread_id`` and ``heads`` come from the durable projection, so a fresh adapter in a
    second orchestrator instance can resume the provider thread. ``heads`` is the conversation
    head after each kept (not rolled back) run, oldest first.
    """

    thread_id: str
    settings: RuntimeSettings
    native_thread_id: str | None = None
    heads: tuple[str | None, ...] = ()
    native_turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class TurnOptions:
    """What a turn of an HTTP model API takes beyond its text (``message.dispatch`` fields):
    provider-native ``content``, request ``params`` for this run, the error types the app
    ``recover``s from, and ``resume_starting_after`` (OpenAI Responses background mode)."""

    content: Any = None
    params: dict[str, Any] | None = None
    recover: tuple[str, ...] = ()
    resume_starting_after: int | None = None


@dataclass(frozen=True, slots=True)
class RequestResponse:
    """The app's answer to a runtime request.

    ``decision``: ``accept``, ``accept_for_session``, ``decline`` or ``cancel`` for approvals;
    ``answers``: question id -> chosen answers for user-input requests.
    """

    decision: Literal["accept", "accept_for_session", "decline", "cancel"] | None = None
    answers: dict[str, list[str]] | None = None


class RuntimeLink(Protocol):
    """The byte-free transport to a runtime: the replay driver, in tests."""

    def send(self, frame: Any) -> None: ...

    def receive(self) -> Inbound | RuntimeExit | None:
        """The next inbound frame, the runtime's exit, or None when the app must act first."""
        ...


class RuntimeAdapter(Protocol):
    """One protocol's side of an agent runtime; see the module docstring."""

    protocol: str
    provider: str

    def bind(self, link: RuntimeLink, sink: SignalSink) -> None:
        """Attach the transport and the core's signal sink; called once before any intent."""
        ...

    def start_turn(self, thread: ThreadContext, text: str) -> None:
        """Start a turn with ``text`` on the thread's provider thread (creating or resuming it)."""
        ...

    def steer(self, thread: ThreadContext, text: str) -> None:
        """Add ``text`` to the thread's active turn."""
        ...

    def interrupt(self, thread: ThreadContext) -> None:
        """Ask the runtime to stop the thread's active turn (it confirms with :class:`TurnEnded`)."""
        ...

    def respond(self, thread: ThreadContext, native_request_id: str, response: RequestResponse) -> None:
        """Answer a pending runtime request."""
        ...

    def fork(self, source: ThreadContext, target: ThreadContext) -> None:
        """Fork ``source``'s provider thread for the new app thread ``target`` (a ProviderThreadBound follows)."""
        ...

    def rollback(self, thread: ThreadContext, turns: int) -> None:
        """Drop the last ``turns`` turns of the provider thread (``thread.heads`` is already trimmed)."""
        ...

    def handle(self, inbound: Inbound) -> None:
        """Interpret one inbound frame, reporting signals to the sink."""
        ...

    def exited(self, exit_: RuntimeExit) -> None:
        """The runtime process ended (a ``runtime_exit`` entry)."""
        ...


# Optional methods an adapter may have (the core looks them up; agent runtimes have none):
#
# * ``configure_turn(thread_id, options: TurnOptions)``: the options of the turn about to start;
#   without it, a ``message.dispatch`` that gives any is refused with a named error.
# * ``wants_inbound() -> bool``: whether the core should read the next inbound frame now (an HTTP
#   agent loop stops reading where its response ends, so frames nobody asked for stay unread).
# * ``idle() -> bool``: the link has nothing more for now (or the adapter wants nothing more);
#   the adapter finishes what it can (an HTTP loop runs its tools and sends its next request) and
#   returns True if it sent something, so the core reads on.
