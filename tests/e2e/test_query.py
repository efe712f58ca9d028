"""``POST /api/v1/_query``: LQL over HTTP, in process and on a node of shard workers."""

# ruff: noqa: S608 - statements name collections the tests made

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from tests.e2e.conftest import Api


def _query(api: Api, token: str, text: str, params: Any = None) -> Any:
    body: dict[str, Any] = {"query": text}
    if params is not None:
        body["params"] = params
    return api.call("POST", "/api/v1/_query", token=token, json=body)


def test_lql_writes_and_reads_every_shard(api: Api, name: str) -> None:
    made = _query(api, api.admin, f"CREATE COLLECTION {name}")
    assert made.status_code == 200, made.text
    assert made.json() == {"columns": ["collection", "created"], "rows": [[name, True]]}
    values = ", ".join(f"('d{i:03d}', {i}, '{'even' if i % 2 == 0 else 'odd'}')" for i in range(60))
    wrote = _query(api, api.admin, f"INSERT INTO {name} (id, n, kind) VALUES {values}")
    assert wrote.json() == {"columns": ["count"], "rows": [[60]]}
    every = _query(api, api.admin, f"SELECT id, n FROM {name} WHERE n >= ? ORDER BY id", [0])
    assert [row[0] for row in every.json()["rows"]] == [f"d{i:03d}" for i in range(60)]
    grouped = _query(
        api,
        api.admin,
        f"SELECT kind, count(*) AS c, sum(n) AS s FROM {name} GROUP BY kind ORDER BY kind",
    )
    assert grouped.json() == {
        "columns": ["kind", "c", "s"],
        "rows": [["even", 30, sum(range(0, 60, 2))], ["odd", 30, sum(range(1, 60, 2))]],
    }
    changed = _query(
        api, api.admin, f"UPDATE {name} SET n = n * 100 WHERE id IN ('d001', 'd002') RETURNING n"
    )
    assert sorted(r[0] for r in changed.json()["rows"]) == [100, 200]
    # what LQL wrote, REST reads
    assert api.call("GET", f"/api/v1/{name}/d002", token=api.admin).json()["n"] == 200
    gone = _query(api, api.admin, f"DELETE FROM {name} WHERE kind = :k", {"k": "odd"})
    assert gone.json()["rows"] == [[30]]
    left = _query(api, api.admin, f"SELECT count(*) FROM {name}")
    assert left.json()["rows"] == [[30]]


def test_lql_needs_the_same_permissions_as_rest(api: Api, name: str) -> None:
    docs = api.collection(name)
    api.call("PUT", f"/api/v1/{docs}/a", token=api.admin, json={"v": 1})
    reader = api.user(f"{name}_r", ["reader"])
    assert _query(api, reader, f"SELECT v FROM {docs}").json()["rows"] == [[1]]
    for text in (
        f"INSERT INTO {docs} (id, v) VALUES ('b', 2)",
        f"UPDATE {docs} SET v = 3",
        f"DELETE FROM {docs}",
        f"DROP COLLECTION {docs}",
        f"CREATE COLLECTION {docs}_x",
    ):
        reply = _query(api, reader, text)
        assert reply.status_code == 403, (text, reply.text)
    assert _query(api, reader, f"SELECT v FROM {docs}").json()["rows"] == [[1]]  # unchanged
    assert api.call("POST", "/api/v1/_query", json={"query": "SELECT 1"}).status_code == 401


def test_lql_on_row_filtered_collections_is_refused(api: Api, name: str) -> None:
    docs = api.collection(name)
    grant = {"actions": ["read"], "rows": {"owner": "$user"}}
    role = {"name": f"{name}_own", "grants": {docs: grant}}
    assert api.call("POST", "/api/v1/_roles", token=api.admin, json=role).status_code == 201
    owner = api.user(f"{name}_o", [f"{name}_own"])
    reply = _query(api, owner, f"SELECT * FROM {docs}")
    assert reply.status_code == 403
    assert "row-filtered" in reply.json()["error"]["message"]


