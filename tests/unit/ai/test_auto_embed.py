"""Auto-embedded vector fields: computed on every write, found by text, re-embedded in the
background when their declaration changes; hybrid search fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.unit.ai.models_kit import DIM, openai_server, png, tiny_clip

import lumadb
from lumadb.ai import embedder_for
from lumadb.config import EmbeddingSettings, Settings
from lumadb.errors import InvalidArgument, InvalidDocument, QueryError
from lumadb.query.hybrid import RRF_K

CORPUS = {
    "cat": {"title": "Cats", "body": "a cat sleeps all afternoon on the warm sofa", "n": 1},
    "tax": {"title": "Taxes", "body": "file the quarterly tax report before the deadline", "n": 2},
    "dog": {"title": "Dogs", "body": "the puppy chases a ball across the garden", "n": 3},
    "car": {"title": "Cars", "body": "an electric car charges overnight in the garage", "n": 4},
    "pie": {"title": "Baking", "body": "bake an apple pie with cinnamon and butter", "n": 5},
}


@pytest.fixture(params=["memory", "rocks"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[lumadb.Database]:
    path = ":memory:" if request.param == "memory" else str(tmp_path / "data")
    with lumadb.open(path) as opened:
        yield opened


def _docs(db: lumadb.Database) -> Any:
    docs = db.create_collection("notes")
    docs.create_vector_index("embedding", embed_from=["title", "body"])
    return docs


def test_declaring_takes_dim_from_the_model(db: lumadb.Database) -> None:
    docs = db.create_collection("notes")
    made = docs.create_vector_index("embedding", embed_from=["title", "body"])
    assert made["dim"] == 384
    assert made["model"] == "all-MiniLM-L6-v2"
    assert made["embed_from"] == ["title", "body"]
    described = docs.describe()["vectors"]["embedding"]
    assert described["embed_from"] == ["title", "body"]
    with pytest.raises(InvalidArgument, match="makes vectors of 384"):
        docs.create_vector_index("other", dim=16, model="all-MiniLM-L6-v2")
    with pytest.raises(InvalidArgument, match="model must be"):
        docs.create_vector_index("third", embed_from=["title"], model="nonsense")
    with pytest.raises(InvalidArgument, match="embed_from"):
        docs.create_vector_index("fourth", embed_from=[3])  # type: ignore[list-item]


def test_every_write_computes_the_field(db: lumadb.Database) -> None:
    docs = _docs(db)
    model = embedder_for("all-MiniLM-L6-v2")
    given = {"title": "Cats", "body": "a cat sleeps", "embedding": [1.0, 2.0]}
    docs.put("a", given)
    assert given["embedding"] == [1.0, 2.0]  # the caller's dict is left alone
    stored = docs.get("a")
    want = model.embed_documents(["Cats\na cat sleeps"])[0]
    assert np.allclose(stored["embedding"], want, atol=1e-6)
    assert stored["_embedded"] == {
        "embedding": {"model": "all-MiniLM-L6-v2", "from": ["title", "body"]}
    }
    made = docs.insert({"title": "Dogs", "body": "a puppy"})
    docs.put_many([("b", {"title": "Taxes"}), ("c", {"body": "garden"})])
    db.execute("INSERT INTO notes (id, title) VALUES ('d', 'Baking')")
    for doc_id, text in [(made, "Dogs\na puppy"), ("b", "Taxes"), ("c", "garden"), ("d", "Baking")]:
        vector = docs.get(doc_id)["embedding"]
        assert np.allclose(vector, model.embed_documents([text])[0], atol=1e-6), doc_id
    docs.put("e", {"title": None, "other": 1})
    assert docs.get("e") == {"title": None, "other": 1, "embedding": None}


def test_the_vector_follows_its_sources(db: lumadb.Database) -> None:
    docs = _docs(db)
    docs.put("a", {"title": "Cats", "body": "a cat sleeps"})
    first = docs.get("a")["embedding"]
    docs.put("a", {"title": "Cats", "body": "a cat sleeps", "extra": True})
    assert docs.get("a")["embedding"] == first
    db.execute("UPDATE notes SET body = 'an apple pie' WHERE id = 'a'")
    changed = docs.get("a")["embedding"]
    assert changed != first
    want = embedder_for("all-MiniLM-L6-v2").embed_documents(["Cats\nan apple pie"])[0]
    assert np.allclose(changed, want, atol=1e-6)


def test_search_by_text_finds_the_meaning(db: lumadb.Database) -> None:
    docs = _docs(db)
    docs.put_many(list(CORPUS.items()))
    assert docs.search(text="a kitten napping on the couch", k=1)[0]["id"] == "cat"
    assert docs.search(text="paying income taxes", k=1)[0]["id"] == "tax"
    hits = docs.search(text="dessert recipe", k=2, where="n >= ?", params=[4])
    assert hits[0]["id"] == "pie"
    assert all(h["document"]["n"] >= 4 for h in hits)
    rows = db.execute(
        "SELECT id FROM notes WHERE n <> 5 ORDER BY embedding <=> embed('sweet pastry') LIMIT 2"
    ).rows
    assert rows[0] != ["pie"]
    assert len(rows) == 2
    rows = db.execute(
        "SELECT id, embedding <=> embed('puppy', 'all-MiniLM-L6-v2') AS d FROM notes "
        "ORDER BY d LIMIT 1"
    ).rows
    assert rows[0][0] == "dog"


def test_embed_needs_a_model_and_a_select(db: lumadb.Database) -> None:
    docs = db.create_collection("plain")
    docs.create_vector_index("v", dim=3)
    docs.put("a", {"v": [1.0, 0.0, 0.0]})
    with pytest.raises(QueryError, match="names no embedding model"):
        db.execute("SELECT id FROM plain ORDER BY v <=> embed('x') LIMIT 1")
    with pytest.raises(QueryError, match="needs a model"):
        db.execute("SELECT embed('x') FROM plain")
    with pytest.raises(QueryError, match="takes a text"):
        db.execute("SELECT id FROM plain ORDER BY v <=> embed(3, 'all-MiniLM-L6-v2') LIMIT 1")
    with pytest.raises(QueryError, match="SELECT"):
        db.execute("UPDATE plain SET w = embed('x', 'all-MiniLM-L6-v2')")
    with pytest.raises(QueryError, match="names no embedding model"):
        docs.search(text="anything")


def test_existing_documents_are_embedded_in_the_background(db: lumadb.Database) -> None:
    docs = db.create_collection("notes")
    docs.put_many(list(CORPUS.items()))
    docs.create_vector_index("embedding", embed_from=["body"])
    assert docs.wait_embedded(60)
    assert all(d["_embedded"]["embedding"]["from"] == ["body"] for _, d in docs.scan())
    assert docs.search(text="a sleepy kitten", k=1)[0]["id"] == "cat"


def test_a_model_change_re_embeds_everything(db: lumadb.Database) -> None:
    docs = _docs(db)
    docs.put_many(list(CORPUS.items()))
    from lumadb.ai.local import minilm_path

    other = f"local:{minilm_path()}"  # the same weights under another name: a new tag
    docs.alter_vector_index("embedding", model=other, embed_from=["body"])
    assert docs.wait_embedded(60)
    tags = [d["_embedded"]["embedding"] for _, d in docs.scan()]
    assert tags == [{"model": other, "from": ["body"]}] * len(CORPUS)
    assert docs.describe()["vectors"]["embedding"]["model"] == other
    assert docs.search(text="a sleepy kitten", k=1)[0]["id"] == "cat"


def test_reopening_finishes_what_was_left(tmp_path: Path) -> None:
    path = str(tmp_path / "data")
    with lumadb.open(path) as db:
        docs = db.create_collection("notes")
        docs.put_many([(f"d{i}", {"body": f"note number {i}"}) for i in range(300)])
        docs.create_vector_index("embedding", embed_from=["body"])
    with lumadb.open(path) as db:  # wherever the walk stopped, it resumes from the tags
        docs = db.collection("notes")
        assert docs.wait_embedded(120)
        assert sum(1 for _, d in docs.scan() if d.get("embedding")) == 300
        assert docs.search(text="note number 17", k=1)[0]["id"] == "d17"


def test_hybrid_search_fuses_bm25_and_vectors_by_rank(db: lumadb.Database) -> None:
    docs = _docs(db)
    docs.put_many(list(CORPUS.items()))
    db.execute("CREATE TEXT INDEX notes_body ON notes (body)")
    query = "car garage overnight"
    hits = docs.search(text=query, k=3, hybrid=True)
    near = [h["id"] for h in docs.search(text=query, k=5)]
    matched = [
        r[0]
        for r in db.execute(
            "SELECT id FROM notes WHERE MATCH(body, ?) ORDER BY score() DESC LIMIT 25", [query]
        ).rows
    ]
    fused: dict[str, float] = {}
    for ranking in (near, matched):
        for rank, doc_id in enumerate(ranking, start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + 1 / (RRF_K + rank)
    want = sorted(fused, key=lambda i: (-fused[i], i))[:3]
    assert [h["id"] for h in hits] == want
    assert hits[0]["id"] == "car"
    assert hits[0]["text_score"] is not None and hits[0]["distance"] is not None
    assert hits[0]["score"] == pytest.approx(fused["car"])
    with pytest.raises(InvalidArgument, match="needs a text"):
        docs.search([0.0] * 384, hybrid=True)
    bare = db.create_collection("bare")
    bare.create_vector_index("embedding", embed_from=["body"])
    with pytest.raises(InvalidArgument, match="text index"):
        bare.search(text="x", hybrid=True)


def test_an_openai_compatible_endpoint_embeds_writes(tmp_path: Path) -> None:
    with openai_server() as (url, calls):
        settings = Settings(embeddings=EmbeddingSettings(base_url=url))
        with lumadb.open(str(tmp_path / "data"), config=settings) as db:
            docs = db.create_collection("notes")
            made = docs.create_vector_index("embedding", embed_from=["body"], model="openai:m1")
            assert made["dim"] == DIM
            docs.put_many(list(CORPUS.items()))
            assert len(docs.get("cat")["embedding"]) == DIM
            assert docs.search(text=CORPUS["dog"]["body"], k=1)[0]["id"] == "dog"
            assert {b["model"] for b in calls.bodies} == {"m1"}
            calls.fail_with = 500
            with pytest.raises(lumadb.errors.EmbeddingFailed):
                docs.put("new", {"body": "this cannot be embedded now"})
            assert docs.get("new") is None  # nothing half-written


def test_an_image_model_embeds_pictures(db: lumadb.Database, tmp_path: Path) -> None:
    name = tiny_clip(tmp_path / "clip")
    model = embedder_for(name)
    photos = db.create_collection("photos")
    made = photos.create_vector_index("embedding", embed_from=["image"], model=name)
    assert made["dim"] == model.dim
    images = {"red": png((250, 0, 0)), "blue": png((0, 0, 250)), "green": png((0, 250, 0))}
    photos.put_many([(k, {"image": v, "caption": k}) for k, v in images.items()])
    stored = photos.get("blue")["embedding"]
    assert np.allclose(stored, model.embed_documents([images["blue"]])[0], atol=1e-6)
    hits = photos.search(stored, k=1)
    assert hits[0]["id"] == "blue"
    by_text = photos.search(text="a blue picture", k=3)
    assert {h["id"] for h in by_text} == set(images)
    text_vector = model.embed(["a blue picture"])[0]
    nearest = max(images, key=lambda k: float(model.embed_documents([images[k]])[0] @ text_vector))
    assert by_text[0]["id"] == nearest
    with pytest.raises(InvalidDocument, match="base64 image"):
        photos.put("bad", {"image": "not a picture"})
    assert photos.get("bad") is None


def test_alter_vector_index_in_lql(db: lumadb.Database) -> None:
    docs = _docs(db)
    docs.put_many(list(CORPUS.items()))
    done = db.execute("ALTER VECTOR INDEX ON notes (embedding) EMBED FROM (body) SET (m = 16)")
    assert done.rows[0][0] == "notes_embedding_vector"
    assert docs.wait_embedded(60)
    described = docs.describe()["vectors"]["embedding"]
    assert described["embed_from"] == ["body"]
    assert described["m"] == 16
    assert {d["_embedded"]["embedding"]["from"][0] for _, d in docs.scan()} == {"body"}
    with pytest.raises(QueryError, match="EMBED FROM or SET"):
        db.execute("ALTER VECTOR INDEX ON notes (embedding)")
    with pytest.raises(lumadb.errors.NotFound, match="no vector index"):
        db.execute("ALTER VECTOR INDEX ON notes (title) SET (m = 8)")
    with pytest.raises(InvalidArgument, match="model must be"):
        db.execute("ALTER VECTOR INDEX ON notes (embedding) SET (model = 'nope')")
