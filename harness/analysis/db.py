"""Build the DuckDB analysis file and run read-only queries against it.

:func:`build_database` streams every table's records (:func:`harness.analysis.rows.table_records`,
produced one transcript, result or test at a time) as NDJSON lines, written with orjson to row
files of about :data:`CHUNK_BYTES` each, so Python never holds more than the current input's
rows. A loader thread loads each finished file with its table's ``INSERT ... SELECT ... FROM
read_json($path, columns={...})`` from ``load.sql``, whose column types are explicit, while the
next one is written. The file is built in a private directory next to its destination
(:func:`harness.files.scratch_dir`, removed afterwards, or by the next build if the process was
killed) and moved into place with :func:`harness.files.publish`, so a reader never sees half a
database. :func:`query` opens the file read-only.

>>> from harness import read_transcript
>>> from harness.analysis import build_database, query
>>> t = read_transcript("transcripts/anthropic/anthropic-sdk/basic_response.ndjson")  # doctest: +SKIP
>>> build_database(Path("reports/harness.duckdb"), transcripts=[t]).rows["frames"]  # doctest: +SKIP
9
>>> query(Path("reports/harness.duckdb"), "SELECT kind, count(*) FROM frames GROUP BY kind").rows  # doctest: +SKIP
[('sse', 9)]
"""

from __future__ import annotations

import itertools
import os
import queue
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from pathlib import Path, PurePath
from types import TracebackType
from typing import IO, Any

import duckdb
import orjson

from harness.analysis.rows import TABLES, Record, table_records
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
        # A run without recorded tests (``harness run``) does not list five empty test tables, nor
        # one without a sweep four empty sim_ tables.
        quiet = {
            prefix for prefix in ("test", "sim_") if not self.rows.get(f"{prefix}s" if prefix == "test" else "sim_runs")
        }
        return ", ".join(
            f"{count} {table}"
            for table, count in self.rows.items()
            if not any(table.startswith(prefix) for prefix in quiet)
        )


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The result of :func:`query`: column names and rows, as DuckDB returned them."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


_DUMP_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE
_WRITE_BUFFER = 1 << 20
#: A table's row file is handed to DuckDB once it holds this many bytes, and the next one begun.
CHUNK_BYTES = 32 << 20
#: read_json's default ``maximum_object_size``. A larger one costs memory and time: DuckDB sizes
#: its read buffers by it, so it is raised only for a file with a longer line.
_MIN_OBJECT_SIZE = 16 << 20
#: Row files written but not yet loaded, at most: the writer waits for DuckDB beyond that.
_PENDING = 2


@dataclass(frozen=True, slots=True)
class RowFile:
    """One NDJSON file of a table's records, as :func:`write_records` wrote it."""

    path: Path
    longest: int  # bytes in its longest line: read_json's maximum_object_size must cover it

    @property
    def parameters(self) -> dict[str, object]:
        """The named parameters of the table's ``load.sql`` statement."""
        return {"path": str(self.path), "maximum_object_size": max(self.longest, _MIN_OBJECT_SIZE)}


@dataclass(slots=True)
class _Writing:
    path: Path
    handle: IO[bytes]
    size: int = 0
    longest: int = 0


def write_records(
    directory: Path,
    records: Iterable[tuple[str, Record]],
    load: Callable[[str, RowFile], None],
    *,
    chunk_bytes: int = CHUNK_BYTES,
) -> None:
    """Write each record as one NDJSON line to its table's current file in ``directory``, and hand
    each file to ``load`` once it is complete: when it reaches ``chunk_bytes``, or at the end.

    A table's files are handed over in the order of its records; only the current record is held
    in memory, and only one unfinished file per table exists.
    """
    writing: dict[str, _Writing] = {}
    serial = itertools.count(1)

    def finish(table: str) -> None:
        done = writing.pop(table)
        done.handle.close()
        load(table, RowFile(done.path, done.longest))

    try:
        for table, record in records:
            line = orjson.dumps(record, option=_DUMP_OPTIONS)
            current = writing.get(table)
            if current is None:
                path = directory / f"{table}.{next(serial)}.ndjson"
                handle = open(path, "wb", buffering=_WRITE_BUFFER)  # noqa: SIM115 (closed by finish or below)
                current = writing[table] = _Writing(path, handle)
            current.handle.write(line)
            current.size += len(line)
            if len(line) > current.longest:
                current.longest = len(line)
            if current.size >= chunk_bytes:
                finish(table)
        for table in TABLES:
            if table in writing:
                finish(table)
    finally:
        for left in writing.values():
            left.handle.close()


