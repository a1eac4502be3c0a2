"""Run a scenario: replay its transcript through the core and judge the outcome.

:func:`execute` does the replay and returns everything it produced; :func:`run_scenario` adds the
checks (replay faithfulness, invariants, expectations, golden file) and returns a
:class:`ScenarioResult` whose :attr:`~ScenarioResult.failures` list is the single source for
pytest failures, CLI exit codes, reports and DuckDB verdict rows.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import itertools
import tempfile
from array import array
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import orjson

from harness.adapters import get_adapter, get_runtime_adapter, is_runtime_protocol
from harness.adapters.base import AssistantMessage, ContentItem, FrameShapeError, ProviderAdapter, RequestTemplate
from harness.adapters.http_runtime import HttpRuntime
from harness.adapters.runtime import RuntimeAdapter
from harness.core.commands import MessageDispatch, ThreadCreate
from harness.core.events import StoredEvent
from harness.core.invariants import Violation, check_invariants
from harness.core.orchestrator import Orchestrator
from harness.core.sqlite_store import SqliteEventStore
from harness.core.store import EventStore, FileEventStore, iter_events, spills
from harness.core.tools import Outcome, ScenarioTools, ToolSpec
from harness.errors import (
    GoldenError,
    GoldenMismatch,
    GoldenMissing,
    ReplayError,
    ScenarioError,
    TranscriptError,
    UsageError,
)
from harness.golden import check_golden
from harness.golden.files import golden_path_inside
from harness.golden.normalize import GoldenContent, iter_normalized
from harness.replay import FrameMatcher, LogicalClock, ReplayDriver
from harness.replay.driver import ReplayLink
from harness.replay.matcher import first_difference, short_json
from harness.replay.semantic import SEMANTIC_PROTOCOLS, recorded_by_another_client
from harness.scenario.model import (
    SCENARIO_SUFFIXES,
    MatchSpec,
    OrchestratorRestart,
    RequestSpec,
    Scenario,
    ToolDecl,
    load_scenario,
)
from harness.transcript import Transcript, read_transcript

FailureKind = Literal["replay", "invariant", "expectation", "golden", "golden_missing", "parity"]


@dataclass(frozen=True, slots=True)
class Failure:
    """One reason a scenario failed."""

    kind: FailureKind
    message: str
    detail: str = ""


@dataclass(slots=True)
class Execution:
    """Everything one replay produced."""

    scenario: Scenario
    transcript: Transcript
    driver: ReplayDriver
    orchestrator: Orchestrator
    #: The event log, when the store was closed after the replay (a durable store in a temp dir).
    stored: list[StoredEvent] | None = None
    #: Agent runtimes: how many orchestrator instances ran (one more per orchestrator.restart).
    instances: int = 1
    #: Agent runtimes: event sequence -> (transcript line, label) of the inbound frame behind it.
    origins: MutableMapping[int, tuple[int | None, str | None]] = field(default_factory=dict)
    #: The scratch directory of a log spilled to disk (a large transcript's); removed with the execution.
    scratch: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def events(self) -> list[StoredEvent]:
        if self.stored is not None:
            return self.stored
        return self.orchestrator.store.read()

    def iter_events(self) -> Iterator[StoredEvent]:
        """The event log in order, streamed from the store when it can (a long replay's log need
        not fit in memory; see :class:`~harness.core.store.FileEventStore`)."""
        if self.stored is not None:
            return iter(self.stored)
        return iter_events(self.orchestrator.store)

    def close(self) -> None:
        """Release a spilled log: close its store and remove its scratch directory. The events
        cannot be read after this; an in-memory execution is unaffected."""
        if self.scratch is not None:
            store = self.orchestrator.store
            if isinstance(store, FileEventStore):
                store.close()
            self.scratch.cleanup()
            self.scratch = None

    @property
    def responses(self) -> list[tuple[str, AssistantMessage, str]]:
        """HTTP model APIs: every provider response in order (id, final or partial message, status)."""
        adapter = self.orchestrator.adapter
        return adapter.responses if isinstance(adapter, HttpRuntime) else []

    @property
    def runs(self) -> list[dict[str, Any]]:
        return list(self.orchestrator.projection.runs.values())


@dataclass(slots=True)
class ScenarioResult:
    """The verdict on one scenario."""

    execution: Execution
    failures: list[Failure] = field(default_factory=list)
    invariant_violations: list[Violation] = field(default_factory=list)
    golden_path: Path | None = None
    golden_outcome: str | None = None
    #: For a scenario with ``variants``: the verdict on each variant (``execution`` is the first's).
    variants: list[ScenarioResult] = field(default_factory=list)
    #: The scenario as written (for variants, ``execution.scenario`` is the first variant's).
    declared: Scenario | None = None
    #: Why the golden was neither compared nor written while updating goldens (the replay failed).
    golden_skipped: str | None = None

    @property
    def scenario(self) -> Scenario:
        return self.declared or self.execution.scenario

    @property
    def golden_paths(self) -> list[Path]:
        """Every golden this result checked (one per variant for a provider-neutral scenario)."""
        own = [self.golden_path] if self.golden_path is not None else []
        return own + [p for v in self.variants for p in v.golden_paths]

    def executions(self) -> list[tuple[str, Execution]]:
        """``(name, execution)`` of every replay behind this verdict, for logs and the database."""
        if self.variants:
            return [(v.scenario.name, v.execution) for v in self.variants]
        return [(self.scenario.name, self.execution)]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def status(self) -> str:
        return "passed" if self.passed else "failed"

    @property
    def reproduce(self) -> str:
        """The one command that reruns this scenario alone."""
        return f"harness run {self.scenario.source or self.scenario.name}"


def _recorded_tool_result(driver: ReplayDriver, adapter: ProviderAdapter) -> Callable[[ContentItem], Outcome | None]:
    """Tool outcomes as the recorded app reported them in its next request."""

    def lookup(call: ContentItem) -> Outcome | None:
        entry = driver.peek_outbound()
        found = adapter.recorded_tool_result(entry.frame, call) if entry is not None else None
        if found is None:
            return None
        return Outcome(found.status, output=found.output, error=found.error, verbatim=found.verbatim)

    return lookup


def _tool_spec(decl: ToolDecl) -> ToolSpec:
    return ToolSpec(output=decl.output, error=decl.error, from_recording=decl.from_recording, ends_run=decl.ends_run)


def scenario_for_transcript(transcript: Transcript, *, path: str | None = None) -> Scenario:
    """The scenario a bare transcript implies: the recorded request params and first user message,
    tools answered from the recording, no golden and no expectations.

    Requests are matched semantically when the header says another client made them (metadata
    ``importer`` or ``client``, see :func:`~harness.replay.semantic.recorded_by_another_client`)
    and the protocol has a canonical request form; strictly otherwise.
    """
    if is_runtime_protocol(transcript.protocol):
        raise ScenarioError(
            f"{transcript.protocol} is an agent runtime: a bare transcript does not say what the app did "
            "(messages, steering, interrupts, approvals, forks, restarts); replay it with a scenario file "
            "(`harness replay SCENARIO.yaml`; examples in scenarios/t3code, format in docs/scenarios.md)",
            path=path or transcript.path,
        )
    first_index, first = next(transcript.outbound(), (None, None))
    request = RequestSpec()
    dispatch = MessageDispatch()
    if first is not None and first_index is not None:
        try:
            template, user = get_adapter(transcript.protocol).split_request(first.frame)
        except FrameShapeError as exc:
            # A recorded request the adapter cannot read: name its line and the JSON path inside it.
            line = transcript.line_of(first_index)
            raise TranscriptError(
                f"the first recorded request: {exc}", path=path or transcript.path, line=line
            ) from None
        except ValueError as exc:
            line = transcript.line_of(first_index)
            raise ScenarioError(
                f"{exc} (line {line}); write a scenario file that sets up the conversation",
                path=path or transcript.path,
            ) from None
        request = RequestSpec(
            method=template.method,
            path=template.path,
            query=template.query,
            headers=template.headers,
            params=template.params,
        )
        # A recorded stream resumption (GET ...?starting_after=N) means the client re-attached to
        # its first response; the implied scenario does the same.
        resume = next(
            (
                e.frame["query"]["starting_after"]
                for _, e in transcript.outbound()
                if isinstance(e.frame, dict)
                and e.frame.get("method") == "GET"
                and str((e.frame.get("query") or {}).get("starting_after", "")).isdigit()
            ),
            None,
        )
        dispatch = MessageDispatch(
            text=user.text, content=user.content, resume_starting_after=int(resume) if resume is not None else None
        )
    name = transcript.header.scenario or Path(transcript.path or "transcript").stem
    if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts or "\\" in name or "\x00" in name:
        # The name becomes the golden's file name: it may hold "/" (subfolders), never leave them.
        raise TranscriptError(
            f"$.scenario: {name!r} cannot name a golden file (no absolute path, '..', backslash or NUL)",
            path=path or transcript.path,
            line=1,
        )
    foreign = recorded_by_another_client(transcript.header.metadata) and transcript.protocol in SEMANTIC_PROTOCOLS
    return Scenario(
        name=name,
        transcript=transcript.path or "",
        request=request,
        commands=[ThreadCreate(thread_id="thread-1"), dispatch],
        default_tool=ToolDecl(from_recording=True),
        match=MatchSpec(mode="semantic" if foreign else "strict"),
        source=None,
    )


def _http_matcher(scenario: Scenario, transcript: Transcript) -> FrameMatcher:
    """The scenario's ``match`` for an HTTP transcript; ``semantic`` needs a protocol with a
    canonical request form."""
    if scenario.match.mode == "semantic" and transcript.protocol not in SEMANTIC_PROTOCOLS:
        raise ScenarioError(
            f"$.match.mode: semantic matching reads the request bodies of {', '.join(SEMANTIC_PROTOCOLS)}; "
            f"the transcript's protocol is {transcript.protocol}, so use `mode: strict` (and `ignore`)",
            path=scenario.source or transcript.path,
        )
    return FrameMatcher.from_paths(scenario.match.ignore, mode=scenario.match.mode, protocol=transcript.protocol)


def execute(
    scenario: Scenario,
    *,
    transcript: Transcript | None = None,
    seed: int | None = None,
    store: EventStore | None = None,
) -> Execution:
    """Replay ``scenario``: run its commands against its transcript through the core, storing the
    events in ``store``.

    Without a ``store``, the log is kept in memory, except for a transcript large enough to be
    read as an index (:attr:`~harness.transcript.Transcript.indexed`): its log spills to a
    :class:`~harness.core.store.FileEventStore` in a scratch directory that lives as long as the
    returned :class:`Execution`, so memory stays flat in transcript length (the file is durable, so
    an ``orchestrator.restart`` step reopens it like any durable store).
    """
    if transcript is None:
        transcript = read_transcript(scenario.transcript_path())
    scratch = None
    if store is None and transcript.indexed:
        scratch = tempfile.TemporaryDirectory(prefix="harness-events-")
        store = FileEventStore(Path(scratch.name) / "events.ndjson")
    execution = _execute(scenario, transcript, store=store, seed=scenario.seed if seed is None else seed)
    execution.scratch = scratch
    return execution


class EventOrigins(MutableMapping[int, tuple[int | None, str | None]]):
    """Event sequence -> (transcript line, label) of the inbound frame that caused the event.

    One 8-byte line number per event (a long replay keeps no tuple per event); the label is
    read back from the transcript when asked for.
    """

    def __init__(self, transcript: Transcript) -> None:
        self._transcript = transcript
        self._lines = array("q")  # position sequence - 1; -1: no origin; -2: an origin without a line
        self._unlined: dict[int, str | None] = {}  # the labels of origins without a line (rare)

    def __setitem__(self, sequence: int, origin: tuple[int | None, str | None]) -> None:
        line = origin[0] if origin[0] is not None else -2
        if line == -2:
            self._unlined[sequence] = origin[1]
        if sequence > len(self._lines):
            self._lines.extend([-1] * (sequence - len(self._lines)))
        self._lines[sequence - 1] = line

    def __getitem__(self, sequence: int) -> tuple[int | None, str | None]:
        line = self._lines[sequence - 1] if 0 < sequence <= len(self._lines) else -1
        if line == -1:
            raise KeyError(sequence)
        if line == -2:
            return None, self._unlined.get(sequence)
        lines = self._transcript.lines
        index = bisect.bisect_left(lines, line)
        entry = self._transcript.entries[index] if index < len(lines) and lines[index] == line else None
        return line, getattr(entry, "label", None)

    def __delitem__(self, sequence: int) -> None:
        self[sequence]
        self._lines[sequence - 1] = -1

    def __iter__(self) -> Iterator[int]:
        return (position + 1 for position, line in enumerate(self._lines) if line != -1)

    def __len__(self) -> int:
        return sum(1 for line in self._lines if line != -1)


def _runtime_adapter_options(transcript: Transcript) -> dict[str, Any]:
    """Recorded values the app would have generated: the Claude session id (``nativeSessionId``)."""
    metadata = transcript.header.metadata or {}
    native_session = metadata.get("nativeSessionId")
    if transcript.protocol == "claude-agent-sdk.query" and isinstance(native_session, str):
        recorded = [native_session]

        def session_ids() -> str:
            if not recorded:
                raise ScenarioError(
                    "the app opened a second new Claude session, but the transcript header records one nativeSessionId",
                    path=transcript.path,
                )
            return recorded.pop(0)

        return {"session_ids": session_ids}
    return {}


def _http_runtime(scenario: Scenario, transcript: Transcript, driver: ReplayDriver) -> Callable[[], HttpRuntime]:
    """The HTTP agent loop of a scenario: its protocol adapter, declared tools (answered from the
    recording where it says so) and request template."""
    adapter = get_adapter(transcript.protocol)
    tools = ScenarioTools(
        {name: _tool_spec(decl) for name, decl in scenario.tools.items()},
        recorded=_recorded_tool_result(driver, adapter),
        default=_tool_spec(scenario.default_tool) if scenario.default_tool else None,
    )
    spec = scenario.request or RequestSpec()
    template = RequestTemplate(
        method=spec.method, path=spec.path, query=dict(spec.query), headers=dict(spec.headers), params=dict(spec.params)
    )
    return lambda: HttpRuntime(adapter, tools=tools, template=template)


class StepRunner:
    """How :func:`_execute` runs the orchestrator's work: each step directly, in this process.

    :class:`harness.simulate.core.LiveRunner` runs them through a
    :class:`~harness.core.live.LiveCore` on a simulated loop instead, with subscribers alongside.
    """

    def run(self, orchestrator: Orchestrator, operation: Callable[[], Any], name: str, detail: str | None) -> Any:
        """Run one step's ``operation`` (``name``: ``dispatch`` or ``pump``; ``detail``: the command type)."""
        return operation()

    def finish(self, orchestrator: Orchestrator) -> None:
        """Called once after the last step, while the store is still open."""
        return None


