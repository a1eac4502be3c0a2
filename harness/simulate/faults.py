"""Faults are data: a fault plan names what goes wrong where, and applying it rewrites a transcript.

A :class:`FaultPlan` is a list of :class:`Fault` objects tied to transcript positions, written
as text (``status@2:code=429;reset@1.3;stall@7:ms=500``). :func:`apply_plan` turns a plan and a
transcript into a new transcript that serves the faults, so the replay machinery that already
fails closed (:class:`~harness.replay.driver.ReplayDriver`, :class:`~harness.replay.http.HttpReplay`
and its transports, ``harness fake-runtime``) replays the faulted recording unchanged. Nothing
is random here except through :mod:`harness.simulate.seeds`; a plan and a transcript give the
same rewritten transcript in every process.

Positions
---------

* HTTP transcripts (``anthropic.messages``, ``openai.responses``, ``openai.chat``): ``kind@E.F``,
  where ``E`` is the 1-based number of the exchange (the ``E``-th ``expect_outbound``) and ``F``
  the 0-based index among that response's *body* frames (the ``emit_inbound`` entries after the
  request, not counting the ``http.response`` head). Kinds without a frame are written ``kind@E``.
  A stream-only transcript (no recorded request) splits into exchanges at its response heads,
  as :class:`~harness.replay.http.HttpReplay` serves it.
* stdio transcripts (Codex app-server, Claude Agent SDK, Claude Code): ``kind@N``, where ``N`` is
  the 1-based number of the inbound frame (counting ``emit_inbound`` entries).
* ``crash@K`` (crash the orchestrator after stored event ``K``), ``tool_error@N`` and
  ``tool_timeout@N`` (the ``N``-th tool call fails or times out) rewrite nothing: they are
  carried out by the simulator, and :func:`apply_plan` reports them applied with no marker.

Kinds
-----

:data:`FAULT_KINDS` holds the vocabulary, each kind with its category:

* ``retry`` (the client should retry): ``status``, ``stream_error``, ``reset``, ``truncate``.
  The failed attempt is followed by a copy of the recorded request and then the recorded
  response, so a client that retries once passes, a client that does not retry leaves the copy
  unconsumed (the replay fails closed with :class:`~harness.errors.UnconsumedEntries`) and a
  client that retries twice sends a request the recording does not have. A stream-only
  transcript has no request to copy: retry faults are skipped there.
* ``benign`` (the outcome must not change): ``stall``, ``slow``, ``rechunk``, ``reorder``.
* ``corrupt`` (the data changes; never chosen unless asked): ``duplicate``, ``drop``, ``swap``.
* ``exit`` (the runtime process dies): ``exit``.
* ``crash`` and ``tool``: ``crash``, ``tool_error``, ``tool_timeout`` (transcript-free).

When one exchange holds several faults, frame faults (``stall``, ``slow``, ``duplicate``,
``drop``, ``swap``) change the recorded response the exchange finally gets, and each retry fault
adds one failed attempt before it, in the plan's order; a failed attempt serves the recorded
frames before its fault unchanged.

What the SDKs do (``anthropic`` and ``openai`` Python SDKs over
:class:`~harness.replay.http.ReplayTransport`): they retry a ``status`` fault themselves when
``max_retries >= 1`` (both honour ``retry-after-ms`` before ``retry-after``, and only a value above
zero; otherwise they back off about half a second) and raise the status error with
``max_retries=0`` (Anthropic: ``OverloadedError`` for 529, ``RateLimitError``, ``InternalServerError``;
OpenAI: ``RateLimitError``, ``InternalServerError``). They retry a ``reset`` of a non-streamed
answer (the connection error comes while the SDK reads the body). Inside a stream they raise and
leave the retry to the caller: ``stream_error`` raises the SDK's status error (Anthropic) or
``APIError`` (OpenAI), ``reset`` raises a connection error, ``truncate`` raises nothing (the
stream just ends early: a client must notice the missing end itself).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from harness.errors import UsageError
from harness.limits import MAX_AFTER_MS
from harness.replay.http import Part
from harness.simulate.seeds import Rng, derive
from harness.transcript import EmitInbound, ExpectOutbound, RuntimeExit, Transcript, get_protocol
from harness.transcript.io import Entry

Category = Literal["retry", "benign", "corrupt", "exit", "crash", "tool"]
ParamValue = int | str
Chunker = Callable[[int, list[Part]], list[Part]]

# -- the vocabulary -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a fault kind: its type, default (None: decided by the protocol or absent),
    and the values it accepts (``choices``, or the integer range ``low..high``)."""

    name: str
    type: type[int] | type[str]
    default: ParamValue | None
    doc: str
    choices: tuple[ParamValue, ...] = ()
    low: int = 0
    high: int = MAX_AFTER_MS

    def describe(self) -> str:
        """What the parameter accepts, for error messages."""
        if self.choices:
            return "one of " + ", ".join(str(c) for c in self.choices)
        return f"an integer from {self.low} to {self.high}"


@dataclass(frozen=True, slots=True)
class FaultKind:
    """One kind of fault: its category, the transports it applies to (``http``, ``stdio``), whether
    its HTTP position has a frame, its parameters and what it does."""

    name: str
    category: Category
    transports: tuple[str, ...]
    has_frame: bool
    params: tuple[Param, ...]
    doc: str

    @property
    def defaults(self) -> dict[str, ParamValue | None]:
        """Each parameter's default (None: decided by the protocol, or absent)."""
        return {p.name: p.default for p in self.params}

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def rewrites(self) -> bool:
        """False for the transcript-free kinds (crash and tool faults), which the simulator carries out."""
        return self.category not in ("crash", "tool")

    @property
    def frame_required(self) -> bool:
        """Whether the text form must give a frame (a kind that also applies to stdio, where
        positions have none, may leave it out)."""
        return self.has_frame and "stdio" not in self.transports


STATUS_CODES: tuple[int, ...] = (429, 500, 503, 529)
STREAM_ERRORS: tuple[str, ...] = ("overloaded_error", "rate_limit_error", "api_error")
PROTOCOL_STATUS_CODES: dict[str, tuple[int, ...]] = {
    "anthropic": (429, 500, 529),
    "openai": (429, 500, 503),
}
"""The error statuses each provider really answers with (what :func:`plan_for_seed` draws from)."""
DEFAULT_STATUS: dict[str, int] = {"anthropic": 529, "openai": 500}

