"""``/openapi.json`` and ``/docs``: the API's description and Swagger UI, without a token.

Swagger UI's files come from the ``swagger-ui-bundle`` package and are served by this node,
so the page works offline and loads nothing from other hosts (its Content-Security-Policy
says so to the browser too). ``/docs/{asset}`` serves only the files found in that
package's directory when the routes are registered, looked up by exact name: no part of the
request path ever reaches the file system, so ``..`` and encoded slashes find nothing.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import logging
from pathlib import Path

import orjson

from lumadb.api._wire import Request, Response
from lumadb.api.openapi import build_openapi
from lumadb.api.routing import Params, Router
from lumadb.errors import NotFound

__all__ = ["register"]

_log = logging.getLogger("lumadb.api")

_TYPES = {
    ".css": b"text/css; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".png": b"image/png",
    ".map": b"application/json",
}
# The bundle's own start-up script points at a demo API on another host.
_LEFT_OUT = {"swagger-initializer.js"}

# Relative URLs: the page is /docs, so they resolve to /docs/... and /openapi.json, and keep
# working when a proxy serves the node under a path prefix.
_SCRIPT = (
    'window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui", '
    "deepLinking: true, validatorUrl: null});"
)
_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>LumaDB HTTP API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>{_SCRIPT}</script>
</body>
</html>
""".encode()
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
# Swagger UI styles elements inline and draws icons from data: URLs; everything else is ours.
_CSP = (
    f"default-src 'none'; script-src 'self' 'sha256-{_SCRIPT_HASH}'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
).encode()
_COMMON = [(b"x-content-type-options", b"nosniff")]


def _bundle_dir() -> Path | None:
    """Swagger UI's directory in the ``swagger-ui-bundle`` package, None if not installed."""
    try:
        bundle = importlib.import_module("swagger_ui_bundle")
    except ImportError:
        return None
    return Path(str(bundle.swagger_ui_path))


class DocsRoutes:
    """Handlers for the document, the page and its files."""

    def __init__(self, bundle: Path | None) -> None:
        self.document = b""
        self._files: dict[str, tuple[Path, bytes]] = {}
        if bundle is None:
            _log.warning("swagger-ui-bundle is not installed: /docs answers 404")
        elif bundle.is_dir():
            self._files = {
                p.name: (p, _TYPES[p.suffix])
                for p in bundle.iterdir()
                if p.suffix in _TYPES and p.name not in _LEFT_OUT and p.is_file()
            }
        self._read: dict[str, bytes] = {}

    def _require_bundle(self) -> None:
        if not self._files:
            raise NotFound("Swagger UI is not installed on this node (swagger-ui-bundle)")

    async def openapi(self, request: Request, params: Params, actor: None) -> Response:
        """The OpenAPI document, built once when the routes were registered."""
        headers = [(b"content-type", b"application/json"), *_COMMON]
        return Response(200, self.document, headers)

    async def page(self, request: Request, params: Params, actor: None) -> Response:
        """The Swagger UI page for :meth:`openapi`."""
        self._require_bundle()
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-security-policy", _CSP),
            *_COMMON,
        ]
        return Response(200, _PAGE, headers)

    async def asset(self, request: Request, params: Params, actor: None) -> Response:
        """One of Swagger UI's files, by its exact name."""
        found = self._files.get(params["asset"])
        if found is None:
            raise NotFound("no such file")
        path, kind = found
        body = self._read.get(path.name)
        if body is None:
            # Read on first use and kept: a few MB at most, and most are never asked for.
            body = self._read.setdefault(path.name, path.read_bytes())
        headers = [(b"content-type", kind), (b"cache-control", b"public, max-age=86400")]
        return Response(200, body, [*headers, *_COMMON])


def register(router: Router) -> None:
    """Add ``/openapi.json``, ``/docs`` and ``/docs/{asset}``; call after every other route.

    The document is built here, from every route registered so far, so a route missing from
    the OpenAPI table stops the app from starting instead of going undocumented.
    """
    docs = DocsRoutes(_bundle_dir())
    add = router.add
    add("GET", "/openapi.json", docs.openapi, summary="The OpenAPI document", public=True)
    add("GET", "/docs", docs.page, summary="The API in Swagger UI", public=True)
    add("GET", "/docs/{asset}", docs.asset, summary="A file of Swagger UI", public=True)
    docs.document = orjson.dumps(build_openapi(router.routes))
