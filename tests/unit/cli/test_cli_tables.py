"""``luma import`` and ``luma export`` of CSV and Parquet files."""

from __future__ import annotations

import csv
import datetime
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_helpers import Luma, assert_failed, assert_ok

DOCS = [
    {"id": "a", "name": "Ada", "age": 36, "score": 1.5, "ok": True, "tags": ["x"]},
    {"id": "b", "name": "Bob", "age": 41, "score": 2, "ok": False, "addr": {"city": "Oslo"}},
    {"id": "c", "name": "Cy", "mixed": 1},
    {"id": "d", "mixed": "one"},
]


@pytest.fixture
def loaded(luma: Luma, tmp_path: Path) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    assert_ok(luma("import", "people", str(source), "--create"))


def _exported(luma: Luma, tmp_path: Path, name: str) -> list[dict[str, object]]:
    out = tmp_path / name
    assert "exported 4 documents" in assert_ok(luma("export", "people", str(out)))
    again = tmp_path / "again.jsonl"
    assert_ok(luma("import", "copy", str(out), "--create"))
    assert_ok(luma("export", "copy", str(again)))
    return [json.loads(line) for line in again.read_text().splitlines()]


@pytest.mark.usefixtures("loaded")
def test_parquet_round_trip_keeps_every_document(luma: Luma, tmp_path: Path) -> None:
    back = _exported(luma, tmp_path, "people.parquet")
    table = pq.read_table(tmp_path / "people.parquet")
    assert table.column_names[0] == "id"
    assert table.schema.field("age").type == pa.int64()
    assert table.schema.field("score").type == pa.float64()
    assert table.schema.field("ok").type == pa.bool_()
    # objects, arrays and a field of two kinds come back as the JSON text Parquet held
    expected = []
    for doc in DOCS:
        row = dict(doc)
        for key in ("tags", "addr", "mixed"):
            if key in row:
                row[key] = json.dumps(row[key], separators=(",", ":"))
        if isinstance(row.get("score"), int):
            row["score"] = float(row["score"])
        expected.append(row)
    assert back == expected


@pytest.mark.usefixtures("loaded")
def test_csv_export_has_a_column_per_field(luma: Luma, tmp_path: Path) -> None:
    out = tmp_path / "people.csv"
    assert_ok(luma("export", "people", str(out)))
    rows = list(csv.DictReader(out.open(newline="")))
    assert list(rows[0]) == ["id", "name", "age", "score", "ok", "tags", "addr", "mixed"]
    assert rows[0]["tags"] == '["x"]'
    assert rows[1]["addr"] == '{"city":"Oslo"}'
    assert rows[1]["ok"] == "false"
    assert rows[3]["name"] == ""
    back = _exported(luma, tmp_path, "people2.csv")
    assert back[0]["age"] == 36
    assert back[0]["ok"] is True
    assert "name" not in back[3]  # an empty cell is no field


def test_csv_import_types_cells_and_keeps_ids_as_text(luma: Luma, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,n,x,when\n007,1,2.5,2026-01-02\n8,,x,\n")
    assert "imported 2 documents" in assert_ok(luma("import", "t", str(source), "--create"))
    out = tmp_path / "out.jsonl"
    assert_ok(luma("export", "t", str(out)))
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert docs == [
        {"id": "007", "n": 1, "x": "2.5", "when": "2026-01-02"},
        {"id": "8", "x": "x"},
    ]


def test_parquet_import_converts_dates_and_nested_values(luma: Luma, tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    table = pa.table(
        {
            "id": ["p1", "p2"],
            "at": [datetime.datetime(2026, 1, 2, 3, 4, 5), None],
            "point": [{"x": 1, "y": 2}, {"x": 3, "y": None}],
            "list": [[1, 2], []],
        }
    )
    pq.write_table(table, source)
    assert_ok(luma("import", "t", str(source), "--create"))
    out = tmp_path / "out.jsonl"
    assert_ok(luma("export", "t", str(out)))
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert docs[0] == {
        "id": "p1",
        "at": "2026-01-02T03:04:05",
        "point": {"x": 1, "y": 2},
        "list": [1, 2],
    }
    assert docs[1] == {"id": "p2", "point": {"x": 3, "y": None}, "list": []}


def test_unreadable_tables_are_clear_errors(luma: Luma, tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet at all")
    assert_failed(luma("import", "t", str(bad), "--create"), 1, "not readable as Parquet")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("id,a\n1,2\n3,4,5\n")
    assert_failed(luma("import", "t", str(ragged), "--create"), 1, "not readable as CSV")
