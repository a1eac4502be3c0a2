"""Commands: what a user (or a scenario) asks the orchestrator to do.

Commands are the only way into the core. Each carries a ``command_id``; a repeated id returns the
first result without doing anything again (idempotency, as t3code's command receipts).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from harness.adapters.runtime import RuntimeSettings


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: str | None = None


class ThreadCreate(_Command):
    """Create a conversation thread."""

    type: Literal["thread.create"] = "thread.create"
    thread_id: str | None = None
    title: str | None = None
    #: Agent runtimes only (Codex app-server, Claude Agent SDK): model, cwd and policy the
    #: runtime adapter builds its outbound frames from.
    runtime: RuntimeSettings | None = None


DispatchMode = Literal["start_immediately", "queue_after_active", "steer_active", "restart_active"]


class MessageDispatch(_Command):
    """Send a user message to a thread and run the agent loop until the model stops.

    ``content`` gives the provider's raw user content verbatim (for recordings whose client sent
    something other than one text block); otherwise ``text`` becomes one text block.
    """

    type: Literal["message.dispatch"] = "message.dispatch"
    thread_id: str | None = None
    message_id: str | None = None
    text: str = ""
    content: Any = None
    #: What to do when the thread has an active run (agent runtimes; HTTP replays start only):
    #: ``start_immediately`` (the thread must be idle), ``queue_after_active`` (start when the
    #: active run ends), ``steer_active`` (add the message to the active turn) or
    #: ``restart_active`` (interrupt the active turn and start a new attempt of the same run).
    mode: DispatchMode = "start_immediately"
    #: For steer_active/restart_active: the run meant (default: the thread's active run).
    target_run_id: str | None = None
    #: Provider error types after which the app keeps going: the finished tool calls the failed
    #: response carries (Groq hands back a rejected call in ``tool_use_failed``) join the
    #: conversation and run, and the loop sends the next request, as pydantic-ai does.
    recover: list[str] = Field(default_factory=list)
    #: Request params for this run only, replacing the scenario's ``request.params`` (a thread
    #: whose runs used different models, instructions or tools).
    params: dict[str, Any] | None = None
    # -- begin: background-mode resumption (openai.responses) ----------------------------------
    #: After the run's first response, re-attach to it as a background-mode client does: the
    #: adapter's resume request (``GET /v1/responses/<id>?starting_after=N&stream=true``), whose
    #: stream is read and reconciled with that response. Only for adapters that can resume.
    resume_starting_after: int | None = Field(default=None, ge=0)
    # -- end: background-mode resumption -------------------------------------------------------


class RunInterrupt(_Command):
    """Ask the runtime to stop a run's active turn; the run ends only when the runtime says so."""

    type: Literal["run.interrupt"] = "run.interrupt"
    thread_id: str | None = None
    #: Default: the thread's active run.
    run_id: str | None = None


class RuntimeRequestRespond(_Command):
    """Answer a runtime request: an approval (``decision``) or a user-input question (``answers``)."""

    type: Literal["runtime-request.respond"] = "runtime-request.respond"
    thread_id: str | None = None
    #: Default: the thread's only pending request.
    request_id: str | None = None
    decision: Literal["accept", "accept_for_session", "decline", "cancel"] | None = None
    #: question id -> the chosen answers.
    answers: dict[str, list[str]] | None = None

    @model_validator(mode="after")
    def _one_answer(self) -> RuntimeRequestRespond:
        if (self.decision is None) == (self.answers is None):
            raise ValueError("runtime-request.respond needs exactly one of decision and answers")
        return self


class ThreadFork(_Command):
    """Create ``target_thread_id`` as a fork of ``source_thread_id`` at its latest stable point.

    The fork inherits the source's history (visible in its projection) and continues on a native
    fork of the source's provider thread.
    """

    type: Literal["thread.fork"] = "thread.fork"
    source_thread_id: str
    target_thread_id: str
    title: str | None = None


class ThreadMergeBack(_Command):
    """Hand what happened in a fork back to the thread it was forked from.

    The fork's runs since the fork point are summarized into a context handoff that the target
    thread's next ``message.dispatch`` carries before its own text.
    """

    type: Literal["thread.merge_back"] = "thread.merge_back"
    source_thread_id: str
    target_thread_id: str


class ThreadRollback(_Command):
    """Drop the thread's last ``runs`` completed runs, in the app and in the provider thread."""

    type: Literal["thread.rollback"] = "thread.rollback"
    thread_id: str | None = None
    runs: int = Field(default=1, ge=1)


Command = Annotated[ThreadCreate | MessageDispatch, Field(discriminator="type")]
COMMAND_ADAPTER: TypeAdapter[ThreadCreate | MessageDispatch] = TypeAdapter(Command)

RuntimeCommandType = (
    ThreadCreate
    | MessageDispatch
    | RunInterrupt
    | RuntimeRequestRespond
    | ThreadFork
    | ThreadMergeBack
    | ThreadRollback
)
RuntimeCommand = Annotated[RuntimeCommandType, Field(discriminator="type")]
RUNTIME_COMMAND_ADAPTER: TypeAdapter[RuntimeCommandType] = TypeAdapter(RuntimeCommand)
