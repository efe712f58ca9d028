"""Trigger descriptions: what is accepted, what is refused with which message, what fires."""

from __future__ import annotations

from typing import Any

import pytest

from lumadb.errors import InvalidArgument, QueryError
from lumadb.events.sinks import SinkPolicy
from lumadb.events.triggers import decode_triggers, encode_triggers, trigger_from_dict
from lumadb.service import Change

ALLOW = SinkPolicy(allow_private=("127.0.0.0/8",))
SINK = {"type": "webhook", "url": "http://127.0.0.1:9/hook"}


def make(**changes: Any) -> Any:
    raw: dict[str, Any] = {"name": "t1", "collection": "orders", "sink": SINK, **changes}
    return trigger_from_dict(raw, ALLOW, now_ms=5)


def change(op: str, new: Any = None, old: Any = None, coll: str = "orders") -> Change:
    return Change(shard=0, seq=9, op=op, collection=coll, id="o1", new=new, old=old)


def test_condition_over_new_and_old() -> None:
    t = make(on=["update"], when="new.status = 'paid' AND old.status <> 'paid'")
    assert t.matches(change("update", {"status": "paid"}, {"status": "open"}))
    assert not t.matches(change("update", {"status": "paid"}, {"status": "paid"}))
    assert not t.matches(change("insert", {"status": "paid"}))  # not an update
    assert not t.matches(change("update", {"status": "paid"}, {"status": "x"}, coll="other"))


def test_ops_and_put_from_before_old_images() -> None:
    deletes = make(on="delete")
    assert deletes.on == ("delete",)
    assert deletes.matches(change("delete", old={"a": 1}))
    assert not deletes.matches(change("put", {"a": 1}))
    assert make(on=["insert"]).matches(change("put", {"a": 1}))


def test_payload_projection_and_body() -> None:
    t = make(payload=["status"])
    body = t.body(change("update", {"status": "paid", "secret": 1}, {"status": "open"}), "0-9", 7)
    assert body == {
        "id": "0-9", "trigger": "t1", "collection": "orders", "op": "update", "key": "o1",
        "shard": 0, "seq": 9, "new": {"status": "paid"}, "old": {"status": "open"}, "ts": 7,
    }  # fmt: skip


def test_round_trip_through_the_record() -> None:
    t = make(when="new.n > 3", retry={"max_attempts": 2, "backoff_ms": 10}, payload=["n"])
    assert decode_triggers(encode_triggers({"t1": t})) == {"t1": t}
    assert t.describe()["retry"] == {
        "max_attempts": 2, "backoff_ms": 10, "max_backoff_ms": 300000, "timeout_ms": 10000,
    }  # fmt: skip


def test_secret_is_hidden_in_descriptions() -> None:
    t = make(sink={**SINK, "secret": "0123456789abcdef"})
    assert t.describe()["sink"]["secret"] == "***"
    assert t.sink["secret"] == "0123456789abcdef"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "1bad"}, "trigger name '1bad'"),
        ({"name": "x" * 64}, "trigger name"),
        ({"on": ["upsert"]}, "trigger on must list"),
        ({"on": []}, "trigger on must list"),
        ({"payload": "status"}, "payload must be a list"),
        ({"retry": {"max_attempts": 0}}, "retry.max_attempts"),
        ({"retry": {"attempts": 3}}, "retry key 'attempts'"),
        ({"retry": {"timeout_ms": True}}, "retry.timeout_ms"),
        ({"sink": {"type": "carrier-pigeon"}}, "sink type 'carrier-pigeon' is unknown"),
        ({"sink": {"url": "http://x"}}, 'sink must be an object with a "type"'),
        ({"sink": {"type": "webhook", "url": "ftp://x/"}}, "must be http:// or https://"),
        ({"sink": {"type": "webhook", "url": "http://u:p@example.com/"}}, "credentials"),
        ({"sink": {**SINK, "headers": {"X-Luma-Event-Id": "1"}}}, "set by LumaDB itself"),
        ({"sink": {**SINK, "secret": "short"}}, "at least 16 characters"),
        ({"sink": {**SINK, "verb": "PUT"}}, "webhook option 'verb' is unknown"),
        ({"colour": "red"}, "trigger key 'colour' is unknown"),
        ({"enabled": "yes"}, "enabled must be true or false"),
    ],
)
def test_refused_descriptions(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(")):
        make(**changes)


@pytest.mark.parametrize("when", ["status = 'paid'", "new.status = ", "", "orders.status = 1"])
def test_conditions_must_name_new_or_old(when: str) -> None:
    with pytest.raises((QueryError, InvalidArgument)):
        make(when=when)


@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "[::1]", "localhost"])
def test_private_targets_are_refused_unless_allowed(host: str) -> None:
    raw = {"name": "t", "collection": "c", "sink": {"type": "webhook", "url": f"http://{host}/"}}
    with pytest.raises(InvalidArgument, match="allow_private"):
        trigger_from_dict(raw, SinkPolicy())
    everything = SinkPolicy(allow_private=("0.0.0.0/0", "::/0"))
    assert trigger_from_dict(raw, everything).sink["url"] == f"http://{host}/"
