"""What a node does once before its workers start: the secret and the initial admin.

Run in the ``luma serve`` process with the database opened briefly, so a problem (a bad
secret, a locked data directory, a weak admin password) stops start-up with a clear message
before any worker exists, and a generated admin password is printed exactly once. The node
takes the data directory's lock first and keeps it while its workers serve.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from lumadb.api.auth.passwords import check_password_policy, hash_password
from lumadb.api.auth.tokens import TokenIssuer
from lumadb.clock import SystemClock
from lumadb.config import Settings
from lumadb.errors import StorageError
from lumadb.server.secrets import node_secret
from lumadb.service.accounts import AccountStore
from lumadb.service.local import LocalService
from lumadb.storage.datadir import DirLock

__all__ = ["ADMIN", "Bootstrap", "bootstrap", "lock_data_dir"]

ADMIN = "admin"


@dataclass(frozen=True)
class Bootstrap:
    """What start-up did: whether it created the admin, and the password if it made one."""

    created_admin: bool
    generated_password: str | None
    shards: int


def lock_data_dir(settings: Settings) -> DirLock:
    """Take the data directory's lock for the node (creating the directory)."""
    root = Path(settings.storage.data_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot use {root} as a data directory: {exc.strerror}") from exc
    lock = DirLock(root)
    lock.acquire()
    return lock


def bootstrap(settings: Settings) -> Bootstrap:
    """Make sure the data directory has a signing secret and at least one user.

    The caller holds the directory's lock (:func:`lock_data_dir`).
    """
    clock = SystemClock()
    service = LocalService(settings.storage.data_dir, settings, clock, lock=False)
    shards = service.store.shard_count
    try:
        secret = node_secret(settings)
        auth = settings.auth
        TokenIssuer(secret, lifetime=auth.token_lifetime, leeway=auth.leeway, clock=clock)
        accounts = AccountStore(service, clock)
        if accounts.accounts.users:
            return Bootstrap(created_admin=False, generated_password=None, shards=shards)
        generated = None if auth.admin_password else secrets.token_urlsafe(15)
        password = check_password_policy(auth.admin_password or generated)
        created = accounts.bootstrap(ADMIN, hash_password(password))
        shown = generated if created else None
        return Bootstrap(created_admin=created, generated_password=shown, shards=shards)
    finally:
        service.close()
