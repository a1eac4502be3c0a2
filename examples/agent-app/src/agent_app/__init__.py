"""A travel desk assistant: async tool loops on Anthropic Messages and OpenAI Responses.

>>> agent = AnthropicAgent(anthropic.AsyncAnthropic(max_retries=0))  # doctest: +SKIP
>>> result = await agent.run("What is the current USD to EUR exchange rate?")  # doctest: +SKIP
>>> result.text, [call.name for call in result.tool_calls], agent.log.events  # doctest: +SKIP
"""

from agent_app.anthropic_agent import AnthropicAgent
from agent_app.events import Event, EventLog
from agent_app.openai_agent import ResponsesAgent
from agent_app.retry import RetryPolicy
from agent_app.run import RunFailed, RunResult, ToolCall
from agent_app.tools import CountryFacts, ExchangeRates, Tool, ToolError, travel_tools

__all__ = [
    "AnthropicAgent",
    "CountryFacts",
    "Event",
    "EventLog",
    "ExchangeRates",
    "ResponsesAgent",
    "RetryPolicy",
    "RunFailed",
    "RunResult",
    "Tool",
    "ToolCall",
    "ToolError",
    "travel_tools",
]
