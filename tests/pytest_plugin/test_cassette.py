"""The ``harness_cassette`` fixture, run as users run it: pytester projects that call the real SDK."""

from __future__ import annotations

import textwrap

import anthropic
import duckdb
import pytest

from harness.pytest_plugin.cassette import transcript_name
from tests.conftest import ROOT, FakeProvider, json_canned

pytest_plugins = ["pytester"]

# pytester's in-process runs drop every module they import; the SDK imports its resources and
# types lazily and takes seconds to, so they are loaded once here and reused by every run.
anthropic.Anthropic(api_key="warm-up").messages.with_raw_response  # noqa: B018
anthropic.types.Message.model_validate(
    {
        **{"id": "m", "type": "message", "role": "assistant", "model": "x"},
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }
)

MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "2"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 1},
}


def agent_test(url: str, *, prompts: list[str], marker: str = "") -> str:
    """A user's test file: one Anthropic request per prompt, through the fixture's client."""
    return textwrap.dedent(
        f"""
        import pytest

        {marker}
        def test_answer(harness_cassette):
            client = harness_cassette.anthropic(base_url={url!r})
            answers = []
            for prompt in {prompts!r}:
                message = client.messages.create(
                    model="claude-sonnet-4-5", max_tokens=16, messages=[{{"role": "user", "content": prompt}}]
                )
                answers.append(message.content[0].text)
            assert answers == ["2"] * len({prompts!r})
        """
    )


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-live-key-0123456789abcdef")
    pytester.makeini("[pytest]\n")
    return pytester


def record(project: pytest.Pytester, provider: FakeProvider, prompts: list[str]) -> None:
    provider.queue.extend(json_canned(MESSAGE) for _ in prompts)
    project.makepyfile(test_agent=agent_test(provider.url, prompts=prompts))
    project.runpytest("--harness-record-mode=once").assert_outcomes(passed=1)


def test_once_records_the_missing_transcript_and_the_default_mode_replays_it(project, fake_provider):
    record(project, fake_provider, ["What is 1+1?"])
    path = project.path / "transcripts" / "test_agent" / "test_answer.ndjson"
    assert path.is_file()
    assert "live-key" not in path.read_text()

    requests_before = len(fake_provider.requests)
    result = project.runpytest()
    result.assert_outcomes(passed=1)
    assert len(fake_provider.requests) == requests_before


def test_changed_prompt_fails_with_file_line_and_json_path(project, fake_provider):
    record(project, fake_provider, ["What is 1+1?"])
    project.makepyfile(test_agent=agent_test(fake_provider.url, prompts=["What is 2+2?"]))
    result = project.runpytest()
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*transcripts/test_agent/test_answer.ndjson:2: outbound frame (POST /v1/messages) differs*"
            '$.body.messages[[]0[]].content: expected "What is 1+1?", found "What is 2+2?"*'
        ]
    )


def test_extra_request_fails_and_names_the_end_of_the_transcript(project, fake_provider):
    record(project, fake_provider, ["What is 1+1?"])
    project.makepyfile(test_agent=agent_test(fake_provider.url, prompts=["What is 1+1?", "What is 1+1?"]))
    result = project.runpytest()
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(["*unexpected outbound frame*the end of the transcript*"])


def test_missing_request_is_reported_as_unconsumed_entries_at_teardown(project, fake_provider):
    record(project, fake_provider, ["What is 1+1?", "What is 1+1?"])
    project.makepyfile(test_agent=agent_test(fake_provider.url, prompts=["What is 1+1?"]))
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*test_answer.ndjson:5: replay ended with 3 unconsumed entries, starting with expect_outbound*"]
    )


def test_no_recording_in_replay_mode_fails_and_says_how_to_record(project, fake_provider):
    project.makepyfile(test_agent=agent_test(fake_provider.url, prompts=["What is 1+1?"]))
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*test_answer.ndjson: no recording; record it once with --harness-record-mode=once*"])
    assert fake_provider.requests == []


