"""Declared invariant rules over a user's own event log: every kind, loading, malformed declarations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.core.event_rules import (
    EventRules,
    OrderedRule,
    PairedRule,
    SequenceRule,
    SingleActiveRule,
    SingleTerminalRule,
    TerminalLastRule,
    check_event_rules,
    load_event_rules,
)
from harness.core.invariants import Violation
from harness.errors import EventLogError, RuleDeclarationError

Event = dict[str, Any]


def ev(type_: str, **fields: Any) -> Event:
    return {"type": type_, **fields}


def only(violations: list[Violation]) -> Violation:
    assert len(violations) == 1, [v.to_json() for v in violations]
    return violations[0]


# -- sequence ----------------------------------------------------------------------------------

SEQ = SequenceRule(id="app.seq", field="$.seq")


def test_sequence_passes_a_contiguous_field() -> None:
    assert check_event_rules([ev("a", seq=1), ev("b", seq=2), ev("c", seq=3)], [SEQ]) == []


def test_sequence_reports_a_gap_at_the_event_with_expected_and_found() -> None:
    violation = only(check_event_rules([ev("a", seq=1), ev("b", seq=3), ev("c", seq=4)], [SEQ]))
    assert (violation.rule, violation.severity, violation.sequence) == ("app.seq", "error", 1)
    assert (violation.expected, violation.found) == (2, 3)
    assert violation.message == "$.seq is 3 where 2 was due"


def test_sequence_reports_a_missing_field() -> None:
    violation = only(check_event_rules([ev("a", seq=1), ev("b")], [SEQ]))
    assert (violation.sequence, violation.expected, violation.found) == (1, 2, None)


def test_sequence_per_key_counts_each_key_on_its_own() -> None:
    rule = SequenceRule(id="app.seq", field="$.n", key="$.stream", start=0)
    log = [ev("a", stream="x", n=0), ev("a", stream="y", n=0), ev("a", stream="x", n=1), ev("a", stream="y", n=2)]
    violation = only(check_event_rules(log, [rule]))
    assert (violation.sequence, violation.subject, violation.expected, violation.found) == (3, "y", 1, 2)


# -- single_terminal -----------------------------------------------------------------------------

TERMINAL = SingleTerminalRule(id="app.run.single_terminal", key="$.run_id", terminal=["run.completed", "run.failed"])


def test_single_terminal_passes_one_terminal_per_key() -> None:
    log = [ev("run.started", run_id="r1"), ev("run.completed", run_id="r1")]
    assert check_event_rules(log, [TERMINAL]) == []


def test_single_terminal_reports_a_second_terminal_event() -> None:
    log = [ev("run.started", run_id="r1"), ev("run.completed", run_id="r1"), ev("run.failed", run_id="r1")]
    violation = only(check_event_rules(log, [TERMINAL]))
    assert (violation.sequence, violation.subject, violation.expected, violation.found) == (
        2,
        "r1",
        "run.completed",
        "run.failed",
    )


def test_single_terminal_reports_a_key_without_terminal_at_the_end_of_the_log() -> None:
    violation = only(check_event_rules([ev("run.started", run_id="r1")], [TERMINAL]))
    assert (violation.sequence, violation.subject, violation.found) == (None, "r1", None)
    assert violation.expected == "one of run.completed, run.failed"


def test_single_terminal_opened_by_limits_the_keys_that_must_end() -> None:
    rule = TERMINAL.model_copy(update={"opened_by": ("run.started",)})
    log = [ev("log.line", run_id="r0"), ev("run.started", run_id="r1"), ev("run.completed", run_id="r1")]
    assert check_event_rules(log, [rule]) == []


# -- terminal_last -------------------------------------------------------------------------------

LAST = TerminalLastRule(id="app.run.terminal_last", key="$.run_id", terminal=["run.completed"])


def test_terminal_last_passes_when_the_terminal_event_is_last() -> None:
    log = [ev("run.started", run_id="r1"), ev("run.completed", run_id="r1"), ev("run.started", run_id="r2")]
    assert check_event_rules(log, [LAST]) == []


def test_terminal_last_reports_an_event_after_the_terminal_event() -> None:
    log = [ev("run.started", run_id="r1"), ev("run.completed", run_id="r1"), ev("item.added", run_id="r1")]
    violation = only(check_event_rules(log, [LAST]))
    assert (violation.sequence, violation.subject, violation.found) == (2, "r1", "item.added")
    assert violation.message == "item.added after $.run_id r1 ended with run.completed at event 1"


# -- paired --------------------------------------------------------------------------------------

PAIRED = PairedRule(id="app.tool.paired", request="tool.requested", complete="tool.completed", key="$.call_id")


def test_paired_passes_one_completion_per_request() -> None:
    log = [
        ev("tool.requested", call_id="c1"),
        ev("tool.requested", call_id="c2"),
        ev("tool.completed", call_id="c2"),
        ev("tool.completed", call_id="c1"),
    ]
    assert check_event_rules(log, [PAIRED]) == []


def test_paired_reports_a_request_never_completed_at_the_request() -> None:
    log = [ev("tool.requested", call_id="c1"), ev("tool.requested", call_id="c2"), ev("tool.completed", call_id="c1")]
    violation = only(check_event_rules(log, [PAIRED]))
    assert (violation.sequence, violation.subject, violation.expected, violation.found) == (
        1,
        "c2",
        "tool.completed",
        None,
    )


def test_paired_reports_a_second_completion() -> None:
    log = [ev("tool.requested", call_id="c1"), ev("tool.completed", call_id="c1"), ev("tool.completed", call_id="c1")]
    violation = only(check_event_rules(log, [PAIRED]))
    assert (violation.sequence, violation.subject) == (2, "c1")


def test_paired_reads_the_completion_key_where_declared() -> None:
    rule = PAIRED.model_copy(update={"complete_key": "$.result.call_id"})
    log = [ev("tool.requested", call_id="c1"), ev("tool.completed", result={"call_id": "c1"})]
    assert check_event_rules(log, [rule]) == []


# -- ordered -------------------------------------------------------------------------------------

ORDERED = OrderedRule(id="app.run.started_first", event="run.completed", after="run.started", key="$.run_id")


def test_ordered_passes_when_the_event_follows_its_prerequisite() -> None:
    assert check_event_rules([ev("run.started", run_id="r1"), ev("run.completed", run_id="r1")], [ORDERED]) == []


def test_ordered_reports_an_event_before_its_prerequisite() -> None:
    log = [ev("run.started", run_id="r1"), ev("run.completed", run_id="r2"), ev("run.started", run_id="r2")]
    violation = only(check_event_rules(log, [ORDERED]))
    assert (violation.sequence, violation.subject, violation.expected, violation.found) == (
        1,
        "r2",
        "run.started",
        "run.completed",
    )


# -- single_active -------------------------------------------------------------------------------

ACTIVE = SingleActiveRule(
    id="app.thread.single_active_run",
    key="$.thread_id",
    subject="$.run_id",
    start=["run.started"],
    end=["run.completed", "run.failed"],
)


def test_single_active_passes_runs_one_after_another() -> None:
    log = [
        ev("run.started", thread_id="t", run_id="r1"),
        ev("run.completed", run_id="r1"),
        ev("run.started", thread_id="t", run_id="r2"),
        ev("run.started", thread_id="u", run_id="r3"),
    ]
    assert check_event_rules(log, [ACTIVE]) == []


def test_single_active_reports_a_second_active_subject() -> None:
    log = [ev("run.started", thread_id="t", run_id="r1"), ev("run.started", thread_id="t", run_id="r2")]
    violation = only(check_event_rules(log, [ACTIVE]))
    assert (violation.sequence, violation.subject, violation.found) == (1, "r2", "r1")


def test_single_active_without_subject_treats_the_key_as_what_is_active() -> None:
    rule = ACTIVE.model_copy(update={"subject": None})
    log = [ev("run.started", thread_id="t"), ev("run.completed", thread_id="t"), ev("run.started", thread_id="t")]
    assert check_event_rules(log, [rule]) == []
    violation = only(check_event_rules([ev("run.started", thread_id="t"), ev("run.started", thread_id="t")], [rule]))
    assert (violation.sequence, violation.subject) == (1, "t")


# -- the rule set ----------------------------------------------------------------------------------


def test_every_rule_has_an_id_severity_and_one_line_contract() -> None:
    rules = EventRules(rules=[SEQ, TERMINAL, LAST, PAIRED, ORDERED, ACTIVE])
    for rule_id, rule in rules.catalogue().items():
        assert rule.id == rule_id and rule.severity == "error"
        assert rule.contract and "\n" not in rule.contract
    assert rules.catalogue()["app.tool.paired"].contract == (
        "every tool.requested is followed by exactly one tool.completed with the same $.call_id"
    )


def test_a_warning_rule_gives_warning_violations_and_a_stated_contract_wins() -> None:
    rule = SEQ.model_copy(update={"severity": "warning", "contract": "frames are numbered"})
    (violation,) = check_event_rules([ev("a", seq=2)], [rule])
    assert violation.severity == "warning"
    assert rule.as_rule().contract == "frames are numbered"


def test_type_field_says_where_events_name_their_type() -> None:
    rules = EventRules(type_field="$.event", rules=[ORDERED])
    assert check_event_rules([{"event": "run.completed", "run_id": "r1"}], rules)[0].rule == ORDERED.id


MAPPING: dict[str, Any] = {
    "type_field": "$.type",
    "rules": [
        {"id": "app.seq", "kind": "sequence", "field": "$.seq"},
        {"id": "app.run.single_terminal", "kind": "single_terminal", "key": "$.run_id", "terminal": ["run.completed"]},
    ],
}


def test_rules_load_from_a_mapping() -> None:
    rules = load_event_rules(MAPPING)
    assert [type(r) for r in rules.rules] == [SequenceRule, SingleTerminalRule]
    assert check_event_rules([ev("run.started", seq=1, run_id="r1")], rules)[0].rule == "app.run.single_terminal"


def test_rules_load_from_toml_yaml_and_json_files(tmp_path: Path) -> None:
    (tmp_path / "rules.toml").write_text(
        'type_field = "$.type"\n'
        '[[rules]]\nid = "app.seq"\nkind = "sequence"\nfield = "$.seq"\n'
        '[[rules]]\nid = "app.run.single_terminal"\nkind = "single_terminal"\nkey = "$.run_id"\n'
        'terminal = ["run.completed"]\n'
    )
    (tmp_path / "rules.yaml").write_text(
        "type_field: $.type\nrules:\n"
        "  - {id: app.seq, kind: sequence, field: $.seq}\n"
        "  - {id: app.run.single_terminal, kind: single_terminal, key: $.run_id, terminal: [run.completed]}\n"
    )
    (tmp_path / "rules.json").write_text(json.dumps(MAPPING))
    expected = load_event_rules(MAPPING)
    for name in ("rules.toml", "rules.yaml", "rules.json"):
        assert load_event_rules(tmp_path / name) == expected, name


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ({"rules": [{"id": "x", "kind": "sequence"}]}, "$.rules[0].field: Field required (found nothing)"),
        ({"rules": [{"id": "x", "kind": "nope"}]}, "$.rules[0]: Input tag 'nope' found using 'kind'"),
        (
            {"rules": [{"id": "ok", "kind": "sequence", "field": "$.n"}, {"id": "x", "kind": "paired", "key": "k"}]},
            "$.rules[1].request: Field required",
        ),
        ({"rules": [{"id": "x", "kind": "ordered", "event": "b", "after": "a", "key": "k"}]}, "must start with '$'"),
        ({"rules": [{"id": "x", "kind": "terminal_last", "key": "$.k", "terminal": []}]}, "$.rules[0].terminal:"),
        (
            {"rules": [{"id": "x", "kind": "sequence", "field": f"$.{f}"} for f in "ab"]},
            "$.rules: rules[1] reuses the id 'x' of rules[0]",
        ),
        ({"rules": [], "typefield": "$.t"}, "$.typefield: Extra inputs are not permitted"),
    ],
    ids=["missing-field", "unknown-kind", "second-rule", "bad-path", "empty-terminal", "duplicate-id", "typo"],
)
def test_a_malformed_declaration_names_the_json_path(declaration: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleDeclarationError) as caught:
        load_event_rules(declaration)
    assert message in str(caught.value)


def test_a_malformed_rule_file_names_the_file_and_the_json_path(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[[rules]]\nid = "x"\nkind = "single_terminal"\nkey = "$.run_id"\n')
    with pytest.raises(RuleDeclarationError) as caught:
        load_event_rules(path)
    assert str(caught.value) == f"{path}: $.rules[0].terminal: Field required (found nothing)"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("rules.ini", "", "unknown rule file suffix '.ini'"),
        ("rules.yaml", "rules: [", "not valid YAML"),
        ("missing.toml", None, "no such rule file"),
    ],
    ids=["suffix", "syntax", "missing"],
)
def test_an_unreadable_rule_file_says_why(tmp_path: Path, name: str, text: str | None, message: str) -> None:
    if text is not None:
        (tmp_path / name).write_text(text)
    with pytest.raises(RuleDeclarationError, match=message):
        load_event_rules(tmp_path / name)


def test_an_event_that_is_not_json_names_its_index_and_path() -> None:
    with pytest.raises(EventLogError) as caught:
        check_event_rules([ev("a", seq=1), ev("b", seq={2, 3})], [SEQ])
    assert (caught.value.index, caught.value.json_path) == (1, "$.seq")
