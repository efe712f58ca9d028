"""CREATE TRIGGER and DROP TRIGGER in LQL."""

from __future__ import annotations

import time
from typing import Any

import pytest

import lumadb
from lumadb.config import load_settings
from lumadb.errors import LumaError, QueryError

from .receiver import receiver


def _open() -> lumadb.Database:
    overrides = {"storage.shards": 2, "events.allow_private": ["127.0.0.0/8"]}
    return lumadb.open(":memory:", config=load_settings(overrides=overrides, env={}))


def test_a_trigger_made_in_lql_delivers_what_its_condition_picks() -> None:
    with receiver() as rx, _open() as db:
        db.create_collection("orders")
        made = db.query(
            f"CREATE TRIGGER paid AFTER INSERT OR UPDATE ON orders "
            f"WHEN new.status = 'paid' AND (old.status IS NULL OR old.status <> 'paid') "
            f"SEND TO WEBHOOK '{rx.url}' WITH (retries = 5, backoff_ms = 1, secret = '{'s' * 32}')"
        )
        assert made == [
            {"trigger": "paid", "collection": "orders", "on": "insert,update", "sink": "webhook"}
        ]
        status = db.trigger_status("paid")
        assert status["retry"]["max_attempts"] == 5 and status["sink"]["secret"] == "***"
        assert status["when"].startswith("new.status = 'paid' AND (old.status")
        orders = db.collection("orders")
        orders.put("o1", {"status": "new"})
        orders.put("o1", {"status": "paid"})
        orders.put("o1", {"status": "paid", "note": "again"})  # was paid already: not sent
        orders.delete("o1")  # not asked for
        got = rx.wait_for(1)
        time.sleep(0.3)
        assert [(r.body["op"], r.body["key"]) for r in rx.accepted] == [("update", "o1")]
        assert "x-luma-signature" in got[0].headers
        again = db.query(f"CREATE TRIGGER IF NOT EXISTS paid AFTER DELETE ON orders "
                         f"SEND TO WEBHOOK '{rx.url}'")  # fmt: skip
        assert again[0]["on"] == "insert,update"  # left as it was
        with pytest.raises(LumaError, match="already exists"):
            db.query(f"CREATE TRIGGER paid AFTER DELETE ON orders SEND TO WEBHOOK '{rx.url}'")
        assert db.query("EXPLAIN DROP TRIGGER paid") == [{"plan": "Drop trigger paid"}]
        assert db.query("DROP TRIGGER paid") == [{"trigger": "paid", "dropped": True}]
        assert db.query("DROP TRIGGER IF EXISTS paid") == [{"trigger": "paid", "dropped": False}]
        with pytest.raises(LumaError, match="trigger 'paid' does not exist"):
            db.query("DROP TRIGGER paid")


def test_kafka_sinks_and_options_are_read() -> None:
    with _open() as db:
        db.create_collection("c")
        db.query(
            "CREATE TRIGGER k AFTER DELETE ON c SEND TO KAFKA '127.0.0.1:9092' TOPIC 'c-events' "
            "WITH (compression = 'gzip', enabled = false, timeout_ms = 5000)"
        )
        status: dict[str, Any] = db.trigger_status("k")
        assert status["sink"] == {"type": "kafka", "bootstrap": "127.0.0.1:9092",
                                  "topic": "c-events", "compression": "gzip",
                                  "idempotence": True}  # fmt: skip
        assert status["enabled"] is False and status["on"] == ["delete"]
        assert status["retry"]["timeout_ms"] == 5000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CREATE TRIGGER t AFTER INSERT ON c", "expected SEND, found the end"),
        ("CREATE TRIGGER t BEFORE INSERT ON c SEND TO WEBHOOK 'http://127.0.0.1/'", "AFTER"),
        ("CREATE TRIGGER t AFTER UPSERT ON c SEND TO WEBHOOK 'x'", "INSERT, UPDATE or DELETE"),
        ("CREATE TRIGGER t AFTER INSERT ON c SEND TO SLACK 'x'", "WEBHOOK or KAFKA"),
        ("CREATE TRIGGER t AFTER INSERT ON c SEND TO WEBHOOK url", "the webhook's URL"),
        ("CREATE TRIGGER t AFTER INSERT ON c WHEN SEND TO WEBHOOK 'x'", "a condition"),
        ("CREATE TRIGGER t AFTER INSERT ON c SEND TO WEBHOOK 'http://127.0.0.1/' WITH "
         "(retries = 2, retries = 3)", "given twice"),
        ("CREATE TRIGGER t AFTER INSERT ON c SEND TO WEBHOOK 'http://127.0.0.1/' WITH "
         "(colour = 'red')", "unknown trigger option 'colour'"),
        ("CREATE TRIGGER t AFTER INSERT ON c SEND TO WEBHOOK 'http://127.0.0.1/' WITH "
         "(retries = 1.5)", "a whole number"),
        ("CREATE TRIGGER t AFTER INSERT ON c SEND TO WEBHOOK 'http://127.0.0.1/' extra",
         "the end of the statement"),
        ("DROP TRIGGER", "a trigger name"),
    ],
)  # fmt: skip
def test_malformed_statements_say_what_was_expected(text: str, message: str) -> None:
    with _open() as db:
        db.create_collection("c")
        with pytest.raises(QueryError, match=message):
            db.query(text)


def test_the_checks_of_the_http_api_apply() -> None:
    with _open() as db:
        db.create_collection("c")
        with pytest.raises(LumaError, match="must be new.<field> or old.<field>"):
            db.query("CREATE TRIGGER t AFTER INSERT ON c WHEN status = 'x' "
                     "SEND TO WEBHOOK 'http://127.0.0.1/'")  # fmt: skip
        with pytest.raises(LumaError, match="collection 'nope'"):
            db.query("CREATE TRIGGER t AFTER INSERT ON nope SEND TO WEBHOOK 'http://127.0.0.1/'")
        with pytest.raises(LumaError, match="retries|max_attempts"):
            db.query("CREATE TRIGGER t AFTER INSERT ON c SEND TO WEBHOOK 'http://127.0.0.1/' "
                     "WITH (retries = 0)")  # fmt: skip