FAULT_KINDS: dict[str, FaultKind] = {
    kind.name: kind
    for kind in (
        FaultKind(
            "status",
            "retry",
            ("http",),
            False,
            (
                Param("code", int, None, "the status (default 529 for Anthropic, 500 for OpenAI)", STATUS_CODES),
                Param("retry_after", int, None, "seconds, sent as the retry-after header", low=0, high=86_400),
                Param(
                    "retry_after_ms",
                    int,
                    None,
                    "milliseconds, sent as the retry-after-ms header (both SDKs read it first)",
                    low=0,
                    high=86_400_000,
                ),
            ),
            "before exchange E the server answers an error status in the provider's error shape",
        ),
        FaultKind(
            "stream_error",
            "retry",
            ("http",),
            True,
            (Param("error", str, "overloaded_error", "the error type", STREAM_ERRORS),),
            "after F body frames the provider's mid-stream error event, then the body ends (SSE only)",
        ),
        FaultKind(
            "reset",
            "retry",
            ("http",),
            True,
            (),
            "after F body frames the connection is reset (the HTTP library raises RemoteProtocolError)",
        ),
        FaultKind(
            "truncate",
            "retry",
            ("http",),
            True,
            (),
            "the body ends cleanly after F frames, without an error (SSE only)",
        ),
        FaultKind(
            "stall",
            "benign",
            ("http", "stdio"),
            True,
            (Param("ms", int, 30_000, "milliseconds added to the frame's afterMs"),),
            "the frame arrives ms later",
        ),
        FaultKind(
            "slow",
            "benign",
            ("http",),
            True,
            (Param("ms", int, 200, "milliseconds added to each frame's afterMs"),),
            "every body frame from F on arrives ms later",
        ),
        FaultKind(
            "rechunk",
            "benign",
            ("http",),
            False,
            (Param("seed", int, 0, "picks where the body is cut", low=0, high=2**63 - 1),),
            "the body of exchange E reaches the client in other byte chunks (events split and merged)",
        ),
        FaultKind("duplicate", "corrupt", ("http",), True, (), "body frame F arrives twice"),
        FaultKind("drop", "corrupt", ("http",), True, (), "body frame F never arrives"),
        FaultKind("swap", "corrupt", ("http",), True, (), "body frames F and F+1 arrive in the other order"),
        FaultKind(
            "exit",
            "exit",
            ("stdio",),
            False,
            (),
            "the runtime process exits (status error, code 1) after inbound frame N; nothing after it arrives",
        ),
        FaultKind(
            "reorder",
            "benign",
            ("stdio",),
            False,
            (Param("count", int, 1, "how many following notifications the response moves past", low=1, high=1000),),
            "the JSON-RPC response at inbound frame N arrives after the notifications that follow it",
        ),
        FaultKind(
            "crash",
            "crash",
            ("http", "stdio"),
            False,
            (),
            "the orchestrator crashes after stored event K (carried out by the simulator)",
        ),
        FaultKind(
            "tool_error",
            "tool",
            ("http",),
            False,
            (),
            "the N-th tool call fails (carried out by the simulator)",
        ),
        FaultKind(
            "tool_timeout",
            "tool",
            ("http",),
            False,
            (),
            "the N-th tool call times out (carried out by the simulator)",
        ),
    )
}
"""Every fault kind by name."""

DEFAULT_KINDS: dict[str, frozenset[str]] = {
    transport: frozenset(
        name
        for name, kind in FAULT_KINDS.items()
        if transport in kind.transports and kind.category in ("retry", "benign")
    )
    for transport in ("http", "stdio")
}
"""Per transport, the kinds a plan uses unless told otherwise: the retry and benign ones."""


def _known() -> str:
    return ", ".join(sorted(FAULT_KINDS))


def _kind(name: str) -> FaultKind:
    kind = FAULT_KINDS.get(name)
    if kind is None:
        raise UsageError(f"unknown fault kind {name!r}; known kinds: {_known()}")
    return kind


def _check_value(kind: FaultKind, spec: Param, value: Any) -> ParamValue:
    if spec.type is int:
        if type(value) is not int:
            raise UsageError(f"parameter {spec.name} of {kind.name} must be an integer, found {value!r}")
        if spec.choices and value not in spec.choices:
            raise UsageError(f"parameter {spec.name} of {kind.name} must be {spec.describe()}, found {value}")
        if not spec.choices and not spec.low <= value <= spec.high:
            raise UsageError(f"parameter {spec.name} of {kind.name} must be {spec.describe()}, found {value}")
        return value
    if not isinstance(value, str) or value not in spec.choices:
        raise UsageError(f"parameter {spec.name} of {kind.name} must be {spec.describe()}, found {value!r}")
    return value


def _normalize_params(kind: FaultKind, params: Any) -> tuple[tuple[str, ParamValue], ...]:
    """Checked parameters, sorted by name, without the ones equal to their default."""
    pairs: list[tuple[Any, Any]]
    if isinstance(params, Mapping):
        pairs = list(params.items())
    elif isinstance(params, (list, tuple)):
        pairs = []
        for item in params:
            if not isinstance(item, (list, tuple)) or len(item) != 2:
                raise UsageError(f"parameters of {kind.name} must be (name, value) pairs, found {item!r}")
            pairs.append((item[0], item[1]))
    else:
        raise UsageError(f"parameters of {kind.name} must be (name, value) pairs, found {params!r}")
    seen: dict[str, ParamValue] = {}
    for name, value in pairs:
        spec = kind.param(name) if isinstance(name, str) else None
        if spec is None:
            if not kind.params:
                raise UsageError(f"{kind.name} takes no parameters, found {name!r}")
            names = ", ".join(p.name for p in kind.params)
            raise UsageError(f"{kind.name} has no parameter {name!r}; its parameters: {names}")
        if name in seen:
            raise UsageError(f"parameter {name} of {kind.name} is given twice")
        seen[name] = _check_value(kind, spec, value)
    defaults = kind.defaults
    return tuple(sorted((n, v) for n, v in seen.items() if v != defaults[n]))


