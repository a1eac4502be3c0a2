"""Reports, all rendered from the DuckDB file: the HTML report, ``summary.md``, JUnit XML, Chrome
traces, and ``harness query`` tables; plus the per-scenario event logs beside them."""

from harness.report.html import render_report
from harness.report.junit import render_junit
from harness.report.summary import render_summary
from harness.report.table import render_query_table
from harness.report.trace import render_trace, render_traces
from harness.report.writer import ReportPaths, event_log_bytes, event_log_name, write_reports

__all__ = [
    "ReportPaths",
    "event_log_bytes",
    "event_log_name",
    "render_junit",
    "render_query_table",
    "render_report",
    "render_summary",
    "render_trace",
    "render_traces",
    "write_reports",
]
