"""Desk: a small async orchestrator with seven known concurrency and retry bugs behind switches.

>>> desk = Desk(anthropic.AsyncAnthropic(max_retries=0), bugs=frozenset({"leaked_task"}))  # doctest: +SKIP
>>> result = await desk.ask("What is the current USD to EUR exchange rate?")  # doctest: +SKIP
>>> await desk.close()  # doctest: +SKIP
"""

from planted.desk import BUGS, Desk, RunFailed, RunResult
from planted.retry import RetryPolicy
from planted.runtime import FakeRuntime, RuntimeSession, travel_tools
from planted.store import EventStore

__all__ = [
    "BUGS",
    "Desk",
    "EventStore",
    "FakeRuntime",
    "RetryPolicy",
    "RunFailed",
    "RunResult",
    "RuntimeSession",
    "travel_tools",
]
