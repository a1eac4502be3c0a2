"""What one simulated run did, as data: the history, its verdict, its signature and its hash.

A :class:`History` holds everything needed to judge and to reproduce a run: the seed, the fault
plan (encoded), the scheduling policy and every decision it made, which faults fired, the
exchanges served at the boundary, the named yield points passed, the commands (core runs), the
events (the core's log, or the user's own events) and the rule violations found. Its
:meth:`~History.digest` is the SHA-256 of its canonical JSON (sorted keys, no whitespace, the
policy's name left out), so two runs with the same inputs have the same digest in every process,
and a run replayed from its decisions has the digest of the original.

Schedules (decision lists) encode as run-length text: ``[0, 0, 0, 1, 2, 2]`` is ``"0*3,1,2*2"``;
trailing zeros are dropped because a replayed schedule takes index 0 past its end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from harness.errors import UsageError

Verdict = Literal["pass", "fail", "vacuous"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One violated rule: its id, what happened, and the index of the event it is about (if any)."""

    rule: str
    message: str
    at: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, "at": self.at}


@dataclass
class History:
    """One simulated run; see the module docstring."""

    target: str
    seed: int | None
    plan: str
    policy: str
    decisions: list[int] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    """One entry per fault of the plan: ``{"fault", "fired"}`` or ``{"fault", "skipped": reason}``."""
    commands: list[dict[str, Any]] = field(default_factory=list)
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    points: list[list[Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = "ok"
    violations: list[Finding] = field(default_factory=list)
    steps: int = 0
    virtual_ms: int = 0
    timeline: list[list[Any]] = field(default_factory=list)
    """``[lane, step, label, detail]`` per scheduling decision, yield point, exchange served and
    fault fired, for reports (lanes ``decision``, ``point``, ``exchange``, ``fault``; ``step``
    None when unknown). Derived from the run; not part of :meth:`to_json` or the digest."""

    @property
    def schedule(self) -> str:
        return encode_schedule(self.decisions)

    @property
    def fired(self) -> int:
        return sum(1 for f in self.faults if f.get("fired"))

    @property
    def verdict(self) -> Verdict:
        """``fail`` with a violation; ``vacuous`` when the plan had faults and none fired; else ``pass``."""
        if self.violations:
            return "fail"
        if self.faults and not self.fired:
            return "vacuous"
        return "pass"

    @property
    def signature(self) -> str:
        """What kind of failure this is: the violated rule ids, sorted and joined (empty on a pass)."""
        return "+".join(sorted({v.rule for v in self.violations}))

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "seed": self.seed,
            "plan": self.plan,
            "policy": self.policy,
            "schedule": self.schedule,
            "decisions": len(self.decisions),
            "faults": self.faults,
            "commands": self.commands,
            "exchanges": self.exchanges,
            "points": self.points,
            "events": self.events,
            "outcome": self.outcome,
            "violations": [v.to_json() for v in self.violations],
            "steps": self.steps,
            "virtual_ms": self.virtual_ms,
        }

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`to_json` without ``policy``: equal histories, equal digests.

        The policy says how the decisions were chosen, not what happened, so a run reproduced from
        its decision list (policy ``replay``) has the digest of the run it reproduces.
        """
        body = self.to_json()
        del body["policy"]
        text = orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=repr)
        return hashlib.sha256(text).hexdigest()


def encode_schedule(decisions: Sequence[int]) -> str:
    """Run-length text of a decision list, trailing zeros dropped (``""`` is the FIFO schedule)."""
    end = len(decisions)
    while end and decisions[end - 1] == 0:
        end -= 1
    parts: list[str] = []
    index = 0
    while index < end:
        value = decisions[index]
        run = 1
        while index + run < end and decisions[index + run] == value:
            run += 1
        parts.append(f"{value}*{run}" if run > 1 else str(value))
        index += run
    return ",".join(parts)


def decode_schedule(text: str) -> list[int]:
    """The decision list of :func:`encode_schedule`'s text; a malformed one names the bad part."""
    decisions: list[int] = []
    text = text.strip()
    if not text:
        return decisions
    for number, part in enumerate(text.split(","), start=1):
        value, _, count = part.strip().partition("*")
        if not value.isdigit() or (count and not count.isdigit()):
            raise UsageError(
                f"schedule part {number} is {part!r}; expected a decision index (`2`) or a run (`0*12`), "
                f"as in '0*3,1,2*2'"
            )
        decisions.extend([int(value)] * (int(count) if count else 1))
    return decisions


def history_timeline(
    *,
    decisions: Sequence[tuple[int, int, str]] = (),
    points: Sequence[Sequence[Any]] = (),
    exchanges: Sequence[Mapping[str, Any]] = (),
    exchange_steps: Sequence[int] = (),
    faults: Sequence[Mapping[str, Any]] = (),
    fault_steps: Mapping[str, int] | None = None,
) -> list[list[Any]]:
    """A run's :attr:`History.timeline`: one ``[lane, step, label, detail]`` per scheduling
    decision (``SimLoop.decision_log``), yield point, exchange served (``exchange_steps``: the step
    at which each was requested) and fault fired (``fault_steps``: the step of the request whose
    answer carried it, or for a tool fault the step the tool was called; None when unknown)."""
    rows: list[list[Any]] = []
    for step, ready, task in decisions:
        rows.append(["decision", step, f"ran {task}", f"{ready} ready"])
    for name, detail, at in points:
        rows.append(["point", at, str(name), detail])
    for number, exchange in enumerate(exchanges, start=1):
        requested = exchange_steps[number - 1] if number <= len(exchange_steps) else None
        how = "cut" if exchange.get("cut") else None
        rows.append(["exchange", requested, f"exchange {number}: status {exchange.get('status')}", how])
    for fault in faults:
        if fault.get("fired"):
            rows.append(["fault", (fault_steps or {}).get(str(fault["fault"])), str(fault["fault"]), None])
    return rows
