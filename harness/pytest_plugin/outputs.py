"""The run's outputs beyond pass/fail: the report directory and the DuckDB analysis file.

Both writers are imported only when asked for, at session finish, so a plain ``pytest`` run does
not pay for importing them.
"""

from __future__ import annotations

import contextlib

from harness.errors import HarnessError
from harness.pytest_plugin.session import HarnessSession, display_path


def write_outputs(session: HarnessSession) -> bool:
    """Write the report directory and the DuckDB file if asked; ``False`` when one could not be written.

    Results cover every scenario item that ran to a verdict (in this process or on an xdist
    worker), tests every test that used ``harness_results``, transcripts every file a scenario,
    ``harness_replay`` or ``harness_results`` read. Unused goldens are
    passed only when the run saw the whole selection (see ``HarnessSession.decide_whole_selection``).
    """
    if session.report_dir is None and session.db_path is None:
        return True
    # Scenario and transcript paths are kept relative to the rootdir (as `harness run` spells
    # them from the repository root); re-reading them and naming them in the outputs needs it as
    # the working directory.
    with contextlib.chdir(session.rootpath):
        return _write(session)


def _write(session: HarnessSession) -> bool:
    results, transcripts = session.materialize()
    tests = session.recorded_tests()
    unused = session.unused if session.whole_selection else []
    ok = True
    from harness.analysis import Invocation

    invocation = Invocation.start("pytest")  # one invocation, whether it writes a report, a database or both
    if session.report_dir is not None:
        from harness.report import write_reports

        try:
            write_reports(
                session.report_dir,
                results=results,
                transcripts=transcripts,
                unused_goldens=unused,
                tests=tests,
                invocation=invocation,
            )
        except HarnessError as exc:
            session.notes.append(f"--harness-report: could not write the report: {exc}")
            ok = False
        else:
            session.notes.append(
                f"report written to {display_path(session.report_dir, session.rootpath)} ({len(results)} scenarios"
                + (f", {len(tests)} recorded test{'s' if len(tests) != 1 else ''})" if tests else ")")
            )
    if session.db_path is not None:
        from harness.analysis import build_database

        try:
            summary = build_database(
                session.db_path,
                transcripts=transcripts,
                results=results,
                unused_goldens=unused,
                tests=tests,
                invocation=invocation,
            )
        except HarnessError as exc:
            session.notes.append(f"--harness-db: could not build the database: {exc}")
            ok = False
        else:
            session.notes.append(f"DuckDB written to {display_path(session.db_path, session.rootpath)} ({summary})")
    return ok
