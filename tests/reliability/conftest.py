"""Fixtures of the reliability tests; soak tests run only with ``LUMA_SOAK=1``."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_kit import SOAK, build_shim


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``@pytest.mark.soak`` tests unless ``LUMA_SOAK=1`` (``make soak`` sets it)."""
    if SOAK:
        return
    skip = pytest.mark.skip(reason="soak test: run with LUMA_SOAK=1 (make soak)")
    for item in items:
        if item.get_closest_marker("soak") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory for shims compiled during this session."""
    return tmp_path_factory.mktemp("shims")


@pytest.fixture(scope="session")
def fsync_shim(shim_dir: Path) -> Path:
    """``fail_fsync.so``: fsync/fdatasync return EIO after the N-th call."""
    return build_shim("fail_fsync.c", shim_dir)


@pytest.fixture(scope="session")
def enospc_shim(shim_dir: Path) -> Path:
    """``enospc.so``: writes under a directory fail with ENOSPC once a byte budget is spent."""
    return build_shim("enospc.c", shim_dir)
