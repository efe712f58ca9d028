"""Password hashing, verification that never raises, rehash detection and the policy."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from lumadb.api.auth import (
    check_password_policy,
    dummy_verify,
    hash_password,
    needs_rehash,
    passwords,
    verify_password,
)
from lumadb.errors import InvalidArgument


def test_hash_is_argon2id_salted_and_verifies() -> None:
    first = hash_password("correct horse")
    second = hash_password("correct horse")
    assert first.startswith("$argon2id$")
    assert first != second  # a fresh salt each time
    assert verify_password(first, "correct horse")
    assert not verify_password(first, "correct horsE")
    assert not needs_rehash(first)


@pytest.mark.parametrize(
    "stored",
    ["", "not a hash", "$argon2id$v=19$m=65536,t=3,p=4$garbage", "$2b$12$bcrypthash", None, 42],
)
def test_malformed_hashes_fail_verification_without_raising(stored: object) -> None:
    assert verify_password(stored, "whatever") is False  # type: ignore[arg-type]


@pytest.mark.parametrize("password", [None, 12345678, "\ud800 lone surrogate"])
def test_unusable_passwords_fail_without_raising(password: object) -> None:
    stored = hash_password("password1")
    assert verify_password(stored, password) is False  # type: ignore[arg-type]
    assert needs_rehash(None) is True  # type: ignore[arg-type]


def test_hashes_made_with_weaker_parameters_need_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("password1")
    assert verify_password(weak, "password1")
    assert needs_rehash(weak)
    assert needs_rehash("not a hash")


def test_dummy_hash_is_lazy_cached_and_verifiable() -> None:
    assert passwords.DUMMY_HASH.startswith("$argon2id$")
    assert passwords.DUMMY_HASH == passwords.DUMMY_HASH
    dummy_verify("anything")  # returns nothing, raises nothing
    with pytest.raises(AttributeError):
        _ = passwords.NO_SUCH_NAME


@pytest.mark.parametrize("password", ["12345678", "x" * 1024, "pässwörd", "        "])
def test_policy_accepts_8_to_1024_characters(password: str) -> None:
    assert check_password_policy(password) is password


@pytest.mark.parametrize("password", ["", "1234567", "x" * 1025, None, 12345678, b"12345678"])
def test_policy_refuses_everything_else_without_echoing(password: object) -> None:
    with pytest.raises(InvalidArgument) as info:
        check_password_policy(password)
    if isinstance(password, str) and password:
        assert password not in str(info.value)
