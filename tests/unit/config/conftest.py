"""Shared helpers for the configuration tests."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

# The package is normally installed in editable mode (make setup); fall back to the source
# tree so these tests also run from a fresh checkout.
if str(REPO / "src") not in sys.path:
    try:
        import lumadb.config  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(REPO / "src"))


@pytest.fixture
def write_toml(tmp_path: Path) -> Callable[[str], Path]:
    """Write a luma.toml with the given text and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "luma.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
