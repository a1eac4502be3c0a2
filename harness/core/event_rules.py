"""Invariant rules for a user's own event log, declared as data.

:mod:`harness.core.invariants` knows this harness's events. An orchestrator the user wrote has
its own event types and ids, so its invariants are declared from a small vocabulary of rule kinds,
in Python or in a TOML/YAML/JSON file, and checked over any iterable of JSON-able mappings:

======================  ==========================================================================
``sequence``            a field runs ``start``, ``start+1``, ... along the log (per ``key``, if given)
``single_terminal``     every key ends with exactly one event of the ``terminal`` types
``terminal_last``       no event of a key follows its terminal event
``paired``              every ``request`` event is followed by exactly one ``complete`` of its key
``ordered``             an ``event`` of a key comes only after an ``after`` event of that key
``single_active``       at most one subject is active per key, between ``start`` and ``end`` events
``count``               each key has between ``min`` and ``max`` events of the ``event`` types
``text``                per key, the ``delta`` events' text joined equals the ``final`` event's text
======================  ==========================================================================

Each rule has a stable ``id``, a ``severity`` and a one-line ``contract`` (stated, or derived from
its parameters: :meth:`EventRuleBase.as_rule`). :func:`check_event_rules` returns the same
:class:`~harness.core.invariants.Violation` records as the built-in checker; ``sequence`` holds the
0-based index of the offending event in the log given (``None`` for an end-of-log violation) and
``subject`` the key the rule is about. ``docs/events.md`` (section 11.1) specifies every kind
precisely enough to write a compatible checker.

>>> rules = load_event_rules({"rules": [{"id": "app.seq", "kind": "sequence", "field": "$.seq"}]})
>>> [v.message for v in check_event_rules([{"seq": 1}, {"seq": 3}], rules)]
['$.seq is 3 where 2 was due']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, assert_never

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.core.event_log import ConcretePath, JsonObject, concrete_path, json_event_log, value_at
from harness.core.invariants import Rule, Severity, Violation
from harness.errors import RuleDeclarationError, UsageError
from harness.replay.matcher import MISSING, short_json
from harness.scenario.files import load_declaration

RULE_FILE_SUFFIXES = (".toml", ".yaml", ".yml", ".json")


def _checked_path(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        concrete_path(value)
    except UsageError as exc:
        raise ValueError(str(exc)) from None
    return value


class EventRuleBase(BaseModel):
    """What every rule kind has: a stable id, a severity and a one-line contract."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:\-]+$")
    severity: Severity = "error"
    #: One line; when omitted, :meth:`as_rule` derives it from the rule's parameters.
    contract: str | None = None

    def default_contract(self) -> str:
        raise NotImplementedError

    def as_rule(self) -> Rule:
        """The rule as the built-in catalogue spells one (:data:`harness.core.invariants.RULES`)."""
        return Rule(self.id, self.severity, self.contract or self.default_contract())


def _types(value: tuple[str, ...]) -> str:
    return ", ".join(value)


class SequenceRule(EventRuleBase):
    """``field`` runs ``start``, ``start + 1``, ... along the log, or along each ``key``'s events.

    Without ``key`` every event is checked; an event without ``field`` breaks the rule. With
    ``key`` only events that have the key are checked, each key counting on its own.
    """

    kind: Literal["sequence"] = "sequence"
    field: str
    key: str | None = None
    start: int = 1

    @field_validator("field", "key")
    @classmethod
    def _paths(cls, value: str | None) -> str | None:
        return _checked_path(value)

    def default_contract(self) -> str:
        per = f" for each {self.key}" if self.key else ""
        return f"{self.field} runs {self.start}, {self.start + 1}, {self.start + 2}, ... with no gap or repeat{per}"


