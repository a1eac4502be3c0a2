"""Reports: per-scenario event logs, the DuckDB file, ``summary.md`` and ``harness query`` tables."""

from harness.report.summary import render_summary
from harness.report.table import render_query_table
from harness.report.writer import ReportPaths, event_log_bytes, event_log_name, write_reports

__all__ = [
    "ReportPaths",
    "event_log_bytes",
    "event_log_name",
    "render_query_table",
    "render_summary",
    "write_reports",
]
