"""Users and roles kept in the database's system records, changed one at a time.

Every change is read-modify-write of one record under one lock, synced before it returns.
Password hashing is the caller's business (``hash_password`` is passed in), so this module
needs no crypto library and the HTTP layer decides where the slow hashing runs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from lumadb.catalog.users import Accounts, ApiKey, Role, User, validate_user_name
from lumadb.clock import Clock
from lumadb.errors import Conflict, Forbidden, InvalidArgument, NotFound
from lumadb.service.filters import compile_filter
from lumadb.service.local import ACCOUNTS, LocalService
from lumadb.service.permissions import with_user

__all__ = ["ACCOUNTS_RECORD", "KEY_PREFIX", "AccountStore", "hash_key_secret"]

ACCOUNTS_RECORD = ACCOUNTS
KEY_PREFIX = "luma_"
MAX_KEY_LIFETIME = 100 * 365 * 86400


def hash_key_secret(secret: str) -> str:
    """The stored form of an API key's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


class AccountStore:
    """The accounts of one database."""

    def __init__(self, service: LocalService, clock: Clock) -> None:
        self._service = service
        self._clock = clock
        self._lock = threading.Lock()
        self._accounts = self._read()

    def _read(self) -> Accounts:
        raw = self._service.system_get(ACCOUNTS_RECORD)
        return Accounts.decode(raw) if raw is not None else Accounts.empty()

    def reload(self) -> None:
        """Read the accounts again (another process of the node changed them)."""
        with self._lock:
            self._accounts = self._read()

    @property
    def accounts(self) -> Accounts:
        """The current value (immutable)."""
        return self._accounts

    def user(self, name: str) -> User | None:
        """A user by name."""
        return self._accounts.users.get(name)

    def _change(self, change: Callable[[Accounts], Accounts]) -> Accounts:
        # Under the records' lock, from the record as it is now: every process of the node
        # changes accounts, and none may undo another's change.
        with self._lock, self._service.records.locked():
            updated = change(self._read())
            self._service.system_put(ACCOUNTS_RECORD, updated.encode())
            self._accounts = updated
            return updated

    def create_user(self, name: object, password_hash: str, roles: object) -> dict[str, Any]:
        """Add a user; the name must be free."""
        validate_user_name(name)
        assert isinstance(name, str)

        def add(accounts: Accounts) -> Accounts:
            if name in accounts.users:
                raise Conflict(f"user {name!r} already exists")
            user = User(name, password_hash, accounts.check_roles(roles), self._clock.now_ms())
            return accounts.with_user(user)

        return self._change(add).users[name].describe()

    def bootstrap(self, name: str, password_hash: str) -> bool:
        """Create ``name`` as an admin if there are no users at all; returns whether it did."""
        with self._lock:
            if self._read().users:
                return False
        try:
            self.create_user(name, password_hash, ["admin"])
        except Conflict:
            return False
        return True

    def update_user(
        self, name: str, *, password_hash: str | None = None, roles: object = None
    ) -> dict[str, Any]:
        """Change a user's password hash and/or roles."""

        def update(accounts: Accounts) -> Accounts:
            user = accounts.users.get(name)
            if user is None:
                raise NotFound(f"user {name!r} does not exist")
            if roles is not None:
                user = replace(user, roles=accounts.check_roles(roles))
            if password_hash is not None:
                user = replace(user, password_hash=password_hash)
            return accounts.with_user(user)

        return self._change(update).users[name].describe()

    def delete_user(self, name: str) -> None:
        """Remove a user; the last user holding a system role cannot be removed."""

        def remove(accounts: Accounts) -> Accounts:
            if name not in accounts.users:
                raise NotFound(f"user {name!r} does not exist")
            remaining = accounts.without_user(name)
            if not any(remaining.grants_of(u.roles)[1] for u in remaining.users.values()):
                raise Conflict(f"{name!r} is the last user with a system role; it must stay")
            return remaining

        self._change(remove)

    def put_role(self, name: object, grants: object, system: object = False) -> dict[str, Any]:
        """Create or replace a custom role."""
        role = Role.build(name, grants, system)
        for collection, spec in role.rows.items():
            try:
                compile_filter(with_user(spec, "someone"))
            except InvalidArgument as exc:
                raise InvalidArgument(f"rows of {collection!r}: {exc.message}") from None
        return self._change(lambda a: a.with_role(role)).roles[role.name].to_record()

    def delete_role(self, name: str) -> None:
        """Remove a custom role (users holding it lose it)."""

        def remove(accounts: Accounts) -> Accounts:
            if name not in accounts.roles and accounts.role(name) is None:
                raise NotFound(f"role {name!r} does not exist")
            return accounts.without_role(name)

        self._change(remove)

    def create_key(
        self, owner: str, name: object, roles: object, expires_in: object = None
    ) -> tuple[dict[str, Any], str]:
        """A new API key of ``owner``: its description and the key itself (shown once)."""
        if not isinstance(name, str) or not 0 < len(name) <= 100:
            raise InvalidArgument("an API key needs a name of 1-100 characters")
        if expires_in is not None and (
            not isinstance(expires_in, int)
            or isinstance(expires_in, bool)
            or not 0 < expires_in <= MAX_KEY_LIFETIME
        ):
            raise InvalidArgument(
                f"expires_in must be a whole number of seconds from 1 to {MAX_KEY_LIFETIME} "
                "(100 years), or null for a key that does not expire"
            )
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        now = self._clock.now_ms()
        expires = None if expires_in is None else now + expires_in * 1000

        def add(accounts: Accounts) -> Accounts:
            user = accounts.users.get(owner)
            if user is None:
                raise NotFound(f"user {owner!r} does not exist")
            chosen = accounts.check_roles(roles)
            beyond = [r for r in chosen if not accounts.covers(user.roles, r)]
            if beyond:
                raise Forbidden(f"{owner!r} cannot give a key the role {beyond[0]!r}")
            digest = hash_key_secret(secret)
            return accounts.with_key(ApiKey(key_id, name, owner, chosen, digest, now, expires))

        key = self._change(add).keys[key_id]
        return key.describe(), f"{KEY_PREFIX}{key_id}_{secret}"

    def find_key(self, presented: str) -> ApiKey | None:
        """The live key ``presented`` is, or None (wrong, revoked or expired)."""
        parts = presented.removeprefix(KEY_PREFIX).split("_", 1)
        if not presented.startswith(KEY_PREFIX) or len(parts) != 2:
            return None
        key = self._accounts.keys.get(parts[0])
        if key is None or not hmac.compare_digest(key.secret_hash, hash_key_secret(parts[1])):
            return None
        if key.expires_ms is not None and self._clock.now_ms() >= key.expires_ms:
            return None
        return key

    def list_keys(self, owner: str | None) -> list[dict[str, Any]]:
        """Keys of ``owner`` (all with None), newest first, without secrets."""
        keys = [k for k in self._accounts.keys.values() if owner is None or k.owner == owner]
        return [k.describe() for k in sorted(keys, key=lambda k: -k.created_ms)]

    def key_owner(self, key_id: str) -> str | None:
        """Who owns the key ``key_id``."""
        key = self._accounts.keys.get(key_id)
        return None if key is None else key.owner

    def delete_key(self, key_id: str) -> None:
        """Revoke a key: it stops working at once."""

        def remove(accounts: Accounts) -> Accounts:
            if key_id not in accounts.keys:
                raise NotFound(f"API key {key_id!r} does not exist")
            return accounts.without_key(key_id)

        self._change(remove)

    def list_users(self) -> list[dict[str, Any]]:
        """Every user, by name, without hashes."""
        users = self._accounts.users
        return [users[n].describe() for n in sorted(users)]

    def list_roles(self) -> list[dict[str, Any]]:
        """Built-in and custom roles, by name."""
        accounts = self._accounts
        names = sorted({*accounts.roles, "admin", "writer", "reader"})
        roles = [accounts.role(n) for n in names]
        return [r.to_record() for r in roles if r is not None]
