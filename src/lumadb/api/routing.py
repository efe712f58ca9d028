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
    """One route. ``public`` routes are served without a token; ``timed`` ones under the
    request timeout (a handler that never awaits cannot be cancelled, so it skips the timer).
    """

    method: str
    template: str
    handler: Handler
    public: bool
    summary: str
    segments: tuple[str, ...]
    timed: bool = True
    params: tuple[tuple[int, str], ...] = ()  # (segment position, parameter name)


class _Node:
    """One path segment of the route trie."""

    __slots__ = ("literal", "param", "routes")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.routes: dict[str, Route] = {}


class Router:
    """Routes by method and path template, matched through a trie (one dict step a segment)."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._root = _Node()

    def add(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        summary: str,
        public: bool = False,
        timed: bool = True,
    ) -> None:
        """Register ``handler`` for ``method`` on ``template`` (``/api/v1/{collection}``)."""
        segments = tuple(template.split("/")[1:])
        params = tuple((i, s[1:-1]) for i, s in enumerate(segments) if s.startswith("{"))
        route = Route(method, template, handler, public, summary, segments, timed, params)
        node = self._root
        for segment in segments:
            if segment.startswith("{"):
                node.param = node.param or _Node()
                node = node.param
            else:
                node = node.literal.setdefault(segment, _Node())
        if method in node.routes:
            raise ValueError(f"{method} {template} is registered twice")
        node.routes[method] = route
        self.routes.append(route)

    def match(self, method: str, parts: list[str]) -> tuple[Route, Params]:
        """The route for a request; :class:`NotFound` or :class:`MethodNotAllowed` if none.

        Literal segments win over parameters, and only the most literal template that fits
        counts: PUT on /api/v1/_collections is a 405 there, not a write to "_collections".
        """
        node = _find(self._root, parts, 0)
        if node is None:
            raise NotFound("no such route: /" + "/".join(parts))
        route = node.routes.get(method) or (node.routes.get("GET") if method == "HEAD" else None)
        if route is None:
            allowed = tuple(sorted(node.routes))
            raise MethodNotAllowed(
                f"{method} is not allowed here; allowed: {', '.join(allowed)}", allowed
            )
        return route, {name: parts[at] for at, name in route.params}


def _find(node: _Node, parts: list[str], at: int) -> _Node | None:
    if at == len(parts):
        return node if node.routes else None
    part = parts[at]
    child = node.literal.get(part)
    if child is not None:
        found = _find(child, parts, at + 1)
        if found is not None:
            return found
    if node.param is not None and part:
        return _find(node.param, parts, at + 1)
    return None