class _Loader:
    """Loads row files into the database on a thread of its own, one at a time and in the order
    they were handed over, while the caller writes the next ones: DuckDB releases the GIL, so
    producing the rows in Python and ingesting them overlap."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._cursor = conn.cursor()
        self._files: queue.Queue[tuple[str, RowFile] | None] = queue.Queue(maxsize=_PENDING)
        self._error: BaseException | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="harness-db-load", daemon=True)

    def __enter__(self) -> _Loader:
        self._thread.start()
        return self

    def load(self, table: str, row_file: RowFile) -> None:
        """Queue ``row_file`` for loading into ``table``; raises what a previous load raised."""
        self._raise()
        self._files.put((table, row_file))

    def _run(self) -> None:
        try:
            # One transaction for every load: no commit, write-ahead log or checkpoint between them.
            self._cursor.execute("BEGIN TRANSACTION")
        except BaseException as exc:  # handed to the caller's thread
            self._error = exc
        while (item := self._files.get()) is not None:
            if self._error is not None or self._stopping:
                continue  # keep taking files, so that nobody waits on a full queue
            table, row_file = item
            try:
                self._cursor.execute(load_statements()[table], row_file.parameters)
                row_file.path.unlink()
            except BaseException as exc:
                self._error = exc
        if self._error is None and not self._stopping:
            try:
                self._cursor.execute("COMMIT")
            except BaseException as exc:
                self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _stop(self) -> None:
        self._stopping = True
        self._cursor.interrupt()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is not None:
            self._stop()  # the writer failed or was interrupted: abandon the loads
        try:
            self._files.put(None)
            self._thread.join()
        except BaseException:  # Ctrl-C while waiting for the last load
            self._stop()
            self._thread.join()
            raise
        finally:
            self._cursor.close()
        if exc is None:
            self._raise()


SCHEMA_VERSION = "2"
"""``meta.schema``: a file with another version is replaced without carrying its history over."""
SIM_TABLES: tuple[str, ...] = ("sim_runs", "sim_faults", "sim_violations", "sim_groups", "sim_steps")
"""The latest sweep's tables (``harness simulate``)."""
HISTORY_TABLES: tuple[str, ...] = ("invocations", "verdict_history")
"""The tables every build keeps and appends to."""


@dataclass(frozen=True, slots=True)
class Invocation:
    """Who writes the database, and when: one row of ``invocations``.

    ``started_at`` is ISO 8601 UTC to the second. :meth:`start` takes it from ``timestamp`` when
    given, else from the ``SOURCE_DATE_EPOCH`` environment variable (the reproducible-builds
    convention), else from the clock; it is the only time the database records, so two builds
    with the same inputs and the same ``SOURCE_DATE_EPOCH`` give the same rows.
    """

    command: str
    started_at: str
    elapsed_ms: int | None = None

    @classmethod
    def start(cls, command: str, *, timestamp: str | None = None) -> Invocation:
        return cls(command=command, started_at=normalize_timestamp(timestamp) if timestamp else _now())


