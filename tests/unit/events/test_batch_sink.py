"""The dispatcher's batch path (sinks with ``send_many``, like Kafka's): per-key order holds
when some events of a batch fail."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

import lumadb
from lumadb.config import load_settings
from lumadb.events import sinks
from lumadb.events.sinks import DeliveryFailed, Event, SinkPolicy


class _Recorder:
    """A batch sink refusing, once, the events whose document has ``fail`` set."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.failed: set[str] = set()
        self.lock = threading.Lock()

    def _name(self, event: Event) -> str:
        return f"{event.key}{event.body['new']['n']}"

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def send(self, event: Event) -> None:
        with self.lock:
            self.calls.append(("one", [self._name(event)]))

    async def send_many(self, events: Sequence[Event]) -> list[DeliveryFailed | None]:
        out: list[DeliveryFailed | None] = []
        with self.lock:
            self.calls.append(("many", [self._name(e) for e in events]))
            for event in events:
                name = self._name(event)
                if event.body["new"].get("fail") and name not in self.failed:
                    self.failed.add(name)
                    out.append(DeliveryFailed("refused once"))
                else:
                    out.append(None)
        return out


class _Factory:
    def __init__(self, sink: _Recorder) -> None:
        self.sink = sink

    def check(self, options: Mapping[str, Any], allow: SinkPolicy) -> dict[str, Any]:
        return dict(options)

    def build(self, options: Mapping[str, Any], allow: SinkPolicy, timeout: float) -> _Recorder:
        return self.sink


def _use(monkeypatch: pytest.MonkeyPatch, sink: _Recorder) -> None:
    real = sinks._factory
    monkeypatch.setattr(
        sinks, "_factory", lambda kind: _Factory(sink) if kind == "recorder" else real(kind)
    )


def test_a_failed_event_sends_it_and_its_keys_later_events_again_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink = _Recorder()
    _use(monkeypatch, sink)
    config = load_settings(overrides={"storage.shards": 1}, env={})
    with lumadb.open(":memory:", config=config) as db:
        docs = db.create_collection("c")
        db.create_trigger("t", "c", {"type": "recorder"}, enabled=False, retry={"backoff_ms": 1})
        docs.put("a", {"n": 1})
        docs.put("b", {"n": 1})
        docs.put("a", {"n": 2, "fail": True})
        docs.put("b", {"n": 2})
        docs.put("a", {"n": 3})
        db.enable_trigger("t")
        deadline = time.monotonic() + 10
        while db.trigger_status("t")["delivered"] < 5:
            assert time.monotonic() < deadline, sink.calls
            time.sleep(0.02)
        status = db.trigger_status("t")
    assert sink.calls[0] == ("many", ["a1", "b1", "a2", "b2", "a3"])
    # a2 failed: it and a3 (already sent, now possibly ahead of it) go again, in order.
    assert sink.calls[1:] == [("one", ["a2"]), ("one", ["a3"])]
    assert status["delivered"] == 5 and status["failures"] == 1 and status["dead_letters"] == 0


def test_across_pipelined_batches_the_last_copies_keep_commit_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Batches of two: the next batch is out while one fails; every key's last copies of its
    events are in commit order, and nothing is missing."""
    sink = _Recorder()
    _use(monkeypatch, sink)
    config = load_settings(overrides={"storage.shards": 1, "events.batch_size": 2}, env={})
    written: list[str] = []
    with lumadb.open(":memory:", config=config) as db:
        docs = db.create_collection("c")
        db.create_trigger("t", "c", {"type": "recorder"}, enabled=False, retry={"backoff_ms": 1})
        for n in range(1, 7):
            for key in ("a", "x"):  # one batch each n: a failure's next is out already
                docs.put(key, {"n": n, "fail": n in (2, 4) and key == "a"})
                written.append(f"{key}{n}")
        db.enable_trigger("t")
        deadline = time.monotonic() + 10
        while db.trigger_status("t")["lag"] or db.trigger_status("t")["delivered"] < 12:
            assert time.monotonic() < deadline, sink.calls
            time.sleep(0.02)
        status = db.trigger_status("t")
    arrived = [name for _, names in sink.calls for name in names]
    assert set(arrived) == set(written)
    for key in ("a", "x"):
        mine = [name for name in arrived if name[0] == key]
        last_copies = sorted(set(mine), key=lambda name: max(
            i for i, other in enumerate(mine) if other == name
        ))  # fmt: skip
        assert last_copies == [f"{key}{n}" for n in range(1, 7)], mine
    assert status["failures"] == 2 and status["dead_letters"] == 0
