"""Fuzz the bundled scenario files through the real command line, in process.

Each example copies nothing: the project (``scenarios/`` and ``transcripts/``) is copied once into a
temporary directory; one scenario file there is replaced by a mutated one (a value at a path
deleted, retyped, deepened, swapped for an alias bomb; or the text truncated or made invalid
UTF-8), and ``harness replay --json`` and ``harness goldens update`` run on it. Every outcome must
be an exit status of 0, 1 or 2 (never an exception), an error that names the scenario file, and
no file written outside the goldens directory.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from harness.cli import main
from tests.conftest import ROOT
from tests.fuzz.mutations import json_paths
from tests.fuzz.test_fuzz_transcripts import fuzz_settings

SCENARIOS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "scenarios").rglob("*.yaml"))
ALIAS_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
)
TEXT_OPS = ("truncate", "bad_utf8", "alias_bomb", "deep_yaml", "not_a_mapping")
VALUE_OPS = ("delete", "null", "number", "string", "list", "mapping", "deep", "traversal", "absolute", "bomb")


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "scenarios", root / "scenarios")
    shutil.copytree(ROOT / "transcripts", root / "transcripts")
    (root / "pyproject.toml").write_text('[project]\nname = "fuzzed"\n')
    (root / "goldens").mkdir()
    yield root


def _value(op: str, value: Any) -> Any:
    return {
        "null": None,
        "number": 7,
        "string": "x",
        "list": [value],
        "mapping": {"value": value},
        "deep": _deep(200),
        "traversal": "../../../outside",
        "absolute": "/tmp/outside.ndjson",
    }[op]


def _deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


@st.composite
def mutated_scenarios(draw: st.DrawFn, text: str) -> tuple[str, bytes]:
    if draw(st.integers(0, 3)) == 0:
        op = draw(st.sampled_from(TEXT_OPS))
        data = text.encode()
        cut = draw(st.integers(0, len(data)))
        if op == "truncate":
            return op, data[:cut]
        if op == "bad_utf8":
            return op, data[:cut] + b"\xff\xfe\xfd" + data[cut:]
        if op == "alias_bomb":
            return op, (ALIAS_BOMB + "\n" + text).encode()
        if op == "deep_yaml":
            # Far past the depth limit; the 100,000-deep case has its own test (PyYAML's scanner
            # is quadratic in depth, so it is too slow to repeat here).
            return op, ("name: deep\ncommands: " + "[" * 5_000 + "]" * 5_000 + "\n").encode()
        return op, b"- just\n- a list\n"
    document = yaml.safe_load(text)
    paths = list(json_paths(document))
    path = draw(st.sampled_from(paths))
    op = draw(st.sampled_from(VALUE_OPS))
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if op == "delete":
        del parent[path[-1]]
        body = yaml.safe_dump(document, sort_keys=False)
    elif op == "bomb":
        parent[path[-1]] = "__BOMB__"
        body = ALIAS_BOMB + "\n" + yaml.safe_dump(document, sort_keys=False).replace("__BOMB__", "*i")
    else:
        parent[path[-1]] = _value(op, parent[path[-1]])
        body = yaml.safe_dump(document, sort_keys=False)
    return f"{op} at {path}", body.encode()


@given(data=st.data(), name=st.sampled_from(SCENARIOS))
@fuzz_settings(default=40)
def test_a_mutated_scenario_file_gives_a_located_error_and_writes_only_goldens(
    project: Path, data: st.DataObject, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = project / name
    pristine = (ROOT / name).read_text()
    what, mutated = data.draw(mutated_scenarios(pristine), label="mutation")
    goldens = project / "goldens"
    before = files_under(project) - files_under(goldens)
    target.write_bytes(mutated)
    try:
        capsys.readouterr()
        for argv in (
            ["replay", "--json", str(target)],
            ["goldens", "update", str(target), "--goldens-dir", str(goldens)],
        ):
            status = main(argv)
            out, err = capsys.readouterr()
            assert status in (0, 1, 2), f"{what}: {argv[0]} exited {status}"
            assert "Traceback" not in out + err
            if status == 2:
                assert Path(name).name in err, f"{what}: the error does not name the scenario file: {err}"
        after = files_under(project) - files_under(goldens)
        assert after == before, f"{what}: files written outside the goldens directory: {sorted(after - before)}"
    finally:
        target.write_text(pristine)
