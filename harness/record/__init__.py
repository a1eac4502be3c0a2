"""Import recorded traffic into transcripts: vcrpy cassettes, raw SSE and SSE payload lines."""

from harness.record.importers import (
    Conversion,
    ImportResult,
    convert_source,
    convert_text,
    detect_format,
    import_source,
    source_stem,
)

__all__ = [
    "Conversion",
    "ImportResult",
    "convert_source",
    "convert_text",
    "detect_format",
    "import_source",
    "source_stem",
]