class Fault(BaseModel):
    """One fault at one position; see the module docstring for positions and kinds.

    >>> Fault(kind="status", at=2, params={"code": 429}).encode()
    'status@2:code=429'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    at: int
    """The exchange (HTTP), inbound frame (stdio), stored event (crash) or tool call (tool faults), from 1."""
    frame: int | None = None
    """The 0-based body frame of an HTTP exchange, for the kinds that have one."""
    params: tuple[tuple[str, int | str], ...] = ()
    """Sorted by name; only values that differ from the default."""

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        name = data.get("kind")
        if not isinstance(name, str):
            raise UsageError(f"a fault needs a kind (one of {_known()}), found {name!r}")
        kind = _kind(name)
        at, frame = data.get("at"), data.get("frame")
        if type(at) is not int or at < 1:
            raise UsageError(f"the position of {kind.name} must be an integer of at least 1, found {at!r}")
        if frame is not None and (type(frame) is not int or frame < 0):
            raise UsageError(f"the frame of {kind.name} must be an integer of at least 0, found {frame!r}")
        if frame is not None and not kind.has_frame:
            raise UsageError(f"{kind.name} takes no frame, found frame {frame}: write {kind.name}@{at}")
        if frame is None and kind.frame_required:
            raise UsageError(f"{kind.name} needs a frame: write {kind.name}@{at}.FRAME")
        return {**data, "params": _normalize_params(kind, data.get("params", ()))}

    @property
    def spec(self) -> FaultKind:
        return FAULT_KINDS[self.kind]

    def param(self, name: str) -> ParamValue | None:
        """The parameter's value, else its default (None: decided by the protocol, or absent)."""
        for key, value in self.params:
            if key == name:
                return value
        spec = self.spec.param(name)
        if spec is None:
            raise KeyError(name)
        return spec.default

    def encode(self) -> str:
        """The text form: ``reset@1.3``, ``status@2:code=429,retry_after=2``, ``stall@7:ms=500``."""
        text = f"{self.kind}@{self.at}" + (f".{self.frame}" if self.frame is not None else "")
        if self.params:
            text += ":" + ",".join(f"{name}={value}" for name, value in self.params)
        return text

    def sort_key(self) -> tuple[int, int, str, tuple[tuple[str, int, int, str], ...]]:
        """The canonical order: position, then kind, then parameters."""
        params = tuple((n, 0, v, "") if isinstance(v, int) else (n, 1, 0, v) for n, v in self.params)
        return (self.at, -1 if self.frame is None else self.frame, self.kind, params)

    def __str__(self) -> str:
        return self.encode()


_FAULT = re.compile(r"^(?P<kind>[^@]*)@(?P<at>[^.:]*)(?:\.(?P<frame>[^:]*))?(?::(?P<params>.*))?$")
_INT = re.compile(r"^-?[0-9]+$")


def _parse_int(text: str, what: str) -> int:
    if not _INT.match(text):
        raise UsageError(f"expected an integer {what}, found {text!r}")
    return int(text)


def _parse_fault(text: str) -> Fault:
    match = _FAULT.match(text)
    if match is None:
        raise UsageError("expected KIND@POSITION (for example reset@1.3 or status@2:code=429), found no '@'")
    kind = _kind(match["kind"])
    at = _parse_int(match["at"], "position after '@'")
    if at < 1:
        raise UsageError(f"the position must be at least 1, found {at}")
    frame = None
    if match["frame"] is not None:
        frame = _parse_int(match["frame"], "frame after '.'")
        if frame < 0:
            raise UsageError(f"the frame must be at least 0, found {frame}")
    params: list[tuple[str, ParamValue]] = []
    if match["params"] is not None:
        for item in match["params"].split(","):
            name, equals, value = item.partition("=")
            name, value = name.strip(), value.strip()
            if not equals or not name:
                raise UsageError(f"expected NAME=VALUE parameters separated by ',', found {item!r}")
            spec = kind.param(name)
            if spec is not None and spec.type is int:
                number = _parse_int(value, f"value of {name}")
                params.append((name, number))
            else:
                params.append((name, value))
    return Fault(kind=kind.name, at=at, frame=frame, params=tuple(params))