def test_lql_errors_are_4xx(api: Api, name: str) -> None:
    docs = api.collection(name)
    cases = [
        ({"query": "SELEC 1"}, 400, "invalid_query"),
        ({"query": "SELECT * FROM nope_zz"}, 404, "collection_not_found"),
        ({"query": 12}, 400, "invalid_argument"),
        ({"query": "SELECT ?", "params": "x"}, 400, "invalid_argument"),
        ({"query": "SELECT 1", "extra": 1}, 400, "invalid_argument"),
        ({"query": "SELECT 1 / 0"}, 400, "invalid_query"),
        ({"query": "SELECT ?"}, 400, "invalid_query"),
        ({"query": "SELECT " + "(" * 3000 + "1" + ")" * 3000}, 400, "invalid_query"),
        ({"query": f"INSERT INTO {docs} (id) VALUES ('a'), ('a')"}, 409, "document_exists"),
    ]
    for body, status, code in cases:
        reply = api.call("POST", "/api/v1/_query", token=api.admin, json=body)
        assert reply.status_code == status, (body, reply.text)
        assert reply.json()["error"]["code"] == code, body
    assert api.call("POST", "/api/v1/_query", token=api.admin, content=b"{").status_code == 400


def test_listings_take_an_lql_condition_as_where(api: Api, name: str) -> None:
    docs = api.collection(name)
    for i, city in enumerate(["Oslo", "Rome", "Oslo", None]):
        body = {"n": i, **({"address": {"city": city}} if city else {})}
        api.call("PUT", f"/api/v1/{docs}/d{i}", token=api.admin, json=body)
    listed = api.call(
        "GET",
        f"/api/v1/{docs}",
        token=api.admin,
        params={"where": "address.city = 'Oslo' AND n >= 1"},
    )
    assert listed.status_code == 200, listed.text
    assert [d["id"] for d in listed.json()["items"]] == ["d2"]
    missing = api.call(
        "GET", f"/api/v1/{docs}", token=api.admin, params={"where": "address.city IS NULL"}
    )
    assert [d["id"] for d in missing.json()["items"]] == ["d3"]
    json_filter = api.call(
        "GET", f"/api/v1/{docs}", token=api.admin, params={"where": '{"n": {"$gt": 2}}'}
    )
    assert [d["id"] for d in json_filter.json()["items"]] == ["d3"]
    for bad in ("n >", "n > ?", "count(*) > 1", "n = 1; DROP COLLECTION x", "id IN (SELECT 1)"):
        reply = api.call("GET", f"/api/v1/{docs}", token=api.admin, params={"where": bad})
        assert reply.status_code == 400, (bad, reply.text)
        assert reply.json()["error"]["code"] == "invalid_query", bad


def test_an_index_made_through_one_worker_answers_on_every_worker(api: Api, name: str) -> None:
    docs = api.collection(name)
    lines = "\n".join(f'{{"id": "d{i:02d}", "g": "{"ab"[i % 2]}"}}' for i in range(40))
    headers = {"content-type": "application/x-ndjson"}
    assert (
        api.call(
            "POST", f"/api/v1/{docs}/_bulk", token=api.admin, content=lines, headers=headers
        ).status_code
        == 200
    )
    made = _query(api, api.admin, f"CREATE INDEX {name}_g ON {docs} (g)")
    assert made.status_code == 200, made.text
    plan = _query(api, api.admin, f"EXPLAIN SELECT id FROM {docs} WHERE g = ?", ["a"])
    assert plan.json()["rows"][0][0].startswith(f"Index lookup on {docs} by {name}_g")
    text = f"SELECT id FROM {docs} WHERE g = ? ORDER BY id"
    want = [f"d{i:02d}" for i in range(0, 40, 2)]
    for _ in range(4):  # on a served node, new connections land on different workers
        if api.kind == "served":
            with httpx.Client(base_url=api.base) as fresh:
                body = {"query": text, "params": ["a"]}
                headers = {"authorization": f"Bearer {api.admin}"}
                found = fresh.post("/api/v1/_query", json=body, headers=headers).json()
        else:
            found = _query(api, api.admin, text, ["a"]).json()
        assert [r[0] for r in found["rows"]] == want
    api.call("PUT", f"/api/v1/{docs}/d00", token=api.admin, json={"g": "b"})
    after = _query(api, api.admin, f"SELECT count(*) FROM {docs} WHERE g = 'a'")
    assert after.json()["rows"] == [[19]]
    assert _query(api, api.admin, f"DROP INDEX {name}_g").json()["rows"] == [[f"{name}_g", True]]