def _execute(
    scenario: Scenario,
    transcript: Transcript,
    *,
    store: EventStore | None,
    seed: int,
    runner: StepRunner | None = None,
) -> Execution:
    """Replay a scenario through the orchestrator: one driver (one cursor) throughout, one
    orchestrator per instance, the protocol's runtime adapter (an agent runtime's, or
    :class:`~harness.adapters.http_runtime.HttpRuntime` over an HTTP model API).

    With an ``orchestrator.restart`` step and no store given, the events live in a SQLite file
    that each new instance reopens (a restart that kept memory would prove nothing).
    """
    http = not is_runtime_protocol(transcript.protocol)
    clock = LogicalClock()
    if http:
        for step in scenario.commands:
            if not isinstance(step, (ThreadCreate, MessageDispatch)):
                raise ScenarioError(
                    f"step {step.type!r} needs an agent-runtime transcript; {transcript.protocol} is an HTTP protocol",
                    path=scenario.source,
                )
        matcher = _http_matcher(scenario, transcript)
    else:
        if scenario.match.mode != "strict":
            raise ScenarioError(
                f"$.match.mode: {transcript.protocol} is an agent runtime; semantic matching applies to the HTTP "
                f"protocols ({', '.join(SEMANTIC_PROTOCOLS)}), so use `mode: strict` (and `ignore`)",
                path=scenario.source or transcript.path,
            )
        placeholders = [("<workspace>", scenario.workspace)] if scenario.workspace is not None else []
        matcher = FrameMatcher.from_paths(scenario.match.ignore, placeholders=placeholders, handoff_summaries=True)
    driver = ReplayDriver(transcript, matcher=matcher, clock=clock)
    link = ReplayLink(driver)
    make_adapter: Callable[[], RuntimeAdapter]
    if http:
        make_adapter = _http_runtime(scenario, transcript, driver)
        commands: list[Any] = list(scenario.commands) or [ThreadCreate(thread_id="thread-1"), MessageDispatch()]
    else:
        options = _runtime_adapter_options(transcript)
        make_adapter = lambda: get_runtime_adapter(transcript.protocol, **options)  # noqa: E731
        commands = list(scenario.commands)
    restarts = any(isinstance(step, OrchestratorRestart) for step in scenario.commands)
    runner = runner or StepRunner()
    with contextlib.ExitStack() as stack:
        db_path: Path | None = None
        if store is None and restarts:
            db_path = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "events.sqlite"
            store = SqliteEventStore(db_path)
        origins = EventOrigins(transcript)
        orchestrator = Orchestrator(
            adapter=make_adapter(), link=link, store=store, clock=clock, origins=origins, seed=seed
        )
        instances = 1
        try:
            for number, step in enumerate(commands, start=1):
                clock.advance(1)  # one logical millisecond per step, as t3code's scenarios do
                if isinstance(step, OrchestratorRestart):
                    if db_path is not None:
                        assert isinstance(orchestrator.store, SqliteEventStore)
                        orchestrator.store.close()
                        store = SqliteEventStore(db_path)
                    orchestrator = Orchestrator(
                        adapter=make_adapter(),
                        link=link,
                        store=orchestrator.store if db_path is None else store,
                        clock=clock,
                        origins=origins,
                        seed=seed,
                    )
                    instances += 1
                    runner.run(orchestrator, orchestrator.pump, "pump", None)
                else:
                    try:
                        runner.run(orchestrator, partial(orchestrator.dispatch, step), "dispatch", step.type)
                    except UsageError as exc:
                        if http:
                            # An HTTP run finishes within its dispatch: a command the core refuses
                            # is the scenario's mistake. Name the file and the command.
                            raise ScenarioError(
                                f"$.commands[{number - 1}] ({step.type}): {exc}", path=scenario.source
                            ) from None
                        # A step that cannot apply means the replay went off the recorded path
                        # (or the scenario is wrong): say where the transcript stood.
                        raise driver.fail(f"step {number} ({step.type}) could not apply: {exc}") from None
        except ReplayError as exc:
            # Kept on driver.failure and reported by the caller; adapters raise some themselves
            # (a response that never came), which the driver has not seen.
            if driver.failure is None:
                if exc.line is None:
                    driver.fail(str(exc))  # the cursor says where the transcript stood
                else:
                    driver.failure = exc
        runner.finish(orchestrator)
        with contextlib.suppress(ReplayError):
            driver.finish()
        # The log as it stands, unless the store keeps it out of memory on purpose (it is then
        # read from the store when used).
        stored = None if spills(orchestrator.store) else orchestrator.store.read()
        if isinstance(orchestrator.store, SqliteEventStore) and db_path is not None:
            orchestrator.store.close()
    return Execution(
        scenario=scenario,
        transcript=transcript,
        driver=driver,
        orchestrator=orchestrator,
        stored=stored,
        instances=instances,
        origins=origins,
    )


