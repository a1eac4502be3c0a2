"""`harness import` on the response-body layouts, extra interactions and compression real cassettes use."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import yaml
from anthropic.types import Message
from openai.types.chat import ChatCompletion

from harness import replay_summary, replay_transcript
from harness.cli import EXIT_OK, EXIT_USAGE, main
from harness.errors import ImportSourceError
from harness.record import convert_source, import_source, source_stem
from harness.transcript import read_transcript

ROOT = Path(__file__).resolve().parents[2]
FORMS = ROOT / "fixtures" / "import-forms"
IMAGE_THEN_MESSAGE = FORMS / "vcrpy_image_fetch_then_message.yaml"
TOKEN_THEN_CHAT = FORMS / "pydantic_ai_token_then_chat_parsed_body.yaml"
LEGACY_HTTPX = FORMS / "vcrpy4_httpx_status_code_content.yaml"
CORPUS_CASSETTE = ROOT / "fixtures/corpus/pydantic-ai-cassettes/anthropic__plain_text_stream.yaml"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def only_response(path: Path) -> dict:
    (message,) = replay_summary(replay_transcript(path), events=False)["messages"]
    return message


def cassette_text(response: dict, *, uri: str = "https://api.anthropic.com/v1/messages") -> str:
    request = {"body": '{"model": "claude-x", "max_tokens": 5}', "headers": {}, "method": "POST", "uri": uri}
    return yaml.safe_dump({"interactions": [{"request": request, "response": response}], "version": 1})


MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [{"type": "text", "text": "Hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 1},
}
OK = {"code": 200, "message": "OK"}
JSON_HEADERS = {"Content-Type": ["application/json"]}


# --- non-streamed response bodies ---------------------------------------------------------------


def test_pydantic_ai_parsed_body_response_is_imported_as_the_http_body(tmp_path):
    out = tmp_path / "chat.ndjson"
    result = import_source(TOKEN_THEN_CHAT, out)
    entries = read_transcript(out).entries
    assert [e.label for e in entries] == [
        "POST /openai/deployments/gpt-4o/chat/completions",
        "http.response",
        "http.body",
    ]
    recorded = yaml.safe_load(TOKEN_THEN_CHAT.read_text())["interactions"][1]["response"]["parsed_body"]
    assert entries[2].frame == {"kind": "http.body", "body": recorded}
    assert result.exchanges == 1


def test_parsed_body_response_replays_as_the_openai_sdk_reads_it(tmp_path):
    out = tmp_path / "chat.ndjson"
    import_source(TOKEN_THEN_CHAT, out)
    recorded = yaml.safe_load(TOKEN_THEN_CHAT.read_text())["interactions"][1]["response"]["parsed_body"]
    completion = ChatCompletion.model_validate(recorded)
    replayed = only_response(out)
    assert replayed["text"] == completion.choices[0].message.content
    assert replayed["stop_reason"] == completion.choices[0].finish_reason
    assert replayed["usage"] == {
        "input_tokens": completion.usage.prompt_tokens,
        "output_tokens": completion.usage.completion_tokens,
    }


def test_vcrpy_body_string_response_replays_as_the_anthropic_sdk_reads_it(tmp_path):
    out = tmp_path / "message.ndjson"
    import_source(IMAGE_THEN_MESSAGE, out)
    recorded = yaml.safe_load(IMAGE_THEN_MESSAGE.read_text())["interactions"][1]["response"]["body"]["string"]
    message = Message.model_validate_json(recorded)
    replayed = only_response(out)
    assert replayed["text"] == "".join(block.text for block in message.content if block.type == "text")
    assert replayed["stop_reason"] == message.stop_reason
    assert replayed["usage"] == {
        "input_tokens": message.usage.input_tokens,
        "output_tokens": message.usage.output_tokens,
    }


def test_vcrpy4_httpx_layout_with_status_code_and_content_is_imported(tmp_path):
    _, entries, _ = convert_source(LEGACY_HTTPX)
    assert entries[1].frame == {"kind": "http.response", "status": 200, "headers": {"content-type": "application/json"}}
    assert entries[2].frame["body"]["choices"][0]["message"]["content"] == "The capital of France is Paris."


def test_binary_body_gzip_compressed_without_a_content_encoding_header_is_decompressed(tmp_path):
    body = gzip.compress(json.dumps(MESSAGE).encode(), mtime=0)
    text = cassette_text({"body": {"string": body}, "headers": JSON_HEADERS, "status": OK})
    _, entries, _ = convert_source(_write(tmp_path / "c.yaml", text))
    assert entries[2].frame == {"kind": "http.body", "body": MESSAGE}


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (
            {"headers": JSON_HEADERS, "status": OK},
            r"c\.yaml: interactions\[0\]\.response: expected the response body as `body: \{string: \.\.\.\}` "
            r"\(vcrpy\) or `parsed_body` \(pydantic-ai\), found neither",
        ),
        (
            {"body": {"encoding": "utf-8"}, "headers": JSON_HEADERS, "status": OK},
            r"c\.yaml: interactions\[0\]\.response\.body: expected a `string` key holding the body, found encoding",
        ),
        (
            {"body": {"string": "{}"}, "parsed_body": MESSAGE, "headers": JSON_HEADERS, "status": OK},
            r"c\.yaml: interactions\[0\]\.response: expected either `body` or `parsed_body`, found both",
        ),
        (
            {"body": {"string": [1, 2]}, "headers": JSON_HEADERS, "status": OK},
            r"c\.yaml: interactions\[0\]\.response\.body\.string: expected text or bytes, found list",
        ),
        (
            {"body": {"string": b"\xff\xfe{}"}, "headers": JSON_HEADERS, "status": OK},
            r"c\.yaml: interactions\[0\]\.response\.body\.string: expected UTF-8 text, found a byte that is not "
            r"UTF-8 at offset 0",
        ),
        (
            {"body": {"string": b"\x1f\x8b\x08\x00broken"}, "headers": JSON_HEADERS, "status": OK},
            r"c\.yaml: interactions\[0\]\.response\.body\.string: the compressed body is corrupt or truncated",
        ),
        (
            {"status_code": 200, "headers": JSON_HEADERS, "content": {"not": "text"}},
            r"c\.yaml: interactions\[0\]\.response\.content: expected text or bytes, found dict",
        ),
    ],
    ids=[
        "no-body-at-all",
        "body-mapping-without-string",
        "body-and-parsed_body",
        "body-string-a-list",
        "bytes-not-utf8",
        "corrupt-gzip-bytes",
        "legacy-content-not-text",
    ],
)
def test_a_response_body_that_cannot_be_imported_is_a_located_error(tmp_path, response, message):
    source = _write(tmp_path / "c.yaml", cassette_text(response))
    with pytest.raises(ImportSourceError, match=f"^{message}"):
        convert_source(source)


def test_the_cli_refuses_a_cassette_whose_response_has_no_body_instead_of_dropping_it(tmp_path, capsys):
    source = _write(tmp_path / "c.yaml", cassette_text({"headers": JSON_HEADERS, "status": OK}))
    assert main(["import", str(source), "-o", str(tmp_path / "out.ndjson")]) == EXIT_USAGE
    assert "found neither" in capsys.readouterr().err
    assert not (tmp_path / "out.ndjson").exists()


# --- interactions that are not model calls ------------------------------------------------------


def test_an_image_download_is_left_out_of_the_exchanges_and_noted(tmp_path):
    out = tmp_path / "message.ndjson"
    result = import_source(IMAGE_THEN_MESSAGE, out)
    transcript = read_transcript(out)
    assert [e.label for e in transcript.entries] == ["POST /v1/messages", "http.response", "http.body"]
    assert result.exchanges == 1
    assert transcript.header.metadata["exchanges"] == 1
    assert transcript.header.metadata["skipped_interactions"] == [
        {
            "interaction": 0,
            "request": "GET https://upload.wikimedia.org/wikipedia/commons/c/ca/1x1.png",
            "reason": "its URL is not an endpoint of anthropic.messages",
        }
    ]


def test_the_cli_prints_a_note_for_each_interaction_left_out(tmp_path, capsys):
    out = tmp_path / "chat.ndjson"
    assert main(["import", str(TOKEN_THEN_CHAT), "-o", str(out)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert (
        "note: pydantic_ai_token_then_chat_parsed_body.yaml: interactions[0] POST "
        "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token left out: "
        "its URL is not an endpoint of openai.chat"
    ) in printed
    assert "1 exchange(s)" in printed
    assert "client_secret" not in out.read_text()


def test_with_protocol_given_and_no_telling_url_a_get_without_body_is_left_out(tmp_path):
    image = {"body": {"string": b"\x89PNG\r\n\x1a\n"}, "headers": {"Content-Type": ["image/png"]}, "status": OK}
    call = {"body": {"string": json.dumps(MESSAGE)}, "headers": JSON_HEADERS, "status": OK}
    data = {
        "interactions": [
            {
                "request": {"body": None, "headers": {}, "method": "GET", "uri": "https://cdn.example.com/a.png"},
                "response": image,
            },
            {
                "request": {
                    "body": '{"model": "claude-x"}',
                    "headers": {},
                    "method": "POST",
                    "uri": "https://llm.example.com/v2/generate",
                },
                "response": call,
            },
        ],
        "version": 1,
    }
    source = _write(tmp_path / "c.yaml", yaml.safe_dump(data))
    _, entries, conversion = convert_source(source, protocol="anthropic.messages")
    assert [e.label for e in entries] == ["POST /v2/generate", "http.response", "http.body"]
    assert [(s.index, s.request) for s in conversion.skipped] == [(0, "GET https://cdn.example.com/a.png")]


def test_a_cassette_with_no_model_call_at_all_is_an_error(tmp_path):
    image = {"body": {"string": b"\x89PNG"}, "headers": {}, "status": OK}
    data = {
        "interactions": [
            {
                "request": {"body": None, "headers": {}, "method": "GET", "uri": "https://cdn.example.com/a.png"},
                "response": image,
            }
        ]
    }
    source = _write(tmp_path / "c.yaml", yaml.safe_dump(data))
    with pytest.raises(
        ImportSourceError, match=r"c\.yaml: none of the 1 interaction\(s\) is a call to the anthropic\.messages API"
    ):
        convert_source(source, protocol="anthropic.messages")


def test_corpus_cassettes_lose_no_interaction():
    # every interaction of the bundled real cassettes is a model call
    for path in sorted((ROOT / "fixtures/corpus/pydantic-ai-cassettes").glob("*.yaml")):
        header, _, conversion = convert_source(path)
        assert conversion.skipped == (), path.name
        assert header.metadata["exchanges"] == len(yaml.safe_load(path.read_text())["interactions"]), path.name


# --- gzip-compressed cassettes -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cassette.yaml.gz", "cassette.yaml"], ids=["gz-suffix", "no-gz-suffix"])
def test_gzip_compressed_cassette_imports_like_the_plain_one(tmp_path, name):
    source = tmp_path / name
    source.write_bytes(gzip.compress(CORPUS_CASSETTE.read_bytes(), mtime=0))
    header, entries, _ = convert_source(source)
    _, plain_entries, _ = convert_source(CORPUS_CASSETTE)
    assert entries == plain_entries
    assert header.metadata["compression"] == "gzip"
    assert header.metadata["source"] == name
    assert header.scenario == "cassette"


def test_gzip_compressed_json_cassette_imports(tmp_path):
    data = yaml.safe_load(CORPUS_CASSETTE.read_text())
    source = tmp_path / "cassette.json.gz"
    source.write_bytes(gzip.compress(json.dumps(data).encode(), mtime=0))
    _, entries, conversion = convert_source(source)
    assert conversion.source_format == "vcr-cassette"
    assert entries == convert_source(CORPUS_CASSETTE)[1]


def test_the_cli_imports_a_gzipped_cassette(tmp_path, capsys):
    source = tmp_path / "plain.yaml.gz"
    source.write_bytes(gzip.compress(CORPUS_CASSETTE.read_bytes(), mtime=0))
    out = tmp_path / f"{source_stem(source)}.ndjson"
    assert main(["import", str(source), "-o", str(out)]) == EXIT_OK
    assert out.name == "plain.ndjson"
    assert read_transcript(out).header.metadata["compression"] == "gzip"


def test_truncated_gzip_is_a_located_error(tmp_path):
    source = tmp_path / "c.yaml.gz"
    source.write_bytes(gzip.compress(CORPUS_CASSETTE.read_bytes(), mtime=0)[:200])
    with pytest.raises(ImportSourceError, match=r"^c\.yaml\.gz: expected gzip data, found it corrupt or truncated"):
        convert_source(source)


def test_source_stem_strips_gz_before_the_source_ending():
    assert [source_stem(n) for n in ("a.yaml.gz", "b.json.gz", "c.sse.txt.gz", "d.gz")] == ["a", "b", "c", "d"]


# --- Claude on Google Vertex AI ------------------------------------------------------------------

VERTEX = (
    "https://us-east5-aiplatform.googleapis.com/v1/projects/demo/locations/us-east5"
    "/publishers/anthropic/models/claude-sonnet-4@20250514:{method}"
)


@pytest.mark.parametrize("method", ["streamRawPredict", "rawPredict"])
def test_a_vertex_ai_claude_url_names_the_anthropic_protocol(method):
    from harness.transcript.protocols import protocol_from_url

    assert protocol_from_url(VERTEX.format(method=method)) == "anthropic.messages"
    assert protocol_from_url(VERTEX.format(method="predict")) is None
    assert protocol_from_url("https://oauth2.googleapis.com/token") is None


def test_a_vertex_ai_cassette_imports_without_protocol_and_leaves_the_token_request_out(tmp_path):
    token = {
        "request": {"body": "grant_type=refresh_token", "headers": {}, "method": "POST",
                    "uri": "https://oauth2.googleapis.com/token"},
        "response": {"body": {"string": '{"access_token": "ya29.secret"}'}, "headers": JSON_HEADERS, "status": OK},
    }  # fmt: skip
    request = {
        "body": json.dumps({"anthropic_version": "vertex-2023-10-16", "max_tokens": 5,
                            "messages": [{"role": "user", "content": "Hi"}]}),
        "headers": {}, "method": "POST", "uri": VERTEX.format(method="rawPredict"),
    }  # fmt: skip
    message = {"request": request, "response": {"body": {"string": json.dumps(MESSAGE)}, "headers": JSON_HEADERS,
                                                 "status": OK}}  # fmt: skip
    source = _write(tmp_path / "vertex.yaml", yaml.safe_dump({"interactions": [token, message], "version": 1}))
    out = tmp_path / "vertex.ndjson"
    result = import_source(source, out)
    transcript = read_transcript(out)
    assert transcript.protocol == "anthropic.messages"
    assert result.exchanges == 1
    (skipped,) = transcript.header.metadata["skipped_interactions"]
    assert skipped["request"] == "POST https://oauth2.googleapis.com/token"
    assert "ya29" not in out.read_text()
    assert only_response(out)["text"] == "Hi"
