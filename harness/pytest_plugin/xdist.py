"""pytest-xdist support, registered only when xdist is installed.

Workers run the scenario items and keep their results in their own :class:`HarnessSession`; at
worker session finish the plugin puts a plain-data summary into ``config.workeroutput`` (xdist's
channel from worker to controller, the one pytest-cov uses). The controller folds each summary in
when the worker goes down (:func:`pytest_testnodedown`, an xdist hook: declaring it without xdist
would make pytest reject the plugin, hence the conditional registration). For a report or a
DuckDB file the controller re-executes the replays it needs, keeping the workers' verdicts.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.pytest_plugin.session import PAYLOAD_KEY, HarnessSession


def is_worker(config: pytest.Config) -> bool:
    """Whether this process is an xdist worker (xdist sets ``workerinput`` on its config)."""
    return hasattr(config, "workerinput")


def send_to_controller(config: pytest.Config, session: HarnessSession) -> None:
    """Attach this worker's summary to ``workeroutput``; xdist sends it after session finish."""
    output: dict[str, Any] = getattr(config, "workeroutput")  # noqa: B009 - set by xdist, untyped
    output[PAYLOAD_KEY] = session.worker_payload()


class XdistHooks:
    """Controller-side hooks; one instance per run, bound to that run's session."""

    def __init__(self, session: HarnessSession) -> None:
        self.session = session

    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        output = getattr(node, "workeroutput", None) or {}
        self.session.merge_worker_payload(output.get(PAYLOAD_KEY))
