"""/api/v1/_triggers: triggers made over HTTP deliver to a real receiver; admins only."""

from __future__ import annotations

import time

from tests.e2e.conftest import Api
from tests.unit.events.receiver import receiver

BASE = "/api/v1/_triggers"


def test_a_trigger_made_over_http_delivers_and_reports(api: Api, name: str) -> None:
    coll = api.collection(f"{name}_orders")
    with receiver() as rx:
        rx.answer = lambda body: (400, {}) if body["key"] == "bad" else (200, {})
        trigger = {
            "name": f"{name}_paid",
            "collection": coll,
            "on": ["insert", "update"],
            "when": "new.status = 'paid'",
            "sink": {"type": "webhook", "url": rx.url, "secret": "s" * 32},
            "retry": {"max_attempts": 3, "backoff_ms": 1},
        }
        made = api.call("POST", BASE, token=api.admin, json=trigger)
        assert made.status_code == 201, made.text
        assert made.json()["sink"]["secret"] == "***"
        again = api.call("POST", BASE, token=api.admin, json=trigger)
        assert again.status_code == 409, again.text
        for key, status in [("o1", "new"), ("o2", "paid"), ("bad", "paid")]:
            reply = api.call(
                "PUT", f"/api/v1/{coll}/{key}", token=api.admin, json={"status": status}
            )
            assert reply.status_code in (200, 201), reply.text
        got = rx.wait_for(1)
        assert [r.body["key"] for r in got] == ["o2"]
        assert got[0].headers["x-luma-trigger"] == trigger["name"]
        path = f"{BASE}/{trigger['name']}"
        deadline = time.monotonic() + 20
        while True:  # the worker owning "bad" keeps its dead letter
            letters = api.call("GET", path + "/dead", token=api.admin).json()["dead_letters"]
            if letters or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if api.kind == "asgi":  # one process holds every shard
            assert [d["event"]["key"] for d in letters] == ["bad"]
        listed = api.call("GET", BASE, token=api.admin).json()["triggers"]
        assert trigger["name"] in [t["name"] for t in listed]
        assert api.call("DELETE", path, token=api.admin).status_code == 200
        assert api.call("GET", path, token=api.admin).status_code == 404


def test_triggers_need_admin_on_their_collection(api: Api, name: str) -> None:
    coll = api.collection(f"{name}_c")
    role = {"name": f"{name}_w", "grants": {coll: ["read", "write"]}}
    assert api.call("POST", "/api/v1/_roles", token=api.admin, json=role).status_code == 201
    user = api.user(f"{name}_u", [role["name"]])
    body = {
        "name": f"{name}_t",
        "collection": coll,
        "sink": {"type": "webhook", "url": "http://127.0.0.1/"},
    }
    assert api.call("POST", BASE, token=user, json=body).status_code == 403
    assert api.call("POST", BASE, token=api.admin, json=body).status_code == 201
    assert api.call("GET", f"{BASE}/{name}_t", token=user).status_code == 403
    assert api.call("GET", BASE, token=user).json()["triggers"] == []
    bad = api.call(
        "POST", BASE, token=api.admin, json={**body, "name": f"{name}_x", "when": "status = 1"}
    )
    assert bad.status_code == 400, bad.text
    private = {**body, "name": f"{name}_y", "sink": {"type": "webhook", "url": "http://10.0.0.1/"}}
    refused = api.call("POST", BASE, token=api.admin, json=private)
    assert refused.status_code == 400 and "allow_private" in refused.text
    assert api.call("DELETE", f"{BASE}/{name}_t", token=api.admin).status_code == 200


def test_patch_pauses_and_resumes_a_trigger(api: Api, name: str) -> None:
    coll = api.collection(f"{name}_p")
    with receiver() as rx:
        body = {"name": f"{name}_p", "collection": coll, "sink": {"type": "webhook", "url": rx.url}}
        assert api.call("POST", BASE, token=api.admin, json=body).status_code == 201
        path = f"{BASE}/{name}_p"
        paused = api.call("PATCH", path, token=api.admin, json={"enabled": False})
        assert paused.status_code == 200 and paused.json()["enabled"] is False, paused.text
        for bad in ({"enabled": "no"}, {"enabled": True, "x": 1}, [True]):
            refused = api.call("PATCH", path, token=api.admin, json=bad)
            assert refused.status_code == 400, refused.text
        missing = api.call("PATCH", f"{BASE}/{name}_none", token=api.admin, json={"enabled": True})
        assert missing.status_code == 404
        reply = api.call("PUT", f"/api/v1/{coll}/k", token=api.admin, json={"n": 1})
        assert reply.status_code in (200, 201), reply.text
        time.sleep(0.3)
        assert rx.requests == 0
        resumed = api.call("PATCH", path, token=api.admin, json={"enabled": True})
        assert resumed.json()["enabled"] is True
        assert [r.body["key"] for r in rx.wait_for(1)] == ["k"]
        deadline = time.monotonic() + 20
        while True:  # the worker owning "k" counted it; the figures are the node's
            metrics = api.call("GET", "/metrics", token=api.admin).text
            line = f'luma_trigger_deliveries_total{{trigger="{name}_p"}} 1'
            if line in metrics or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert line in metrics, [m for m in metrics.splitlines() if "trigger" in m]
        assert f'luma_trigger_attempts_total{{trigger="{name}_p"}} 1' in metrics
        assert f'luma_trigger_lag{{trigger="{name}_p",shard="0"}} 0' in metrics
        assert api.call("DELETE", path, token=api.admin).status_code == 200


def test_lql_makes_and_drops_triggers_for_admins_only(api: Api, name: str) -> None:
    coll = api.collection(f"{name}_l")
    role = {"name": f"{name}_lw", "grants": {coll: ["read", "write"]}}
    assert api.call("POST", "/api/v1/_roles", token=api.admin, json=role).status_code == 201
    user = api.user(f"{name}_lu", [role["name"]])
    create = {"query": f"CREATE TRIGGER {name}_l AFTER INSERT ON {coll} "
                       "SEND TO WEBHOOK 'http://127.0.0.1:9/'"}  # fmt: skip
    refused = api.call("POST", "/api/v1/_query", token=user, json=create)
    assert refused.status_code == 403, refused.text
    made = api.call("POST", "/api/v1/_query", token=api.admin, json=create)
    assert made.status_code == 200, made.text
    listed = api.call("GET", BASE, token=api.admin).json()["triggers"]
    assert f"{name}_l" in [t["name"] for t in listed]
    drop = {"query": f"DROP TRIGGER {name}_l"}
    assert api.call("POST", "/api/v1/_query", token=user, json=drop).status_code == 403
    dropped = api.call("POST", "/api/v1/_query", token=api.admin, json=drop)
    assert dropped.status_code == 200, dropped.text
    assert api.call("GET", f"{BASE}/{name}_l", token=api.admin).status_code == 404
    bad = api.call("POST", "/api/v1/_query", token=api.admin, json={"query": "DROP TRIGGER"})
    assert bad.status_code == 400 and "a trigger name" in bad.text
