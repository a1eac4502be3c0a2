"""Simulation targets for the simulator's own tests: a tiny async client over a real two-request
Anthropic recording, correct or with one planted bug each (chosen by the target's name)."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import anthropic
import httpx2

import harness
from harness.transcript import ExpectOutbound, read_transcript

TRANSCRIPT = Path(__file__).resolve().parents[2] / "transcripts/parity/capital_france.anthropic.ndjson"
REQUESTS = [
    copy.deepcopy(e.frame["body"]) for e in read_transcript(TRANSCRIPT).entries if isinstance(e, ExpectOutbound)
]
RULES = {
    "rules": [
        {
            "id": "t.run.one_outcome",
            "kind": "single_terminal",
            "key": "$.run",
            "terminal": ["run.completed", "run.failed"],
        },
        {
            "id": "t.text.shown_once",
            "kind": "text",
            "key": "$.run",
            "delta": ["text.delta"],
            "reset": ["text.reset"],
            "final": ["run.completed"],
        },
    ]
}
RETRYABLE = (anthropic.APIError, httpx2.TransportError)


class Incomplete(Exception):
    """A stream that ended without message_stop."""


async def _turn(sim: harness.Sim, client: Any, body: dict[str, Any], *, mid_stream_retry: bool, reset: bool) -> str:
    for attempt in range(1, 4):
        started = False
        try:
            stream = await client.messages.create(**body)
            started = True
            text, stopped = "", False
            async for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    text += event.delta.text
                    sim.record({"type": "text.delta", "run": 1, "text": event.delta.text})
                stopped = stopped or event.type == "message_stop"
            if not stopped:
                raise Incomplete(f"attempt {attempt} ended without message_stop")
            return text
        except (*RETRYABLE, Incomplete):
            if (started and not mid_stream_retry) or attempt == 3:
                raise
            if reset:
                sim.record({"type": "text.reset", "run": 1})
            await asyncio.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


async def _client_run(sim: harness.Sim, *, mid_stream_retry: bool = True, reset: bool = True) -> None:
    client = sim.async_anthropic(max_retries=0)
    text = ""
    try:
        for body in REQUESTS:
            text = await _turn(sim, client, body, mid_stream_retry=mid_stream_retry, reset=reset)
    except Exception as exc:
        sim.record({"type": "run.failed", "run": 1, "error": type(exc).__name__})
        raise
    sim.record({"type": "run.completed", "run": 1, "text": text})


TARGET = {
    "transcripts": [str(TRANSCRIPT)],
    "rules": RULES,
    "ignore": ["$.headers"],
    "faults": ["status", "stream_error", "reset", "truncate", "stall", "rechunk"],
}


@harness.simulation(**TARGET)
async def correct(sim: harness.Sim) -> None:
    await _client_run(sim)


@harness.simulation(**TARGET)
async def no_retry_mid_stream(sim: harness.Sim) -> None:
    await _client_run(sim, mid_stream_retry=False)


@harness.simulation(**TARGET)
async def shows_partial_twice(sim: harness.Sim) -> None:
    await _client_run(sim, reset=False)


@harness.simulation(**TARGET)
async def leaks_a_task(sim: harness.Sim) -> None:
    asyncio.get_running_loop().create_task(asyncio.Event().wait(), name="heartbeat")
    await _client_run(sim)


@harness.simulation(**TARGET)
async def waits_forever(sim: harness.Sim) -> None:
    await _client_run(sim)
    await asyncio.Event().wait()


@harness.simulation(**TARGET, policy="random")
async def racy_counter(sim: harness.Sim) -> None:
    """Two tasks do read-modify-write across an await: some schedules lose an update."""
    state = {"count": 0}

    async def bump() -> None:
        seen = state["count"]
        await sim.point("between read and write")
        state["count"] = seen + 1

    await asyncio.gather(bump(), bump())
    await _client_run(sim)
    if state["count"] != 2:
        sim.record({"type": "lost.update", "run": 1})
        raise AssertionError(f"lost an update: count is {state['count']}")
