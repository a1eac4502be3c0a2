"""One agent run, whichever provider serves it: ids, the event log, retries, tools, the outcome."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from agent_app.events import EventLog
from agent_app.retry import RetryPolicy, classify
from agent_app.tools import Tool, ToolError, by_name

T = TypeVar("T")


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: dict[str, Any]
    output: str
    ok: bool


@dataclass(frozen=True)
class RunResult:
    run_id: str
    text: str
    tool_calls: list[ToolCall]
    turns: int


class RunFailed(Exception):
    """The run ended without an answer; ``run.failed`` is the log's last event."""

    def __init__(self, run_id: str, error: str) -> None:
        super().__init__(error)
        self.run_id = run_id
        self.error = error


class Run:
    """Bookkeeping for one run: every event it emits carries its ``run_id``."""

    def __init__(
        self, log: EventLog, retry: RetryPolicy, tools: Sequence[Tool], *, provider: str, model: str, prompt: str
    ) -> None:
        self.run_id = uuid.uuid4().hex
        self.log = log
        self.retry = retry
        self.tools = by_name(tools)
        self.tool_calls: list[ToolCall] = []
        self.emit("run.started", provider=provider, model=model, prompt=prompt)

    def emit(self, type: str, **fields: Any) -> None:
        self.log.emit(type, self.run_id, **fields)

    async def request(self, turn: int, send: Callable[[int], Awaitable[T]]) -> T:
        """``send(attempt)`` until it succeeds, retrying transient failures as the policy allows."""
        attempt = 1
        while True:
            self.emit("request.sent", turn=turn, attempt=attempt)
            try:
                return await send(attempt)
            except Exception as exc:
                failure = classify(exc)
                retry = self.retry.should_retry(attempt, failure)
                delay = self.retry.delay(attempt, failure) if retry else None
                self.emit(
                    "request.failed",
                    turn=turn,
                    attempt=attempt,
                    error=failure.error,
                    status=failure.status,
                    retry=retry,
                    delay_s=delay,
                )
                if delay is None:
                    if failure.retryable:
                        raise self.fail(f"gave up after {attempt} attempts: {failure.error}", turn) from exc
                    raise self.fail(failure.error, turn) from exc
                await self.retry.sleep(delay)
                attempt += 1

    def call_tool(self, turn: int, call_id: str, name: str, arguments: Mapping[str, Any]) -> ToolCall:
        """Run one tool the model asked for; a failing tool becomes an error result, not a failed run."""
        self.emit("tool.called", turn=turn, call_id=call_id, name=name, arguments=dict(arguments))
        tool = self.tools.get(name)
        try:
            if tool is None:
                raise ToolError(f"unknown tool {name!r}")
            output, ok = tool.call(arguments), True
        except ToolError as exc:
            output, ok = f"error: {exc}", False
        self.emit("tool.result", turn=turn, call_id=call_id, name=name, ok=ok, output=output)
        call = ToolCall(call_id, name, dict(arguments), output, ok)
        self.tool_calls.append(call)
        return call

    def complete(self, text: str, turns: int) -> RunResult:
        self.emit("run.completed", turns=turns, text=text)
        return RunResult(self.run_id, text, list(self.tool_calls), turns)

    def fail(self, error: str, turns: int) -> RunFailed:
        self.emit("run.failed", turns=turns, error=error)
        return RunFailed(self.run_id, error)
