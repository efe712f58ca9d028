"""Document CRUD over REST: status codes, bodies, ETags and conditional writes."""

from __future__ import annotations

import json
from urllib.parse import quote

from tests.e2e.conftest import Api


def test_crud_round_trip(api: Api, name: str) -> None:
    docs = api.collection(name)
    put = api.call("PUT", f"/api/v1/{docs}/u1", token=api.admin, json={"name": "Ada", "age": 36})
    assert put.status_code == 200, put.text
    assert put.json() == {"id": "u1"}
    got = api.call("GET", f"/api/v1/{docs}/u1", token=api.admin)
    assert got.status_code == 200
    assert got.json() == {"id": "u1", "name": "Ada", "age": 36}
    assert got.headers["content-type"] == "application/json"
    assert got.headers["etag"].startswith('"')
    assert got.headers["x-request-id"]
    deleted = api.call("DELETE", f"/api/v1/{docs}/u1", token=api.admin)
    assert deleted.status_code == 204
    assert api.call("GET", f"/api/v1/{docs}/u1", token=api.admin).status_code == 404
    again = api.call("DELETE", f"/api/v1/{docs}/u1", token=api.admin)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "document_not_found"


def test_post_generates_an_id_or_takes_the_given_one(api: Api, name: str) -> None:
    docs = api.collection(name)
    made = api.call("POST", f"/api/v1/{docs}", token=api.admin, json={"name": "Bob"})
    assert made.status_code == 201
    new_id = made.json()["id"]
    assert made.headers["location"] == f"/api/v1/{docs}/{new_id}"
    assert api.call("GET", f"/api/v1/{docs}/{new_id}", token=api.admin).json()["name"] == "Bob"
    given = api.call("POST", f"/api/v1/{docs}", token=api.admin, json={"id": "b7", "n": 1})
    assert given.json() == {"id": "b7"}
    taken = api.call("POST", f"/api/v1/{docs}", token=api.admin, json={"id": "b7", "n": 2})
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "document_exists"


def test_ids_with_slashes_and_unicode_travel_percent_encoded(api: Api, name: str) -> None:
    docs = api.collection(name)
    for doc_id in ["a/b", "ü ñ", "x?y#z"]:
        path = f"/api/v1/{docs}/{quote(doc_id, safe='')}"
        assert api.call("PUT", path, token=api.admin, json={"v": doc_id}).status_code == 200
        assert api.call("GET", path, token=api.admin).json() == {"id": doc_id, "v": doc_id}


def test_if_match_makes_writes_conditional(api: Api, name: str) -> None:
    docs = api.collection(name)
    path = f"/api/v1/{docs}/c1"
    api.call("PUT", path, token=api.admin, json={"n": 1})
    etag = api.call("GET", path, token=api.admin).headers["etag"]
    ok = api.call("PUT", path, token=api.admin, json={"n": 2}, headers={"if-match": etag})
    assert ok.status_code == 200
    assert ok.headers["etag"] != etag
    stale = api.call("PUT", path, token=api.admin, json={"n": 3}, headers={"if-match": etag})
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "version_mismatch"
    assert api.call("GET", path, token=api.admin).json()["n"] == 2
    gone = api.call("DELETE", path, token=api.admin, headers={"if-match": etag})
    assert gone.status_code == 412
    fresh = api.call("GET", path, token=api.admin).headers["etag"]
    not_modified = api.call("GET", path, token=api.admin, headers={"if-none-match": fresh})
    assert not_modified.status_code == 304
    create_only = {"if-none-match": "*"}
    exists = api.call("PUT", path, token=api.admin, json={"n": 9}, headers=create_only)
    assert exists.status_code == 409
    made = api.call("PUT", f"/api/v1/{docs}/c2", token=api.admin, json={}, headers=create_only)
    assert made.status_code == 201
    current = {"if-match": fresh}
    assert api.call("DELETE", path, token=api.admin, headers=current).status_code == 204
    assert api.call("DELETE", path, token=api.admin, headers=current).status_code == 412


def test_patch_is_a_json_merge_patch(api: Api, name: str) -> None:
    docs = api.collection(name)
    path = f"/api/v1/{docs}/p1"
    api.call("PUT", path, token=api.admin, json={"a": 1, "b": {"c": 2, "d": 3}, "e": [1]})
    patch = {"a": None, "b": {"c": 20}, "e": [2], "f": "new"}
    reply = api.call("PATCH", path, token=api.admin, json=patch)
    assert reply.status_code == 200, reply.text
    expected = {"id": "p1", "b": {"c": 20, "d": 3}, "e": [2], "f": "new"}
    assert reply.json() == expected
    assert api.call("GET", path, token=api.admin).json() == expected
    missing = api.call("PATCH", f"/api/v1/{docs}/nope", token=api.admin, json={"a": 1})
    assert missing.status_code == 404
    renamed = api.call("PATCH", path, token=api.admin, json={"id": "other"})
    assert renamed.status_code == 400