class FaultPlan(BaseModel):
    """A set of faults in canonical order (position, then kind, then parameters).

    >>> plan = FaultPlan.parse("status@2:code=429;reset@1.3")
    >>> plan.encode()
    'reset@1.3;status@2:code=429'
    >>> FaultPlan.parse("none").faults
    ()
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    faults: tuple[Fault, ...] = ()

    @field_validator("faults", mode="after")
    @classmethod
    def _canonical(cls, faults: tuple[Fault, ...]) -> tuple[Fault, ...]:
        return tuple(sorted(faults, key=Fault.sort_key))

    def encode(self) -> str:
        """The faults joined by ``;``; the empty plan is ``none``."""
        return ";".join(f.encode() for f in self.faults) if self.faults else "none"

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """The plan written by :meth:`encode`; a :class:`UsageError` names the fault that is wrong."""
        stripped = text.strip()
        if stripped == "none":
            return cls()
        if not stripped:
            raise UsageError("fault plan '': expected faults separated by ';' (the empty plan is written 'none')")
        faults = []
        for number, part in enumerate(stripped.split(";"), start=1):
            item = part.strip()
            try:
                if not item:
                    raise UsageError("expected a fault, found nothing")
                faults.append(_parse_fault(item))
            except UsageError as error:
                raise UsageError(f"fault plan {text!r}, fault {number} ({item!r}): {error}") from None
        return cls(faults=tuple(faults))

    def without(self, index: int) -> FaultPlan:
        """The plan without its ``index``-th fault (0-based), for shrinking a failing plan."""
        if not 0 <= index < len(self.faults):
            raise UsageError(f"the plan has {len(self.faults)} faults; there is no fault {index} to remove")
        return FaultPlan(faults=self.faults[:index] + self.faults[index + 1 :])

    @property
    def kinds(self) -> tuple[str, ...]:
        """The distinct kinds in the plan, sorted."""
        return tuple(sorted({f.kind for f in self.faults}))

    def __str__(self) -> str:
        return self.encode()


# -- the shape of a transcript --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExchangeShape:
    """One HTTP exchange: its number, its body frames, whether it streams, which frames are deltas."""

    number: int
    body_frames: int
    streams: bool
    deltas: tuple[int, ...]
    """0-based body frames that carry a piece of text or tool arguments."""


@dataclass(frozen=True, slots=True)
class TranscriptShape:
    """What a fault plan can target in one transcript (see :func:`positions`)."""

    protocol: str
    transport: Literal["http", "stdio"]
    requests: bool
    """HTTP: False for a stream-only transcript (no recorded request), where retry faults cannot apply."""
    exchanges: tuple[ExchangeShape, ...] = ()
    inbound: int = 0
    """The number of inbound frames (``emit_inbound`` entries)."""
    reorderable: tuple[int, ...] = ()
    """stdio: 1-based inbound frames that are JSON-RPC responses followed by a notification."""
    tool_calls: int = 0
    """HTTP: the number of tool calls the recorded responses ask for."""

    def targets(self, kind: str) -> tuple[tuple[int, int | None], ...]:
        """Every ``(at, frame)`` where a fault of ``kind`` applies (no transcript-free kind but the
        tool faults, which target the recorded tool calls, and crash, which targets one event per
        inbound frame as a rough bound)."""
        spec = _kind(kind)
        if self.transport not in spec.transports:
            return ()
        if spec.category == "crash":
            return tuple((k, None) for k in range(1, max(1, self.inbound) + 1))
        if spec.category == "tool":
            return tuple((n, None) for n in range(1, self.tool_calls + 1))
        if self.transport == "stdio":
            if kind == "reorder":
                return tuple((n, None) for n in self.reorderable)
            return tuple((n, None) for n in range(1, self.inbound + 1))
        out: list[tuple[int, int | None]] = []
        for exchange in self.exchanges:
            out.extend((exchange.number, frame) for frame in self.frames(kind, exchange))
        return tuple(out)

    def frames(self, kind: str, exchange: ExchangeShape) -> tuple[int | None, ...]:
        """HTTP: the frames of ``exchange`` where ``kind`` applies (``(None,)`` for a frameless kind)."""
        spec = _kind(kind)
        if spec.category == "retry" and not self.requests:
            return ()
        if kind in ("stream_error", "truncate") and not exchange.streams:
            return ()
        if not spec.has_frame:
            return (None,)
        if spec.category == "corrupt":
            frames = [f for f in exchange.deltas if kind != "swap" or f + 1 < exchange.body_frames]
            return tuple(frames)
        return tuple(range(exchange.body_frames))


def _frame_kind(frame: Any) -> Any:
    return frame.get("kind") if isinstance(frame, dict) else None


def _is_delta(protocol: str, frame: Any) -> bool:
    if _frame_kind(frame) != "sse":
        return False
    data = frame.get("data")
    if not isinstance(data, dict):
        return False
    kind = data.get("type")
    if protocol == "anthropic.messages":
        return kind == "content_block_delta"
    if protocol == "openai.responses":
        return isinstance(kind, str) and kind.endswith(".delta")
    choices = data.get("choices")
    if not isinstance(choices, list):
        return False
    for choice in choices:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if not isinstance(delta, dict):
            continue
        if isinstance(delta.get("content"), str) and delta["content"]:
            return True
        for call in delta.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str) and function["arguments"]:
                return True
    return False


_CALL_ITEMS = ("function_call", "custom_tool_call")


def _tool_calls(protocol: str, frame: Any) -> int:
    """How many tool calls one recorded frame starts."""
    kind = _frame_kind(frame)
    if kind not in ("sse", "http.body") or not isinstance(frame, dict):
        return 0
    data = frame.get("data") if kind == "sse" else frame.get("body")
    if not isinstance(data, dict):
        return 0
    if protocol == "anthropic.messages":
        if data.get("type") == "content_block_start":
            block = data.get("content_block")
            return int(isinstance(block, dict) and block.get("type") == "tool_use")
        content = data.get("content") if data.get("type") == "message" else None
        return sum(1 for b in content or () if isinstance(b, dict) and b.get("type") == "tool_use")
    if protocol == "openai.responses":
        if data.get("type") == "response.output_item.added":
            item = data.get("item")
            return int(isinstance(item, dict) and item.get("type") in _CALL_ITEMS)
        output = data.get("output") if data.get("object") == "response" else None
        return sum(1 for i in output or () if isinstance(i, dict) and i.get("type") in _CALL_ITEMS)
    count = 0
    for choice in data.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        holder = choice.get("delta") if kind == "sse" else choice.get("message")
        if isinstance(holder, dict):
            count += sum(1 for c in holder.get("tool_calls") or () if isinstance(c, dict) and c.get("id"))
    return count


@dataclass
class _HttpExchange:
    """Entry indices of one HTTP exchange of the original transcript."""

    number: int
    request: int | None
    head: int | None
    body: list[int]
    tail: list[int]
    """A recorded cut and anything after it up to the next request."""


def _http_exchanges(transcript: Transcript) -> tuple[list[int], list[_HttpExchange]]:
    """The entries before the first exchange, and the exchanges, split the way
    :class:`~harness.replay.http.HttpReplay` claims them."""
    entries = transcript.entries
    stream_only = not transcript.has_outbound
    prelude: list[int] = []
    exchanges: list[_HttpExchange] = []
    index = 0
    if not stream_only:
        while index < len(entries) and not isinstance(entries[index], ExpectOutbound):
            prelude.append(index)
            index += 1
    while index < len(entries):
        request = None
        if not stream_only:
            request = index
            index += 1
        frames: list[int] = []
        tail: list[int] = []
        while index < len(entries):
            entry = entries[index]
            if isinstance(entry, ExpectOutbound):
                break
            if isinstance(entry, RuntimeExit):
                tail.append(index)
                index += 1
                if not stream_only:
                    while index < len(entries) and not isinstance(entries[index], ExpectOutbound):
                        tail.append(index)
                        index += 1
                break
            if stream_only and frames and _frame_kind(entry.frame) == "http.response":
                break
            frames.append(index)
            index += 1
        head = None
        if frames and _frame_kind(entries[frames[0]].frame) == "http.response":  # type: ignore[union-attr]
            head = frames.pop(0)
        exchanges.append(_HttpExchange(len(exchanges) + 1, request, head, frames, tail))
    return prelude, exchanges


def _is_response(frame: Any) -> bool:
    """A JSON-RPC response: an ``id`` with a ``result`` or an ``error``, and no ``method``."""
    if not isinstance(frame, dict) or "method" in frame:
        return False
    return "id" in frame and ("result" in frame or "error" in frame)


def _is_notification(frame: Any) -> bool:
    return isinstance(frame, dict) and "method" in frame and "id" not in frame


def _transport(transcript: Transcript) -> Literal["http", "stdio"]:
    return get_protocol(transcript.protocol).transport


def positions(transcript: Transcript) -> TranscriptShape:
    """What a plan can target in ``transcript``: per HTTP exchange its body frames, whether it
    streams and its delta frames; for stdio the inbound frames and the reorderable responses."""
    protocol = transcript.protocol
    if _transport(transcript) == "stdio":
        reorderable = []
        entries = transcript.entries
        number = 0
        for index, entry in enumerate(entries):
            if not isinstance(entry, EmitInbound):
                continue
            number += 1
            following = entries[index + 1] if index + 1 < len(entries) else None
            if _is_response(entry.frame) and isinstance(following, EmitInbound) and _is_notification(following.frame):
                reorderable.append(number)
        return TranscriptShape(protocol, "stdio", True, inbound=number, reorderable=tuple(reorderable))
    _, exchanges = _http_exchanges(transcript)
    entries = transcript.entries
    shapes = []
    inbound = 0
    calls = 0
    for exchange in exchanges:
        frames = [entries[i].frame for i in exchange.body]  # type: ignore[union-attr]
        inbound += len(frames) + (exchange.head is not None)
        calls += sum(_tool_calls(protocol, f) for f in frames)
        shapes.append(
            ExchangeShape(
                number=exchange.number,
                body_frames=len(frames),
                streams=any(_frame_kind(f) in ("sse", "sse.done") for f in frames),
                deltas=tuple(i for i, f in enumerate(frames) if _is_delta(protocol, f)),
            )
        )
    return TranscriptShape(protocol, "http", transcript.has_outbound, tuple(shapes), inbound=inbound, tool_calls=calls)


# -- provider error shapes ------------------------------------------------------------------------


def _provider(protocol: str) -> str:
    return get_protocol(protocol).provider


def status_code(fault: Fault, protocol: str) -> int:
    """The status a ``status`` fault answers with on ``protocol``."""
    code = fault.param("code")
    return int(code) if code is not None else DEFAULT_STATUS.get(_provider(protocol), 500)


def status_error_body(protocol: str, code: int, where: str) -> dict[str, Any]:
    """The error body the provider of ``protocol`` sends with status ``code``."""
    if _provider(protocol) == "anthropic":
        if code == 529:
            kind, message = "overloaded_error", "Overloaded"
        elif code == 429:
            kind, message = "rate_limit_error", "Number of requests has exceeded your rate limit"
        else:
            kind, message = "api_error", "Internal server error"
        return {"type": "error", "error": {"type": kind, "message": f"{message} (fault {where})"}}
    if code == 429:
        error: dict[str, Any] = {
            "message": "Rate limit reached for requests",
            "type": "requests",
            "code": "rate_limit_exceeded",
        }
    elif code == 503:
        error = {"message": "The server is overloaded or not ready yet.", "type": "server_error", "code": None}
    elif code == 529:
        error = {"message": "Overloaded", "type": "server_error", "code": "overloaded"}
    else:
        error = {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "code": None,
        }
    return {
        "error": {
            "message": f"{error['message']} (fault {where})",
            "type": error["type"],
            "param": None,
            "code": error["code"],
        }
    }


_OPENAI_STREAM_ERRORS: dict[str, tuple[str, str, str]] = {
    "overloaded_error": ("server_error", "server_is_overloaded", "The server is overloaded"),
    "rate_limit_error": ("requests", "rate_limit_exceeded", "Rate limit reached for requests"),
    "api_error": ("server_error", "server_error", "The server had an error while processing your request"),
}
_ANTHROPIC_STREAM_ERRORS: dict[str, str] = {
    "overloaded_error": "Overloaded",
    "rate_limit_error": "Number of requests has exceeded your rate limit",
    "api_error": "Internal server error",
}


def stream_error_frame(protocol: str, error: str, where: str, sequence_number: int | None = None) -> dict[str, Any]:
    """The SSE frame the provider sends when a stream fails midway.

    * Anthropic: ``event: error`` with ``{"type": "error", "error": {"type", "message"}}``; the SDK
      raises its status error for it.
    * OpenAI Responses: ``event: error`` with ``{"type": "error", "sequence_number", "error": {...}}``,
      the shape the API sends (recorded in ``openai-responses-error-then-failed``). The SDK raises
      ``APIError`` for a data object with an ``error`` key; the documented flat shape
      (``{"type": "error", "code", "message"}``) it would hand over as an event instead, so the nested
      one is used.
    * OpenAI Chat: a data line ``{"error": {"message", "type", "param", "code"}}`` without an event
      name; the SDK raises ``APIError``.
    """
    if _provider(protocol) == "anthropic":
        message = f"{_ANTHROPIC_STREAM_ERRORS[error]} (fault {where})"
        return {
            "kind": "sse",
            "event": "error",
            "data": {"type": "error", "error": {"type": error, "message": message}},
        }
    kind, code, text = _OPENAI_STREAM_ERRORS[error]
    body = {"message": f"{text} (fault {where})", "type": kind, "param": None, "code": code}
    if protocol == "openai.responses":
        data: dict[str, Any] = {"type": "error"}
        if sequence_number is not None:
            data["sequence_number"] = sequence_number
        data["error"] = body
        return {"kind": "sse", "event": "error", "data": data}
    return {"kind": "sse", "event": None, "data": {"error": body}}


# -- applying a plan -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Applied:
    """A fault the rewritten transcript serves: ``marker`` is the entry index that shows it has
    been served once the replay consumed it (None: transcript-free, carried out by the simulator)."""

    fault: Fault
    marker: int | None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A fault that does not apply to this transcript, and why."""

    fault: Fault
    reason: str


