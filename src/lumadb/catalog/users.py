"""Users and roles as immutable values, and their stored form.

A role grants actions (``read``, ``write``, ``admin``) per collection name, with ``*`` for
every collection; a role with ``system`` may also manage users, roles and keys. A user holds
roles; what a user may do is the union of its roles' grants. The built-in roles ``admin``,
``writer`` and ``reader`` always exist and cannot be changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from lumadb.errors import CorruptionError, InvalidArgument

__all__ = [
    "ACTIONS",
    "BUILTIN_ROLES",
    "Accounts",
    "ApiKey",
    "Role",
    "User",
    "validate_user_name",
]

ACTIONS = ("read", "write", "admin")
ALL = "*"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.@-]{0,63}")
_FORMAT = 1


def validate_user_name(name: object, what: str = "user name") -> str:
    """``name`` if it is a usable user or role name, else :class:`InvalidArgument`."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgument(
            f"{what} {name!r} is not allowed: use 1-64 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter"
        )
    return name


@dataclass(frozen=True, slots=True)
class Role:
    """Actions granted per collection (``*`` = every collection), optionally only on rows.

    ``rows`` maps a collection (or ``*``) to a filter in the listing's syntax (see
    :mod:`lumadb.service.filters`; the string ``"$user"`` stands for the caller's name): the
    role's actions there reach only the documents it matches.
    """

    name: str
    grants: Mapping[str, frozenset[str]]
    system: bool = False
    rows: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, name: object, grants: object, system: object = False) -> Role:
        """A role from user input, checked."""
        validate_user_name(name, "role name")
        assert isinstance(name, str)
        if not isinstance(grants, dict) or not grants:
            raise InvalidArgument(
                'a role needs "grants": {"<collection>" or "*": ["read", "write", "admin"]}'
            )
        checked: dict[str, frozenset[str]] = {}
        rows: dict[str, Any] = {}
        for collection, grant in grants.items():
            actions = grant
            if isinstance(grant, dict):
                if set(grant) - {"actions", "rows"} or not isinstance(grant.get("rows"), dict):
                    raise InvalidArgument(
                        f"grants for {collection!r}: use a list of actions or "
                        '{"actions": [...], "rows": {<filter>}}'
                    )
                actions, rows[collection] = grant.get("actions"), grant["rows"]
            if not isinstance(actions, list) or not actions:
                raise InvalidArgument(f"grants for {collection!r} must be a non-empty list")
            unknown = [a for a in actions if a not in ACTIONS]
            if unknown:
                raise InvalidArgument(
                    f"unknown action {unknown[0]!r} for {collection!r}; allowed: read, write, admin"
                )
            checked[collection] = frozenset(actions)
        if not isinstance(system, bool):
            raise InvalidArgument('"system" must be true or false')
        return cls(name, checked, system, rows)

    def to_record(self) -> dict[str, Any]:
        """The stored and shown form."""
        grants: dict[str, Any] = {}
        for collection, actions in sorted(self.grants.items()):
            listed = sorted(actions, key=ACTIONS.index)
            rows = self.rows.get(collection)
            grants[collection] = listed if rows is None else {"actions": listed, "rows": rows}
        return {"name": self.name, "grants": grants, "system": self.system}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Role:
        """Read :meth:`to_record` output back."""
        grants: dict[str, frozenset[str]] = {}
        rows: dict[str, Any] = {}
        for collection, grant in record["grants"].items():
            actions = grant
            if isinstance(grant, dict):
                rows[collection] = grant["rows"]
                actions = grant["actions"]
            grants[collection] = frozenset(actions)
        return cls(record["name"], grants, record["system"], rows)


BUILTIN_ROLES: Mapping[str, Role] = {
    "admin": Role("admin", {ALL: frozenset(ACTIONS)}, system=True),
    "writer": Role("writer", {ALL: frozenset({"read", "write"})}),
    "reader": Role("reader", {ALL: frozenset({"read"})}),
}


