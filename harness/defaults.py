"""Where a project keeps its files unless told otherwise (relative to the working directory).

A module of its own, with no imports, so the command line can build its parser without loading
the scenario machinery.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_SCENARIOS = Path("scenarios")
DEFAULT_GOLDENS = Path("fixtures/goldens")
DEFAULT_TRANSCRIPTS = Path("transcripts")
DEFAULT_REPORTS = Path("reports")
