"""A small router: ``(method, path template)`` → handler, matched segment by segment.

Templates are split once into literal and ``{param}`` segments; a request path is matched
against the routes with its number of segments, literals before parameters, so
``/api/v1/_collections`` wins over ``/api/v1/{collection}``. Every route is listed in
:attr:`Router.routes`, which the OpenAPI document and the authentication-coverage test read,
so a new route cannot slip past either.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from lumadb.api._wire import Request, Response
from lumadb.errors import MethodNotAllowed, NotFound

__all__ = ["Handler", "Params", "Route", "Router"]

Params = dict[str, str]
Handler = Callable[[Request, Params, Any], Awaitable[Response]]
"""``handler(request, params, actor)``; ``actor`` is None on public routes."""


@dataclass(frozen=True, slots=True)
class Route:
    """One route. ``public`` routes are served without a token."""

    method: str
    template: str
    handler: Handler
    public: bool
    summary: str
    segments: tuple[str, ...]

    def match(self, parts: list[str]) -> Params | None:
        """The path parameters when ``parts`` fits this template, else None."""
        params: Params = {}
        for want, got in zip(self.segments, parts, strict=True):
            if want.startswith("{"):
                if not got:
                    return None
                params[want[1:-1]] = got
            elif want != got:
                return None
        return params


class Router:
    """Routes by method and path template."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._by_length: dict[int, list[Route]] = {}

    def add(
        self, method: str, template: str, handler: Handler, *, summary: str, public: bool = False
    ) -> None:
        """Register ``handler`` for ``method`` on ``template`` (``/api/v1/{collection}``)."""
        segments = tuple(template.split("/")[1:])
        route = Route(method, template, handler, public, summary, segments)
        self.routes.append(route)
        bucket = self._by_length.setdefault(len(segments), [])
        bucket.append(route)
        # Literal segments before parameters, left to right.
        bucket.sort(key=lambda r: [s.startswith("{") for s in r.segments])

    def match(self, method: str, parts: list[str]) -> tuple[Route, Params]:
        """The route for a request; :class:`NotFound` or :class:`MethodNotAllowed` if none."""
        allowed: list[str] = []
        shape: tuple[bool, ...] | None = None
        for route in self._by_length.get(len(parts), ()):
            params = route.match(parts)
            if params is None:
                continue
            # Only the most literal template that fits the path counts: PUT on
            # /api/v1/_collections is a 405 there, not a document write to "_collections".
            mine = tuple(s.startswith("{") for s in route.segments)
            if shape is None:
                shape = mine
            elif mine != shape:
                break
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, params
            allowed.append(route.method)
        if allowed:
            raise MethodNotAllowed(
                f"{method} is not allowed here; allowed: {', '.join(sorted(set(allowed)))}",
                tuple(sorted(set(allowed))),
            )
        raise NotFound("no such route: " + "/" + "/".join(parts))