@dataclass(frozen=True)
class FaultedTranscript:
    """The result of :func:`apply_plan`."""

    transcript: Transcript
    """A new transcript; original entries keep their source line, inserted entries are labelled
    ``fault:<fault>`` and carry the line of the entry they follow."""
    applied: tuple[Applied, ...]
    skipped: tuple[Skipped, ...]
    chunker: Chunker | None = None
    """For :class:`~harness.replay.http.HttpReplay` (``chunker=``), when the plan rechunks a body."""

    def fired(self, consumed: int) -> list[bool]:
        """Per applied fault, whether a replay that consumed ``consumed`` entries (the driver's
        cursor after the run) got past its marker; transcript-free faults are False here."""
        return [a.marker is not None and consumed > a.marker for a in self.applied]


@dataclass(eq=False)
class _Item:
    """One entry of the rewritten transcript while it is built."""

    entry: Entry
    line: int | None
    """The source line; None for an inserted entry (it takes the line of the entry before it)."""
    frame: int | None = None
    """The original 0-based body frame (HTTP) or 1-based inbound number (stdio) it serves."""
    markers: list[Fault] = field(default_factory=list)


def _label(fault: Fault) -> str:
    return f"fault:{fault.encode()}"


def _inserted(entry: Entry, fault: Fault) -> _Item:
    return _Item(entry.model_copy(update={"label": _label(fault)}), None)


def _with_after(entry: EmitInbound, extra: int) -> EmitInbound | None:
    total = (entry.after_ms or 0) + extra
    if total > MAX_AFTER_MS:
        return None
    return entry.model_copy(update={"after_ms": total})