def normalize_timestamp(text: str) -> str:
    """An ISO 8601 date-time (``2026-12-04T10:00:00Z``, an offset, or naive UTC) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise UsageError(f"timestamp {text!r} is not an ISO 8601 date-time such as 2026-12-04T10:00:00Z") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            moment = datetime.fromtimestamp(int(epoch), tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise UsageError(f"SOURCE_DATE_EPOCH={epoch!r} is not a count of seconds since 1970") from None
    else:
        moment = datetime.now(tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_database(
    db_path: Path,
    *,
    transcripts: Sequence[Transcript] = (),
    results: Sequence[ScenarioResult] = (),
    transcript_ids: Mapping[str, str] | None = None,
    unused_goldens: Sequence[PurePath | str] = (),
    tests: Sequence[RecordedTest] = (),
    invocation: Invocation | None = None,
) -> DatabaseSummary:
    """Write the analysis database to ``db_path``, replacing any file there atomically.

    ``transcripts`` are loaded into ``transcripts``/``frames`` together with every transcript a
    result replayed. ``transcript_ids`` maps a :attr:`Transcript.path` (as given) to the id to
    store; by default the id is the path, relative to the current directory when it lies under
    it. ``tests`` are ordinary tests' recorded outcomes (the ``tests`` and ``test_*`` tables).
    Same inputs, same rows in the same order.

    The file this one replaces keeps its history: its ``invocations`` and ``verdict_history``
    rows and its latest sweep (the ``sim_`` tables) are carried over, and ``invocation`` (default:
    ``harness run``, started now) is appended with this build's verdicts. Raises
    :class:`UsageError` when two results share a scenario name, two tests a node id, the file
    there is not a DuckDB database, or DuckDB cannot write the file.
    """
    records = table_records(
        transcripts=transcripts,
        results=results,
        base=Path.cwd(),
        transcript_ids=transcript_ids,
        unused_goldens=unused_goldens,
        tests=tests,
    )

    def fill(conn: duckdb.DuckDBPyConnection, work: Path) -> None:
        with _Loader(conn) as loader:
            write_records(work, records, loader.load, chunk_bytes=CHUNK_BYTES)

    return _build(Path(db_path), "scenarios", invocation or Invocation.start("harness run"), fill)


def build_simulation_database(
    db_path: Path,
    *,
    target: str,
    runs: Sequence[Mapping[str, Any]],
    groups: Sequence[Mapping[str, Any]] = (),
    invocation: Invocation | None = None,
) -> DatabaseSummary:
    """Write a sweep's runs into the ``sim_`` tables of the database at ``db_path``, replacing
    the previous sweep's and keeping everything else (the scenario tables and the history).

    ``runs`` are :attr:`harness.simulate.sweep.SweepResult.runs`; ``groups`` one mapping per
    failure signature: ``signature``, ``runs``, ``first_seed``, ``message``, ``reproduce`` and
    optionally ``timeline`` (the shrunk run's :attr:`~harness.simulate.history.History.timeline`).
    """

    def fill(conn: duckdb.DuckDBPyConnection, work: Path) -> None:
        sim_runs = [
            [
                number,
                target,
                run["seed"],
                run["plan"],
                run["policy"],
                run["schedule"],
                run["decisions"],
                run["verdict"],
                run["signature"] or None,
                run["digest"],
                len(run["faults"]),
                sum(1 for f in run["faults"] if f.get("fired")),
                run["steps"],
                run["virtual_ms"],
                run["outcome"],
            ]
            for number, run in enumerate(runs, start=1)
        ]
        if sim_runs:  # executemany refuses an empty list
            conn.executemany("INSERT INTO sim_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", sim_runs)
        faults = [
            [
                number,
                target,
                run["seed"],
                f["fault"],
                f["fault"].partition("@")[0],
                bool(f.get("fired")),
                f.get("skipped"),
            ]
            for number, run in enumerate(runs, start=1)
            for f in run["faults"]
        ]
        if faults:
            conn.executemany("INSERT INTO sim_faults VALUES (?, ?, ?, ?, ?, ?, ?)", faults)
        violations = [
            [number, target, run["seed"], v["rule"], v["message"], v["at"]]
            for number, run in enumerate(runs, start=1)
            for v in run["violations"]
        ]
        if violations:
            conn.executemany("INSERT INTO sim_violations VALUES (?, ?, ?, ?, ?, ?)", violations)
        if groups:
            conn.executemany(
                "INSERT INTO sim_groups VALUES (?, ?, ?, ?, ?, ?)",
                [[target, g["signature"], g["runs"], g["first_seed"], g["message"], g["reproduce"]] for g in groups],
            )
        steps = [
            [target, g["signature"], ordinal, lane, step, label, detail]
            for g in groups
            for ordinal, (lane, step, label, detail) in enumerate(g.get("timeline", ()), start=1)
        ]
        if steps:
            conn.executemany("INSERT INTO sim_steps VALUES (?, ?, ?, ?, ?, ?, ?)", steps)

    return _build(Path(db_path), "simulation", invocation or Invocation.start("harness simulate"), fill)


def _build(
    db_path: Path, kind: str, invocation: Invocation, fill: Callable[[duckdb.DuckDBPyConnection, Path], None]
) -> DatabaseSummary:
    """Build the file in a scratch directory: the schema, this build's own tables (``fill``), the
    previous file's other tables and history, this invocation; then move it into place."""
    with scratch_dir(db_path) as work:
        building = work / db_path.name
        counts: dict[str, int] = {}
        try:
            with duckdb.connect(str(building)) as conn:
                conn.execute(sql_text("schema.sql"))
                conn.execute("INSERT INTO meta VALUES ('schema', ?)", [SCHEMA_VERSION])
                fill(conn, work)
                keep = SIM_TABLES if kind == "scenarios" else TABLES
                _carry_over(conn, db_path, (*keep, *HISTORY_TABLES))
                conn.execute(sql_text("views.sql"))
                _append_invocation(conn, kind, invocation)
                for table in (*TABLES, *SIM_TABLES, *HISTORY_TABLES):
                    fetched = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
                    counts[table] = int(fetched[0]) if fetched else 0
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


def _carry_over(conn: duckdb.DuckDBPyConnection, previous: Path, tables: Sequence[str]) -> None:
    """Copy ``tables`` from the file being replaced, when it is a database of this schema version."""
    if not previous.is_file():
        return
    try:
        conn.execute("ATTACH ? AS previous (READ_ONLY)", [str(previous)])
    except duckdb.Error as exc:
        raise UsageError(
            f"{previous}: exists and is not a DuckDB database this build can read ({exc}); "
            "move it away or choose another path"
        ) from None
    try:
        try:
            found = conn.execute("SELECT value FROM previous.meta WHERE key = 'schema'").fetchone()
        except duckdb.CatalogException:
            found = None  # a file from before the history was kept: it is replaced whole
        if found is None or found[0] != SCHEMA_VERSION:
            return
        for table in tables:
            conn.execute(f"INSERT INTO {table} SELECT * FROM previous.{table}")
    finally:
        conn.execute("DETACH previous")


def _append_invocation(conn: duckdb.DuckDBPyConnection, kind: str, invocation: Invocation) -> None:
    fetched = conn.execute("SELECT coalesce(max(invocation), 0) + 1 FROM invocations").fetchone()
    number = int(fetched[0]) if fetched else 1
    conn.execute(
        """
        INSERT INTO invocations
        SELECT $number, 'run-' || $number, $started_at, $command, $kind,
               count(*) FILTER (WHERE v.variant_of IS NULL),
               count(*) FILTER (WHERE v.variant_of IS NOT NULL),
               count(*) FILTER (WHERE v.variant_of IS NULL AND v.status = 'passed'),
               count(*) FILTER (WHERE v.variant_of IS NULL AND v.status = 'failed'),
               (SELECT count(*) FROM tests),
               (SELECT count(*) FROM tests WHERE status = 'failed'),
               (SELECT count(*) FROM sim_runs),
               (SELECT count(*) FROM sim_runs WHERE verdict = 'fail'),
               $elapsed_ms
        FROM verdicts AS v
        """
        if kind == "scenarios"
        else """
        INSERT INTO invocations VALUES ($number, 'run-' || $number, $started_at, $command, $kind, 0, 0, 0, 0, 0, 0,
               (SELECT count(*) FROM sim_runs), (SELECT count(*) FROM sim_runs WHERE verdict = 'fail'), $elapsed_ms)
        """,
        {
            "number": number,
            "started_at": invocation.started_at,
            "command": invocation.command,
            "kind": kind,
            "elapsed_ms": invocation.elapsed_ms,
        },
    )
    if kind == "scenarios":
        conn.execute(
            """
            INSERT INTO verdict_history
            WITH broken AS (SELECT scenario, count(*) AS violations FROM violations GROUP BY scenario)
            SELECT $number, s.scenario, s.variant_of, s.protocol, s.status, s.failure_count, s.events,
                   s.tool_calls, coalesce(b.violations, 0)
            FROM scenario_summary AS s
            LEFT JOIN broken AS b USING (scenario)
            """,
            {"number": number},
        )


def sql_literal(text: str) -> str:
    """``text`` as a DuckDB string literal (a quote is doubled; backslashes are not escapes), for
    SQL that is shown to a user or built where :func:`query_many` takes no parameters."""
    return "'" + text.replace("'", "''") + "'"


def require_schema(db_path: Path) -> None:
    """Raise :class:`UsageError` unless ``db_path`` is an analysis database of this schema version
    (what the reports read from it would otherwise fail on a missing table, mid-render)."""
    try:
        (result,) = query_many(db_path, ["SELECT value FROM meta WHERE key = 'schema'"])
    except UsageError as exc:
        if not Path(db_path).is_file():
            raise
        raise UsageError(
            f"{db_path}: not an analysis database of this version (no meta table); "
            "build it with `harness run` or `harness db build`"
        ) from exc
    found = result.rows[0][0] if result.rows else None
    if found != SCHEMA_VERSION:
        raise UsageError(
            f"{db_path}: an analysis database of schema {found!r}, this version reads schema {SCHEMA_VERSION!r}; "
            "rebuild it with `harness run` or `harness db build`"
        )


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
