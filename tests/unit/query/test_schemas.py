"""Collection schemas: writes that do not match are refused whole, whichever way they come."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import lumadb
from lumadb.errors import CollectionNotFound, InvalidArgument, QueryError, SchemaViolation

SCHEMA = (
    '{"type": "object", "required": ["age"], '
    '"properties": {"age": {"type": "integer", "minimum": 0}, "name": {"type": "string"}}}'
)


@pytest.fixture
def db() -> Iterator[lumadb.Database]:
    with lumadb.open(":memory:", shards=3) as opened:
        opened.create_collection("p")
        yield opened


def test_every_write_path_is_checked(db: lumadb.Database) -> None:
    c = db.collection("p")
    c.put("ok", {"age": 1})
    assert db.query(f"ALTER COLLECTION p SET SCHEMA '{SCHEMA}'")[0]["schema"]["required"] == ["age"]
    with pytest.raises(SchemaViolation, match=r"document 'b' .* at age: -1 is less than"):
        c.put("b", {"age": -1})
    with pytest.raises(SchemaViolation, match="required property"):
        c.insert({"name": "no age"})
    with pytest.raises(SchemaViolation, match=r"'y'.*at name"):
        c.put_many([("x", {"age": 2}), ("y", {"age": 3, "name": 7})])
    assert c.get_many(["x", "y"]) == [None, None]  # the whole batch was refused
    with pytest.raises(SchemaViolation):
        db.query("INSERT INTO p (id, age) VALUES ('i', 'old')")
    with pytest.raises(SchemaViolation):
        db.query("UPDATE p SET age = age - 5 WHERE id = 'ok'")
    assert c.get("ok") == {"age": 1}
    c.delete("ok")  # deletes always pass
    c.put("fine", {"age": 30, "name": "Ada"})
    assert [r["id"] for r in db.query("SELECT id FROM p")] == ["fine"]


def test_setting_a_schema_checks_what_is_stored(db: lumadb.Database) -> None:
    c = db.collection("p")
    c.put("a", {"age": 5})
    c.put("b", {"age": "five"})
    with pytest.raises(SchemaViolation, match=r"document 'b'.*the schema was not set"):
        db.query(f"ALTER COLLECTION p SET SCHEMA '{SCHEMA}'")
    assert "schema" not in db._svc.describe_collection("p")
    c.put("c", {"anything": True})  # no schema came into force
    c.delete("b")
    c.delete("c")
    db.query(f"ALTER COLLECTION p SET SCHEMA '{SCHEMA}'")
    db.query("ALTER COLLECTION p RESET SCHEMA")
    c.put("d", {"anything": True})


def test_the_schema_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "data")
    with lumadb.open(path, shards=2) as db:
        db.create_collection("p")
        db.query(f"ALTER COLLECTION p SET SCHEMA '{SCHEMA}'")
    with lumadb.open(path, shards=2) as db, pytest.raises(SchemaViolation):
        db.collection("p").put("a", {"age": -3})


def test_bad_schemas_are_clear_errors(db: lumadb.Database) -> None:
    with pytest.raises(InvalidArgument, match="not JSON"):
        db.query("ALTER COLLECTION p SET SCHEMA 'nope'")
    with pytest.raises(InvalidArgument, match="not a valid JSON schema"):
        db.query("""ALTER COLLECTION p SET SCHEMA '{"type": "nope"}'""")
    with pytest.raises(InvalidArgument, match="is an object"):
        db.query("ALTER COLLECTION p SET SCHEMA '[1]'")
    with pytest.raises(QueryError, match="expected ALTER COLLECTION"):
        db.query("ALTER COLLECTION p SET SCHEMA 3")
    with pytest.raises(InvalidArgument, match="is not fetched"):  # no requests to user URLs
        db.query("""ALTER COLLECTION p SET SCHEMA '{"$ref": "http://127.0.0.1:9/s.json"}'""")
    local = '{"$defs": {"n": {"type": "integer"}}, "properties": {"age": {"$ref": "#/$defs/n"}}}'
    db.query(f"ALTER COLLECTION p SET SCHEMA '{local}'")  # its own parts resolve
    with pytest.raises(CollectionNotFound):
        db.query(f"ALTER COLLECTION nope SET SCHEMA '{SCHEMA}'")
