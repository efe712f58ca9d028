"""Who is asking, and what they may do: checked here, once, for every front end."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lumadb.catalog.users import ALL, Accounts, ApiKey, User
from lumadb.errors import Forbidden
from lumadb.service.filters import Predicate, compile_filter

USER_VARIABLE = "$user"

__all__ = ["SYSTEM", "Actor", "actor_for", "actor_for_key"]


@dataclass(frozen=True, slots=True)
class Actor:
    """A caller: a user (through a token) or the node itself."""

    name: str
    grants: Mapping[str, frozenset[str]]
    system: bool = False
    key: str | None = None  # the API key used, if any
    # (action, collection or "*") -> the row filter of each role granting it (None: all rows)
    row_rules: Mapping[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    _compiled: dict[tuple[str, str], Predicate | None] = field(default_factory=dict)

    def rows(self, action: str, collection: str) -> Predicate | None:
        """The documents ``action`` may touch in ``collection``, or None for all of them."""
        if not self.row_rules:
            return None
        cached = self._compiled.get((action, collection), _UNSET)
        if cached is not _UNSET:
            return cached  # type: ignore[no-any-return]
        specs = (
            *self.row_rules.get((action, collection), ()),
            *self.row_rules.get((action, ALL), ()),
        )
        keep = None if not specs or None in specs else _any_of(compile_filter(s) for s in specs)
        self._compiled[action, collection] = keep
        return keep

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


_UNSET: Any = object()


def _any_of(predicates: Iterable[Predicate]) -> Predicate:
    chosen = list(predicates)
    return lambda doc: any(p(doc) for p in chosen)


def with_user(spec: Any, name: str) -> Any:
    """A row filter with ``"$user"`` replaced by ``name``."""
    if spec == USER_VARIABLE:
        return name
    if isinstance(spec, dict):
        return {k: with_user(v, name) for k, v in spec.items()}
    if isinstance(spec, list):
        return [with_user(v, name) for v in spec]
    return spec


def _row_rules(
    roles: Iterable[str], accounts: Accounts, name: str
) -> dict[tuple[str, str], tuple[Any, ...]]:
    rules: dict[tuple[str, str], tuple[Any, ...]] = {}
    restricted = False
    for role_name in roles:
        role = accounts.role(role_name)
        if role is None:
            continue
        for collection, actions in role.grants.items():
            spec = role.rows.get(collection)
            restricted = restricted or spec is not None
            spec = None if spec is None else with_user(spec, name)
            for action in actions:
                rules[action, collection] = (*rules.get((action, collection), ()), spec)
    return rules if restricted else {}


def actor_for(user: User, accounts: Accounts) -> Actor:
    """The actor a logged-in ``user`` acts as."""
    grants, system = accounts.grants_of(user.roles)
    return Actor(user.name, grants, system, row_rules=_row_rules(user.roles, accounts, user.name))


def actor_for_key(key: ApiKey, accounts: Accounts) -> Actor:
    """The actor an API key acts as: its owner, limited to the key's roles."""
    roles = accounts.key_roles(key)
    grants, system = accounts.grants_of(roles)
    rules = _row_rules(roles, accounts, key.owner)
    return Actor(key.owner, grants, system, key=key.id, row_rules=rules)
