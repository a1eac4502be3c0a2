"""The benchmark's inputs are real: generated streams replay like the recordings they come from.

``benchmarks/streams.py`` inflates a bundled recording per protocol; these tests hold it to what
the benchmark relies on: the transcript has exactly the requested number of entries, is clean for
``harness validate``, replays ``completed`` without a protocol violation, and means to the official
SDK's stream accumulator (fed the same bytes, through vcrpy or a mock transport) what it means to the
harness. Timing is measured by the benchmark itself, never here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

import harness
from harness.cli import main as harness_cli

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_replay  # noqa: E402
import streams  # noqa: E402

SMALL = 200
HTTP = ("anthropic.messages", "openai.responses", "openai.chat")


def entries(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()[1:] if line.strip()]


def replayed(target: Path) -> dict[str, Any]:
    return harness.replay_summary(harness.replay_transcript(target))


def harness_view(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"text": m["text"] or "", "tool_calls": [(c["name"], c["arguments"]) for c in m["tool_calls"]]}
        for m in summary["messages"]
    ]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, streams.Generated]:
    folder = tmp_path_factory.mktemp("streams")
    return {p: streams.generate(p, SMALL, folder / f"{p}.ndjson") for p in streams.PROTOCOLS}


@pytest.mark.parametrize("protocol", streams.PROTOCOLS)
def test_a_generated_stream_replays_completed_without_violations(
    protocol: str, generated: dict[str, streams.Generated], capsys: pytest.CaptureFixture[str]
) -> None:
    made = generated[protocol]
    summary = replayed(made.target)
    assert summary["status"] == "completed", summary["error"]
    assert summary["protocol"] == protocol
    assert not [e for e in summary["events"] if e["type"] == "protocol.violation"]
    assert harness_cli(["validate", str(made.transcript)]) == 0
    assert capsys.readouterr().out.strip().endswith(": ok")


@pytest.mark.parametrize("protocol", streams.PROTOCOLS)
def test_the_stream_holds_exactly_the_events_asked_for(protocol: str, generated: dict[str, streams.Generated]) -> None:
    made = generated[protocol]
    assert made.events == SMALL
    assert len(entries(made.transcript)) == SMALL
    header = orjson.loads(made.transcript.read_bytes().splitlines()[0])
    assert header["protocol"] == protocol
    assert header["metadata"]["events"] == SMALL
    assert header["metadata"]["generatedFrom"] == streams.BASES[protocol].transcript


@pytest.mark.parametrize("protocol", streams.PROTOCOLS)
def test_the_fixed_overhead_is_the_base_recording(protocol: str, tmp_path: Path) -> None:
    """Below the base recording's entry count nothing can be generated; at it, the recording comes back."""
    base = ROOT / streams.BASES[protocol].transcript
    minimum = streams.minimum_events(protocol)
    assert minimum == len(entries(base))
    with pytest.raises(ValueError, match=f"at least {minimum} events"):
        streams.generate(protocol, minimum - 1, tmp_path / "short.ndjson")
    made = streams.generate(protocol, minimum, tmp_path / "base.ndjson")
    ours, recorded = entries(made.transcript), entries(base)
    if protocol == "openai.responses":  # the documented fix: the history echoes the streamed text
        differing = [i for i, (a, b) in enumerate(zip(ours, recorded, strict=True)) if a != b]
        assert len(differing) == 1 and recorded[differing[0]]["type"] == "expect_outbound"
    else:
        assert ours == recorded


def test_generation_is_deterministic(tmp_path: Path) -> None:
    for protocol in streams.PROTOCOLS:
        first = streams.generate(protocol, 500, tmp_path / "a.ndjson")
        second = streams.generate(protocol, 500, tmp_path / "b.ndjson")
        assert first.transcript.read_bytes() == second.transcript.read_bytes()
        assert first.parts == second.parts


def test_every_part_grows_and_its_restatements_follow(generated: dict[str, streams.Generated]) -> None:
    """Text parts keep the recorded text as a prefix; argument parts stay JSON objects with the note added."""
    for protocol, made in generated.items():
        summary = replayed(made.target)
        texts = [m["text"] or "" for m in summary["messages"]]
        for part in made.parts:
            if part.startswith("{"):
                assert streams.NOTE_KEY in orjson.loads(part)
            else:
                assert any(part in text for text in texts), (protocol, part[:60])


@pytest.mark.parametrize("protocol", HTTP)
def test_the_sdk_accumulator_agrees_with_the_replay(protocol: str, generated: dict[str, streams.Generated]) -> None:
    """Fed the same bytes over a mock transport, the SDK's stream helper ends with the text and tool
    arguments the harness's replay reports, response by response."""
    made = generated[protocol]
    exchanges = bench_replay.exchanges_of(made.transcript)
    calls = bench_replay.sdk_calls(protocol, exchanges)
    results = bench_replay.mock_sdk(protocol, calls, exchanges, [e.content() for e in exchanges])
    sdk = [bench_replay.sdk_view(protocol, r) for r in results]
    ours = harness_view(replayed(made.target))
    assert sdk == ours
    assert any(call for view in ours for call in view["tool_calls"])
    assert all(view["text"] for view in ours[-1:])


def test_vcrpy_plays_every_interaction_into_the_sdk(generated: dict[str, streams.Generated], tmp_path: Path) -> None:
    """The vcrpy contender replays genuinely: the SDK's transport is intercepted and each interaction played."""
    protocol = "anthropic.messages"
    made = generated[protocol]
    exchanges = bench_replay.exchanges_of(made.transcript)
    cassette = tmp_path / "cassette.json"
    bench_replay.write_cassette(exchanges, cassette)
    calls = bench_replay.sdk_calls(protocol, exchanges)
    results = bench_replay.vcrpy_sdk(protocol, calls, cassette)  # raises unless every interaction played
    assert [bench_replay.sdk_view(protocol, r) for r in results] == harness_view(replayed(made.target))


def test_the_harness_contender_checks_its_golden(generated: dict[str, streams.Generated], tmp_path: Path) -> None:
    item = bench_replay.Input("chat", "openai.chat", generated["openai.chat"].transcript, None, SMALL, SMALL)
    golden = tmp_path / "golden.ndjson"
    bench_replay.write_golden(item, golden)
    stages: dict[str, float] = {}
    bench_replay.harness_replay(item, golden, stages)
    assert set(stages) == set(bench_replay.STAGES)
    golden.write_bytes(golden.read_bytes().replace(b"thread.created", b"thread.renamed", 1))
    with pytest.raises(harness.HarnessError):
        bench_replay.harness_replay(item, golden)


def test_a_quick_run_on_one_small_stream(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["--sizes", "100", "--protocols", "openai.chat", "--rounds", "2", "--no-bundled", "--no-scaling"]
    assert bench_replay.main([*argv, "--quick", "--timeout", "60", "--json", str(tmp_path / "out.json")]) == 0
    out = capsys.readouterr().out
    assert "openai.chat 100" in out and "vcrpy+SDK" in out
    data = orjson.loads((tmp_path / "out.json").read_bytes())
    (row,) = data["replay"]
    assert row["events"] == 100 and not row["failed"] and not row["timed_out"]
    assert len(row["ratios"]["a/b"]) == 2 and len(row["ratios"]["a/d"]) == 2


def test_the_scaling_probe_reads_one_child_alone(generated: dict[str, streams.Generated]) -> None:
    seconds, rss, status = bench_replay.replay_subprocess(generated["openai.chat"].target, timeout=60)
    assert status == "completed"
    assert seconds is not None and seconds > 0
    assert rss is not None and rss > 10_000  # KiB: a Python process importing the harness
