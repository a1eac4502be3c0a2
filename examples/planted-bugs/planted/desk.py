"""The desk: one conversation thread, an append-only event store, a runtime session and the tool loop.

A run (:meth:`Desk.ask`) streams Claude's answer with ``AsyncAnthropic``, runs the tools it asks
for in the runtime, retries what the provider gets wrong, and writes everything it does to the
thread's :class:`EventStore`, which the UI follows live. Every event is a dict
``{"seq", "type", "thread_id", ...}``; the store numbers them.

======================  =======================================================================
``run.started``         ``run_id``, ``question``
``session.opened``      ``session_id``, ``run_id``; ``session.closed``: ``session_id``
``runtime.initialize``  ``session_id``: the session's initialize round trip
``request.sent``        ``run_id``, ``turn``, ``attempt``: one request to the provider
``text.delta``          ``run_id``, ``turn``, ``attempt``, ``text``: answer text as it streams
``request.failed``      ``run_id``, ``turn``, ``attempt``, ``error``, ``status``, ``retry``, ``delay_s``
``text.reset``          ``run_id``, ``turn``, ``attempt``: the UI drops the failed attempt's text
``turn.completed``      ``run_id``, ``turn``, ``stop_reason``, ``message_id``, ``text``
``tool.called``         ``run_id``, ``call_id``, ``name``, ``arguments``; ``tool.result``: ``ok``, ``output``
``run.heartbeat``       ``run_id``: the run is alive (every second while it runs)
``thread.titled``       ``title``
``run.completed``       ``run_id``, ``text``, ``turns``; ``run.failed``: ``run_id``, ``error``
======================  =======================================================================

Beside this module: :mod:`planted.store` (the event store), :mod:`planted.runtime` (the tool
host and a run's session with it), :mod:`planted.retry` (which failures to retry, and when).

Seven known bugs can be switched back on, one name each in ``Desk(bugs=...)`` (see :data:`BUGS`
and the README); with none, the desk is the version the team shipped after fixing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anthropic
from anthropic.lib.streaming import AsyncMessageStream
from anthropic.types import Message

from planted.retry import AttemptFailed, RetryPolicy, StreamTruncated, classify
from planted.runtime import FakeRuntime, RuntimeSession, travel_tools
from planted.store import EventStore

BUGS = frozenset(
    {
        "read_then_subscribe",
        "duplicate_terminal",
        "non_atomic_initialize",
        "leaked_task",
        "session_leak",
        "no_retry_mid_stream",
        "repeat_partial_text",
    }
)
"""The planted bugs, each behind its own switch."""

MODEL = "claude-sonnet-4-6"
MAX_TOKENS = 4096
MAX_TURNS = 8
HEARTBEAT_S = 1.0
TOOL_TIMEOUT_S = 30.0
SYSTEM_PROMPT = (
    "You are the travel desk assistant. Answer in two or three sentences. "
    "Use the tools for exchange rates and country facts; never guess a rate."
)


def _schema(**properties: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"type": kind} for name, kind in properties.items()},
        "required": list(properties),
        "additionalProperties": False,
    }


# The tool catalogue grows, so tools are deferred and found with Anthropic's tool search.
TOOL_PARAMS: list[dict[str, Any]] = [
    {
        "name": "get_exchange_rate",
        "description": "Look up the current exchange rate between two currencies.",
        "input_schema": _schema(from_currency="string", to_currency="string"),
        "defer_loading": True,
    },
    {
        "name": "get_capital",
        "description": "The capital city of a country.",
        "input_schema": _schema(country="string"),
        "defer_loading": True,
    },
    {
        "name": "get_power_plug",
        "description": "The power plug type and mains voltage used in a country.",
        "input_schema": _schema(country="string"),
        "defer_loading": True,
    },
    {"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"},
]


class RunFailed(Exception):
    def __init__(self, run_id: str, error: str) -> None:
        super().__init__(error)
        self.run_id = run_id


@dataclass(frozen=True)
class RunResult:
    run_id: str
    text: str


@dataclass
class Run:
    run_id: str
    status: str = "running"
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the terminal event is stored."""


@dataclass
class Attempt:
    turn: int
    number: int
    deltas: int = 0


