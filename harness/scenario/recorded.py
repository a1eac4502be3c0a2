"""The recorded outcome of an ordinary test, beside the scenario verdicts.

A user's own test (one that replays a recording into *their* orchestrator and checks *their*
event log) records what it did through the ``harness_results`` pytest fixture: the transcripts it
replayed, its event logs, the rule violations found in them, the goldens it checked, and -- from
pytest -- whether it passed. :class:`RecordedTest` holds that as plain data, so an xdist worker
can ship it to the controller as is, and the DuckDB file and ``summary.md`` can show it next to
the scenarios (``docs/analysis.md``: tables ``tests``, ``test_transcripts``, ``test_events``,
``test_violations``, ``test_goldens``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.core.invariants import Violation

TestStatus = Literal["passed", "failed", "skipped"]
#: ``matched``/``created``/``updated`` as :func:`~harness.golden.check_golden` returns them;
#: ``missing``/``differs`` when the check failed; ``skipped`` when a failed replay was not written.
GoldenCheck = Literal["matched", "created", "updated", "missing", "differs", "skipped"]


@dataclass(slots=True)
class EventLog:
    """One event log a test recorded: plain JSON events and where each names its type."""

    events: list[dict[str, Any]]
    type_field: str = "$.type"


@dataclass(slots=True)
class RecordedTest:
    """What one ordinary test recorded, and its verdict.

    ``transcripts`` are paths as the report names them (relative to the rootdir when under it);
    ``violations`` pair the log a violation was found in with the violation, whose ``sequence`` is
    the 0-based index of the event in that log; ``goldens`` pair a golden path with its
    :data:`GoldenCheck` outcome.
    """

    __test__ = False  # not a pytest test class, whatever a test module imports

    nodeid: str
    #: Collection order; orders tests in the report.
    position: int = 0
    status: TestStatus = "passed"
    #: One line: why the test failed or was skipped.
    message: str | None = None
    #: pytest's full failure text; ``""`` when it passed.
    detail: str = ""
    transcripts: list[str] = field(default_factory=list)
    logs: dict[str, EventLog] = field(default_factory=dict)
    violations: list[tuple[str, Violation]] = field(default_factory=list)
    goldens: list[tuple[str, GoldenCheck]] = field(default_factory=list)

    @property
    def path(self) -> str:
        """The test file, as the node id spells it."""
        return self.nodeid.split("::", 1)[0]

    @property
    def reproduce(self) -> str:
        """The command that reruns this test alone."""
        return f"pytest {shlex.quote(self.nodeid)}"

    def to_wire(self) -> dict[str, Any]:
        """Plain data (JSON types only) for the xdist channel."""
        return {
            "nodeid": self.nodeid,
            "position": self.position,
            "status": self.status,
            "message": self.message,
            "detail": self.detail,
            "transcripts": list(self.transcripts),
            "logs": {name: {"events": log.events, "type_field": log.type_field} for name, log in self.logs.items()},
            "violations": [[log, violation.to_json()] for log, violation in self.violations],
            "goldens": [[path, outcome] for path, outcome in self.goldens],
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> RecordedTest:
        return cls(
            nodeid=data["nodeid"],
            position=data["position"],
            status=data["status"],
            message=data["message"],
            detail=data["detail"],
            transcripts=list(data["transcripts"]),
            logs={name: EventLog(log["events"], log["type_field"]) for name, log in data["logs"].items()},
            violations=[(log, Violation.from_json(v)) for log, v in data["violations"]],
            goldens=[(path, outcome) for path, outcome in data["goldens"]],
        )
