"""``harness report``: the HTML report (and JUnit XML, Chrome/Perfetto traces) from the DuckDB file.

``harness report [--db reports/harness.duckdb] [-o reports/index.html] [--junit PATH]
[--trace PATH [--scenario NAME]]`` renders one self-contained HTML file from the database's tables
and views only (``docs/reports.md``); the same database gives the same bytes. ``--junit`` also
writes JUnit XML for CI systems; ``--trace`` a Chrome Trace Event file of every scenario's
timeline (or of one, with ``--scenario``) that Perfetto UI and ``chrome://tracing`` open.
``harness run``, ``harness simulate`` and ``pytest --harness-report`` write ``index.html`` and
``junit.xml`` into their report directory themselves.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.defaults import DEFAULT_REPORTS
from harness.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

HTML_NAME = "index.html"


def register(commands: Any) -> None:
    p = commands.add_parser("report", help="render the HTML report (and JUnit XML, traces) from the DuckDB file")
    p.add_argument("--db", type=Path, default=DEFAULT_REPORTS / "harness.duckdb", help="the analysis database")
    p.add_argument(
        "-o", "--output", type=Path, default=None, help="the HTML file (default: index.html beside the database)"
    )
    p.add_argument("--junit", type=Path, default=None, help="also write JUnit XML here")
    p.add_argument("--trace", type=Path, default=None, help="also write a Chrome/Perfetto trace (JSON) here")
    p.add_argument("--scenario", default=None, help="with --trace: only this scenario's timeline")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from harness.cli import EXIT_OK
    from harness.files import write_atomic
    from harness.report.html import render_report

    if args.scenario is not None and args.trace is None:
        raise UsageError("--scenario chooses the timeline of --trace; give --trace PATH too")
    if not args.db.is_file():
        raise UsageError(f"{args.db}: no such database; build it with `harness run` or `harness db build`")
    output = args.output if args.output is not None else args.db.with_name(HTML_NAME)
    write_atomic(output, render_report(args.db), force=True)
    console.print(f"report: {output}", markup=False)
    if args.junit is not None:
        from harness.report.junit import render_junit

        write_atomic(args.junit, render_junit(args.db), force=True)
        console.print(f"junit: {args.junit}", markup=False)
    if args.trace is not None:
        from harness.report.trace import render_trace, render_traces

        trace = render_traces(args.db) if args.scenario is None else render_trace(args.db, args.scenario)
        write_atomic(args.trace, trace, force=True)
        console.print(f"trace: {args.trace}", markup=False)
    return EXIT_OK
