"""Golden files: normalized event logs checked into the repository."""

from harness.golden.files import Divergence, check_golden, first_divergence, unused_goldens
from harness.golden.normalize import GOLDEN_FORMAT, dump_golden, normalize_events

__all__ = [
    "GOLDEN_FORMAT",
    "Divergence",
    "check_golden",
    "dump_golden",
    "first_divergence",
    "normalize_events",
    "unused_goldens",
]
