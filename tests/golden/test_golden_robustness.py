"""Golden files that cannot be read, and golden paths that would leave the goldens directory.

A corrupt golden (not JSON, not UTF-8, a directory, a FIFO) is a ``golden`` failure of its
scenario naming the file and the line; the run goes on with the other scenarios. A golden path
that resolves outside the goldens directory (``..``, an absolute path, a symlinked subdirectory)
is refused before anything runs or is written.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson
import pytest
import yaml

from harness.cli import main
from harness.errors import GoldenError, GoldenMismatch, ScenarioError
from harness.golden import check_golden, dump_golden
from harness.golden.files import golden_path_inside
from harness.scenario import load_scenario, run_scenario, run_suite

ROOT = Path(__file__).resolve().parents[2]
PLAIN = ROOT / "transcripts/anthropic/pydantic-ai-cassettes/anthropic__plain_text_stream.ndjson"
REQUEST = {
    "path": "/v1/messages",
    "query": {"beta": "true"},
    "headers": {"accept": "application/json", "content-type": "application/json"},
    "params": {"max_tokens": 32000, "model": "claude-sonnet-4-5", "stream": True},
}
COMMANDS = [
    {"type": "thread.create", "thread_id": "t"},
    {"type": "message.dispatch", "text": "What is 1+1? Answer with just the number."},
]
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project (the working directory) with two passing scenarios, ``one`` and ``two``, whose
    goldens are in ``goldens/``."""
    (tmp_path / "transcripts").mkdir()
    shutil.copyfile(PLAIN, tmp_path / "transcripts" / "plain.ndjson")
    for name in ("one", "two"):
        scenario(tmp_path, name)
    monkeypatch.chdir(tmp_path)
    assert main(["goldens", "update", "scenarios", "--goldens-dir", "goldens"]) == EXIT_OK
    return tmp_path


def scenario(root: Path, stem: str, **extra: object) -> Path:
    doc = {"name": stem, "transcript": "../transcripts/plain.ndjson", "request": REQUEST, "commands": COMMANDS}
    path = root / "scenarios" / f"{stem}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({**doc, **extra}))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_suite_cli(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    return run(capsys, "run", "scenarios", "--goldens-dir", "goldens", "--report-dir", "reports")


# -- corrupt goldens: a located failure of that scenario --------------------------------------------


def test_a_golden_that_is_not_json_fails_its_scenario_naming_file_and_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    golden = project / "goldens" / "one.ndjson"
    lines = golden.read_bytes().split(b"\n")
    golden.write_bytes(b"\n".join([lines[0], b"{not json", *lines[2:]]))
    code, out, err = run_suite_cli(capsys)
    assert code == EXIT_FAILED, err
    assert "FAIL one" in out and "PASS two" in out  # the run went on with the other scenario
    assert f"golden: {Path('goldens') / 'one.ndjson'}:2: not valid JSON at column 2 (" in out
    assert "expected one JSON object per line" in out
    assert "Traceback" not in out + err


