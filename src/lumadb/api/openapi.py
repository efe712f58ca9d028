"""The OpenAPI 3.1 document of the HTTP API, built from the router's routes.

Each route's method, template, summary and public flag come from
:attr:`lumadb.api.routing.Router.routes`; what the handler reads and answers comes from the
table in :mod:`lumadb.api._openapi_routes`. A route without an entry makes
:func:`build_openapi` raise, so a new route cannot go undocumented. Here the statuses every
route shares are added (500, 503 and 504 everywhere, 401 where a token is needed, 400/413/415/422
where a body is read, 400 where path parameters are decoded, 507 on writes), each with the
one error schema, and the document is put together.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from lumadb._version import __version__
from lumadb.api._openapi_routes import (
    JSON,
    OPERATIONS,
    PARAMETERS,
    SCHEMAS,
    STRING,
    Operation,
    Reply,
    Schema,
    ref,
)
from lumadb.api.routing import Route

__all__ = ["build_openapi"]


_ERRORS = {
    400: "Bad request: not JSON, not an object, a bad id, name or parameter, unknown fields",
    401: "No token, or a bad or expired one (or, on login, a wrong name or password)",
    403: "The token's user lacks the permission",
    404: "No such collection, document, user, role or file",
    409: "The name or id is taken, or the last system user would go",
    412: "If-Match names another version of the document",
    413: "The body or the document is too large",
    415: "The body is not JSON (or NDJSON / merge-patch JSON)",
    422: "A document does not match its collection's schema",
    429: "Too many failed logins; retry after Retry-After seconds",
    500: "A bug; the server log has the details under the request id",
    503: "A shard is read-only, or the node is starting or stopping",
    504: "The request took longer than server.request_timeout",
    507: "The disk is full",
}
_ERROR_HEADERS = {401: "WWW-Authenticate", 429: "Retry-After"}


def _header_spec(description: str) -> Schema:
    return {"description": description, "required": True, "schema": STRING}


# Response headers; a name ending in "?" in the table is sent only sometimes.
_HEADERS: dict[str, Schema] = {
    "ETag": _header_spec("the document's version; send it back in If-Match or If-None-Match"),
    "Location": _header_spec("the path of what was created"),
    "Cache-Control": _header_spec("caching policy"),
    "WWW-Authenticate": _header_spec("Bearer"),
    "Retry-After": _header_spec("seconds to wait"),
}


def _headers(names: Iterable[str]) -> Schema:
    return {
        n.rstrip("?"): {**_HEADERS[n.rstrip("?")], "required": not n.endswith("?")} for n in names
    }


def _error_response(status: int) -> Schema:
    reply: Schema = {"description": _ERRORS[status], "content": {JSON: {"schema": ref("Error")}}}
    if status in _ERROR_HEADERS:
        reply["headers"] = _headers([_ERROR_HEADERS[status]])
    return reply


def _reply(reply: Reply) -> Schema:
    out: Schema = {"description": reply.description}
    if reply.headers:
        out["headers"] = _headers(reply.headers)
    if reply.schema is not None:
        out["content"] = {m: {"schema": ref(reply.schema)} for m in reply.media}
    return out


def _statuses(route: Route, op: Operation) -> list[int]:
    shared = {500, 503, 504, *op.errors}
    if not route.public:
        shared.add(401)
    if op.body is not None:
        shared |= {400, 413, 415, 422}
    if "{" in route.template:  # path parameters are percent-decoded: 400 if not UTF-8
        shared.add(400)
    if route.method != "GET":
        shared.add(507)
    return sorted(shared - set(op.replies))


def _path_parameters(route: Route, op: Operation) -> list[Schema]:
    defaults = {"collection": "CollectionName", "id": "DocumentId", "asset": "Text"}
    names = [s[1:-1] for s in route.segments if s.startswith("{")]
    out = []
    for name in names:
        schema = op.path.get(name, defaults.get(name))
        if schema is None:
            raise LookupError(f"{route.method} {route.template}: no schema for {{{name}}}")
        out.append({"name": name, "in": "path", "required": True, "schema": ref(schema)})
    return out


def _operation(route: Route, op: Operation) -> Schema:
    responses = {str(s): _reply(r) for s, r in sorted(op.replies.items())}
    responses |= {str(s): ref(f"E{s}", "responses") for s in _statuses(route, op)}
    out: Schema = {
        "summary": route.summary,
        "operationId": op.operation_id,
        "tags": [op.tag],
        "parameters": [
            *_path_parameters(route, op),
            *(ref(p, "parameters") for p in op.parameters),
        ],
        "responses": responses,
    }
    if op.body is not None:
        schema = ref(op.body.schema)
        content = {m: {"schema": schema} for m in op.body.media}
        out["requestBody"] = {"required": True, "content": content}
    if route.public:
        out["security"] = []  # no token needed
    return out


def _check_coverage(routes: list[Route]) -> None:
    # An entry without a route is left out of the document (a test catches it); a route
    # without an entry would go undocumented, so that stops the build.
    missing = [
        f"{r.method} {r.template}" for r in routes if (r.method, r.template) not in OPERATIONS
    ]
    if missing:
        raise LookupError(
            f"no OpenAPI entry for {', '.join(missing)}: "
            "add one to lumadb.api._openapi_routes.OPERATIONS"
        )


def build_openapi(routes: Iterable[Route], version: str = __version__) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``routes``; :class:`LookupError` if the table lacks one."""
    listed = list(routes)
    _check_coverage(listed)
    paths: dict[str, Schema] = {}
    for route in listed:
        op = _operation(route, OPERATIONS[route.method, route.template])
        paths.setdefault(route.template, {})[route.method.lower()] = op
    tags = sorted({op["tags"][0] for path in paths.values() for op in path.values()})
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "LumaDB",
            "version": version,
            "description": "The HTTP API of a LumaDB node. Errors are always "
            '`{"error": {"code", "message"}}`; every response carries `x-request-id`.',
        },
        "tags": [{"name": t} for t in tags],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "a token from POST /api/v1/_auth/token, or an API key",
                }
            },
            "schemas": SCHEMAS,
            "parameters": PARAMETERS,
            "responses": {f"E{s}": _error_response(s) for s in sorted(_ERRORS)},
        },
    }
    # The schemas are shared module constants; a caller may change its document freely.
    return copy.deepcopy(document)
