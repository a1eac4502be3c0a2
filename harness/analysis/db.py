"""Build the DuckDB analysis file and run read-only queries against it.

:func:`build_database` computes every table's rows (:mod:`harness.analysis.rows`), writes each
table to an NDJSON file with orjson and loads it with one ``INSERT ... SELECT * FROM
read_json(?, columns={...})`` from ``load.sql``, whose column types are explicit. The file is
built in a private directory next to its destination (:func:`harness.files.scratch_dir`, removed
afterwards, or by the next build if the process was killed) and moved into place with
:func:`harness.files.publish`, so a reader never sees half a database. :func:`query` opens the
file read-only.

>>> from harness import read_transcript
>>> from harness.analysis import build_database, query
>>> t = read_transcript("transcripts/anthropic/anthropic-sdk/basic_response.ndjson")  # doctest: +SKIP
>>> build_database(Path("reports/harness.duckdb"), transcripts=[t]).rows["frames"]  # doctest: +SKIP
9
>>> query(Path("reports/harness.duckdb"), "SELECT kind, count(*) FROM frames GROUP BY kind").rows  # doctest: +SKIP
[('sse', 9)]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path, PurePath
from typing import Any

import duckdb
import orjson

from harness.analysis.rows import TABLES, collect_rows
from harness.errors import UsageError
from harness.files import output_error, publish, remove, scratch_dir
from harness.scenario.recorded import RecordedTest
from harness.scenario.runner import ScenarioResult
from harness.transcript import Transcript

_NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def sql_text(name: str) -> str:
    """The text of one of the package's SQL files: ``schema.sql``, ``load.sql`` or ``views.sql``."""
    return files("harness.analysis").joinpath(name).read_text(encoding="utf-8")


@cache
def load_statements() -> dict[str, str]:
    """``load.sql`` split at its ``-- name: <table>`` lines: one INSERT per table."""
    parts = _NAME_LINE.split(sql_text("load.sql"))
    # parts = [preamble, name1, body1, name2, body2, ...]
    statements = {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    missing = [t for t in TABLES if t not in statements]
    assert not missing, f"load.sql has no statement for {missing}"
    return statements


@dataclass(frozen=True, slots=True)
class DatabaseSummary:
    """What :func:`build_database` wrote: the file and the row count of every table."""

    path: Path
    rows: Mapping[str, int]

    def __str__(self) -> str:
        # A run without recorded tests (``harness run``) does not list five empty test tables.
        quiet = not self.rows.get("tests")
        return ", ".join(
            f"{count} {table}" for table, count in self.rows.items() if not (quiet and table.startswith("test"))
        )


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The result of :func:`query`: column names and rows, as DuckDB returned them."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


def _write_rows(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    with open(path, "wb") as handle:
        for row in rows:
            handle.write(orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE))


def build_database(
    db_path: Path,
    *,
    transcripts: Sequence[Transcript] = (),
    results: Sequence[ScenarioResult] = (),
    transcript_ids: Mapping[str, str] | None = None,
    unused_goldens: Sequence[PurePath | str] = (),
    tests: Sequence[RecordedTest] = (),
) -> DatabaseSummary:
    """Write the analysis database to ``db_path``, replacing any file there atomically.

    ``transcripts`` are loaded into ``transcripts``/``frames`` together with every transcript a
    result replayed. ``transcript_ids`` maps a :attr:`Transcript.path` (as given) to the id to
    store; by default the id is the path, relative to the current directory when it lies under
    it. ``tests`` are ordinary tests' recorded outcomes (the ``tests`` and ``test_*`` tables).
    Same inputs, same rows in the same order. Raises :class:`UsageError` when two results share
    a scenario name, two tests a node id, or DuckDB cannot write the file.
    """
    rows = collect_rows(
        transcripts=transcripts,
        results=results,
        base=Path.cwd(),
        transcript_ids=transcript_ids,
        unused_goldens=unused_goldens,
        tests=tests,
    )
    db_path = Path(db_path)
    with scratch_dir(db_path) as work:
        building = work / db_path.name
        counts: dict[str, int] = {}
        try:
            with duckdb.connect(str(building)) as conn:
                conn.execute(sql_text("schema.sql"))
                for table in TABLES:
                    if rows[table]:
                        row_file = work / f"{table}.ndjson"
                        _write_rows(row_file, rows[table])
                        conn.execute(load_statements()[table], [str(row_file)])
                    fetched = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
                    counts[table] = int(fetched[0]) if fetched else 0
                conn.execute(sql_text("views.sql"))
                conn.execute("CHECKPOINT")
        except duckdb.InterruptException:
            raise KeyboardInterrupt from None  # Ctrl-C while DuckDB ran: an interruption, not an error
        except duckdb.Error as exc:
            raise UsageError(f"{db_path}: could not build the analysis database: {exc}") from exc
        except OSError as exc:  # a row file could not be written: a full disk
            raise output_error(db_path, exc) from exc
        publish(building, db_path, force=True)
        # A write-ahead log left by an earlier writer belongs to the file just replaced; DuckDB
        # would replay it onto the new one.
        remove(db_path.with_name(db_path.name + ".wal"))
    return DatabaseSummary(path=db_path, rows=counts)


def query(db_path: Path, sql: str) -> QueryResult:
    """Run ``sql`` on a read-only connection to ``db_path``.

    A missing file, a statement that would write, or any SQL error raises :class:`UsageError`
    with DuckDB's message.

    >>> query(Path("reports/harness.duckdb"), "SELECT status, count(*) FROM verdicts GROUP BY ALL")  # doctest: +SKIP
    QueryResult(columns=['status', 'count_star()'], rows=[('passed', 12)])
    """
    (result,) = query_many(db_path, [sql])
    return result


def query_many(db_path: Path, statements: Sequence[str]) -> list[QueryResult]:
    """Run several statements on one read-only connection, in order; errors as in :func:`query`."""
    db_path = Path(db_path)
    if not db_path.is_file():
        raise UsageError(f"{db_path}: no such database; build it with `harness db build` or `harness run`")
    results: list[QueryResult] = []
    try:
        with duckdb.connect(str(db_path), read_only=True) as conn:
            for sql in statements:
                cursor = conn.execute(sql)
                if cursor.description is None:
                    results.append(QueryResult(columns=[], rows=[]))
                    continue
                columns = [str(column[0]) for column in cursor.description]
                results.append(QueryResult(columns=columns, rows=[tuple(row) for row in cursor.fetchall()]))
    except duckdb.Error as exc:
        raise UsageError(f"{db_path}: {exc}") from None
    return results
