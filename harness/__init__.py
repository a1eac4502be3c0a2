"""replay-harness: replay recorded LLM provider transcripts through an event-sourced orchestrator
core, check the event log against golden files and invariants, and analyse it in DuckDB.

The names a user needs live here; the modules behind them are implementation.

>>> from harness import replay_transcript, replay_summary
>>> summary = replay_summary(replay_transcript("transcripts/anthropic/anthropic-sdk/basic_response.ndjson"))
>>> summary["messages"][0]["text"]
'Hello there!'
"""

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
    IdAllocator,
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
    EventRules,
    OrderedRule,
    PairedRule,
    SequenceRule,
    SingleActiveRule,
    SingleTerminalRule,
    TerminalLastRule,
    check_event_rules,
    load_event_rules,
)
from harness.core.invariants import RULES as INVARIANT_RULES
from harness.core.invariants import Violation, check_invariants
from harness.core.runtime import RuntimeOrchestrator
from harness.core.runtime_projection import RuntimeProjection
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
from harness.report import ReportPaths, render_summary, write_reports
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
from harness.transcript import Transcript, TranscriptHeader, known_protocols, read_transcript, write_transcript

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
    "EventLogError",
    "EventRules",
    "EventStore",
    "Execution",
    "ExpectationFailed",
    "FakeRuntime",
    "FrameMatcher",
    "FrameMismatch",
    "GoldenMismatch",
    "GoldenMissing",
    "GoldenNormalization",
    "HarnessError",
    "HttpReplay",
    "IdAllocator",
    "ImportSourceError",
    "InMemoryEventStore",
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
    "RuntimeOrchestrator",
    "RuntimeProjection",
    "RuntimeRequestRespond",
    "RuntimeSettings",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "ScenarioTools",
    "SecretLeak",
    "SequenceRule",
    "SingleActiveRule",
    "SingleTerminalRule",
    "SqliteEventStore",
    "StoredEvent",
    "SuiteResult",
    "TerminalLastRule",
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
    "replay_summary",
    "replay_transcript",
    "replayable_protocols",
    "run_scenario",
    "run_suite",
    "scenario_for_transcript",
    "write_reports",
    "write_transcript",
]
