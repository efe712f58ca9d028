"""``query``: LQL through the embedded API and through a served node gives the same rows."""

# ruff: noqa: S608 - statements name collections the tests made

from __future__ import annotations

from typing import Any

import pytest

import lumadb

ENGINES = ("embedded", "rocks", "remote")


def test_the_same_statements_give_the_same_rows(db: Any, name: str) -> None:
    assert db.query(f"CREATE COLLECTION {name}") == [{"collection": name, "created": True}]
    rows = [(f"p{i:02d}", i % 3, f"n{i}") for i in range(30)]
    values = ", ".join("(?, ?, ?)" for _ in rows)
    flat = [value for row in rows for value in row]
    assert db.query(f"INSERT INTO {name} (id, g, label) VALUES {values}", flat) == [{"count": 30}]
    assert db.query(f"SELECT id FROM {name} WHERE g = ? ORDER BY id DESC LIMIT 3", [1]) == [
        {"id": "p28"},
        {"id": "p25"},
        {"id": "p22"},
    ]
    assert db.query(f"SELECT g, count(*) AS c FROM {name} GROUP BY g ORDER BY g") == [
        {"g": 0, "c": 10},
        {"g": 1, "c": 10},
        {"g": 2, "c": 10},
    ]
    assert db.query(f"SELECT label FROM {name} WHERE id = :id", {"id": "p07"}) == [{"label": "n7"}]
    db.query(f"UPDATE {name} SET label = upper(label) WHERE g = 2")
    assert db.collection(name).get("p02") == {"g": 2, "label": "N2"}


def test_query_errors_are_the_same_classes(db: Any, name: str) -> None:
    with pytest.raises(lumadb.errors.QueryError):
        db.query("SELEC 1")
    with pytest.raises(lumadb.CollectionNotFound):
        db.query(f"SELECT * FROM {name}_missing")
    db.query(f"CREATE COLLECTION {name}")
    db.query(f"INSERT INTO {name} (id) VALUES ('a')")
    with pytest.raises(lumadb.DocumentExists):
        db.query(f"INSERT INTO {name} (id) VALUES ('a')")
