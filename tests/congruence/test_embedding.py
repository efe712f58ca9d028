"""Auto-embedded vector fields, text and hybrid search: the embedded API and a served node
answer alike."""

from __future__ import annotations

import time
from typing import Any

import pytest

import lumadb

ENGINES = ("embedded", "rocks", "remote")

NOTES = {
    "cat": {"title": "Cats", "body": "a cat sleeps all afternoon on the warm sofa"},
    "tax": {"title": "Taxes", "body": "file the quarterly tax report before the deadline"},
    "dog": {"title": "Dogs", "body": "the puppy chases a ball across the garden"},
    "car": {"title": "Cars", "body": "an electric car charges overnight in the garage"},
}


def _notes(db: Any, name: str) -> Any:
    docs = db.create_collection(name)
    made = docs.create_vector_index("embedding", embed_from=["title", "body"])
    assert made["dim"] == 384
    assert made["embed_from"] == ["title", "body"]
    docs.put_many(list(NOTES.items()))
    return docs


def test_text_search_and_embed(db: Any, name: str) -> None:
    docs = _notes(db, name)
    assert docs.get("cat")["_embedded"]["embedding"]["model"] == "all-MiniLM-L6-v2"
    hits = docs.search(text="a kitten napping on the couch", k=2)
    assert hits[0]["id"] == "cat"
    assert "embedding" in hits[0]["document"]
    where = docs.search(text="a kitten napping", k=1, where="title <> ?", params=["Cats"])
    assert where[0]["id"] != "cat"
    rows = db.query(
        f"SELECT id FROM {name} ORDER BY embedding <=> embed('income taxes') LIMIT 1"  # noqa: S608
    )
    assert rows == [{"id": "tax"}]


def test_hybrid(db: Any, name: str) -> None:
    docs = _notes(db, name)
    db.query(f"CREATE TEXT INDEX {name}_body ON {name} (body)")
    hits = docs.search(text="garage overnight", k=2, hybrid=True)
    assert hits[0]["id"] == "car"
    assert hits[0]["text_score"] > 0
    with pytest.raises(lumadb.errors.InvalidArgument, match="needs a text"):
        docs.search([0.0] * 384, hybrid=True)


def test_alter_re_embeds(db: Any, name: str) -> None:
    docs = _notes(db, name)
    changed = docs.alter_vector_index("embedding", embed_from=["body"])
    assert changed["embed_from"] == ["body"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the background walk of every shard's process
        tags = [d["_embedded"]["embedding"]["from"] for _, d in docs.scan()]
        if tags == [["body"]] * len(NOTES):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"not re-embedded: {tags}")
    assert docs.search(text="a sleepy kitten", k=1)[0]["id"] == "cat"


def test_declaration_errors(db: Any, name: str) -> None:
    docs = db.create_collection(name)
    with pytest.raises(lumadb.errors.InvalidArgument, match="model must be"):
        docs.create_vector_index("e", embed_from=["t"], model="nonsense")
    with pytest.raises(lumadb.errors.InvalidArgument, match="makes vectors of 384"):
        docs.create_vector_index("e", dim=8, model="all-MiniLM-L6-v2")
    docs.create_vector_index("v", dim=2)
    with pytest.raises(lumadb.errors.QueryError, match="no embedding model"):
        docs.search(text="words")


def test_ask(db: Any, name: str) -> None:
    docs = db.create_collection(name)
    docs.put_many([("o1", {"status": "paid", "amount": 3}), ("o2", {"status": "new", "amount": 4})])
    found = db.ask(f"how many paid {name}")
    assert found["lql"] == f"SELECT count(*) FROM {name} WHERE status = 'paid'"  # noqa: S608
    assert found["rows"] == [[1]]
    dry = db.ask(f"average amount of {name}", dry_run=True)
    assert "rows" not in dry
    with pytest.raises(lumadb.errors.InvalidArgument):
        db.ask("")
    with pytest.raises(lumadb.errors.TranslationFailed):
        db.ask("zzz qqq")
