"""``/health`` (no token) and ``/metrics`` (Prometheus text; a system role)."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Any

from lumadb.api._wire import Request, Response, json_response
from lumadb.api.context import ApiContext
from lumadb.api.routing import Params, Router
from lumadb.service.permissions import Actor

__all__ = ["Metrics", "SystemRoutes"]

_bisect = bisect.bisect_left

# Request latency buckets, seconds (Prometheus' defaults, with finer steps below 5 ms).
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SHARD_FIGURES = {
    "l1_hits": ("counter", "Reads served by the hot cache"),
    "l1_misses": ("counter", "Reads the hot cache could not serve"),
    "l1_bytes": ("gauge", "Bytes held by the hot cache"),
    "wal_syncs": ("counter", "Write-ahead log syncs"),
    "wal_synced_writes": ("counter", "Writes acknowledged by those syncs"),
    "read_only": ("gauge", "1 when the shard refuses writes after an I/O failure"),
    "sst_bytes": ("gauge", "Bytes of SSTable files"),
    "memtable_bytes": ("gauge", "Bytes held by memtables"),
    "live_data_bytes": ("gauge", "Estimated bytes of live data"),
    "estimate_keys": ("gauge", "Estimated number of keys"),
    "seq": ("counter", "Last change-feed sequence number"),
}


class Metrics:
    """Request counts and latency histograms per route template and status.

    Only the event loop's thread records and reads them, so no lock is needed.
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], int] = {}
        # Per route: one count per bucket, then the +Inf bucket, then the sum of seconds.
        self._latency: dict[tuple[str, str], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        key = (method, route, status)
        self._counts[key] = self._counts.get(key, 0) + 1
        hist = self._latency.get((method, route))
        if hist is None:
            hist = self._latency[method, route] = [0.0] * (len(BUCKETS) + 2)
        hist[_bisect(BUCKETS, seconds)] += 1
        hist[-1] += seconds

    def snapshot(self) -> list[Any]:
        """The figures as plain lists (what a peer worker sends)."""
        return [
            [[*key, n] for key, n in self._counts.items()],
            [[*key, hist] for key, hist in self._latency.items()],
        ]

    def add(self, snapshot: list[Any]) -> None:
        """Add another worker's :meth:`snapshot` to these figures."""
        counts, latency = snapshot
        for method, route, status, n in counts:
            key = (method, route, status)
            self._counts[key] = self._counts.get(key, 0) + n
        for method, route, hist in latency:
            mine = self._latency.setdefault((method, route), [0.0] * len(hist))
            for i, value in enumerate(hist):
                mine[i] += value

    def lines(self) -> Iterator[str]:
        """The request metrics in Prometheus text format."""
        counts = dict(self._counts)
        latency = {k: list(v) for k, v in self._latency.items()}
        yield "# HELP luma_http_requests_total HTTP requests by route and status"
        yield "# TYPE luma_http_requests_total counter"
        for (method, route, status), n in sorted(counts.items()):
            labels = f'method="{method}",route="{route}",status="{status}"'
            yield f"luma_http_requests_total{{{labels}}} {n}"
        yield "# HELP luma_http_request_seconds HTTP request latency"
        yield "# TYPE luma_http_request_seconds histogram"
        for (method, route), hist in sorted(latency.items()):
            labels = f'method="{method}",route="{route}"'
            running = 0.0
            for bound, count in zip((*BUCKETS, float("inf")), hist, strict=False):
                running += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                yield f'luma_http_request_seconds_bucket{{{labels},le="{le}"}} {int(running)}'
            yield f"luma_http_request_seconds_count{{{labels}}} {int(running)}"
            yield f"luma_http_request_seconds_sum{{{labels}}} {hist[-1]:.6f}"


class SystemRoutes:
    """Health and metrics."""

    def __init__(self, ctx: ApiContext, metrics: Metrics) -> None:
        self.ctx = ctx
        self.metrics = metrics
        ctx.docs.serve("http_metrics", metrics.snapshot)
        ctx.docs.serve("columnar_counts", ctx.service.columnar_counts)
        ctx.docs.serve("event_metrics", self._event_metrics)

    def _event_metrics(self) -> list[dict[str, Any]]:
        events = self.ctx.service.events
        return [] if events is None else list(events.metrics())

    def register(self, router: Router) -> None:
        """Add the routes."""
        router.add("GET", "/health", self.health, summary="Readiness", public=True)
        router.add("GET", "/metrics", self.prometheus, summary="Prometheus metrics")

    async def health(self, request: Request, params: Params, actor: None) -> Response:
        """200 when every shard of the node takes writes, else 503; each shard's state.

        A shard whose worker does not answer (it is restarting) is not ready.
        """
        shards = [
            {
                "shard": i,
                "ready": s is not None,
                "read_only": s is not None and bool(s["read_only"]),
            }
            for i, s in sorted((await self.ctx.docs.shard_stats()).items())
        ]
        ok = all(s["ready"] and not s["read_only"] for s in shards)
        return json_response(
            {"status": "ok" if ok else "degraded", "shards": shards}, 200 if ok else 503
        )

    async def prometheus(self, request: Request, params: Params, actor: Actor) -> Response:
        """Request, cache and write-ahead-log figures."""
        actor.require_system("read metrics")
        # The node's figures: every worker's requests, so counters never step back when
        # a scrape lands on another worker.
        total = Metrics()
        for snapshot in (await self.ctx.docs.ask_all("http_metrics")).values():
            if snapshot is not None:
                total.add(snapshot)
        lines = list(total.lines())
        shards = sorted((await self.ctx.docs.shard_stats()).items())
        lines.append("# HELP luma_shard_up 1 when the shard's worker answered")
        lines.append("# TYPE luma_shard_up gauge")
        lines.extend(f'luma_shard_up{{shard="{i}"}} {int(s is not None)}' for i, s in shards)
        for name, (kind, help_text) in _SHARD_FIGURES.items():
            lines.append(f"# HELP luma_shard_{name} {help_text}")
            lines.append(f"# TYPE luma_shard_{name} {kind}")
            lines.extend(
                f'luma_shard_{name}{{shard="{i}"}} {s.get(name, 0)}'
                for i, s in shards
                if s is not None
            )
        counts = {"answered": 0, "declined": 0}
        for found in (await self.ctx.docs.ask_all("columnar_counts")).values():
            for key in counts:
                counts[key] += (found or {}).get(key, 0)
        lines.append("# HELP luma_aggregate_queries_total Aggregate queries by what answered them")
        lines.append("# TYPE luma_aggregate_queries_total counter")
        lines.append(f'luma_aggregate_queries_total{{by="replica"}} {counts["answered"]}')
        lines.append(f'luma_aggregate_queries_total{{by="documents"}} {counts["declined"]}')
        lines.extend(_event_lines(await self.ctx.docs.ask_all("event_metrics")))
        body = ("\n".join(lines) + "\n").encode()
        return Response(200, body, [(b"content-type", b"text/plain; version=0.0.4")])


_EVENT_FIGURES = {
    "delivered": ("luma_trigger_deliveries_total", "counter", "Events a sink acknowledged"),
    "attempts": ("luma_trigger_attempts_total", "counter", "Delivery attempts"),
    "failures": ("luma_trigger_failures_total", "counter", "Delivery attempts that failed"),
    "dead": ("luma_trigger_dead_letters_total", "counter", "Events that became dead letters"),
    "latency_sum": (
        "luma_trigger_delivery_seconds_sum", "counter",
        "Seconds from an event's first attempt to its delivery, summed",
    ),
}  # fmt: skip


def _event_lines(answers: dict[int, Any]) -> Iterator[str]:
    """Trigger figures summed over the workers; lag per shard (each worker has its own)."""
    totals: dict[str, dict[str, float]] = {}
    lag: dict[tuple[str, str], int] = {}
    for found in answers.values():
        for entry in found or []:
            mine = totals.setdefault(entry["trigger"], dict.fromkeys(_EVENT_FIGURES, 0.0))
            for key in _EVENT_FIGURES:
                mine[key] += entry[key]
            for shard, n in entry["lag"].items():
                lag[(entry["trigger"], shard)] = n
    for key, (metric, kind, help_text) in _EVENT_FIGURES.items():
        yield f"# HELP {metric} {help_text}"
        yield f"# TYPE {metric} {kind}"
        for trigger, values in sorted(totals.items()):
            value = values[key]
            shown = f"{value:.6f}" if key == "latency_sum" else str(int(value))
            yield f'{metric}{{trigger="{trigger}"}} {shown}'
    yield "# HELP luma_trigger_lag Changes a trigger has not passed yet (counted up to 1000)"
    yield "# TYPE luma_trigger_lag gauge"
    for (trigger, shard), n in sorted(lag.items()):
        yield f'luma_trigger_lag{{trigger="{trigger}",shard="{shard}"}} {n}'
