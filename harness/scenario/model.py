"""Scenario files: which transcript to replay, what to do, and what must come out.

A scenario is YAML (``.yaml``/``.yml``) or TOML (``.toml``), validated by :class:`Scenario`.
Paths inside it are relative to the scenario file. See ``docs/scenarios.md``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.core.commands import RuntimeCommandType
from harness.errors import ScenarioError, UsageError
from harness.replay.matcher import parse_json_path
from harness.transcript.io import format_validation_error

RunStatus = Literal["completed", "failed", "interrupted", "cancelled"]
SCENARIO_SUFFIXES = (".yaml", ".yml", ".toml")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RequestSpec(_Model):
    """How the core builds each HTTP request; ``params`` is the body minus ``messages``."""

    method: str = "POST"
    path: str = "/v1/messages"
    query: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)


class ToolDecl(_Model):
    """A tool's deterministic behaviour: exactly one of ``output``, ``error``, ``from_recording``."""

    output: Any = None
    error: str | None = None
    from_recording: bool = False
    #: An output tool: once the model calls it (and it ran), the run ends; no further request.
    ends_run: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> ToolDecl:
        chosen = [
            name
            for name, set_ in (
                ("output", self.output is not None),
                ("error", self.error is not None),
                ("from_recording", self.from_recording),
            )
            if set_
        ]
        if len(chosen) != 1:
            raise ValueError(f"a tool needs exactly one of output, error, from_recording; found {chosen or 'none'}")
        return self


class MatchSpec(_Model):
    """Outbound-frame matching: strict, minus these JSON paths."""

    ignore: list[str] = Field(default_factory=list)

    @field_validator("ignore")
    @classmethod
    def _paths_parse(cls, value: list[str]) -> list[str]:
        for path in value:
            try:
                parse_json_path(path)
            except UsageError as exc:
                raise ValueError(str(exc)) from None
        return value


class OrchestratorRestart(_Model):
    """A scenario step: tear the orchestrator down and start a second instance on the same store.

    The new instance rebuilds its state from the durable event store (SQLite) and gets a fresh
    runtime adapter, which must resume provider threads it did not start.
    """

    type: Literal["orchestrator.restart"] = "orchestrator.restart"


#: A scenario step: any command of the core, or an orchestrator restart.
Step = Annotated[RuntimeCommandType | OrchestratorRestart, Field(discriminator="type")]


ParityAspect = Literal["status", "tool_calls", "tool_outcomes", "final_text"]
PARITY_ASPECTS: tuple[ParityAspect, ...] = ("status", "tool_calls", "tool_outcomes", "final_text")


class Variant(_Model):
    """One provider's recording of the task a provider-neutral scenario describes."""

    transcript: str
    request: RequestSpec | None = None
    match: MatchSpec = Field(default_factory=MatchSpec)


class Expectations(_Model):
    """What a passing replay looks like."""

    golden: str | bool = True
    deltas: Literal["coalesced", "full"] = "coalesced"
    status: RunStatus = "completed"
    stop_reason: str | None = None
    error_type: str | None = None
    events: list[str] = Field(default_factory=list)
    violations: list[str] = Field(default_factory=list)
    #: For scenarios with ``variants``: what must be the same across all of them.
    parity: list[ParityAspect] = Field(default_factory=lambda: list(PARITY_ASPECTS))
    # -- agent runtimes: exact entity statuses at the end, all threads, in creation order ------
    runs: list[str] | None = None
    attempts: list[str] | None = None
    root_nodes: list[str] | None = None
    provider_threads: list[str] | None = None
    #: run id -> the exact ordered list of its turn item types.
    turn_items: dict[str, list[str]] = Field(default_factory=dict)
    #: run id -> text the run's final assistant message must contain.
    assistant_text: dict[str, str] = Field(default_factory=dict)


class Scenario(_Model):
    """One scenario file."""

    name: str
    description: str = ""
    transcript: str | None = None
    variants: dict[str, Variant] = Field(default_factory=dict)
    request: RequestSpec | None = None
    commands: list[Step] = Field(default_factory=list)
    #: What ``<workspace>`` in the transcript's outbound frames stands for (agent runtimes).
    workspace: str | None = None
    tools: dict[str, ToolDecl] = Field(default_factory=dict)
    default_tool: ToolDecl | None = None
    match: MatchSpec = Field(default_factory=MatchSpec)
    expect: Expectations = Field(default_factory=Expectations)
    seed: int = 0

    # Where the file was loaded from; not part of the format.
    source: str | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _transcript_or_variants(self) -> Scenario:
        if (self.transcript is None) == (not self.variants):
            raise ValueError("a scenario names either one `transcript` or at least two `variants`, not both or neither")
        if self.variants and len(self.variants) < 2:
            raise ValueError("`variants` needs at least two entries to compare")
        if self.variants and (self.request is not None or self.match.ignore):
            raise ValueError("with `variants`, `request` and `match` belong inside each variant")
        return self

    def transcript_path(self) -> Path:
        if self.transcript is None:
            raise ScenarioError("a scenario with variants has one transcript per variant", path=self.source)
        base = Path(self.source).parent if self.source else Path.cwd()
        return base / self.transcript

    def for_variant(self, variant: str) -> Scenario:
        """The plain scenario that replays one variant: shared commands, tools and expectations."""
        chosen = self.variants[variant]
        golden: str | bool = self.expect.golden
        if golden is True:
            golden = f"{self.name}.{variant}.ndjson"
        elif isinstance(golden, str):
            golden = golden.removesuffix(".ndjson") + f".{variant}.ndjson"
        return self.model_copy(
            update={
                "name": f"{self.name}.{variant}",
                "transcript": chosen.transcript,
                "variants": {},
                "request": chosen.request,
                "match": chosen.match,
                "expect": self.expect.model_copy(update={"golden": golden}),
            }
        )

    def golden_name(self) -> str | None:
        if self.expect.golden is False:
            return None
        if self.expect.golden is True:
            return f"{self.name}.ndjson"
        return str(self.expect.golden)


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate one scenario file; errors name the file and the field."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("no such scenario file", path=source) from None
    try:
        if source.suffix == ".toml":
            raw: Any = tomllib.loads(text)
        elif source.suffix in (".yaml", ".yml"):
            raw = yaml.safe_load(text)
        else:
            raise ScenarioError(
                f"unknown scenario suffix {source.suffix!r}; use one of {SCENARIO_SUFFIXES}", path=source
            )
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"not valid {source.suffix[1:].upper()}: {exc}", path=source) from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"expected a mapping at the top level, found {type(raw).__name__}", path=source)
    raw.setdefault("name", source.stem)
    try:
        scenario = Scenario.model_validate({**raw, "source": str(source)})
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc), path=source) from None
    return scenario


def discover_scenarios(paths: list[Path]) -> list[Path]:
    """Scenario files under ``paths`` (files or directories), sorted for a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in path.rglob("*") if p.suffix in SCENARIO_SUFFIXES and p.is_file())
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such scenario file or directory")
    return sorted(set(found))
