"""Bad scenario and rule files: a located error (file, line or JSON path), never a traceback or a hang.

Covers the bounded reader shared by scenario and event-rule files (alias bombs, deep nesting,
bytes that are not UTF-8, paths that are not regular files), transcripts a scenario names (not
regular files, outside the project) and names that would put a golden outside its directory.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.core.event_rules import load_event_rules
from harness.errors import RuleDeclarationError, ScenarioError, TranscriptError
from harness.scenario import Scenario, load_scenario, run_scenario, run_suite, scenario_for_transcript
from harness.scenario.files import LimitExceeded as YamlLimitExceeded
from harness.scenario.files import Limits, load_bounded_yaml, load_declaration
from harness.scenario.model import TRANSCRIPT_ROOTS_ENV, preview
from harness.transcript import read_transcript

ROOT = Path(__file__).resolve().parents[2]
PLAIN = ROOT / "transcripts/anthropic/pydantic-ai-cassettes/anthropic__plain_text_stream.ndjson"
EXIT_USAGE = 2

# 9 levels of 9 aliases each: ~400 bytes standing for 9**9 (387 million) strings.
ALIAS_BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]"
            for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "transcript: x.ndjson",
        "seed: *i",
        "",
    ]
)

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err


# -- the bounded reader -----------------------------------------------------------------------------


def test_yaml_alias_bomb_is_refused_quickly_with_a_located_error(tmp_path: Path) -> None:
    # Counting stops at the first alias past the limit, so the work is bounded by the limit
    # (a million values), not by the billion the document stands for.
    path = write(tmp_path / "bomb.yaml", ALIAS_BOMB)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: line ")
    assert "more than 1000000 values once aliases (*name) are expanded" in message


def test_yaml_alias_bomb_fails_the_cli_with_exit_2_and_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "bomb.yaml", ALIAS_BOMB)
    code, err = run_cli(capsys, "replay", str(path))
    assert code == EXIT_USAGE
    assert err.startswith(f"error: {path}: line ")
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_the_node_limit_counts_every_alias_expansion() -> None:
    text = "a: &a [1, 2, 3]\nb: [*a, *a, *a]\n"  # 3 + 1 keys, 4 + 3 * 4 + 1 nodes
    assert load_bounded_yaml(text, limits=Limits(max_nodes=100)) == {"a": [1, 2, 3], "b": [[1, 2, 3]] * 3}
    with pytest.raises(YamlLimitExceeded, match=r"^line 2, column \d+: more than 10 values"):
        load_bounded_yaml(text, limits=Limits(max_nodes=10))


def test_an_alias_that_brings_in_deep_nesting_counts_toward_the_depth_limit() -> None:
    text = "a: &a [[[1]]]\nb: [[*a]]\n"
    assert load_bounded_yaml(text, limits=Limits(max_depth=6))["b"] == [[[[[1]]]]]
    with pytest.raises(YamlLimitExceeded, match=r"^line 2, column \d+: nested deeper than 5 levels"):
        load_bounded_yaml(text, limits=Limits(max_depth=5))


def test_a_recursive_yaml_alias_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "transcript: x.ndjson\nrequest: &r {params: {again: *r}}\n")
    with pytest.raises(ScenarioError, match=r"line 2, column \d+: alias \*r refers to a node that contains it"):
        load_scenario(path)


def test_an_alias_bomb_in_a_rule_file_is_refused_by_the_same_reader(tmp_path: Path) -> None:
    path = write(tmp_path / "rules.yaml", ALIAS_BOMB.replace("transcript: x.ndjson", "rules: []"))
    with pytest.raises(RuleDeclarationError, match=r"line \d+, column \d+: more than 1000000 values"):
        load_event_rules(path)


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("s.yaml", "a: " + "[" * 100_000 + "]" * 100_000 + "\n", r"line 1, column \d+: "),
        ("s.toml", "a = " + "[" * 100_000 + "]" * 100_000 + "\n", r"line 1: "),
        ("s.yaml", "transcript: x.ndjson\nrequest: {params: " + "{a: " * 200 + "1" + "}" * 202 + "\n", r"line 2, "),
        ("s.toml", 'transcript = "x.ndjson"\n[request.params]\nx = ' + "[" * 200 + "]" * 200 + "\n", r"\$\.request"),
    ],
    ids=["yaml-100k", "toml-100k", "yaml-200", "toml-200"],
)
def test_deep_nesting_is_a_located_error_not_a_recursion_error(
    tmp_path: Path, name: str, text: str, where: str
) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(ScenarioError, match=rf"^{path}: {where}.*nested deeper than 128 levels"):
        load_scenario(path)


def test_deep_json_in_a_rule_file_is_a_located_error(tmp_path: Path) -> None:
    path = write(tmp_path / "rules.json", '{"rules": ' + "[" * 200 + "]" * 200 + "}")
    with pytest.raises(RuleDeclarationError, match=r"\$\.rules\[0\]\[0\].*nested deeper than 128 levels"):
        load_event_rules(path)


@pytest.mark.parametrize("suffix", [".yaml", ".toml"])
def test_invalid_utf8_names_the_line_column_and_byte_offset(tmp_path: Path, suffix: str) -> None:
    path = write(tmp_path / f"s{suffix}", b'# a comment\nname = "caf\xe9"\n')
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"{path}: line 2, column 12 (byte offset 23): not valid UTF-8")
    assert "0xe9" in str(caught.value)


def test_invalid_utf8_in_a_rule_file_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "rules.json", b'{"rules":\n\xff}')
    with pytest.raises(RuleDeclarationError, match=r"line 2, column 1 \(byte offset 10\): not valid UTF-8"):
        load_event_rules(path)


def test_a_scenario_path_that_is_a_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dir.yaml").mkdir()
    code, err = run_cli(capsys, "replay", str(tmp_path / "dir.yaml"))
    assert code == EXIT_USAGE
    assert err == f"error: {tmp_path / 'dir.yaml'}: is a directory, not a scenario file; name a regular file\n"


@posix_only
def test_a_scenario_path_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.yaml")  # nobody writes: opening it for a blocking read would hang
    with pytest.raises(ScenarioError, match=r"fifo\.yaml: is a FIFO \(named pipe\), not a scenario file"):
        load_scenario(tmp_path / "fifo.yaml")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_scenario_path_that_is_a_device_is_refused_without_reading(tmp_path: Path) -> None:
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    with pytest.raises(ScenarioError, match=r"zero\.yaml: is a character device, not a scenario file"):
        load_scenario(tmp_path / "zero.yaml")


@posix_only
def test_a_rule_file_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "rules.toml")
    with pytest.raises(RuleDeclarationError, match=r"rules\.toml: is a FIFO \(named pipe\), not a rule file"):
        load_event_rules(tmp_path / "rules.toml")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "transcript: x.ndjson\n" + "# padding\n" * 20)
    with pytest.raises(ScenarioError, match=r"the scenario file is \d+ bytes; the limit is 64 bytes"):
        load_declaration(path, what="scenario file", error=ScenarioError, limits=Limits(max_bytes=64))


def test_a_value_standing_for_a_billion_nodes_is_previewed_in_bounded_time() -> None:
    value: list[object] = ["lol"] * 10
    for _ in range(8):
        value = [value] * 10
    shown = preview(value)
    assert len(shown) == 120
    assert shown.startswith('[[[[[[[[["lol","lol"')


def test_validation_errors_list_at_most_twenty_problems(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "transcript: x.ndjson\n" + "".join(f"extra{i}: {i}\n" for i in range(50)))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value).count("Extra inputs are not permitted") == 20
    assert str(caught.value).endswith("; and 30 more problems")


# -- transcripts a scenario names ----------------------------------------------------------------------


def project(tmp_path: Path) -> Path:
    """A project with a marker, a copy of a bundled transcript and a directory outside it."""
    root = tmp_path / "project"
    write(root / "pyproject.toml", "[project]\nname = 'p'\n")
    (root / "transcripts").mkdir()
    shutil.copyfile(PLAIN, root / "transcripts" / "plain.ndjson")
    (tmp_path / "elsewhere").mkdir()
    shutil.copyfile(PLAIN, tmp_path / "elsewhere" / "plain.ndjson")
    return root


def scenario_file(root: Path, transcript: str, name: str = "s.yaml") -> Path:
    return write(root / "scenarios" / name, f"transcript: {transcript}\nexpect: {{golden: false}}\n")


@pytest.mark.parametrize("kind", ["directory", "fifo", "device"])
def test_a_transcript_that_is_not_a_regular_file_is_refused_before_it_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    target = tmp_path / "t.ndjson"
    if kind == "directory":
        target.mkdir()
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("needs FIFOs")
        os.mkfifo(target)  # nobody writes: opening it for a blocking read would hang
    else:
        if not Path("/dev/zero").exists():
            pytest.skip("needs /dev/zero")
        target.symlink_to("/dev/zero")  # reading it would never end
        monkeypatch.setenv(TRANSCRIPT_ROOTS_ENV, "/dev")  # let it past the containment check
    scenario = write(tmp_path / "s.yaml", "transcript: t.ndjson\n")
    code, err = run_cli(capsys, "replay", str(scenario))
    assert code == EXIT_USAGE
    expected = {"directory": "a directory", "fifo": "a FIFO (named pipe)", "device": "a character device"}[kind]
    assert err == (
        f"error: {scenario}: $.transcript: {target} is {expected}, not a transcript file; name a regular .ndjson file\n"
    )


def test_a_transcript_outside_the_project_is_refused_from_a_scenario_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(root)
    path = scenario_file(root, "../../elsewhere/plain.ndjson")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: $.transcript: transcript '../../elsewhere/plain.ndjson' resolves to ")
    assert f"outside the project ({root.resolve()})" in message
    assert "--transcripts-dir" in message and TRANSCRIPT_ROOTS_ENV in message


@pytest.mark.parametrize("transcript", ["/etc/hostname", "../../../../../../../../etc/hostname"])
def test_an_absolute_or_climbing_transcript_path_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, transcript: str
) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(root)
    with pytest.raises(ScenarioError, match=r"\$\.transcript: .* outside the project"):
        load_scenario(scenario_file(root, transcript))


def test_a_symlink_inside_the_project_that_leads_outside_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(root)
    (root / "transcripts" / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(ScenarioError, match=r"\$\.transcript: .* outside the project"):
        load_scenario(scenario_file(root, "../transcripts/linked/plain.ndjson"))


def test_a_variant_transcript_outside_the_project_names_its_variant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(root)
    variants = {"a": {"transcript": "../transcripts/plain.ndjson"}, "b": {"transcript": "../../elsewhere/plain.ndjson"}}
    path = write(root / "scenarios" / "v.yaml", yaml.safe_dump({"variants": variants}))
    with pytest.raises(ScenarioError, match=r"\$\.variants\.b\.transcript: transcript '\.\./\.\./elsewhere"):
        load_scenario(path)


def test_a_transcript_outside_the_project_is_allowed_with_an_explicit_transcripts_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(root)
    path = scenario_file(root, "../../elsewhere/plain.ndjson")
    suite = run_suite([path], goldens_dir=root / "goldens", transcripts_dir=tmp_path / "elsewhere")
    assert len(suite.results) == 1  # loaded and replayed; the implied empty request does not match
    assert load_scenario(path, transcript_roots=[tmp_path / "elsewhere"]).transcript == "../../elsewhere/plain.ndjson"


def test_a_transcript_outside_the_project_is_allowed_with_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv(TRANSCRIPT_ROOTS_ENV, os.pathsep.join(["", str(tmp_path / "elsewhere")]))
    assert load_scenario(scenario_file(root, "../../elsewhere/plain.ndjson")).transcript is not None


def test_a_transcript_named_on_the_command_line_may_lie_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(root)
    assert main(["replay", str(tmp_path / "elsewhere" / "plain.ndjson"), "--json"]) == 0
    assert '"status":"completed"' in capsys.readouterr().out


def test_transcripts_inside_the_project_resolve_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(tmp_path / "elsewhere")  # the scenario file's project is found from the file
    assert load_scenario(scenario_file(root, "../transcripts/plain.ndjson")).transcript == "../transcripts/plain.ndjson"


# -- names that become golden file names ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "where", "why"),
    [
        ("name: ../x", r"\$\.name", "contains '/'"),
        ("name: a/b", r"\$\.name", "contains '/'"),
        ("name: '..'", r"\$\.name", "cannot name a file"),
        ('name: "a\\\\b"', r"\$\.name", "contains"),
        ('name: "a\\nb"', r"\$\.name", "contains '\\\\n'"),
        ("expect: {golden: ../x.ndjson}", r"\$\.expect\.golden", "has a '..' part"),
        ("expect: {golden: sub/../../x.ndjson}", r"\$\.expect\.golden", "has a '..' part"),
        ("expect: {golden: /abs/x.ndjson}", r"\$\.expect\.golden", "must be a relative path"),
        ("expect: {golden: 'C:x.ndjson'}", r"\$\.expect\.golden", "must be a relative path"),
        ("expect: {golden: ''}", r"\$\.expect\.golden", "must be a relative path"),
    ],
)
def test_a_name_or_golden_that_would_leave_the_goldens_directory_is_refused_at_load(
    tmp_path: Path, fields: str, where: str, why: str
) -> None:
    path = write(tmp_path / "s.yaml", f"transcript: x.ndjson\n{fields}\n")
    with pytest.raises(ScenarioError, match=rf"^{path}: {where}: .*{why}"):
        load_scenario(path)


def test_a_variant_name_with_a_separator_is_refused_at_load(tmp_path: Path) -> None:
    variants = {"../a": {"transcript": "a.ndjson"}, "b": {"transcript": "b.ndjson"}}
    path = write(tmp_path / "v.yaml", yaml.safe_dump({"variants": variants}))
    with pytest.raises(ScenarioError, match=r"\$\.variants: variant name '\.\./a' contains '/'"):
        load_scenario(path)


def test_a_golden_in_a_subdirectory_is_still_allowed(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "transcript: x.ndjson\nexpect: {golden: provider/case.ndjson}\n")
    assert load_scenario(path).golden_name() == "provider/case.ndjson"


def test_a_scenario_built_in_python_with_an_escaping_name_is_refused_before_it_runs(tmp_path: Path) -> None:
    # A scenario a bare transcript implies is named after the recording's header (it may hold a
    # '/', as "anthropic/exchange_rate" does), so construction accepts it; running it with a
    # golden refuses a name that leaves the goldens directory.
    scenario = Scenario(name="../escaped", transcript=str(PLAIN))
    (tmp_path / "goldens").mkdir()
    with pytest.raises(ScenarioError, match=r"\$\.name: the golden file '\.\./escaped\.ndjson' would lie outside"):
        run_scenario(scenario, goldens_dir=tmp_path / "goldens", update_goldens=True)
    assert not (tmp_path / "escaped.ndjson").exists()


def test_the_cli_reports_no_traceback_for_any_refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "s.yaml", "name: ../x\ntranscript: x.ndjson\n")
    code, err = run_cli(capsys, "run", str(path), "--report-dir", str(tmp_path / "reports"))
    assert code == EXIT_USAGE
    assert err.startswith(f"error: {path}: $.name: scenario name '../x' contains '/'")
    assert "Traceback" not in err and not (tmp_path / "reports").exists()


@posix_only
def test_a_fifo_in_the_transcripts_dir_is_skipped_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(root)
    os.mkfifo(root / "transcripts" / "pipe.ndjson")  # opening it for a blocking read would hang
    path = scenario_file(root, "../transcripts/plain.ndjson")
    suite = run_suite([path], goldens_dir=root / "goldens", transcripts_dir=root / "transcripts")
    assert [Path(t.path or "").name for t in suite.transcripts] == ["plain.ndjson"]


def test_a_command_the_core_refuses_names_the_scenario_file_and_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(TRANSCRIPT_ROOTS_ENV, str(PLAIN.parent))
    scenario = tmp_path / "no_thread.yaml"
    scenario.write_text(
        f"transcript: {PLAIN}\ncommands:\n- type: message.dispatch\n  thread_id: thread-1\n  text: hi\n"
    )
    assert main(["replay", str(scenario)]) == 2
    assert capsys.readouterr().err == (
        f"error: {scenario}: $.commands[0] (message.dispatch): message.dispatch: no thread 'thread-1'; "
        "dispatch thread.create first\n"
    )


def test_a_missing_transcript_names_the_scenario_file_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "missing.yaml"
    scenario.write_text("transcript: nowhere.ndjson\n")
    assert main(["replay", str(scenario)]) == 2
    assert capsys.readouterr().err == (
        f"error: {scenario}: $.transcript: {tmp_path / 'nowhere.ndjson'}: no such transcript file\n"
    )


def test_a_bare_transcript_whose_header_names_an_escaping_scenario_names_the_transcript_line(
    tmp_path: Path,
) -> None:
    lines = PLAIN.read_bytes().splitlines()
    header = yaml.safe_load(lines[0])
    header["scenario"] = "../../escape"
    transcript = tmp_path / "t.ndjson"
    transcript.write_bytes(b"\n".join([json.dumps(header).encode(), *lines[1:]]) + b"\n")
    with pytest.raises(TranscriptError) as raised:
        scenario_for_transcript(read_transcript(transcript), path=str(transcript))
    assert str(raised.value) == (
        f"{transcript}:1: $.scenario: '../../escape' cannot name a golden file (no absolute path, '..', "
        "backslash or NUL)"
    )
