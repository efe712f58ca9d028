"""``luma export COLLECTION FILE``: JSON Lines out, round-tripping ``luma import``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Luma, assert_failed, assert_ok

WriteJsonl = Callable[..., Path]

ROWS: list[object] = [
    {"id": "b", "name": "Bob", "tags": ["x"], "nested": {"k": [1, 2.5, None, True]}},
    {"name": "no id", "n": 1},
    {"id": "a", "name": "Ada", "unicode": "Zoë ✓"},
    {"name": "another without id"},
]


@pytest.fixture
def imported(luma: Luma, write_jsonl: WriteJsonl) -> None:
    assert_ok(luma("import", "users", str(write_jsonl(ROWS)), "--create"))


def _read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.usefixtures("imported")
def test_export_writes_every_document_with_its_id_first(luma: Luma, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert "exported 4 documents from users" in assert_ok(luma("export", "users", str(out)))
    records = _read(out)
    assert all(next(iter(r)) == "id" for r in records)
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)  # id order
    by_id = {r["id"]: r for r in records}
    assert by_id["a"] == ROWS[2]
    assert by_id["b"] == ROWS[0]
    generated = [r for r in records if r["id"] not in ("a", "b")]
    assert sorted(r["name"] for r in generated) == ["another without id", "no id"]


@pytest.mark.usefixtures("imported")
def test_export_import_round_trip(luma: Luma, tmp_path: Path) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    assert_ok(luma("export", "users", str(first)))
    assert_ok(luma("import", "copy", str(first), "--create"))
    assert_ok(luma("export", "copy", str(second)))
    assert first.read_bytes() == second.read_bytes()
    assert len(_read(second)) == len(ROWS)


@pytest.mark.usefixtures("imported")
def test_export_to_stdout_is_clean_jsonl(luma: Luma) -> None:
    result = luma("export", "users", "-")
    out = assert_ok(result)
    lines = out.splitlines()
    assert len(lines) == len(ROWS)
    assert all(isinstance(json.loads(line), dict) for line in lines)
    assert "exporting" in result.stderr  # the progress bar is on stderr


@pytest.mark.usefixtures("imported")
def test_export_prefix(luma: Luma) -> None:
    lines = assert_ok(luma("export", "users", "-", "--prefix", "a")).splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a"]


def test_export_empty_collection(luma: Luma, tmp_path: Path) -> None:
    assert_ok(luma("collections", "create", "users"))
    out = tmp_path / "out.jsonl"
    assert "exported 0 documents" in assert_ok(luma("export", "users", str(out)))
    assert out.read_bytes() == b""


@pytest.mark.usefixtures("imported")
def test_export_missing_collection_writes_nothing(luma: Luma, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert_failed(luma("export", "ghosts", str(out)), 1, "collection 'ghosts' does not exist")
    assert not out.exists()
    assert list(tmp_path.glob(".__atomic-write*")) == []
