"""The travel desk on OpenAI Responses, replayed from recordings of its own requests."""

import pytest

from agent_app import ResponsesAgent

pytestmark = pytest.mark.anyio

QUESTION = "What is the capital of France?"


async def test_answers_with_the_capital_tool(harness_cassette, customer, retry, check_log):
    agent = ResponsesAgent(harness_cassette.async_openai(), retry=retry)
    result = await agent.run(QUESTION, customer_id=customer)
    assert result.text == "The capital of France is Paris."
    assert [(c.name, c.arguments, c.output) for c in result.tool_calls] == [
        ("get_capital", {"country": "France"}, "Paris")
    ]
    check_log("openai/capital", agent.log.events)


async def test_waits_as_long_as_the_rate_limit_says(harness_cassette, customer, retry, sleeps, check_log):
    agent = ResponsesAgent(harness_cassette.async_openai(), retry=retry)
    result = await agent.run(QUESTION, customer_id=customer)
    assert result.text == "The capital of France is Paris."
    assert sleeps == [2.0]  # the recorded retry-after, not the 0.5 s backoff
    check_log("openai/rate_limited_then_answer", agent.log.events)


async def test_retries_a_stream_the_network_cut(harness_cassette, customer, retry, sleeps, check_log):
    agent = ResponsesAgent(harness_cassette.async_openai(), retry=retry)
    result = await agent.run(QUESTION, customer_id=customer)
    assert result.text == "The capital of France is Paris."
    assert sleeps == [0.5]
    check_log("openai/cut_stream_then_answer", agent.log.events)
