"""Turning credentials into an :class:`~lumadb.service.permissions.Actor`.

:class:`AuthEngine` is the seam (local users now; LDAP or OIDC could follow);
:class:`LocalAuthEngine` checks passwords against the accounts in the database and issues
and verifies the node's own JWTs. A token names its user; the user is looked up on every
request, so deleting a user or changing its roles takes effect at once.
"""

from __future__ import annotations

import math
from typing import Protocol

from lumadb.api.auth.passwords import dummy_verify, verify_password
from lumadb.api.auth.ratelimit import LoginLimiter
from lumadb.api.auth.tokens import TokenIssuer
from lumadb.catalog.users import Accounts
from lumadb.errors import Unauthorized
from lumadb.service.accounts import KEY_PREFIX, AccountStore
from lumadb.service.permissions import Actor, actor_for, actor_for_key

__all__ = ["AuthEngine", "LocalAuthEngine"]

_BAD_LOGIN = "invalid user name or password"
REMEMBERED = 10_000  # headers remembered per value of the accounts


class AuthEngine(Protocol):
    """How the HTTP layer authenticates callers."""

    def login(self, username: object, password: object, address: str) -> tuple[str, int]:
        """An access token and its lifetime in seconds, or :class:`Unauthorized`."""
        ...

    def authenticate(self, authorization: bytes | None) -> Actor:
        """The actor behind an ``Authorization`` header, or :class:`Unauthorized`."""
        ...


class LocalAuthEngine:
    """Users and roles kept in the database; HS256 tokens signed by the node."""

    def __init__(self, accounts: AccountStore, issuer: TokenIssuer, limiter: LoginLimiter):
        self._accounts = accounts
        self._issuer = issuer
        self._limiter = limiter
        # Actors by Authorization header, for one value of the accounts (immutable values).
        self._remembered: dict[bytes, tuple[Actor, float]] = {}
        self._remembered_for: Accounts | None = None

    def login(self, username: object, password: object, address: str) -> tuple[str, int]:
        """Check a password (slow on purpose: argon2) and issue a token."""
        if not isinstance(username, str) or not isinstance(password, str):
            raise Unauthorized('send {"username": "...", "password": "..."}')
        self._limiter.check(username, address)
        user = self._accounts.user(username)
        if user is None:
            dummy_verify(password)  # the same time as a wrong password for a real user
            ok = False
        else:
            ok = verify_password(user.password_hash, password)
        if not ok:
            self._limiter.failed(username, address)
            raise Unauthorized(_BAD_LOGIN)
        self._limiter.succeeded(username)
        return self._issuer.issue(username)

    def authenticate(self, authorization: bytes | None) -> Actor:
        """Verify ``Bearer <token>`` and find its user.

        Answers are remembered by the exact header for as long as the accounts are unchanged
        (any change to users, roles or keys is a new value and empties the memory) and the
        credential has not expired, so a client's repeated header costs one dict lookup.
        """
        accounts = self._accounts.accounts
        if accounts is not self._remembered_for:
            self._remembered, self._remembered_for = {}, accounts
        if authorization is not None:
            hit = self._remembered.get(authorization)
            if hit is not None and self._issuer.now() <= hit[1]:
                return hit[0]
        actor, until = self._authenticate(authorization)
        if len(self._remembered) < REMEMBERED and authorization is not None:
            self._remembered[authorization] = (actor, until)
        return actor

    def _authenticate(self, authorization: bytes | None) -> tuple[Actor, float]:
        if authorization is None:
            raise Unauthorized("this request needs an Authorization: Bearer <token> header")
        scheme, _, token = authorization.partition(b" ")
        if scheme.lower() != b"bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        try:
            text = token.strip().decode("ascii")
        except UnicodeDecodeError:
            raise Unauthorized("the token is not ASCII") from None
        accounts = self._accounts.accounts
        if text.startswith(KEY_PREFIX):
            key = self._accounts.find_key(text)
            if key is None:
                raise Unauthorized("the API key is unknown, revoked or expired")
            until = math.inf if key.expires_ms is None else key.expires_ms / 1000 - 0.001
            return actor_for_key(key, accounts), until
        claims = self._issuer.verify(text)
        user = accounts.users.get(claims.sub) if claims.kind == "user" else None
        if user is None:
            raise Unauthorized("the token's user no longer exists")
        return actor_for(user, accounts), self._issuer.valid_until(claims)
