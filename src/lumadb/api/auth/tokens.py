"""Signed bearer tokens: JWTs with HS256 only, checked the way RFC 8725 asks.

The server is both issuer and audience, so there is exactly one algorithm and one key; a token
naming anything else (``none``, another HMAC, a public-key algorithm, a key URL) is refused
before its signature is even looked at. Time comes from the injected :class:`~lumadb.clock.Clock`,
never from PyJWT's own clock, so expiry is testable without sleeping.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.exceptions import InvalidJTIError, InvalidSubjectError

from lumadb.clock import Clock
from lumadb.errors import ConfigError, InvalidArgument, Unauthorized

__all__ = [
    "KINDS",
    "MAX_SUBJECT_CHARS",
    "MAX_TOKEN_CHARS",
    "MIN_SECRET_BYTES",
    "Claims",
    "TokenIssuer",
]

MIN_SECRET_BYTES = 32
MAX_TOKEN_CHARS = 8 * 1024
MAX_SUBJECT_CHARS = 256
KINDS = frozenset({"user", "apikey"})
# Times beyond the year 9999 are nonsense, and bounding them keeps float arithmetic from
# overflowing on a JSON integer with hundreds of digits.
_MAX_TIME = 253_402_300_799

_ALGORITHM = "HS256"
_SUBJECT_RULE = f"token claim 'sub' must be a string of 1 to {MAX_SUBJECT_CHARS} characters"
_JTI_RULE = "token claim 'jti' must be a non-empty string"
_REQUIRED = ("exp", "iat", "sub", "iss", "kind", "jti")
# Header parameters that point at keys or demand extensions: honouring any of them would let the
# token choose how it is verified, so a token carrying one is refused outright.
_FORBIDDEN_HEADERS = ("jku", "jwk", "x5u", "x5c", "kid", "crit")
# ValueError covers binascii.Error, UnicodeError and json.JSONDecodeError; PyJWT should wrap all
# of them, but a token must never turn into a 500 if one slips through.
_DECODE_ERRORS = (jwt.PyJWTError, ValueError, TypeError, OverflowError, RecursionError)


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token says."""

    sub: str  # a user name, or "key:<id>" for API keys
    iat: int  # issued at, seconds since the epoch
    exp: int  # expires at, seconds since the epoch
    kind: str  # "user" or "apikey"
    jti: str  # random token id


