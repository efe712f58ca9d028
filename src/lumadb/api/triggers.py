"""``/api/v1/_triggers``: event triggers, their status, dead letters and redelivery.

A trigger is ``{"name", "collection", "on"?, "when"?, "payload"?, "sink", "retry"?,
"enabled"?}`` (:mod:`lumadb.events.triggers`). Managing a trigger needs ``admin`` on its
collection. Figures (cursors, lag, counters) and dead letters are those of the shards of the
process answering; in a node of several workers each worker keeps its own shards' part.
"""

from __future__ import annotations

from typing import Any

from lumadb.api._wire import Request, Response, json_response
from lumadb.api.context import ApiContext
from lumadb.api.routing import Params, Router
from lumadb.errors import InvalidArgument
from lumadb.events.manager import Events
from lumadb.service.permissions import Actor

__all__ = ["TriggerRoutes"]


class TriggerRoutes:
    """Trigger management."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def register(self, router: Router) -> None:
        """Add the routes."""
        base = "/api/v1/_triggers"
        router.add("GET", base, self.list, summary="List triggers")
        router.add("POST", base, self.create, summary="Create a trigger")
        router.add("GET", base + "/{name}", self.get, summary="A trigger and its figures")
        router.add("DELETE", base + "/{name}", self.drop, summary="Drop a trigger")
        router.add("PATCH", base + "/{name}", self.patch, summary="Pause or resume a trigger")
        router.add("GET", base + "/{name}/dead", self.dead, summary="Dead letters")
        router.add("DELETE", base + "/{name}/dead", self.purge, summary="Purge dead letters")
        router.add("POST", base + "/{name}/redeliver", self.redeliver, summary="Redeliver")
        router.add("POST", base + "/{name}/replay", self.replay, summary="Replay from offsets")

    def _events(self) -> Events:
        events: Events | None = self.ctx.service.events
        if events is None:
            raise InvalidArgument("events are not running in this node")
        return events

    def _owned(self, name: str, actor: Actor) -> Events:
        events = self._events()
        actor.require("admin", events.get(name).collection)
        return events

    async def list(self, request: Request, params: Params, actor: Actor) -> Response:
        """Triggers on collections the caller administers."""
        listed = await self.ctx.blocking(self._events().describe_all)
        return json_response(
            {"triggers": [t for t in listed if actor.allows("admin", t["collection"])]}
        )

    async def create(self, request: Request, params: Params, actor: Actor) -> Response:
        """Create a trigger → 201 with its description."""
        body = await request.json(self.ctx.max_body, self.ctx.max_depth)
        if not isinstance(body, dict):
            raise InvalidArgument("a trigger must be a JSON object")
        collection = body.get("collection")
        if not isinstance(collection, str):
            raise InvalidArgument("trigger collection must be a collection name")
        actor.require("admin", collection)
        body.pop("created_ms", None)
        described = await self.ctx.blocking(self._events().create, body)
        location = f"/api/v1/_triggers/{described['name']}".encode()
        return json_response(described, 201, [(b"location", location)])

    async def get(self, request: Request, params: Params, actor: Actor) -> Response:
        events = self._owned(params["name"], actor)
        return json_response(await self.ctx.blocking(events.status, params["name"]))

    async def drop(self, request: Request, params: Params, actor: Actor) -> Response:
        events = self._owned(params["name"], actor)
        await self.ctx.blocking(events.drop, params["name"])
        return json_response({"dropped": params["name"]})

    async def patch(self, request: Request, params: Params, actor: Actor) -> Response:
        """``{"enabled": false}`` pauses deliveries (cursors wait), ``true`` resumes them."""
        events = self._owned(params["name"], actor)
        body = await request.json(self.ctx.max_body, self.ctx.max_depth)
        if not isinstance(body, dict) or set(body) != {"enabled"}:
            raise InvalidArgument('send {"enabled": true} or {"enabled": false}')
        if not isinstance(body["enabled"], bool):
            raise InvalidArgument(f"enabled must be true or false, got {body['enabled']!r}")
        described = await self.ctx.blocking(events.set_enabled, params["name"], body["enabled"])
        return json_response(described)

    async def dead(self, request: Request, params: Params, actor: Actor) -> Response:
        events = self._owned(params["name"], actor)
        limit = _limit(request.query().get("limit"))
        letters = await self.ctx.blocking(events.dead_letters, params["name"], limit)
        return json_response({"dead_letters": letters})

    async def purge(self, request: Request, params: Params, actor: Actor) -> Response:
        events = self._owned(params["name"], actor)
        return json_response({"purged": await self.ctx.blocking(events.purge_dead, params["name"])})

    async def redeliver(self, request: Request, params: Params, actor: Actor) -> Response:
        events = self._owned(params["name"], actor)
        count = await self.ctx.blocking(events.redeliver, params["name"])
        return json_response({"redelivering": count})

    async def replay(self, request: Request, params: Params, actor: Actor) -> Response:
        """``{"since": {"<shard>": <seq>, ...}}``: deliver again every change after those."""
        events = self._owned(params["name"], actor)
        body = await request.json(self.ctx.max_body, self.ctx.max_depth)
        since = body.get("since") if isinstance(body, dict) else None
        if not isinstance(since, dict):
            raise InvalidArgument('send {"since": {"<shard>": <sequence number>, ...}}')
        offsets: dict[int, Any] = {}
        for shard, seq in since.items():
            if not str(shard).isdigit():
                raise InvalidArgument(f"replay shard {shard!r} must be a shard number")
            offsets[int(shard)] = seq
        moved = await self.ctx.blocking(events.replay, params["name"], offsets)
        return json_response({"replaying_from": moved})


def _limit(raw: str | None) -> int:
    if raw is None:
        return 100
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise InvalidArgument(f"limit must be a whole number 1..10000, got {raw!r}")
    return int(raw)
