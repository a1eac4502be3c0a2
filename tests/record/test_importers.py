"""`harness import`: source formats, protocol rules, entries produced, redaction, overwrite policy."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from harness.errors import ImportSourceError, UnknownProtocolError, UsageError
from harness.record import convert_source, import_source
from harness.transcript import read_transcript

SSE = (
    "event: message_start\n"
    'data: {"type":"message_start","message":{"id":"msg_1","content":[]}}   \n'
    "\n"
    "event: content_block_delta\n"
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n'
    "\n"
    "event: message_stop\n"
    'data: {"type":"message_stop"}\n'
    "\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def cassette(
    *,
    uri: str = "https://api.anthropic.com/v1/messages?beta=true",
    request_headers: dict[str, list[str]] | None = None,
    request: dict[str, object] | None = None,
    body: str = SSE,
    content_type: str = "text/event-stream; charset=utf-8",
    status: int = 200,
) -> str:
    """A one-interaction cassette in pydantic-ai's layout (``parsed_body``)."""
    interaction = {
        "request": {
            "headers": request_headers or {"content-type": ["application/json"]},
            "method": "POST",
            "parsed_body": request if request is not None else {"model": "claude-x", "stream": True},
            "uri": uri,
        },
        "response": {
            "body": {"string": body},
            "headers": {"content-type": [content_type], "request-id": ["req_1"], "set-cookie": ["a=b"]},
            "status": {"code": status, "message": "OK"},
        },
    }
    return yaml.safe_dump({"interactions": [interaction], "version": 1}, sort_keys=True)


def frames(entries):
    return [entry.frame for entry in entries]


# --- one test per source format ---------------------------------------------------------------


def test_vcr_cassette_becomes_request_response_head_and_one_entry_per_event(tmp_path):
    source = write(tmp_path / "chat.yaml", cassette(request_headers={"anthropic-version": ["2023-06-01"]}))
    header, entries, conversion = convert_source(source)
    assert conversion.source_format == "vcr-cassette"
    assert conversion.exchanges == 1
    assert [e.type for e in entries] == ["expect_outbound"] + ["emit_inbound"] * 4
    assert [e.label for e in entries] == [
        "POST /v1/messages",
        "http.response",
        "message_start",
        "content_block_delta",
        "message_stop",
    ]
    assert entries[0].frame == {
        "kind": "http.request",
        "method": "POST",
        "path": "/v1/messages",
        "query": {"beta": "true"},
        "headers": {"anthropic-version": "2023-06-01"},
        "body": {"model": "claude-x", "stream": True},
    }
    assert entries[1].frame == {
        "kind": "http.response",
        "status": 200,
        "headers": {"content-type": "text/event-stream; charset=utf-8", "request-id": "req_1"},
    }
    assert entries[2].frame == {
        "kind": "sse",
        "event": "message_start",
        "data": {"type": "message_start", "message": {"id": "msg_1", "content": []}},
    }
    assert header.version == "2023-06-01"
    assert header.metadata == {
        "source": "chat.yaml",
        "format": "vcr-cassette",
        "importer": "harness import",
        "exchanges": 1,
    }


def test_standard_vcrpy_cassette_with_body_loads_through_vcrpy(tmp_path):
    text = textwrap.dedent(
        """\
        interactions:
        - request:
            body: '{"model": "claude-x", "max_tokens": 5}'
            headers:
              Content-Type:
              - application/json
            method: POST
            uri: https://api.anthropic.com/v1/messages
          response:
            body:
              string: '{"type": "message", "content": []}'
            headers:
              Content-Type:
              - application/json
            status:
              code: 200
              message: OK
        version: 1
        """
    )
    _, entries, _ = convert_source(write(tmp_path / "plain.yaml", text))
    assert entries[0].frame["body"] == {"model": "claude-x", "max_tokens": 5}
    assert entries[0].frame["headers"] == {"content-type": "application/json"}
    assert entries[2].label == "http.body"
    assert entries[2].frame == {"kind": "http.body", "body": {"type": "message", "content": []}}


