"""The dispatcher with the webhook sink against a real HTTP receiver."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import pytest

import lumadb
from lumadb.config import load_settings
from lumadb.errors import InvalidArgument, NotFound

from .receiver import Receiver, receiver

SECRET = "a-secret-of-32-characters-long!!"
FAST = {"backoff_ms": 1, "max_backoff_ms": 5, "timeout_ms": 2000}


def _open(target: str, **events: Any) -> lumadb.Database:
    overrides = {"storage.shards": 2, "events.allow_private": ["127.0.0.0/8"]}
    overrides |= {f"events.{k}": v for k, v in events.items()}
    return lumadb.open(target, config=load_settings(overrides=overrides, env={}))


@pytest.fixture
def target(engine: str, tmp_path: Any) -> str:
    return ":memory:" if engine == "memory" else str(tmp_path / "data")


def _hook(rx: Receiver, **extra: Any) -> dict[str, Any]:
    return {"type": "webhook", "url": rx.url, **extra}


def _until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_signed_events_in_per_key_order(target: str) -> None:
    with receiver() as rx, _open(target) as db:
        db.create_collection("orders")
        db.create_trigger("all", "orders", _hook(rx, secret=SECRET), retry=FAST)
        orders = db.collection("orders")
        for round_ in range(20):
            for key in ("a", "b", "c", "d", "e"):
                orders.put(key, {"round": round_})
        orders.delete("a")
        got = rx.wait_for(101)
        time.sleep(0.2)
        assert len(rx.accepted) == 101  # nothing twice in a quiet run
        for item in got:
            t, mac = (part.split("=", 1)[1] for part in item.headers["x-luma-signature"].split(","))
            expected = hmac.new(SECRET.encode(), t.encode() + b"." + item.raw, hashlib.sha256)
            assert hmac.compare_digest(mac, expected.hexdigest())
            assert item.headers["x-luma-event-id"] == item.body["id"]
            assert item.headers["x-luma-trigger"] == "all"
        for key in ("a", "b", "c", "d", "e"):
            mine = [r.body for r in got if r.body["key"] == key]
            assert [b["seq"] for b in mine] == sorted(b["seq"] for b in mine)
            rounds = [b["new"]["round"] for b in mine if b["new"] is not None]
            assert rounds == list(range(20))
            assert mine[0]["op"] == "insert" and mine[1]["op"] == "update"
        assert [r.body["op"] for r in got if r.body["key"] == "a"][-1] == "delete"


def test_retries_honour_retry_after_then_deliver(target: str) -> None:
    with receiver() as rx, _open(target) as db:
        answers = iter([(503, {"Retry-After": "1"}), (500, {})])
        rx.answer = lambda body: next(answers, (200, {}))
        db.create_collection("c")
        db.create_trigger("t", "c", _hook(rx), retry=FAST)
        started = time.monotonic()
        db.collection("c").put("x", {"n": 1})
        rx.wait_for(1)
        assert time.monotonic() - started >= 0.9  # the receiver asked for a second's pause
        status = db.trigger_status("t")
        assert (status["attempts"], status["failures"], status["delivered"]) == (3, 2, 1)
        assert status["dead_letters"] == 0


def test_final_answers_are_dead_letters_and_can_be_redelivered(target: str) -> None:
    with receiver() as rx, _open(target) as db:
        rx.answer = lambda body: (400, {}) if body["key"] == "bad" else (200, {})
        db.create_collection("c")
        db.create_trigger("t", "c", _hook(rx), retry=FAST)
        coll = db.collection("c")
        coll.put("bad", {"n": 1})
        coll.put("good", {"n": 2})
        rx.wait_for(1)
        _until(lambda: db.trigger_status("t")["dead_letters"] == 1)
        [letter] = db.dead_letters("t")
        assert letter["event"]["key"] == "bad"
        assert letter["attempts"] == 1  # a 400 is not worth repeating
        assert "answered 400" in letter["error"]
        rx.answer = lambda body: (200, {})
        assert db.redeliver("t") == 1
        _until(lambda: "bad" in [r.body["key"] for r in rx.accepted])
        assert db.dead_letters("t") == []


def test_exhausted_retries_and_timeouts_become_dead_letters(target: str) -> None:
    with receiver() as rx, _open(target) as db:
        rx.delay = 0.3
        db.create_collection("c")
        retry = {"max_attempts": 2, "backoff_ms": 1, "timeout_ms": 50}
        db.create_trigger("t", "c", _hook(rx), retry=retry)
        db.collection("c").put("x", {})
        _until(lambda: db.trigger_status("t")["dead_letters"] == 1)
        [letter] = db.dead_letters("t")
        assert letter["attempts"] == 2
        assert "no answer" in letter["error"]


def test_cursor_survives_restart(tmp_path: Any) -> None:
    path = str(tmp_path / "data")
    with receiver() as rx:
        with _open(path) as db:
            db.create_collection("c")
            db.create_trigger("t", "c", _hook(rx), retry=FAST)
            for i in range(10):
                db.collection("c").put(f"k{i}", {"i": i})
            rx.wait_for(10)
            time.sleep(0.1)  # the cursor is written after the batch
        with _open(path, enabled=False) as db:  # changes while no dispatcher runs
            for i in range(10, 15):
                db.collection("c").put(f"k{i}", {"i": i})
        with _open(path) as db:
            rx.wait_for(15)
            time.sleep(0.3)
            keys = [r.body["key"] for r in rx.accepted]
            assert sorted(keys) == sorted(f"k{i}" for i in range(15))  # no gap, no repeat
            assert db.triggers()[0]["name"] == "t"


def test_trigger_fires_only_for_later_changes_and_drop_stops_it(target: str) -> None:
    with receiver() as rx, _open(target) as db:
        db.create_collection("c")
        db.collection("c").put("before", {})
        db.create_trigger("t", "c", _hook(rx), retry=FAST, on=["insert"])
        db.collection("c").put("after", {})
        db.collection("c").put("after", {"again": 1})  # an update: not asked for
        rx.wait_for(1)
        time.sleep(0.2)
        assert [r.body["key"] for r in rx.accepted] == ["after"]
        assert db.drop_trigger("t")
        db.collection("c").put("late", {})
        time.sleep(0.3)
        assert len(rx.accepted) == 1
        assert not db.drop_trigger("t", missing_ok=True)
        with pytest.raises(NotFound, match="trigger 't' does not exist"):
            db.trigger_status("t")


def test_refusals(target: str) -> None:
    with _open(target) as db:
        with pytest.raises(NotFound, match="collection 'nope'"):
            db.create_trigger("t", "nope", {"type": "webhook", "url": "http://127.0.0.1/"})
        db.create_collection("c")
        db.create_trigger("t", "c", {"type": "webhook", "url": "http://127.0.0.1/"})
        with pytest.raises(lumadb.errors.Conflict, match="already exists"):
            db.create_trigger("t", "c", {"type": "webhook", "url": "http://127.0.0.1/"})
    with _open(":memory:", allow_private=[]) as db:
        db.create_collection("c")
        with pytest.raises(InvalidArgument, match="allow_private"):
            db.create_trigger("t", "c", {"type": "webhook", "url": "http://127.0.0.1/"})


def test_dead_letters_beyond_the_limit_drop_the_oldest(target: str) -> None:
    with receiver() as rx, _open(target, dead_letter_limit=3) as db:
        rx.answer = lambda body: (400, {})
        db.create_collection("c")
        db.create_trigger("t", "c", _hook(rx), retry=FAST)
        for i in range(12):
            db.collection("c").put("same", {"i": i})  # one key: one shard
        _until(lambda: rx.requests >= 12)
        _until(lambda: [d["event"]["new"]["i"] for d in db.dead_letters("t")] == [9, 10, 11])


def test_a_paused_trigger_delivers_its_backlog_when_enabled_and_replay_repeats(
    target: str,
) -> None:
    with receiver() as rx, _open(target) as db:
        db.create_collection("c")
        db.create_trigger("t", "c", _hook(rx), retry=FAST, enabled=False)
        for i in range(10):
            db.collection("c").put(f"k{i}", {"i": i})
        time.sleep(0.3)
        assert rx.requests == 0 and db.trigger_status("t")["enabled"] is False
        assert db.enable_trigger("t")["enabled"] is True
        rx.wait_for(10)
        assert sorted(r.body["new"]["i"] for r in rx.accepted) == list(range(10))
        db.enable_trigger("t", False)
        db.collection("c").put("late", {"i": 10})
        moved = db.replay_trigger("t", {0: 0, 1: 0})
        assert set(moved) == {"0", "1"}
        time.sleep(0.3)
        assert len(rx.accepted) == 10  # paused: the replay waits too
        db.enable_trigger("t")
        rx.wait_for(21)
        assert sorted(r.body["new"]["i"] for r in rx.accepted) == sorted([*range(10)] * 2 + [10])
        with pytest.raises(InvalidArgument, match="whole numbers"):
            db.replay_trigger("t", {0: -1})
        with pytest.raises(NotFound, match="trigger 'nope'"):
            db.enable_trigger("nope")