def _log_expectations(execution: Execution, rules: set[str]) -> list[Failure]:
    """The checks every scenario shares: required event types, and exactly the expected violations."""
    expect = execution.scenario.expect
    failures: list[Failure] = []
    types = {e.type for e in execution.iter_events()}
    missing = [t for t in expect.events if t not in types]
    if missing:
        failures.append(Failure("expectation", f"required event types never appeared: {', '.join(missing)}"))
    if sorted(rules) != sorted(set(expect.violations)):
        failures.append(
            Failure(
                "expectation",
                f"protocol violations {sorted(rules) or 'none'}, expected {sorted(set(expect.violations)) or 'none'}",
            )
        )
    return failures


def _check_expectations(execution: Execution) -> list[Failure]:
    """The scenario's ``expect`` against the projection and the log, for every protocol."""
    expect = execution.scenario.expect
    orchestrator = execution.orchestrator
    failures: list[Failure] = []
    collections = orchestrator.projection.to_json()
    runs = collections["runs"]
    if not runs:
        return [Failure("expectation", "the scenario ran no message.dispatch, so there is no run to check")]
    exact: list[tuple[str, list[str] | None, list[str]]] = [
        ("runs", expect.runs, [r["status"] for r in runs]),
        ("attempts", expect.attempts, [a["status"] for a in collections["attempts"]]),
        ("root_nodes", expect.root_nodes, [n["status"] for n in collections["nodes"] if n["kind"] == "root_turn"]),
        ("provider_threads", expect.provider_threads, [t["status"] for t in collections["provider_threads"]]),
    ]
    last = runs[-1]
    if expect.runs is None and last["status"] != expect.status:
        error = last.get("error")
        why = f" ({error['type']}: {error['message']})" if isinstance(error, dict) else ""
        failures.append(
            Failure("expectation", f"run {last['run_id']} ended {last['status']!r}{why}, expected {expect.status!r}")
        )
    if expect.stop_reason is not None and last.get("stop_reason") != expect.stop_reason:
        failures.append(
            Failure(
                "expectation",
                f"run {last['run_id']} stop_reason {last.get('stop_reason')!r}, expected {expect.stop_reason!r}",
            )
        )
    if expect.error_type is not None:
        found = (last.get("error") or {}).get("type")
        if found != expect.error_type:
            failures.append(
                Failure("expectation", f"run {last['run_id']} error type {found!r}, expected {expect.error_type!r}")
            )
    for name, wanted, found in exact:
        if wanted is not None and wanted != found:
            failures.append(Failure("expectation", f"{name} statuses {found}, expected {wanted}"))
    for run_id, wanted_types in expect.turn_items.items():
        found_types = [i["type"] for i in collections["turn_items"] if i["run_id"] == run_id]
        if found_types != wanted_types:
            failures.append(Failure("expectation", f"turn items of {run_id}: {found_types}, expected {wanted_types}"))
    for run_id, text in expect.assistant_text.items():
        replies = [m["text"] for m in collections["messages"] if m["run_id"] == run_id and m["role"] == "assistant"]
        if not replies or text not in replies[-1]:
            last_reply = replies[-1] if replies else None
            failures.append(
                Failure(
                    "expectation",
                    f"final assistant text of {run_id} is {short_json(last_reply)}; expected it to "
                    f"contain {short_json(text)}",
                )
            )
    rules = {str(e.data.get("rule")) for e in execution.iter_events() if e.type == "protocol.violation"}
    return failures + _log_expectations(execution, rules)