class TokenIssuer:
    """Issues and verifies the server's HS256 bearer tokens."""

    def __init__(
        self,
        secret: bytes,
        *,
        lifetime: float,
        leeway: float,
        clock: Clock,
        issuer: str = "lumadb",
    ) -> None:
        """Check the settings; raise :class:`ConfigError` naming the ``auth.*`` key at fault."""
        if not isinstance(secret, bytes):
            raise ConfigError("auth.jwt_secret must be given as bytes")
        if len(secret) < MIN_SECRET_BYTES:
            # The length only: the secret itself must never reach a message or a log.
            raise ConfigError(
                f"auth.jwt_secret is {len(secret)} bytes long; "
                f"at least {MIN_SECRET_BYTES} bytes are required"
            )
        if not lifetime > 0:  # also refuses NaN
            raise ConfigError(f"auth.token_lifetime must be > 0 seconds, got {lifetime!r}")
        if not leeway >= 0:
            raise ConfigError(f"auth.leeway must be >= 0 seconds, got {leeway!r}")
        self._secret = secret
        self._lifetime = lifetime
        self._leeway = leeway
        self._clock = clock
        self._issuer = issuer

    def issue(self, subject: str, *, kind: str = "user") -> tuple[str, int]:
        """A new token for ``subject`` and its lifetime in whole seconds (at least one)."""
        if not _is_subject(subject):
            raise InvalidArgument(
                f"token subject must be a string of 1 to {MAX_SUBJECT_CHARS} characters"
            )
        if kind not in KINDS:
            raise InvalidArgument("token kind must be 'user' or 'apikey'")
        now = self._clock.now_ms() // 1000
        expires_in = max(1, int(self._lifetime))
        payload = {
            "iss": self._issuer,
            "sub": subject,
            "iat": now,
            "exp": now + expires_in,
            "kind": kind,
            "jti": secrets.token_urlsafe(12),
        }
        token = jwt.encode(payload, self._secret, algorithm=_ALGORITHM, headers={"typ": "JWT"})
        return token, expires_in

    def verify(self, token: object) -> Claims:
        """The claims of a valid token; :class:`Unauthorized` for anything else.

        Messages say what was wrong and never repeat the token.
        """
        if not isinstance(token, str):
            raise Unauthorized("token must be a string")
        if not token:
            raise Unauthorized("token is empty")
        # Bounded before any decoding, so a huge header cannot cost base64 and JSON work.
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized(f"token is longer than {MAX_TOKEN_CHARS} characters")
        if not token.isascii() or token.count(".") != 2:
            raise Unauthorized("token is malformed")
        _check_header(_unverified_header(token))
        payload = self._decode(token)
        self._check_times(payload)
        return Claims(
            sub=payload["sub"],
            iat=payload["iat"],
            exp=payload["exp"],
            kind=payload["kind"],
            jti=payload["jti"],
        )

    def _decode(self, token: str) -> dict[str, Any]:
        """Signature and claim shapes checked; times are left to :meth:`_check_times`."""
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                issuer=self._issuer,
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "enforce_minimum_key_length": True,
                    "require": list(_REQUIRED),
                },
            )
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"token is missing claim '{exc.claim}'") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthorized("token signature is invalid") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise Unauthorized("token algorithm must be HS256") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized("token issuer is invalid") from exc
        except InvalidSubjectError as exc:
            raise Unauthorized(_SUBJECT_RULE) from exc
        except InvalidJTIError as exc:
            raise Unauthorized(_JTI_RULE) from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized("token must not carry an audience") from exc
        except _DECODE_ERRORS as exc:
            raise Unauthorized("token is malformed") from exc
        _check_claims(payload, self._issuer)
        return payload

    def valid_until(self, claims: Claims) -> float:
        """The last second (epoch, on this issuer's clock) at which ``claims`` are valid."""
        return claims.exp + self._leeway

    def now(self) -> float:
        """Seconds since the epoch on this issuer's clock."""
        return self._clock.now_ms() / 1000.0

    def _check_times(self, payload: dict[str, Any]) -> None:
        now = self._clock.now_ms() / 1000.0
        leeway = self._leeway
        if now > payload["exp"] + leeway:
            raise Unauthorized("token expired")
        if payload["iat"] > now + leeway:
            raise Unauthorized("token was issued in the future")
        if "nbf" in payload and now + leeway < payload["nbf"]:
            raise Unauthorized("token is not yet valid")


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except _DECODE_ERRORS as exc:
        raise Unauthorized("token header is malformed") from exc


def _check_header(header: dict[str, Any]) -> None:
    # Checked before the signature, as RFC 8725 §3.1 asks: the algorithm is ours, not the token's.
    alg = header.get("alg")
    if not isinstance(alg, str) or alg != _ALGORITHM:
        raise Unauthorized("token algorithm must be HS256")
    if "typ" in header and header["typ"] != "JWT":
        raise Unauthorized("token type must be JWT")
    for name in _FORBIDDEN_HEADERS:
        if name in header:
            raise Unauthorized(f"token header must not carry '{name}'")


def _check_claims(payload: dict[str, Any], issuer: str) -> None:
    if not _is_subject(payload["sub"]):
        raise Unauthorized(_SUBJECT_RULE)
    if payload["iss"] != issuer:
        raise Unauthorized("token issuer is invalid")
    kind = payload["kind"]
    if not isinstance(kind, str) or kind not in KINDS:
        raise Unauthorized("token claim 'kind' must be 'user' or 'apikey'")
    jti = payload["jti"]
    if not isinstance(jti, str) or not jti:
        raise Unauthorized(_JTI_RULE)
    for name in ("exp", "iat", "nbf"):
        if name in payload and not _is_time(payload[name]):
            raise Unauthorized(f"token claim '{name}' must be an integer time")


def _is_time(value: object) -> bool:
    # type() rather than isinstance: True is an int to Python but not a time to us.
    return type(value) is int and 0 <= value <= _MAX_TIME


def _is_subject(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_SUBJECT_CHARS
