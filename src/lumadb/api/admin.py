"""REST routes for collections, logging in, users and roles.

``/api/v1/_collections`` manages collections (``admin`` on the collection creates and drops
it). ``/api/v1/_auth/token`` is the one route besides ``/health`` that needs no token.
``/api/v1/_users`` and ``/api/v1/_roles`` need a system role (the built-in ``admin``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from lumadb.api._wire import Request, Response, empty_response, json_response
from lumadb.api.auth.passwords import check_password_policy, hash_password
from lumadb.api.collection_settings import (
    SETTING_KEYS,
    Settings,
    apply_settings,
    read_settings,
)
from lumadb.api.context import ApiContext
from lumadb.api.query import routed_source
from lumadb.api.routing import Params, Router
from lumadb.errors import Forbidden, InvalidArgument, NotFound
from lumadb.service.permissions import Actor

__all__ = ["AdminRoutes"]

LOGIN_SLOT = 0  # the shard worker that checks passwords and counts failed logins
_COLLECTION_KEYS = {"name", "changefeed"} | SETTING_KEYS


def _fields(body: object, allowed: set[str], required: set[str], what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidArgument(f"{what} must be a JSON object")
    unknown = set(body) - allowed
    if unknown:
        raise InvalidArgument(
            f"unknown field {sorted(unknown)[0]!r} in {what}; allowed: {', '.join(sorted(allowed))}"
        )
    missing = required - set(body)
    if missing:
        raise InvalidArgument(f"{what} needs the field {sorted(missing)[0]!r}")
    return body


class AdminRoutes:
    """Handlers for collections, tokens, users and roles."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        ctx.docs.serve_async("login", self._login)

    def register(self, router: Router) -> None:
        """Add the routes."""
        add = router.add
        add("POST", "/api/v1/_auth/token", self.token, summary="Log in", public=True)
        add("GET", "/api/v1/_auth/me", self.me, summary="Who am I")
        add("GET", "/api/v1/_collections", self.collections, summary="List collections")
        add("POST", "/api/v1/_collections", self.create_collection, summary="Create one")
        add("GET", "/api/v1/_collections/{name}", self.describe, summary="Describe one")
        add("PATCH", "/api/v1/_collections/{name}", self.change, summary="Change a collection")
        add("DELETE", "/api/v1/_collections/{name}", self.drop, summary="Drop a collection")
        add("GET", "/api/v1/_users", self.users, summary="List users")
        add("POST", "/api/v1/_users", self.create_user, summary="Create a user")
        add("GET", "/api/v1/_users/{name}", self.user, summary="Describe a user")
        add("PATCH", "/api/v1/_users/{name}", self.update_user, summary="Change a user")
        add("DELETE", "/api/v1/_users/{name}", self.delete_user, summary="Delete a user")
        add("GET", "/api/v1/_roles", self.roles, summary="List roles")
        add("POST", "/api/v1/_roles", self.put_role, summary="Create or replace a role")
        add("DELETE", "/api/v1/_roles/{name}", self.delete_role, summary="Delete a role")
        add("GET", "/api/v1/_keys", self.keys, summary="List API keys")
        add("POST", "/api/v1/_keys", self.create_key, summary="Create an API key")
        add("DELETE", "/api/v1/_keys/{id}", self.delete_key, summary="Revoke an API key")

    async def _body(self, request: Request) -> Any:
        return await request.json(self.ctx.max_body, self.ctx.max_depth)

    # --- auth --------------------------------------------------------------------------------

    async def token(self, request: Request, params: Params, actor: None) -> Response:
        """Exchange a user name and password for an access token."""
        body = _fields(await self._body(request), {"username", "password"}, set(), "the login")
        # One worker checks every login of the node, so the attempt limits hold node-wide.
        token, lifetime = await self.ctx.docs.on(
            LOGIN_SLOT, "login", body.get("username"), body.get("password"), request.client
        )
        reply = {"access_token": token, "token_type": "bearer", "expires_in": lifetime}
        return json_response(reply, headers=[(b"cache-control", b"no-store")])

    async def _login(self, username: object, password: object, address: str) -> list[Any]:
        token, lifetime = await self.ctx.blocking(self.ctx.auth.login, username, password, address)
        return [token, lifetime]

    async def me(self, request: Request, params: Params, actor: Actor) -> Response:
        """The caller's name and grants."""
        grants = {c: sorted(a) for c, a in sorted(actor.grants.items())}
        return json_response({"name": actor.name, "grants": grants, "system": actor.system})

    # --- collections -------------------------------------------------------------------------

    async def collections(self, request: Request, params: Params, actor: Actor) -> Response:
        """The collections the caller may read."""
        listed = self.ctx.service.list_collections()
        visible = [c for c in listed if actor.allows("read", c["name"])]
        return json_response({"collections": visible})

    async def create_collection(self, request: Request, params: Params, actor: Actor) -> Response:
        """Create a collection from ``{"name", "changefeed"?, "schema"?, "indexes"?,
        "vectors"?, "ttl"?}`` (:mod:`lumadb.api.collection_settings`): all or nothing."""
        body = _fields(await self._body(request), _COLLECTION_KEYS, {"name"}, "a collection")
        name = body["name"]
        if not isinstance(name, str):
            raise InvalidArgument("the collection name must be a string")
        # The catalog looks the mode up in a dict: an object or a list there would be a 500.
        if not isinstance(body.get("changefeed", "new"), str):
            raise InvalidArgument('"changefeed" must be "new" or "new_and_old"')
        actor.require("admin", name)
        options = {"changefeed": body["changefeed"]} if "changefeed" in body else {}
        settings = read_settings(body, name, creating=True)
        source = routed_source(self.ctx, asyncio.get_running_loop())
        described = await self.ctx.blocking(self._create, source, name, options, settings)
        return json_response(described, 201, [(b"location", f"/api/v1/{name}".encode())])

    def _create(
        self, source: Any, name: str, options: dict[str, Any], settings: Settings
    ) -> dict[str, Any]:
        service = self.ctx.service
        service.create_collection(name, **options)
        try:
            apply_settings(source, name, settings, creating=True)
        except BaseException:
            service.drop_collection(name, missing_ok=True)  # a create is all or nothing
            raise
        return service.describe_collection(name)

    async def change(self, request: Request, params: Params, actor: Actor) -> Response:
        """Change a collection's settings with a JSON merge patch of its description."""
        name = params["name"]
        actor.require("admin", name)
        body = await self._body(request)
        if not isinstance(body, dict):
            raise InvalidArgument("send a JSON object: a merge patch of the description")
        unknown = set(body) - SETTING_KEYS
        if unknown:
            key = sorted(unknown)[0]
            fixed = key in ("name", "changefeed", "created_ms")
            raise InvalidArgument(
                f"{key!r} cannot be changed"
                if fixed
                else f"unknown field {key!r}; known: {', '.join(sorted(SETTING_KEYS))}"
            )
        self.ctx.service.describe_collection(name)  # 404 before anything else
        settings = read_settings(body, name)
        source = routed_source(self.ctx, asyncio.get_running_loop())
        await self.ctx.blocking(apply_settings, source, name, settings)
        return json_response(self.ctx.service.describe_collection(name))

    async def describe(self, request: Request, params: Params, actor: Actor) -> Response:
        """One collection's description."""
        actor.require("read", params["name"])
        return json_response(self.ctx.service.describe_collection(params["name"]))

    async def drop(self, request: Request, params: Params, actor: Actor) -> Response:
        """Drop a collection and its documents."""
        actor.require("admin", params["name"])
        await self.ctx.blocking(self.ctx.service.drop_collection, params["name"])
        return empty_response(204)

    # --- users and roles ---------------------------------------------------------------------

    async def users(self, request: Request, params: Params, actor: Actor) -> Response:
        """Every user."""
        actor.require_system("list users")
        return json_response({"users": self.ctx.accounts.list_users()})

    async def create_user(self, request: Request, params: Params, actor: Actor) -> Response:
        """Create a user from ``{"name", "password", "roles"?}``."""
        actor.require_system("create users")
        fields = {"name", "password", "roles"}
        body = _fields(await self._body(request), fields, {"name", "password"}, "a user")
        password = check_password_policy(body["password"])
        hashed = await self.ctx.blocking(hash_password, password)
        roles = body.get("roles", ["reader"])
        created = await self.ctx.blocking(
            self.ctx.accounts.create_user, body["name"], hashed, roles
        )
        return json_response(created, 201)

    async def user(self, request: Request, params: Params, actor: Actor) -> Response:
        """One user (a user may also read itself)."""
        if params["name"] != actor.name:
            actor.require_system("read other users")
        found = self.ctx.accounts.user(params["name"])
        if found is None:
            raise NotFound(f"user {params['name']!r} does not exist")
        return json_response(found.describe())

    async def update_user(self, request: Request, params: Params, actor: Actor) -> Response:
        """Change ``password`` and/or ``roles`` (users may change their own password)."""
        body = _fields(await self._body(request), {"password", "roles"}, set(), "a user change")
        if not body:
            raise InvalidArgument('send "password" and/or "roles"')
        # None means "unchanged" further down: a null here would be a silent no-op.
        if "roles" in body and body["roles"] is None:
            raise InvalidArgument('"roles" must be a list of role names')
        if "roles" in body or params["name"] != actor.name:
            actor.require_system("change other users or roles")
        hashed = None
        if "password" in body:
            hashed = await self.ctx.blocking(hash_password, check_password_policy(body["password"]))
        changed = await self.ctx.blocking(
            self._update_user, params["name"], hashed, body.get("roles")
        )
        return json_response(changed)

    def _update_user(self, name: str, hashed: str | None, roles: object) -> dict[str, Any]:
        return self.ctx.accounts.update_user(name, password_hash=hashed, roles=roles)

    async def delete_user(self, request: Request, params: Params, actor: Actor) -> Response:
        """Remove a user (its tokens stop working at once)."""
        actor.require_system("delete users")
        await self.ctx.blocking(self.ctx.accounts.delete_user, params["name"])
        return empty_response(204)

    async def roles(self, request: Request, params: Params, actor: Actor) -> Response:
        """Built-in and custom roles."""
        actor.require_system("list roles")
        return json_response({"roles": self.ctx.accounts.list_roles()})

    async def put_role(self, request: Request, params: Params, actor: Actor) -> Response:
        """Create or replace a custom role ``{"name", "grants", "system"?}``."""
        actor.require_system("change roles")
        fields = {"name", "grants", "system"}
        body = _fields(await self._body(request), fields, {"name", "grants"}, "a role")
        role = await self.ctx.blocking(
            self.ctx.accounts.put_role, body["name"], body["grants"], body.get("system", False)
        )
        return json_response(role, 201)

    async def delete_role(self, request: Request, params: Params, actor: Actor) -> Response:
        """Remove a custom role."""
        actor.require_system("change roles")
        await self.ctx.blocking(self.ctx.accounts.delete_role, params["name"])
        return empty_response(204)

    # --- API keys ----------------------------------------------------------------------------

    async def keys(self, request: Request, params: Params, actor: Actor) -> Response:
        """The caller's keys (every key for a system user)."""
        owner = None if actor.system else actor.name
        return json_response({"keys": self.ctx.accounts.list_keys(owner)})

    async def create_key(self, request: Request, params: Params, actor: Actor) -> Response:
        """A new key ``{"name", "roles"?, "expires_in"?}``; the key is in this answer only."""
        if actor.key is not None:
            raise Forbidden("an API key cannot create API keys; log in with a password")
        fields = {"name", "roles", "expires_in"}
        body = _fields(await self._body(request), fields, {"name"}, "an API key")
        user = self.ctx.accounts.user(actor.name)
        roles = body.get("roles", list(user.roles) if user else [])
        described, key = await self.ctx.blocking(
            self.ctx.accounts.create_key, actor.name, body["name"], roles, body.get("expires_in")
        )
        headers = [(b"cache-control", b"no-store")]
        return json_response({**described, "key": key}, 201, headers)

    async def delete_key(self, request: Request, params: Params, actor: Actor) -> Response:
        """Revoke a key (its owner or a system user)."""
        owner = self.ctx.accounts.key_owner(params["id"])
        if owner is None:
            raise NotFound(f"API key {params['id']!r} does not exist")
        if owner != actor.name:
            actor.require_system("revoke other users' keys")
        await self.ctx.blocking(self.ctx.accounts.delete_key, params["id"])
        return empty_response(204)
