"""`harness import` of Claude Code CLI stream-json captures: a runtime transcript and the scenario
that replays it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import replay_summary, replay_transcript
from harness.cli import EXIT_OK, EXIT_USAGE, main
from harness.errors import ImportSourceError, UsageError
from harness.record import convert_source, import_source
from harness.scenario import load_scenario
from harness.transcript import read_transcript

ROOT = Path(__file__).resolve().parents[2]
CLI_CORPUS = ROOT / "fixtures" / "corpus" / "claude-cli-stream-json"
BASIC = CLI_CORPUS / "basic_query.ndjson"
SESSION_MESSAGES = ["system_init.json", "assistant_tool_use.json", "user_tool_result.json", "result_success.json"]


def corpus_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def tool_session(tmp_path: Path) -> Path:
    """The four real messages of one CLI 2.1.3 session, one per line, as the CLI writes them."""
    lines = [json.dumps(json.loads((CLI_CORPUS / n).read_text()), separators=(",", ":")) for n in SESSION_MESSAGES]
    path = tmp_path / "tool_session.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_capture_becomes_one_inbound_entry_per_message(tmp_path):
    header, entries, conversion = convert_source(BASIC)
    assert conversion.protocol == "claude-code.stream-json"
    assert conversion.source_format == "claude-stream-json"
    assert [e.type for e in entries] == ["emit_inbound"] * 3
    assert [e.label for e in entries] == ["system", "assistant", "result"]
    assert [e.frame for e in entries] == corpus_lines(BASIC)
    assert (header.provider, header.version, header.scenario) == ("claudeCode", "2.1.7", "basic_query")
    assert header.metadata == {
        "source": "basic_query.ndjson",
        "format": "claude-stream-json",
        "importer": "harness import",
        "exchanges": 1,
    }


def test_capture_frames_equal_the_committed_cli_transcript(tmp_path):
    _, entries, _ = convert_source(BASIC)
    committed = read_transcript(ROOT / "transcripts/claude-cli/basic_query.ndjson")
    assert [e.frame for e in entries] == [e.frame for e in committed.entries if e.type == "emit_inbound"]


def test_import_writes_a_scenario_that_replays_the_capture(tmp_path):
    out = tmp_path / "basic.ndjson"
    result = import_source(BASIC, out)
    assert result.scenario == tmp_path / "basic.yaml"
    scenario = load_scenario(result.scenario)
    assert scenario.transcript == "basic.ndjson"
    summary = replay_summary(replay_transcript(result.scenario), events=False)
    assert summary["status"] == "completed"
    assert [m["text"] for m in summary["messages"]] == ["4"]


def test_a_tool_session_capture_replays_with_its_command_and_no_violation(tmp_path):
    result = import_source(tool_session(tmp_path), tmp_path / "session.ndjson")
    assert result.exchanges == 1
    execution = replay_transcript(result.scenario)
    summary = replay_summary(execution)
    assert summary["status"] == "completed"
    types = [e["type"] for e in summary["events"]]
    assert "protocol.violation" not in types
    items = {e["data"]["type"] for e in summary["events"] if e["type"] == "turn-item.updated"}
    assert items == {"user_message", "command_execution"}


def test_the_cli_imports_and_replays_a_capture(tmp_path, capsys):
    out = tmp_path / "basic.ndjson"
    assert main(["import", str(BASIC), "-o", str(out)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "claude-code.stream-json, 1 exchange(s), 3 entries" in printed
    assert f"wrote {tmp_path / 'basic.yaml'}" in printed
    assert main(["replay", str(tmp_path / "basic.yaml")]) == EXIT_OK
    assert "text: 4" in capsys.readouterr().out


def test_a_pretty_printed_single_message_imports(tmp_path):
    _, entries, _ = convert_source(CLI_CORPUS / "result_success.json")
    assert [e.frame for e in entries] == [json.loads((CLI_CORPUS / "result_success.json").read_text())]


def test_an_existing_scenario_is_not_overwritten_without_force(tmp_path):
    (tmp_path / "basic.yaml").write_text("keep\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"basic\.yaml already exists; pass --force"):
        import_source(BASIC, tmp_path / "basic.ndjson")
    assert not (tmp_path / "basic.ndjson").exists()
    assert (tmp_path / "basic.yaml").read_text(encoding="utf-8") == "keep\n"
    import_source(BASIC, tmp_path / "basic.ndjson", force=True)
    assert load_scenario(tmp_path / "basic.yaml").transcript == "basic.ndjson"


def test_a_line_that_is_not_json_names_file_and_line(tmp_path):
    source = tmp_path / "capture.ndjson"
    source.write_text(BASIC.read_text(encoding="utf-8") + "Error: session ended\n", encoding="utf-8")
    with pytest.raises(ImportSourceError, match=r"^capture\.ndjson:4: expected one Claude Code stream-json message"):
        convert_source(source)


def test_a_message_without_a_type_names_its_line(tmp_path):
    source = tmp_path / "capture.ndjson"
    source.write_text(BASIC.read_text(encoding="utf-8") + '{"session_id": "x"}\n', encoding="utf-8")
    with pytest.raises(ImportSourceError, match=r"^capture\.ndjson:4: \$\.type: expected the message type"):
        convert_source(source)


def test_a_secret_in_a_message_is_redacted(tmp_path):
    lines = corpus_lines(BASIC)
    lines[1]["message"]["content"][0]["text"] = "use sk-ant-api03-abcdefghijklmnopqrstu"
    source = tmp_path / "capture.ndjson"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    result = import_source(source, tmp_path / "out.ndjson")
    assert result.redactions == 1
    assert "sk-ant-api03" not in (tmp_path / "out.ndjson").read_text(encoding="utf-8")


def test_an_http_protocol_contradicting_a_capture_is_refused(tmp_path):
    with pytest.raises(ImportSourceError, match=r"--protocol anthropic\.messages contradicts the source"):
        convert_source(BASIC, protocol="anthropic.messages")


def test_the_cli_refuses_a_capture_with_a_request_file(tmp_path, capsys):
    request = tmp_path / "request.json"
    request.write_text("{}", encoding="utf-8")
    args = ["import", str(BASIC), "-o", str(tmp_path / "o.ndjson"), "--request", str(request)]
    assert main(args) == EXIT_USAGE
    assert "--request only applies to bare SSE sources" in capsys.readouterr().err