class Desk:
    """Answers questions on one thread; see the module docstring."""

    def __init__(
        self,
        client: anthropic.AsyncAnthropic,
        *,
        tools: Mapping[str, Callable[..., Any]] | None = None,
        retry: RetryPolicy | None = None,
        thread_id: str = "thread-1",
        bugs: frozenset[str] = frozenset(),
    ) -> None:
        unknown = sorted(set(bugs) - BUGS)
        if unknown:
            raise ValueError(f"unknown bug switch(es) {', '.join(unknown)}; known: {', '.join(sorted(BUGS))}")
        self.client = client
        self.bugs = frozenset(bugs)
        self.retry = retry or RetryPolicy()
        self.runtime = FakeRuntime(tools if tools is not None else travel_tools())
        self.store = EventStore(thread_id, read_then_subscribe="read_then_subscribe" in self.bugs)
        self.checkpoints: dict[str, str] = {}
        self._numbers = itertools.count(1)

    async def ask(self, question: str, *, customer_id: str | None = None) -> RunResult:
        """Answer ``question``; raises :class:`RunFailed` when no answer comes."""
        number = next(self._numbers)
        run = Run(f"run-{number}")
        started = await self.store.append("run.started", run_id=run.run_id, question=question)
        session = RuntimeSession(
            f"session-{number}", self.runtime, self.store, atomic="non_atomic_initialize" not in self.bugs
        )
        await session.open(run.run_id)
        heartbeat = asyncio.create_task(self._heartbeat(run))
        watcher = asyncio.create_task(self._watch(run, after=started["seq"]))
        naming = asyncio.create_task(self._name_thread(session, question))
        failed = False
        try:
            await session.ensure_initialized()
            answer, turns = await self._converse(run, session, question, customer_id)
            await self._finalize(run, "run.completed", text=answer, turns=turns)
            return RunResult(run.run_id, answer)
        except Exception as exc:
            failed = True
            error = classify(exc.cause).error if isinstance(exc, AttemptFailed) else f"{type(exc).__name__}: {exc}"
            await self._finalize(run, "run.failed", error=error)
            raise RunFailed(run.run_id, error) from exc
        finally:
            # Stop what the run started, then close its session.
            watcher.cancel()
            stopping = [watcher, naming]
            # Planted bug (leaked_task): the error path forgets the heartbeat.
            if not (failed and "leaked_task" in self.bugs):
                heartbeat.cancel()
                stopping.append(heartbeat)
            await asyncio.gather(*stopping, return_exceptions=True)
            # Planted bug (session_leak): the error path leaves the session open.
            if not (failed and "session_leak" in self.bugs):
                await session.close()

    async def close(self) -> None:
        await self.store.close()

    # -- the side paths of a run ----------------------------------------------------------------

    async def _heartbeat(self, run: Run) -> None:
        """Tell the UI the run is alive while it waits on the provider or a tool: until cancelled."""
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            if run.status == "running":
                await self.store.append("run.heartbeat", run_id=run.run_id)

    async def _watch(self, run: Run, *, after: int) -> None:
        """Finish the run as soon as its answer is in the store, so the UI sees it done at once."""
        async with contextlib.aclosing(self.store.follow(after)) as events:
            async for event in events:
                if event.get("run_id") != run.run_id:
                    continue
                if event["type"] in ("run.completed", "run.failed"):
                    return
                if event["type"] == "turn.completed" and event["stop_reason"] in ("end_turn", "stop_sequence"):
                    # The event holds the answer; the run's log says how many turns it took.
                    log = await self.store.read(after)
                    turns = sum(1 for e in log if e["type"] == "turn.completed" and e.get("run_id") == run.run_id)
                    await self._finalize(run, "run.completed", text=event["text"], turns=turns)
                    return

    async def _name_thread(self, session: RuntimeSession, question: str) -> None:
        """Name the thread after its first question (once: a named thread keeps its name)."""
        if any(event["type"] == "thread.titled" for event in await self.store.read()):
            return
        title = await session.title(question)
        await self.store.append("thread.titled", title=title)

    async def _finalize(self, run: Run, outcome: str, **fields: Any) -> None:
        """Store the run's one terminal event, whichever path gets here first."""
        if run.status != "running":
            await run.finished.wait()
            return
        if "duplicate_terminal" in self.bugs:
            # Planted bug (duplicate_terminal): checked, then the checkpoint is awaited before the
            # status is set; a second path can pass the check meanwhile.
            await self._checkpoint(run, outcome)
            run.status = outcome
        else:
            run.status = outcome
            await self._checkpoint(run, outcome)
        await self.store.append(outcome, run_id=run.run_id, **fields)
        run.finished.set()

    async def _checkpoint(self, run: Run, outcome: str) -> None:
        await asyncio.sleep(0)  # the checkpoint write
        self.checkpoints[run.run_id] = outcome

    # -- the tool loop ----------------------------------------------------------------------------

    async def _converse(
        self, run: Run, session: RuntimeSession, question: str, customer_id: str | None
    ) -> tuple[str, int]:
        messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
        for turn in range(1, MAX_TURNS + 1):
            message = await self._request(run, turn, messages, customer_id)
            text = "".join(block.text for block in message.content if block.type == "text")
            await self.store.append(
                "turn.completed",
                run_id=run.run_id,
                turn=turn,
                stop_reason=message.stop_reason,
                message_id=message.id,
                text=text,
            )
            if message.stop_reason in ("end_turn", "stop_sequence"):
                return text, turn
            if message.stop_reason not in ("tool_use", "pause_turn"):
                raise RuntimeError(f"the model stopped: {message.stop_reason}")
            # The assistant turn goes back as it came, server tool blocks included.
            messages.append({"role": "assistant", "content": message.content})
            results = []
            for block in message.content:
                if block.type == "tool_use":
                    output = await self._call_tool(run, session, turn, block.id, block.name, block.input)
                    results.append(
                        {"type": "tool_result", "tool_use_id": block.id, "content": output, "is_error": False}
                    )
            if results:
                messages.append({"role": "user", "content": results})
        raise RuntimeError(f"no answer after {MAX_TURNS} turns")

    async def _call_tool(
        self, run: Run, session: RuntimeSession, turn: int, call_id: str, name: str, arguments: Any
    ) -> str:
        await self.store.append(
            "tool.called", run_id=run.run_id, turn=turn, call_id=call_id, name=name, arguments=dict(arguments)
        )
        try:
            async with asyncio.timeout(TOOL_TIMEOUT_S):
                output = await session.call_tool(name, arguments)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            await self.store.append(
                "tool.result", run_id=run.run_id, turn=turn, call_id=call_id, name=name, ok=False, output=error
            )
            raise
        await self.store.append(
            "tool.result", run_id=run.run_id, turn=turn, call_id=call_id, name=name, ok=True, output=output
        )
        return output

    async def _request(self, run: Run, turn: int, messages: list[dict[str, Any]], customer_id: str | None) -> Message:
        """One turn's request, attempted until it succeeds or the policy gives up."""
        number = 0
        while True:
            number += 1
            attempt = Attempt(turn, number)
            await self.store.append("request.sent", run_id=run.run_id, turn=turn, attempt=number)
            try:
                return await self._attempt(run, attempt, messages, customer_id)
            except AttemptFailed as exc:
                failure = classify(exc.cause)
                retryable = failure.retryable
                if exc.started and "no_retry_mid_stream" in self.bugs:
                    retryable = False  # Planted bug: only a failure to open the stream is retried.
                retry = retryable and number < self.retry.max_attempts
                delay = self.retry.delay(number, failure) if retry else None
                await self.store.append(
                    "request.failed",
                    run_id=run.run_id,
                    turn=turn,
                    attempt=number,
                    error=failure.error,
                    status=failure.status,
                    retry=retry,
                    delay_s=delay,
                )
                if attempt.deltas and "repeat_partial_text" not in self.bugs:
                    # The UI drops what this attempt showed; the next one streams the answer again.
                    # (Planted bug repeat_partial_text: no reset, so the UI shows it twice.)
                    await self.store.append("text.reset", run_id=run.run_id, turn=turn, attempt=number)
                if delay is None:
                    raise
                await asyncio.sleep(delay)

    async def _attempt(
        self, run: Run, attempt: Attempt, messages: list[dict[str, Any]], customer_id: str | None
    ) -> Message:
        async with contextlib.AsyncExitStack() as stack:
            try:
                stream = await stack.enter_async_context(self._stream(messages, customer_id))
            except Exception as exc:  # the request itself: an error status, a refused connection
                raise AttemptFailed(exc, started=False) from exc
            try:
                return await self._read(run, attempt, stream)
            except Exception as exc:  # the stream broke, reported an error, or ended early
                raise AttemptFailed(exc, started=True) from exc

    def _stream(self, messages: list[dict[str, Any]], customer_id: str | None) -> Any:
        return self.client.messages.stream(
            model=MODEL,
            max_tokens=MAX_TOKENS,
            system=SYSTEM_PROMPT,
            tools=TOOL_PARAMS,  # type: ignore[arg-type]
            messages=messages,  # type: ignore[arg-type]
            metadata={"user_id": customer_id} if customer_id else anthropic.omit,
        )

    async def _read(self, run: Run, attempt: Attempt, stream: AsyncMessageStream[Any]) -> Message:
        stopped = False
        async for event in stream:
            if event.type == "text":
                attempt.deltas += 1
                await self.store.append(
                    "text.delta", run_id=run.run_id, turn=attempt.turn, attempt=attempt.number, text=event.text
                )
            elif event.type == "message_stop":
                stopped = True
        if not stopped:
            raise StreamTruncated("the stream ended before message_stop")
        return stream.current_message_snapshot