def test_listing_pages_with_limit_offset_and_cursor(api: Api, name: str) -> None:
    docs = api.collection(name)
    lines = "\n".join(f'{{"id": "d{i:03d}", "i": {i}}}' for i in range(25))
    bulk = api.call(
        "POST",
        f"/api/v1/{docs}/_bulk",
        token=api.admin,
        content=lines,
        headers={"content-type": "application/x-ndjson"},
    )
    assert bulk.status_code == 200, bulk.text
    assert bulk.json()["count"] == 25
    first = api.call("GET", f"/api/v1/{docs}", token=api.admin, params={"limit": 10}).json()
    assert [d["i"] for d in first["items"]] == list(range(10))
    seen = [d["i"] for d in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = api.call(
            "GET", f"/api/v1/{docs}", token=api.admin, params={"limit": 10, "cursor": cursor}
        ).json()
        seen += [d["i"] for d in page["items"]]
        cursor = page["next_cursor"]
    assert seen == list(range(25))
    offset = api.call(
        "GET", f"/api/v1/{docs}", token=api.admin, params={"limit": 3, "offset": 20}
    ).json()
    assert [d["i"] for d in offset["items"]] == [20, 21, 22]
    prefixed = api.call("GET", f"/api/v1/{docs}", token=api.admin, params={"prefix": "d01"})
    assert [d["id"] for d in prefixed.json()["items"]] == [f"d01{i}" for i in range(10)]


def test_bulk_is_all_or_nothing(api: Api, name: str) -> None:
    docs = api.collection(name)
    body = '{"id": "ok1"}\n{"id": "ok2"}\nnot json\n'
    bad = api.call("POST", f"/api/v1/{docs}/_bulk", token=api.admin, content=body)
    assert bad.status_code == 400
    assert "line 3" in bad.json()["error"]["message"]
    bad_id = '{"id": "ok1"}\n{"id": 7}\n'
    assert (
        api.call("POST", f"/api/v1/{docs}/_bulk", token=api.admin, content=bad_id).status_code
        == 400
    )
    listed = api.call("GET", f"/api/v1/{docs}", token=api.admin).json()
    assert listed["items"] == []


def test_listing_filters_and_sorts(api: Api, name: str) -> None:
    docs = api.collection(name)
    people = [
        {"id": "p1", "name": "Ada", "age": 36, "city": "Paris"},
        {"id": "p2", "name": "Bob", "age": 25, "city": "Rome"},
        {"id": "p3", "name": "Cy", "age": 41, "city": "Paris"},
        {"id": "p4", "name": "Di", "city": "Oslo"},
    ]
    body = "\n".join(json.dumps(p) for p in people)
    assert (
        api.call("POST", f"/api/v1/{docs}/_bulk", token=api.admin, content=body).status_code == 200
    )

    def listing(**params: object) -> list[str]:
        reply = api.call("GET", f"/api/v1/{docs}", token=api.admin, params=params)
        assert reply.status_code == 200, reply.text
        return [d["id"] for d in reply.json()["items"]]

    assert listing(where='{"city": "Paris"}') == ["p1", "p3"]
    assert listing(where='{"age": {"$gt": 30}}', order_by="-age") == ["p3", "p1"]
    assert listing(order_by="age") == ["p4", "p2", "p1", "p3"]
    assert listing(order_by="age", limit=2, offset=1) == ["p2", "p1"]
    assert listing(where='{"$or": [{"age": 25}, {"city": "Oslo"}]}') == ["p2", "p4"]
    assert listing(where='{"id": {"$in": ["p1", "p4"]}}') == ["p1", "p4"]
    for bad in ('{"age": {"$near": 1}}', "{not json"):  # JSON filters that are wrong
        reply = api.call("GET", f"/api/v1/{docs}", token=api.admin, params={"where": bad})
        assert reply.status_code == 400
        assert reply.json()["error"]["code"] == "invalid_argument"
    for bad in ("age >", "[1]"):  # not JSON, and not a condition LQL can keep rows by
        reply = api.call("GET", f"/api/v1/{docs}", token=api.admin, params={"where": bad})
        assert reply.status_code == 400
        assert reply.json()["error"]["code"] == "invalid_query"
    cursor_and_order = api.call(
        "GET", f"/api/v1/{docs}", token=api.admin, params={"order_by": "age", "cursor": "cDE"}
    )
    assert cursor_and_order.status_code == 400
