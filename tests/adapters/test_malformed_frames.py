"""A malformed frame is a located protocol violation or a located error: never a traceback, never dropped.

Every case edits one line of a real bundled transcript in memory (one value at one JSON path),
parses it, and runs it the way ``harness replay`` (the replay and its ``--json`` summary) and
``harness validate`` (the linter) do. The violation names its rule and the JSON path inside the
entry; the linter reports the same rule on the same line, so the two commands agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from harness.errors import ScenarioError, TranscriptError
from harness.scenario.model import load_scenario
from harness.scenario.runner import Execution, execute, replay_summary, scenario_for_transcript
from harness.transcript import Transcript, parse_transcript
from harness.transcript.lint import LintIssue, lint_transcript
from tests.conftest import ROOT

CHAT_TOOL_CALL = "transcripts/openai/openai-sdk/chat__single_tool_call.ndjson"
ANTHROPIC_TOOL_USE = "transcripts/anthropic/anthropic-sdk/tool_use_response.ndjson"
ANTHROPIC_REQUEST = "transcripts/parity/capital_france.anthropic.ndjson"
CHAT_REQUEST = "transcripts/parity/capital_france.openai_chat.ndjson"
RESPONSES_TOOL_LOOP = (
    "transcripts/openai/pydantic-ai-cassettes/openai-responses__reasoning_item_plus_function_call.ndjson"
)
RESPONSES_ANNOTATIONS = (
    "transcripts/openai/pydantic-ai-cassettes/openai-responses__web_search_annotations_multiturn.ndjson"
)
CODEX_SIMPLE = "scenarios/t3code/codex/simple.yaml"
CLAUDE_CLI = "scenarios/claude-cli/basic_query.yaml"
CLAUDE_TOOL = "scenarios/claude-cli/tool_permission.yaml"

DELETE = object()


# -- building malformed transcripts -------------------------------------------------------------


def lines_of(name: str) -> list[str]:
    return (ROOT / name).read_text(encoding="utf-8").splitlines()


def find_line(name: str, *, label: str | None = None, event: str | None = None, occurrence: int = 0) -> int:
    """The 1-based line of the ``occurrence``-th entry with this label (or SSE ``data.type``)."""
    found = []
    for number, text in enumerate(lines_of(name), start=1):
        record = json.loads(text)
        frame = record.get("frame")
        data = frame.get("data") if isinstance(frame, dict) else None
        if (label is not None and record.get("label") == label) or (
            event is not None and isinstance(data, dict) and data.get("type") == event
        ):
            found.append(number)
    return found[occurrence]


def edited(name: str, line: int, path: tuple[str | int, ...], value: Any) -> str:
    """The transcript text with the value at ``path`` inside line ``line`` replaced (or deleted)."""
    lines = lines_of(name)
    record = json.loads(lines[line - 1])
    target = record
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    lines[line - 1] = json.dumps(record)
    return "\n".join(lines) + "\n"


@dataclass
class Outcome:
    transcript: Transcript
    issues: list[LintIssue]
    execution: Execution
    summary: dict[str, Any]

    @property
    def violations(self) -> list[dict[str, Any]]:
        return [e["data"] for e in self.summary["events"] if e["type"] == "protocol.violation"]

    def issue(self, rule: str) -> LintIssue:
        found = [i for i in self.issues if i.rule == rule]
        assert found, self.issues
        return found[0]

    def violation(self, rule: str) -> dict[str, Any]:
        found = [v for v in self.violations if v["rule"] == rule]
        assert found, self.violations
        return found[0]

    def tool_arguments(self) -> list[Any]:
        return [call["arguments"] for message in self.summary["messages"] for call in message["tool_calls"]]


def replay_text(text: str, name: str, *, scenario: str | None = None) -> Outcome:
    """What ``harness replay --json`` and ``harness validate`` do with a transcript text."""
    transcript = parse_transcript(text, path=name)
    issues = lint_transcript(transcript)
    if scenario is None:
        execution = execute(scenario_for_transcript(transcript, path=name), transcript=transcript)
    else:
        execution = execute(load_scenario(ROOT / scenario), transcript=transcript)
    summary = replay_summary(execution)
    orjson.dumps(summary)  # what --json prints
    for message in summary["messages"]:
        assert isinstance(message["text"], str)  # what `harness replay` prints
    return Outcome(transcript, issues, execution, summary)


def replay_edit(name: str, line: int, path: tuple[str | int, ...], value: Any) -> Outcome:
    return replay_text(edited(name, line, path, value), name)


def scenario_transcript(scenario: str) -> str:
    return str(load_scenario(ROOT / scenario).transcript_path().relative_to(ROOT))


def replay_scenario_edit(scenario: str, line: int, path: tuple[str | int, ...], value: Any) -> Outcome:
    name = scenario_transcript(scenario)
    return replay_text(edited(name, line, path, value), name, scenario=scenario)


def origin_line(outcome: Outcome, rule: str) -> int | None:
    """Agent runtimes: the transcript line of the frame behind the first violation of ``rule``."""
    for event in outcome.execution.events:
        if event.type == "protocol.violation" and event.data["rule"] == rule:
            return outcome.execution.origins[event.sequence][0]
    raise AssertionError(f"no {rule} violation")


# -- OpenAI Chat Completions ----------------------------------------------------------------------


def test_chat_tool_call_arguments_assemble_from_every_fragment_unmutated() -> None:
    outcome = replay_text((ROOT / CHAT_TOOL_CALL).read_text(), CHAT_TOOL_CALL)
    assert outcome.tool_arguments() == [{"city": "New York City"}]
    assert not outcome.violations and not outcome.issues


def test_chat_delta_that_is_a_list_is_a_located_violation_not_dropped() -> None:
    line = 7  # the " York" fragment of the get_weather arguments
    delta = json.loads(lines_of(CHAT_TOOL_CALL)[line - 1])["frame"]["data"]["choices"][0]["delta"]
    assert delta["tool_calls"][0]["function"]["arguments"] == " York"
    outcome = replay_edit(CHAT_TOOL_CALL, line, ("frame", "data", "choices", 0, "delta"), [delta])
    violation = outcome.violation("openai.chat.frame.shape")
    assert violation["message"].startswith(
        "$.frame.data.choices[0].delta: expected an object or null, found an array ("
    )
    assert violation["fatal"] is True
    assert outcome.execution.transcript.line_of(violation["entry_index"]) == line
    assert outcome.summary["status"] == "failed"
    assert outcome.summary["error"]["type"] == "protocol_violation"
    # "New City" never reaches the tool: the response fails at the broken chunk.
    assert {"city": "New City"} not in outcome.tool_arguments()
    issue = outcome.issue("openai.chat.frame.shape")
    assert (issue.line, issue.severity, issue.message) == (line, "error", violation["message"])


def test_chat_tool_arguments_fragment_that_is_not_a_string_is_a_located_violation() -> None:
    path = ("frame", "data", "choices", 0, "delta", "tool_calls", 0, "function", "arguments")
    outcome = replay_edit(CHAT_TOOL_CALL, 7, path, [" York"])
    message = outcome.violation("openai.chat.frame.shape")["message"]
    assert message.startswith("$.frame.data.choices[0].delta.tool_calls[0].function.arguments: expected a string")
    assert outcome.issue("openai.chat.frame.shape").line == 7


def test_chat_delta_content_of_another_type_is_carried_reported_and_not_applied() -> None:
    line = find_line(CHAT_REQUEST, label="chunk", occurrence=1)
    outcome = replay_edit(CHAT_REQUEST, line, ("frame", "data", "choices", 0, "delta", "content"), 5)
    violation = outcome.violation("openai.chat.frame.shape")
    assert violation["message"].startswith("$.frame.data.choices[0].delta.content: expected a string or null")
    assert violation["fatal"] is False
    unrecognized = [e for e in outcome.summary["events"] if e["type"] == "provider.frame.unrecognized"]
    assert unrecognized
    assert outcome.issue("openai.chat.frame.shape").severity == "warning"


@pytest.mark.parametrize("usage", [7, "x", [1]], ids=["number", "string", "array"])
def test_chat_usage_that_is_not_an_object_is_a_located_violation(usage: Any) -> None:
    line = 11  # the usage chunk: choices [], usage {...}
    assert json.loads(lines_of(CHAT_TOOL_CALL)[line - 1])["frame"]["data"]["choices"] == []
    outcome = replay_edit(CHAT_TOOL_CALL, line, ("frame", "data", "usage"), usage)
    assert outcome.violation("openai.chat.frame.shape")["message"].startswith("$.frame.data.usage: expected an object")
    assert outcome.issue("openai.chat.frame.shape").line == line


def test_chat_error_that_is_false_is_a_located_violation_not_taken_as_no_error() -> None:
    outcome = replay_edit(CHAT_TOOL_CALL, 3, ("frame", "data", "error"), False)
    message = outcome.violation("openai.chat.frame.shape")["message"]
    assert message == "$.frame.data.error: expected an object or null, found a boolean (false)"


# -- Anthropic Messages ----------------------------------------------------------------------------

ANTHROPIC_CASES = {
    "message-number": ("message_start", ("message",), 5, "$.frame.data.message: expected an object, found an integer"),
    "message-usage-list": (
        "message_start",
        ("message", "usage"),
        [{"input_tokens": 1}],
        "$.frame.data.message.usage: expected an object or null, found an array",
    ),
    "input-tokens-string": (
        "message_start",
        ("message", "usage", "input_tokens"),
        "12",
        "$.frame.data.message.usage.input_tokens: expected an integer or null, found a string",
    ),
    "content-block-string": (
        "content_block_start",
        ("content_block",),
        "text",
        "$.frame.data.content_block: expected an object, found a string",
    ),
    "index-object": ("content_block_delta", ("index",), {}, "$.frame.data.index: expected an integer, found an object"),
    "index-false": (
        "content_block_start",
        ("index",),
        False,
        "$.frame.data.index: expected an integer, found a boolean",
    ),
    "delta-number": ("content_block_delta", ("delta",), 3, "$.frame.data.delta: expected an object, found an integer"),
    "delta-type-list": (
        "content_block_delta",
        ("delta", "type"),
        [],
        "$.frame.data.delta.type: expected a string, found an array",
    ),
    "text-null": (
        "content_block_delta",
        ("delta", "text"),
        None,
        "$.frame.data.delta.text: expected a string, found null",
    ),
    "message-delta-string": (
        "message_delta",
        ("delta",),
        "end_turn",
        "$.frame.data.delta: expected an object or null, found a string",
    ),
    "usage-number": (
        "message_delta",
        ("usage",),
        9,
        "$.frame.data.usage: expected an object or null, found an integer",
    ),
}


@pytest.mark.parametrize("case", sorted(ANTHROPIC_CASES))
def test_anthropic_value_of_the_wrong_type_is_a_located_violation_and_a_lint_finding(case: str) -> None:
    event, path, value, expected = ANTHROPIC_CASES[case]
    line = find_line(ANTHROPIC_TOOL_USE, event=event)
    outcome = replay_edit(ANTHROPIC_TOOL_USE, line, ("frame", "data", *path), value)
    violation = outcome.violation("anthropic.frame.shape")
    assert violation["message"].startswith(expected), violation["message"]
    assert outcome.execution.transcript.line_of(violation["entry_index"]) == line
    assert outcome.summary["status"] == "failed"
    issue = outcome.issue("anthropic.frame.shape")
    assert (issue.line, issue.message) == (line, violation["message"])


def test_anthropic_index_false_is_not_taken_as_block_0() -> None:
    line = find_line(ANTHROPIC_TOOL_USE, event="content_block_delta")
    outcome = replay_edit(ANTHROPIC_TOOL_USE, line, ("frame", "data", "index"), False)
    assert outcome.violation("anthropic.frame.shape")["message"].startswith("$.frame.data.index: expected an integer")
    assert not [e for e in outcome.summary["events"] if e["type"] == "turn-item.delta"]


def test_anthropic_sse_data_that_is_not_an_object_is_a_located_violation() -> None:
    line = find_line(ANTHROPIC_TOOL_USE, event="content_block_delta")
    outcome = replay_edit(ANTHROPIC_TOOL_USE, line, ("frame", "data"), "text")
    message = outcome.violation("anthropic.frame.shape")["message"]
    assert message.startswith("$.frame.data: expected an object (the event's JSON payload), found a string")
    assert outcome.issue("anthropic.frame.shape").line == line


# -- OpenAI Responses ------------------------------------------------------------------------------


@pytest.mark.parametrize("usage", [7, [1]], ids=["number", "array"])
def test_responses_usage_that_is_not_an_object_is_a_located_violation(usage: Any) -> None:
    line = find_line(RESPONSES_TOOL_LOOP, event="response.completed")
    outcome = replay_edit(RESPONSES_TOOL_LOOP, line, ("frame", "data", "response", "usage"), usage)
    violation = outcome.violation("openai.responses.frame.shape")
    assert violation["message"].startswith("$.frame.data.response.usage: expected an object or null")
    assert outcome.issue("openai.responses.frame.shape").line == line


RESPONSES_ITEM_CASES = {
    "content-number": (("content",), 5, "$.frame.data.item.content: expected an array or null, found an integer"),
    "annotations-number": (
        ("content", 0, "annotations"),
        5,
        "$.frame.data.item.content[0].annotations: expected an array or null, found an integer",
    ),
    "text-list": (("content", 0, "text"), ["x"], "$.frame.data.item.content[0].text: expected a string or null"),
}


@pytest.mark.parametrize("case", sorted(RESPONSES_ITEM_CASES))
def test_responses_message_item_value_of_the_wrong_type_is_a_located_violation(case: str) -> None:
    path, value, expected = RESPONSES_ITEM_CASES[case]
    line = next(
        number
        for number, text in enumerate(lines_of(RESPONSES_ANNOTATIONS), start=1)
        if '"response.output_item.done"' in text and '"type": "message"' in text.replace('":"', '": "')
    )
    outcome = replay_edit(RESPONSES_ANNOTATIONS, line, ("frame", "data", "item", *path), value)
    assert outcome.violation("openai.responses.frame.shape")["message"].startswith(expected)
    assert outcome.issue("openai.responses.frame.shape").line == line


def test_responses_call_id_that_is_a_list_is_a_located_violation() -> None:
    line = next(
        number
        for number, text in enumerate(lines_of(RESPONSES_TOOL_LOOP), start=1)
        if '"response.output_item.done"' in text and "function_call" in text
    )
    outcome = replay_edit(RESPONSES_TOOL_LOOP, line, ("frame", "data", "item", "call_id"), ["call_1"])
    message = outcome.violation("openai.responses.frame.shape")["message"]
    assert message.startswith("$.frame.data.item.call_id: expected a string or null, found an array")


def test_responses_output_index_false_is_a_located_violation() -> None:
    line = find_line(RESPONSES_TOOL_LOOP, event="response.output_item.added")
    outcome = replay_edit(RESPONSES_TOOL_LOOP, line, ("frame", "data", "output_index"), False)
    message = outcome.violation("openai.responses.frame.shape")["message"]
    assert message == "$.frame.data.output_index: expected an integer, found a boolean (false)"


# -- recorded requests (the first one is the implied scenario's conversation) ------------------------


REQUEST_CASES = {
    "anthropic-body-list": (
        ANTHROPIC_REQUEST,
        ("body",),
        [],
        "$.frame.body: expected an object or null, found an array",
    ),
    "anthropic-message-number": (
        ANTHROPIC_REQUEST,
        ("body", "messages", 0),
        5,
        "$.frame.body.messages[0]: expected an object, found an integer",
    ),
    "anthropic-block-string": (
        ANTHROPIC_REQUEST,
        ("body", "messages", 0, "content", 0),
        "hi",
        "$.frame.body.messages[0].content[0]: expected an object, found a string",
    ),
    "anthropic-user-text-number": (
        ANTHROPIC_REQUEST,
        ("body", "messages", 0, "content", 0, "text"),
        5,
        "$.frame.body.messages[0].content[0].text: expected a string, found an integer",
    ),
    "chat-body-list": (CHAT_REQUEST, ("body",), [], "$.frame.body: expected an object or null, found an array"),
    "chat-message-string": (
        CHAT_REQUEST,
        ("body", "messages", 0),
        "hi",
        "$.frame.body.messages[0]: expected an object, found a string",
    ),
    "chat-user-text-number": (
        CHAT_REQUEST,
        ("body", "messages", 0, "content"),
        5,
        "$.frame.body.messages[0].content: expected a string, an array or null, found an integer",
    ),
    "responses-input-number": (
        RESPONSES_TOOL_LOOP,
        ("body", "input", 0),
        5,
        "$.frame.body.input[0]: expected an object, found an integer",
    ),
    "responses-user-text-number": (
        RESPONSES_TOOL_LOOP,
        ("body", "input", 0, "content"),
        5,
        "$.frame.body.input[0].content: expected a string, an array or null, found an integer",
    ),
}


@pytest.mark.parametrize("case", sorted(REQUEST_CASES))
def test_a_malformed_recorded_request_is_an_error_naming_its_line_and_json_path(case: str) -> None:
    name, path, value, expected = REQUEST_CASES[case]
    text = edited(name, 2, ("frame", *path), value)
    transcript = parse_transcript(text, path=name)
    with pytest.raises(TranscriptError) as caught:
        scenario_for_transcript(transcript, path=name)
    assert caught.value.line == 2
    assert str(caught.value).startswith(f"{name}:2: the first recorded request: {expected}")
    # `harness validate` finds the same problem on the same line.
    issues = [i for i in lint_transcript(transcript) if i.rule == "http.request.shape"]
    assert [(i.line, i.severity) for i in issues] == [(2, "error")]
    assert issues[0].message.startswith(expected)


def test_an_outbound_sse_frame_is_an_error_naming_its_line_not_a_traceback() -> None:
    inbound = json.loads(lines_of(ANTHROPIC_REQUEST)[2])["frame"]
    text = edited(ANTHROPIC_REQUEST, 2, ("frame",), inbound)
    transcript = parse_transcript(text, path=ANTHROPIC_REQUEST)
    with pytest.raises(TranscriptError) as caught:
        scenario_for_transcript(transcript, path=ANTHROPIC_REQUEST)
    assert caught.value.line == 2
    assert '$.frame.kind: expected the outbound frame kind "http.request", found a string ("sse")' in str(caught.value)
    assert [i.rule for i in lint_transcript(transcript) if i.line == 2] == ["http.outbound.kind"]


def test_a_request_that_is_not_one_user_turn_still_asks_for_a_scenario_and_names_its_line() -> None:
    text = edited(ANTHROPIC_REQUEST, 2, ("frame", "body", "messages"), [])
    with pytest.raises(ScenarioError, match=r"carries 0 messages, not one user message \(line 2\); write a scenario"):
        scenario_for_transcript(parse_transcript(text, path=ANTHROPIC_REQUEST), path=ANTHROPIC_REQUEST)


# -- Codex app-server -----------------------------------------------------------------------------


def turn_start_response_line() -> int:
    name = scenario_transcript(CODEX_SIMPLE)
    return next(
        number
        for number, text in enumerate(lines_of(name), start=1)
        if json.loads(text).get("type") == "emit_inbound" and json.loads(text).get("label") == "turn/start"
    )


@pytest.mark.parametrize(
    ("value", "found"),
    [(DELETE, "nothing (the key is missing)"), (None, "null"), (7, "an integer (7)")],
    ids=["missing", "null", "number"],
)
def test_codex_turn_start_response_without_a_string_turn_id_is_a_located_violation(value: Any, found: str) -> None:
    line = turn_start_response_line()
    outcome = replay_scenario_edit(CODEX_SIMPLE, line, ("frame", "result", "turn", "id"), value)
    message = f"turn/start (id 3) names no turn: $.frame.result.turn.id: expected a string, found {found}"
    assert outcome.violation("codex.response.shape")["message"] == message
    assert origin_line(outcome, "codex.response.shape") == line
    issue = outcome.issue("codex.response.shape")
    assert (issue.line, issue.message) == (line, message)


def test_codex_turn_start_response_with_its_turn_id_is_no_violation() -> None:
    name = scenario_transcript(CODEX_SIMPLE)
    outcome = replay_text((ROOT / name).read_text(), name, scenario=CODEX_SIMPLE)
    assert not outcome.violations and not outcome.issues


def test_codex_agent_message_text_that_is_not_a_string_is_a_located_violation() -> None:
    name = scenario_transcript(CODEX_SIMPLE)
    line = next(
        number
        for number, text in enumerate(lines_of(name), start=1)
        if '"item/completed"' in text and '"agentMessage"' in text
    )
    outcome = replay_scenario_edit(CODEX_SIMPLE, line, ("frame", "params", "item", "text"), ["fixture"])
    message = outcome.violation("codex.frame.shape")["message"]
    expected = 'item/completed: $.frame.params.item.text: expected a string or null, found an array (["fixture"])'
    assert message == expected
    assert origin_line(outcome, "codex.frame.shape") == line
    assert outcome.issue("codex.frame.shape").line == line


# -- Claude Code CLI (claude_agent_sdk, cli dialect) --------------------------------------------------


def test_claude_cli_text_that_is_not_a_string_is_a_located_violation_not_a_crash_when_printed() -> None:
    name = scenario_transcript(CLAUDE_CLI)
    line = find_line(name, label="assistant")
    outcome = replay_scenario_edit(CLAUDE_CLI, line, ("frame", "message", "content", 0, "text"), 4)
    message = outcome.violation("claude.frame.shape")["message"]
    assert message == "assistant: $.frame.message.content[0].text: expected a string, found an integer (4)"
    assert origin_line(outcome, "claude.frame.shape") == line
    assert outcome.issue("claude.frame.shape").line == line


def test_claude_cli_recording_without_its_result_line_replays_to_a_failed_turn() -> None:
    name = scenario_transcript(CLAUDE_CLI)
    kept = [text for text in lines_of(name) if json.loads(text).get("label") != "result"]
    outcome = replay_text("\n".join(kept) + "\n", name, scenario=CLAUDE_CLI)
    assert outcome.summary["status"] == "failed"
    assert outcome.summary["error"] == {"type": "runtime_error", "message": "the query ended mid-turn"}
    assert [m["text"] for m in outcome.summary["messages"]] == ["4"]


def test_claude_cli_system_subtype_that_is_not_a_string_is_a_located_violation() -> None:
    name = scenario_transcript(CLAUDE_CLI)
    line = find_line(name, label="system")
    outcome = replay_scenario_edit(CLAUDE_CLI, line, ("frame", "subtype"), ["init"])
    message = outcome.violation("claude.frame.shape")["message"]
    assert message == 'system: $.frame.subtype: expected a string or null, found an array (["init"])'
    assert outcome.issue("claude.frame.shape").line == line


def test_claude_cli_user_content_that_is_a_number_is_a_located_violation() -> None:
    name = scenario_transcript(CLAUDE_TOOL)
    line = next(
        number
        for number, text in enumerate(lines_of(name), start=1)
        if json.loads(text).get("type") == "emit_inbound" and json.loads(text)["frame"].get("type") == "user"
    )
    outcome = replay_scenario_edit(CLAUDE_TOOL, line, ("frame", "message", "content"), 5)
    message = outcome.violation("claude.frame.shape")["message"]
    assert message == "user: $.frame.message.content: expected a string, an array or null, found an integer (5)"
    assert outcome.issue("claude.frame.shape").line == line


# -- every bundled transcript still reads cleanly -----------------------------------------------------

BUNDLED = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "transcripts").rglob("*.ndjson"))


@pytest.mark.parametrize("name", BUNDLED)
def test_no_bundled_transcript_breaks_a_shape_rule(name: str) -> None:
    issues = lint_transcript(parse_transcript((ROOT / name).read_bytes(), path=name))
    assert not [i for i in issues if i.rule.endswith((".shape", "request.shape"))], issues


def test_chat_azure_annotation_chunk_whose_choices_are_a_number_is_a_located_violation() -> None:
    name = "transcripts/openai/vercel-ai-fixtures/chat-compat-azure-content-filter-results.ndjson"
    assert json.loads(lines_of(name)[1])["frame"]["data"]["object"] == ""
    outcome = replay_edit(name, 2, ("frame", "data", "choices"), 7)
    message = outcome.violation("openai.chat.frame.shape")["message"]
    assert message == "$.frame.data.choices: expected an array or null, found an integer (7)"
    assert outcome.issue("openai.chat.frame.shape").line == 2


def test_a_later_recorded_request_of_the_wrong_shape_is_a_lint_finding_and_a_located_mismatch() -> None:
    name = "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"
    line = [n for n, text in enumerate(lines_of(name), start=1) if '"expect_outbound"' in text][1]
    outcome = replay_edit(name, line, ("frame", "body", "messages"), 5)
    issue = outcome.issue("http.request.shape")
    assert (issue.line, issue.message) == (line, "$.frame.body.messages: expected an array, found an integer (5)")
    failure = outcome.execution.driver.failure
    assert failure is not None and failure.line == line
    assert "$.body.messages" in str(failure)
