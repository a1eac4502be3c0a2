"""Scenario files as pytest items: one item per file, named after the scenario.

A file is collected when its suffix is a scenario suffix (``.yaml``, ``.yml``, ``.toml``) and a
directory between the rootdir and the file is named in the ``harness_scenario_dirs`` ini option
(default ``scenarios``). A file that does not load becomes a collection error carrying the
:class:`~harness.errors.ScenarioError` message (file and field), not a traceback. A failing item
renders its :class:`~harness.scenario.runner.Failure` list, the golden diff and the commands that
rerun it alone.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import CheckFailure, HarnessError, ScenarioError
from harness.pytest_plugin.session import display_path, get_session
from harness.scenario import Scenario, ScenarioResult, load_scenario, run_scenario
from harness.scenario.model import SCENARIO_SUFFIXES

SCENARIO_DIRS_INI = "harness_scenario_dirs"


class ScenarioFailed(CheckFailure):
    """A scenario item's checks failed; carries the :class:`ScenarioResult` for rendering."""

    def __init__(self, result: ScenarioResult) -> None:
        self.result = result
        kinds = ", ".join(sorted({f.kind for f in result.failures}))
        super().__init__(f"scenario {result.scenario.name!r} failed: {kinds}")


def is_scenario_file(file_path: Path, config: pytest.Config) -> bool:
    """Whether pytest should collect ``file_path`` as a scenario (see the module docstring)."""
    if file_path.suffix not in SCENARIO_SUFFIXES:
        return False
    names = set(config.getini(SCENARIO_DIRS_INI))
    try:
        parents = file_path.parent.relative_to(config.rootpath).parts
    except ValueError:  # outside the rootdir: only an explicit argument gets here
        parents = file_path.parent.parts
    return bool(names.intersection(parents))


class ScenarioFile(pytest.File):
    """A scenario file; yields exactly one :class:`ScenarioItem`."""

    def collect(self) -> Iterator[ScenarioItem]:
        where = display_path(self.path, self.config.rootpath)
        try:
            # The transcripts directory the project configured is as good as its own tree.
            scenario = load_scenario(self.path, transcript_roots=[get_session(self.config).transcripts_dir])
        except ScenarioError as exc:
            # CollectError renders as its message alone: the file, the JSON path, what is wrong.
            raise self.CollectError(f"{where}: {exc.reason}") from None
        # Spell the source as `harness run` does from the rootdir: the transcript path derived
        # from it can reach the event log (error messages) and so the golden file.
        scenario = scenario.model_copy(update={"source": where})
        yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)


class ScenarioItem(pytest.Item):
    """One scenario: replay, check invariants, expectations and the golden file."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def golden_path(self) -> Path | None:
        if self.scenario.variants:
            return None  # one golden per variant, registered at collection
        name = self.scenario.golden_name()
        return get_session(self.config).goldens_dir / name if name is not None else None

    def runtest(self) -> None:
        session = get_session(self.config)
        with contextlib.chdir(self.config.rootpath):
            result = run_scenario(
                self.scenario,
                goldens_dir=session.goldens_dir,
                update_goldens=session.update_goldens,
                seed=session.seed,
                update_failed=session.update_failed_goldens,
            )
        session.record_result(self.nodeid, result)
        if not result.passed:
            raise ScenarioFailed(result)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return self._render(excinfo.value.result)
        if isinstance(excinfo.value, (HarnessError, OSError)) and not self.config.getoption("fulltrace"):
            # A usage problem (missing transcript, bad protocol): the message says it all.
            return "\n".join([f"{type(excinfo.value).__name__}: {excinfo.value}", "", *self._reproduce()])
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario {self.scenario.name}"

    def _reproduce(self) -> list[str]:
        return [
            f"reproduce: harness run {display_path(self.path, self.config.rootpath)}",
            f"or: pytest {self.nodeid}",
        ]

    def _render(self, result: ScenarioResult) -> str:
        # The first line is what the short test summary shows, so it is the first failure itself.
        lines: list[str] = []
        golden = result.golden_path
        for failure in result.failures:
            message = failure.message
            if golden is not None:  # golden messages name the file absolutely; show it as the user knows it
                message = message.replace(str(golden), display_path(golden, self.config.rootpath))
            lines.append(f"[{failure.kind}] {message}")
            if failure.detail:
                lines.append(textwrap.indent(failure.detail, "    "))
        for checked in result.variants or [result]:
            if checked.golden_skipped is not None and checked.golden_path is not None:
                where = display_path(checked.golden_path, self.config.rootpath)
                lines.append(
                    f"golden {where} not written: {checked.golden_skipped} "
                    "(pass --harness-update-failed-goldens to write it anyway)"
                )
        lines.append("")
        lines.extend(self._reproduce())
        return "\n".join(lines)
