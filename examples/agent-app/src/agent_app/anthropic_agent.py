"""The travel desk on Anthropic Messages: a streaming tool loop over ``AsyncAnthropic``."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import anthropic
from anthropic.types import Message, ToolParam, ToolSearchToolBm25_20251119Param, ToolUnionParam

from agent_app.events import EventLog
from agent_app.retry import RetryPolicy
from agent_app.run import Run, RunResult
from agent_app.tools import Tool, travel_tools

SYSTEM_PROMPT = (
    "You are the travel desk assistant. Answer in two or three sentences. "
    "Use the tools for exchange rates and country facts; never guess a rate."
)
TOOL_SEARCH = ToolSearchToolBm25_20251119Param(type="tool_search_tool_bm25_20251119", name="tool_search_tool_bm25")


class AnthropicAgent:
    """Ask Claude, run the tools it calls, send the results back, until it ends its turn.

    The tool catalogue grows, so tools are deferred and found with Anthropic's tool search
    (``tool_search=False`` sends them all up front).
    """

    provider = "anthropic"

    def __init__(
        self,
        client: anthropic.AsyncAnthropic,
        *,
        model: str = "claude-sonnet-4-6",
        tools: Sequence[Tool] | None = None,
        tool_search: bool = True,
        max_tokens: int = 4096,
        max_turns: int = 8,
        retry: RetryPolicy | None = None,
        log: EventLog | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.tools = list(tools) if tools is not None else travel_tools()
        self.tool_search = tool_search
        self.max_tokens = max_tokens
        self.max_turns = max_turns
        self.retry = retry or RetryPolicy()
        self.log = log or EventLog()

    def tool_params(self) -> list[ToolUnionParam]:
        params: list[ToolUnionParam] = []
        for tool in self.tools:
            param = ToolParam(name=tool.name, description=tool.description, input_schema=tool.parameters)
            if self.tool_search:
                param["defer_loading"] = True
            params.append(param)
        if self.tool_search:
            params.append(TOOL_SEARCH)
        return params

    async def run(self, prompt: str, *, customer_id: str | None = None) -> RunResult:
        """Answer ``prompt``; raises :class:`~agent_app.run.RunFailed` when no answer comes."""
        run = Run(self.log, self.retry, self.tools, provider=self.provider, model=self.model, prompt=prompt)
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        for turn in range(1, self.max_turns + 1):
            message = await run.request(turn, partial(self._stream, run, turn, messages, customer_id))
            run.emit(
                "turn.completed",
                turn=turn,
                stop_reason=message.stop_reason,
                message_id=message.id,
                usage={"input_tokens": message.usage.input_tokens, "output_tokens": message.usage.output_tokens},
            )
            if message.stop_reason in ("end_turn", "stop_sequence"):
                text = "".join(block.text for block in message.content if block.type == "text")
                return run.complete(text, turn)
            if message.stop_reason not in ("tool_use", "pause_turn"):
                raise run.fail(f"the model stopped: {message.stop_reason}", turn)
            # The assistant turn goes back as it came, server tool blocks included.
            messages.append({"role": "assistant", "content": message.content})
            results = [
                run.call_tool(turn, block.id, block.name, block.input)
                for block in message.content
                if block.type == "tool_use"
            ]
            if results:
                messages.append(
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": r.call_id, "content": r.output, "is_error": not r.ok}
                            for r in results
                        ],
                    }
                )
        raise run.fail(f"no answer after {self.max_turns} turns", self.max_turns)

    async def _stream(
        self, run: Run, turn: int, messages: list[dict[str, Any]], customer_id: str | None, attempt: int
    ) -> Message:
        async with self.client.messages.stream(
            model=self.model,
            max_tokens=self.max_tokens,
            system=SYSTEM_PROMPT,
            tools=self.tool_params(),
            messages=messages,  # type: ignore[arg-type]
            metadata={"user_id": customer_id} if customer_id else anthropic.omit,
        ) as stream:
            async for event in stream:
                if event.type == "text":
                    run.emit("text.delta", turn=turn, attempt=attempt, text=event.text)
            return await stream.get_final_message()