def test_raw_sse_file_becomes_one_entry_per_event(tmp_path):
    header, entries, conversion = convert_source(write(tmp_path / "stream.sse.txt", SSE), protocol="anthropic.messages")
    assert conversion.source_format == "sse"
    assert [e.label for e in entries] == ["message_start", "content_block_delta", "message_stop"]
    assert all(e.type == "emit_inbound" for e in entries)
    assert header.scenario == "stream"
    assert header.version == "unknown"
    assert header.metadata["format"] == "sse"


def test_raw_sse_with_request_file_starts_with_the_request(tmp_path):
    source = write(tmp_path / "stream.sse.txt", SSE)
    request = write(tmp_path / "request.json", '{"model": "claude-x", "stream": true}')
    _, entries, _ = convert_source(source, protocol="anthropic.messages", request=request)
    assert entries[0].type == "expect_outbound"
    assert entries[0].label == "POST /v1/messages"
    assert entries[0].frame == {
        "kind": "http.request",
        "method": "POST",
        "path": "/v1/messages",
        "query": {},
        "headers": {},
        "body": {"model": "claude-x", "stream": True},
    }
    assert len(entries) == 4


def test_payload_per_line_source_infers_event_names_from_type(tmp_path):
    text = '{"type":"message_start","message":{}}\n\n{"type":"message_stop"}\n[1, 2]\n'
    header, entries, conversion = convert_source(write(tmp_path / "chunks.ndjson", text), protocol="anthropic.messages")
    assert conversion.source_format == "sse-payload-ndjson"
    assert frames(entries) == [
        {"kind": "sse", "event": "message_start", "data": {"type": "message_start", "message": {}}},
        {"kind": "sse", "event": "message_stop", "data": {"type": "message_stop"}},
        {"kind": "sse", "event": None, "data": [1, 2]},
    ]
    assert header.metadata["event_names"] == "inferred from data.type"


def test_non_streamed_json_body_becomes_one_http_body_entry(tmp_path):
    body = '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    text = cassette(body=body, content_type="application/json", status=529)
    _, entries, _ = convert_source(write(tmp_path / "overloaded.yaml", text))
    assert entries[1].frame["status"] == 529
    assert entries[2].label == "http.body"
    assert entries[2].frame["body"]["error"]["type"] == "overloaded_error"
    assert len(entries) == 3


# --- protocol rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    ["https://api.anthropic.com/v1/messages?beta=true", "https://gateway.example.com/anthropic/v1/messages"],
    ids=["anthropic-host", "messages-path-on-other-host"],
)
def test_cassette_protocol_is_detected_from_the_request_url(tmp_path, uri):
    header, _, conversion = convert_source(write(tmp_path / "c.yaml", cassette(uri=uri)))
    assert conversion.protocol == "anthropic.messages"
    assert header.provider == "anthropic"


def test_cassette_with_unrecognised_url_asks_for_protocol(tmp_path):
    source = write(tmp_path / "c.yaml", cassette(uri="https://llm.example.com/v2/generate"))
    with pytest.raises(ImportSourceError, match=r"c\.yaml: cannot tell the protocol from the recorded URLs"):
        convert_source(source)


UNNAMED_SSE = 'event: ping\ndata: {"type": "ping"}\n\ndata: {"text": "hi"}\n\n'


def test_bare_sse_naming_no_protocol_lists_only_the_importable_protocols(tmp_path):
    with pytest.raises(ImportSourceError) as caught:
        convert_source(write(tmp_path / "stream.sse.txt", UNNAMED_SSE))
    assert str(caught.value) == (
        "stream.sse.txt: cannot tell the protocol of a bare SSE stream: no event is one only a known "
        "protocol sends; pass --protocol (importable from SSE: anthropic.messages, openai.chat, openai.responses)"
    )
    assert not {"codex.app-server", "claude-agent-sdk.query"} & set(str(caught.value).split())


def test_request_file_does_not_identify_the_protocol(tmp_path):
    request = write(tmp_path / "request.json", "{}")
    with pytest.raises(ImportSourceError, match="cannot tell the protocol of a bare SSE stream"):
        convert_source(write(tmp_path / "stream.sse.txt", UNNAMED_SSE), request=request)


def test_unknown_protocol_is_an_unknown_protocol_error(tmp_path):
    with pytest.raises(UnknownProtocolError, match=r"unknown protocol 'anthropic\.nope'; known protocols:"):
        convert_source(write(tmp_path / "stream.sse.txt", SSE), protocol="anthropic.nope")


