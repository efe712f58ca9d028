"""A collection's schema, indexes, vectors and TTL over REST: declared on create, changed by
PATCH /api/v1/_collections/{name} as a merge patch of the description."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.e2e.conftest import Api

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}


def _create(api: Api, body: dict[str, Any]) -> httpx.Response:
    return api.call("POST", "/api/v1/_collections", token=api.admin, json=body)


def _patch(api: Api, name: str, body: Any, token: str | None = None) -> httpx.Response:
    return api.call("PATCH", f"/api/v1/_collections/{name}", token=token or api.admin, json=body)


def _put(api: Api, name: str, doc_id: str, doc: dict[str, Any]) -> httpx.Response:
    return api.call("PUT", f"/api/v1/{name}/{doc_id}", token=api.admin, json=doc)


def test_create_with_every_setting(api: Api, name: str) -> None:
    body = {
        "name": name,
        "schema": SCHEMA,
        "indexes": [
            {"name": f"{name}_email", "fields": ["email"], "unique": True},
            {"fields": ["shop", "day"]},
            {"fields": ["body"], "kind": "text"},
        ],
        "vectors": {"e": {"dim": 2, "metric": "l2"}},
        "ttl": "30d",
    }
    made = _create(api, body)
    assert made.status_code == 201, made.text
    described = made.json()
    assert described["schema"] == SCHEMA
    assert described["ttl_seconds"] == 30 * 86400
    indexes = {i["name"]: i for i in described["indexes"]}
    assert indexes[f"{name}_email"] == {
        "name": f"{name}_email",
        "path": "email",
        "fields": ["email"],
        "unique": True,
    }
    assert indexes[f"{name}_shop_day_idx"]["fields"] == ["shop", "day"]
    assert indexes[f"{name}_body_text"]["kind"] == "text"
    assert described["vectors"]["e"]["dim"] == 2
    assert _put(api, name, "a", {"n": 1, "email": "x@y"}).status_code in (200, 201)
    assert _put(api, name, "b", {"n": "two"}).status_code == 422  # the schema
    assert _put(api, name, "c", {"n": 3, "email": "x@y"}).status_code == 409  # unique


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"indexes": {"fields": ["a"]}}, "list"),
        ({"indexes": [{"fields": []}]}, "field paths"),
        ({"indexes": [{"fields": ["a"], "kind": "hash"}]}, "kind"),
        ({"indexes": [{"fields": ["a", "b"], "kind": "text"}]}, "text index"),
        ({"indexes": [{"fields": ["a"]}, {"fields": ["a"]}]}, "twice"),
        ({"indexes": [{"fields": ["a"], "colour": 1}]}, "fields"),
        ({"ttl": "soon"}, "ttl"),
        ({"ttl": 0}, "longer than 0"),
        ({"ttl": 4.7e16}, "100 years"),
        ({"schema": 3}, "JSON Schema"),
        ({"schema": {"type": "nonsense"}}, "schema"),
        ({"vectors": {"e": {"dim": 0}}}, "dim"),
    ],
)
def test_bad_settings_make_nothing(api: Api, name: str, extra: dict[str, Any], words: str) -> None:
    reply = _create(api, {"name": name, **extra})
    assert reply.status_code == 400, reply.text
    assert words in reply.json()["error"]["message"], reply.text
    gone = api.call("GET", f"/api/v1/_collections/{name}", token=api.admin)
    assert gone.status_code == 404


def test_patch_changes_settings(api: Api, name: str) -> None:
    made = _create(api, {"name": name, "indexes": [{"name": f"{name}_a", "fields": ["a"]}]})
    assert made.status_code == 201, made.text
    assert _put(api, name, "d1", {"a": 1, "n": 1}).status_code in (200, 201)
    body = {
        "ttl": "12h",
        "schema": SCHEMA,
        "indexes": [{"name": f"{name}_n", "fields": ["n"], "unique": True}],
        "vectors": {"e": {"dim": 3}},
    }
    changed = _patch(api, name, body)
    assert changed.status_code == 200, changed.text
    described = changed.json()
    assert described["ttl_seconds"] == 12 * 3600
    assert [i["name"] for i in described["indexes"]] == [f"{name}_n"]  # a was dropped
    assert described["vectors"]["e"]["dim"] == 3
    assert _put(api, name, "d2", {"n": 1}).status_code == 409
    removed = _patch(api, name, {"schema": None, "ttl": None, "vectors": {"e": None}})
    assert removed.status_code == 200, removed.text
    assert not {"schema", "ttl_seconds", "vectors"} & set(removed.json())
    assert _put(api, name, "d3", {"n": "text now"}).status_code in (200, 201)


def test_patch_refusals(api: Api, name: str) -> None:
    assert _create(api, {"name": name}).status_code == 201
    assert _put(api, name, "d1", {"n": "text"}).status_code in (200, 201)
    strict = _patch(api, name, {"schema": SCHEMA})
    assert strict.status_code == 422, strict.text  # a stored document does not match
    assert "schema" not in api.call("GET", f"/api/v1/_collections/{name}", token=api.admin).json()
    cases: list[tuple[Any, int, str]] = [
        ({"name": "other"}, 400, "cannot be changed"),
        ({"colour": 1}, 400, "unknown field"),
        ([1], 400, "merge patch"),
    ]
    for body, status, words in cases:
        reply = _patch(api, name, body)
        assert reply.status_code == status, (body, reply.text)
        assert words in reply.json()["error"]["message"]
    first = _patch(api, name, {"indexes": [{"name": f"{name}_x", "fields": ["x"]}]})
    assert first.status_code == 200, first.text
    clash = _patch(api, name, {"indexes": [{"name": f"{name}_x", "fields": ["y"]}]})
    assert clash.status_code == 409, clash.text
    assert _patch(api, f"{name}_missing", {"ttl": "1d"}).status_code == 404
    reader = api.user(f"{name}_r", ["reader"])
    assert _patch(api, name, {"ttl": "1d"}, token=reader).status_code == 403
