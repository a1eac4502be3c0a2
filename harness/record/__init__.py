"""Import recorded traffic into transcripts (vcrpy cassettes, raw SSE, SSE payload lines), and
translate a transcript into another protocol."""

from harness.record.importers import (
    Conversion,
    ImportResult,
    SkippedInteraction,
    convert_source,
    convert_text,
    detect_format,
    implied_scenario,
    import_source,
    source_stem,
)
from harness.record.translate import TranslationResult, translate_transcript

__all__ = [
    "Conversion",
    "ImportResult",
    "SkippedInteraction",
    "TranslationResult",
    "convert_source",
    "convert_text",
    "detect_format",
    "implied_scenario",
    "import_source",
    "source_stem",
    "translate_transcript",
]