class SingleTerminalRule(EventRuleBase):
    """Every key ends with exactly one event whose type is in ``terminal``.

    The keys that must end are those on any event (or, with ``opened_by``, on an event of those
    types). A second terminal event of a key is a violation at that event; a key with none is a
    violation at the end of the log.
    """

    kind: Literal["single_terminal"] = "single_terminal"
    key: str
    terminal: tuple[str, ...] = Field(min_length=1)
    opened_by: tuple[str, ...] = ()

    @field_validator("key")
    @classmethod
    def _paths(cls, value: str) -> str | None:
        return _checked_path(value)

    def default_contract(self) -> str:
        return f"every {self.key} ends with exactly one of {_types(self.terminal)}"


class TerminalLastRule(EventRuleBase):
    """No event of a key follows its first terminal event (a second terminal is ``single_terminal``'s)."""

    kind: Literal["terminal_last"] = "terminal_last"
    key: str
    terminal: tuple[str, ...] = Field(min_length=1)

    @field_validator("key")
    @classmethod
    def _paths(cls, value: str) -> str | None:
        return _checked_path(value)

    def default_contract(self) -> str:
        return f"no event of a {self.key} follows its {_types(self.terminal)}"


class PairedRule(EventRuleBase):
    """Every ``request`` event is followed by exactly one ``complete`` event with the same key.

    Completions answer pending requests of their key in order. A request never answered is a
    violation at the request; a completion of a key whose requests are all answered is one at the
    completion. A completion of a key never requested is left to an ``ordered`` rule.
    """

    kind: Literal["paired"] = "paired"
    request: str = Field(min_length=1)
    complete: str = Field(min_length=1)
    key: str
    #: Where a ``complete`` event carries the key, when not at ``key``.
    complete_key: str | None = None

    @field_validator("key", "complete_key")
    @classmethod
    def _paths(cls, value: str | None) -> str | None:
        return _checked_path(value)

    def default_contract(self) -> str:
        return f"every {self.request} is followed by exactly one {self.complete} with the same {self.key}"


class OrderedRule(EventRuleBase):
    """An ``event`` of a key comes only after an ``after`` event of the same key."""

    kind: Literal["ordered"] = "ordered"
    event: str = Field(min_length=1)
    after: str = Field(min_length=1)
    key: str

    @field_validator("key")
    @classmethod
    def _paths(cls, value: str) -> str | None:
        return _checked_path(value)

    def default_contract(self) -> str:
        return f"a {self.event} comes only after a {self.after} with the same {self.key}"


class SingleActiveRule(EventRuleBase):
    """At most one subject is active per key at a time.

    A ``start`` event makes the subject at ``subject`` active under the key at ``key``; an ``end``
    event (carrying ``subject``) ends it. Without ``subject`` the key itself is what is active, and
    ``end`` events carry ``key``. Starting while another subject of the key (or, without
    ``subject``, the key itself) is active is a violation.
    """

    kind: Literal["single_active"] = "single_active"
    key: str
    start: tuple[str, ...] = Field(min_length=1)
    end: tuple[str, ...] = Field(min_length=1)
    subject: str | None = None

    @field_validator("key", "subject")
    @classmethod
    def _paths(cls, value: str | None) -> str | None:
        return _checked_path(value)

    def default_contract(self) -> str:
        what = f"{self.subject}" if self.subject else "activity"
        return f"at most one {what} is active per {self.key} ({_types(self.start)} to {_types(self.end)})"


class CountRule(EventRuleBase):
    """Each key has at least ``min`` and at most ``max`` events whose type is in ``event``.

    Without ``key`` the whole log counts as one key. The keys counted are those on an ``event``
    event (so ``min`` matters only with ``opened_by``: the keys of events of those types must each
    have ``min``). Going over ``max`` is a violation at the first event too many; too few is a
    violation at the end of the log. Example: at most one ``initialize`` per runtime process.
    """

    kind: Literal["count"] = "count"
    event: tuple[str, ...] = Field(min_length=1)
    key: str | None = None
    min: int = Field(default=0, ge=0)
    max: int | None = Field(default=None, ge=0)
    opened_by: tuple[str, ...] = ()

    @field_validator("key")
    @classmethod
    def _paths(cls, value: str | None) -> str | None:
        return _checked_path(value)

    def default_contract(self) -> str:
        per = f" per {self.key}" if self.key else ""
        bound = f"at most {self.max}" if self.min == 0 else f"between {self.min} and {self.max}"
        if self.max is None:
            bound = f"at least {self.min}"
        return f"{bound} of {_types(self.event)}{per}"


