"""Users, roles and API keys as values: grants, coverage, cascades and the stored form."""

from __future__ import annotations

import pytest

from lumadb.catalog.users import Accounts, ApiKey, Role, User
from lumadb.errors import CorruptionError, InvalidArgument


def _accounts() -> Accounts:
    sales = Role.build("sales", {"orders": ["read", "write"], "customers": ["read"]})
    accounts = Accounts.empty().with_role(sales)
    accounts = accounts.with_user(User("ann", "h1", ("sales",), 1))
    accounts = accounts.with_user(User("root", "h2", ("admin",), 2))
    key = ApiKey("k1", "ci", "ann", ("sales",), "digest", 3, None)
    return accounts.with_key(key)


def test_grants_are_the_union_of_roles() -> None:
    accounts = _accounts()
    grants, system = accounts.grants_of(["sales", "reader"])
    assert grants["orders"] == {"read", "write"}
    assert grants["*"] == {"read"}
    assert not system
    assert accounts.grants_of(["admin"])[1]


def test_coverage_is_by_grants_not_names() -> None:
    accounts = _accounts()
    assert accounts.covers(["writer"], "reader")
    assert accounts.covers(["writer"], "sales")
    assert not accounts.covers(["reader"], "sales")
    assert not accounts.covers(["writer"], "admin")
    assert accounts.covers(["admin"], "admin")
    assert not accounts.covers(["admin"], "missing")


def test_removing_a_role_or_user_cascades() -> None:
    accounts = _accounts().without_role("sales")
    assert accounts.users["ann"].roles == ()
    assert accounts.keys["k1"].roles == ()
    assert "k1" not in _accounts().without_user("ann").keys
    with pytest.raises(InvalidArgument):
        _accounts().without_role("admin")
    with pytest.raises(InvalidArgument):
        _accounts().with_role(Role.build("writer", {"*": ["read"]}))


def test_a_key_keeps_only_roles_its_owner_still_covers() -> None:
    accounts = _accounts()
    assert accounts.key_roles(accounts.keys["k1"]) == ("sales",)
    demoted = accounts.with_user(User("ann", "h1", ("reader",), 1))
    assert demoted.key_roles(demoted.keys["k1"]) == ()


def test_the_stored_form_round_trips() -> None:
    own = Role.build("own", {"notes": {"actions": ["read"], "rows": {"owner": "$user"}}})
    accounts = _accounts().with_role(own)
    assert accounts.roles["own"].rows == {"notes": {"owner": "$user"}}
    assert Accounts.decode(accounts.encode()) == accounts
    with pytest.raises(CorruptionError):
        Accounts.decode(b'{"users": 3}')


@pytest.mark.parametrize(
    ("name", "grants"),
    [("1x", {"*": ["read"]}), ("ok", {}), ("ok", {"*": []}), ("ok", {"*": ["delete"]}), ("ok", [])],
)
def test_bad_roles_are_refused(name: str, grants: object) -> None:
    with pytest.raises(InvalidArgument):
        Role.build(name, grants)