def golden_content(execution: Execution) -> GoldenContent:
    """The golden-file content for an execution, produced line by line from its event log (which
    is streamed from the store when it can): a long replay's golden is compared and written
    without holding it, or the log, in memory."""
    deltas = execution.scenario.expect.deltas
    return GoldenContent(
        execution.scenario.name, lambda: iter_normalized(execution.iter_events(), deltas=deltas), deltas
    )


def golden_bytes(execution: Execution) -> bytes:
    """The golden-file content for an execution, as bytes."""
    return b"".join(golden_content(execution).lines())


def _origin_note(execution: Execution, mismatch: GoldenMismatch) -> str:
    """For agent runtimes: the transcript entry whose handling produced the diverging event."""
    if not execution.origins or mismatch.divergence.index < 0:
        return ""
    records = iter_normalized(execution.iter_events(), deltas=execution.scenario.expect.deltas)
    # The diverging record, or the last one when the golden has more.
    record = collections.deque(itertools.islice(records, mismatch.divergence.index + 1), maxlen=1)
    if not record:
        return ""
    origin = execution.origins.get(int(record[0]["sequence"]))
    if origin is None:
        return ""
    line, label = origin
    return f" The event came from handling {execution.transcript.path}:{line}" + (f" ({label})" if label else "") + "."