class Rechunker:
    """The chunker of a plan's ``rechunk`` faults: the body of each served exchange of a faulted
    exchange is cut anew by ``Rng(derive(seed, "rechunk", E))``, the bytes unchanged."""

    def __init__(self, served: Mapping[int, tuple[int, int]]) -> None:
        self.served = dict(served)
        """Served exchange number (1-based, in the rewritten transcript) -> (original exchange, seed)."""

    def __call__(self, number: int, parts: list[Part]) -> list[Part]:
        found = self.served.get(number)
        if found is None:
            return parts
        exchange, seed = found
        return rechunk(parts, Rng(derive(seed, "rechunk", exchange)))


def rechunk(parts: Sequence[Part], rng: Rng) -> list[Part]:
    """``parts`` cut at other places: a part boundary stays with chance 600 per mille (else the two
    parts share a read) and each part of two bytes or more is cut inside up to twice. A chunk keeps
    the ``afterMs`` of each part whose first byte it holds, so the clock moves the same in total."""
    data = b"".join(p.data for p in parts)
    if len(data) < 2:
        return list(parts)
    starts: list[int] = []
    offset = 0
    cuts: list[int] = []
    for index, part in enumerate(parts):
        starts.append(offset)
        if index and 0 < offset < len(data) and not rng.chance(400):
            cuts.append(offset)
        if len(part.data) >= 2:
            for _ in range(rng.below(3)):
                cuts.append(offset + rng.between(1, len(part.data) - 1))
        offset += len(part.data)
    bounds = [0, *sorted(set(cuts)), len(data)]
    owners = [i for i, p in enumerate(parts) if p.data]
    owner_starts = [starts[i] for i in owners]
    out: list[Part] = []
    first = 0
    for low, high in itertools.pairwise(bounds):
        last = len(parts) if high == len(data) else bisect.bisect_left(starts, high)
        after = sum(parts[i].after_ms for i in range(first, last))
        first = last
        owner = parts[owners[bisect.bisect_right(owner_starts, low) - 1]]
        out.append(Part(data[low:high], after, owner.entry_index, owner.line))
    return out


def _skip(fault: Fault, reason: str) -> Skipped:
    return Skipped(fault, reason)


def apply_plan(plan: FaultPlan, transcript: Transcript) -> FaultedTranscript:
    """Rewrite ``transcript`` to serve ``plan``; faults that do not fit are skipped with a reason.

    >>> faulted = apply_plan(FaultPlan.parse("status@1"), transcript)  # doctest: +SKIP
    >>> replay = HttpReplay([faulted.transcript], chunker=faulted.chunker)  # doctest: +SKIP
    """
    transport = _transport(transcript)
    applied: list[Applied] = []
    skipped: list[Skipped] = []
    rewriting: list[Fault] = []
    # One object per fault of the plan (a plan may hold the same one twice): markers find theirs by identity.
    planned = [fault.model_copy() for fault in plan.faults]
    for fault in planned:
        spec = fault.spec
        if transport not in spec.transports:
            where = " and ".join(spec.transports)
            skipped.append(
                _skip(
                    fault,
                    f"{fault.kind} applies to {where} transcripts; this one is {transport} ({transcript.protocol})",
                )
            )
        elif not spec.rewrites:
            applied.append(Applied(fault, None))
        else:
            rewriting.append(fault)
    if transport == "stdio":
        items, chunker = _apply_stdio(rewriting, transcript, skipped), None
    else:
        items, chunker = _apply_http(rewriting, transcript, skipped)
    entries: list[Entry] = []
    lines: list[int] = []
    has_lines = len(transcript.lines) >= len(transcript.entries)
    marked: dict[int, int] = {}
    last_line = transcript.line_of(0) if has_lines else None
    for index, item in enumerate(items):
        entries.append(item.entry)
        if item.line is not None:
            last_line = item.line
        if has_lines:
            lines.append(last_line if last_line is not None else 0)
        for fault in item.markers:
            marked[id(fault)] = index
    for fault in rewriting:
        if id(fault) in marked:
            applied.append(Applied(fault, marked[id(fault)]))
    order = {id(f): i for i, f in enumerate(planned)}
    applied.sort(key=lambda a: order[id(a.fault)])
    skipped.sort(key=lambda s: order[id(s.fault)])
    rewritten = Transcript(header=transcript.header, entries=tuple(entries), lines=tuple(lines), path=transcript.path)
    return FaultedTranscript(rewritten, tuple(applied), tuple(skipped), chunker)


def _original(transcript: Transcript, index: int, frame: int | None = None) -> _Item:
    return _Item(transcript.entries[index], transcript.line_of(index), frame)


def _apply_stdio(faults: list[Fault], transcript: Transcript, skipped: list[Skipped]) -> list[_Item]:
    items: list[_Item] = []
    number = 0
    for index, entry in enumerate(transcript.entries):
        if isinstance(entry, EmitInbound):
            number += 1
            items.append(_original(transcript, index, number))
        else:
            items.append(_original(transcript, index))
    total = number
    exited: Fault | None = None
    # An exit first: a frame it cuts off is then skipped by name, and a response reordered before
    # it stays before it (reordering never moves a frame past a runtime_exit).
    for fault in sorted(faults, key=lambda f: f.kind != "exit"):
        if fault.frame is not None:
            skipped.append(_skip(fault, f"stdio positions have no frame: write {fault.kind}@{fault.at}"))
            continue
        if fault.at > total:
            skipped.append(
                _skip(fault, f"inbound frame {fault.at} does not exist: the transcript has {total} inbound frames")
            )
            continue
        position = next((i for i, item in enumerate(items) if item.frame == fault.at), None)
        if position is None:
            assert exited is not None
            skipped.append(
                _skip(fault, f"inbound frame {fault.at} never arrives: the runtime exits earlier ({exited})")
            )
            continue
        item = items[position]
        assert isinstance(item.entry, EmitInbound)
        if fault.kind == "stall":
            stalled = _with_after(item.entry, int(fault.param("ms") or 0))
            if stalled is None:
                skipped.append(_skip(fault, f"the delay of inbound frame {fault.at} would exceed {MAX_AFTER_MS} ms"))
                continue
            item.entry = stalled
            item.markers.append(fault)
        elif fault.kind == "exit":
            del items[position + 1 :]
            cut = RuntimeExit(status="error", error={"message": f"runtime exited (fault {fault.encode()})", "code": 1})
            items.append(_Item(cut, None, markers=[fault]))
            exited = fault
        elif fault.kind == "reorder":
            if not _is_response(item.entry.frame):
                skipped.append(
                    _skip(fault, f"inbound frame {fault.at} is not a JSON-RPC response (id with result or error)")
                )
                continue
            count = int(fault.param("count") or 1)
            end = position + 1
            while (
                end < len(items)
                and end - position - 1 < count
                and isinstance(items[end].entry, EmitInbound)
                and _is_notification(items[end].entry.frame)  # type: ignore[union-attr]
            ):
                end += 1
            if end == position + 1:
                skipped.append(
                    _skip(fault, f"no notification follows inbound frame {fault.at}: nothing to move it past")
                )
                continue
            moved = items.pop(position)
            items.insert(end - 1, moved)
            items[position].markers.append(fault)
    return items


