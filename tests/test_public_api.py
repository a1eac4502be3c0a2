"""The front door: the names `harness` exports are pinned, so changing them is deliberate."""

from __future__ import annotations

import pytest

import harness

EXPECTED = [
    "AnthropicMessagesAdapter",
    "AssistantMessage",
    "AsyncRecordingTransport",
    "AsyncReplayTransport",
    "Cassette",
    "CheckFailure",
    "CoalesceDeltas",
    "CommandResult",
    "ContentItem",
    "CountRule",
    "Deadlock",
    "EVENT_TYPES",
    "EventLogError",
    "EventRules",
    "EventStore",
    "Execution",
    "ExpectationFailed",
    "FakeRuntime",
    "Fault",
    "FaultPlan",
    "FrameMatcher",
    "FrameMismatch",
    "GoldenMismatch",
    "GoldenMissing",
    "GoldenNormalization",
    "HarnessError",
    "History",
    "HttpReplay",
    "INVARIANT_RULES",
    "ImportSourceError",
    "InMemoryEventStore",
    "LogicalClock",
    "MessageDispatch",
    "OpenAIChatAdapter",
    "OpenAIResponsesAdapter",
    "Orchestrator",
    "LiveCore",
    "Subscription",
    "point",
    "OrderedRule",
    "Outcome",
    "PairedRule",
    "Projection",
    "ProviderAdapter",
    "QueryResult",
    "RecordMode",
    "RecordedTest",
    "RecordingProxy",
    "RecordingTransport",
    "RedactionConfig",
    "Redactor",
    "ReplayDriver",
    "ReplayError",
    "ReplayLink",
    "ReplayServer",
    "ReplayTransport",
    "ReportPaths",
    "RequestTemplate",
    "RuleDeclarationError",
    "RunInterrupt",
    "RuntimeAdapter",
    "RuntimeCassette",
    "RuntimeRequestRespond",
    "RuntimeSettings",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "ScenarioTools",
    "SecretLeak",
    "SequenceRule",
    "Sim",
    "SimLoop",
    "SimulationTarget",
    "SingleActiveRule",
    "SingleTerminalRule",
    "SqliteEventStore",
    "StoredEvent",
    "SuiteResult",
    "SweepResult",
    "TerminalLastRule",
    "TextRule",
    "ThreadCreate",
    "ThreadFork",
    "ThreadMergeBack",
    "ThreadRollback",
    "ToolRunner",
    "ToolSpec",
    "Transcript",
    "TranscriptError",
    "TranscriptExhausted",
    "TranscriptHeader",
    "UnconsumedEntries",
    "UnexpectedOutbound",
    "UnknownProtocolError",
    "UsageError",
    "Violation",
    "build_database",
    "check_event_rules",
    "check_golden",
    "check_invariants",
    "execute",
    "first_divergence",
    "fold",
    "get_adapter",
    "get_runtime_adapter",
    "known_protocols",
    "load_event_rules",
    "load_scenario",
    "normalize_events",
    "normalize_mappings",
    "query",
    "read_transcript",
    "render_summary",
    "render_report",
    "render_junit",
    "replay_summary",
    "replay_transcript",
    "replayable_protocols",
    "run_scenario",
    "run_simulation",
    "run_suite",
    "scenario_for_transcript",
    "simulation",
    "sweep_simulation",
    "write_reports",
    "write_transcript",
]


def test_all_is_pinned_without_duplicates() -> None:
    assert len(set(harness.__all__)) == len(harness.__all__)
    assert sorted(harness.__all__) == sorted(EXPECTED)


def test_every_exported_name_exists() -> None:
    assert [name for name in harness.__all__ if not hasattr(harness, name)] == []


def test_error_families_share_one_root() -> None:
    assert issubclass(harness.UsageError, harness.HarnessError)
    assert issubclass(harness.CheckFailure, harness.HarnessError)
    assert issubclass(harness.FrameMismatch, harness.CheckFailure)
    assert issubclass(harness.TranscriptError, harness.UsageError)
    assert issubclass(harness.EventLogError, harness.UsageError)
    assert issubclass(harness.RuleDeclarationError, harness.UsageError)


def test_importing_the_package_and_building_the_cli_parser_loads_no_sdk_database_or_vcr() -> None:
    # The front door is lazy (PEP 562): names load on first use, so `harness --help` and a small
    # replay do not pay for the SDKs, DuckDB, vcrpy or rich.
    import subprocess
    import sys

    code = (
        "import sys, harness, harness.cli; harness.cli._parser(); "
        "print(sorted(m for m in ('anthropic', 'openai', 'duckdb', 'vcr', 'rich', 'pydantic') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_every_public_name_resolves_lazily_to_its_defining_module() -> None:
    import importlib

    import harness

    for name in harness.__all__:
        if name == "__version__":
            continue
        module_name, _, attr = harness._EXPORTS[name].partition(":")
        assert getattr(harness, name) is getattr(importlib.import_module(module_name), attr or name), name
    assert set(harness._EXPORTS) == set(harness.__all__) - {"__version__"}


@pytest.mark.parametrize(
    "module",
    [
        "harness.transcript",
        "harness.record",
        "harness.record.proxy",
        "harness.replay",
        "harness.scenario",
        "harness.cli",
    ],
)
def test_each_subpackage_imports_first_without_a_cycle(module: str) -> None:
    # With a lazy front door, import order is whatever a user's first import is: each must work alone.
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, capture_output=True)
