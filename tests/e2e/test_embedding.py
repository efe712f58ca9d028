"""Auto-embedded vector fields over HTTP: declared with a collection, computed by the shard
workers on every write, searched by text and hybrid, on the ASGI app and a served node."""

# ruff: noqa: S608 - statements name collections the tests made

from __future__ import annotations

from typing import Any

import httpx
from tests.e2e.conftest import Api

NOTES = {
    "cat": {"title": "Cats", "body": "a cat sleeps all afternoon on the warm sofa"},
    "tax": {"title": "Taxes", "body": "file the quarterly tax report before the deadline"},
    "dog": {"title": "Dogs", "body": "the puppy chases a ball across the garden"},
    "car": {"title": "Cars", "body": "an electric car charges overnight in the garage"},
    "pie": {"title": "Baking", "body": "bake an apple pie with cinnamon and butter"},
}


def _made(api: Api, name: str) -> str:
    body = {"name": name, "vectors": {"embedding": {"embed_from": ["title", "body"]}}}
    reply = api.call("POST", "/api/v1/_collections", token=api.admin, json=body)
    assert reply.status_code == 201, reply.text
    described = reply.json()["vectors"]["embedding"]
    assert described["dim"] == 384
    assert described["model"] == "all-MiniLM-L6-v2"
    assert described["embed_from"] == ["title", "body"]
    for doc_id, doc in NOTES.items():
        put = api.call("PUT", f"/api/v1/{name}/{doc_id}", token=api.admin, json=doc)
        assert put.status_code in (200, 201), put.text
    return name


def _search(api: Api, name: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
    return api.call("POST", f"/api/v1/{name}/_search", token=token or api.admin, json=body)


def _query(api: Api, text: str, params: list[Any] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"query": text, "params": params or []}
    return api.call("POST", "/api/v1/_query", token=api.admin, json=body)


def test_writes_are_embedded_and_found_by_text(api: Api, name: str) -> None:
    docs = _made(api, name)
    stored = api.call("GET", f"/api/v1/{docs}/cat", token=api.admin).json()
    assert len(stored["embedding"]) == 384
    assert stored["_embedded"]["embedding"]["model"] == "all-MiniLM-L6-v2"
    found = _search(api, docs, {"text": "a kitten napping on the couch", "k": 2})
    assert found.status_code == 200, found.text
    hits = found.json()["hits"]
    assert hits[0]["id"] == "cat"
    assert hits[0]["document"]["id"] == "cat"
    rows = _query(
        api, f"SELECT id FROM {docs} ORDER BY embedding <=> embed(?) LIMIT 1", ["income taxes"]
    ).json()["rows"]
    assert rows == [["tax"]]
    patched = api.call(
        "PATCH", f"/api/v1/{docs}/cat", token=api.admin, json={"body": "a sports car racing"}
    )
    assert patched.status_code == 200, patched.text
    again = api.call("GET", f"/api/v1/{docs}/cat", token=api.admin).json()
    assert again["embedding"] != stored["embedding"]  # its vector follows its new sources
    after = _search(api, docs, {"text": "racing a sports car", "k": 1}).json()
    assert after["hits"][0]["id"] == "cat"


def test_hybrid_search_over_http(api: Api, name: str) -> None:
    docs = _made(api, name)
    made = _query(api, f"CREATE TEXT INDEX {name}_body ON {docs} (body)")
    assert made.status_code == 200, made.text
    found = _search(api, docs, {"text": "garage overnight", "k": 2, "hybrid": True})
    assert found.status_code == 200, found.text
    hits = found.json()["hits"]
    assert hits[0]["id"] == "car"
    assert hits[0]["text_score"] > 0 and hits[0]["distance"] is not None
    filtered = _search(
        api,
        docs,
        {"text": "garage", "k": 5, "hybrid": True, "where": "title <> ?", "params": ["Cars"]},
    ).json()["hits"]
    assert "car" not in {h["id"] for h in filtered}


def test_bad_searches_are_4xx(api: Api, name: str) -> None:
    docs = _made(api, name)
    plain = f"{name}_plain"
    body = {"name": plain, "vectors": {"v": {"dim": 3}}}
    assert api.call("POST", "/api/v1/_collections", token=api.admin, json=body).status_code == 201
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        (docs, {"text": ""}, 400, "non-empty"),
        (docs, {"text": "x", "hybrid": True}, 400, "text index"),
        (docs, {"text": "x", "hybrid": "yes"}, 400, "true or false"),
        (docs, {"text": "x", "colour": 1}, 400, "unknown field"),
        (docs, {"k": 3}, 400, "vector"),
        (docs, {"vector": [1.0], "hybrid": True}, 400, "needs a text"),
        (plain, {"text": "x"}, 400, "no embedding model"),
    ]
    for collection, ask, status, words in cases:
        reply = _search(api, collection, ask)
        assert reply.status_code == status, (ask, reply.text)
        assert words in reply.json()["error"]["message"], (ask, reply.text)
    bad = {"name": f"{name}_bad", "vectors": {"e": {"embed_from": ["t"], "model": "nope"}}}
    reply = api.call("POST", "/api/v1/_collections", token=api.admin, json=bad)
    assert reply.status_code == 400, reply.text
    reader = api.user(f"{name}_reader", ["reader"])
    denied = _search(api, docs, {"text": "cats"}, token=reader)
    assert denied.status_code in (200, 403)  # the built-in reader role may read everything
