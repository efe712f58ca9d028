"""Golden files: how LQL parses, plans and answers a fixed set of statements.

Each statement of ``golden/statements.lql`` is recorded in ``golden/expected.txt`` with its
canonical SQL (what the parser made of it), its EXPLAIN lines and its result on the data
below. A change in any of them shows as a diff to review; after a deliberate change, rewrite
the file with ``LUMA_UPDATE_GOLDEN=1 pytest tests/unit/query/test_golden.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

import lumadb
from lumadb.query.parser import Lql, parse_one

HERE = Path(__file__).parent / "golden"


def _statements() -> list[str]:
    text = (HERE / "statements.lql").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("--")]
    paragraphs = [p.strip() for p in "\n".join(lines).split("\n\n")]
    return [p for p in paragraphs if p]


def _database() -> lumadb.Database:
    db = lumadb.open(":memory:", shards=3)
    db.query(
        "CREATE COLLECTION users; CREATE COLLECTION orders; CREATE COLLECTION notes;"
        "CREATE COLLECTION points; CREATE INDEX orders_user ON orders (user_id);"
        "CREATE TEXT INDEX notes_body ON notes (body)"
    )
    db.collection("users").put_many(
        [
            ("u1", {"name": "Ada", "age": 36, "address": {"city": "Oslo"}, "tags": ["admin"]}),
            ("u2", {"name": "Bob", "age": 41, "address": {"city": "Rome"}, "tags": []}),
            ("u3", {"name": "Cy", "age": 29, "tags": ["dev"]}),
            ("u4", {"name": "Di", "age": 52, "address": {"city": "Oslo"}}),
        ]
    )
    db.collection("orders").put_many(
        [
            ("o1", {"user_id": "u1", "total": 10}),
            ("o2", {"user_id": "u1", "total": 5}),
            ("o3", {"user_id": "u2", "total": 8}),
            ("o4", {"user_id": "u4", "total": 2}),
        ]
    )
    db.collection("notes").put_many(
        [("n1", {"body": "red fox"}), ("n2", {"body": "red red hen"}), ("n3", {"body": "fox"})]
    )
    db.collection("points").put_many([("p1", {"e": [1, 0]}), ("p2", {"e": [0, 1]})])
    return db


def _record(db: lumadb.Database, statement: str) -> str:
    lines = [f"statement: {statement}", f"sql: {parse_one(statement).sql(dialect=Lql)}"]
    lines += [f"plan: {r['plan']}" for r in db.query(f"EXPLAIN {statement}")]
    result = db.execute(statement)
    lines.append(f"columns: {orjson.dumps(result.columns).decode()}")
    lines += [f"row: {orjson.dumps(row).decode()}" for row in result.rows]
    return "\n".join(lines)


def test_statements_parse_plan_and_answer_as_recorded() -> None:
    with _database() as db:
        recorded = "\n\n".join(_record(db, s) for s in _statements()) + "\n"
    expected = HERE / "expected.txt"
    if os.environ.get("LUMA_UPDATE_GOLDEN"):
        expected.write_text(recorded, encoding="utf-8")
    assert recorded == expected.read_text(encoding="utf-8")
