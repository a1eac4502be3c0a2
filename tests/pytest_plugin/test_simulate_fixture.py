"""The harness_simulate fixture and marker, run as users run them (pytester, the plugin by entry point)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TARGETS = Path(__file__).resolve().parents[1] / "simulate" / "sim_targets.py"

TEST_FILE = f"""
import pytest
from harness.simulate.target import load_target

TARGETS = {str(TARGETS)!r}


@pytest.mark.harness_simulate(seeds=12)
def test_correct(harness_simulate):
    result = harness_simulate.check(load_target(TARGETS + "::correct"))
    assert len(result.runs) == 12


@pytest.mark.harness_simulate(seeds=12)
def test_buggy(harness_simulate):
    harness_simulate.check(load_target(TARGETS + "::no_retry_mid_stream"))


def test_default_seeds(harness_simulate):
    assert list(harness_simulate.seeds) == list(range(100))


@pytest.mark.harness_simulate(seeds=3, colour="red")
def test_bad_marker(harness_simulate):
    pass
"""


def test_the_fixture_sweeps_the_markers_seeds_and_fails_with_reproductions(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sim=TEST_FILE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines(["*harness_simulate takes seeds, start, faults; found*colour*"])
    result.stdout.fnmatch_lines(
        [
            "*simulated runs of *no_retry_mid_stream failed*",
            "*reproduce: harness simulate *no_retry_mid_stream --seed * --plan *",
        ]
    )


def test_the_seeds_option_overrides_every_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_sim="""
import pytest

@pytest.mark.harness_simulate(seeds=5)
def test_seeds(harness_simulate):
    assert list(harness_simulate.seeds) == [7, 8, 9]
"""
    )
    pytester.runpytest("-p", "no:cacheprovider", "--harness-sim-seeds", "7..9").assert_outcomes(passed=1)
    bad = pytester.runpytest("-p", "no:cacheprovider", "--harness-sim-seeds", "x")
    bad.stdout.fnmatch_lines(["*--harness-sim-seeds: expected seeds as A..B*"])
