"""The Kafka sink against a real Kafka-protocol broker (Tansu), read back by a real consumer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import lumadb
from lumadb.config import load_settings
from lumadb.errors import InvalidArgument
from lumadb.events.kafka import FACTORY
from lumadb.events.sinks import DeliveryFailed, Event, SinkPolicy

from .kafka_broker import running_broker

aiokafka = pytest.importorskip("aiokafka")


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    with running_broker() as address:
        yield address


async def _consume(address: str, topic: str, count: int, timeout: float = 20.0) -> list[Any]:
    consumer = aiokafka.AIOKafkaConsumer(
        topic, bootstrap_servers=address, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    got: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                got.extend(messages)
    finally:
        await consumer.stop()
    return got


def test_trigger_events_arrive_on_the_topic_in_per_key_order(broker: str) -> None:
    settings = load_settings(overrides={"storage.shards": 2}, env={})
    with lumadb.open(":memory:", config=settings) as db:
        db.create_collection("orders")
        sink = {"type": "kafka", "bootstrap": broker, "topic": "orders-events"}
        db.create_trigger("to_kafka", "orders", sink, retry={"backoff_ms": 10})
        orders = db.collection("orders")
        for round_ in range(10):
            for key in ("a", "b", "c"):
                orders.put(key, {"round": round_})
        orders.delete("b")
        got = asyncio.run(_consume(broker, "orders-events", 31))
    assert len(got) >= 31  # at least once
    bodies = [orjson.loads(m.value) for m in got]
    for message, body in zip(got, bodies, strict=True):
        assert message.key.decode() == body["key"]
        headers = dict(message.headers)
        assert headers["luma-event-id"].decode() == body["id"]
        assert headers["luma-trigger"] == b"to_kafka"
    assert len({b["id"] for b in bodies}) == 31
    for key in ("a", "c"):
        rounds = [b["new"]["round"] for b in bodies if b["key"] == key]
        assert rounds == list(range(10))
    assert [b["op"] for b in bodies if b["key"] == "b"][-1] == "delete"


def test_a_broker_that_is_down_fails_within_the_timeout() -> None:
    options = FACTORY.check({"bootstrap": "127.0.0.1:1", "topic": "t"}, SinkPolicy())
    sink = FACTORY.build(options, SinkPolicy(), timeout=1.0)

    async def attempt() -> None:
        await sink.start()
        try:
            await sink.send(Event("0-1", "t", "c", "k", "insert", {"x": 1}))
        finally:
            await sink.close()

    started = time.monotonic()
    with pytest.raises(DeliveryFailed, match="kafka 127.0.0.1:1"):
        asyncio.run(attempt())
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"topic": "t"}, "bootstrap"),
        ({"bootstrap": "nohost", "topic": "t"}, "bootstrap 'nohost'"),
        ({"bootstrap": "h:9092"}, "topic None"),
        ({"bootstrap": "h:9092", "topic": "a b"}, "topic 'a b'"),
        ({"bootstrap": "h:9092", "topic": "t", "compression": "brotli"}, "compression"),
        ({"bootstrap": "h:9092", "topic": "t", "idempotence": "yes"}, "idempotence"),
        ({"bootstrap": "h:9092", "topic": "t", "acks": 1}, "option 'acks' is unknown"),
    ],
)
def test_refused_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        FACTORY.check(options, SinkPolicy())
