"""``/openapi.json`` and ``/docs``: a valid OpenAPI 3.1 document of every route, and Swagger
UI served by the node itself, with no token, nothing from other hosts and no way out of its
directory."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator
from tests.e2e.conftest import Api

from lumadb.api._openapi_routes import OPERATIONS
from lumadb.api.openapi import build_openapi
from lumadb.api.routing import Router


def _document(api: Api) -> dict[str, Any]:
    reply = api.call("GET", "/openapi.json")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"
    document = reply.json()
    assert isinstance(document, dict)
    return document


def _operation(document: dict[str, Any], method: str, template: str) -> dict[str, Any]:
    found = document["paths"][template][method.lower()]
    assert isinstance(found, dict)
    return found


def test_the_document_is_valid_openapi_3_1(api: Api) -> None:
    document = _document(api)
    assert document["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(document).validate()
    # What the node serves is what the builder makes of its routes, built once.
    assert document == build_openapi(api.routes)
    assert api.call("GET", "/openapi.json").content == api.call("GET", "/openapi.json").content


def test_every_route_is_an_operation_and_every_entry_a_route(api: Api) -> None:
    document = _document(api)
    listed = {(m.upper(), t) for t, ops in document["paths"].items() for m in ops}
    routes = {(r.method, r.template) for r in api.routes}
    assert listed == routes == set(OPERATIONS)
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    for route in api.routes:
        op = _operation(document, route.method, route.template)
        assert op["summary"] == route.summary
        assert {"500", "503", "504"} <= set(op["responses"])
        assert any(s.startswith(("2", "3")) for s in op["responses"])
        params = {p["name"] for p in op["parameters"] if p.get("in") == "path"}
        assert params == set(re.findall(r"{(\w+)}", route.template))
        if route.public:
            assert op["security"] == []
        else:
            assert "security" not in op  # the global bearer requirement holds
            assert "401" in op["responses"]
    assert document["security"] == [{"bearerAuth": []}]
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def test_a_route_without_an_entry_stops_the_build(api: Api) -> None:
    router = Router()
    for route in api.routes:
        router.add(route.method, route.template, route.handler, summary=route.summary)

    async def handler(*_: object) -> Any:
        raise AssertionError("never called")

    router.add("GET", "/api/v1/_undocumented/{thing}", handler, summary="New")
    with pytest.raises(LookupError, match=r"GET /api/v1/_undocumented/\{thing\}"):
        build_openapi(router.routes)


def test_bodies_are_as_strict_as_the_handlers(api: Api) -> None:
    document = _document(api)
    schemas = document["components"]["schemas"]
    create = _operation(document, "POST", "/api/v1/_collections")["requestBody"]
    assert create["content"]["application/json"]["schema"]["$ref"].endswith("/CollectionCreate")
    body = schemas["CollectionCreate"]
    assert body["additionalProperties"] is False and body["required"] == ["name"]
    assert schemas["CollectionName"]["pattern"] == "^[A-Za-z][A-Za-z0-9_]{0,63}$"
    assert schemas["Changefeed"]["enum"] == ["new", "new_and_old"]
    bulk = _operation(document, "POST", "/api/v1/{collection}/_bulk")["requestBody"]["content"]
    assert schemas[bulk["application/x-ndjson"]["schema"]["$ref"].split("/")[-1]] == {
        "type": "string",
        "description": "one JSON object per line",
    }
    for name in ("Login", "UserCreate", "UserChange", "RoleCreate", "KeyCreate"):
        assert schemas[name]["additionalProperties"] is False, name
    assert schemas["Error"]["required"] == ["error"]
    listing = _operation(document, "GET", "/api/v1/{collection}")["parameters"]
    query = {p["$ref"].split("/")[-1] for p in listing if "$ref" in p}
    assert query >= {"limit", "offset", "prefix", "cursor"}
    error_refs = {
        reply["$ref"]
        for ops in document["paths"].values()
        for op in ops.values()
        for status, reply in op["responses"].items()
        if status >= "400" and "$ref" in reply
    }
    for ref in error_refs:
        reply = document["components"]["responses"][ref.split("/")[-1]]
        assert reply["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_etags_and_conditions_are_documented(api: Api) -> None:
    document = _document(api)
    parameters = document["components"]["parameters"]

    def headers(method: str) -> set[str]:
        op = _operation(document, method, "/api/v1/{collection}/{id}")
        return {
            parameters[p["$ref"].split("/")[-1]]["name"] for p in op["parameters"] if "$ref" in p
        }

    assert headers("GET") == {"If-None-Match"}
    assert headers("PUT") == {"If-Match", "If-None-Match"}
    assert headers("PATCH") == headers("DELETE") == {"If-Match"}
    read = _operation(document, "GET", "/api/v1/{collection}/{id}")["responses"]
    assert read["200"]["headers"]["ETag"]["required"] is True
    assert "content" not in read["304"] and "ETag" in read["304"]["headers"]
    put = _operation(document, "PUT", "/api/v1/{collection}/{id}")["responses"]
    assert put["200"]["headers"]["ETag"]["required"] is False
    assert {"409", "412"} <= set(put)


def test_docs_page_and_its_files_need_no_token_and_stay_on_this_host(api: Api) -> None:
    page = api.call("GET", "/docs")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "http://" not in page.text and "https://" not in page.text and "//" not in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "docs/swagger-ui-bundle.js" in links and "docs/swagger-ui.css" in links
    kinds = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    for link in links:
        reply = api.call("GET", "/" + link)
        assert reply.status_code == 200, link
        assert reply.headers["content-type"].startswith(kinds[link[link.rindex(".") :]])
        assert reply.content
    assert 'url: "openapi.json"' in page.text  # relative: /openapi.json from /docs


def test_the_bundled_swagger_ui_reads_openapi_3_1() -> None:
    # Swagger UI renders OpenAPI 3.1 from version 5 on; swagger-ui-bundle 1.x ships 4.15,
    # which shows "Unable to render this definition" instead.
    import swagger_ui_bundle

    folder = Path(str(swagger_ui_bundle.swagger_ui_path)).name
    version = re.fullmatch(r"swagger-ui-(\d+)\.\d+\.\d+", folder)
    assert version is not None and int(version[1]) >= 5, folder


@pytest.mark.parametrize(
    "path",
    [
        "/docs/..%2F..%2Fetc%2Fpasswd",
        "/docs/%2e%2e/x",
        "/docs/%2e%2e",
        "/docs/..%2F__init__.py",
        "/docs/%2Fetc%2Fpasswd",
        "/docs/swagger-initializer.js",  # the bundle's own, pointing at a demo API elsewhere
        "/docs/index.html",
        "/docs/nothing.js",
    ],
)
def test_nothing_outside_the_bundle_is_served(api: Api, path: str) -> None:
    reply = api.call("GET", path)
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "not_found"
