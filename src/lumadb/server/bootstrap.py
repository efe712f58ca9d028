"""What a node does once before its workers start: the secret and the initial admin.

Run in the ``luma serve`` process with the database opened briefly, so a problem (a bad
secret, a locked data directory, a weak admin password) stops start-up with a clear message
before any worker exists, and a generated admin password is printed exactly once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from lumadb.api.auth.passwords import check_password_policy, hash_password
from lumadb.api.auth.tokens import TokenIssuer
from lumadb.clock import SystemClock
from lumadb.config import Settings
from lumadb.server.secrets import node_secret
from lumadb.service.accounts import AccountStore
from lumadb.service.local import LocalService

__all__ = ["ADMIN", "Bootstrap", "bootstrap"]

ADMIN = "admin"


@dataclass(frozen=True)
class Bootstrap:
    """What start-up did: whether it created the admin, and the password if it made one."""

    created_admin: bool
    generated_password: str | None


def bootstrap(settings: Settings) -> Bootstrap:
    """Make sure the data directory has a signing secret and at least one user."""
    clock = SystemClock()
    service = LocalService(settings.storage.data_dir, settings, clock)
    try:
        secret = node_secret(settings)
        auth = settings.auth
        TokenIssuer(secret, lifetime=auth.token_lifetime, leeway=auth.leeway, clock=clock)
        accounts = AccountStore(service, clock)
        if accounts.accounts.users:
            return Bootstrap(created_admin=False, generated_password=None)
        generated = None if auth.admin_password else secrets.token_urlsafe(15)
        password = check_password_policy(auth.admin_password or generated)
        created = accounts.bootstrap(ADMIN, hash_password(password))
        return Bootstrap(created_admin=created, generated_password=generated if created else None)
    finally:
        service.close()
