"""Password hashing (argon2id) and the password policy.

Hashes use :class:`argon2.PasswordHasher` with the library's defaults, so they follow its
recommended parameters as it updates them; :func:`needs_rehash` says when a stored hash is older
than those. ``DUMMY_HASH`` is made on first use, not at import, because one hash costs tens of
milliseconds and ``import`` should cost nothing.
"""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error, InvalidHashError

from lumadb.errors import InvalidArgument

# DUMMY_HASH is left out on purpose: a star import would compute it at import time.
__all__ = [
    "MAX_PASSWORD_CHARS",
    "MIN_PASSWORD_CHARS",
    "check_password_policy",
    "dummy_verify",
    "hash_password",
    "needs_rehash",
    "verify_password",
]

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024

_HASHER = PasswordHasher()
# InvalidHashError is a ValueError, not an Argon2Error; ValueError also covers text that cannot
# be encoded (a lone surrogate).
_VERIFY_ERRORS = (Argon2Error, InvalidHashError, ValueError, TypeError)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; the encoded form carries its parameters)."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; False (never an error) on a malformed hash."""
    # A non-text value would reach argon2 as an AttributeError; a damaged catalog row or a
    # JSON number as a password must be a failed login, not a crash.
    if not isinstance(stored_hash, str) or not isinstance(password, str):
        return False
    try:
        return _HASHER.verify(stored_hash, password)
    except _VERIFY_ERRORS:
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether ``stored_hash`` was made with other parameters than today's (or cannot be read)."""
    if not isinstance(stored_hash, str):
        return True
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except _VERIFY_ERRORS:
        return True


def check_password_policy(password: object) -> str:
    """``password`` if it is a string of 8 to 1024 characters; :class:`InvalidArgument` if not.

    The upper bound keeps hashing cost bounded; the message never repeats the password.
    """
    if not isinstance(password, str):
        raise InvalidArgument("password must be a string")
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidArgument(
            f"password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters long"
        )
    return password


@functools.cache
def _dummy_hash() -> str:
    # Two threads racing here may each hash once; either result serves equally well.
    return hash_password(secrets.token_urlsafe(32))


def dummy_verify(password: str) -> None:
    """Spend the time of one real verification, for a login naming an unknown user.

    Without it, "no such user" answers faster than "wrong password", and the difference tells an
    attacker which user names exist.
    """
    verify_password(_dummy_hash(), password)


def __getattr__(name: str) -> str:
    # Module-level ``DUMMY_HASH``, computed lazily on first access (PEP 562).
    if name == "DUMMY_HASH":
        return _dummy_hash()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
