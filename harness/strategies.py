"""Hypothesis strategies for testing code against the harness's simulations.

:func:`fault_plans` draws :class:`~harness.simulate.faults.FaultPlan` objects that fit one
transcript: every fault lands on a position the transcript has, so :func:`~harness.simulate.faults.apply_plan`
applies them all and skips none. Hypothesis shrinks a failing plan toward fewer faults and
earlier positions.

>>> from hypothesis import given
>>> from harness.replay.http import HttpReplay, ReplayTransport
>>> from harness.simulate.faults import apply_plan
>>> from harness.strategies import fault_plans
>>> from harness.transcript import read_transcript
>>> recording = read_transcript("transcripts/parity/capital_france.anthropic.ndjson")  # doctest: +SKIP
>>> @given(fault_plans(recording, kinds=["status", "stream_error", "reset", "stall"]))  # doctest: +SKIP
... def test_my_client_recovers(plan):
...     faulted = apply_plan(plan, recording)
...     replay = HttpReplay([faulted.transcript], chunker=faulted.chunker)
...     run_my_client(ReplayTransport(replay))  # a client that retries failed requests
...     replay.finish()  # every fault was served, every retry matched the recording
"""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import strategies as st

from harness.simulate.faults import (
    PROTOCOL_STATUS_CODES,
    STATUS_CODES,
    STREAM_ERRORS,
    Fault,
    FaultPlan,
    ParamValue,
    apply_plan,
    kinds_for,
    positions,
)
from harness.transcript import Transcript, get_protocol

__all__ = ["fault_plans"]

Candidate = tuple[int, int, int, str]
"""``(at, frame or -1, kind order, kind)``: sorted, so shrinking moves toward earlier positions."""


def _params(kind: str, provider: str) -> st.SearchStrategy[dict[str, ParamValue]]:
    """Parameters for one fault of ``kind``; each shrinks toward its simplest value."""
    if kind == "status":
        codes = PROTOCOL_STATUS_CODES.get(provider, STATUS_CODES)
        return st.builds(lambda code: {"code": code, "retry_after_ms": 1}, st.sampled_from(codes))
    if kind == "stall":
        return st.builds(lambda ms: {"ms": ms}, st.integers(1, 60_000))
    if kind == "slow":
        return st.builds(lambda ms: {"ms": ms}, st.integers(1, 1000))
    if kind == "stream_error":
        return st.builds(lambda error: {"error": error}, st.sampled_from(STREAM_ERRORS))
    if kind == "rechunk":
        return st.builds(lambda seed: {"seed": seed}, st.integers(0, 2**32))
    if kind == "reorder":
        return st.builds(lambda count: {"count": count}, st.integers(1, 3))
    return st.just({})


def fault_plans(
    transcript: Transcript, kinds: Iterable[str] | None = None, max_faults: int = 4
) -> st.SearchStrategy[FaultPlan]:
    """Fault plans for ``transcript`` with at most ``max_faults`` faults of ``kinds``.

    ``kinds`` defaults to the retry and benign kinds of the transcript's transport
    (:data:`~harness.simulate.faults.DEFAULT_KINDS`); kinds that cannot apply to it are left out,
    an unknown kind is a :class:`~harness.errors.UsageError`. No two faults share a position
    ``(at, frame)``, and :func:`~harness.simulate.faults.apply_plan` skips none of them.

    A ``status`` fault asks for a 1 ms retry delay (``retry-after-ms``), so an SDK's own retry does
    not sleep; write ``retry_after`` plans with :meth:`FaultPlan.parse` to test the delay itself.
    """
    shape = positions(transcript)
    names = kinds_for(shape.transport, kinds)
    candidates: list[Candidate] = sorted(
        (at, -1 if frame is None else frame, order, kind)
        for order, kind in enumerate(names)
        for at, frame in shape.targets(kind)
    )
    if not candidates or max_faults < 1:
        return st.just(FaultPlan())
    provider = get_protocol(transcript.protocol).provider
    params = {kind: _params(kind, provider) for kind in names}

    @st.composite
    def plans(draw: st.DrawFn) -> FaultPlan:
        chosen = draw(st.lists(st.sampled_from(candidates), max_size=max_faults, unique_by=lambda c: (c[0], c[1])))
        faults = tuple(
            Fault(kind=kind, at=at, frame=None if frame < 0 else frame, params=draw(params[kind]))
            for at, frame, _, kind in chosen
        )
        return FaultPlan(faults=faults)

    return plans().filter(lambda plan: not apply_plan(plan, transcript).skipped)


def schedules(*, max_decisions: int = 200, max_choice: int = 3) -> st.SearchStrategy[list[int]]:
    """Decision lists for :func:`harness.run_simulation`'s ``schedule``: the index of the ready
    callback the loop runs at each step with two or more ready (past the list's end, or where an
    index does not exist, the FIFO choice). Hypothesis shrinks toward shorter lists and zeros, that
    is toward the standard loop's order.

    >>> from hypothesis import given
    >>> from harness import run_simulation
    >>> from harness.strategies import fault_plans, schedules
    >>> @given(plan=fault_plans(recording), schedule=schedules())  # doctest: +SKIP
    ... def test_my_app(plan, schedule):
    ...     history = run_simulation(my_target, plan=plan, schedule=schedule)
    ...     assert history.verdict != "fail", history.violations
    """
    return st.lists(st.integers(min_value=0, max_value=max_choice), max_size=max_decisions)
