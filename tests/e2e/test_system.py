"""/health and /metrics."""

from __future__ import annotations

import httpx
from tests.e2e.conftest import Api


def test_health_needs_no_token_and_lists_every_shard(api: Api) -> None:
    reply = api.call("GET", "/health")
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "ok"
    assert [s["shard"] for s in body["shards"]] == [0, 1]
    assert all(s["ready"] and not s["read_only"] for s in body["shards"])


def test_metrics_count_requests_and_show_shards(api: Api, name: str) -> None:
    docs = api.collection(name)
    for i in range(3):
        api.call("PUT", f"/api/v1/{docs}/m{i}", token=api.admin, json={"i": i})
    text = api.call("GET", "/metrics", token=api.admin).text
    route = 'method="PUT",route="/api/v1/{collection}/{id}",status="200"'
    counts = [
        line for line in text.splitlines() if line.startswith(f"luma_http_requests_total{{{route}")
    ]
    assert counts and int(counts[0].rsplit(" ", 1)[1]) >= 3
    assert (
        'luma_http_request_seconds_bucket{method="PUT",route="/api/v1/{collection}/{id}",le="+Inf"}'
        in text
    )
    assert 'luma_shard_wal_syncs{shard="1"}' in text
    assert "# TYPE luma_shard_l1_hits counter" in text


def test_request_ids_are_echoed_or_made(api: Api) -> None:
    given = api.call("GET", "/health", headers={"x-request-id": "abc123"})
    assert given.headers["x-request-id"] == "abc123"
    made = api.call("GET", "/health", headers={"x-request-id": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 16


def test_metrics_show_shard_sizes_on_rocksdb(served_api: Api, name: str) -> None:
    docs = served_api.collection(name)
    served_api.call("PUT", f"/api/v1/{docs}/big", token=served_api.admin, json={"x": "y" * 5000})
    text = served_api.call("GET", "/metrics", token=served_api.admin).text
    sizes = [
        int(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("luma_shard_memtable_bytes{")
    ]
    assert len(sizes) == 2 and sum(sizes) > 5000


def _count(text: str, labels: str) -> int:
    for line in text.splitlines():
        if line.startswith(f"luma_http_requests_total{{{labels}}} "):
            return int(line.rsplit(" ", 1)[1])
    return 0


def test_metrics_add_up_the_requests_of_every_worker(served_api: Api, name: str) -> None:
    docs = served_api.collection(name)
    labels = 'method="GET",route="/api/v1/{collection}/{id}",status="404"'
    before = _count(served_api.call("GET", "/metrics", token=served_api.admin).text, labels)
    headers = {"authorization": f"Bearer {served_api.admin}"}
    for i in range(20):  # a new connection each: they land on different workers
        with httpx.Client(base_url=served_api.base) as fresh:
            assert fresh.get(f"/api/v1/{docs}/none{i}", headers=headers).status_code == 404
    for _ in range(3):  # whichever worker answers the scrape, it counts the whole node
        text = served_api.call("GET", "/metrics", token=served_api.admin).text
        assert _count(text, labels) - before == 20
        assert 'luma_shard_up{shard="0"} 1' in text
        assert 'luma_shard_up{shard="1"} 1' in text
