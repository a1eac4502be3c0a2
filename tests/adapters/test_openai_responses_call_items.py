"""Every output item type of the SDK's ``ResponseOutputItem`` union, read as the SDK reads it.

Each type gets a small stream (``response.created``, ``output_item.added``, ``output_item.done``,
``response.completed``) whose item has the shape of the SDK's model. The same bytes go to
``client.responses.stream(...).get_final_response()`` and through our adapter: the item types,
call ids and the call's input fields must be what the SDK's parsed items hold, and the carried
payload must be the SDK's item. Client-executed calls are ``tool_call`` items the loop runs; the
others are carried through. The answer to each client call is a member of the SDK's input item
union, and two-request recordings with a custom tool call, a shell call and a computer call replay
with every recorded request matched.
"""

from __future__ import annotations

import typing
from typing import Any

import orjson
import pytest
from openai.types.responses import response_input_item_param, response_output_item
from pydantic import TypeAdapter

from harness.adapters.base import AssistantMessage, ContentItem, ResponseCompleted, ToolResult
from harness.adapters.openai_responses import CLIENT_CALLS, OpenAIResponsesAdapter, tool_output_item
from harness.scenario.runner import execute, scenario_for_transcript
from harness.transcript import parse_transcript
from tests.adapters.test_openai_responses_differential import ours, run_endings, sdk_final_response, sse

SHELL_OUTPUT = [{"stdout": "a.py\n", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}]

#: One item per type of the SDK's union, shaped as its model; "calls" answered by the client first.
ITEMS: dict[str, dict[str, Any]] = {
    "function_call": {"type": "function_call", "id": "fc_1", "call_id": "call_fn", "name": "f",
                      "arguments": '{"a": 1}', "status": "completed"},
    "custom_tool_call": {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_custom", "name": "sql",
                         "input": "SELECT 1"},
    "computer_call": {"type": "computer_call", "id": "cu_1", "call_id": "call_cu", "status": "completed",
                      "action": {"type": "click", "button": "left", "x": 10, "y": 20}, "pending_safety_checks": []},
    "local_shell_call": {"type": "local_shell_call", "id": "lsh_1", "call_id": "call_ls", "status": "completed",
                         "action": {"type": "exec", "command": ["ls", "-la"], "env": {}}},
    "shell_call": {"type": "shell_call", "id": "sh_1", "call_id": "call_sh", "status": "completed",
                   "action": {"commands": ["ls"], "timeout_ms": 1000}, "environment": {"type": "local"}},
    "apply_patch_call": {"type": "apply_patch_call", "id": "ap_1", "call_id": "call_ap", "status": "completed",
                         "operation": {"type": "update_file", "path": "a.py", "diff": "@@ -1 +1 @@\n-a\n+b\n"}},
    "tool_search_call": {"type": "tool_search_call", "id": "ts_1", "call_id": "call_ts", "execution": "client",
                         "arguments": {"query": "weather"}, "status": "completed"},
    "mcp_approval_request": {"type": "mcp_approval_request", "id": "mcpr_1", "name": "roll", "server_label": "dice",
                             "arguments": '{"n": 2}'},
    # carried through: the provider ran them, their results are in the item or a result item
    "web_search_call": {"type": "web_search_call", "id": "ws_1", "status": "completed",
                        "action": {"type": "search", "query": "weather"}},
    "file_search_call": {"type": "file_search_call", "id": "fs_1", "queries": ["q"], "status": "completed",
                         "results": [{"file_id": "file_1", "text": "hit", "score": 0.5}]},
    "code_interpreter_call": {"type": "code_interpreter_call", "id": "ci_1", "code": "print(1)",
                              "container_id": "cntr_1", "outputs": [{"type": "logs", "logs": "1\n"}],
                              "status": "completed"},
    "image_generation_call": {"type": "image_generation_call", "id": "ig_1", "result": "aGk=", "status": "completed"},
    "mcp_call": {"type": "mcp_call", "id": "mcp_1", "name": "roll", "server_label": "dice", "arguments": '{"n": 2}',
                 "output": "4", "status": "completed"},
    "program": {"type": "program", "id": "prg_1", "call_id": "call_prg", "code": "await f()", "fingerprint": "fp"},
    "program_output": {"type": "program_output", "id": "prgo_1", "call_id": "call_prg", "result": "ok",
                       "status": "completed"},
    "function_call_output": {"type": "function_call_output", "id": "fco_1", "call_id": "call_fn", "output": "1",
                             "status": "completed"},
    "custom_tool_call_output": {"type": "custom_tool_call_output", "id": "ctco_1", "call_id": "call_custom",
                                "output": "1", "status": "completed"},
    "computer_call_output": {"type": "computer_call_output", "id": "cuo_1", "call_id": "call_cu",
                             "output": {"type": "computer_screenshot", "image_url": "data:image/png;base64,aGk="},
                             "status": "completed"},
    "local_shell_call_output": {"type": "local_shell_call_output", "id": "call_ls", "output": "ok",
                                "status": "completed"},
    "shell_call_output": {"type": "shell_call_output", "id": "sho_1", "call_id": "call_sh", "output": SHELL_OUTPUT,
                          "status": "completed"},
    "apply_patch_call_output": {"type": "apply_patch_call_output", "id": "apo_1", "call_id": "call_ap",
                                "status": "completed", "output": "patched"},
    "tool_search_output": {"type": "tool_search_output", "id": "tso_1", "call_id": "call_ts", "execution": "server",
                           "status": "completed", "tools": []},
    "mcp_approval_response": {"type": "mcp_approval_response", "id": "mcpa_1", "approval_request_id": "mcpr_1",
                              "approve": True},
    "mcp_list_tools": {"type": "mcp_list_tools", "id": "mcpl_1", "server_label": "dice",
                       "tools": [{"name": "roll", "input_schema": {"type": "object"}}]},
    "compaction": {"type": "compaction", "id": "cmp_1", "encrypted_content": "opaque"},
    "additional_tools": {"type": "additional_tools", "id": "at_1", "role": "developer", "tools": []},
    "message": {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": "hi", "annotations": []}]},
    "reasoning": {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "think"}]},
}  # fmt: skip

