"""The DuckDB analysis layer: transcripts, event logs and verdicts as SQL tables and views.

``schema.sql`` defines the tables, ``load.sql`` loads them with explicit column types,
``views.sql`` defines the derived views; ``docs/analysis.md`` documents every column.
"""

from harness.analysis.db import (
    DatabaseSummary,
    Invocation,
    QueryResult,
    build_database,
    build_simulation_database,
    query,
    query_many,
)
from harness.analysis.rows import STREAM_START_TYPES, TABLES, display_path, transcript_id_of

__all__ = [
    "STREAM_START_TYPES",
    "TABLES",
    "DatabaseSummary",
    "Invocation",
    "QueryResult",
    "build_database",
    "build_simulation_database",
    "display_path",
    "query",
    "query_many",
    "transcript_id_of",
]
