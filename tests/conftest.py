"""Shared fixtures: the real test media in ../shared/data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_file(relative: str) -> Path:
    """Path of a file in ../shared/data, skipping the test when it is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"test media {relative} not found: ../shared/data is missing")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is missing (real test media live outside the project)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def models():
    """The face models, loaded once for the whole test session."""
    from facegraft.analysis.models import Models

    return Models()
