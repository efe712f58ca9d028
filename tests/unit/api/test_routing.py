"""The router: literal segments first, the most literal template decides, 404 and 405."""

from __future__ import annotations

from typing import Any

import pytest

from lumadb.api.routing import Router
from lumadb.errors import MethodNotAllowed, NotFound


async def _handler(*args: Any) -> Any:
    return None


def _router() -> Router:
    router = Router()
    for method, template in [
        ("GET", "/api/v1/_collections"),
        ("POST", "/api/v1/_collections"),
        ("GET", "/api/v1/_collections/{name}"),
        ("GET", "/api/v1/{collection}"),
        ("POST", "/api/v1/{collection}"),
        ("GET", "/api/v1/{collection}/{id}"),
        ("PUT", "/api/v1/{collection}/{id}"),
        ("POST", "/api/v1/{collection}/_bulk"),
        ("GET", "/health"),
    ]:
        router.add(method, template, _handler, summary=template)
    return router


def _match(method: str, path: str) -> tuple[str, dict[str, str]]:
    route, params = _router().match(method, path.split("/")[1:])
    return route.template, params


def test_literals_win_and_parameters_are_named() -> None:
    assert _match("GET", "/api/v1/_collections") == ("/api/v1/_collections", {})
    assert _match("GET", "/api/v1/users") == ("/api/v1/{collection}", {"collection": "users"})
    assert _match("GET", "/api/v1/users/u1") == (
        "/api/v1/{collection}/{id}",
        {"collection": "users", "id": "u1"},
    )
    assert _match("POST", "/api/v1/users/_bulk")[0] == "/api/v1/{collection}/_bulk"
    assert _match("GET", "/api/v1/_collections/x") == ("/api/v1/_collections/{name}", {"name": "x"})
    assert _match("HEAD", "/health")[0] == "/health"


def test_the_most_literal_template_decides_the_allowed_methods() -> None:
    with pytest.raises(MethodNotAllowed) as caught:
        _match("PUT", "/api/v1/_collections")
    assert caught.value.allowed == ("GET", "POST")
    # A document id that is also a sub-resource name is taken by the sub-resource.
    with pytest.raises(MethodNotAllowed):
        _match("PUT", "/api/v1/users/_bulk")


@pytest.mark.parametrize("path", ["/nowhere", "/api/v1", "/api/v1/users/u1/extra", "/api/v1//x"])
def test_unknown_paths_are_not_found(path: str) -> None:
    with pytest.raises(NotFound):
        _match("GET", path)


def test_a_route_cannot_be_added_twice() -> None:
    router = _router()
    with pytest.raises(ValueError, match="twice"):
        router.add("GET", "/health", _handler, summary="again")