def test_ci_forces_replay_only_whatever_the_mode(project, fake_provider, monkeypatch):
    monkeypatch.setenv("CI", "true")
    fake_provider.queue.append(json_canned(MESSAGE))
    project.makepyfile(test_agent=agent_test(fake_provider.url, prompts=["What is 1+1?"]))
    result = project.runpytest("--harness-record-mode=all")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no recording*"])
    assert fake_provider.requests == []


def test_all_rerecords_and_new_episodes_appends(project, fake_provider):
    record(project, fake_provider, ["What is 1+1?"])
    path = project.path / "transcripts" / "test_agent" / "test_answer.ndjson"
    fake_provider.queue.append(json_canned(MESSAGE))
    project.makepyfile(test_agent=agent_test(fake_provider.url, prompts=["What is 1+1?", "And 2+2?"]))
    project.runpytest("--harness-record-mode=new_episodes").assert_outcomes(passed=1)
    assert path.read_text().count('"expect_outbound"') == 2
    assert len(fake_provider.requests) == 2  # the first exchange was replayed, not sent

    fake_provider.queue.append(json_canned(MESSAGE))
    project.makepyfile(test_agent=agent_test(fake_provider.url, prompts=["Only this?"]))
    project.runpytest("--harness-record-mode=all").assert_outcomes(passed=1)
    assert path.read_text().count('"expect_outbound"') == 1
    assert "Only this?" in path.read_text()


def test_once_never_overwrites_an_existing_transcript(project, fake_provider):
    record(project, fake_provider, ["What is 1+1?"])
    path = project.path / "transcripts" / "test_agent" / "test_answer.ndjson"
    before = path.read_bytes()
    project.makepyfile(test_agent=agent_test(fake_provider.url, prompts=["Different?"]))
    project.runpytest("--harness-record-mode=once").assert_outcomes(failed=1, errors=1)
    assert path.read_bytes() == before


def test_marker_names_the_transcript(project, fake_provider):
    fake_provider.queue.append(json_canned(MESSAGE))
    marker = '@pytest.mark.harness_cassette("shared/one_plus_one")'
    project.makepyfile(test_agent=agent_test(fake_provider.url, prompts=["What is 1+1?"], marker=marker))
    project.runpytest("--harness-record-mode=once").assert_outcomes(passed=1)
    assert (project.path / "transcripts" / "shared" / "one_plus_one.ndjson").is_file()


def test_marker_may_not_leave_the_transcripts_directory(project, fake_provider):
    marker = '@pytest.mark.harness_cassette("../outside")'
    project.makepyfile(test_agent=agent_test(fake_provider.url, prompts=["What is 1+1?"], marker=marker))
    result = project.runpytest("--harness-record-mode=once")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*must be a relative path inside*"])
    assert not (project.path / "outside.ndjson").exists()


def test_transcripts_dir_ini_resolves_against_the_rootdir_not_the_cwd(project, fake_provider):
    project.makeini("[pytest]\nharness_transcripts_dir = recordings\n")
    fake_provider.queue.append(json_canned(MESSAGE))
    sub = project.mkpydir("suite")
    (sub / "test_agent.py").write_text(agent_test(fake_provider.url, prompts=["What is 1+1?"]))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(sub)
        project.runpytest("--harness-record-mode=once", str(sub)).assert_outcomes(passed=1)
    assert (project.path / "recordings" / "suite" / "test_agent" / "test_answer.ndjson").is_file()


@pytest.mark.parametrize(
    ("nodeid", "expected"),
    [
        ("tests/test_agent.py::test_loop", "tests/test_agent/test_loop.ndjson"),
        ("tests/test_agent.py::TestLoop::test_retry", "tests/test_agent/TestLoop/test_retry.ndjson"),
        ("test_a.py::test_b[slow/1 x]", "test_a/test_b[slow-1-x].ndjson"),
        ("../evil.py::test_b", "evil/test_b.ndjson"),
    ],
    ids=["function", "class-method", "parametrized-id-with-slash", "no-parent-escape"],
)
def test_default_transcript_name_follows_the_node_id(nodeid, expected):
    assert transcript_name(nodeid).as_posix() == expected


