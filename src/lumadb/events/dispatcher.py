"""The dispatcher: reads each owned shard's change feed and delivers triggers' events.

One task per (trigger, shard) on one event loop in a thread of its own. A task reads up to
``batch_size`` records after its cursor, delivers the events of those that fire the trigger,
and only then moves the cursor past them (synced). Guarantees:

- **at least once**: a change is delivered or dead-lettered before the cursor passes it; a
  crash or a kill repeats the unfinished batch, so receivers see duplicates (deduplicate on
  ``Luma-Event-Id`` with the trigger name), never a gap. No event exists for a change that did
  not commit: the feed is the engine's own log of committed writes.
- **per-key order**: a document's events reach a trigger's sink in commit order; the next is
  not attempted until the previous one was delivered or dead-lettered. Events of different
  documents go concurrently, at most ``max_in_flight`` at once (back-pressure: the feed is read
  no further until a batch is done). After a crash a batch is repeated from its start, so a
  receiver can see an older event again after a newer one — but never a newer one skipped.
- one dispatcher per shard: a shard's owner (the process holding its data) runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lumadb.errors import LumaError
from lumadb.events.sinks import BatchSink, DeliveryFailed, Event, Sink, SinkPolicy, make_sink
from lumadb.events.store import ShardEvents
from lumadb.events.triggers import Trigger
from lumadb.service import Change
from lumadb.storage import changefeed

if TYPE_CHECKING:
    from lumadb.config import EventsSettings
    from lumadb.service.local import LocalService

__all__ = ["Dispatcher", "TriggerFigures"]

_log = logging.getLogger("lumadb.events")
_MAX_RETRY_AFTER = 3600.0
# How often idle tasks' shards are looked at for new writes (one sequence-number read per shard,
# whatever the number of triggers); ``poll_interval`` stays the fallback.
_WATCH_INTERVAL = 0.005


@dataclass
class TriggerFigures:
    """Counters of one trigger in this process (for /metrics and status)."""

    delivered: int = 0
    attempts: int = 0
    failures: int = 0
    dead: int = 0
    latency_sum: float = 0.0  # seconds from first attempt to success, summed
    cursors: dict[int, int] = field(default_factory=dict)


class Dispatcher:
    """Runs the delivery tasks of every enabled trigger over this process's shards."""

    def __init__(
        self,
        service: LocalService,
        settings: EventsSettings,
        policy: SinkPolicy,
        shards: list[ShardEvents],
        *,
        skip_cursor_wait: bool = False,
    ) -> None:
        self.service = service
        self.settings = settings
        self.policy = policy
        self.shards = {s.shard.id: s for s in shards}
        self.figures: dict[str, TriggerFigures] = defaultdict(TriggerFigures)
        self._cursor_first = skip_cursor_wait  # canary: the cursor moves before delivery
        self._loop = asyncio.new_event_loop()
        self._tasks: dict[tuple[str, int], tuple[Trigger, asyncio.Task[None]]] = {}
        self._thread = threading.Thread(target=self._loop.run_forever, name="luma-events")
        self._thread.daemon = True
        self._thread.start()
        self._closed = False
        self._wakers: dict[int, asyncio.Event] = {}
        self._watcher: asyncio.Task[None] | None = None

    def sync(self, triggers: dict[str, Trigger]) -> None:
        """Run tasks for exactly the enabled ``triggers`` (restarting changed ones)."""
        if self._closed:
            return
        asyncio.run_coroutine_threadsafe(self._sync(triggers), self._loop).result()

    async def _sync(self, triggers: dict[str, Trigger]) -> None:
        wanted = {
            (t.name, shard): t for t in triggers.values() if t.enabled for shard in self.shards
        }
        for key, (trigger, task) in list(self._tasks.items()):
            if wanted.get(key) != trigger:
                del self._tasks[key]
                await _stop(task)
        for key, trigger in wanted.items():
            if key not in self._tasks:
                task = self._loop.create_task(self._run(trigger, key[1]))
                self._tasks[key] = (trigger, task)
        if self._tasks and self._watcher is None:
            self._watcher = self._loop.create_task(self._watch())
        elif not self._tasks and self._watcher is not None:
            watcher, self._watcher = self._watcher, None
            await _stop(watcher)

    async def _watch(self) -> None:
        """Wake a shard's idle tasks as soon as its sequence number moves."""
        seen = {shard_id: -1 for shard_id in self.shards}
        try:
            while self._tasks:
                for shard_id, state in self.shards.items():
                    seq = state.shard.engine.last_seq()
                    if seq != seen[shard_id]:
                        seen[shard_id] = seq
                        waker = self._wakers.pop(shard_id, None)
                        if waker is not None:
                            waker.set()
                await asyncio.sleep(_WATCH_INTERVAL)
        except LumaError:  # closed underneath: the tasks fall back on polling
            pass
        self._watcher = None  # not reached when cancelled (whoever cancels clears it)

    async def _idle(self, shard_id: int) -> None:
        waker = self._wakers.setdefault(shard_id, asyncio.Event())
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that
        # arrives as the waker is set, and the task would outlive close().
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.poll_interval):
                await waker.wait()

    def close(self) -> None:
        """Stop every task (unfinished batches are repeated on the next start)."""
        if self._closed:
            return
        self._closed = True
        asyncio.run_coroutine_threadsafe(self._sync({}), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    # --- one trigger on one shard ----------------------------------------------------------

    async def _run(self, trigger: Trigger, shard_id: int) -> None:
        state = self.shards[shard_id]
        sink = make_sink(trigger.sink["type"], trigger.sink, self.policy, trigger.timeout)
        figures = self.figures[trigger.name]
        try:
            await sink.start()
            while True:
                try:
                    if isinstance(sink, _Batching):
                        await self._pump(trigger, shard_id, state, sink, figures)
                    moved = await self._step(trigger, shard_id, state, sink, figures)
                except LumaError as exc:  # closed, read-only, disk full: wait and go on
                    _log.warning("trigger %s on shard %d: %s", trigger.name, shard_id, exc)
                    moved = False
                    await asyncio.sleep(1.0)
                if not moved:
                    await self._idle(shard_id)
        finally:
            await sink.close()

    def _cursor(self, trigger: Trigger, state: ShardEvents) -> int:
        cursor = state.cursor(trigger.name)
        if cursor is None:  # a trigger fires for changes after it was made
            cursor = state.shard.engine.last_seq()
            state.set_cursor(trigger.name, cursor)
        return cursor

    async def _pump(
        self,
        trigger: Trigger,
        shard_id: int,
        state: ShardEvents,
        sink: _Batching,
        figures: TriggerFigures,
    ) -> None:
        """The batch path (until an error): the next batch goes out while the last one is
        acknowledged, and the cursor passes a batch once it and those before it are done."""
        sent: deque[_Sent] = deque()
        read = self._cursor(trigger, state)
        try:
            while True:
                changes = (
                    self.service.changes(shard_id, read, self.settings.batch_size)
                    if len(sent) < 2
                    else []
                )
                if changes:
                    read = changes[-1].seq
                    if self._cursor_first:
                        state.set_cursor(trigger.name, read)
                    fired = [change for change in changes if _fires(trigger, change)]
                    events = [_event(trigger, change) for change in fired]
                    task = asyncio.ensure_future(sink.send_many(events))
                    sent.append(_Sent(read, fired, task, time.monotonic()))
                    figures.attempts += len(fired)
                    continue
                if not sent:
                    figures.cursors[shard_id] = read
                    await self._idle(shard_id)
                    continue
                first = sent.popleft()
                done = [(first, await first.task)]
                if any(
                    r is not None for r in done[0][1]
                ):  # a failure: what was sent after it may need to go again
                    while sent:
                        later = sent.popleft()
                        done.append((later, await later.task))
                again = self._tally(done, figures)
                if again:
                    await self._chains(trigger, sink, state, again, figures)
                state.set_cursor(trigger.name, done[-1][0].last)
                figures.cursors[shard_id] = done[-1][0].last
        finally:
            for unfinished in sent:
                unfinished.task.cancel()

    def _tally(
        self, done: list[tuple[_Sent, list[DeliveryFailed | None]]], figures: TriggerFigures
    ) -> dict[str | None, list[Change]]:
        """Count what arrived; from a key's first failure on, its later events go again (one
        at a time, with retries), so the last copy of each arrives in commit order."""
        again: dict[str | None, list[Change]] = defaultdict(list)
        now = time.monotonic()
        for batch, results in done:
            for change, failed in zip(batch.fired, results, strict=True):
                if failed is not None:
                    figures.failures += 1
                if failed is not None or change.id in again:
                    again[change.id].append(change)
                else:
                    figures.delivered += 1
                    figures.latency_sum += now - batch.started
        return again

    async def _chains(
        self,
        trigger: Trigger,
        sink: Sink,
        state: ShardEvents,
        by_key: dict[str | None, list[Change]],
        figures: TriggerFigures,
    ) -> None:
        """Each key's events one after another, keys concurrently (``max_in_flight``)."""
        gate = asyncio.Semaphore(self.settings.max_in_flight)

        async def chain(items: list[Change]) -> None:
            async with gate:
                for change in items:
                    await self._deliver(trigger, sink, state, change, figures)

        await asyncio.gather(*(chain(items) for items in by_key.values()))

    async def _step(
        self,
        trigger: Trigger,
        shard_id: int,
        state: ShardEvents,
        sink: Sink,
        figures: TriggerFigures,
    ) -> bool:
        cursor = self._cursor(trigger, state)
        changes = self.service.changes(shard_id, cursor, self.settings.batch_size)
        if not changes:
            figures.cursors[shard_id] = cursor
            return False
        last = changes[-1].seq
        if self._cursor_first:
            state.set_cursor(trigger.name, last)
        by_key: dict[str | None, list[Change]] = defaultdict(list)
        for change in changes:
            if _fires(trigger, change):
                by_key[change.id].append(change)
        if by_key:
            await self._chains(trigger, sink, state, by_key, figures)
        state.set_cursor(trigger.name, last)
        figures.cursors[shard_id] = last
        return True

    async def _deliver(
        self,
        trigger: Trigger,
        sink: Sink,
        state: ShardEvents,
        change: Change,
        figures: TriggerFigures,
    ) -> None:
        event = _event(trigger, change)
        event_id = event.id
        started = time.monotonic()
        reason = "not attempted"
        for attempt in range(trigger.max_attempts):
            figures.attempts += 1
            try:
                await sink.send(event)
            except DeliveryFailed as failed:
                figures.failures += 1
                reason = failed.reason
                if not failed.retryable or attempt == trigger.max_attempts - 1:
                    break
                await asyncio.sleep(_wait(trigger, attempt, failed.retry_after))
            else:
                figures.delivered += 1
                figures.latency_sum += time.monotonic() - started
                return
        figures.dead += 1
        state.add_dead(
            trigger.name,
            change.seq,
            {"event": dict(event.body), "error": reason, "attempts": attempt + 1,
             "failed_ms": int(time.time() * 1000)},
        )  # fmt: skip
        _log.warning("trigger %s: event %s dead-lettered: %s", trigger.name, event_id, reason)

    def lag(self, trigger: str, cap: int = 1_000) -> dict[int, int]:
        """Document changes not yet passed, per shard (counted up to ``cap``)."""
        out: dict[int, int] = {}
        for shard_id, state in self.shards.items():
            cursor = state.cursor(trigger)
            if cursor is not None:
                # Counted from the raw records: decoding the documents would cost ten times as
                # much, and a status poll must not slow the deliveries it reports on.
                out[shard_id] = len(changefeed.read_changes(state.shard, cursor, cap))
        return out

    def floor(self) -> dict[int, int]:
        """The oldest cursor of each shard: change-feed retention must keep what follows."""
        out: dict[int, int] = {}
        for trigger, _ in self._tasks:
            for shard_id, state in self.shards.items():
                cursor = state.cursor(trigger)
                if cursor is not None:
                    out[shard_id] = min(out.get(shard_id, cursor), cursor + 1)
        return out

    def submit(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the dispatcher's loop (so it never races a task's cursor)."""

        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result()


async def _stop(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` until it is done: one cancellation can be lost (a library that catches
    it, or 3.11's wait_for), and a task that goes on would keep close() waiting for ever."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    if not task.cancelled() and task.exception() is not None:
        _log.warning("a delivery task ended with %r", task.exception())


@runtime_checkable
class _Batching(Sink, BatchSink, Protocol):
    pass


@dataclass
class _Sent:
    """A batch handed to a batch sink: its last sequence number, its events' changes."""

    last: int
    fired: list[Change]
    task: asyncio.Future[list[DeliveryFailed | None]]
    started: float


def _event(trigger: Trigger, change: Change) -> Event:
    event_id = f"{change.shard}-{change.seq}"
    return Event(
        id=event_id,
        trigger=trigger.name,
        collection=trigger.collection,
        key=change.id or "",
        op=change.op,
        body=trigger.body(change, event_id, int(time.time() * 1000)),
    )


def _fires(trigger: Trigger, change: Change) -> bool:
    try:
        return trigger.matches(change)
    except LumaError as exc:  # a condition that cannot be evaluated on this document
        _log.warning("trigger %s: condition failed on %s: %s", trigger.name, change.id, exc)
        return False


def _wait(trigger: Trigger, attempt: int, retry_after: float | None) -> float:
    wait: float = min(trigger.max_backoff, trigger.backoff * float(2**attempt))
    wait *= 1 + random.random() * 0.5
    if retry_after is not None:
        # The target's own wish wins over the back-off, up to an hour (a huge one is a bug).
        wait = max(wait, min(retry_after, _MAX_RETRY_AFTER))
    return wait
