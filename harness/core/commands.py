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


Command = Annotated[ThreadCreate | MessageDispatch, Field(discriminator="type")]
COMMAND_ADAPTER: TypeAdapter[ThreadCreate | MessageDispatch] = TypeAdapter(Command)
