"""The harness CLI, run in-process as users run it: output, files and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main

ROOT = Path(__file__).resolve().parents[2]
TOOL_LOOP = "transcripts/anthropic/pydantic-ai-cassettes/anthropic__tool_use_then_tool_result_multiturn.ndjson"
MAX_TOKENS = "transcripts/anthropic/anthropic-sdk/incomplete_partial_json_max_tokens.ndjson"
SPLICED = "transcripts/anthropic/vercel-ai-fixtures/anthropic-spliced-message-start.ndjson"


def test_replay_json_prints_exactly_one_object_with_the_documented_shape(
    repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", TOOL_LOOP, "--json"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    summary = json.loads(out)
    assert list(summary) == [
        "transcript",
        "protocol",
        "status",
        "error",
        "match",
        "recording_ended",
        "messages",
        "events",
    ]
    assert (summary["protocol"], summary["status"], summary["error"]) == ("anthropic.messages", "completed", None)
    first, second = summary["messages"]
    assert list(first) == ["role", "text", "reasoning", "tool_calls", "stop_reason", "usage"]
    assert first["tool_calls"] == [
        {
            "id": "toolu_01EFn5wTNBYA8Reni8rbmnHT",
            "name": "get_exchange_rate",
            "arguments": {"from_currency": "USD", "to_currency": "EUR"},
        }
    ]
    assert (first["stop_reason"], second["stop_reason"]) == ("tool_use", "end_turn")
    assert second["usage"] == {"input_tokens": 1007, "output_tokens": 59}
    assert summary["events"][0]["sequence"] == 1


def test_replay_json_reports_a_failed_run_with_its_error(repo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "transcripts/anthropic/derived/midstream_overloaded_error.ndjson", "--json"]) == EXIT_OK
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "failed"
    assert summary["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def test_replay_text_output_shows_partial_tool_input(repo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", MAX_TOKENS]) == EXIT_OK
    out = capsys.readouterr().out
    assert "stop_reason=max_tokens" in out and 'make_file({"filename":"taxes.txt"' in out


def test_missing_transcript_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "nope.ndjson")]) == EXIT_USAGE
    assert "no such transcript file" in capsys.readouterr().err


def test_bad_option_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["run", "--no-such-option"])
    assert caught.value.code == EXIT_USAGE


def test_validate_passes_clean_and_fails_anomalies_with_line_numbers(
    repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", TOOL_LOOP]) == EXIT_OK
    assert main(["validate", SPLICED]) == EXIT_FAILED
    out = capsys.readouterr().out
    assert f"{SPLICED}:9: error: [anthropic.message_start.spliced]" in out


def test_validate_reports_a_malformed_line_as_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text(
        '{"type":"transcript_start","provider":"p","protocol":"anthropic.messages","version":"1","scenario":"s"}\n{oops\n'
    )
    assert main(["validate", str(bad)]) == EXIT_USAGE
    assert f"{bad}:2: not valid JSON" in capsys.readouterr().err


def test_import_writes_then_refuses_to_overwrite_without_force(tmp_path: Path, repo_root: Path) -> None:
    out = tmp_path / "t.ndjson"
    source = "fixtures/corpus/anthropic-sdk/basic_response.sse.txt"
    assert main(["import", source, "-o", str(out), "--protocol", "anthropic.messages"]) == EXIT_OK
    assert main(["import", source, "-o", str(out), "--protocol", "anthropic.messages"]) == EXIT_USAGE
    assert main(["import", source, "-o", str(out), "--protocol", "anthropic.messages", "--force"]) == EXIT_OK


def test_import_of_a_bare_stream_naming_no_protocol_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "pings.sse.txt"
    source.write_text('event: ping\ndata: {"type": "ping"}\n\n', encoding="utf-8")
    assert main(["import", str(source), "-o", str(tmp_path / "t.ndjson")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--protocol (importable from SSE: anthropic.messages, openai.chat, openai.responses)" in err
    assert not (tmp_path / "t.ndjson").exists()


def _project(tmp_path: Path, *, expect_status: str = "completed") -> Path:
    (tmp_path / "scenarios").mkdir()
    shutil.copy(ROOT / TOOL_LOOP, tmp_path / "loop.ndjson")
    scenario = (ROOT / "scenarios/anthropic/tool_loop_two_requests.yaml").read_text()
    scenario = scenario.replace("../../" + TOOL_LOOP, "../loop.ndjson")
    scenario = scenario.replace("status: completed", f"status: {expect_status}")
    (tmp_path / "scenarios" / "loop.yaml").write_text(scenario)
    return tmp_path


def test_run_writes_reports_and_exits_zero_when_all_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(_project(tmp_path))
    assert main(["goldens", "update"]) == EXIT_OK
    assert (tmp_path / "fixtures/goldens/tool_loop_two_requests.ndjson").exists()
    assert main(["run"]) == EXIT_OK
    assert (tmp_path / "reports/summary.md").exists()
    assert (tmp_path / "reports/harness.duckdb").exists()
    assert (tmp_path / "reports/events/tool_loop_two_requests.ndjson").exists()
    assert (tmp_path / "reports/index.html").read_bytes().startswith(b"<!DOCTYPE html>")
    assert (tmp_path / "reports/junit.xml").read_bytes().startswith(b"<?xml")
    assert "1 passed, 0 failed" in capsys.readouterr().out


def test_every_run_is_kept_in_the_database_and_the_report_is_rendered_from_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(_project(tmp_path))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764842400")
    main(["goldens", "update"])
    assert main(["run"]) == EXIT_OK
    assert main(["run"]) == EXIT_OK
    from harness.analysis import query

    rows = query(tmp_path / "reports/harness.duckdb", "SELECT run_id, started_at, command, passed FROM invocations")
    assert rows.rows == [
        ("run-1", "2025-12-04T10:00:00Z", "harness run", 1),
        ("run-2", "2025-12-04T10:00:00Z", "harness run", 1),
    ]
    written = (tmp_path / "reports/index.html").read_bytes()
    capsys.readouterr()
    out = tmp_path / "again.html"
    assert (
        main(["report", "-o", str(out), "--junit", str(tmp_path / "j.xml"), "--trace", str(tmp_path / "t.json")])
        == EXIT_OK
    )
    assert out.read_bytes() == written  # the same database renders the same bytes
    assert json.loads((tmp_path / "t.json").read_text())["traceEvents"]
    assert (tmp_path / "j.xml").read_bytes() == (tmp_path / "reports/junit.xml").read_bytes()
    assert f"report: {out}" in capsys.readouterr().out


def test_report_refuses_a_missing_database_and_a_scenario_without_a_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--db", str(tmp_path / "none.duckdb")]) == EXIT_USAGE
    assert "no such database" in capsys.readouterr().err
    assert main(["report", "--db", str(tmp_path / "none.duckdb"), "--scenario", "x"]) == EXIT_USAGE
    assert "--scenario chooses the timeline of --trace" in capsys.readouterr().err
    import duckdb

    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    assert main(["report", "--db", str(other)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "not an analysis database of this version (no meta table)" in err
    assert len(err.strip().splitlines()) == 1
    with duckdb.connect(str(other)) as conn:
        conn.execute("CREATE TABLE meta (key VARCHAR, value VARCHAR); INSERT INTO meta VALUES ('schema', '1')")
    assert main(["report", "--db", str(other), "--junit", str(tmp_path / "j.xml")]) == EXIT_USAGE
    assert "an analysis database of schema '1', this version reads schema '2'" in capsys.readouterr().err


def test_run_exits_one_and_prints_the_reproduce_command_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(_project(tmp_path, expect_status="failed"))
    main(["goldens", "update"])
    capsys.readouterr()
    assert main(["run"]) == EXIT_FAILED
    out = capsys.readouterr().out
    assert "FAIL tool_loop_two_requests" in out
    assert "reproduce: harness run scenarios/loop.yaml" in out


def test_run_reports_a_missing_golden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(_project(tmp_path))
    assert main(["run"]) == EXIT_FAILED
    assert "golden_missing" in capsys.readouterr().out


def test_goldens_update_reports_and_prunes_unused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(_project(tmp_path))
    stale = tmp_path / "fixtures/goldens/stale.ndjson"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}\n")
    assert main(["goldens", "update"]) == EXIT_OK
    assert "unused  fixtures/goldens/stale.ndjson" in capsys.readouterr().out
    assert main(["goldens", "update", "--prune"]) == EXIT_OK
    assert not stale.exists()


def test_goldens_update_prune_keeps_goldens_owned_by_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(_project(tmp_path))
    goldens = tmp_path / "fixtures/goldens"
    goldens.mkdir(parents=True)
    owned = goldens / "app" / "run.ndjson"
    owned.parent.mkdir()
    owned.write_text('{"events":0,"format":"replay-harness.golden/v1","owner":"test","scenario":"app/run"}\n')
    stale = goldens / "stale.ndjson"
    stale.write_text('{"deltas":"coalesced","events":0,"format":"replay-harness.golden/v1","scenario":"stale"}\n')

    assert main(["goldens", "update", "--prune"]) == EXIT_OK

    out = capsys.readouterr().out
    assert "pruned  fixtures/goldens/stale.ndjson" in out
    assert 'kept  fixtures/goldens/app/run.ndjson (owner "test": written by harness_golden.assert_match' in out
    assert owned.exists() and not stale.exists()


def test_run_does_not_list_goldens_owned_by_tests_as_unused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(_project(tmp_path))
    main(["goldens", "update"])
    owned = tmp_path / "fixtures/goldens/from_test.ndjson"
    owned.write_text('{"events":0,"format":"replay-harness.golden/v1","owner":"test","scenario":"from_test"}\n')
    capsys.readouterr()

    assert main(["run"]) == EXIT_OK

    assert "unused golden" not in capsys.readouterr().out


def _break_replay(project: Path) -> Path:
    """Change a request parameter, so the first outbound frame differs from the recording."""
    scenario = project / "scenarios" / "loop.yaml"
    scenario.write_text(scenario.read_text().replace("max_tokens: 4096", "max_tokens: 4095"))
    return project / "fixtures/goldens/tool_loop_two_requests.ndjson"


@pytest.mark.parametrize(
    "command",
    [["goldens", "update"], ["run", "--update-goldens"]],
    ids=["goldens-update", "run-update-goldens"],
)
def test_updating_goldens_skips_a_scenario_whose_replay_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    monkeypatch.chdir(_project(tmp_path))
    golden = _break_replay(tmp_path)

    assert main(command) == EXIT_FAILED

    out = capsys.readouterr().out
    assert (
        "skipped  fixtures/goldens/tool_loop_two_requests.ndjson (the replay failed, so the event log is not one "
        "to keep; pass --include-failed to write it)"
    ) in out
    assert "replay: " in out
    assert not golden.exists()


@pytest.mark.parametrize(
    "command",
    [["goldens", "update", "--include-failed"], ["run", "--update-goldens", "--include-failed"]],
    ids=["goldens-update", "run-update-goldens"],
)
def test_include_failed_writes_the_golden_of_a_failed_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(_project(tmp_path))
    golden = _break_replay(tmp_path)

    assert main(command) == EXIT_FAILED  # the replay still fails

    assert golden.exists()


def test_include_failed_without_update_goldens_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(_project(tmp_path))
    assert main(["run", "--include-failed"]) == EXIT_USAGE
    assert "--include-failed only makes sense with --update-goldens" in capsys.readouterr().err


def test_db_build_then_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(_project(tmp_path))
    main(["goldens", "update"])
    assert main(["db", "build", "--db", "out.duckdb"]) == EXIT_OK
    capsys.readouterr()
    assert main(["query", "select count(*) as n from events", "--db", "out.duckdb", "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out) == {"n": 89}
    # every event of the log: the golden (deltas coalesced) ends at the same sequence
    golden = (tmp_path / "fixtures/goldens/tool_loop_two_requests.ndjson").read_text().splitlines()
    assert json.loads(golden[-1])["sequence"] == 89


def test_query_without_a_database_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "select 1", "--db", str(tmp_path / "none.duckdb")]) == EXIT_USAGE
    assert "harness db build" in capsys.readouterr().err


def test_translate_writes_a_derived_transcript_that_replays(
    tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.ndjson"
    assert main(["translate", TOOL_LOOP, "--to", "anthropic.messages", "-o", str(out)]) == EXIT_OK
    assert "2 response(s)" in capsys.readouterr().out
    assert main(["replay", str(out)]) == EXIT_OK
    assert main(["translate", TOOL_LOOP, "--to", "anthropic.messages", "-o", str(out)]) == EXIT_USAGE


def test_replay_accepts_a_scenario_file_for_recordings_that_need_one(
    repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    groq = "transcripts/openai/pydantic-ai-cassettes/chat-compat-groq__midstream_event_error_then_retry.ndjson"
    assert main(["replay", groq, "--json"]) == EXIT_FAILED  # the bare recording needs the recovery policy
    assert json.loads(capsys.readouterr().out)["error"]["type"] == "UnconsumedEntries"
    assert main(["replay", "scenarios/openai/chat/openai_chat_compat_groq_tool_use_failed.yaml", "--json"]) == EXIT_OK
    summary = json.loads(capsys.readouterr().out)
    assert (summary["status"], len(summary["messages"])) == ("completed", 3)


BUNDLED_SCENARIOS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "scenarios").rglob("*.yaml"))


@pytest.mark.parametrize("scenario", BUNDLED_SCENARIOS)
def test_replay_text_mode_prints_every_bundled_scenario(
    scenario: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Runtime scenarios print messages without a stop reason or tool calls; the printer used to
    # index them as HTTP responses (KeyError: 'tool_calls').
    monkeypatch.chdir(ROOT)
    assert main(["replay", scenario]) in (EXIT_OK, EXIT_FAILED)
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith(("completed", "failed", "interrupted", "cancelled", "stopped"))
    assert out.rstrip().endswith(" events")


def test_error_messages_print_colons_and_brackets_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Rich would turn ":end:" into an emoji and "[red]" into a style; a location must print as is.
    missing = tmp_path / "[red]a:100:end:.ndjson"
    assert main(["validate", str(missing)]) == EXIT_USAGE
    assert capsys.readouterr().err == f"error: {missing}: no such transcript file\n"


def test_scenario_names_with_markup_print_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = ROOT / "scenarios" / "anthropic" / "plain_text.yaml"
    scenario = tmp_path / "plain.yaml"
    text = source.read_text().replace("name: plain_text", "name: 'x[bold]y:smile:'")
    transcript = (source.parent / "../../transcripts").resolve()
    scenario.write_text(text.replace("../../transcripts", str(transcript)))
    monkeypatch.setenv("HARNESS_TRANSCRIPT_ROOTS", str(transcript))
    goldens = tmp_path / "goldens"
    assert main(["goldens", "update", str(scenario), "--goldens-dir", str(goldens)]) == EXIT_OK
    status = main(["run", str(scenario), "--goldens-dir", str(goldens), "--report-dir", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert status == EXIT_OK
    assert "PASS x[bold]y:smile:" in out