def run_scenario(
    scenario: Scenario,
    *,
    goldens_dir: Path,
    update_goldens: bool = False,
    seed: int | None = None,
    update_failed: bool = False,
) -> ScenarioResult:
    """Replay a scenario and judge it: replay errors, invariants, expectations, golden.

    A scenario with ``variants`` replays each variant as its own scenario and adds the parity
    check: their canonical projections must agree on ``expect.parity``.

    With ``update_goldens``, the golden of a replay that failed (a frame mismatch, unconsumed
    entries: ``execution.driver.failure``) is not written -- it would record the broken replay as
    the truth -- and :attr:`ScenarioResult.golden_skipped` says why; ``update_failed`` writes it
    anyway.
    """
    if scenario.variants:
        return _run_variants(
            scenario, goldens_dir=goldens_dir, update_goldens=update_goldens, seed=seed, update_failed=update_failed
        )
    golden_path = golden_path_for(scenario, goldens_dir)
    execution = execute(scenario, seed=seed)
    result = ScenarioResult(execution=execution)
    if execution.driver.failure is not None:
        result.failures.append(Failure("replay", str(execution.driver.failure)))
    result.invariant_violations = check_invariants(execution.iter_events())
    for violation in result.invariant_violations:
        if violation.severity == "error":
            where = f"event {violation.sequence}" if violation.sequence is not None else "end of log"
            result.failures.append(Failure("invariant", f"[{violation.rule}] {where}: {violation.message}"))
    result.failures.extend(_check_expectations(execution))
    if golden_path is not None:
        result.golden_path = golden_path
        if update_goldens and execution.driver.failure is not None and not update_failed:
            # The scenario already fails on its replay failure; comparing would only repeat it.
            result.golden_skipped = "the replay failed, so the event log is not one to keep"
            return result
        try:
            result.golden_outcome = check_golden(result.golden_path, golden_content(execution), update=update_goldens)
        except GoldenMissing as exc:
            result.failures.append(Failure("golden_missing", str(exc)))
        except GoldenMismatch as exc:
            result.failures.append(Failure("golden", str(exc) + _origin_note(execution, exc), exc.diff))
        except GoldenError as exc:  # a golden that cannot be read: this scenario fails, the run goes on
            result.failures.append(Failure("golden", str(exc)))
    return result


