"""The Kafka sink: each event a record on the trigger's topic, for Kafka and Redpanda.

Records are keyed by the document id (so a topic's partitioning keeps a document's events in
one partition, in order) and carry ``luma-event-id`` and ``luma-trigger`` headers; the value is
the event's JSON. The producer waits for every in-sync replica (``acks=all``) and is idempotent
when asked (the default) and the broker can, so a retried send does not write the record
twice; a broker that cannot (Tansu's memory engine) gets plain ``acks=all`` with a warning.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError, MessageSizeTooLargeError

from lumadb.errors import InvalidArgument
from lumadb.events.sinks import DeliveryFailed, Event, SinkPolicy, check_known

__all__ = ["FACTORY", "KafkaSink"]

_log = logging.getLogger("lumadb.events")

_OPTIONS = ("bootstrap", "topic", "compression", "idempotence")
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}\Z")
_ADDRESS = re.compile(r"[A-Za-z0-9.\[\]:-]+:\d{1,5}\Z")
_COMPRESSION = (None, "gzip")  # the codecs aiokafka has without optional libraries


class _Factory:
    def check(self, options: Mapping[str, Any], allow: SinkPolicy) -> dict[str, Any]:
        check_known("kafka", options, _OPTIONS)
        bootstrap = options.get("bootstrap")
        if not isinstance(bootstrap, str) or not all(
            _ADDRESS.match(part.strip()) for part in bootstrap.split(",")
        ):
            raise InvalidArgument(f"kafka bootstrap {bootstrap!r} must be host:port[,host:port]")
        topic = options.get("topic")
        if not isinstance(topic, str) or not _TOPIC.match(topic) or topic in (".", ".."):
            raise InvalidArgument(f"kafka topic {topic!r} must be 1..249 of A-Z a-z 0-9 . _ -")
        compression = options.get("compression")
        if compression not in _COMPRESSION:
            raise InvalidArgument(f"kafka compression {compression!r} must be null or 'gzip'")
        idempotence = options.get("idempotence", True)
        if not isinstance(idempotence, bool):
            raise InvalidArgument("kafka idempotence must be true or false")
        return {
            "bootstrap": bootstrap,
            "topic": topic,
            "compression": compression,
            "idempotence": idempotence,
        }

    def build(self, options: Mapping[str, Any], allow: SinkPolicy, timeout: float) -> KafkaSink:
        return KafkaSink(options, timeout)


FACTORY = _Factory()

# Bootstrap addresses whose brokers refused an idempotent producer. Finding out takes aiokafka
# a dozen retries (about a second); a trigger's sinks are remade whenever it is enabled or
# changed, so what one learned the next ones skip.
_NO_IDEMPOTENCE: set[str] = set()


class KafkaSink:
    """Produces events to one topic."""

    def __init__(self, options: Mapping[str, Any], timeout: float) -> None:
        self.topic: str = options["topic"]
        self._options = options
        self._timeout = timeout
        self._producer: AIOKafkaProducer | None = None
        self._connecting = asyncio.Lock()
        self._enqueueing = asyncio.Lock()
        self.idempotent: bool = options.get("idempotence", True)
        if options["bootstrap"] in _NO_IDEMPOTENCE:
            self.idempotent = False

    async def start(self) -> None:
        pass  # connected on first send: a broker that is down must not stop the dispatcher

    async def _connected(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._connecting:  # the first sends come together: make one producer
            return await self._connect()

    async def _connect(self) -> AIOKafkaProducer:
        if self._producer is None:
            try:
                self._producer = await self._start(self.idempotent)
            except KafkaConnectionError:
                raise
            except KafkaError:
                if not self.idempotent:
                    raise
                # Brokers without transactional state (Tansu in memory) refuse a producer id:
                # fall back to plain acks=all, where a retried send may write a duplicate.
                _log.warning("kafka %s: no idempotent producer; sending without", self.topic)
                self.idempotent = False
                _NO_IDEMPOTENCE.add(self._options["bootstrap"])
                self._producer = await self._start(False)
        return self._producer

    async def _start(self, idempotent: bool) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self._options["bootstrap"],
            acks="all",
            enable_idempotence=idempotent,
            compression_type=self._options.get("compression"),
            request_timeout_ms=max(1000, int(self._timeout * 1000)),
        )
        try:
            async with asyncio.timeout(self._timeout):
                await producer.start()
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def send(self, event: Event) -> None:
        failed = (await self.send_many([event]))[0]
        if failed is not None:
            raise failed

    async def send_many(self, events: Sequence[Event]) -> list[DeliveryFailed | None]:
        # Every record goes into the producer's buffer first and is awaited after, so the
        # producer sends them in a few large batches (one at a time, it made a request each).
        if not events:
            return []
        try:
            producer = await self._connected()
        except (TimeoutError, KafkaError, OSError) as exc:
            down = DeliveryFailed(f"kafka {self._options['bootstrap']}: {exc!r}")
            return [down] * len(events)
        results: list[DeliveryFailed | None] = [None] * len(events)
        pending: list[tuple[int, asyncio.Future[Any]]] = []
        try:
            async with asyncio.timeout(self._timeout):
                async with self._enqueueing:  # batches sent together keep their order
                    for index, event in enumerate(events):
                        headers = [("luma-event-id", event.id.encode()),
                                   ("luma-trigger", event.trigger.encode())]  # fmt: skip
                        try:
                            future = await producer.send(
                                self.topic, orjson.dumps(event.body), key=event.key.encode(),
                                headers=headers,
                            )  # fmt: skip
                        except KafkaError as exc:
                            results[index] = _failure(exc)
                        else:
                            pending.append((index, future))
                if pending:
                    await asyncio.wait([future for _, future in pending])
        except TimeoutError:
            pass
        for index, future in pending:
            if not future.done():  # it may still arrive: a duplicate at worst
                late = f"kafka: no acknowledgement in {self._timeout} s"
                results[index] = DeliveryFailed(late)
            elif future.exception() is not None:
                results[index] = _failure(future.exception())
        return results

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


def _failure(exc: BaseException | None) -> DeliveryFailed:
    if isinstance(exc, MessageSizeTooLargeError):
        return DeliveryFailed(f"kafka: the event is too large: {exc}", retryable=False)
    return DeliveryFailed(f"kafka: {exc!r}")
