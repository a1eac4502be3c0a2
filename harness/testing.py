"""Conformance tests and helpers users can run against their own implementations.

Subclass :class:`EventStoreContract` to check an event store, or :class:`AdapterContract` to check
a protocol adapter, against the contract the orchestrator relies on::

    class TestMyStore(EventStoreContract):
        def make_store(self) -> EventStore:
            return MyStore(":memory:")

    class TestMyAdapter(AdapterContract):
        def make_adapter(self) -> ProviderAdapter:
            return MyAdapter()

        def complete_response(self) -> list[Any]:
            return [...]  # the inbound frames of one recorded response

The class names do not start with ``Test`` so pytest collects only your subclasses.
:func:`read_response`, :func:`terminal_of`, :func:`protocol_violations` and :func:`describe_event`
drive and inspect one response reader in ordinary tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from harness.adapters.base import (
    AssistantMessage,
    AssistantTurn,
    ContentItem,
    ConversationTurn,
    ProtocolViolation,
    ProviderAdapter,
    ProviderEvent,
    RequestTemplate,
    ResponseCompleted,
    ResponseFailed,
    ResponseReader,
    UserTurn,
)
from harness.core.events import NewEvent
from harness.core.store import EventStore


def read_response(reader: ResponseReader, frames: Sequence[Any], *, finish: bool = True) -> list[ProviderEvent]:
    """Every canonical event ``reader`` produces for ``frames`` (frame index = position), then
    :meth:`~harness.adapters.base.ResponseReader.finish` unless ``finish`` is false."""
    events: list[ProviderEvent] = []
    for index, frame in enumerate(frames):
        events.extend(reader.feed(frame, index))
    if finish:
        events.extend(reader.finish(len(frames)))
    return events


def terminal_of(events: Sequence[ProviderEvent]) -> ResponseCompleted | ResponseFailed:
    """The one terminal event among ``events``; fails the test if there is not exactly one."""
    terminals = [e for e in events if isinstance(e, (ResponseCompleted, ResponseFailed))]
    assert len(terminals) == 1, f"expected exactly one terminal event, found {terminals!r}"
    return terminals[0]


def protocol_violations(events: Sequence[ProviderEvent]) -> list[ProtocolViolation]:
    """The protocol violations among ``events``, in order."""
    return [e for e in events if isinstance(e, ProtocolViolation)]


def describe_event(event: ProviderEvent) -> tuple[str, dict[str, Any]]:
    """An event as ``(class name, fields)`` without its frame index, items and messages as JSON,
    for comparing events in tests."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(event):
        if f.name == "frame_index":
            continue
        value = getattr(event, f.name)
        out[f.name] = value.to_json() if isinstance(value, (ContentItem, AssistantMessage)) else value
    return type(event).__name__, out


class AdapterContract:
    """The behaviour every :class:`~harness.adapters.base.ProviderAdapter` must have."""

    def make_adapter(self) -> ProviderAdapter:
        raise NotImplementedError("subclasses return a new adapter")

    def complete_response(self) -> list[Any]:
        raise NotImplementedError("subclasses return the inbound frames of one complete response")

    def test_a_complete_response_ends_with_exactly_one_completed_event(self) -> None:
        reader = self.make_adapter().new_response()
        events = read_response(reader, self.complete_response())
        assert isinstance(terminal_of(events), ResponseCompleted)
        assert reader.done

    def test_the_same_frames_give_the_same_events(self) -> None:
        frames = self.complete_response()
        first = read_response(self.make_adapter().new_response(), frames)
        second = read_response(self.make_adapter().new_response(), frames)
        assert repr(first) == repr(second)

    def test_a_response_without_frames_fails_with_a_named_rule(self) -> None:
        terminal = terminal_of(read_response(self.make_adapter().new_response(), []))
        assert isinstance(terminal, ResponseFailed)
        assert terminal.rule, "an empty response must fail with a named protocol rule"

    def test_every_truncation_fails_instead_of_raising(self) -> None:
        frames = self.complete_response()
        for cut in range(1, len(frames)):
            events = read_response(self.make_adapter().new_response(), frames[:cut])
            terminal = terminal_of(events)
            if isinstance(terminal, ResponseFailed):
                assert terminal.error_type, f"cut at {cut}: a failure names its error type"

    def test_frames_it_cannot_place_never_raise(self) -> None:
        junk: list[Any] = [None, "text", 3, {}, {"kind": "sse", "event": None, "data": None}, {"kind": "mystery"}]
        for frame in junk:
            read_response(self.make_adapter().new_response(), [frame])
        read_response(self.make_adapter().new_response(), [*self.complete_response(), *junk])

    def test_the_completed_message_goes_back_into_a_request(self) -> None:
        adapter = self.make_adapter()
        terminal = terminal_of(read_response(adapter.new_response(), self.complete_response()))
        assert isinstance(terminal, ResponseCompleted)
        conversation: list[ConversationTurn] = [
            UserTurn(text="hello"),
            AssistantTurn(terminal.message),
            UserTurn(text="again"),
        ]
        template = RequestTemplate(params={"model": "m"})
        first = adapter.build_request(template, list(conversation))
        assert first == adapter.build_request(template, list(conversation))
        assert adapter.next_step(terminal.message) in ("run_tools", "continue", "stop")


class EventStoreContract:
    """The behaviour every :class:`~harness.core.store.EventStore` must have."""

    def make_store(self) -> EventStore:
        raise NotImplementedError("subclasses return a new, empty store")

    def test_a_new_store_is_empty(self) -> None:
        store = self.make_store()
        assert store.last_sequence == 0
        assert store.read() == []

    def test_sequences_are_contiguous_from_one_across_appends(self) -> None:
        store = self.make_store()
        first = store.append([NewEvent("thread.created", {"thread_id": "t"}, thread_id="t")])
        more = store.append(
            [NewEvent("message.updated", {"n": 1}, thread_id="t"), NewEvent("message.updated", {"n": 2}, thread_id="t")]
        )
        assert [e.sequence for e in first + more] == [1, 2, 3]
        assert store.last_sequence == 3

    def test_read_after_returns_the_tail_in_order(self) -> None:
        store = self.make_store()
        store.append([NewEvent("message.updated", {"n": n}, thread_id="t") for n in range(5)])
        assert [e.data["n"] for e in store.read(after=2)] == [2, 3, 4]
        assert store.read(after=5) == []

    def test_stored_events_keep_every_field(self) -> None:
        store = self.make_store()
        (event,) = store.append(
            [NewEvent("run.updated", {"k": [1, {"a": None}]}, thread_id="t", run_id="t/run-1", at_ms=7, command_id="c")]
        )
        (read,) = store.read()
        assert read == event
        assert (read.type, read.thread_id, read.run_id, read.at_ms, read.command_id, read.data) == (
            "run.updated",
            "t",
            "t/run-1",
            7,
            "c",
            {"k": [1, {"a": None}]},
        )

    def test_event_ids_are_unique(self) -> None:
        store = self.make_store()
        events = store.append([NewEvent("message.updated", {}, thread_id="t") for _ in range(10)])
        assert len({e.event_id for e in events}) == 10
