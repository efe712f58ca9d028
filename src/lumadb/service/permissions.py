"""Who is asking, and what they may do: checked here, once, for every front end."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lumadb.catalog.users import ALL, Accounts, ApiKey, User
from lumadb.errors import Forbidden

__all__ = ["SYSTEM", "Actor", "actor_for", "actor_for_key"]


@dataclass(frozen=True, slots=True)
class Actor:
    """A caller: a user (through a token) or the node itself."""

    name: str
    grants: Mapping[str, frozenset[str]]
    system: bool = False
    key: str | None = None  # the API key used, if any

    def allows(self, action: str, collection: str) -> bool:
        """Whether ``action`` (read, write, admin) on ``collection`` is granted."""
        granted = self.grants.get(collection)
        if granted is not None and action in granted:
            return True
        everything = self.grants.get(ALL)
        return everything is not None and action in everything

    def require(self, action: str, collection: str) -> None:
        """:class:`Forbidden` unless :meth:`allows`."""
        if not self.allows(action, collection):
            raise Forbidden(f"{self.name!r} may not {action} collection {collection!r}")

    def require_system(self, what: str) -> None:
        """:class:`Forbidden` unless the actor may manage the node (users, roles, keys)."""
        if not self.system:
            raise Forbidden(f"{self.name!r} may not {what}: that needs a system role")


SYSTEM = Actor("system", {ALL: frozenset({"read", "write", "admin"})}, system=True)
"""The node itself, and embedded use: everything is allowed."""


def actor_for(user: User, accounts: Accounts) -> Actor:
    """The actor a logged-in ``user`` acts as."""
    grants, system = accounts.grants_of(user.roles)
    return Actor(user.name, grants, system)


def actor_for_key(key: ApiKey, accounts: Accounts) -> Actor:
    """The actor an API key acts as: its owner, limited to the key's roles."""
    grants, system = accounts.grants_of(accounts.key_roles(key))
    return Actor(key.owner, grants, system, key=key.id)
