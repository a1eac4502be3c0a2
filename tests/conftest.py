"""Shared paths for the test suite: everything is relative to the repository root."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from the repository root, as users run the CLI."""
    monkeypatch.chdir(ROOT)
    return ROOT
