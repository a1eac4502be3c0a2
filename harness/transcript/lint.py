"""Lint a transcript beyond its schema: entry ordering, orphan entries and protocol rules.

Every issue names the line it is on. Schema problems are raised by the reader before linting;
this module assumes a transcript that loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from harness.transcript.io import Transcript
from harness.transcript.models import EmitInbound, ExpectOutbound, RuntimeExit
from harness.transcript.protocols import get_protocol

LINT_RULES: dict[str, str] = {
    "transcript.runtime_exit.restart": (
        "after a runtime_exit, the next entry is the app starting a new runtime (expect_outbound)"
    ),
    "transcript.empty": "a transcript has at least one entry",
    "http.outbound.kind": "outbound frames of an HTTP protocol are http.request frames",
    "http.inbound.kind": "inbound frames of an HTTP protocol are responses, SSE events or bodies",
    "http.orphan.inbound": "when a transcript records requests, every inbound frame follows one",
    "http.orphan.request": "every recorded request is followed by its response",
    "http.response_head.position": "http.response comes right after its request",
    "http.after_done": "nothing but a new request follows data: [DONE] or a body (stream-only: the next response)",
    "http.connection_cut": "a runtime_exit inside an exchange is a recorded connection cut; the exchange ends there",
    "http.request.shape": (
        "a recorded request is an http.request whose values have their wire types (body an object, the first "
        "request's messages objects with string texts, ...)"
    ),
}


@dataclass(frozen=True, slots=True)
class LintIssue:
    """One problem: where, which rule, what is wrong."""

    line: int | None
    rule: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"line {self.line}: [{self.rule}] {self.message}" if self.line else f"[{self.rule}] {self.message}"


def lint_transcript(transcript: Transcript) -> list[LintIssue]:
    """Ordering and orphan checks, plus the adapter's protocol rules for replayable protocols."""
    issues: list[LintIssue] = []
    entries = transcript.entries
    if not entries:
        return [LintIssue(None, "transcript.empty", "the transcript has a header and no entries")]
    for index, entry in enumerate(entries[:-1]):
        # t3code records restarts this way: the process exits, then the app starts a new one.
        following = entries[index + 1]
        if isinstance(entry, RuntimeExit) and not isinstance(following, ExpectOutbound):
            issues.append(
                LintIssue(
                    transcript.line_of(index + 1),
                    "transcript.runtime_exit.restart",
                    f"{following.type} right after runtime_exit ({entry.status}); a new runtime "
                    "starts with the app sending",
                )
            )
    if get_protocol(transcript.protocol).transport == "http":
        issues.extend(_lint_http(transcript))
    else:
        issues.extend(_lint_runtime(transcript))
    return issues


def _lint_runtime(transcript: Transcript) -> list[LintIssue]:
    """The frame shape rules an agent-runtime adapter reports, checked without a replay."""
    from harness.adapters import claude_agent_sdk, codex_app_server

    protocol = transcript.protocol
    if protocol == codex_app_server.PROTOCOL:
        found = codex_app_server.lint_frames(transcript.entries)
    elif protocol in (claude_agent_sdk.PROTOCOL, claude_agent_sdk.CLI_PROTOCOL):
        dialect: claude_agent_sdk.Dialect = "cli" if protocol == claude_agent_sdk.CLI_PROTOCOL else "sdk"
        found = claude_agent_sdk.lint_frames(transcript.entries, dialect)
    else:
        return []
    return [LintIssue(transcript.line_of(index), rule, message) for index, rule, message in found]


def _request_issue(adapter: Any, frame: Any) -> str | None:
    """What makes a recorded ``http.request`` unreadable, as the replay reads the first one."""
    from harness.adapters.base import FrameShapeError

    try:
        adapter.split_request(frame)
    except FrameShapeError as exc:
        return str(exc)
    except ValueError:
        return None  # not one user turn: a scenario sets the conversation up (not a broken frame)
    return None