def _frame_problem(fault: Fault, exchange: _HttpExchange) -> str | None:
    """Why ``fault`` cannot apply to ``exchange`` (None when it can)."""
    count = len(exchange.body)
    number = exchange.number
    if fault.spec.has_frame and fault.frame is None:
        return f"on an HTTP transcript {fault.kind} needs a frame: write {fault.kind}@{number}.FRAME"
    if fault.frame is not None and fault.frame >= count:
        frames = {0: "no body frames", 1: "1 body frame (0)"}.get(count, f"{count} body frames (0-{count - 1})")
        return f"exchange {number} has {frames}; frame {fault.frame} does not exist"
    if fault.kind == "swap" and fault.frame is not None and fault.frame + 1 >= count:
        return f"frame {fault.frame} is the last body frame of exchange {number}: no next frame to swap it with"
    return None


def _apply_http(
    faults: list[Fault], transcript: Transcript, skipped: list[Skipped]
) -> tuple[list[_Item], Chunker | None]:
    prelude, exchanges = _http_exchanges(transcript)
    entries = transcript.entries
    by_exchange: dict[int, list[Fault]] = {}
    for fault in faults:
        if fault.at > len(exchanges):
            skipped.append(
                _skip(fault, f"exchange {fault.at} does not exist: the transcript has {len(exchanges)} exchanges")
            )
        else:
            by_exchange.setdefault(fault.at, []).append(fault)
    items = [_original(transcript, i) for i in prelude]
    served: dict[int, tuple[int, int]] = {}
    count = 0
    for exchange in exchanges:
        number = exchange.number
        frames = [entries[i].frame for i in exchange.body]  # type: ignore[union-attr]
        streams = any(_frame_kind(f) in ("sse", "sse.done") for f in frames)
        retries: list[Fault] = []
        changes: list[Fault] = []
        rechunked: Fault | None = None
        for fault in by_exchange.get(number, []):
            problem = _frame_problem(fault, exchange)
            if problem is None and fault.spec.category == "retry":
                if exchange.request is None:
                    problem = (
                        "the transcript is stream-only (no recorded request): "
                        f"{fault.kind} needs the request to copy for the retry"
                    )
                elif fault.kind in ("stream_error", "truncate") and not streams:
                    problem = f"exchange {number} answers with a JSON body: {fault.kind} needs an SSE stream"
            if problem is None and fault.kind == "rechunk" and rechunked is not None:
                problem = f"exchange {number} is rechunked already by {rechunked}"
            if problem is not None:
                skipped.append(_skip(fault, problem))
            elif fault.spec.category == "retry":
                retries.append(fault)
            elif fault.kind == "rechunk":
                rechunked = fault
            else:
                changes.append(fault)
        first_served = count + 1
        start = len(items)
        if exchange.request is not None:
            items.append(_original(transcript, exchange.request))
        count += 1
        for fault in retries:
            items.extend(_failed_attempt(fault, exchange, transcript))
            assert exchange.request is not None
            items.append(_inserted(entries[exchange.request], fault))
            count += 1
            if fault.kind == "truncate":
                items[-2].markers.append(fault)
        response = _final_response(changes, exchange, transcript, items, skipped)
        items.extend(response)
        items.extend(_original(transcript, i) for i in exchange.tail)
        if rechunked is not None:
            if start < len(items):
                items[start].markers.append(rechunked)
            seed = int(rechunked.param("seed") or 0)
            for served_number in range(first_served, count + 1):
                served[served_number] = (number, seed)
    return items, (Rechunker(served) if served else None)


def _failed_attempt(fault: Fault, exchange: _HttpExchange, transcript: Transcript) -> list[_Item]:
    """The entries of one failed attempt at ``exchange``: the response up to the fault, then the fault."""
    entries = transcript.entries
    protocol = transcript.protocol
    where = fault.encode()
    if fault.kind == "status":
        code = status_code(fault, protocol)
        headers = {"content-type": "application/json"}
        retry_after, retry_after_ms = fault.param("retry_after"), fault.param("retry_after_ms")
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        if retry_after_ms is not None:
            headers["retry-after-ms"] = str(retry_after_ms)
        label = _label(fault)
        head = EmitInbound(label=label, frame={"kind": "http.response", "status": code, "headers": headers})
        body = EmitInbound(label=label, frame={"kind": "http.body", "body": status_error_body(protocol, code, where)})
        return [_Item(head, None, markers=[fault]), _Item(body, None)]
    assert fault.frame is not None
    attempt: list[_Item] = []
    if exchange.head is not None:
        attempt.append(_inserted(entries[exchange.head], fault))
    attempt.extend(_inserted(entries[i], fault) for i in exchange.body[: fault.frame])
    if fault.kind == "stream_error":
        replaced = entries[exchange.body[fault.frame]].frame  # type: ignore[union-attr]
        data = replaced.get("data") if isinstance(replaced, dict) else None
        sequence = data.get("sequence_number") if isinstance(data, dict) else None
        frame = stream_error_frame(
            protocol, str(fault.param("error")), where, sequence if type(sequence) is int else None
        )
        attempt.append(_Item(EmitInbound(label=_label(fault), frame=frame), None, markers=[fault]))
    elif fault.kind == "reset":
        cut = RuntimeExit(status="error", error={"message": f"connection reset by peer (fault {where})"})
        attempt.append(_Item(cut, None, markers=[fault]))
    return attempt


