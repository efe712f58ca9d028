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


def test_joined_aggregates_see_every_write(db: Any, name: str) -> None:
    # Answered by the columnar replica (on a served node, worker 0's) from both collections.
    db.query(f"CREATE COLLECTION {name}_u")
    db.query(f"CREATE COLLECTION {name}_o")
    users = ", ".join(f"('u{i}', 'c{i % 2}')" for i in range(6))
    db.query(f"INSERT INTO {name}_u (id, city) VALUES {users}")
    orders = ", ".join(f"('o{i}', 'u{i % 7}', {i})" for i in range(20))
    db.query(f"INSERT INTO {name}_o (id, user_id, total) VALUES {orders}")
    sql = (
        f"SELECT u.city, count(o.id) AS n, sum(o.total) AS spent FROM {name}_u u "
        f"LEFT JOIN {name}_o o ON o.user_id = u.id GROUP BY u.city ORDER BY u.city"
    )

    def expected(users: int) -> list[dict[str, Any]]:
        cities = {f"u{i}": f"c{i % 2}" if i < 6 else "c2" for i in range(users)}
        rows: dict[str, dict[str, Any]] = {}
        for i in range(20):
            city = cities.get(f"u{i % 7}")
            if city is not None:
                row = rows.setdefault(city, {"city": city, "n": 0, "spent": 0})
                row["n"] += 1
                row["spent"] += i
        return [rows[c] for c in sorted(rows)]

    assert db.query(sql) == expected(6)
    db.collection(f"{name}_u").put("u6", {"city": "c2"})
    assert db.query(sql) == expected(7)


def test_query_errors_are_the_same_classes(db: Any, name: str) -> None:
    with pytest.raises(lumadb.errors.QueryError):
        db.query("SELEC 1")
    with pytest.raises(lumadb.CollectionNotFound):
        db.query(f"SELECT * FROM {name}_missing")
    db.query(f"CREATE COLLECTION {name}")
    db.query(f"INSERT INTO {name} (id) VALUES ('a')")
    with pytest.raises(lumadb.DocumentExists):
        db.query(f"INSERT INTO {name} (id) VALUES ('a')")
