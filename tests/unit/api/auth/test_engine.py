"""The local auth engine: remembered answers still expire and follow account changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lumadb.api.auth.engine import LocalAuthEngine
from lumadb.api.auth.passwords import hash_password
from lumadb.api.auth.ratelimit import LoginLimiter
from lumadb.api.auth.tokens import TokenIssuer
from lumadb.clock import ManualClock
from lumadb.config import load_settings
from lumadb.errors import Unauthorized
from lumadb.service.accounts import AccountStore
from lumadb.service.local import LocalService


@pytest.fixture
def parts() -> Iterator[tuple[LocalAuthEngine, AccountStore, ManualClock, TokenIssuer]]:
    clock = ManualClock()
    service = LocalService(":memory:", load_settings(None, env={}), clock)
    accounts = AccountStore(service, clock)
    accounts.bootstrap("admin", hash_password("admin-pass-1"))
    issuer = TokenIssuer(b"k" * 40, lifetime=60.0, leeway=5.0, clock=clock)
    engine = LocalAuthEngine(accounts, issuer, LoginLimiter(clock))
    try:
        yield engine, accounts, clock, issuer
    finally:
        service.close()


def test_a_remembered_token_expires_on_time(parts: tuple) -> None:  # type: ignore[type-arg]
    engine, _, clock, issuer = parts
    token, _ = issuer.issue("admin")
    header = f"Bearer {token}".encode()
    assert engine.authenticate(header).name == "admin"
    clock.advance(64)  # within lifetime + leeway
    assert engine.authenticate(header).name == "admin"
    clock.advance(2)
    with pytest.raises(Unauthorized, match="expired"):
        engine.authenticate(header)


def test_account_changes_apply_to_remembered_headers(parts: tuple) -> None:  # type: ignore[type-arg]
    engine, accounts, _, issuer = parts
    accounts.create_user("bob", hash_password("bob-pass-12"), ["writer"])
    header = f"Bearer {issuer.issue('bob')[0]}".encode()
    assert engine.authenticate(header).allows("write", "any")
    accounts.update_user("bob", roles=["reader"])
    assert not engine.authenticate(header).allows("write", "any")
    accounts.delete_user("bob")
    with pytest.raises(Unauthorized):
        engine.authenticate(header)


def test_a_remembered_api_key_stops_at_revocation_and_expiry(parts: tuple) -> None:  # type: ignore[type-arg]
    engine, accounts, clock, _ = parts
    described, key = accounts.create_key("admin", "ci", ["reader"], 30)
    header = f"Bearer {key}".encode()
    assert engine.authenticate(header).key == described["id"]
    clock.advance(31)
    with pytest.raises(Unauthorized):
        engine.authenticate(header)
    forever, other = accounts.create_key("admin", "ci2", ["reader"])
    header = f"Bearer {other}".encode()
    clock.advance(10**6)
    assert engine.authenticate(header).key == forever["id"]
    accounts.delete_key(forever["id"])
    with pytest.raises(Unauthorized, match="revoked"):
        engine.authenticate(header)
