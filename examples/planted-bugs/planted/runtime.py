"""The runtime that hosts the tools, and a run's session with it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from planted.store import EventStore

RATES_PER_USD = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "JPY": 151.6, "CHF": 0.88}
CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Switzerland": "Bern", "United Kingdom": "London"}
PLUGS = {"France": "Type C/E, 230 V", "Japan": "Type A/B, 100 V", "United Kingdom": "Type G, 230 V"}


def get_exchange_rate(from_currency: str, to_currency: str) -> str:
    rate = RATES_PER_USD[to_currency.upper()] / RATES_PER_USD[from_currency.upper()]
    return f"1 {from_currency.upper()} = {rate:.4g} {to_currency.upper()}"


def get_capital(country: str) -> str:
    return CAPITALS[country]


def get_power_plug(country: str) -> str:
    return PLUGS[country]


def travel_tools() -> dict[str, Callable[..., Any]]:
    """The tools the runtime hosts, by name (sync or async functions)."""
    return {"get_exchange_rate": get_exchange_rate, "get_capital": get_capital, "get_power_plug": get_power_plug}


class FakeRuntime:
    """The runtime that hosts the tools, in process: every request is an awaited round trip."""

    def __init__(self, tools: Mapping[str, Callable[..., Any]]) -> None:
        self.tools = dict(tools)

    async def request(self, method: str, params: Mapping[str, Any]) -> Any:
        await asyncio.sleep(0)  # the round trip
        if method == "initialize":
            result: Any = {"server": "desk-runtime", "tools": sorted(self.tools)}
        elif method == "tools/call":
            result = self.tools[params["name"]](**params["arguments"])
            if asyncio.iscoroutine(result):
                result = await result
        elif method == "thread/title":
            result = str(params["text"]).rstrip("?").removeprefix("What is the ")[:48]
        else:
            raise ValueError(f"unknown runtime method {method!r}")
        return result


class RuntimeSession:
    """One run's session with the runtime, shared by the run and its side tasks."""

    def __init__(self, session_id: str, runtime: FakeRuntime, store: EventStore, *, atomic: bool = True) -> None:
        self.session_id = session_id
        self.runtime = runtime
        self.store = store
        self._atomic = atomic
        self._initialized = False
        self._lock = asyncio.Lock()

    async def open(self, run_id: str) -> None:
        await self.store.append("session.opened", session_id=self.session_id, run_id=run_id)

    async def ensure_initialized(self) -> None:
        if not self._atomic:
            # Planted bug (non_atomic_initialize): no lock around check, round trip and set, so
            # two callers can both find the session uninitialized.
            await self._initialize_once()
            return
        async with self._lock:
            await self._initialize_once()

    async def _initialize_once(self) -> None:
        if self._initialized:
            return
        await self.runtime.request("initialize", {"session_id": self.session_id})
        self._initialized = True
        await self.store.append("runtime.initialize", session_id=self.session_id)

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> str:
        await self.ensure_initialized()
        return str(await self.runtime.request("tools/call", {"name": name, "arguments": dict(arguments)}))

    async def title(self, text: str) -> str:
        await self.ensure_initialized()
        return str(await self.runtime.request("thread/title", {"text": text}))

    async def close(self) -> None:
        await self.store.append("session.closed", session_id=self.session_id)