def _lint_http(transcript: Transcript) -> list[LintIssue]:
    from harness.adapters import get_adapter, http_protocols
    from harness.adapters.base import ResponseFailed

    adapter = get_adapter(transcript.protocol) if transcript.protocol in http_protocols() else None

    def new_reader() -> Any:
        return adapter.new_response() if adapter is not None else None

    issues: list[LintIssue] = []
    has_requests = transcript.has_outbound
    in_exchange = not has_requests  # stream-only transcripts are one open exchange
    previous: str | None = None
    closed = False
    pending_request: int | None = None
    reader = new_reader()
    failed = False
    for index, entry in enumerate(transcript.entries):
        line = transcript.line_of(index)
        if isinstance(entry, RuntimeExit):
            if in_exchange and not closed:
                # A recording transport writes a cut connection this way: the app saw a transport
                # error, so the truncated stream is the recording, not a protocol violation.
                issues.append(
                    LintIssue(
                        line,
                        "http.connection_cut",
                        f"the connection was cut here ({entry.status}); the app saw a transport error",
                        "warning",
                    )
                )
                reader, failed, pending_request, closed = new_reader(), False, None, True
            continue
        kind = entry.frame.get("kind") if isinstance(entry.frame, dict) else None
        if isinstance(entry, ExpectOutbound):
            if kind != "http.request":
                issues.append(LintIssue(line, "http.outbound.kind", f"outbound frame of kind {kind!r}"))
            elif adapter is not None:
                problem = _request_issue(adapter, entry.frame)
                if problem is not None:
                    issues.append(LintIssue(line, "http.request.shape", problem))
            if pending_request is not None:
                issues.append(
                    LintIssue(
                        transcript.line_of(pending_request),
                        "http.orphan.request",
                        "this request has no response before the next request",
                    )
                )
            if reader is not None and not failed and not reader.done and reader.frames_seen:
                issues.extend(_violations(reader.finish(index), transcript))
            reader = new_reader()
            pending_request, in_exchange, closed, previous = index, True, False, "http.request"
            failed = False
            continue
        assert isinstance(entry, EmitInbound)
        if kind == "http.request":
            issues.append(LintIssue(line, "http.inbound.kind", "an inbound frame cannot be an http.request"))
            continue
        if not in_exchange:
            issues.append(LintIssue(line, "http.orphan.inbound", f"inbound {kind} before any request"))
            continue
        if kind == "http.response" and previous != "http.request":
            issues.append(
                LintIssue(
                    line, "http.response_head.position", f"http.response after {previous}, not right after a request"
                )
            )
        if closed and has_requests:
            # Stream-only, the next response of the loop may follow (the replay reads it as such).
            issues.append(LintIssue(line, "http.after_done", f"inbound {kind} after the response was complete"))
        if kind in ("sse.done", "http.body"):
            closed = True
        pending_request = None
        previous = kind
        if reader is not None and not failed:
            # Stream-only: the next response of the loop, unless the finished reader still claims the
            # frame (the [DONE] that ends a failed stream).
            absorbs = getattr(reader, "absorbs", None)
            if reader.done and not has_requests and not (absorbs is not None and absorbs(entry.frame)):
                reader = new_reader()
            found = reader.feed(entry.frame, index)
            issues.extend(_violations(found, transcript))
            # After a fatal violation the rest of the exchange is noise; report the cause once.
            failed = any(isinstance(e, ResponseFailed) and e.rule for e in found)
    if pending_request is not None:
        issues.append(
            LintIssue(transcript.line_of(pending_request), "http.orphan.request", "the last request has no response")
        )
    if reader is not None and not failed and not reader.done and reader.frames_seen:
        issues.extend(_violations(reader.finish(len(transcript.entries)), transcript))
    return issues


def _violations(events: Sequence[object], transcript: Transcript) -> list[LintIssue]:
    from harness.adapters.base import ProtocolViolation

    return [
        LintIssue(
            transcript.line_of(e.frame_index) if e.frame_index < len(transcript.entries) else None,
            e.rule,
            e.message,
            "error" if e.fatal else "warning",
        )
        for e in events
        if isinstance(e, ProtocolViolation)
    ]
