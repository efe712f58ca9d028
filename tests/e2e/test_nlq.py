"""POST /api/v1/_nlq: questions in plain language, with the caller's permissions."""

# ruff: noqa: S608 - expected statements name the collections the test made

from __future__ import annotations

import httpx
from tests.e2e.conftest import Api


def _ask(api: Api, token: str, **body: object) -> httpx.Response:
    return api.call("POST", "/api/v1/_nlq", token=token, json=body)


def test_questions_are_answered_with_the_callers_permissions(api: Api, name: str) -> None:
    orders, secrets = api.collection(f"{name}_orders"), api.collection(f"{name}_vault")
    for i, status in enumerate(["paid", "paid", "new"]):
        doc = {"status": status, "amount": 10 * (i + 1)}
        api.call("PUT", f"/api/v1/{orders}/o{i}", token=api.admin, json=doc)
    api.call("PUT", f"/api/v1/{secrets}/s1", token=api.admin, json={"code": "x"})
    found = _ask(api, api.admin, question=f"how many paid {orders}?")
    assert found.status_code == 200, found.text
    answer = found.json()
    assert answer["rows"] == [[2]]
    assert answer["lql"] == f"SELECT count(*) FROM {orders} WHERE status = 'paid'"
    dry = _ask(api, api.admin, question=f"average amount of {orders}", dry_run=True).json()
    assert "rows" not in dry and dry["lql"].startswith("SELECT avg(amount)")

    role = {"name": f"{name}_r", "grants": {orders: ["read"]}}
    assert api.call("POST", "/api/v1/_roles", token=api.admin, json=role).status_code == 201
    user = api.user(f"{name}_u", [role["name"]])
    mine = _ask(api, user, question=f"{orders} with status new")
    assert mine.status_code == 200, mine.text
    assert len(mine.json()["rows"]) == 1
    hidden = _ask(api, user, question=f"every code in {secrets}")
    assert hidden.status_code in (200, 403, 422), hidden.text
    if hidden.status_code == 200:
        shown = hidden.json()
        assert secrets not in shown["lql"] and "code" not in shown["columns"]
    hinted = _ask(api, user, question="all codes", collection=secrets)
    assert hinted.status_code == 403, hinted.text

    bad = [
        ({"question": ""}, 400),
        ({"question": "zzz qqq"}, 422),
        ({"question": "x", "dry_run": "yes"}, 400),
        ({"question": "x", "colour": 1}, 400),
        ({"dry_run": True}, 400),
    ]
    for body, status in bad:
        reply = api.call("POST", "/api/v1/_nlq", token=api.admin, json=body)
        assert reply.status_code == status, (body, reply.text)

    audit = api.call("GET", "/api/v1/_nlq/audit", token=api.admin, params={"limit": 50})
    assert audit.status_code == 200, audit.text
    entries = audit.json()["entries"]
    users = {e["user"] for e in entries if e["question"] == f"{orders} with status new"}
    assert users == {f"{name}_u"}
    assert api.call("GET", "/api/v1/_nlq/audit", token=user).status_code == 403
    assert (
        api.call("GET", "/api/v1/_nlq/audit", token=api.admin, params={"limit": 0}).status_code
        == 400
    )