def golden_path_for(scenario: Scenario, goldens_dir: Path, *, field: str | None = None) -> Path | None:
    """Where the scenario's golden lives (``None`` without one), refused with a
    :class:`ScenarioError` naming the scenario file and ``field`` (default: ``$.expect.golden``
    when it is a string, else ``$.name``) when it would lie outside ``goldens_dir``, symlinks
    resolved (see :func:`~harness.golden.files.golden_path_inside`)."""
    name = scenario.golden_name()
    if name is None:
        return None
    path = golden_path_inside(goldens_dir, name)
    if path is None:
        where = scenario.source or f"scenario {scenario.name!r}"
        field = field or ("$.expect.golden" if isinstance(scenario.expect.golden, str) else "$.name")
        raise ScenarioError(
            f"{field}: the golden file {name!r} would lie outside the goldens directory {goldens_dir} "
            "(symlinks followed); goldens are read and written only inside it",
            path=where,
        )
    return path


def check_golden_paths(scenario: Scenario, goldens_dir: Path) -> None:
    """Refuse, before anything runs, a scenario whose golden (or a variant's) lies outside
    ``goldens_dir``; see :func:`golden_path_for`."""
    if not scenario.variants:
        golden_path_for(scenario, goldens_dir)
        return
    field = "$.expect.golden" if isinstance(scenario.expect.golden, str) else "$.name and $.variants"
    for name in scenario.variants:
        golden_path_for(scenario.for_variant(name), goldens_dir, field=field)