def _replica_answers(api: Api) -> int:
    text = api.call("GET", "/metrics", token=api.admin).text
    wanted = 'luma_aggregate_queries_total{by="replica"}'
    line = next(x for x in text.splitlines() if x.startswith(wanted))
    return int(line.split()[-1])


def test_aggregates_come_from_the_replica_and_see_each_write(api: Api, name: str) -> None:
    docs = api.collection(name)
    rows = "\n".join(f'{{"id": "d{i:03d}", "g": "{"ab"[i % 2]}", "n": {i}}}' for i in range(50))
    api.call("POST", f"/api/v1/{docs}/_bulk", token=api.admin, content=rows)
    text = f"SELECT g, count(*), sum(n) FROM {docs} GROUP BY g ORDER BY g"
    before = _replica_answers(api)
    for step in range(6):  # on a served node, new connections land on different workers
        api.call("PUT", f"/api/v1/{docs}/x{step}", token=api.admin, json={"g": "c", "n": step})
        if api.kind == "served":
            with httpx.Client(base_url=api.base) as fresh:
                headers = {"authorization": f"Bearer {api.admin}"}
                found = fresh.post("/api/v1/_query", json={"query": text}, headers=headers).json()
        else:
            found = _query(api, api.admin, text).json()
        assert found["rows"] == [
            ["a", 25, sum(range(0, 50, 2))],
            ["b", 25, sum(range(1, 50, 2))],
            ["c", step + 1, sum(range(step + 1))],
        ]
    assert _replica_answers(api) == before + 6


def test_documents_past_the_ttl_are_gone_from_every_read(api: Api, name: str) -> None:
    docs = api.collection(name)
    set_ttl = _query(api, api.admin, f"ALTER COLLECTION {docs} SET TTL '1s'")
    assert set_ttl.json()["rows"] == [[docs, 1.0]]
    for i in range(6):
        api.call("PUT", f"/api/v1/{docs}/d{i}", token=api.admin, json={"n": i})
    assert api.call("GET", f"/api/v1/{docs}/d1", token=api.admin).status_code == 200
    time.sleep(1.2)
    assert api.call("GET", f"/api/v1/{docs}/d1", token=api.admin).status_code == 404
    assert api.call("GET", f"/api/v1/{docs}", token=api.admin).json()["items"] == []
    assert _query(api, api.admin, f"SELECT count(*) FROM {docs}").json()["rows"] == [[0]]
    api.call("PUT", f"/api/v1/{docs}/fresh", token=api.admin, json={"n": 9})
    assert _query(api, api.admin, f"ALTER COLLECTION {docs} RESET TTL").status_code == 200
    listed = api.call("GET", f"/api/v1/{docs}", token=api.admin).json()["items"]
    assert [d["id"] for d in listed] == ["fresh"]


