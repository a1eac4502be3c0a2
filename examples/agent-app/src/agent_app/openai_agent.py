"""The travel desk on OpenAI Responses: a streaming function-calling loop over ``AsyncOpenAI``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from typing import Any

import openai
from openai.types.responses import (
    FunctionToolParam,
    Response,
    ResponseCompletedEvent,
    ResponseErrorEvent,
    ResponseFailedEvent,
    ResponseIncompleteEvent,
    ResponseTextDeltaEvent,
)

from agent_app.events import EventLog
from agent_app.retry import RetryPolicy, StreamError
from agent_app.run import Run, RunResult
from agent_app.tools import Tool, travel_tools

INSTRUCTIONS = (
    "You are the travel desk assistant. Answer in one or two sentences. "
    "Use the tools for exchange rates and country facts."
)


class ResponsesAgent:
    """Ask the model, run the functions it calls, send their output back, until it answers.

    The conversation is sent in full each turn (no ``previous_response_id``), so it works the
    same with ``store=False``.
    """

    provider = "openai"

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str = "gpt-4o",
        tools: Sequence[Tool] | None = None,
        max_turns: int = 8,
        retry: RetryPolicy | None = None,
        log: EventLog | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.tools = list(tools) if tools is not None else travel_tools()
        self.max_turns = max_turns
        self.retry = retry or RetryPolicy()
        self.log = log or EventLog()

    def tool_params(self) -> list[FunctionToolParam]:
        return [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": True,
            }
            for t in self.tools
        ]

    async def run(self, prompt: str, *, customer_id: str | None = None) -> RunResult:
        """Answer ``prompt``; raises :class:`~agent_app.run.RunFailed` when no answer comes."""
        run = Run(self.log, self.retry, self.tools, provider=self.provider, model=self.model, prompt=prompt)
        items: list[Any] = [{"role": "user", "content": prompt}]
        for turn in range(1, self.max_turns + 1):
            response = await run.request(turn, partial(self._stream, run, turn, items, customer_id))
            usage = response.usage
            run.emit(
                "turn.completed",
                turn=turn,
                stop_reason=response.status,
                message_id=response.id,
                usage={"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens} if usage else None,
            )
            if response.status == "incomplete":
                reason = response.incomplete_details.reason if response.incomplete_details else None
                raise run.fail(f"the response is incomplete: {reason}", turn)
            calls = [item for item in response.output if item.type == "function_call"]
            if not calls:
                return run.complete(response.output_text, turn)
            items += response.output
            for call in calls:
                result = run.call_tool(turn, call.call_id, call.name, json.loads(call.arguments or "{}"))
                items.append({"type": "function_call_output", "call_id": call.call_id, "output": result.output})
        raise run.fail(f"no answer after {self.max_turns} turns", self.max_turns)

    async def _stream(self, run: Run, turn: int, items: list[Any], customer_id: str | None, attempt: int) -> Response:
        stream = await self.client.responses.create(
            model=self.model,
            instructions=INSTRUCTIONS,
            input=items,
            tools=self.tool_params(),
            safety_identifier=customer_id if customer_id else openai.omit,
            stream=True,
        )
        final: Response | None = None
        async with stream:
            async for event in stream:
                match event:
                    case ResponseTextDeltaEvent():
                        run.emit("text.delta", turn=turn, attempt=attempt, text=event.delta)
                    case ResponseCompletedEvent() | ResponseIncompleteEvent():
                        final = event.response
                    case ResponseFailedEvent():
                        error = event.response.error
                        raise StreamError(error.code if error else None, error.message if error else "response.failed")
                    case ResponseErrorEvent():
                        raise StreamError(event.code, event.message)
        if final is None:
            raise StreamError("stream_truncated", "the stream ended before response.completed")
        return final