class TextRule(EventRuleBase):
    """Per key, the ``field`` text of the ``delta`` events, joined in log order, equals the
    ``field`` of the key's ``final`` event: what was shown while streaming is exactly the answer.

    A retry that shows a failed attempt's partial text again, or loses a piece, breaks it. An
    event of a ``reset`` type (the app clearing what it showed) empties the key's text so far.
    Keys with deltas but no final event are not checked (``single_terminal`` says whether one is due).
    """

    kind: Literal["text"] = "text"
    key: str
    delta: tuple[str, ...] = Field(min_length=1)
    final: tuple[str, ...] = Field(min_length=1)
    reset: tuple[str, ...] = ()
    field: str = "$.text"

    @field_validator("key", "field")
    @classmethod
    def _paths(cls, value: str) -> str | None:
        return _checked_path(value)

    def default_contract(self) -> str:
        return (
            f"per {self.key}, the {self.field} of {_types(self.delta)} joined equals that of its {_types(self.final)}"
        )


AnyEventRule = (
    SequenceRule
    | SingleTerminalRule
    | TerminalLastRule
    | PairedRule
    | OrderedRule
    | SingleActiveRule
    | CountRule
    | TextRule
)
#: Any rule kind, told apart by its ``kind`` field.
EventRule = Annotated[AnyEventRule, Field(discriminator="kind")]
RULE_KINDS: tuple[str, ...] = (
    "sequence",
    "single_terminal",
    "terminal_last",
    "paired",
    "ordered",
    "single_active",
    "count",
    "text",
)


