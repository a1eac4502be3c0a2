"""Commands: what a user (or a scenario) asks the orchestrator to do.

Commands are the only way into the core. Each carries a ``command_id``; a repeated id returns the
first result without doing anything again (idempotency, as t3code's command receipts).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: str | None = None


class ThreadCreate(_Command):
    """Create a conversation thread."""

    type: Literal["thread.create"] = "thread.create"
    thread_id: str | None = None
    title: str | None = None


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
    mode: Literal["start_immediately"] = "start_immediately"
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


Command = Annotated[ThreadCreate | MessageDispatch, Field(discriminator="type")]
COMMAND_ADAPTER: TypeAdapter[ThreadCreate | MessageDispatch] = TypeAdapter(Command)
