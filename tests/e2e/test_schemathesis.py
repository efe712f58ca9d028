"""Schemathesis against ``/openapi.json``: generated requests for every operation.

Each operation gets generated requests, valid and invalid, sent with an admin token to the
app in this process and to a served node; every answer must be no server error and must fit
the document (status, content type, headers, body schema), and invalid requests must be
refused with a 4xx. The document is built at import, from the same routes the nodes serve
(a test checks that they serve exactly it), because pytest needs the operations to collect.

Time is bounded: at most ``MAX_EXAMPLES`` generated cases per operation and target, plus
schemathesis' boundary cases (its coverage phase), about a minute for both targets.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from tests.e2e.conftest import ADMIN_PASSWORD, Api, _routes, _settings

from lumadb.api.app import LumaApp
from lumadb.api.auth.passwords import hash_password
from lumadb.api.context import ApiContext
from lumadb.api.openapi import build_openapi
from lumadb.clock import SystemClock
from lumadb.server.worker import close_context, open_context

# LUMA_FUZZ_EXAMPLES=200 hunts longer locally; the default keeps both targets near a minute.
MAX_EXAMPLES = int(os.environ.get("LUMA_FUZZ_EXAMPLES", "15"))
DOCUMENT = build_openapi(_routes())
# NDJSON bodies are text; schemathesis has no serializer of its own for them.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")

# In process: schemathesis calls the app through its ASGI transport (also for the requests
# its checks send on their own) and runs its lifespan around each test, so every operation
# starts on a fresh memory database; the admin is created at each start.
_ADMIN_HASH = hash_password(ADMIN_PASSWORD)


def _start() -> ApiContext:
    ctx = open_context(_settings(":memory:"), SystemClock())
    ctx.accounts.bootstrap("admin", _ADMIN_HASH)
    return ctx


APP = LumaApp(_start, close_context)
# Schema-valid requests the handlers still refuse, rightly: 400 for what no schema can say
# (a role that does not exist, an id that is not printable or differs from the path's, a
# cursor this server did not hand out), 412 for an If-Match naming another version, which
# the handlers check before the id, 422 for a question no translator can place.
_REFUSED = ["400", "412", "422"]
CONFIG = {
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "429", *_REFUSED]
        },
        "negative_data_rejection": {
            "expected-statuses": ["400", "401", "403", "404", "409", "413", "415", "429", "412"]
        },
    }
}
in_process = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(CONFIG))
in_process.app = APP
served = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(CONFIG))

SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
_LOGIN = {"username": "admin", "password": ADMIN_PASSWORD}


@pytest.fixture(scope="module")
def asgi_token() -> str:
    """An admin token of :data:`APP`; it outlives restarts (same secret, same admin)."""
    assert in_process["/openapi.json"]["GET"].Case().call().json() == DOCUMENT
    reply = in_process["/api/v1/_auth/token"]["POST"].Case(body=_LOGIN).call()
    assert reply.status_code == 200, reply.text
    return reply.json()["access_token"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def served_token(served_api: Api) -> str:
    """An admin token of the served node, which must serve the document under test."""
    assert served_api.call("GET", "/openapi.json").json() == DOCUMENT
    return served_api.admin


def _skipped(case: schemathesis.Case) -> bool:
    # Changing or deleting the admin whose token the run uses would turn the rest into 401s.
    return (
        case.path == "/api/v1/_users/{name}"
        and case.method in {"PATCH", "DELETE"}
        and (case.path_parameters or {}).get("name") == "admin"
    )


@in_process.parametrize()
@SETTINGS
def test_in_process(case: schemathesis.Case, asgi_token: str) -> None:
    if not _skipped(case):
        case.call_and_validate(headers={"Authorization": f"Bearer {asgi_token}"})


@served.parametrize()
@SETTINGS
def test_served(case: schemathesis.Case, served_api: Api, served_token: str) -> None:
    if not _skipped(case):
        headers = {"Authorization": f"Bearer {served_token}"}
        # The node's first question in plain language loads the linking model (torch and
        # MiniLM, ten seconds and more on a busy machine); nothing else comes near this.
        case.call_and_validate(base_url=served_api.base, headers=headers, timeout=120)


def test_what_schemathesis_found_stays_fixed(api: Api, name: str) -> None:
    admin = api.admin
    bad_mode = {"name": name, "changefeed": {}}  # was a 500 (unhashable mode)
    assert api.call("POST", "/api/v1/_collections", token=admin, json=bad_mode).status_code == 400
    api.collection(name)
    for query in ("limit=%C2%B2", "offset=%C2%B2", "limit=%D9%A1"):  # "²" was a 500
        assert api.call("GET", f"/api/v1/{name}?{query}", token=admin).status_code == 400
    made = api.call("POST", f"/api/v1/{name}", token=admin, json={"id": "a/b é"})
    assert made.headers["location"] == f"/api/v1/{name}/a%2Fb%20%C3%A9"
    assert api.call("GET", made.headers["location"], token=admin).json()["id"] == "a/b é"
    api.user(name, ["reader"])
    no_roles = {"roles": None}  # was a silent no-op
    reply = api.call("PATCH", f"/api/v1/_users/{name}", token=admin, json=no_roles)
    assert reply.status_code == 400


def test_an_api_key_expiry_beyond_range_is_400(api: Api) -> None:
    # Found by schemathesis: 2**63 seconds overflowed the stored milliseconds (a 500).
    for expires_in in (2**63, 16216423502783318016, 100 * 365 * 86400 + 1, 0, -5, 1.5):
        body = {"name": "far", "expires_in": expires_in}
        reply = api.call("POST", "/api/v1/_keys", token=api.admin, json=body)
        assert reply.status_code == 400, (expires_in, reply.text)
