"""TokenIssuer: round trips, time from the injected clock, and settings checked at construction."""

from __future__ import annotations

import jwt
import pytest

import lumadb.api.auth
from lumadb.api.auth import MIN_SECRET_BYTES, Claims, TokenIssuer
from lumadb.clock import ManualClock
from lumadb.errors import ConfigError, InvalidArgument, Unauthorized

SECRET = b"s" * 32
START_MS = 1_700_000_000_000
NOW = START_MS // 1000


def _issuer(clock: ManualClock, *, lifetime: float = 3600.0, leeway: float = 30.0) -> TokenIssuer:
    return TokenIssuer(SECRET, lifetime=lifetime, leeway=leeway, clock=clock)


def _signed(**overrides: object) -> str:
    payload: dict[str, object] = {
        "iss": "lumadb",
        "sub": "ada",
        "iat": NOW,
        "exp": NOW + 60,
        "kind": "user",
        "jti": "abc",
    }
    payload.update(overrides)
    return jwt.encode(payload, SECRET, algorithm="HS256")


def test_public_names_are_pinned() -> None:
    assert sorted(lumadb.api.auth.__all__) == [
        "Claims",
        "LoginLimiter",
        "MIN_SECRET_BYTES",
        "TokenIssuer",
        "check_password_policy",
        "dummy_verify",
        "hash_password",
        "needs_rehash",
        "verify_password",
    ]


def test_issue_then_verify_round_trips() -> None:
    clock = ManualClock(start_ms=START_MS)
    issuer = _issuer(clock)
    token, expires_in = issuer.issue("ada")
    assert expires_in == 3600
    claims = issuer.verify(token)
    assert isinstance(claims, Claims)
    assert (claims.sub, claims.kind, claims.iat, claims.exp) == ("ada", "user", NOW, NOW + 3600)
    assert len(claims.jti) == 16
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}


def test_api_key_tokens_carry_their_kind_and_fresh_ids() -> None:
    issuer = _issuer(ManualClock(start_ms=START_MS))
    first = issuer.verify(issuer.issue("key:k1", kind="apikey")[0])
    second = issuer.verify(issuer.issue("key:k1", kind="apikey")[0])
    assert (first.sub, first.kind) == ("key:k1", "apikey")
    assert first.jti != second.jti


def test_issue_refuses_bad_subjects_and_kinds() -> None:
    issuer = _issuer(ManualClock(start_ms=START_MS))
    for subject in ("", "x" * 257):
        with pytest.raises(InvalidArgument):
            issuer.issue(subject)
    with pytest.raises(InvalidArgument):
        issuer.issue("ada", kind="admin")


def test_expiry_allows_the_leeway_and_no_more() -> None:
    clock = ManualClock(start_ms=START_MS)
    issuer = _issuer(clock, lifetime=60, leeway=30)
    token, _ = issuer.issue("ada")
    clock.advance(60 + 30)  # exactly at exp + leeway: still valid
    assert issuer.verify(token).sub == "ada"
    clock.advance(0.001)
    with pytest.raises(Unauthorized, match="token expired"):
        issuer.verify(token)


def test_expiry_without_leeway() -> None:
    clock = ManualClock(start_ms=START_MS)
    issuer = _issuer(clock, lifetime=10, leeway=0)
    token, _ = issuer.issue("ada")
    clock.advance(10)
    issuer.verify(token)
    clock.advance(1)
    with pytest.raises(Unauthorized, match="expired"):
        issuer.verify(token)


def test_nbf_in_the_future_is_refused_until_it_arrives() -> None:
    clock = ManualClock(start_ms=START_MS)
    issuer = _issuer(clock, leeway=5)
    token = _signed(nbf=NOW + 20, exp=NOW + 600)
    with pytest.raises(Unauthorized, match="not yet valid"):
        issuer.verify(token)
    clock.advance(15)  # now + leeway == nbf
    assert issuer.verify(token).sub == "ada"


def test_iat_in_the_future_is_refused_beyond_the_leeway() -> None:
    clock = ManualClock(start_ms=START_MS)
    issuer = _issuer(clock, leeway=5)
    assert issuer.verify(_signed(iat=NOW + 5)).iat == NOW + 5
    with pytest.raises(Unauthorized, match="issued in the future"):
        issuer.verify(_signed(iat=NOW + 6))


def test_time_comes_from_the_clock_not_the_system() -> None:
    # A clock far in the past: PyJWT's own checks would call this token expired long ago.
    clock = ManualClock(start_ms=1_000_000)
    issuer = _issuer(clock)
    token, _ = issuer.issue("ada")
    assert issuer.verify(token).exp == 1000 + 3600


def test_short_secret_is_refused_without_showing_it() -> None:
    secret = b"hunter2-is-not-a-secret"
    with pytest.raises(ConfigError) as info:
        TokenIssuer(secret, lifetime=60, leeway=0, clock=ManualClock())
    message = str(info.value)
    assert "auth.jwt_secret" in message
    assert str(len(secret)) in message
    assert str(MIN_SECRET_BYTES) in message
    assert secret.decode() not in message
    assert "hunter2" not in message


def test_secret_must_be_bytes() -> None:
    with pytest.raises(ConfigError, match=r"auth\.jwt_secret"):
        TokenIssuer("s" * 40, lifetime=60, leeway=0, clock=ManualClock())  # type: ignore[arg-type]


@pytest.mark.parametrize("lifetime", [0, -1, float("nan")])
def test_lifetime_must_be_positive(lifetime: float) -> None:
    with pytest.raises(ConfigError, match=r"auth\.token_lifetime"):
        TokenIssuer(SECRET, lifetime=lifetime, leeway=0, clock=ManualClock())


@pytest.mark.parametrize("leeway", [-0.5, float("nan")])
def test_leeway_must_not_be_negative(leeway: float) -> None:
    with pytest.raises(ConfigError, match=r"auth\.leeway"):
        TokenIssuer(SECRET, lifetime=60, leeway=leeway, clock=ManualClock())


def test_zero_leeway_and_tiny_lifetime_are_allowed() -> None:
    issuer = TokenIssuer(SECRET, lifetime=0.5, leeway=0, clock=ManualClock(start_ms=START_MS))
    token, expires_in = issuer.issue("ada")
    assert expires_in == 1
    assert issuer.verify(token).exp == NOW + 1


def test_a_custom_issuer_is_required_to_match() -> None:
    clock = ManualClock(start_ms=START_MS)
    other = TokenIssuer(SECRET, lifetime=60, leeway=0, clock=clock, issuer="elsewhere")
    token, _ = other.issue("ada")
    assert other.verify(token).sub == "ada"
    with pytest.raises(Unauthorized, match="issuer"):
        _issuer(clock).verify(token)


def test_a_cached_token_still_expires() -> None:
    clock = ManualClock()
    issuer = _issuer(clock, lifetime=60.0, leeway=0.0)
    token, _ = issuer.issue("ada")
    assert issuer.verify(token).sub == "ada"
    assert issuer.verify(token).sub == "ada"  # verifying again changes nothing
    clock.advance(61)
    with pytest.raises(Unauthorized, match="expired"):
        issuer.verify(token)


def test_the_cache_never_accepts_a_changed_token() -> None:
    issuer = _issuer(ManualClock())
    token, _ = issuer.issue("ada")
    issuer.verify(token)
    head, body, signature = token.split(".")
    tampered = ".".join((head, body, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")))
    with pytest.raises(Unauthorized):
        issuer.verify(tampered)
