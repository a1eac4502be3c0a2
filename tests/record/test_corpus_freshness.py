"""The committed transcripts are exactly what the importer makes of the corpus today.

If this fails after an importer change, regenerate with the commands in
``transcripts/anthropic/README.md`` or ``transcripts/openai/README.md`` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.record import import_source, source_stem
from harness.transcript import read_transcript

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "fixtures" / "corpus"
TRANSCRIPTS = ROOT / "transcripts"

# family, corpus folder, file pattern, --protocol (None: detected from the URLs), expected protocol, count
SOURCES = [
    ("anthropic", "anthropic-sdk", "*.sse.txt", "anthropic.messages", "anthropic.messages", 7),
    ("anthropic", "pydantic-ai-cassettes", "anthropic__*.yaml", None, "anthropic.messages", 8),
    ("anthropic", "vercel-ai-fixtures", "anthropic-*.ndjson", "anthropic.messages", "anthropic.messages", 9),
    ("openai", "openai-sdk", "chat__*.sse.txt", "openai.chat", "openai.chat", 6),
    ("openai", "pydantic-ai-cassettes", "openai-chat__*.yaml", None, "openai.chat", 2),
    ("openai", "pydantic-ai-cassettes", "chat-compat-*.yaml", None, "openai.chat", 2),
    ("openai", "pydantic-ai-cassettes", "openai-responses__*.yaml", None, "openai.responses", 6),
    ("openai", "pydantic-ai-cassettes", "responses-compat-*.yaml", None, "openai.responses", 1),
    ("openai", "vercel-ai-fixtures", "openai-responses-*.ndjson", "openai.responses", "openai.responses", 4),
    ("openai", "vercel-ai-fixtures", "responses-compat-*.ndjson", "openai.responses", "openai.responses", 1),
    ("openai", "vercel-ai-fixtures", "chat-compat-*.ndjson", "openai.chat", "openai.chat", 1),
]

CASES = [
    (family, path, protocol, expected)
    for family, folder, pattern, protocol, expected, _ in SOURCES
    for path in sorted((CORPUS / folder).glob(pattern))
]
IDS = [path.name for _, path, _, _ in CASES]


def committed_path(family: str, source: Path) -> Path:
    return TRANSCRIPTS / family / source.parent.name / f"{source_stem(source)}.ndjson"


@pytest.mark.parametrize(
    ("folder", "pattern", "expected"),
    [(f, p, n) for _, f, p, _, _, n in SOURCES],
    ids=[f"{s[1]}/{s[2]}" for s in SOURCES],
)
def test_corpus_folder_holds_the_expected_sources(folder, pattern, expected):
    assert len(list((CORPUS / folder).glob(pattern))) == expected


@pytest.mark.parametrize(("family", "source", "protocol", "expected"), CASES, ids=IDS)
def test_committed_transcript_matches_a_fresh_import(tmp_path, family, source, protocol, expected):
    fresh = tmp_path / committed_path(family, source).name
    import_source(source, fresh, protocol=protocol)
    committed = committed_path(family, source)
    assert committed.exists(), f"{committed.relative_to(ROOT)} is missing; regenerate it"
    assert fresh.read_bytes() == committed.read_bytes(), (
        f"{committed.relative_to(ROOT)} is stale; regenerate it (transcripts/{family}/README.md)"
    )


@pytest.mark.parametrize(("family", "source", "protocol", "expected"), CASES, ids=IDS)
def test_committed_transcript_loads_with_the_expected_protocol(family, source, protocol, expected):
    transcript = read_transcript(committed_path(family, source))
    assert transcript.header.protocol == expected
    assert transcript.header.metadata["source"] == source.name


def test_no_committed_transcript_lacks_a_source():
    expected = {committed_path(family, path) for family, path, _, _ in CASES}
    # transcripts/anthropic/derived/ holds hand-derived transcripts, documented in its README.
    imported = {
        p
        for family in ("anthropic", "openai")
        for p in (TRANSCRIPTS / family).glob("*/*.ndjson")
        if p.parent.name != "derived"
    }
    assert imported == expected
