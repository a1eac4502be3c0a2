"""The travel desk on Anthropic Messages, replayed from recordings of its own requests."""

import pytest

from agent_app import AnthropicAgent, RunFailed

pytestmark = pytest.mark.anyio

QUESTION = "What is the current USD to EUR exchange rate?"


async def test_answers_with_the_exchange_rate_tool(harness_cassette, customer, retry, check_log):
    agent = AnthropicAgent(harness_cassette.async_anthropic(), retry=retry)
    result = await agent.run(QUESTION, customer_id=customer)
    assert "1 USD = 0.92 EUR" in result.text
    assert [(c.name, c.arguments, c.output) for c in result.tool_calls] == [
        ("get_exchange_rate", {"from_currency": "USD", "to_currency": "EUR"}, "1 USD = 0.92 EUR")
    ]
    check_log("anthropic/exchange_rate", agent.log.events)


async def test_retries_when_the_api_is_overloaded(harness_cassette, customer, retry, sleeps, check_log):
    agent = AnthropicAgent(harness_cassette.async_anthropic(), retry=retry)
    result = await agent.run(QUESTION, customer_id=customer)
    assert "0.92 EUR" in result.text
    assert sleeps == [0.5]
    check_log("anthropic/overloaded_then_answer", agent.log.events)


async def test_gives_up_when_overload_outlasts_the_attempts(harness_cassette, customer, retry, sleeps, check_log):
    agent = AnthropicAgent(harness_cassette.async_anthropic(), retry=retry)
    with pytest.raises(RunFailed, match="gave up after 3 attempts: overloaded_error"):
        await agent.run(QUESTION, customer_id=customer)
    assert sleeps == [0.5, 1.0]
    check_log("anthropic/overloaded_gave_up", agent.log.events)


async def test_retries_a_stream_the_network_cut(harness_cassette, customer, retry, sleeps, check_log):
    agent = AnthropicAgent(harness_cassette.async_anthropic(), retry=retry)
    result = await agent.run(QUESTION, customer_id=customer)
    assert "0.92 EUR" in result.text
    assert sleeps == [0.5]
    check_log("anthropic/cut_stream_then_answer", agent.log.events)
