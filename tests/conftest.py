"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import lumadb
from lumadb.storage.faults import FAULTS


@pytest.fixture(autouse=True)
def _no_canaries() -> Iterator[None]:
    # A canary left on by a failing test must not leak into the next one.
    yield
    FAULTS.reset()


@pytest.fixture(params=["memory", "rocks"])
def engine(request: pytest.FixtureRequest) -> str:
    """Runs a test body once on the in-memory twin and once on RocksDB."""
    return str(request.param)


@pytest.fixture
def open_db(engine: str, tmp_path: Path) -> Iterator[object]:
    """A factory ``open_db(**storage_options)`` on the parametrised engine (closed afterwards)."""
    opened: list[lumadb.Database] = []

    def _open(**options: object) -> lumadb.Database:
        target = ":memory:" if engine == "memory" else str(tmp_path / "data")
        options.setdefault("shards", 2)
        db = lumadb.open(target, **options)
        opened.append(db)
        return db

    yield _open
    for db in opened:
        db.close()


@pytest.fixture
def db(open_db: object) -> lumadb.Database:
    """An open database on the parametrised engine (2 shards)."""
    return open_db()  # type: ignore[operator,no-any-return]
