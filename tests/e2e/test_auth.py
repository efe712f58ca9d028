"""Authentication and authorization over HTTP: every route, every role."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from tests.e2e.conftest import JWT_SECRET, Api

PUBLIC = {
    ("GET", "/health"),
    ("POST", "/api/v1/_auth/token"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/{asset}"),
}


def _path(template: str) -> str:
    return template.replace("{collection}", "somecoll").replace("{id}", "x").replace("{name}", "x")


def test_every_route_but_the_public_ones_needs_a_token(api: Api) -> None:
    public = {(r.method, r.template) for r in api.routes if r.public}
    assert public == PUBLIC
    unprotected = []
    for route in api.routes:
        if route.public:
            continue
        for headers in ({}, {"authorization": "Bearer nonsense"}, {"authorization": "Basic x"}):
            reply = api.call(route.method, _path(route.template), headers=headers, json={})
            if reply.status_code != 401:
                unprotected.append((route.method, route.template, headers, reply.status_code))
            else:
                assert reply.headers["www-authenticate"].startswith("Bearer")
    assert unprotected == []
    assert len(api.routes) >= 20


def test_unknown_api_paths_answer_401_before_404(api: Api) -> None:
    assert api.call("GET", "/api/v2/anything").status_code == 401
    assert api.call("GET", "/api/v2/anything", token=api.admin).status_code == 404
    assert api.call("GET", "/nowhere").status_code == 404


def test_login_gives_a_bearer_token(api: Api) -> None:
    reply = api.call(
        "POST", "/api/v1/_auth/token", json={"username": "admin", "password": "admin-pass-123"}
    )
    body = reply.json()
    assert body["token_type"] == "bearer"
    assert 0 < body["expires_in"] <= 3600
    assert reply.headers["cache-control"] == "no-store"
    me = api.call("GET", "/api/v1/_auth/me", token=body["access_token"]).json()
    assert me["name"] == "admin" and me["system"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"username": "admin", "password": "wrong-password"},
        {"username": "nobody", "password": "admin-pass-123"},
        {"username": "admin"},
        {"username": 5, "password": []},
    ],
)
def test_bad_logins_are_401(api: Api, body: dict[str, object]) -> None:
    reply = api.call("POST", "/api/v1/_auth/token", json=body)
    assert reply.status_code == 401
    assert "access_token" not in reply.text


def test_forged_and_expired_tokens_are_refused(api: Api) -> None:
    now = int(time.time())
    claims = {"iss": "lumadb", "sub": "admin", "kind": "user", "jti": "j", "iat": now}
    forged = jwt.encode({**claims, "exp": now + 600}, "another-secret-" * 4, algorithm="HS256")
    expired = jwt.encode({**claims, "exp": now - 3600}, JWT_SECRET, algorithm="HS256")
    none_alg = jwt.encode({**claims, "exp": now + 600}, None, algorithm="none")
    good = jwt.encode({**claims, "exp": now + 600}, JWT_SECRET, algorithm="HS256")
    for token in (forged, expired, none_alg):
        assert api.call("GET", "/api/v1/_collections", token=token).status_code == 401
    # The canary: the same claims signed with the node's secret are accepted.
    assert api.call("GET", "/api/v1/_collections", token=good).status_code == 200


def test_failed_logins_are_rate_limited_per_user(api: Api, name: str) -> None:
    api.user(name, ["reader"])
    wrong = {"username": name, "password": "not-the-password"}
    codes = [api.call("POST", "/api/v1/_auth/token", json=wrong).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    limited = api.call("POST", "/api/v1/_auth/token", json=wrong)
    assert int(limited.headers["retry-after"]) >= 1
    right = {"username": name, "password": "user-pass-123"}
    assert api.call("POST", "/api/v1/_auth/token", json=right).status_code == 429


def test_login_limits_hold_across_the_workers_of_a_node(served_api: Api, name: str) -> None:
    served_api.user(name, ["reader"])
    wrong = {"username": name, "password": "not-the-password"}
    codes = []
    for _ in range(6):  # a new connection each: they land on different workers
        with httpx.Client(base_url=served_api.base) as fresh:
            codes.append(fresh.post("/api/v1/_auth/token", json=wrong).status_code)
    assert codes == [401] * 5 + [429]


def test_reader_reads_but_cannot_write_or_administer(api: Api, name: str) -> None:
    docs = api.collection(name)
    api.call("PUT", f"/api/v1/{docs}/r1", token=api.admin, json={"v": 1})
    reader = api.user(f"{name}_reader", ["reader"])
    assert api.call("GET", f"/api/v1/{docs}/r1", token=reader).status_code == 200
    refused = [
        api.call("PUT", f"/api/v1/{docs}/r1", token=reader, json={"v": 2}),
        api.call("POST", f"/api/v1/{docs}", token=reader, json={}),
        api.call("PATCH", f"/api/v1/{docs}/r1", token=reader, json={"v": 3}),
        api.call("DELETE", f"/api/v1/{docs}/r1", token=reader),
        api.call("POST", f"/api/v1/{docs}/_bulk", token=reader, content='{"id": "z"}'),
        api.call("POST", "/api/v1/_collections", token=reader, json={"name": f"{name}x"}),
        api.call("DELETE", f"/api/v1/_collections/{docs}", token=reader),
        api.call("GET", "/api/v1/_users", token=reader),
        api.call("POST", "/api/v1/_users", token=reader, json={"name": "e", "password": "p" * 9}),
        api.call("GET", "/api/v1/_roles", token=reader),
        api.call("GET", "/metrics", token=reader),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert all(r.json()["error"]["code"] == "forbidden" for r in refused)
    assert api.call("GET", f"/api/v1/{docs}/r1", token=api.admin).json()["v"] == 1


def test_custom_roles_grant_per_collection(api: Api, name: str) -> None:
    mine, theirs = api.collection(f"{name}_a"), api.collection(f"{name}_b")
    role = {"name": f"{name}_role", "grants": {mine: ["read", "write"]}}
    assert api.call("POST", "/api/v1/_roles", token=api.admin, json=role).status_code == 201
    user = api.user(f"{name}_u", [role["name"]])
    assert api.call("PUT", f"/api/v1/{mine}/x", token=user, json={}).status_code == 200
    assert api.call("PUT", f"/api/v1/{theirs}/x", token=user, json={}).status_code == 403
    assert api.call("GET", f"/api/v1/{theirs}/x", token=user).status_code == 403
    listed = api.call("GET", "/api/v1/_collections", token=user).json()["collections"]
    assert [c["name"] for c in listed] == [mine]


def test_deleting_a_user_revokes_its_tokens(api: Api, name: str) -> None:
    token = api.user(name, ["writer"])
    assert api.call("GET", "/api/v1/_collections", token=token).status_code == 200
    assert api.call("DELETE", f"/api/v1/_users/{name}", token=api.admin).status_code == 204
    assert api.call("GET", "/api/v1/_collections", token=token).status_code == 401


def test_users_change_their_own_password_but_not_their_roles(api: Api, name: str) -> None:
    token = api.user(name, ["reader"])
    path = f"/api/v1/_users/{name}"
    assert api.call("PATCH", path, token=token, json={"roles": ["admin"]}).status_code == 403
    new = {"password": "brand-new-pass"}
    assert api.call("PATCH", path, token=token, json=new).status_code == 200
    assert api.login(name, "brand-new-pass")
    assert api.call("GET", path, token=token).json()["roles"] == ["reader"]
    other = api.call("PATCH", "/api/v1/_users/admin", token=token, json=new)
    assert other.status_code == 403


def test_the_last_admin_cannot_be_deleted(api: Api) -> None:
    reply = api.call("DELETE", "/api/v1/_users/admin", token=api.admin)
    assert reply.status_code == 409
    assert api.call("GET", "/api/v1/_auth/me", token=api.admin).status_code == 200


def test_api_keys_are_shown_once_scoped_and_revocable(api: Api, name: str) -> None:
    docs = api.collection(name)
    writer = api.user(f"{name}_w", ["writer"])
    made = api.call("POST", "/api/v1/_keys", token=writer, json={"name": "ci", "roles": ["reader"]})
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    assert key.startswith("luma_")
    listed = api.call("GET", "/api/v1/_keys", token=writer).json()["keys"]
    assert [k["name"] for k in listed] == ["ci"]
    assert key not in str(listed) and "secret_hash" not in str(listed)
    assert api.call("GET", f"/api/v1/{docs}/nope", token=key).status_code == 404
    assert api.call("PUT", f"/api/v1/{docs}/k", token=key, json={}).status_code == 403
    beyond = api.call("POST", "/api/v1/_keys", token=writer, json={"name": "x", "roles": ["admin"]})
    assert beyond.status_code == 403
    by_key = api.call("POST", "/api/v1/_keys", token=key, json={"name": "y"})
    assert by_key.status_code == 403
    wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert api.call("GET", f"/api/v1/{docs}/nope", token=wrong).status_code == 401
    key_id = made.json()["id"]
    assert api.call("DELETE", f"/api/v1/_keys/{key_id}", token=writer).status_code == 204
    assert api.call("GET", f"/api/v1/{docs}/nope", token=key).status_code == 401


def test_a_key_loses_what_its_owner_loses(api: Api, name: str) -> None:
    docs = api.collection(name)
    writer = api.user(name, ["writer"])
    key = api.call("POST", "/api/v1/_keys", token=writer, json={"name": "k"}).json()["key"]
    assert api.call("PUT", f"/api/v1/{docs}/a", token=key, json={}).status_code == 200
    demote = api.call(
        "PATCH", f"/api/v1/_users/{name}", token=api.admin, json={"roles": ["reader"]}
    )
    assert demote.status_code == 200
    assert api.call("PUT", f"/api/v1/{docs}/a", token=key, json={}).status_code == 403
    assert api.call("DELETE", f"/api/v1/_users/{name}", token=api.admin).status_code == 204
    assert api.call("GET", f"/api/v1/{docs}/a", token=key).status_code == 401


def test_row_filters_keep_users_to_their_own_documents(api: Api, name: str) -> None:
    docs = api.collection(name)
    grant = {"actions": ["read", "write"], "rows": {"owner": "$user"}}
    role = {"name": f"{name}_own", "grants": {docs: grant}}
    assert api.call("POST", "/api/v1/_roles", token=api.admin, json=role).status_code == 201
    ann, bob = api.user(f"{name}_ann", [role["name"]]), api.user(f"{name}_bob", [role["name"]])
    a, b = f"{name}_ann", f"{name}_bob"
    assert api.call("PUT", f"/api/v1/{docs}/a1", token=ann, json={"owner": a}).status_code == 200
    assert (
        api.call("POST", f"/api/v1/{docs}", token=bob, json={"id": "b1", "owner": b}).status_code
        == 201
    )
    # Bob cannot see, change, take over or delete Ann's document, nor write one in her name.
    refused = {
        "read": api.call("GET", f"/api/v1/{docs}/a1", token=bob).status_code,
        "replace": api.call("PUT", f"/api/v1/{docs}/a1", token=bob, json={"owner": b}).status_code,
        "patch": api.call("PATCH", f"/api/v1/{docs}/a1", token=bob, json={"x": 1}).status_code,
        "delete": api.call("DELETE", f"/api/v1/{docs}/a1", token=bob).status_code,
        "forge": api.call("PUT", f"/api/v1/{docs}/b2", token=bob, json={"owner": a}).status_code,
        "create": api.call("POST", f"/api/v1/{docs}", token=bob, json={"owner": a}).status_code,
        "give away": api.call(
            "PATCH", f"/api/v1/{docs}/b1", token=bob, json={"owner": a}
        ).status_code,
        "bulk": api.call(
            "POST", f"/api/v1/{docs}/_bulk", token=bob, content=f'{{"id": "a1", "owner": "{b}"}}'
        ).status_code,
    }
    assert refused == {
        "read": 404,
        "replace": 403,
        "patch": 404,
        "delete": 404,
        "forge": 403,
        "create": 403,
        "give away": 403,
        "bulk": 403,
    }
    listed = api.call("GET", f"/api/v1/{docs}", token=bob).json()["items"]
    assert [d["id"] for d in listed] == ["b1"]
    assert api.call("GET", f"/api/v1/{docs}/a1", token=ann).json()["owner"] == a
    assert api.call("GET", f"/api/v1/{docs}/a1", token=api.admin).status_code == 200
    bad = {
        "name": f"{name}_bad",
        "grants": {docs: {"actions": ["read"], "rows": {"x": {"$no": 1}}}},
    }
    assert api.call("POST", "/api/v1/_roles", token=api.admin, json=bad).status_code == 400
