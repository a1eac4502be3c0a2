"""Render a :class:`~harness.analysis.QueryResult` as a rich table for ``harness query``."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from harness.analysis import QueryResult


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def render_query_table(result: QueryResult) -> Table:
    """A rich :class:`~rich.table.Table` of ``result``: one column per result column.

    Values are plain text (never rich markup, so ``[bold]`` in a frame prints as is), NULL is
    shown dimmed, and columns holding only numbers are right-aligned.
    """
    table = Table(show_header=True, header_style="bold", show_lines=False)
    for index, name in enumerate(result.columns):
        values = [row[index] for row in result.rows if row[index] is not None]
        numeric = bool(values) and all(_is_number(v) for v in values)
        table.add_column(Text(name), justify="right" if numeric else "left", overflow="fold")
    for row in result.rows:
        table.add_row(*(Text("NULL", style="dim") if v is None else Text(str(v)) for v in row))
    if not result.columns:
        table.add_column(Text("(no result columns)"))
    return table
