"""Scenario files: which transcript to replay, what to do, and what must come out.

A scenario is YAML (``.yaml``/``.yml``) or TOML (``.toml``), validated by :class:`Scenario`.
Paths inside it are relative to the scenario file. See ``docs/scenarios.md``; its section "Limits
and refusals" says what a scenario file may not do (see :mod:`harness.scenario.files` for the
reader's limits, :func:`allowed_transcript_roots` for where a transcript may live).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from harness.core.commands import RuntimeCommandType
from harness.errors import ScenarioError, UsageError
from harness.files import file_kind
from harness.replay.matcher import MatchMode, parse_json_path
from harness.scenario.files import load_declaration

RunStatus = Literal["completed", "failed", "interrupted", "cancelled"]
SCENARIO_SUFFIXES = (".yaml", ".yml", ".toml")

#: Directories (``os.pathsep``-separated) where transcripts named by scenario files may also live.
TRANSCRIPT_ROOTS_ENV = "HARNESS_TRANSCRIPT_ROOTS"
#: Files or directories whose presence marks a project root (the nearest one above a scenario file).
PROJECT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", "pytest.ini", "tox.ini", ".git", ".hg")
#: The validation context of a scenario read from a file: its names become file names.
FROM_FILE: dict[str, bool] = {"scenario_file": True}
#: At most this many validation problems are listed; the rest are counted.
MAX_LISTED_PROBLEMS = 20
#: A value shown in an error message is cut after this many characters.
PREVIEW_CHARS = 120


def _from_file(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("scenario_file"))


def check_file_name(value: str, *, what: str) -> str:
    """Refuse a name that becomes one file name (a scenario ``name``, a variant key) but is empty,
    ``.``/``..``, or holds a path separator or a control character."""
    if value in ("", ".", ".."):
        raise ValueError(f"{what} {value!r} cannot name a file; use letters, digits, '.', '-', '_'")
    bad = next((c for c in value if c in "/\\" or ord(c) < 0x20 or c == "\x7f"), None)
    if bad is not None:
        raise ValueError(
            f"{what} {value!r} contains {bad!r}; it names a golden file, so path separators and "
            "control characters are refused"
        )
    return value


def check_relative_file(value: str, *, what: str) -> str:
    """Refuse a path that must stay inside a directory (``expect.golden``) but is absolute, has a
    ``..`` part, a backslash or a control character; ``/`` separates subdirectories."""
    if not value or PurePosixPath(value).is_absolute() or PureWindowsPath(value).drive:
        raise ValueError(f"{what} {value!r} must be a relative path inside the goldens directory")
    if ".." in PurePosixPath(value).parts:
        raise ValueError(f"{what} {value!r} has a '..' part; it must stay inside the goldens directory")
    bad = next((c for c in value if c == "\\" or ord(c) < 0x20 or c == "\x7f"), None)
    if bad is not None:
        raise ValueError(f"{what} {value!r} contains {bad!r}; use '/' between subdirectories")
    return value


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
    """Outbound-frame matching: ``strict`` (the default) or ``semantic``, minus these JSON paths.

    ``semantic`` compares what each request means rather than its spelling (see
    :mod:`harness.replay.semantic`), for recordings made by another client; it applies to the
    HTTP protocols ``anthropic.messages``, ``openai.chat`` and ``openai.responses``.
    """

    mode: MatchMode = "strict"
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
    """One provider's recording of the task a provider-neutral scenario describes.

    ``commands`` and ``workspace`` replace the scenario's for this variant (agent runtimes take
    their settings in ``thread.create``, and answer their own approvals); ``expect`` overrides the
    scenario's expectations key by key (``golden`` and ``parity`` belong to the scenario).
    """

    transcript: str
    request: RequestSpec | None = None
    match: MatchSpec = Field(default_factory=MatchSpec)
    commands: list[Step] | None = None
    workspace: str | None = None
    expect: dict[str, Any] = Field(default_factory=dict)

    @field_validator("expect")
    @classmethod
    def _expect_overrides(cls, value: dict[str, Any]) -> dict[str, Any]:
        shared = sorted({"golden", "parity"} & set(value))
        if shared:
            raise ValueError(f"{', '.join(shared)} belong to the scenario's expect, not a variant's")
        Expectations.model_validate(value)  # each key as the scenario's expect would take it
        return value


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

    @field_validator("golden")
    @classmethod
    def _golden_stays_inside(cls, value: str | bool) -> str | bool:
        if isinstance(value, str):
            check_relative_file(value, what="golden file")
        return value


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

    # Scenario files only (validation context FROM_FILE): a scenario implied by a bare transcript
    # takes its name from the recording's header, which may hold a '/', and has no golden.
    @field_validator("name")
    @classmethod
    def _name_is_a_file_name(cls, value: str, info: ValidationInfo) -> str:
        if _from_file(info):
            check_file_name(value, what="scenario name")
        return value

    @field_validator("variants")
    @classmethod
    def _variant_names_are_file_names(cls, value: dict[str, Variant], info: ValidationInfo) -> dict[str, Variant]:
        if _from_file(info):
            for name in value:
                check_file_name(name, what="variant name")
        return value

    @model_validator(mode="after")
    def _transcript_or_variants(self) -> Scenario:
        if (self.transcript is None) == (not self.variants):
            raise ValueError("a scenario names either one `transcript` or at least two `variants`, not both or neither")
        if self.variants and len(self.variants) < 2:
            raise ValueError("`variants` needs at least two entries to compare")
        if self.variants and (self.request is not None or self.match != MatchSpec()):
            raise ValueError("with `variants`, `request` and `match` belong inside each variant")
        return self

    def transcript_path(self) -> Path:
        """The transcript, relative to the scenario file; refused, naming the scenario file, when it
        is missing or not a regular file (a directory, FIFO or device would hang or crash the reader)."""
        if self.transcript is None:
            raise ScenarioError("a scenario with variants has one transcript per variant", path=self.source)
        base = Path(self.source).parent if self.source else Path.cwd()
        path = base / self.transcript
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            raise ScenarioError(f"$.transcript: {path}: no such transcript file", path=self.source) from None
        except (OSError, ValueError):
            return path  # unreadable or unnameable: the transcript reader says so
        if not stat.S_ISREG(mode):
            raise ScenarioError(
                f"$.transcript: {path} is {file_kind(mode)}, not a transcript file; name a regular .ndjson file",
                path=self.source,
            )
        return path

    def for_variant(self, variant: str) -> Scenario:
        """The plain scenario that replays one variant: shared commands, tools and expectations."""
        chosen = self.variants[variant]
        golden: str | bool = self.expect.golden
        if golden is True:
            golden = f"{self.name}.{variant}.ndjson"
        elif isinstance(golden, str):
            golden = golden.removesuffix(".ndjson") + f".{variant}.ndjson"
        overrides = Expectations.model_validate(chosen.expect)
        expect = self.expect.model_copy(
            update={**{key: getattr(overrides, key) for key in chosen.expect}, "golden": golden}
        )
        return self.model_copy(
            update={
                "name": f"{self.name}.{variant}",
                "transcript": chosen.transcript,
                "variants": {},
                "request": chosen.request,
                "match": chosen.match,
                "commands": self.commands if chosen.commands is None else chosen.commands,
                "workspace": self.workspace if chosen.workspace is None else chosen.workspace,
                "expect": expect,
            }
        )

    def golden_name(self) -> str | None:
        if self.expect.golden is False:
            return None
        if self.expect.golden is True:
            return f"{self.name}.ndjson"
        return str(self.expect.golden)


def load_scenario(path: Path | str, *, transcript_roots: Sequence[Path | str] = ()) -> Scenario:
    """Read and validate one scenario file; errors name the file and the field.

    The file is read within the limits of :mod:`harness.scenario.files`. Its transcripts must
    resolve inside one of :func:`allowed_transcript_roots` (``transcript_roots`` given here add to them).
    """
    source = Path(path)
    if source.suffix not in SCENARIO_SUFFIXES:
        raise ScenarioError(f"unknown scenario suffix {source.suffix!r}; use one of {SCENARIO_SUFFIXES}", path=source)
    raw = load_declaration(source, what="scenario file", error=ScenarioError)
    if not isinstance(raw, dict):
        raise ScenarioError(f"expected a mapping at the top level, found {type(raw).__name__}", path=source)
    raw.setdefault("name", source.stem)
    try:
        scenario = Scenario.model_validate({**raw, "source": str(source)}, context=FROM_FILE)
    except ValidationError as exc:
        raise ScenarioError(format_problems(exc), path=source) from None
    check_transcripts_inside(scenario, source, extra_roots=transcript_roots)
    return scenario


def _project_root(directory: Path) -> Path:
    """The nearest directory at or above ``directory`` holding a :data:`PROJECT_MARKERS` entry;
    ``directory`` itself when there is none."""
    for folder in (directory, *directory.parents):
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return directory


def allowed_transcript_roots(source: Path, extra: Sequence[Path | str] = ()) -> list[Path]:
    """Where a transcript named by the scenario file ``source`` may live, resolved.

    The scenario file's project (the nearest directory above it holding ``pyproject.toml``,
    ``setup.cfg``, ``setup.py``, ``pytest.ini``, ``tox.ini``, ``.git`` or ``.hg``; its own
    directory when there is none), the current working directory, ``extra`` (``harness run``
    passes its ``--transcripts-dir``) and every directory in the ``HARNESS_TRANSCRIPT_ROOTS``
    environment variable (``os.pathsep``-separated).
    """
    listed = [p for p in os.environ.get(TRANSCRIPT_ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    roots = [_project_root(source.resolve().parent), Path.cwd().resolve()]
    roots.extend(Path(p).expanduser().resolve() for p in (*extra, *listed))
    return roots


def check_transcripts_inside(scenario: Scenario, source: Path, *, extra_roots: Sequence[Path | str] = ()) -> None:
    """Refuse a scenario file whose transcript resolves (symlinks followed) outside every
    :func:`allowed_transcript_roots` entry: a scenario file must not make the harness read, and put in
    reports, a file from elsewhere on the machine unless the user said so."""
    named = [("$.transcript", scenario.transcript)] if scenario.transcript is not None else []
    named += [(f"$.variants.{key}.transcript", variant.transcript) for key, variant in scenario.variants.items()]
    if not named:
        return
    roots = allowed_transcript_roots(source, extra_roots)
    for field, value in named:
        if "\x00" in value:
            raise ScenarioError(f"{field}: the path contains a NUL character", path=source)
        resolved = (source.parent / value).resolve()
        if not any(resolved.is_relative_to(root) for root in roots):
            raise ScenarioError(
                f"{field}: transcript {value!r} resolves to {resolved}, outside the project ({roots[0]}) and the "
                f"working directory; to allow it, pass its directory to `harness run --transcripts-dir` or list it "
                f"in the {TRANSCRIPT_ROOTS_ENV} environment variable",
                path=source,
            )


def format_problems(error: ValidationError) -> str:
    """One ``$.json.path: what is wrong (found VALUE)`` per problem, at most
    :data:`MAX_LISTED_PROBLEMS` of them, each value cut to :data:`PREVIEW_CHARS` characters.

    The values are rendered here, lazily, never by pydantic: a value standing for millions of
    nodes costs no more than its first characters.
    """
    problems = error.errors(include_url=False)
    parts = []
    for problem in problems[:MAX_LISTED_PROBLEMS]:
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem["loc"])
        found = problem.get("input")
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "value_error" and isinstance(found, (dict, list)):
            parts.append(f"{path}: {message}")  # the message names the element; the whole value is noise
            continue
        found_text = preview(found) if found is not None and problem["type"] != "missing" else "nothing"
        parts.append(f"{path}: {message} (found {found_text})")
    if len(problems) > MAX_LISTED_PROBLEMS:
        parts.append(f"and {len(problems) - MAX_LISTED_PROBLEMS} more problems")
    return "; ".join(parts)


def preview(value: Any, limit: int = PREVIEW_CHARS) -> str:
    """Compact JSON of ``value`` cut after ``limit`` characters, rendering no more than that."""
    text = ""
    for chunk in _json_chunks(value, limit):
        text += chunk
        if len(text) > limit:
            return text[:limit]
    return text


def _json_chunks(value: Any, limit: int) -> Iterator[str]:
    if isinstance(value, dict):
        yield "{"
        for number, (key, item) in enumerate(value.items()):
            yield ("," if number else "") + _scalar_json(key if isinstance(key, str) else str(key), limit) + ":"
            yield from _json_chunks(item, limit)
        yield "}"
    elif isinstance(value, (list, tuple, set, frozenset)):
        yield "["
        for number, item in enumerate(value):
            if number:
                yield ","
            yield from _json_chunks(item, limit)
        yield "]"
    else:
        yield _scalar_json(value, limit)


def _scalar_json(value: Any, limit: int) -> str:
    if isinstance(value, str):
        value = value[: limit + 1]
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return orjson.dumps(repr(value)[: limit + 1]).decode()


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
