"""Scenarios: files that say what to replay and what must come out, and the runner."""

from harness.scenario.model import Expectations, Scenario, discover_scenarios, load_scenario
from harness.scenario.recorded import EventLog, RecordedTest
from harness.scenario.runner import (
    Execution,
    Failure,
    ScenarioResult,
    execute,
    golden_bytes,
    golden_content,
    replay_summary,
    replay_transcript,
    run_scenario,
    scenario_for_transcript,
)
from harness.scenario.suite import SuiteResult, run_suite

__all__ = [
    "EventLog",
    "Execution",
    "Expectations",
    "Failure",
    "RecordedTest",
    "Scenario",
    "ScenarioResult",
    "SuiteResult",
    "discover_scenarios",
    "execute",
    "golden_bytes",
    "golden_content",
    "load_scenario",
    "replay_summary",
    "replay_transcript",
    "run_scenario",
    "run_suite",
    "scenario_for_transcript",
]