def replay_transcript(path: Path | str, *, store: EventStore | None = None) -> Execution:
    """Replay a bare transcript with the scenario it implies (see :func:`scenario_for_transcript`),
    or a scenario file as it says (for a scenario with variants, its first variant).

    ``store`` receives the event log (default: in memory); a
    :class:`~harness.core.store.FileEventStore` keeps a long replay's log out of memory.
    """
    if Path(path).suffix in SCENARIO_SUFFIXES:
        scenario = load_scenario(path)
        if scenario.variants:
            scenario = scenario.for_variant(next(iter(scenario.variants)))
        return execute(scenario, store=store)
    transcript = read_transcript(path)
    return execute(scenario_for_transcript(transcript, path=str(path)), transcript=transcript, store=store)


def replay_summary(execution: Execution, *, events: bool = True) -> dict[str, Any]:
    """The stable ``harness replay --json`` object: status, error, one message per response, events.

    ``status`` is the last run's terminal status, or ``"failed"`` when the replay itself broke
    (a frame mismatch, entries left unconsumed); ``error`` then names the replay error class.
    ``match`` says how requests were compared (``strict`` or ``semantic``); ``recording_ended`` is
    true when a stream-only capture ended where the app sent a further request (the last run then
    completed with the recorded responses).
    ``events=False`` leaves the ``events`` key out; :func:`write_replay_summary` writes the whole
    object without holding the events in memory.
    """
    summary = _summary_head(execution)
    if events:
        summary["events"] = [event.to_json() for event in execution.iter_events()]
    return summary


def write_replay_summary(execution: Execution, write: Callable[[bytes | memoryview], object]) -> int:
    """Write :func:`replay_summary` as one JSON line through ``write``, streaming the events.

    The bytes are exactly ``orjson.dumps(replay_summary(execution)) + b"\n"``; the events are
    serialized one at a time as the store yields them. Returns the number of events.
    """
    head = orjson.dumps({**_summary_head(execution), "events": []})
    assert head.endswith(b"[]}")
    write(memoryview(head)[:-2])
    del head  # a long reply's text is in it; the events come next
    count = 0
    for event in execution.iter_events():
        write((b"," if count else b"") + orjson.dumps(event.to_json()))
        count += 1
    write(b"]}\n")
    return count


