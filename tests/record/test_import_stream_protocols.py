"""`harness import` of a bare stream reads the protocol from its events when `--protocol` is not given."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import EXIT_OK, main
from harness.errors import ImportSourceError
from harness.record import convert_source
from harness.transcript import read_transcript

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "fixtures" / "corpus"

BARE_SOURCES = [
    *(("anthropic.messages", p) for p in sorted((CORPUS / "anthropic-sdk").glob("*.sse.txt"))),
    *(("openai.chat", p) for p in sorted((CORPUS / "openai-sdk").glob("*.sse.txt"))),
    *(("anthropic.messages", p) for p in sorted((CORPUS / "vercel-ai-fixtures").glob("anthropic-*.ndjson"))),
    *(("openai.responses", p) for p in sorted((CORPUS / "vercel-ai-fixtures").glob("*responses-*.ndjson"))),
    *(("openai.chat", p) for p in sorted((CORPUS / "vercel-ai-fixtures").glob("chat-compat-*.ndjson"))),
]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("protocol", "source"), BARE_SOURCES, ids=[p.name for _, p in BARE_SOURCES])
def test_corpus_stream_without_protocol_imports_as_with_it(protocol, source):
    detected = convert_source(source)
    given = convert_source(source, protocol=protocol)
    assert detected[2].protocol == protocol
    assert detected[0] == given[0]
    assert detected[1] == given[1]


def test_responses_stream_naming_its_events_only_in_the_data_type_is_detected(tmp_path):
    text = (
        'data: {"type":"response.created","response":{"id":"resp_1","status":"in_progress","output":[]}}\n\n'
        'data: {"type":"response.completed","response":{"id":"resp_1","status":"completed","output":[]}}\n\n'
    )
    _, _, conversion = convert_source(write(tmp_path / "r.sse.txt", text))
    assert conversion.protocol == "openai.responses"


def test_request_file_goes_first_when_the_protocol_is_detected(tmp_path):
    text = 'event: message_start\ndata: {"type":"message_start","message":{"id":"m","content":[]}}\n\n'
    request = write(tmp_path / "request.json", '{"model": "claude-x", "stream": true}')
    _, entries, _ = convert_source(write(tmp_path / "s.sse.txt", text), request=request)
    assert [e.label for e in entries] == ["POST /v1/messages", "message_start"]


def test_events_of_two_protocols_are_refused_with_where_each_was_seen(tmp_path):
    text = (
        'event: message_start\ndata: {"type":"message_start","message":{}}\n\n'
        'event: response.created\ndata: {"type":"response.created","response":{}}\n\n'
    )
    with pytest.raises(ImportSourceError) as caught:
        convert_source(write(tmp_path / "mixed.sse.txt", text))
    assert str(caught.value) == (
        "mixed.sse.txt: the events name several protocols: anthropic.messages (mixed.sse.txt:2), "
        "openai.responses (mixed.sse.txt:5); split the stream so each transcript holds one"
    )


def test_protocol_contradicting_the_events_is_refused(tmp_path):
    text = 'event: message_start\ndata: {"type":"message_start","message":{}}\n\n'
    with pytest.raises(ImportSourceError, match=r"--protocol openai\.chat contradicts the events, which are anthropic"):
        convert_source(write(tmp_path / "s.sse.txt", text), protocol="openai.chat")


def test_the_cli_imports_a_bare_anthropic_stream_without_protocol(tmp_path, repo_root, capsys):
    out = tmp_path / "basic.ndjson"
    assert main(["import", "fixtures/corpus/anthropic-sdk/basic_response.sse.txt", "-o", str(out)]) == EXIT_OK
    assert "anthropic.messages" in capsys.readouterr().out
    assert read_transcript(out).header.protocol == "anthropic.messages"