def test_stdio_protocol_cannot_be_imported(tmp_path):
    with pytest.raises(ImportSourceError, match=r"only HTTP protocols can be imported"):
        convert_source(write(tmp_path / "stream.sse.txt", SSE), protocol="codex.app-server")


def test_protocol_contradicting_the_cassette_url_is_refused(tmp_path):
    with pytest.raises(ImportSourceError, match=r"--protocol openai\.chat contradicts the recorded URLs"):
        convert_source(write(tmp_path / "c.yaml", cassette()), protocol="openai.chat")


# --- source detection -------------------------------------------------------------------------


def test_unrecognised_source_is_an_import_source_error(tmp_path):
    with pytest.raises(ImportSourceError, match=r"notes\.txt: unrecognised import source.*'hello world'"):
        convert_source(write(tmp_path / "notes.txt", "hello world\n"), protocol="anthropic.messages")


def test_empty_source_is_an_import_source_error(tmp_path):
    with pytest.raises(ImportSourceError, match=r"empty\.sse\.txt: the source is empty"):
        convert_source(write(tmp_path / "empty.sse.txt", "\n\n"), protocol="anthropic.messages")


def test_missing_source_file_is_an_import_source_error(tmp_path):
    with pytest.raises(ImportSourceError, match="no such import source"):
        convert_source(tmp_path / "absent.sse.txt", protocol="anthropic.messages")


def test_yaml_without_interactions_is_not_a_cassette(tmp_path):
    with pytest.raises(ImportSourceError, match=r"x\.yaml: expected a vcrpy cassette"):
        convert_source(write(tmp_path / "x.yaml", "name: not a cassette\n"))


# --- SSE details ------------------------------------------------------------------------------


def test_multi_line_data_is_joined_before_parsing(tmp_path):
    text = 'event: message_stop\ndata: {"type":\ndata: "message_stop"}\n\n'
    _, entries, _ = convert_source(write(tmp_path / "s.sse.txt", text), protocol="anthropic.messages")
    assert frames(entries) == [{"kind": "sse", "event": "message_stop", "data": {"type": "message_stop"}}]


def test_comment_lines_are_skipped_and_reported(tmp_path):
    text = ": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n" + SSE
    _, entries, conversion = convert_source(write(tmp_path / "s.sse.txt", text), protocol="anthropic.messages")
    assert len(entries) == 3
    assert "s.sse.txt: skipped 2 SSE comment line(s)" in conversion.warnings


def test_done_becomes_an_explicit_record(tmp_path):
    text = 'data: {"type":"message_stop"}\n\ndata: [DONE]\n\n'
    _, entries, _ = convert_source(write(tmp_path / "s.sse.txt", text), protocol="anthropic.messages")
    assert entries[-1].label == "[DONE]"
    assert entries[-1].frame == {"kind": "sse.done"}
    assert entries[0].frame["event"] is None


def test_done_line_in_payload_source_becomes_an_explicit_record(tmp_path):
    text = '{"type":"message_stop"}\n[DONE]\n'
    _, entries, _ = convert_source(write(tmp_path / "c.ndjson", text), protocol="anthropic.messages")
    assert entries[-1].frame == {"kind": "sse.done"}


def test_malformed_data_line_names_file_and_line(tmp_path):
    text = SSE + "event: content_block_delta\ndata: {not json\n\n"
    source = write(tmp_path / "broken.sse.txt", text)
    with pytest.raises(ImportSourceError) as caught:
        convert_source(source, protocol="anthropic.messages")
    message = str(caught.value)
    assert message.startswith("broken.sse.txt:11: expected JSON or [DONE]")
    assert "'content_block_delta'" in message
    assert "'{not json'" in message


def test_malformed_data_in_cassette_names_interaction_and_body_line(tmp_path):
    body = 'event: message_start\ndata: {"type":"message_start"}\n\nevent: ping\ndata: oops\n\n'
    with pytest.raises(ImportSourceError) as caught:
        convert_source(write(tmp_path / "c.yaml", cassette(body=body)))
    assert str(caught.value).startswith("c.yaml: interactions[0] response body line 5: expected JSON")
    assert "'oops'" in str(caught.value)


