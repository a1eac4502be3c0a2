"""render_query_table: the rich table `harness query` prints."""

from __future__ import annotations

from rich.console import Console

from harness.analysis import QueryResult
from harness.report import render_query_table


def render(result: QueryResult) -> str:
    console = Console(width=120, record=True, color_system=None)
    console.print(render_query_table(result))
    return console.export_text()


def test_one_column_per_result_column_with_headers() -> None:
    table = render_query_table(QueryResult(columns=["scenario", "events"], rows=[("a", 3), ("b", 12)]))
    assert [str(column.header) for column in table.columns] == ["scenario", "events"]
    assert table.row_count == 2


def test_numeric_columns_are_right_aligned() -> None:
    table = render_query_table(QueryResult(columns=["name", "n"], rows=[("a", 3), ("b", None)]))
    assert [column.justify for column in table.columns] == ["left", "right"]


def test_null_prints_as_null_and_markup_prints_literally() -> None:
    text = render(QueryResult(columns=["v"], rows=[(None,), ("[bold]x[/bold]",)]))
    assert "NULL" in text
    assert "[bold]x[/bold]" in text