def _summary_head(execution: Execution) -> dict[str, Any]:
    """:func:`replay_summary` without its events."""
    runs = execution.runs
    last = runs[-1] if runs else None
    status = last["status"] if last else "failed"
    error = (last or {}).get("error")
    failure = execution.driver.failure
    if failure is not None:
        status, error = "failed", {"type": type(failure).__name__, "message": str(failure)}
    messages = []
    for _, response, _ in execution.responses:
        for message in (response, *response.alternatives):
            messages.append(
                {
                    "role": "assistant",
                    "text": message.text,
                    "reasoning": message.reasoning,
                    "tool_calls": [
                        {"id": call.native_id, "name": call.name, "arguments": call.arguments}
                        for call in message.tool_calls
                    ],
                    "stop_reason": message.stop_reason,
                    "usage": {
                        "input_tokens": message.input_tokens,
                        "output_tokens": message.output_tokens,
                    },
                    **({"choice": message.choice} if response.alternatives else {}),
                }
            )
    if not isinstance(execution.orchestrator.adapter, HttpRuntime):
        # Agent runtimes: the assistant messages of every run, as the projection holds them.
        messages = [
            {"role": "assistant", "text": m["text"], "thread_id": m["thread_id"], "run_id": m["run_id"]}
            for m in execution.orchestrator.projection.messages.values()
            if m["role"] == "assistant"
        ]
        if isinstance(error, str):
            error = {"type": "runtime_error", "message": error}
    ended = execution.driver.recording_ended_at is not None and status == "completed" and failure is None
    return {
        "transcript": execution.transcript.path,
        "protocol": execution.transcript.protocol,
        "status": status,
        "error": {"type": error["type"], "message": error["message"]} if error else None,
        "match": execution.scenario.match.mode,
        "recording_ended": ended,
        "messages": messages,
    }


def parity_view(execution: Execution) -> dict[str, Any]:
    """The provider-neutral projection a parity check compares: per run, in order, its status, its
    tool calls (name and arguments, and outcome, from ``tool_call.requested`` /
    ``tool_call.completed``, whoever ran them) and its final assistant text (HTTP: the text of its
    last response; agent runtimes: its last assistant message)."""
    calls: dict[str, list[dict[str, Any]]] = {}
    by_id: dict[str, dict[str, Any]] = {}
    for event in execution.iter_events():
        if event.type == "tool_call.requested" and event.data.get("executor") != "provider":
            # (A call an HTTP model's provider ran is part of its answer, not a call the app made.)
            call = {"name": event.data["name"], "arguments": event.data["arguments"], "outcome": None}
            calls.setdefault(str(event.run_id), []).append(call)
            by_id[str(event.data["tool_call_id"])] = call
        elif event.type == "tool_call.completed" and str(event.data.get("tool_call_id")) in by_id:
            by_id[str(event.data["tool_call_id"])]["outcome"] = event.data.get("outcome")
    runs = []
    for run_id, status, final_text in _run_outcomes(execution):
        made = calls.get(run_id, [])
        runs.append(
            {
                "status": status,
                "tool_calls": [{"name": c["name"], "arguments": c["arguments"]} for c in made],
                "tool_outcomes": [c["outcome"] for c in made],
                "final_text": final_text,
            }
        )
    return {"runs": runs}


def _run_outcomes(execution: Execution) -> list[tuple[str, str, str | None]]:
    """``(run id, status, final assistant text)`` of every run, in creation order."""
    collections = execution.orchestrator.projection.to_json()
    replies: dict[str, str] = {}
    for message in collections["messages"]:
        if message["role"] == "assistant":
            replies[message["run_id"]] = message["text"]
    return [(run["run_id"], run["status"], replies.get(run["run_id"])) for run in collections["runs"]]


def _run_variants(
    scenario: Scenario, *, goldens_dir: Path, update_goldens: bool, seed: int | None, update_failed: bool
) -> ScenarioResult:
    check_golden_paths(scenario, goldens_dir)
    results = {
        name: run_scenario(
            scenario.for_variant(name),
            goldens_dir=goldens_dir,
            update_goldens=update_goldens,
            seed=seed,
            update_failed=update_failed,
        )
        for name in scenario.variants
    }
    first_name, first = next(iter(results.items()))
    combined = ScenarioResult(execution=first.execution, variants=list(results.values()), declared=scenario)
    for name, result in results.items():
        combined.failures.extend(Failure(f.kind, f"[{name}] {f.message}", f.detail) for f in result.failures)
        combined.invariant_violations.extend(result.invariant_violations)
    aspects = scenario.expect.parity
    reference = {"runs": [{k: run[k] for k in aspects} for run in parity_view(first.execution)["runs"]]}
    for name, result in list(results.items())[1:]:
        view = {"runs": [{k: run[k] for k in aspects} for run in parity_view(result.execution)["runs"]]}
        found = first_difference(reference, view)
        if found is not None:
            path, expected, actual = found
            combined.failures.append(
                Failure(
                    "parity",
                    f"variant {name!r} differs from {first_name!r} at {path}: "
                    f"{first_name} has {short_json(expected)}, {name} has {short_json(actual)}",
                )
            )
    return combined
