"""The committed Anthropic transcripts are exactly what the importer makes of the corpus today.

If this fails after an importer change, regenerate with the commands in
``transcripts/anthropic/README.md`` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.record import import_source, source_stem
from harness.transcript import read_transcript

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "fixtures" / "corpus"
TRANSCRIPTS = ROOT / "transcripts" / "anthropic"

# corpus folder, file pattern, --protocol (None: detected from the cassette's URLs), expected count
SOURCES = [
    ("anthropic-sdk", "*.sse.txt", "anthropic.messages", 7),
    ("pydantic-ai-cassettes", "anthropic__*.yaml", None, 8),
    ("vercel-ai-fixtures", "anthropic-*.ndjson", "anthropic.messages", 9),
]

CASES = [
    (path, protocol) for folder, pattern, protocol, _ in SOURCES for path in sorted((CORPUS / folder).glob(pattern))
]


def committed_path(source: Path) -> Path:
    return TRANSCRIPTS / source.parent.name / f"{source_stem(source)}.ndjson"


@pytest.mark.parametrize(
    ("folder", "pattern", "expected"), [(f, p, n) for f, p, _, n in SOURCES], ids=[s[0] for s in SOURCES]
)
def test_corpus_folder_holds_the_expected_anthropic_sources(folder, pattern, expected):
    assert len(list((CORPUS / folder).glob(pattern))) == expected


@pytest.mark.parametrize(("source", "protocol"), CASES, ids=[path.name for path, _ in CASES])
def test_committed_transcript_matches_a_fresh_import(tmp_path, source, protocol):
    fresh = tmp_path / committed_path(source).name
    import_source(source, fresh, protocol=protocol)
    committed = committed_path(source)
    assert committed.exists(), f"{committed.relative_to(ROOT)} is missing; regenerate it"
    assert fresh.read_bytes() == committed.read_bytes(), (
        f"{committed.relative_to(ROOT)} is stale; regenerate it (transcripts/anthropic/README.md)"
    )


@pytest.mark.parametrize(("source", "protocol"), CASES, ids=[path.name for path, _ in CASES])
def test_committed_transcript_loads(source, protocol):
    transcript = read_transcript(committed_path(source))
    assert transcript.header.protocol == "anthropic.messages"
    assert transcript.header.metadata["source"] == source.name


def test_no_committed_transcript_lacks_a_source():
    expected = {committed_path(path) for path, _ in CASES}
    # transcripts/anthropic/derived/ holds hand-derived transcripts, documented in its README.
    imported = {p for p in TRANSCRIPTS.glob("*/*.ndjson") if p.parent.name != "derived"}
    assert imported == expected
