"""``POST /api/v1/_nlq``: a question in plain language, answered with LQL and its rows.

``{"question", "dry_run"?: false, "collection"?: "<name>"}`` → ``{"question", "lql",
"provider", "columns", "rows"}`` (no columns and rows on a dry run). The translator sees only
the collections the caller may read (``collection`` narrows it to one), and the LQL runs with
the caller's permissions (:mod:`lumadb.nlq.ask`). ``GET /api/v1/_nlq/audit?limit=`` lists the
newest audit entries (question, LQL, provider, user, time, outcome) for system admins.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lumadb.api._wire import Request, Response, json_response
from lumadb.api.context import ApiContext
from lumadb.api.query import allow_lql, routed_source
from lumadb.api.routing import Params, Router
from lumadb.errors import InvalidArgument
from lumadb.nlq import LLMProvider
from lumadb.nlq.ask import answer, schema_of
from lumadb.nlq.audit import AuditLog
from lumadb.nlq.providers import provider_for
from lumadb.query import Engine
from lumadb.service.permissions import Actor

__all__ = ["NlqRoutes"]

_KEYS = {"question", "dry_run", "collection"}


class NlqRoutes:
    """Questions in plain language."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.engine = Engine()
        self._provider: LLMProvider | None = None
        store = ctx.service.store
        self.audit = AuditLog(None if store.in_memory else store.path)

    def register(self, router: Router) -> None:
        """Add the routes."""
        router.add("POST", "/api/v1/_nlq", self.ask, summary="Ask in plain language")
        router.add("GET", "/api/v1/_nlq/audit", self.audit_log, summary="Questions asked")

    def _provider_now(self) -> LLMProvider:
        if self._provider is None:  # made on first use: it may load a model
            self._provider = provider_for(self.ctx.settings.nlq)
        return self._provider

    async def ask(self, request: Request, params: Params, actor: Actor) -> Response:
        """Translate, check and run a question."""
        body = await request.json(self.ctx.max_body, self.ctx.max_depth)
        if not isinstance(body, dict) or "question" not in body:
            raise InvalidArgument('send {"question": "...", "dry_run"?: false}')
        unknown = set(body) - _KEYS
        if unknown:
            raise InvalidArgument(f"unknown field {sorted(unknown)[0]!r}; known: {sorted(_KEYS)}")
        dry_run = body.get("dry_run", False)
        if type(dry_run) is not bool:
            raise InvalidArgument("dry_run must be true or false")
        hint = body.get("collection")
        if hint is not None:
            if not isinstance(hint, str):
                raise InvalidArgument("collection must be a collection name")
            actor.require("read", hint)
            names = [hint]
        else:
            listed = self.ctx.service.list_collections()
            names = [c["name"] for c in listed if actor.allows("read", c["name"])]
        source = routed_source(self.ctx, asyncio.get_running_loop())
        sample = self.ctx.settings.nlq.sample_size

        def run() -> dict[str, Any]:
            return answer(
                body["question"],
                provider=self._provider_now(),
                schema=lambda: schema_of(source, names, sample),
                engine=self.engine,
                source=source,
                allow=lambda prepared: allow_lql(prepared, actor),
                dry_run=dry_run,
                record=lambda entry: self.audit.record({**entry, "user": actor.name}),
            )

        return json_response(await self.ctx.blocking(run))

    async def audit_log(self, request: Request, params: Params, actor: Actor) -> Response:
        """The newest audit entries, newest first."""
        actor.require_system("read the question audit log")
        query = request.query()
        unknown = set(query) - {"limit"}
        if unknown:
            raise InvalidArgument(f"unknown query parameter {sorted(unknown)[0]!r}")
        raw = query.get("limit", "100")
        limit = int(raw) if raw.isdigit() and len(raw) < 7 else -1
        if not 1 <= limit <= 10_000:
            raise InvalidArgument("limit must be a whole number from 1 to 10000")
        entries = await self.ctx.blocking(self.audit.newest, limit)
        return json_response({"entries": entries})
