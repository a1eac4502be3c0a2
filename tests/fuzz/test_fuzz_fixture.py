"""The ``harness_replay`` fixture on broken transcripts, run with pytester as a user runs it.

A seeded sample of mutations of real transcripts (every protocol) is written into a pytester
project; one user test per file replays it with ``harness_replay``. Each test must either pass
or fail with a harness error that names the file: no INTERNALERROR, no traceback out of the
harness's own modules.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from harness.transcript.protocols import known_protocols
from tests.conftest import ROOT
from tests.fuzz.mutations import LINE_OPS, VALUE_OPS, Mutation, json_paths

pytest_plugins = ["pytester"]

TRANSCRIPTS = sorted((ROOT / "transcripts").rglob("*.ndjson"))


def protocol_of(path: Path) -> str:
    return str(orjson.loads(path.read_bytes().split(b"\n", 1)[0])["protocol"])


def sample(seed: int, per_protocol: int) -> list[tuple[str, bytes]]:
    """``per_protocol`` mutated transcripts of each protocol, chosen by ``seed``."""
    rng = random.Random(seed)
    chosen: list[tuple[str, bytes]] = []
    for protocol in sorted(known_protocols()):
        candidates = [p for p in TRANSCRIPTS if protocol_of(p) == protocol]
        for number in range(per_protocol if candidates else 0):
            path = rng.choice(candidates)
            text = path.read_bytes()
            lines = text.splitlines()
            line = rng.randrange(1, len(lines))
            paths = list(json_paths(orjson.loads(lines[line])))
            if paths and rng.random() < 0.8:
                mutation = Mutation(line, rng.choice(VALUE_OPS), rng.choice(paths), rng.randrange(1 << 16))
            else:
                mutation = Mutation(line, rng.choice(LINE_OPS), choice=rng.randrange(1 << 16))
            chosen.append((f"{protocol.replace('.', '_').replace('-', '_')}_{number}.ndjson", mutation.apply(text)))
    return chosen


def test_harness_replay_on_broken_transcripts_fails_tests_with_located_errors_only(pytester: pytest.Pytester) -> None:
    files = sample(seed=20261203, per_protocol=4)
    for name, data in files:
        (pytester.path / name).write_bytes(data)
    pytester.makepyfile(
        test_user="""
        import pytest

        @pytest.mark.parametrize("name", %r)
        def test_replay(harness_replay, name):
            harness_replay(name)
        """
        % [name for name, _ in files]
    )
    reprec = pytester.inline_run("-p", "no:cacheprovider")
    passed, skipped, failed = reprec.listoutcomes()
    assert len(passed) + len(failed) == len(files) and not skipped
    messages = [report.longrepr.reprcrash.message for report in failed]  # type: ignore[union-attr]
    # A located failure is the fixture's own: "Failed: harness_replay('x.ndjson'): x.ndjson:3: ...".
    unexplained = [m for m in messages if not m.startswith("Failed: harness_replay(")]
    assert not unexplained, "\n".join(unexplained)
    unlocated = [m for m in messages if not any(f"{name}:" in m or "$" in m for name, _ in files)]
    assert not unlocated, "\n".join(unlocated)