def test_a_golden_that_is_not_utf8_fails_its_scenario_naming_the_line_and_byte_offset(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    golden = project / "goldens" / "one.ndjson"
    data = golden.read_bytes()
    second = data.index(b"\n") + 1
    golden.write_bytes(data[:second] + b"\xff" + data[second:])
    code, out, _ = run_suite_cli(capsys)
    assert code == EXIT_FAILED
    assert f"golden: {Path('goldens') / 'one.ndjson'}:2: not valid UTF-8 at byte offset {second}" in out
    assert "PASS two" in out


def test_an_empty_golden_fails_its_scenario_saying_what_was_expected(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "goldens" / "one.ndjson").write_bytes(b"")
    code, out, _ = run_suite_cli(capsys)
    assert code == EXIT_FAILED
    assert "the golden file is empty; expected a header line and one JSON object per event" in out


def test_a_golden_that_is_a_directory_fails_its_scenario_and_is_not_replaced(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    golden = project / "goldens" / "one.ndjson"
    golden.unlink()
    golden.mkdir()
    code, out, _ = run_suite_cli(capsys)
    assert code == EXIT_FAILED
    assert f"golden: {Path('goldens') / 'one.ndjson'}: expected a golden file (a regular file of JSON lines), " in out
    assert "found a directory" in out and "PASS two" in out
    code, out, _ = run(capsys, "goldens", "update", "scenarios", "--goldens-dir", "goldens")
    assert code == EXIT_FAILED and "found a directory" in out
    assert golden.is_dir()


@posix_only
def test_a_golden_that_is_a_fifo_fails_its_scenario_without_blocking(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    golden = project / "goldens" / "one.ndjson"
    golden.unlink()
    os.mkfifo(golden)  # nobody writes: a blocking read would hang
    code, out, _ = run_suite_cli(capsys)
    assert code == EXIT_FAILED
    assert "found a FIFO (named pipe)" in out and "PASS two" in out


def test_a_corrupt_golden_is_rewritten_by_goldens_update(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    golden = project / "goldens" / "one.ndjson"
    good = golden.read_bytes()
    golden.write_bytes(b"\xff{not json\n")
    code, out, _ = run(capsys, "goldens", "update", "scenarios", "--goldens-dir", "goldens")
    assert code == EXIT_OK, out
    assert golden.read_bytes() == good


def test_check_golden_names_the_line_of_a_corrupt_golden(tmp_path: Path) -> None:
    golden = tmp_path / "g.ndjson"
    golden.write_bytes(b'{"format": "x"}\n{"type": "a"}\n[1,\n')
    with pytest.raises(GoldenError) as caught:
        check_golden(golden, dump_golden("g", [{"type": "a"}], deltas=None))
    assert (caught.value.path, caught.value.line) == (str(golden), 3)
    assert str(caught.value).startswith(f"{golden}:3: not valid JSON")


def test_a_golden_with_the_same_values_written_differently_is_a_mismatch_not_a_crash(tmp_path: Path) -> None:
    content = dump_golden("g", [{"type": "a", "n": 1}], deltas=None)
    golden = tmp_path / "g.ndjson"
    golden.write_bytes(content.replace(b"\n", b"\r\n"))
    with pytest.raises(GoldenMismatch, match="the same JSON values written differently"):
        check_golden(golden, content)


# -- containment: nothing outside the goldens directory -------------------------------------------


def test_golden_path_inside_refuses_what_leaves_the_directory(tmp_path: Path) -> None:
    goldens = tmp_path / "goldens"
    (goldens / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (goldens / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    (goldens / "file.ndjson").symlink_to(tmp_path / "outside" / "x.ndjson")
    assert golden_path_inside(goldens, "sub/a.ndjson") == goldens / "sub" / "a.ndjson"
    assert golden_path_inside(goldens, "a.ndjson") == goldens / "a.ndjson"
    for name in ("", "../a.ndjson", "sub/../../a.ndjson", str(tmp_path / "a.ndjson"), "linked/a.ndjson", "file.ndjson"):
        assert golden_path_inside(goldens, name) is None, name


def test_a_symlinked_subdirectory_in_the_goldens_dir_cannot_take_a_golden_outside(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = project / "outside"
    outside.mkdir()
    (project / "goldens" / "linked").symlink_to(outside, target_is_directory=True)
    path = scenario(project, "three", expect={"golden": "linked/three.ndjson"})
    code, _, err = run(capsys, "goldens", "update", "scenarios", "--goldens-dir", "goldens")
    assert code == EXIT_USAGE
    assert err.startswith(
        f"error: {Path('scenarios') / path.name}: $.expect.golden: the golden file 'linked/three.ndjson' "
        "would lie outside the goldens directory goldens (symlinks followed)"
    )
    assert list(outside.iterdir()) == []


def test_a_golden_symlinked_to_a_file_outside_is_neither_read_nor_replaced(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = project / "secret.txt"
    outside.write_text("not yours\n")
    golden = project / "goldens" / "one.ndjson"
    golden.unlink()
    golden.symlink_to(outside)
    code, _, err = run(capsys, "goldens", "update", "scenarios", "--goldens-dir", "goldens")
    assert code == EXIT_USAGE
    assert "$.name: the golden file 'one.ndjson' would lie outside the goldens directory" in err
    assert outside.read_text() == "not yours\n" and golden.is_symlink()


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"expect": {"golden": "../escaped.ndjson"}}, "$.expect.golden"),
        ({"expect": {"golden": "ABSOLUTE"}}, "$.expect.golden"),
        ({"name": "../escaped"}, "$.name"),
    ],
)
def test_goldens_update_refuses_a_scenario_whose_golden_would_leave_the_goldens_dir(
    project: Path, capsys: pytest.CaptureFixture[str], extra: dict[str, object], field: str
) -> None:
    if extra.get("expect") == {"golden": "ABSOLUTE"}:
        extra = {"expect": {"golden": str(project / "escaped.ndjson")}}
    path = scenario(project, "three", **extra)
    code, _, err = run(capsys, "goldens", "update", "scenarios", "--goldens-dir", "goldens")
    assert code == EXIT_USAGE
    assert err.startswith(f"error: {Path('scenarios') / path.name}: {field}: ")
    assert not (project / "escaped.ndjson").exists()


def test_a_variant_golden_through_a_symlink_names_the_fields_and_nothing_runs(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = project / "outside"
    outside.mkdir()
    (project / "goldens" / "linked").symlink_to(outside, target_is_directory=True)
    variant = {"transcript": "../transcripts/plain.ndjson", "request": REQUEST}
    path = project / "scenarios" / "v.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "v",
                "variants": {"a": variant, "b": variant},
                "commands": COMMANDS,
                "expect": {"golden": "linked/v"},
            }
        )
    )
    ran: list[str] = []
    monkeypatch.setattr("harness.scenario.suite.run_scenario", lambda *a, **k: ran.append("ran"))
    with pytest.raises(ScenarioError, match=r"v\.yaml: \$\.expect\.golden: the golden file 'linked/v\.a\.ndjson'"):
        run_suite([Path("scenarios")], goldens_dir=Path("goldens"), update_goldens=True)
    assert ran == [] and list(outside.iterdir()) == []


def test_a_corrupt_golden_of_one_variant_fails_that_variant_only(project: Path) -> None:
    variant = {"transcript": "../transcripts/plain.ndjson", "request": REQUEST}
    path = project / "scenarios" / "v.yaml"
    path.write_text(yaml.safe_dump({"name": "v", "variants": {"a": variant, "b": variant}, "commands": COMMANDS}))
    goldens = project / "goldens"
    run_scenario(load_scenario(path), goldens_dir=goldens, update_goldens=True)
    (goldens / "v.b.ndjson").write_bytes(orjson.dumps({"format": "x"}) + b"\n\xfe\n")
    result = run_scenario(load_scenario(path), goldens_dir=goldens)
    assert [(f.kind, f.message.split(": ")[0]) for f in result.failures] == [
        ("golden", f"[b] {goldens / 'v.b.ndjson'}:2")
    ]
