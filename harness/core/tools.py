"""Tools the orchestrator runs when the model calls them.

A :class:`ToolRunner` maps one tool call to an outcome: ``succeeded`` with output, or ``failed``
with an error message. Scenarios declare tools with deterministic behaviour
(:class:`ScenarioTools`): a fixed output, a fixed error, or the output the recorded app sent back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from harness.adapters.base import ContentItem


@dataclass(frozen=True, slots=True)
class Outcome:
    """The outcome union of a tool call."""

    status: Literal["succeeded", "failed"]
    output: Any = None
    error: str | None = None
    #: The output is the provider-native content the recorded app sent; send it back unchanged.
    verbatim: bool = False
    #: The call ends the run (an output tool, like pydantic-ai's ``final_result``): no further request.
    ends_run: bool = False

    def to_json(self) -> dict[str, Any]:
        if self.status == "succeeded":
            return {"status": "succeeded", "output": self.output}
        return {"status": "failed", "error": self.error}


class ToolRunner(Protocol):
    """Runs one tool call and returns its outcome. Must be deterministic."""

    def run(self, call: ContentItem) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """How one declared tool behaves. Exactly one of the three behaviours is set."""

    output: Any = None
    error: str | None = None
    from_recording: bool = False
    ends_run: bool = False


RecordedResultLookup = Callable[[ContentItem], Outcome | None]


class ScenarioTools:
    """Tools declared by a scenario; calls to undeclared tools fail with a clear error."""

    def __init__(
        self,
        specs: Mapping[str, ToolSpec],
        *,
        recorded: RecordedResultLookup | None = None,
        default: ToolSpec | None = None,
    ) -> None:
        self.specs = dict(specs)
        self.recorded = recorded
        self.default = default

    def run(self, call: ContentItem) -> Outcome:
        outcome = self._outcome(call)
        spec = self.specs.get(call.name or "", self.default)
        if spec is not None and spec.ends_run:
            return dataclasses.replace(outcome, ends_run=True)
        return outcome

    def _outcome(self, call: ContentItem) -> Outcome:
        spec = self.specs.get(call.name or "", self.default)
        if spec is None:
            declared = ", ".join(sorted(self.specs)) or "none"
            return Outcome("failed", error=f"tool {call.name!r} is not declared by the scenario (declared: {declared})")
        if spec.from_recording:
            found = self.recorded(call) if self.recorded else None
            if found is None:
                return Outcome(
                    "failed",
                    error=f"no recorded tool result for call {call.native_id!r} ({call.name}): "
                    "the transcript has no later request carrying it",
                )
            return found
        if spec.error is not None:
            return Outcome("failed", error=spec.error)
        return Outcome("succeeded", output=spec.output)
