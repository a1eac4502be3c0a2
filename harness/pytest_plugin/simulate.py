"""The ``harness_simulate`` fixture and marker: run a simulation target under many seeds in a test.

::

    @pytest.mark.harness_simulate(seeds=200)
    def test_the_desk_survives_faults(harness_simulate):
        harness_simulate.check(sims.desk)

:meth:`HarnessSimulate.check` sweeps the target over the marker's seeds (``seeds=N`` is ``0..N-1``;
``start=`` moves the range; ``faults=`` limits the kinds), shrinks every failure and fails the
test with a table of failures by signature and the one-line reproduction of each. The option
``--harness-sim-seeds A..B`` overrides the range for a whole run (a nightly job runs more seeds
than a pull request). :meth:`HarnessSimulate.sweep` returns the
:class:`~harness.simulate.sweep.SweepResult` instead of failing, for tests that expect a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pytest

MARKER = "harness_simulate"
MARKER_HELP = (
    "harness_simulate(seeds=100, start=0, faults=None): the seeds (and fault kinds) the harness_simulate "
    "fixture sweeps a simulation target over"
)
DEFAULT_SEEDS = 100


class HarnessSimulate:
    """What the ``harness_simulate`` fixture gives a test; see the module docstring."""

    def __init__(self, seeds: Sequence[int], faults: Iterable[str] | None) -> None:
        self.seeds = seeds
        self.faults = tuple(faults) if faults is not None else None

    def sweep(self, target: Any, *, seeds: Sequence[int] | None = None, faults: Iterable[str] | None = None) -> Any:
        """The sweep's result (:class:`~harness.simulate.sweep.SweepResult`); failures are shrunk."""
        from harness.simulate.sweep import sweep

        kinds = tuple(faults) if faults is not None else self.faults
        return sweep(target, list(seeds if seeds is not None else self.seeds), kinds=kinds)

    def check(self, target: Any, *, seeds: Sequence[int] | None = None, faults: Iterable[str] | None = None) -> Any:
        """Sweep ``target`` and fail the test on any failing run, naming each signature's reproduction."""
        result = self.sweep(target, seeds=seeds, faults=faults)
        if result.ok:
            return result
        lines = [
            f"{result.failed} of {len(result.runs)} simulated runs of {result.target} failed "
            f"({len(result.groups)} signature(s)):"
        ]
        for group in result.groups:
            lines.append(f"  [{group.signature}] seeds {_seeds(group.seeds)}: {group.message}")
            lines.append(f"    reproduce: {group.repro}")
        pytest.fail("\n".join(lines), pytrace=False)


def _seeds(seeds: Sequence[int]) -> str:
    shown = ", ".join(str(s) for s in seeds[:8])
    return shown + (f" and {len(seeds) - 8} more" if len(seeds) > 8 else "")


@pytest.fixture
def harness_simulate(request: pytest.FixtureRequest) -> HarnessSimulate:
    """Sweep simulation targets over the ``harness_simulate`` marker's seeds (see the module docstring)."""
    from harness.cli.simulate import seed_range

    marker = request.node.get_closest_marker(MARKER)
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    unknown = sorted(set(options) - {"seeds", "start", "faults"})
    if unknown:
        raise pytest.UsageError(f"{request.node.nodeid}: harness_simulate takes seeds, start, faults; found {unknown}")
    count = int(options.get("seeds", DEFAULT_SEEDS))
    start = int(options.get("start", 0))
    seeds: Sequence[int] = range(start, start + count)
    override = request.config.getoption("harness_sim_seeds", None)
    if override:
        try:
            seeds = seed_range(override)
        except Exception as exc:  # argparse's error type: say it as a usage error
            raise pytest.UsageError(f"--harness-sim-seeds: {exc}") from None
    return HarnessSimulate(seeds, options.get("faults"))
