"""Fixtures for the CLI tests: a ``luma(...)`` runner bound to a throw-away data directory."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from cli_helpers import Luma
from click.testing import CliRunner, Result

import lumadb
from lumadb.cli import cli

# Two shards so that every command crosses a shard boundary; no fsync keeps the tests fast.
CONFIG = '[storage]\nshards = 2\ndurability = "off"\n'


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A luma.toml with two shards and durability off."""
    path = tmp_path / "luma.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Where the test's database lives (not created yet)."""
    return tmp_path / "data"


@pytest.fixture
def luma(config_file: Path, data_dir: Path) -> Luma:
    """Invoke the CLI in-process; stdout and stderr are kept apart."""
    runner = CliRunner()

    def run(*args: str, input: str | bytes | None = None, data: bool = True) -> Result:
        argv = list(args)
        if data:
            argv += ["--config", str(config_file), "--data-dir", str(data_dir)]
        return runner.invoke(cli, argv, input=input)

    return run


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Callable[[Iterable[object], str], Path]:
    """Write objects (or raw strings, as they are) as lines of a file; returns its path."""

    def write(lines: Iterable[object], name: str = "in.jsonl") -> Path:
        path = tmp_path / name
        text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def open_data(data_dir: Path) -> Iterator[Callable[[], lumadb.Database]]:
    """Open the test's data directory directly (closed at the end of the test)."""
    opened: list[lumadb.Database] = []

    def _open() -> lumadb.Database:
        db = lumadb.open(data_dir)
        opened.append(db)
        return db

    yield _open
    for db in opened:
        db.close()