def test_a_schema_refuses_writes_with_422_on_every_worker(api: Api, name: str) -> None:
    docs = api.collection(name)
    schema = '{"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}'
    for i in range(8):
        api.call("PUT", f"/api/v1/{docs}/d{i}", token=api.admin, json={"n": i})
    api.call("PUT", f"/api/v1/{docs}/d5", token=api.admin, json={"n": "five"})
    refused = _query(api, api.admin, f"ALTER COLLECTION {docs} SET SCHEMA '{schema}'")
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "schema_violation"
    assert "'d5'" in refused.json()["error"]["message"]
    api.call("PUT", f"/api/v1/{docs}/d5", token=api.admin, json={"n": 5})
    assert (
        _query(api, api.admin, f"ALTER COLLECTION {docs} SET SCHEMA '{schema}'").status_code == 200
    )
    for i in range(8):  # ids land on every shard, so on every worker
        bad = api.call("PUT", f"/api/v1/{docs}/x{i}", token=api.admin, json={"n": "x"})
        assert bad.status_code == 422, bad.text
    bulk = "\n".join(['{"id": "b1", "n": 1}', '{"id": "b2", "n": []}'])
    assert (
        api.call("POST", f"/api/v1/{docs}/_bulk", token=api.admin, content=bulk).status_code == 422
    )
    patched = api.call("PATCH", f"/api/v1/{docs}/d1", token=api.admin, json={"n": None})
    assert patched.status_code == 422
    assert api.call("GET", f"/api/v1/{docs}/d1", token=api.admin).json()["n"] == 1


def test_text_search_spans_every_worker(api: Api, name: str) -> None:
    docs = api.collection(name)
    bodies = {f"d{i}": ("red fox" if i % 3 == 0 else "blue hen") + " " * i for i in range(12)}
    for doc_id, body in bodies.items():
        api.call("PUT", f"/api/v1/{docs}/{doc_id}", token=api.admin, json={"body": body})
    made = _query(api, api.admin, f"CREATE TEXT INDEX {name}_body ON {docs} (body)")
    assert made.status_code == 200, made.text
    found = _query(
        api,
        api.admin,
        f"SELECT id, score() AS s FROM {docs} WHERE MATCH(body, ?) ORDER BY id",
        ["Fox"],
    ).json()
    assert [r[0] for r in found["rows"]] == sorted(k for k in bodies if int(k[1:]) % 3 == 0)
    scores = {r[1] for r in found["rows"]}
    assert len(scores) == 1 and scores.pop() > 0  # the same text: the same score


def test_a_transaction_commits_across_workers(api: Api, name: str) -> None:
    docs = api.collection(name)
    for i in range(6):
        api.call("PUT", f"/api/v1/{docs}/a{i}", token=api.admin, json={"bal": 100})
    moves = "".join(
        f"UPDATE {docs} SET bal = bal - 10 WHERE id = 'a0';"
        f"UPDATE {docs} SET bal = bal + 10 WHERE id = 'a{i}';"
        for i in range(1, 6)
    )
    done = _query(api, api.admin, f"BEGIN; {moves} SELECT sum(bal) FROM {docs}; COMMIT")
    assert done.status_code == 200, done.text
    assert done.json()["rows"] == [[600]]
    listed = _query(api, api.admin, f"SELECT id, bal FROM {docs} ORDER BY id").json()["rows"]
    assert listed == [["a0", 50]] + [[f"a{i}", 110] for i in range(1, 6)]
    dangling = _query(api, api.admin, f"BEGIN; UPDATE {docs} SET bal = 0")
    assert dangling.status_code == 400
    assert _query(api, api.admin, f"SELECT count(*) FROM {docs} WHERE bal = 0").json()["rows"] == [
        [0]
    ]


def test_results_stream_as_ndjson_when_asked(api: Api, name: str) -> None:
    docs = api.collection(name)
    rows = "\n".join(f'{{"id": "d{i:04d}", "n": {i}}}' for i in range(2000))
    kind = {"content-type": "application/x-ndjson"}
    bulk = api.call("POST", f"/api/v1/{docs}/_bulk", token=api.admin, content=rows, headers=kind)
    assert bulk.status_code == 200, bulk.text
    body = {"query": f"SELECT id, n FROM {docs} ORDER BY id"}
    streamed = api.call(
        "POST",
        "/api/v1/_query",
        token=api.admin,
        json=body,
        headers={"accept": "application/x-ndjson"},
    )
    assert streamed.status_code == 200
    assert streamed.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in streamed.text.splitlines()]
    assert lines[0] == {"columns": ["id", "n"]}
    assert lines[1:] == [[f"d{i:04d}", i] for i in range(2000)]
    plain = api.call("POST", "/api/v1/_query", token=api.admin, json=body).json()
    assert plain["rows"] == lines[1:]
