"""Bad input gets a 4xx with a JSON error naming the problem, never a 500."""

from __future__ import annotations

import pytest
from tests.e2e.conftest import Api

LIMIT = 64 * 1024  # server.max_body in these tests


def _error(reply: object, status: int, code: str) -> str:
    assert reply.status_code == status, reply.text  # type: ignore[attr-defined]
    error = reply.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return str(error["message"])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", "malformed_request"),
        (b"", "malformed_request"),
        (b"\xff\xfe", "malformed_request"),
        (b'{"a": NaN}', "malformed_request"),
        (b"[1, 2]", "invalid_document"),
        (b'"text"', "invalid_document"),
        (b"null", "invalid_document"),
    ],
)
def test_malformed_and_non_object_bodies_are_400(
    api: Api, name: str, body: bytes, code: str
) -> None:
    docs = api.collection(name)
    reply = api.call("PUT", f"/api/v1/{docs}/x", token=api.admin, content=body)
    _error(reply, 400, code)


def test_bodies_over_the_limit_are_413(api: Api, name: str) -> None:
    docs = api.collection(name)
    big = {"blob": "x" * LIMIT}
    reply = api.call("PUT", f"/api/v1/{docs}/x", token=api.admin, json=big)
    assert "limit" in _error(reply, 413, "payload_too_large")


def test_deep_json_is_refused(api: Api, name: str) -> None:
    docs = api.collection(name)
    deep = b"[" * 65 + b"]" * 65
    reply = api.call("PUT", f"/api/v1/{docs}/x", token=api.admin, content=b'{"a": ' + deep + b"}")
    assert "deeper" in _error(reply, 400, "malformed_request")
    very_deep = b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    reply = api.call("PUT", f"/api/v1/{docs}/x", token=api.admin, content=very_deep)
    _error(reply, 400, "malformed_request")
    shallow = b'{"a": ' + b"[" * 30 + b"]" * 30 + b"}"
    assert api.call("PUT", f"/api/v1/{docs}/x", token=api.admin, content=shallow).status_code == 200


def test_wrong_content_type_is_415(api: Api, name: str) -> None:
    docs = api.collection(name)
    reply = api.call(
        "PUT",
        f"/api/v1/{docs}/x",
        token=api.admin,
        content=b"{}",
        headers={"content-type": "text/plain"},
    )
    _error(reply, 415, "unsupported_media_type")


def test_unknown_collection_and_bad_names(api: Api) -> None:
    _error(api.call("GET", "/api/v1/nope/x", token=api.admin), 404, "collection_not_found")
    _error(api.call("PUT", "/api/v1/nope/x", token=api.admin, json={}), 404, "collection_not_found")
    reply = api.call("POST", "/api/v1/_collections", token=api.admin, json={"name": "1bad"})
    _error(reply, 400, "invalid_collection_name")
    reply = api.call("POST", "/api/v1/_collections", token=api.admin, json={"nam": "x"})
    _error(reply, 400, "invalid_argument")
    reply = api.call(
        "POST", "/api/v1/_collections", token=api.admin, json={"name": "v", "ttl": "never"}
    )
    assert "ttl" in _error(reply, 400, "invalid_argument")


def test_duplicate_collection_is_409(api: Api, name: str) -> None:
    api.collection(name)
    reply = api.call("POST", "/api/v1/_collections", token=api.admin, json={"name": name})
    _error(reply, 409, "collection_exists")


def test_bad_ids_and_id_mismatch(api: Api, name: str) -> None:
    docs = api.collection(name)
    reply = api.call("PUT", f"/api/v1/{docs}/%00x", token=api.admin, json={})
    _error(reply, 400, "invalid_id")
    reply = api.call("PUT", f"/api/v1/{docs}/" + "i" * 600, token=api.admin, json={})
    _error(reply, 400, "invalid_id")
    reply = api.call("PUT", f"/api/v1/{docs}/a", token=api.admin, json={"id": "b"})
    assert reply.status_code == 400
    reply = api.call("GET", f"/api/v1/{docs}/%E0%A4%A", token=api.admin)
    assert reply.status_code == 400


def test_bad_query_parameters(api: Api, name: str) -> None:
    docs = api.collection(name)
    for params in (
        {"limit": "-1"},
        {"limit": "x"},
        {"limit": "5000"},
        {"offset": "1e9"},
        {"cursor": "!!!"},
        {"colour": "red"},
    ):
        reply = api.call("GET", f"/api/v1/{docs}", token=api.admin, params=params)
        _error(reply, 400, "invalid_argument")
    twice = api.call("GET", f"/api/v1/{docs}?limit=1&limit=2", token=api.admin)
    _error(twice, 400, "malformed_request")


def test_method_not_allowed_names_the_allowed_ones(api: Api) -> None:
    reply = api.call("PUT", "/api/v1/_collections", token=api.admin, json={})
    _error(reply, 405, "method_not_allowed")
    assert reply.headers["allow"] == "GET, POST"


def test_bad_if_match_is_412(api: Api, name: str) -> None:
    docs = api.collection(name)
    api.call("PUT", f"/api/v1/{docs}/x", token=api.admin, json={})
    reply = api.call(
        "PUT", f"/api/v1/{docs}/x", token=api.admin, json={}, headers={"if-match": '"zz"'}
    )
    _error(reply, 412, "version_mismatch")
