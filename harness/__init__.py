"""replay-harness: replay recorded LLM provider transcripts through an event-sourced orchestrator
core, check the event log against golden files and invariants, and analyse it in DuckDB.

The names a user needs live here; the modules behind them are implementation.

>>> from harness import replay_transcript, replay_summary
>>> summary = replay_summary(replay_transcript("transcripts/anthropic/anthropic-sdk/basic_response.ndjson"))
>>> summary["messages"][0]["text"]
'Hello there!'
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, for type checkers and editors; at run time they load on first use
    from harness.adapters import AnthropicMessagesAdapter, get_adapter, get_runtime_adapter, replayable_protocols
    from harness.adapters.base import AssistantMessage, ContentItem, ProviderAdapter, RequestTemplate
    from harness.adapters.openai_chat import OpenAIChatAdapter
    from harness.adapters.openai_responses import OpenAIResponsesAdapter
    from harness.adapters.runtime import RuntimeAdapter, RuntimeSettings
    from harness.analysis import QueryResult, build_database, query
    from harness.core import (
        EVENT_TYPES,
        CommandResult,
        EventStore,
        InMemoryEventStore,
        MessageDispatch,
        Orchestrator,
        Outcome,
        Projection,
        ScenarioTools,
        SqliteEventStore,
        StoredEvent,
        ThreadCreate,
        ToolRunner,
        ToolSpec,
        fold,
    )
    from harness.core.commands import RunInterrupt, RuntimeRequestRespond, ThreadFork, ThreadMergeBack, ThreadRollback
    from harness.core.event_rules import (
        CountRule,
        EventRules,
        OrderedRule,
        PairedRule,
        SequenceRule,
        SingleActiveRule,
        SingleTerminalRule,
        TerminalLastRule,
        TextRule,
        check_event_rules,
        load_event_rules,
    )
    from harness.core.invariants import RULES as INVARIANT_RULES
    from harness.core.invariants import Violation, check_invariants
    from harness.core.live import LiveCore, Subscription, point
    from harness.errors import (
        CheckFailure,
        EventLogError,
        ExpectationFailed,
        FrameMismatch,
        GoldenMismatch,
        GoldenMissing,
        HarnessError,
        ImportSourceError,
        ReplayError,
        RuleDeclarationError,
        ScenarioError,
        TranscriptError,
        TranscriptExhausted,
        UnconsumedEntries,
        UnexpectedOutbound,
        UnknownProtocolError,
        UsageError,
    )
    from harness.golden import (
        CoalesceDeltas,
        GoldenNormalization,
        check_golden,
        first_divergence,
        normalize_events,
        normalize_mappings,
    )
    from harness.record.http import AsyncRecordingTransport, RecordingTransport
    from harness.record.modes import Cassette, RecordMode, RuntimeCassette
    from harness.record.proxy import RecordingProxy
    from harness.record.redact import RedactionConfig, Redactor, SecretLeak
    from harness.replay import FrameMatcher, LogicalClock, ReplayDriver
    from harness.replay.driver import ReplayLink
    from harness.replay.http import AsyncReplayTransport, HttpReplay, ReplayTransport
    from harness.replay.server import ReplayServer
    from harness.replay.stdio import FakeRuntime
    from harness.report import ReportPaths, render_junit, render_report, render_summary, write_reports
    from harness.scenario import (
        Execution,
        Scenario,
        ScenarioResult,
        SuiteResult,
        execute,
        load_scenario,
        replay_summary,
        replay_transcript,
        run_scenario,
        run_suite,
        scenario_for_transcript,
    )
    from harness.scenario.recorded import RecordedTest
    from harness.simulate.faults import Fault, FaultPlan
    from harness.simulate.history import History
    from harness.simulate.loop import Deadlock, SimLoop
    from harness.simulate.sweep import SweepResult
    from harness.simulate.sweep import run_one as run_simulation
    from harness.simulate.sweep import sweep as sweep_simulation
    from harness.simulate.target import Sim, SimulationTarget, simulation
    from harness.transcript import Transcript, TranscriptHeader, known_protocols, read_transcript, write_transcript

#: Public name -> the module that defines it (``module:attr`` when the name differs). Loading is
#: lazy (PEP 562): ``import harness`` costs nothing until a name is used, so ``harness --help``
#: and a replay of a small transcript import only what they need (no SDKs, DuckDB or vcrpy).
_EXPORTS: dict[str, str] = {
    "AnthropicMessagesAdapter": "harness.adapters",
    "AssistantMessage": "harness.adapters.base",
    "AsyncRecordingTransport": "harness.record.http",
    "AsyncReplayTransport": "harness.replay.http",
    "Cassette": "harness.record.modes",
    "CheckFailure": "harness.errors",
    "CoalesceDeltas": "harness.golden",
    "CommandResult": "harness.core",
    "ContentItem": "harness.adapters.base",
    "CountRule": "harness.core.event_rules",
    "Deadlock": "harness.simulate.loop",
    "EVENT_TYPES": "harness.core",
    "EventLogError": "harness.errors",
    "EventRules": "harness.core.event_rules",
    "EventStore": "harness.core",
    "Execution": "harness.scenario",
    "ExpectationFailed": "harness.errors",
    "FakeRuntime": "harness.replay.stdio",
    "Fault": "harness.simulate.faults",
    "FaultPlan": "harness.simulate.faults",
    "FrameMatcher": "harness.replay",
    "FrameMismatch": "harness.errors",
    "GoldenMismatch": "harness.errors",
    "GoldenMissing": "harness.errors",
    "GoldenNormalization": "harness.golden",
    "HarnessError": "harness.errors",
    "History": "harness.simulate.history",
    "HttpReplay": "harness.replay.http",
    "INVARIANT_RULES": "harness.core.invariants:RULES",
    "ImportSourceError": "harness.errors",
    "InMemoryEventStore": "harness.core",
    "LogicalClock": "harness.replay",
    "MessageDispatch": "harness.core",
    "OpenAIChatAdapter": "harness.adapters.openai_chat",
    "OpenAIResponsesAdapter": "harness.adapters.openai_responses",
    "Orchestrator": "harness.core",
    "LiveCore": "harness.core.live",
    "Subscription": "harness.core.live",
    "point": "harness.core.live",
    "OrderedRule": "harness.core.event_rules",
    "Outcome": "harness.core",
    "PairedRule": "harness.core.event_rules",
    "Projection": "harness.core",
    "ProviderAdapter": "harness.adapters.base",
    "QueryResult": "harness.analysis",
    "RecordMode": "harness.record.modes",
    "RecordedTest": "harness.scenario.recorded",
    "RecordingProxy": "harness.record.proxy",
    "RecordingTransport": "harness.record.http",
    "RedactionConfig": "harness.record.redact",
    "Redactor": "harness.record.redact",
    "ReplayDriver": "harness.replay",
    "ReplayError": "harness.errors",
    "ReplayLink": "harness.replay.driver",
    "ReplayServer": "harness.replay.server",
    "ReplayTransport": "harness.replay.http",
    "ReportPaths": "harness.report",
    "RequestTemplate": "harness.adapters.base",
    "RuleDeclarationError": "harness.errors",
    "RunInterrupt": "harness.core.commands",
    "RuntimeAdapter": "harness.adapters.runtime",
    "RuntimeCassette": "harness.record.modes",
    "RuntimeRequestRespond": "harness.core.commands",
    "RuntimeSettings": "harness.adapters.runtime",
    "Scenario": "harness.scenario",
    "ScenarioError": "harness.errors",
    "ScenarioResult": "harness.scenario",
    "ScenarioTools": "harness.core",
    "SecretLeak": "harness.record.redact",
    "SequenceRule": "harness.core.event_rules",
    "Sim": "harness.simulate.target",
    "SimLoop": "harness.simulate.loop",
    "SimulationTarget": "harness.simulate.target",
    "SingleActiveRule": "harness.core.event_rules",
    "SingleTerminalRule": "harness.core.event_rules",
    "SqliteEventStore": "harness.core",
    "StoredEvent": "harness.core",
    "SuiteResult": "harness.scenario",
    "SweepResult": "harness.simulate.sweep",
    "TerminalLastRule": "harness.core.event_rules",
    "TextRule": "harness.core.event_rules",
    "ThreadCreate": "harness.core",
    "ThreadFork": "harness.core.commands",
    "ThreadMergeBack": "harness.core.commands",
    "ThreadRollback": "harness.core.commands",
    "ToolRunner": "harness.core",
    "ToolSpec": "harness.core",
    "Transcript": "harness.transcript",
    "TranscriptError": "harness.errors",
    "TranscriptExhausted": "harness.errors",
    "TranscriptHeader": "harness.transcript",
    "UnconsumedEntries": "harness.errors",
    "UnexpectedOutbound": "harness.errors",
    "UnknownProtocolError": "harness.errors",
    "UsageError": "harness.errors",
    "Violation": "harness.core.invariants",
    "build_database": "harness.analysis",
    "check_event_rules": "harness.core.event_rules",
    "check_golden": "harness.golden",
    "check_invariants": "harness.core.invariants",
    "execute": "harness.scenario",
    "first_divergence": "harness.golden",
    "fold": "harness.core",
    "get_adapter": "harness.adapters",
    "get_runtime_adapter": "harness.adapters",
    "known_protocols": "harness.transcript",
    "load_event_rules": "harness.core.event_rules",
    "load_scenario": "harness.scenario",
    "normalize_events": "harness.golden",
    "normalize_mappings": "harness.golden",
    "query": "harness.analysis",
    "read_transcript": "harness.transcript",
    "render_summary": "harness.report",
    "render_report": "harness.report",
    "render_junit": "harness.report",
    "replay_summary": "harness.scenario",
    "replay_transcript": "harness.scenario",
    "replayable_protocols": "harness.adapters",
    "run_scenario": "harness.scenario",
    "run_simulation": "harness.simulate.sweep:run_one",
    "run_suite": "harness.scenario",
    "scenario_for_transcript": "harness.scenario",
    "simulation": "harness.simulate.target",
    "sweep_simulation": "harness.simulate.sweep:sweep",
    "write_reports": "harness.report",
    "write_transcript": "harness.transcript",
}


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    module_name, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module_name), attr or name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__version__ = "0.1.0"

__all__ = [
    "EVENT_TYPES",
    "INVARIANT_RULES",
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
    "ImportSourceError",
    "InMemoryEventStore",
    "LiveCore",
    "LogicalClock",
    "MessageDispatch",
    "OpenAIChatAdapter",
    "OpenAIResponsesAdapter",
    "Orchestrator",
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
    "Subscription",
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
    "point",
    "query",
    "read_transcript",
    "render_junit",
    "render_report",
    "render_summary",
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