@dataclass(frozen=True, slots=True)
class User:
    """A user who logs in with a password (only its argon2 hash is kept)."""

    name: str
    password_hash: str
    roles: tuple[str, ...]
    created_ms: int

    def to_record(self) -> dict[str, Any]:
        """The stored form (with the hash)."""
        return {
            "name": self.name,
            "password_hash": self.password_hash,
            "roles": list(self.roles),
            "created_ms": self.created_ms,
        }

    def describe(self) -> dict[str, Any]:
        """The shown form (without the hash)."""
        return {"name": self.name, "roles": list(self.roles), "created_ms": self.created_ms}


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A long-lived credential of a user, limited to some of its roles (the secret is hashed)."""

    id: str
    name: str
    owner: str
    roles: tuple[str, ...]
    secret_hash: str  # SHA-256 hex: keys are 256 random bits, so a fast hash is enough
    created_ms: int
    expires_ms: int | None = None

    def to_record(self) -> dict[str, Any]:
        """The stored form (with the hash)."""
        return {**self.describe(), "secret_hash": self.secret_hash}

    def describe(self) -> dict[str, Any]:
        """The shown form (never the secret or its hash)."""
        return {
            "id": self.id,
            "name": self.name,
            "owner": self.owner,
            "roles": list(self.roles),
            "created_ms": self.created_ms,
            "expires_ms": self.expires_ms,
        }


@dataclass(frozen=True, slots=True)
class Accounts:
    """Every user, custom role and API key; changes return a new value."""

    users: Mapping[str, User]
    roles: Mapping[str, Role]
    keys: Mapping[str, ApiKey] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Accounts:
        """No users, no custom roles, no keys."""
        return cls({}, {}, {})

    def with_key(self, key: ApiKey) -> Accounts:
        """These accounts with ``key`` added."""
        return replace(self, keys={**self.keys, key.id: key})

    def without_key(self, key_id: str) -> Accounts:
        """These accounts without the key ``key_id``."""
        return replace(self, keys={k: v for k, v in self.keys.items() if k != key_id})

    def covers(self, holder_roles: Iterable[str], role_name: str) -> bool:
        """Whether someone holding ``holder_roles`` has everything the role ``role_name`` grants."""
        role = self.role(role_name)
        grants, system = self.grants_of(holder_roles)
        if role is None or (role.system and not system):
            return False
        everything = grants.get(ALL, frozenset())
        return all(
            actions <= grants.get(collection, frozenset()) | everything
            for collection, actions in role.grants.items()
        )

    def key_roles(self, key: ApiKey) -> tuple[str, ...]:
        """The roles a key acts with now: its own that its owner still fully holds."""
        owner = self.users.get(key.owner)
        if owner is None:
            return ()
        return tuple(r for r in key.roles if self.covers(owner.roles, r))

    def role(self, name: str) -> Role | None:
        """A built-in or custom role."""
        return BUILTIN_ROLES.get(name) or self.roles.get(name)

    def check_roles(self, roles: object) -> tuple[str, ...]:
        """``roles`` as a tuple if it is a list of existing role names."""
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidArgument('"roles" must be a list of role names')
        missing = [r for r in roles if self.role(r) is None]
        if missing:
            raise InvalidArgument(f"role {missing[0]!r} does not exist")
        return tuple(dict.fromkeys(roles))

    def with_user(self, user: User) -> Accounts:
        """These accounts with ``user`` added or replaced."""
        return replace(self, users={**self.users, user.name: user})

    def without_user(self, name: str) -> Accounts:
        """These accounts without the user ``name`` (and without its keys)."""
        users = {k: v for k, v in self.users.items() if k != name}
        keys = {k: v for k, v in self.keys.items() if v.owner != name}
        return replace(self, users=users, keys=keys)

    def with_role(self, role: Role) -> Accounts:
        """These accounts with the custom ``role`` added or replaced."""
        if role.name in BUILTIN_ROLES:
            raise InvalidArgument(f"role {role.name!r} is built in and cannot be changed")
        return replace(self, roles={**self.roles, role.name: role})

    def without_role(self, name: str) -> Accounts:
        """These accounts without the custom role ``name`` (and no user holding it)."""
        if name in BUILTIN_ROLES:
            raise InvalidArgument(f"role {name!r} is built in and cannot be removed")
        users = {
            k: replace(u, roles=tuple(r for r in u.roles if r != name))
            for k, u in self.users.items()
        }
        roles = {k: v for k, v in self.roles.items() if k != name}
        keys = {
            k: replace(v, roles=tuple(r for r in v.roles if r != name))
            for k, v in self.keys.items()
        }
        return Accounts(users, roles, keys)

    def grants_of(self, roles: Iterable[str]) -> tuple[dict[str, frozenset[str]], bool]:
        """The union of the grants of ``roles``, and whether any of them is a system role."""
        grants: dict[str, frozenset[str]] = {}
        system = False
        for name in roles:
            role = self.role(name)
            if role is None:
                continue
            system = system or role.system
            for collection, actions in role.grants.items():
                grants[collection] = grants.get(collection, frozenset()) | actions
        return grants, system

    def encode(self) -> bytes:
        """The stored form."""
        return orjson.dumps(
            {
                "format": _FORMAT,
                "users": [u.to_record() for u in self.users.values()],
                "roles": [r.to_record() for r in self.roles.values()],
                "keys": [k.to_record() for k in self.keys.values()],
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> Accounts:
        """Read the stored form back."""
        try:
            data = orjson.loads(raw)
            users = {
                u["name"]: User(u["name"], u["password_hash"], tuple(u["roles"]), u["created_ms"])
                for u in data["users"]
            }
            roles = {r["name"]: Role.from_record(r) for r in data["roles"]}
            keys = {
                k["id"]: ApiKey(
                    k["id"],
                    k["name"],
                    k["owner"],
                    tuple(k["roles"]),
                    k["secret_hash"],
                    k["created_ms"],
                    k["expires_ms"],
                )
                for k in data.get("keys", [])
            }
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptionError(f"the stored accounts do not parse: {exc}") from None
        return cls(users, roles, keys)
