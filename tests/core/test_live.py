"""LiveCore: commands from concurrent tasks, subscriptions that see every committed event once, in
order, and the named yield points a simulation explores."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from harness import LiveCore, SimLoop, point
from harness.core import MessageDispatch, ThreadCreate
from harness.core.events import NewEvent
from harness.core.live import Subscription
from harness.errors import UsageError
from harness.simulate.loop import RandomWalk, Replay
from harness.simulate.seeds import Rng
from tests.core.test_orchestrator import orchestrator, response, text

HELLO = [response(text(0, "Hello!")), response(text(0, "Again!"))]


def commands() -> list[Any]:
    return [
        ThreadCreate(thread_id="t1", command_id="c-thread"),
        MessageDispatch(thread_id="t1", text="Hi", command_id="c-1"),
    ]


async def collect(subscription: Subscription) -> list[int]:
    return [event.sequence async for event in subscription]


def test_a_subscriber_from_the_start_receives_the_whole_log_once_in_order() -> None:
    async def main() -> tuple[list[int], int]:
        live = LiveCore(orchestrator(HELLO)[0])
        reader = asyncio.ensure_future(collect(live.subscribe()))
        for command in commands():
            await live.dispatch(command)
        live.close()
        return await reader, live.store.last_sequence

    received, last = asyncio.run(main())
    assert last > 5
    assert received == list(range(1, last + 1))


def test_a_subscriber_after_a_checkpoint_receives_only_the_rest() -> None:
    async def main() -> tuple[list[int], int]:
        live = LiveCore(orchestrator(HELLO)[0])
        first, second = commands()
        await live.dispatch(first)
        checkpoint = live.store.last_sequence
        reader = asyncio.ensure_future(collect(live.subscribe(after=checkpoint)))
        await live.dispatch(second)
        live.close()
        return await reader, checkpoint

    received, checkpoint = asyncio.run(main())
    assert received[0] == checkpoint + 1
    assert received == list(range(checkpoint + 1, received[-1] + 1))


def test_a_subscriber_that_joins_after_the_last_command_catches_up_from_the_store() -> None:
    async def main() -> tuple[list[int], int]:
        live = LiveCore(orchestrator(HELLO)[0])
        for command in commands():
            await live.dispatch(command)
        live.close()
        return await collect(live.subscribe()), live.store.last_sequence

    received, last = asyncio.run(main())
    assert received == list(range(1, last + 1))


def test_a_subscriber_registers_for_live_events_before_it_reads_the_store() -> None:
    async def main() -> tuple[list[int], int]:
        live = LiveCore(orchestrator(HELLO)[0])
        subscription = live.subscribe()
        started = asyncio.ensure_future(subscription.__anext__())
        await asyncio.sleep(0)  # the subscriber has reached its point: registered, nothing read
        assert live._subscriptions == [subscription]
        first, second = commands()
        await live.dispatch(first)
        await live.dispatch(second)
        live.close()
        head = await started
        return [head.sequence, *await collect(subscription)], live.store.last_sequence

    received, last = asyncio.run(main())
    assert received == list(range(1, last + 1))


def test_an_event_both_published_and_read_from_the_store_is_delivered_once() -> None:
    """At the subscriber's point (registered, store not read yet) a command commits and publishes:
    the events reach it live and again from the store, and each must come out once."""
    loop = SimLoop()
    live = LiveCore(orchestrator(HELLO)[0])
    subscription = live.subscribe()

    def commit_and_publish(name: str, detail: str | None) -> None:
        if name == "subscribe":
            live.store.append([NewEvent(type="note.added", data={"n": n}) for n in range(3)])
            subscription._deliver(live.store.read(0))

    loop.on_point = commit_and_publish

    async def main() -> list[int]:
        reader = asyncio.ensure_future(collect(subscription))
        await asyncio.sleep(0)
        live.close()
        return await reader

    assert loop.run_until_complete(main()) == [1, 2, 3]
    loop.close()


def test_events_of_a_command_that_raises_are_still_published() -> None:
    async def main() -> tuple[list[int], int]:
        core = orchestrator(HELLO)[0]
        live = LiveCore(core)
        reader = asyncio.ensure_future(collect(live.subscribe()))
        first, _ = commands()
        await live.dispatch(first)

        def half_done() -> None:
            core.dispatch(MessageDispatch(thread_id="t1", text="Hi", command_id="c-1"))
            raise RuntimeError("the process failed after committing")

        with pytest.raises(RuntimeError, match="after committing"):
            await live.call(half_done, "dispatch", "message.dispatch")
        live.close()
        return await reader, live.store.last_sequence

    received, last = asyncio.run(main())
    assert received == list(range(1, last + 1))


def test_concurrent_writers_publish_in_sequence_order_under_every_schedule() -> None:
    """Three tasks commit events at once; one writer at a time is what keeps each subscriber's
    stream in order (without the lock a later batch can reach a subscriber before an earlier one,
    which it then drops as already seen)."""
    for seed in range(40):
        loop = SimLoop(RandomWalk(Rng(seed)))
        live = LiveCore(orchestrator(HELLO)[0])

        async def writer(name: str, live: LiveCore = live) -> None:
            for number in range(3):
                event = NewEvent(type="note.added", data={"writer": name, "number": number})
                await live.call(lambda event=event: live.store.append([event]), "dispatch", name)

        async def main(live: LiveCore = live) -> list[int]:
            readers = [asyncio.ensure_future(collect(live.subscribe())) for _ in range(2)]
            await asyncio.gather(*(writer(name) for name in "xyz"))
            live.close()
            return [sequence for reader in readers for sequence in await reader]

        received = loop.run_until_complete(main())
        loop.close()
        assert received == [*range(1, 10), *range(1, 10)], f"seed {seed}: {received}"


def test_the_yield_points_are_named_and_reach_the_loops_hook() -> None:
    loop = SimLoop()
    seen: list[tuple[str, str | None]] = []
    loop.on_point = lambda name, detail: seen.append((name, detail))

    async def main() -> None:
        live = LiveCore(orchestrator(HELLO)[0])
        reader = asyncio.ensure_future(collect(live.subscribe(name="ui")))
        await asyncio.sleep(0)
        await live.dispatch(commands()[0])
        live.close()
        await reader

    loop.run_until_complete(main())
    loop.close()
    names = [name for name, _ in seen]
    assert ("subscribe", "ui") in seen
    assert ("dispatch", "thread.create") in seen
    assert names.index("store.append") < names.index("publish")
    assert ("publish", "ui") in seen
    append = next(detail for name, detail in seen if name == "store.append")
    assert append is not None and append.startswith("1..")


def test_point_outside_a_simulation_only_yields() -> None:
    async def main() -> list[str]:
        order: list[str] = []

        async def other() -> None:
            order.append("other")

        task = asyncio.ensure_future(other())
        await point("anything", "detail")
        order.append("after point")
        await task
        return order

    assert asyncio.run(main()) == ["other", "after point"]


def test_a_schedule_decides_who_runs_at_each_point() -> None:
    """Two schedules, two orders: the points are where the scheduler may switch."""

    def run(schedule: list[int]) -> list[str]:
        loop = SimLoop(Replay(schedule))
        order: list[str] = []

        async def worker(name: str) -> None:
            for step in range(2):
                await point("step", name)
                order.append(f"{name}{step}")

        async def main() -> None:
            await asyncio.gather(worker("a"), worker("b"))

        loop.run_until_complete(main())
        loop.close()
        return order

    assert run([]) != run([1, 1, 1, 1])


def test_closed_core_refuses_commands_and_bad_checkpoints_are_refused() -> None:
    live = LiveCore(orchestrator(HELLO)[0])
    with pytest.raises(UsageError, match="sequence number"):
        live.subscribe(after=-1)
    live.close()
    with pytest.raises(UsageError, match="closed"):
        asyncio.run(live.dispatch(commands()[0]))


def test_a_command_given_as_json_is_dispatched() -> None:
    async def main() -> int:
        live = LiveCore(orchestrator(HELLO)[0])
        await live.dispatch({"type": "thread.create", "thread_id": "t1", "command_id": "c-thread"})
        return live.published

    assert asyncio.run(main()) > 0
