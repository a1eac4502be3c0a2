"""What every test of the travel desk shares: no real waiting, and one way to check an event log."""

from __future__ import annotations

import pytest
from harness import CoalesceDeltas, GoldenNormalization

from agent_app import RetryPolicy

EVENT_LOG = GoldenNormalization(
    # Wall-clock time and our own uuid4 run ids differ on every run.
    volatile=["$.ts"],
    ids=["$.run_id"],
    # Provider ids change with every recording; numbering them keeps tool.called -> tool.result links.
    id_patterns=[r"toolu_\w+", r"srvtoolu_\w+", r"msg_\w+", r"call_\w+", r"resp_\w+"],
    # One line per streamed answer instead of one per fragment: chunking is the provider's business.
    coalesce=[CoalesceDeltas(type="text.delta", text="$.text", group_by=["$.run_id", "$.turn", "$.attempt"])],
)
EVENT_RULES = "tests/event_rules.toml"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def customer() -> str:
    """A customer id as production sends it; recordings hold ``<redacted:customer-id>`` instead."""
    return "cus_Q8ZP4mN2xT7vLc"


@pytest.fixture
def sleeps() -> list[float]:
    """The delays the retry policy asked for, in order."""
    return []


@pytest.fixture
def retry(sleeps: list[float]) -> RetryPolicy:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return RetryPolicy(max_attempts=3, sleep=sleep)


@pytest.fixture
def check_log(harness_golden, harness_results):
    """Check an event log against the app's rules, then against its golden ``goldens/<name>.ndjson``."""

    def check(name: str, events: list[dict]) -> None:
        __tracebackhide__ = True
        harness_results.assert_invariants(events, EVENT_RULES)
        harness_golden.assert_match(name, events, normalization=EVENT_LOG)

    return check
