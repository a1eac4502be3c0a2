"""Determinism is the product: the same scenarios give byte-identical event logs and goldens in
separate processes with different PYTHONHASHSEED values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import sys
from pathlib import Path
import orjson
from harness.scenario import run_suite
out = Path(sys.argv[1])
suite = run_suite(goldens_dir=out / "goldens", update_goldens=True)
for result in suite.results:
    lines = [orjson.dumps(e.to_json(), option=orjson.OPT_SORT_KEYS) for e in result.execution.events]
    (out / "events").mkdir(parents=True, exist_ok=True)
    (out / "events" / f"{result.scenario.name}.ndjson").write_bytes(b"\\n".join(lines) + b"\\n")
"""


def _run(out: Path, hash_seed: str) -> dict[str, bytes]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run([sys.executable, "-c", SCRIPT, str(out)], cwd=ROOT, env=env, check=True)
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.ndjson"))}


def test_two_processes_with_different_hash_seeds_write_identical_bytes(tmp_path: Path) -> None:
    first = _run(tmp_path / "a", "1")
    second = _run(tmp_path / "b", "4242")
    assert len(first) >= 16
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_regenerated_goldens_equal_the_committed_ones(tmp_path: Path) -> None:
    produced = _run(tmp_path, "0")
    committed = ROOT / "fixtures" / "goldens"
    goldens = {k: v for k, v in produced.items() if k.startswith("goldens/")}
    assert goldens
    assert [k for k, v in goldens.items() if (committed / k.removeprefix("goldens/")).read_bytes() != v] == []
