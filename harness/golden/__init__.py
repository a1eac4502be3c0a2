"""Golden files: normalized event logs checked into the repository."""

from harness.golden.declared import VOLATILE_MARKER, CoalesceDeltas, GoldenNormalization, normalize_mappings
from harness.golden.files import Divergence, check_golden, first_divergence, golden_owner, unused_goldens
from harness.golden.normalize import (
    GOLDEN_FORMAT,
    TEST_OWNER,
    GoldenContent,
    dump_golden,
    iter_normalized,
    normalize_events,
)

__all__ = [
    "GOLDEN_FORMAT",
    "TEST_OWNER",
    "VOLATILE_MARKER",
    "CoalesceDeltas",
    "Divergence",
    "GoldenContent",
    "GoldenNormalization",
    "check_golden",
    "dump_golden",
    "first_divergence",
    "golden_owner",
    "iter_normalized",
    "normalize_events",
    "normalize_mappings",
    "unused_goldens",
]