class EventRules(BaseModel):
    """A set of rules over one kind of event log; ``type_field`` is where an event names its type.

    The mapping form (TOML, YAML, JSON) is the same shape::

        type_field = "$.type"
        [[rules]]
        id = "app.run.single_terminal"
        kind = "single_terminal"
        key = "$.run_id"
        terminal = ["run.completed", "run.failed"]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[EventRule, ...] = ()
    type_field: str = "$.type"

    @field_validator("type_field")
    @classmethod
    def _type_path(cls, value: str) -> str | None:
        return _checked_path(value)

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: tuple[AnyEventRule, ...]) -> tuple[AnyEventRule, ...]:
        seen: dict[str, int] = {}
        for index, rule in enumerate(rules):
            if rule.id in seen:
                raise ValueError(f"rules[{index}] reuses the id {rule.id!r} of rules[{seen[rule.id]}]; ids are unique")
            seen[rule.id] = index
        return rules

    def catalogue(self) -> dict[str, Rule]:
        """Every rule by id, as id, severity and contract."""
        return {rule.id: rule.as_rule() for rule in self.rules}

    def check(self, events: Iterable[Any]) -> list[Violation]:
        """Shorthand for :func:`check_event_rules` with these rules."""
        return check_event_rules(events, self)


def _format(error: ValidationError) -> str:
    """One line per problem, located by JSON path; discriminator tags are not part of the path."""
    parts = []
    for problem in error.errors(include_url=False):
        loc = list(problem["loc"])
        # pydantic puts the chosen union member's tag after the list index: rules[2].sequence.field
        loc = [p for i, p in enumerate(loc) if not (p in RULE_KINDS and i > 0 and isinstance(loc[i - 1], int))]
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        found = problem.get("input")
        found_text = orjson.dumps(found, default=repr).decode()[:120] if found is not None else "nothing"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "missing":
            found_text = "nothing"
        if problem["type"] == "value_error" and isinstance(found, (list, tuple, dict)):
            parts.append(f"{path}: {message}")  # the message names the element; the whole list is noise
            continue
        parts.append(f"{path}: {message} (found {found_text})")
    return "; ".join(parts)


def load_event_rules(source: Mapping[str, Any] | Path | str) -> EventRules:
    """Rules from a mapping, or from a ``.toml``/``.yaml``/``.yml``/``.json`` file.

    A malformed declaration raises :class:`~harness.errors.RuleDeclarationError` naming the file
    and the JSON path of each bad field, e.g.
    ``rules.toml: $.rules[1].terminal: Field required (found nothing)``.
    """
    where: Path | None = None
    if isinstance(source, Mapping):
        data: Any = dict(source)
    else:
        where = Path(source)
        if where.suffix not in RULE_FILE_SUFFIXES:
            raise RuleDeclarationError(
                f"unknown rule file suffix {where.suffix!r}; use one of {', '.join(RULE_FILE_SUFFIXES)}", path=where
            )
        # The scenario files' reader: regular files only, UTF-8, bounded size, depth and YAML aliases.
        data = load_declaration(where, what="rule file", error=RuleDeclarationError)
    if not isinstance(data, dict):
        raise RuleDeclarationError(f"$: expected a mapping with `rules`, found {type(data).__name__}", path=where)
    try:
        return EventRules.model_validate(data)
    except ValidationError as exc:
        raise RuleDeclarationError(_format(exc), path=where) from None


def _key(value: Any) -> Any:
    """A hashable stand-in for a JSON value used as a key (objects and arrays by their JSON text)."""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return value


def _subject(value: Any) -> str:
    return value if isinstance(value, str) else short_json(value)


class _Checker:
    def __init__(self, log: list[JsonObject], type_path: ConcretePath) -> None:
        self.log = log
        self.types = [value_at(event, type_path) for event in log]
        self.out: list[Violation] = []

    def violate(self, rule: EventRuleBase, index: int | None, message: str, **extra: Any) -> None:
        self.out.append(Violation(rule.id, rule.severity, index, message, **extra))

    def keyed(self, path: str) -> list[Any]:
        """The key of every event at ``path`` (:data:`MISSING` where absent, else hashable)."""
        segments = concrete_path(path)
        return [_key(found) if (found := value_at(e, segments)) is not MISSING else MISSING for e in self.log]

    def run(self, rule: AnyEventRule) -> None:
        match rule:
            case SequenceRule():
                self.sequence(rule)
            case SingleTerminalRule():
                self.single_terminal(rule)
            case TerminalLastRule():
                self.terminal_last(rule)
            case CountRule():
                self.count(rule)
            case TextRule():
                self.text(rule)
            case PairedRule():
                self.paired(rule)
            case OrderedRule():
                self.ordered(rule)
            case SingleActiveRule():
                self.single_active(rule)
            case _:
                assert_never(rule)

    def sequence(self, rule: SequenceRule) -> None:
        field_path = concrete_path(rule.field)
        keys = self.keyed(rule.key) if rule.key else [None] * len(self.log)
        due: dict[Any, int] = {}
        for index, (event, key) in enumerate(zip(self.log, keys, strict=True)):
            if key is MISSING:
                continue
            expected = due.get(key, rule.start)
            found = value_at(event, field_path)
            subject = _subject(key) if rule.key else None
            if found is MISSING or isinstance(found, bool) or not isinstance(found, int):
                what = "missing" if found is MISSING else f"{short_json(found)}, not an integer"
                self.violate(
                    rule, index, f"{rule.field} is {what} where {expected} was due", subject=subject, expected=expected
                )
                due[key] = expected + 1
                continue
            if found != expected:
                per = f" for {rule.key} {_subject(key)}" if rule.key else ""
                self.violate(
                    rule,
                    index,
                    f"{rule.field} is {found} where {expected} was due{per}",
                    subject=subject,
                    expected=expected,
                    found=found,
                )
            due[key] = found + 1

    def single_terminal(self, rule: SingleTerminalRule) -> None:
        keys = self.keyed(rule.key)
        opened: dict[Any, int] = {}
        ended: dict[Any, int] = {}
        for index, key in enumerate(keys):
            if key is MISSING:
                continue
            event_type = self.types[index]
            if not rule.opened_by or event_type in rule.opened_by:
                opened.setdefault(key, index)
            if event_type in rule.terminal:
                if key in ended:
                    first = ended[key]
                    self.violate(
                        rule,
                        index,
                        f"second terminal event {event_type} for {rule.key} {_subject(key)} (first: "
                        f"{self.types[first]} at event {first})",
                        subject=_subject(key),
                        expected=self.types[first],
                        found=event_type,
                    )
                else:
                    ended[key] = index
        for key in opened:
            if key not in ended:
                self.violate(
                    rule,
                    None,
                    f"{rule.key} {_subject(key)} (first seen at event {opened[key]}) has no terminal event",
                    subject=_subject(key),
                    expected="one of " + _types(rule.terminal),
                    found=None,
                )

    def terminal_last(self, rule: TerminalLastRule) -> None:
        ended: dict[Any, int] = {}
        for index, key in enumerate(self.keyed(rule.key)):
            if key is MISSING:
                continue
            event_type = self.types[index]
            if key in ended:
                if event_type not in rule.terminal:
                    first = ended[key]
                    self.violate(
                        rule,
                        index,
                        f"{event_type} after {rule.key} {_subject(key)} ended with {self.types[first]} "
                        f"at event {first}",
                        subject=_subject(key),
                        expected=f"nothing after event {first}",
                        found=event_type,
                    )
            elif event_type in rule.terminal:
                ended[key] = index

    def paired(self, rule: PairedRule) -> None:
        request_keys = self.keyed(rule.key)
        complete_keys = self.keyed(rule.complete_key) if rule.complete_key else request_keys
        pending: dict[Any, list[int]] = {}
        requested: set[Any] = set()
        for index, event_type in enumerate(self.types):
            if event_type == rule.request and request_keys[index] is not MISSING:
                key = request_keys[index]
                pending.setdefault(key, []).append(index)
                requested.add(key)
            elif event_type == rule.complete and complete_keys[index] is not MISSING:
                key = complete_keys[index]
                if pending.get(key):
                    pending[key].pop(0)
                elif key in requested:
                    self.violate(
                        rule,
                        index,
                        f"a second {rule.complete} for {rule.key} {_subject(key)}: every {rule.request} of it "
                        "is already answered",
                        subject=_subject(key),
                        expected=f"one {rule.complete} per {rule.request}",
                        found=rule.complete,
                    )
        unanswered = sorted((index, key) for key, indexes in pending.items() for index in indexes)
        for index, key in unanswered:
            self.violate(
                rule,
                index,
                f"{rule.request} for {rule.key} {_subject(key)} is never followed by a {rule.complete}",
                subject=_subject(key),
                expected=rule.complete,
                found=None,
            )

    def ordered(self, rule: OrderedRule) -> None:
        seen: set[Any] = set()
        for index, key in enumerate(self.keyed(rule.key)):
            if key is MISSING:
                continue
            event_type = self.types[index]
            if event_type == rule.after:
                seen.add(key)
            elif event_type == rule.event and key not in seen:
                self.violate(
                    rule,
                    index,
                    f"{rule.event} for {rule.key} {_subject(key)} before any {rule.after}",
                    subject=_subject(key),
                    expected=rule.after,
                    found=rule.event,
                )

    def single_active(self, rule: SingleActiveRule) -> None:
        keys = self.keyed(rule.key)
        subjects = self.keyed(rule.subject) if rule.subject else keys
        active: dict[Any, Any] = {}  # key -> the active subject
        for index, event_type in enumerate(self.types):
            key, subject = keys[index], subjects[index]
            if event_type in rule.start and key is not MISSING and subject is not MISSING:
                current = active.get(key, MISSING)
                if current is not MISSING and (rule.subject is None or current != subject):
                    what = f"{rule.subject} {_subject(current)} is" if rule.subject else "it is"
                    self.violate(
                        rule,
                        index,
                        f"{event_type} for {rule.key} {_subject(key)} while {what} still active",
                        subject=_subject(subject),
                        expected=f"no active {rule.subject or 'activity'} for {_subject(key)}",
                        found=_subject(current),
                    )
                active[key] = subject
            elif event_type in rule.end and subject is not MISSING:
                for owner in [k for k, s in active.items() if s == subject]:
                    del active[owner]

    def count(self, rule: CountRule) -> None:
        keys = self.keyed(rule.key) if rule.key else [None] * len(self.log)
        counts: dict[Any, int] = {}
        for index, event_type in enumerate(self.types):
            key = keys[index]
            if key is MISSING:
                continue
            if event_type in rule.opened_by:
                counts.setdefault(key, 0)
            if event_type not in rule.event:
                continue
            counts[key] = counts.get(key, 0) + 1
            if rule.max is not None and counts[key] == rule.max + 1:
                where = f" for {rule.key} {_subject(key)}" if rule.key else ""
                self.violate(
                    rule,
                    index,
                    f"{event_type} number {counts[key]}{where}: at most {rule.max} allowed",
                    subject=_subject(key) if rule.key else None,
                    expected=f"at most {rule.max}",
                    found=counts[key],
                )
        for key, found in counts.items():
            if found < rule.min:
                where = f" for {rule.key} {_subject(key)}" if rule.key else ""
                self.violate(
                    rule,
                    None,
                    f"{found} of {_types(rule.event)}{where}, at least {rule.min} due",
                    subject=_subject(key) if rule.key else None,
                    expected=f"at least {rule.min}",
                    found=found,
                )

    def text(self, rule: TextRule) -> None:
        keys = self.keyed(rule.key)
        field = concrete_path(rule.field)
        shown: dict[Any, list[str]] = {}
        for index, event_type in enumerate(self.types):
            key = keys[index]
            if key is MISSING:
                continue
            value = value_at(self.log[index], field)
            if event_type in rule.reset:
                shown.pop(key, None)
            elif event_type in rule.delta:
                shown.setdefault(key, []).append(value if isinstance(value, str) else "")
            elif event_type in rule.final and value is not MISSING:
                joined = "".join(shown.pop(key, []))
                if joined != value:
                    self.violate(
                        rule,
                        index,
                        f"{rule.key} {_subject(key)} showed {short_json(joined)} but its {event_type} says "
                        f"{short_json(value)}",
                        subject=_subject(key),
                        expected=value,
                        found=joined,
                    )


def check_event_rules(
    events: Iterable[Any], rules: EventRules | Sequence[AnyEventRule | Mapping[str, Any]]
) -> list[Violation]:
    """Every violation of ``rules`` in ``events``: each rule in declaration order, each rule's
    violations in log order (end-of-log ones last).

    ``events`` is any iterable of JSON-able mappings (a :class:`~harness.core.StoredEvent` counts
    as its ``to_json()``); anything else raises :class:`~harness.errors.EventLogError` naming the
    event index and JSON path. ``Violation.sequence`` is the 0-based index of the event in
    ``events``. ``rules`` may also be a list of rule models or of their mapping form.
    """
    if not isinstance(rules, EventRules):
        try:
            rules = EventRules.model_validate({"rules": [r if isinstance(r, BaseModel) else dict(r) for r in rules]})
        except ValidationError as exc:
            raise RuleDeclarationError(_format(exc)) from None
    checker = _Checker(json_event_log(events), concrete_path(rules.type_field))
    for rule in rules.rules:
        checker.run(rule)
    return checker.out
