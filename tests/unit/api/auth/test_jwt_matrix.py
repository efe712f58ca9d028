"""The JWT security matrix (RFC 8725): crafted tokens that must all be refused, and canaries.

Hand-made tokens are signed with the *right* secret wherever the point is a header or claim rule,
so a rejection proves that rule and not merely a bad signature. Each case names the reason it
must fail for; the canaries, made with the same helpers, must be accepted, which shows the
helpers can produce a token the verifier takes.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from dataclasses import dataclass

import jwt
import pytest

from lumadb.api.auth import TokenIssuer
from lumadb.clock import ManualClock
from lumadb.errors import Unauthorized

SECRET = b"k" * 32
OTHER_SECRET = b"o" * 32
START_MS = 1_700_000_000_000
NOW = START_MS // 1000
HEADER: dict[str, object] = {"alg": "HS256", "typ": "JWT"}
GOOD: dict[str, object] = {
    "iss": "lumadb",
    "sub": "ada",
    "iat": NOW,
    "exp": NOW + 600,
    "kind": "user",
    "jti": "j1",
}


_DROP = object()  # as a claim or header value: leave the key out


@dataclass(frozen=True)
class Case:
    name: str
    token: object
    reason: str | None  # a regex the refusal message must match; None: must be accepted


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(value: object) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _sign(signing_input: str, secret: bytes = SECRET, digest: str = "sha256") -> str:
    return _b64(hmac.new(secret, signing_input.encode(), digest).digest())


def _hand(
    header: object = HEADER,
    payload: object = GOOD,
    *,
    raw_header: str | None = None,
    raw_payload: str | None = None,
    sig: str | None = None,
    digest: str = "sha256",
) -> str:
    """A token from JSON pieces (or raw segments), HMAC-signed with SECRET unless ``sig``."""
    head = _json(header) if raw_header is None else raw_header
    body = _json(payload) if raw_payload is None else raw_payload
    signing_input = f"{head}.{body}"
    return f"{signing_input}.{_sign(signing_input, digest=digest) if sig is None else sig}"


def _claims(**changes: object) -> dict[str, object]:
    payload = dict(GOOD)
    for key, value in changes.items():
        if value is _DROP:
            del payload[key]
        else:
            payload[key] = value
    return payload


def _header(**changes: object) -> dict[str, object]:
    header = dict(HEADER)
    header.update(changes)
    return {k: v for k, v in header.items() if v is not _DROP}


_VALID = _hand()
_OTHER = _hand(payload=_claims(sub="eve", jti="j2"))
_GARBAGE_SIG = _b64(b"\x01" * 64)

CASES: list[Case] = [
    # Canaries: the same helpers, used correctly, make tokens that must pass.
    Case("canary-hand-signed", _VALID, None),
    Case("canary-no-typ", _hand(header={"alg": "HS256"}), None),
    Case("canary-pyjwt", jwt.encode(_claims(jti="pyjwt"), SECRET, algorithm="HS256"), None),
    # alg "none" in its spellings, with and without a signature.
    *[
        Case(f"alg-{alg}-{kind}", _hand(header=_header(alg=alg), sig=sig), "algorithm")
        for alg in ("none", "None", "NONE", "nOnE")
        for kind, sig in (
            ("empty-sig", ""),
            ("hmac-sig", _sign(f"{_json(_header(alg=alg))}.{_json(GOOD)}")),
        )
    ],
    Case("alg-none-pyjwt", jwt.encode(_claims(jti="pyjwt"), None, algorithm="none"), "algorithm"),
    Case("alg-missing", _hand(header={"typ": "JWT"}), "algorithm"),
    Case("alg-empty", _hand(header=_header(alg="")), "algorithm"),
    Case("alg-null", _hand(header=_header(alg=None)), "algorithm"),
    Case("alg-list", _hand(header=_header(alg=["HS256"])), "algorithm"),
    Case("alg-lowercase", _hand(header=_header(alg="hs256")), "algorithm"),
    # Other algorithms, including the right secret under another HMAC.
    Case("hs384-right-secret", _hand(header=_header(alg="HS384"), digest="sha384"), "algorithm"),
    Case("hs512-right-secret", _hand(header=_header(alg="HS512"), digest="sha512"), "algorithm"),
    Case("hs512-pyjwt", jwt.encode(GOOD, b"k" * 64, algorithm="HS512"), "algorithm"),
    Case("rs256-garbage-sig", _hand(header=_header(alg="RS256"), sig=_GARBAGE_SIG), "algorithm"),
    Case("es256-garbage-sig", _hand(header=_header(alg="ES256"), sig=_GARBAGE_SIG), "algorithm"),
    Case("ps256-garbage-sig", _hand(header=_header(alg="PS256"), sig=_GARBAGE_SIG), "algorithm"),
    Case("eddsa-garbage-sig", _hand(header=_header(alg="EdDSA"), sig=_GARBAGE_SIG), "algorithm"),
    Case("rs256-hmac-confusion", _hand(header=_header(alg="RS256")), "algorithm"),
    # Signatures that do not belong to the bytes they sign.
    Case(
        "other-secret",
        jwt.encode(_claims(jti="pyjwt"), OTHER_SECRET, algorithm="HS256"),
        "signature",
    ),
    Case(
        "tampered-payload",
        ".".join([_VALID.split(".")[0], _json(_claims(sub="root")), _VALID.split(".")[2]]),
        "signature",
    ),
    Case(
        "tampered-header",
        ".".join([_json(_header(cty="x")), *_VALID.split(".")[1:]]),
        "signature",
    ),
    Case("truncated-signature", _VALID[:-4], "signature|malformed"),
    Case("empty-signature", _VALID.rsplit(".", 1)[0] + ".", "signature"),
    Case(
        "signature-of-another-token",
        _VALID.rsplit(".", 1)[0] + "." + _OTHER.split(".")[2],
        "signature",
    ),
    # Each required claim missing, and a null standing in for one.
    *[
        Case(
            f"missing-{claim}", _hand(payload=_claims(**{claim: _DROP})), f"missing claim '{claim}'"
        )
        for claim in ("exp", "iat", "sub", "iss", "kind", "jti")
    ],
    Case("null-sub", _hand(payload=_claims(sub=None)), "missing claim 'sub'"),
    # Claims of the wrong type or out of range.
    Case("exp-string", _hand(payload=_claims(exp=str(NOW + 600))), "'exp' must be an integer"),
    Case("exp-float", _hand(payload=_claims(exp=NOW + 600.5)), "'exp' must be an integer"),
    Case(
        "exp-float-whole", _hand(payload=_claims(exp=float(NOW + 600))), "'exp' must be an integer"
    ),
    Case("exp-bool", _hand(payload=_claims(exp=True)), "'exp' must be an integer"),
    Case("exp-list", _hand(payload=_claims(exp=[NOW + 600])), "'exp' must be an integer"),
    Case("exp-huge", _hand(payload=_claims(exp=10**400)), "malformed|'exp' must be an integer"),
    Case("exp-past-year-9999", _hand(payload=_claims(exp=10**12)), "'exp' must be an integer"),
    Case("exp-negative", _hand(payload=_claims(exp=-1)), "'exp' must be an integer"),
    Case("iat-string", _hand(payload=_claims(iat=str(NOW))), "'iat' must be an integer"),
    Case("iat-float", _hand(payload=_claims(iat=NOW + 0.5)), "'iat' must be an integer"),
    Case("iat-bool", _hand(payload=_claims(iat=False)), "'iat' must be an integer"),
    Case("nbf-string", _hand(payload=_claims(nbf=str(NOW))), "'nbf' must be an integer"),
    Case("nbf-null", _hand(payload=_claims(nbf=None)), "'nbf' must be an integer"),
    Case("sub-int", _hand(payload=_claims(sub=42)), "'sub'"),
    Case("sub-list", _hand(payload=_claims(sub=["ada"])), "'sub'"),
    Case("sub-empty", _hand(payload=_claims(sub="")), "'sub'"),
    Case("sub-300-chars", _hand(payload=_claims(sub="a" * 300)), "'sub'"),
    Case("kind-unknown", _hand(payload=_claims(kind="admin")), "'kind'"),
    Case("kind-list", _hand(payload=_claims(kind=["user"])), "'kind'"),
    Case("jti-int", _hand(payload=_claims(jti=7)), "'jti'"),
    Case("jti-empty", _hand(payload=_claims(jti="")), "'jti'"),
    Case("iss-wrong", _hand(payload=_claims(iss="evil")), "issuer"),
    Case("iss-list", _hand(payload=_claims(iss=["lumadb"])), "issuer"),
    Case("aud-present", _hand(payload=_claims(aud="someone")), "audience"),
    # Times, judged by the injected clock.
    Case("expired", _hand(payload=_claims(iat=NOW - 7200, exp=NOW - 3600)), "expired"),
    Case("nbf-in-future", _hand(payload=_claims(nbf=NOW + 3600)), "not yet valid"),
    Case("iat-in-future", _hand(payload=_claims(iat=NOW + 3600, exp=NOW + 7200)), "future"),
    # Header parameters that would let the token pick its own key or extensions.
    *[
        Case(f"header-{name}", _hand(header=_header(**{name: value})), f"'{name}'")
        for name, value in (
            ("kid", "k1"),
            ("jku", "https://evil.example/jwks.json"),
            ("jwk", {"kty": "oct", "k": _b64(SECRET)}),
            ("x5u", "https://evil.example/cert.pem"),
            ("x5c", ["MIIB"]),
        )
    ],
    Case("header-crit-b64", _hand(header=_header(crit=["b64"], b64=True)), "'crit'"),
    Case("header-crit-unknown", _hand(header=_header(crit=["exp"])), "header"),
    Case("header-kid-not-string", _hand(header=_header(kid=1)), "header"),
    *[
        Case(f"typ-{typ}", _hand(header=_header(typ=typ)), "type must be JWT")
        for typ in ("at+jwt", "jwt", "JOSE", 1, None)
    ],
    # Shapes that are not a JWS compact serialisation at all.
    Case("header-not-json", _hand(raw_header=_b64(b"not json")), "header"),
    Case("header-json-list", _hand(header=["alg", "HS256"]), "header"),
    Case("payload-json-list", _hand(payload=[GOOD]), "malformed"),
    Case("payload-json-string", _hand(payload="ada"), "malformed"),
    Case("payload-not-json", _hand(raw_payload=_b64(b"{sub: ada")), "malformed"),
    Case("empty-string", "", "empty"),
    Case("only-dot", ".", "malformed"),
    Case("only-two-dots", "..", "malformed"),
    Case("only-three-dots", "...", "malformed"),
    Case("two-segments", _VALID.rsplit(".", 1)[0], "malformed"),
    Case("four-segments", _VALID + "." + _VALID.split(".")[2], "malformed"),
    Case("non-base64-characters", "!!!!.@@@@.####", "malformed"),
    Case("non-ascii", "é" + _VALID, "malformed"),
    Case("bearer-prefix", "Bearer " + _VALID, "malformed"),
    Case("leading-space", " " + _VALID, "malformed"),
    Case("9-kib-validly-signed", _hand(payload=_claims(pad="x" * 7000)), "longer than"),
    Case("bytes", _VALID.encode(), "must be a string"),
    Case("none", None, "must be a string"),
    Case("int", 42, "must be a string"),
    Case("list", [_VALID], "must be a string"),
]


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer(SECRET, lifetime=3600, leeway=30, clock=ManualClock(start_ms=START_MS))


def _secret_parts(token: object) -> list[str]:
    if not isinstance(token, str):
        return []
    return [part for part in (token, *token.split(".")) if len(part) >= 8]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_matrix(issuer: TokenIssuer, case: Case) -> None:
    if case.reason is None:
        assert issuer.verify(case.token).sub == "ada"
        return
    with pytest.raises(Unauthorized) as info:
        issuer.verify(case.token)
    assert issubclass(info.type, Unauthorized)
    message = str(info.value)
    assert re.search(case.reason, message), message
    for part in _secret_parts(case.token):
        assert part not in message


def test_matrix_is_big_distinct_and_has_canaries() -> None:
    names = [case.name for case in CASES]
    tokens = [repr(case.token) for case in CASES]
    assert len(set(names)) == len(names)
    assert len(set(tokens)) == len(tokens)
    rejections = [case for case in CASES if case.reason is not None]
    canaries = [case for case in CASES if case.reason is None]
    assert len(rejections) >= 40
    assert canaries
    assert all(case.name.startswith("canary") for case in canaries)


def test_a_freshly_issued_token_is_accepted(issuer: TokenIssuer) -> None:
    token, _ = issuer.issue("ada")
    assert issuer.verify(token).sub == "ada"