def _final_response(
    changes: list[Fault], exchange: _HttpExchange, transcript: Transcript, before: list[_Item], skipped: list[Skipped]
) -> list[_Item]:
    """The recorded response of ``exchange`` (head and body) with its frame faults applied."""
    head = [_original(transcript, exchange.head)] if exchange.head is not None else []
    body = [_original(transcript, index, frame) for frame, index in enumerate(exchange.body)]
    dropped: dict[int, Fault] = {}

    def find(frame: int) -> int | None:
        return next((i for i, item in enumerate(body) if item.frame == frame), None)

    for fault in changes:
        assert fault.frame is not None
        position = find(fault.frame)
        other = find(fault.frame + 1) if fault.kind == "swap" else position
        if position is None or other is None:
            gone = fault.frame if position is None else fault.frame + 1
            skipped.append(
                _skip(fault, f"body frame {gone} of exchange {exchange.number} is dropped already by {dropped[gone]}")
            )
            continue
        item = body[position]
        if fault.kind in ("stall", "slow"):
            ms = int(fault.param("ms") or 0)
            targets = [item] if fault.kind == "stall" else body[position:]
            delayed = [_with_after(t.entry, ms) for t in targets]  # type: ignore[arg-type]
            if any(d is None for d in delayed):
                skipped.append(
                    _skip(fault, f"the delay of a frame of exchange {exchange.number} would exceed {MAX_AFTER_MS} ms")
                )
                continue
            for target, entry in zip(targets, delayed, strict=True):
                assert entry is not None
                target.entry = entry
            item.markers.append(fault)
        elif fault.kind == "duplicate":
            copy = _inserted(item.entry, fault)
            copy.markers.append(fault)
            body.insert(position + 1, copy)
        elif fault.kind == "drop":
            del body[position]
            dropped[fault.frame] = fault
            previous = body[position - 1] if position else (head[-1] if head else (before[-1] if before else None))
            if previous is None and position < len(body):
                previous = body[position]
            if previous is None:
                skipped.append(_skip(fault, "body frame 0 is all the transcript holds: dropping it leaves nothing"))
                body.insert(position, item)
                del dropped[fault.frame]
                continue
            previous.markers.append(fault)
        elif fault.kind == "swap":
            body[position], body[other] = body[other], body[position]
            body[min(position, other)].markers.append(fault)
    return head + body


# -- plans from seeds -----------------------------------------------------------------------------


def kinds_for(transport: str, kinds: Iterable[str] | None = None) -> list[str]:
    """``kinds`` sorted (default: :data:`DEFAULT_KINDS` of ``transport``); an unknown kind is a
    :class:`UsageError` listing the known ones."""
    if kinds is None:
        return sorted(DEFAULT_KINDS.get(transport, ()))
    names = sorted(set(kinds))
    unknown = [k for k in names if k not in FAULT_KINDS]
    if unknown:
        raise UsageError(f"unknown fault kind {', '.join(map(repr, unknown))}; known kinds: {_known()}")
    return names


def _draw_params(kind: str, rng: Rng, provider: str) -> dict[str, ParamValue]:
    if kind == "status":
        params: dict[str, ParamValue] = {"code": rng.choice(PROTOCOL_STATUS_CODES.get(provider, STATUS_CODES))}
        wait = rng.below(4)
        if wait < 3:
            params["retry_after"] = wait
        return params
    if kind == "stall":
        return {"ms": rng.between(1000, 60_000)}
    if kind == "slow":
        return {"ms": rng.between(50, 1000)}
    if kind == "stream_error":
        return {"error": rng.choice(STREAM_ERRORS)}
    if kind == "rechunk":
        return {"seed": rng.below(1_000_000)}
    if kind == "reorder":
        return {"count": rng.between(1, 3)}
    return {}


_PER_KIND = {"exit": 1, "crash": 1}
"""At most this many faults of a kind outside the per-exchange loop (3 for the others)."""


def plan_for_seed(seed: int, transcript: Transcript, kinds: Iterable[str] | None = None) -> FaultPlan:
    """A fault plan for ``transcript`` drawn from ``seed`` alone (swarm testing, as in VOPR).

    With ``rng = Rng(derive(seed, "plan"))``: each allowed kind is on with chance 500 per mille (at
    least one, chosen by the generator if none), each on kind gets a rate from 100 to 600 per mille;
    then for each HTTP exchange in order and each on kind in sorted order, with that rate, one
    fault at a frame chosen uniformly among the valid ones (delta frames for the corrupt kinds),
    with its parameters drawn too. stdio kinds, crash and tool faults are placed over their
    positions, at most three per kind (one exit, one crash). A plan never holds two faults at the
    same ``(at, frame)``, and holds at most one retry fault per exchange, so a client that retries
    twice can always recover.

    ``kinds`` defaults to :data:`DEFAULT_KINDS` of the transcript's transport; kinds that do not
    apply to the transport are ignored; an unknown kind is a :class:`UsageError`.
    """
    shape = positions(transcript)
    allowed = [k for k in kinds_for(shape.transport, kinds) if shape.targets(k)]
    rng = Rng(derive(seed, "plan"))
    if not allowed:
        return FaultPlan()
    on = [k for k in allowed if rng.chance(500)]
    if not on:
        on = [rng.choice(allowed)]
    rates = {k: rng.between(100, 600) for k in on}
    provider = _provider(transcript.protocol)
    taken: set[tuple[int, int | None]] = set()
    faults: list[Fault] = []
    looped = [k for k in on if shape.transport == "http" and FAULT_KINDS[k].category not in ("crash", "tool")]
    for exchange in shape.exchanges if looped else ():
        retried = False
        for kind in looped:
            if not rng.chance(rates[kind]):
                continue
            if FAULT_KINDS[kind].category == "retry" and retried:
                continue
            frames = [f for f in shape.frames(kind, exchange) if (exchange.number, f) not in taken]
            if not frames:
                continue
            frame = rng.choice(frames)
            taken.add((exchange.number, frame))
            retried = retried or FAULT_KINDS[kind].category == "retry"
            faults.append(Fault(kind=kind, at=exchange.number, frame=frame, params=_draw_params(kind, rng, provider)))
    exit_at: int | None = None  # an exit cuts off the inbound frames after it
    for kind in sorted(on, key=lambda k: (k != "exit", k)):
        if kind in looped:
            continue
        cut = exit_at if shape.transport == "stdio" and FAULT_KINDS[kind].category not in ("crash", "tool") else None
        for _ in range(_PER_KIND.get(kind, 3)):
            if not rng.chance(rates[kind]):
                continue
            targets = [
                t
                for t in shape.targets(kind)
                if t not in taken and (cut is None or t[0] < cut or (t[0] == cut and kind != "reorder"))
            ]
            if not targets:
                break
            at, frame = rng.choice(targets)
            taken.add((at, frame))
            faults.append(Fault(kind=kind, at=at, frame=frame, params=_draw_params(kind, rng, provider)))
            if kind == "exit":
                exit_at = at
    return FaultPlan(faults=tuple(faults))