# -- harness_runtime: the stdio boundary -------------------------------------------------------------

RUNTIME_TEST = """
import json
import subprocess

PROMPT = {prompt!r}


def test_turn(harness_runtime):
    process = subprocess.Popen(
        harness_runtime.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    user = {{"type": "user", "message": {{"role": "user", "content": PROMPT}},
            "parent_tool_use_id": None, "session_id": "default"}}
    process.stdin.write(json.dumps(user) + "\\n")
    process.stdin.flush()
    seen = []
    for line in process.stdout:
        frame = json.loads(line)
        seen.append(frame["type"])
        if frame["type"] == "control_request":
            request = frame["request"]
            answer = {{"type": "control_response", "response": {{"subtype": "success",
                      "request_id": frame["request_id"],
                      "response": {{"behavior": "allow", "updatedInput": request["input"]}}}}}}
            process.stdin.write(json.dumps(answer) + "\\n")
            process.stdin.flush()
    process.wait(timeout=30)
    assert seen[-1] == "result"
"""


def runtime_project(project: pytest.Pytester, prompt: str) -> None:
    target = project.path / "transcripts" / "test_app" / "test_turn.ndjson"
    target.parent.mkdir(parents=True)
    target.write_bytes((ROOT / "transcripts" / "claude-cli" / "derived" / "tool_permission.ndjson").read_bytes())
    project.makepyfile(test_app=RUNTIME_TEST.format(prompt=prompt))


def test_harness_runtime_replays_the_tests_stdio_transcript_into_a_real_subprocess(project):
    runtime_project(project, "List the files in the current directory using ls")
    project.runpytest().assert_outcomes(passed=1)


def test_harness_runtime_fails_a_changed_prompt_with_line_and_json_path(project):
    runtime_project(project, "Delete everything")
    result = project.runpytest()
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(["*harness_runtime: *test_turn.ndjson:2*$.message.content*"])


def test_the_cassettes_transcript_lands_in_the_duckdb_file(project, fake_provider):
    record(project, fake_provider, ["What is 1+1?"])
    project.runpytest("--harness-db=out.duckdb").assert_outcomes(passed=1)
    with duckdb.connect(str(project.path / "out.duckdb"), read_only=True) as db:
        paths = [row[0] for row in db.execute("select path from transcripts").fetchall()]
    assert paths == ["transcripts/test_agent/test_answer.ndjson"]


def test_a_recorded_test_lists_its_cassettes_transcript(project, fake_provider):
    record(project, fake_provider, ["What is 1+1?"])
    source = (project.path / "test_agent.py").read_text()
    project.makepyfile(test_agent=source.replace("(harness_cassette):", "(harness_cassette, harness_results):"))
    project.runpytest("--harness-db=out.duckdb").assert_outcomes(passed=1)
    with duckdb.connect(str(project.path / "out.duckdb"), read_only=True) as db:
        rows = db.execute("select nodeid, transcript_id from test_transcripts").fetchall()
    assert rows == [("test_agent.py::test_answer", "transcripts/test_agent/test_answer.ndjson")]


def test_the_runtime_cassettes_transcript_lands_in_the_duckdb_file(project):
    runtime_project(project, "List the files in the current directory using ls")
    project.runpytest("--harness-db=out.duckdb").assert_outcomes(passed=1)
    with duckdb.connect(str(project.path / "out.duckdb"), read_only=True) as db:
        paths = [row[0] for row in db.execute("select path from transcripts").fetchall()]
    assert paths == ["transcripts/test_app/test_turn.ndjson"]
