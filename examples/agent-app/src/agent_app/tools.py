"""The travel desk's tools: plain Python functions with a JSON schema, run locally.

The data sources are injected (``ExchangeRates``, ``CountryFacts``); production builds them from
the rates feed and the country database, tests use the snapshots below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class ToolError(Exception):
    """A tool could not answer; the model sees the message as an error result."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[..., str]

    def call(self, arguments: Mapping[str, Any]) -> str:
        required = self.parameters.get("required", [])
        missing = [name for name in required if name not in arguments]
        if missing:
            raise ToolError(f"missing argument(s): {', '.join(missing)}")
        unknown = sorted(set(arguments) - set(self.parameters.get("properties", {})))
        if unknown:
            raise ToolError(f"unknown argument(s): {', '.join(unknown)}")
        return self.run(**arguments)


def _object(**properties: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"type": kind} for name, kind in properties.items()},
        "required": list(properties),
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class ExchangeRates:
    """Mid-market rates as units of each currency per US dollar."""

    per_usd: Mapping[str, float]

    def rate(self, from_currency: str, to_currency: str) -> float:
        try:
            return self.per_usd[to_currency.upper()] / self.per_usd[from_currency.upper()]
        except KeyError as exc:
            raise ToolError(f"no rate for currency {exc.args[0]!r}") from None


@dataclass(frozen=True)
class CountryFacts:
    capitals: Mapping[str, str]
    plugs: Mapping[str, str] = field(default_factory=dict)

    def lookup(self, table: Mapping[str, str], country: str, what: str) -> str:
        for name, value in table.items():
            if name.casefold() == country.strip().casefold():
                return value
        raise ToolError(f"no {what} on file for {country!r}")


RATES_SNAPSHOT = ExchangeRates({"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "JPY": 151.6, "CHF": 0.88})
COUNTRY_FACTS = CountryFacts(
    capitals={"France": "Paris", "Japan": "Tokyo", "Switzerland": "Bern", "United Kingdom": "London"},
    plugs={"France": "Type C/E, 230 V", "Japan": "Type A/B, 100 V", "United Kingdom": "Type G, 230 V"},
)


def travel_tools(rates: ExchangeRates = RATES_SNAPSHOT, facts: CountryFacts = COUNTRY_FACTS) -> list[Tool]:
    """The tools both assistants offer."""

    def get_exchange_rate(from_currency: str, to_currency: str) -> str:
        rate = rates.rate(from_currency, to_currency)
        return f"1 {from_currency.upper()} = {rate:.4g} {to_currency.upper()}"

    def get_capital(country: str) -> str:
        return facts.lookup(facts.capitals, country, "capital")

    def get_power_plug(country: str) -> str:
        return facts.lookup(facts.plugs, country, "plug type")

    return [
        Tool(
            "get_exchange_rate",
            "Look up the current exchange rate between two currencies.",
            _object(from_currency="string", to_currency="string"),
            get_exchange_rate,
        ),
        Tool("get_capital", "The capital city of a country.", _object(country="string"), get_capital),
        Tool(
            "get_power_plug",
            "The power plug type and mains voltage used in a country.",
            _object(country="string"),
            get_power_plug,
        ),
    ]


def by_name(tools: Iterable[Tool]) -> dict[str, Tool]:
    return {tool.name: tool for tool in tools}
