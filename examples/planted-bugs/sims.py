"""Simulation targets for the desk: one user session against the recorded two-request tool loop.

Each simulated run does what a user's session does: a browser tab follows the thread's events
while the desk answers the question (the desk names the thread on the side, and its heartbeat and
completion watcher run alongside), then the desk closes. Seeds choose the faults (retry, benign and
tool faults) and the scheduling; the rules in ``event_rules.toml`` and the check below judge it.

    harness simulate sims.py::desk --seeds 0..199                      # the shipped desk
    PLANTED_BUGS=leaked_task harness simulate sims.py::desk --seeds 0..199

``desk_simulation(bugs)`` builds the same target with other switches (the tests use it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator

import harness

from planted import Desk, RunFailed, travel_tools

QUESTION = "What is the current USD to EUR exchange rate?"
CUSTOMER_ID = "cus_Q8ZP4mN2xT7vLc"
"""A customer id as production sends it; the recording holds ``<redacted:customer-id>`` there."""
SUBSCRIBERS = ("ui-1",)
FAULTS = ("status", "stream_error", "reset", "truncate", "stall", "slow", "rechunk", "tool_error", "tool_timeout")
"""The retry kinds, the benign kinds, and failing or hanging tools."""


async def browser(desk: Desk, sim: harness.Sim, name: str) -> None:
    """A UI tab: follows the thread from the start and sends each event down its socket."""
    async for event in desk.store.follow(after=0):
        sim.record({"type": "ui.received", "subscriber": name, "event_seq": event["seq"], "event": event["type"]})
        await asyncio.sleep(0)  # the socket write


def every_event_reached_the_ui(history: harness.History) -> Iterator[tuple[str, str]]:
    """Each subscriber received exactly the store's events 1..N, in order, each once."""
    stored = [e["seq"] for e in history.events if "thread_id" in e]
    expected = list(range(1, len(stored) + 1))
    for name in SUBSCRIBERS:
        received = [e["event_seq"] for e in history.events if e.get("subscriber") == name]
        if received == expected:
            continue
        missing = sorted(set(expected) - set(received))
        repeated = sorted({seq for seq in received if received.count(seq) > 1})
        detail = []
        if missing:
            detail.append(f"missing seq {', '.join(map(str, missing))}")
        if repeated:
            detail.append(f"repeated seq {', '.join(map(str, repeated))}")
        if not detail:
            detail.append("out of order")
        yield (
            "desk.ui.saw_every_event",
            f"subscriber {name} received {len(received)} of the store's {len(expected)} events: {'; '.join(detail)}",
        )


def desk_simulation(bugs: frozenset[str]) -> harness.SimulationTarget:
    """The desk's simulation target with the planted ``bugs`` switched on."""

    @harness.simulation(
        transcripts=["transcripts/exchange_rate.ndjson"],
        rules="event_rules.toml",
        checks=[every_event_reached_the_ui],
        faults=FAULTS,
    )
    async def desk(sim: harness.Sim) -> None:
        tools = {name: sim.tool(fn) for name, fn in travel_tools().items()}
        app = Desk(sim.async_anthropic(max_retries=0), tools=tools, bugs=bugs)
        sim.watch(app.store.events)
        tabs = [asyncio.create_task(browser(app, sim, name)) for name in SUBSCRIBERS]
        question = asyncio.create_task(app.ask(QUESTION, customer_id=CUSTOMER_ID))
        with contextlib.suppress(RunFailed):
            await question
        await app.close()
        await asyncio.gather(*tabs)

    return desk


desk = desk_simulation(frozenset(filter(None, os.environ.get("PLANTED_BUGS", "").split(","))))
