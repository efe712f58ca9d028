"""Authentication for the HTTP API: who the caller is, proven cheaply and refused safely.

- :mod:`~lumadb.api.auth.tokens`: HS256 bearer tokens, issued and verified per RFC 8725, with
  time from the injected clock.
- :mod:`~lumadb.api.auth.passwords`: argon2id password hashes and the password policy.
- :mod:`~lumadb.api.auth.ratelimit`: limits on failed logins per user and per client address.

Every refusal is a :class:`lumadb.errors.Unauthorized` or
:class:`lumadb.errors.TooManyRequests`; no PyJWT or argon2 exception leaves this package.
"""

from __future__ import annotations

from lumadb.api.auth.passwords import (
    check_password_policy,
    dummy_verify,
    hash_password,
    needs_rehash,
    verify_password,
)
from lumadb.api.auth.ratelimit import LoginLimiter
from lumadb.api.auth.tokens import MIN_SECRET_BYTES, Claims, TokenIssuer

__all__ = [
    "MIN_SECRET_BYTES",
    "Claims",
    "LoginLimiter",
    "TokenIssuer",
    "check_password_policy",
    "dummy_verify",
    "hash_password",
    "needs_rehash",
    "verify_password",
]