#: Calls that usually run at the client but ran at the provider this time (their payload says so).
AT_THE_PROVIDER: dict[str, dict[str, Any]] = {
    "shell_call in a container": {**ITEMS["shell_call"], "environment": {"type": "container_reference",
                                                                         "container_id": "cntr_1"}},
    "tool_search_call executed by the server": {**ITEMS["tool_search_call"], "execution": "server"},
}  # fmt: skip

SERVER_CALLS = {"web_search_call", "file_search_call", "code_interpreter_call", "image_generation_call", "mcp_call",
                "program"}  # fmt: skip
RESULT_ITEMS = {t for t in ITEMS if t.endswith("_output") or t == "mcp_approval_response"}


def union_types() -> set[str]:
    members = typing.get_args(typing.get_args(response_output_item.ResponseOutputItem)[0])
    return {typing.get_args(m.model_fields["type"].annotation)[0] for m in members}


def stream(*items: dict[str, Any]) -> bytes:
    def response(status: str, output: list[Any]) -> dict[str, Any]:
        return {"id": "resp_1", "object": "response", "created_at": 0, "model": "gpt-test", "status": status,
                "output": output, "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}}  # fmt: skip

    events: list[dict[str, Any]] = [{"type": "response.created", "response": response("in_progress", [])}]
    for index, item in enumerate(items):
        events.append({"type": "response.output_item.added", "output_index": index, "item": item})
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    events.append({"type": "response.completed", "response": response("completed", list(items))})
    return b"".join(sse({**e, "sequence_number": n}) for n, e in enumerate(events))


def final(body: bytes) -> AssistantMessage:
    (completed,) = [e for e in ours(body) if isinstance(e, ResponseCompleted)]
    return completed.message


def our_items(body: bytes) -> list[ContentItem]:
    return final(body).items


def logged_items(body: bytes) -> list[dict[str, Any]]:
    """The last snapshot of each turn item but the user's message, after a stream-only replay of
    ``body`` through the core."""
    header = {"type": "transcript_start", "provider": "openai", "protocol": "openai.responses", "version": "test",
              "scenario": "one-response"}  # fmt: skip
    lines = [header, *({"type": "emit_inbound", "frame": f} for f in sse_frames(body))]
    transcript = parse_transcript("\n".join(orjson.dumps(line).decode() for line in lines), path="one.ndjson")
    execution = execute(scenario_for_transcript(transcript), transcript=transcript)
    items: dict[str, dict[str, Any]] = {}
    for event in execution.events:
        if event.type == "turn-item.updated" and event.data["type"] != "user_message":
            items[event.data["turn_item_id"]] = event.data
    return list(items.values())


def sdk_item(body: bytes) -> Any:
    (item,) = sdk_final_response(body).output
    return item


def test_every_type_of_the_sdk_union_has_a_stream_here() -> None:
    assert set(ITEMS) == union_types()


@pytest.mark.parametrize("item_type", sorted(CLIENT_CALLS))
def test_client_calls_are_tool_calls_with_the_sdk_items_fields(item_type: str) -> None:
    body = stream(ITEMS[item_type])
    (item,) = our_items(body)
    theirs = sdk_item(body)
    assert (item.kind, item.block_type) == ("tool_call", theirs.type)
    wire = theirs.to_dict()
    assert item.native_id == (wire["id"] if item_type == "mcp_approval_request" else wire["call_id"])
    if item_type == "function_call":
        assert item.arguments == orjson.loads(wire["arguments"])
    elif item_type == "custom_tool_call":
        assert item.arguments == wire["input"]
    elif item_type == "tool_search_call":
        assert item.arguments == wire["arguments"]
    else:
        inputs = CLIENT_CALLS[item_type].inputs
        expected = {key: wire[key] for key in inputs if key in wire}
        if "arguments" in expected:
            expected["arguments"] = orjson.loads(expected["arguments"])
        assert item.arguments == expected
    assert item.name == (wire.get("name") if item_type in ("function_call", "custom_tool_call") else item.name)
    assert item.name  # the core looks tools up by name
    completed = final(body)
    assert OpenAIResponsesAdapter().next_step(completed) == "run_tools"


@pytest.mark.parametrize("item_type", sorted(set(ITEMS) - set(CLIENT_CALLS)))
def test_other_items_are_carried_through_with_their_output(item_type: str) -> None:
    body = stream(ITEMS[item_type])
    (item,) = our_items(body)
    theirs = sdk_item(body)
    assert item.block_type == theirs.type
    if item_type not in ("message", "reasoning"):
        # The carried payload is the item as the SDK holds it: results (outputs, result, output,
        # error, tools) included, so the next request sends it back whole.
        assert item.block == theirs.to_dict()
        # ... and the item's JSON view and the event log's view of it (its last turn-item.updated,
        # through the core) show it too.
        assert item.to_json()["block"] == theirs.to_dict()
        (logged,) = logged_items(body)
        assert (logged["status"], logged["data"]["block"]) == ("completed", theirs.to_dict())
    expected_kind = {
        "message": "text",
        "reasoning": "reasoning",
        **dict.fromkeys(SERVER_CALLS, "server_tool_call"),
        **dict.fromkeys(RESULT_ITEMS, "server_tool_result"),
    }.get(item_type, "other")
    assert item.kind == expected_kind
    if item.kind == "server_tool_call":
        assert item.native_id == theirs.id
    completed = final(body)
    assert OpenAIResponsesAdapter().next_step(completed) == "stop"


@pytest.mark.parametrize("case", sorted(AT_THE_PROVIDER))
def test_a_client_call_type_that_ran_at_the_provider_is_not_run_again(case: str) -> None:
    body = stream(AT_THE_PROVIDER[case])
    (item,) = our_items(body)
    assert item.block == sdk_item(body).to_dict()
    assert item.kind == "server_tool_call"
    completed = final(body)
    assert OpenAIResponsesAdapter().next_step(completed) == "stop"


# -- answers ------------------------------------------------------------------------------------

INPUT_ITEM: TypeAdapter[Any] = TypeAdapter(response_input_item_param.ResponseInputItemParam)

#: call type -> a tool output a scenario may declare for it
DECLARED: dict[str, Any] = {
    "function_call": {"temp": 21},
    "custom_tool_call": "3 rows",
    "computer_call": {"type": "computer_screenshot", "image_url": "data:image/png;base64,aGk="},
    "local_shell_call": "total 0",
    "shell_call": "a.py",
    "apply_patch_call": "patched",
    "tool_search_call": [{"type": "function", "name": "weather", "parameters": {}, "strict": True}],
    "mcp_approval_request": True,
}


def call_of(item_type: str) -> ContentItem:
    (item,) = our_items(stream(ITEMS[item_type]))
    return item


@pytest.mark.parametrize("status", ["succeeded", "failed"])
@pytest.mark.parametrize("item_type", sorted(CLIENT_CALLS))
def test_each_answer_is_a_member_of_the_sdk_input_union(item_type: str, status: str) -> None:
    call = call_of(item_type)
    result = ToolResult(call.native_id, call.name or "", status, output=DECLARED[item_type], error="boom")  # type: ignore[arg-type]
    answer = tool_output_item(item_type, result)
    assert answer["type"] == CLIENT_CALLS[item_type].output_type
    assert answer[CLIENT_CALLS[item_type].output_key] == call.native_id
    INPUT_ITEM.validate_python(answer)  # raises when a required field is missing or mistyped


def recorded_answer(item_type: str) -> dict[str, Any]:
    """What a client sends back for the call of ``ITEMS[item_type]``."""
    return {
        "custom_tool_call": {"type": "custom_tool_call_output", "call_id": "call_custom", "output": "3 rows"},
        "shell_call": {"type": "shell_call_output", "call_id": "call_sh", "output": SHELL_OUTPUT,
                       "max_output_length": 4096},
        "computer_call": {"type": "computer_call_output", "call_id": "call_cu", "acknowledged_safety_checks": [],
                          "output": {"type": "computer_screenshot", "image_url": "data:image/png;base64,aGk="}},
        "local_shell_call": {"type": "local_shell_call_output", "call_id": "call_ls", "output": "total 0"},
        "apply_patch_call": {"type": "apply_patch_call_output", "call_id": "call_ap", "status": "failed",
                             "output": "hunk 1 failed"},
        "tool_search_call": {"type": "tool_search_output", "call_id": "call_ts", "execution": "client",
                             "tools": DECLARED["tool_search_call"]},
        "mcp_approval_request": {"type": "mcp_approval_response", "approval_request_id": "mcpr_1", "approve": False,
                                 "reason": "not now"},
    }[item_type]  # fmt: skip


@pytest.mark.parametrize("item_type", sorted(set(CLIENT_CALLS) - {"function_call"}))
def test_the_recorded_answer_is_found_and_sent_back_as_it_was(item_type: str) -> None:
    adapter = OpenAIResponsesAdapter()
    call = call_of(item_type)
    answer = recorded_answer(item_type)
    frame = {"kind": "http.request", "body": {"input": [{"role": "user", "content": "hi"}, answer]}}
    result = adapter.recorded_tool_result(frame, call)
    assert result is not None and result.status == "succeeded"
    assert tool_output_item(item_type, result) == answer


def test_an_answer_for_another_call_is_not_taken() -> None:
    call = call_of("shell_call")
    other = {**recorded_answer("shell_call"), "call_id": "call_other"}
    frame = {"kind": "http.request", "body": {"input": [other]}}
    assert OpenAIResponsesAdapter().recorded_tool_result(frame, call) is None


# -- two-request recordings ------------------------------------------------------------------------

PARAMS = {"model": "gpt-test", "stream": True}
USER = {"role": "user", "content": "Do it."}
ECHOED = {  # the call item as the client sends it back in the next request
    "custom_tool_call": {"type": "custom_tool_call", "call_id": "call_custom", "name": "sql", "input": "SELECT 1",
                         "id": "ctc_1"},
    "shell_call": ITEMS["shell_call"],
    "computer_call": ITEMS["computer_call"],
}  # fmt: skip


def request(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": "http.request", "method": "POST", "path": "/v1/responses", "query": {}, "headers": {},
            "body": {**PARAMS, "input": items}}  # fmt: skip


def sse_frames(body: bytes) -> list[dict[str, Any]]:
    frames = []
    for block in body.split(b"\n\n"):
        if block.strip():
            data = orjson.loads(block.partition(b"\ndata: ")[2])
            frames.append({"kind": "sse", "event": data["type"], "data": data})
    return frames


def two_requests(item_type: str) -> str:
    text = {**ITEMS["message"], "content": [{"type": "output_text", "text": "Done.", "annotations": []}]}
    lines: list[dict[str, Any]] = [
        {"type": "transcript_start", "provider": "openai", "protocol": "openai.responses", "version": "test",
         "scenario": f"two-requests-{item_type}"},
        {"type": "expect_outbound", "frame": request([USER])},
        {"type": "emit_inbound", "frame": {"kind": "http.response", "status": 200, "headers": {}}},
        *({"type": "emit_inbound", "frame": f} for f in sse_frames(stream(ITEMS[item_type]))),
        {"type": "expect_outbound", "frame": request([USER, ECHOED[item_type], recorded_answer(item_type)])},
        {"type": "emit_inbound", "frame": {"kind": "http.response", "status": 200, "headers": {}}},
        *({"type": "emit_inbound", "frame": f} for f in sse_frames(stream(text))),
    ]  # fmt: skip
    return "\n".join(orjson.dumps(line).decode() for line in lines)


@pytest.mark.parametrize("item_type", sorted(ECHOED))
def test_two_request_replay_answers_the_call_with_the_recorded_output(item_type: str) -> None:
    transcript = parse_transcript(two_requests(item_type), path=f"{item_type}.ndjson")
    execution = execute(scenario_for_transcript(transcript), transcript=transcript)
    events = execution.events
    assert (events[-1].type, events[-1].data.get("status")) == ("run.updated", "completed"), run_endings(execution)
    assert execution.driver.failure is None
    assert execution.driver.remaining == 0
    (requested,) = [e.data for e in events if e.type == "tool_call.requested"]
    assert (requested["native_id"], requested["executor"]) == (ITEMS[item_type]["call_id"], "harness")
    (completed,) = [e.data for e in events if e.type == "tool_call.completed"]
    assert completed["outcome"]["status"] == "succeeded"
    assert [status for _, _, status in execution.responses] == ["completed", "completed"]
    assert execution.responses[-1][1].text == "Done."
