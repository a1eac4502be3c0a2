"""Every bundled transcript loads, and survives a read -> dump -> read round trip unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.transcript import dump_transcript, parse_transcript, read_transcript
from harness.transcript.protocols import known_protocols

ROOT = Path(__file__).resolve().parents[2]
T3CODE = sorted(
    [*(ROOT / "transcripts" / "t3code").rglob("*.ndjson"), *(ROOT / "transcripts" / "t3code-extra").glob("*.ndjson")]
)
ALL = sorted((ROOT / "transcripts").rglob("*.ndjson"))


def name(path: Path) -> str:
    return path.relative_to(ROOT / "transcripts").as_posix()


def test_the_t3code_transcripts_are_here() -> None:
    assert len(T3CODE) == 27  # 20 scenario transcripts + 7 extra


@pytest.mark.parametrize("path", T3CODE, ids=[name(p) for p in T3CODE])
def test_t3code_transcript_loads(path: Path) -> None:
    transcript = read_transcript(path)
    assert transcript.protocol in known_protocols()
    assert transcript.entries
    assert len(transcript.lines) == len(transcript.entries)
    assert transcript.has_outbound


@pytest.mark.parametrize("path", ALL, ids=[name(p) for p in ALL])
def test_round_trip_keeps_every_record(path: Path) -> None:
    first = read_transcript(path)
    dumped = dump_transcript(first.header, first.entries)
    again = parse_transcript(dumped)
    assert (again.header, again.entries) == (first.header, first.entries)
    assert dump_transcript(again.header, again.entries) == dumped