def test_malformed_payload_line_names_file_and_line(tmp_path):
    text = '{"type":"ping"}\n\n{"type":\n'
    with pytest.raises(ImportSourceError, match=r"^c\.ndjson:3: expected one JSON data payload"):
        convert_source(write(tmp_path / "c.ndjson", text), protocol="anthropic.messages")


def test_trailing_space_padding_inside_data_parses(tmp_path):
    text = 'event: content_block_stop\ndata: {"type":"content_block_stop","index":0        }\n\n'
    _, entries, _ = convert_source(write(tmp_path / "s.sse.txt", text), protocol="anthropic.messages")
    assert entries[0].frame["data"] == {"type": "content_block_stop", "index": 0}


# --- redaction --------------------------------------------------------------------------------


def test_api_key_inside_a_request_body_is_redacted_and_counted(tmp_path):
    request = {"model": "claude-x", "system": "use key sk-ant-api03-abcdefghijklmnop please"}
    header, entries, conversion = convert_source(write(tmp_path / "c.yaml", cassette(request=request)))
    assert entries[0].frame["body"]["system"] == "use key <redacted:anthropic-key> please"
    assert conversion.redactions == 1
    assert header.metadata["redactions"] == 1


def test_api_key_inside_sse_data_is_redacted(tmp_path):
    text = 'data: {"type":"text","text":"sk-proj-abcdefghijklmnopqrstuvwxyz"}\n\n'
    _, entries, conversion = convert_source(write(tmp_path / "s.sse.txt", text), protocol="anthropic.messages")
    assert entries[0].frame["data"]["text"] == "<redacted:openai-key>"
    assert conversion.redactions == 1


def test_credential_headers_never_reach_the_transcript(tmp_path):
    headers = {
        "authorization": ["Bearer sk-ant-api03-abcdefghijklmnop"],
        "x-api-key": ["sk-ant-api03-abcdefghijklmnop"],
        "cookie": ["session=abc"],
        "anthropic-beta": ["tools-2024-04-04"],
    }
    out = tmp_path / "out.ndjson"
    import_source(write(tmp_path / "c.yaml", cassette(request_headers=headers)), out)
    written = out.read_text(encoding="utf-8")
    assert "sk-ant" not in written
    assert "session=abc" not in written
    assert "a=b" not in written  # the response's set-cookie
    assert read_transcript(out).entries[0].frame["headers"] == {"anthropic-beta": "tools-2024-04-04"}


# --- writing ----------------------------------------------------------------------------------


def test_import_writes_a_loadable_transcript_and_reports_counts(tmp_path):
    out = tmp_path / "nested" / "basic.ndjson"
    result = import_source(write(tmp_path / "c.yaml", cassette()), out)
    assert result.out == out
    assert (result.protocol, result.source_format, result.exchanges, result.entries) == (
        "anthropic.messages",
        "vcr-cassette",
        1,
        5,
    )
    transcript = read_transcript(out)
    assert transcript.header.scenario == "basic"
    assert len(transcript.entries) == 5


def test_existing_output_is_not_overwritten_without_force(tmp_path):
    out = write(tmp_path / "out.ndjson", "keep me\n")
    with pytest.raises(UsageError, match="already exists; pass --force"):
        import_source(write(tmp_path / "c.yaml", cassette()), out)
    assert out.read_text(encoding="utf-8") == "keep me\n"


def test_existing_output_is_overwritten_with_force(tmp_path):
    out = write(tmp_path / "out.ndjson", "old\n")
    import_source(write(tmp_path / "c.yaml", cassette()), out, force=True)
    assert read_transcript(out).header.protocol == "anthropic.messages"


def test_same_input_gives_byte_identical_output(tmp_path):
    source = write(tmp_path / "c.yaml", cassette())
    first = import_source(source, tmp_path / "a" / "out.ndjson").out
    second = import_source(source, tmp_path / "b" / "out.ndjson").out
    assert first.read_bytes() == second.read_bytes()


def test_metadata_names_the_source_file_never_its_directory(tmp_path):
    source = write(tmp_path / "stream.sse.txt", SSE)
    header, _, _ = convert_source(source, protocol="anthropic.messages")
    assert header.metadata["source"] == "stream.sse.txt"
    assert str(tmp_path) not in header.model_dump_json()
