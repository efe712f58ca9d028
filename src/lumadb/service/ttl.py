"""Time to live: a collection's documents expire a set time after their last write.

A collection with a TTL keeps, beside each document, the time it was last written (``w`` +
collection number + id, see :mod:`lumadb.storage.keys`), put by a :class:`TtlHook` in the
batch of the write itself; documents written before the TTL was set count as written when it
was set. Reads treat a document whose time is up as absent at once; :meth:`TtlSet.purge`
deletes such documents later (an ordinary delete: the change feed, indexes and the columnar
replica see it as one), skipping any that was rewritten meanwhile.

The times come from the database's clock, so tests move time with a manual clock.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator

from lumadb.catalog import CollectionSpec
from lumadb.clock import Clock
from lumadb.errors import VersionMismatch
from lumadb.storage import codec, keys
from lumadb.storage.lsm import Batch
from lumadb.storage.shard import Shard

__all__ = ["TtlHook", "TtlSet"]

_U64 = struct.Struct(">Q")


class TtlHook:
    """Records each write's time for one collection in one shard, in the write's batch."""

    needs_old = False

    def __init__(self, spec: CollectionSpec, clock: Clock) -> None:
        self.prefix = spec.prefix
        self.written = keys.written_prefix(spec.number)
        self._cut = len(spec.prefix)
        self._now = clock.now_ms

    def on_write(self, batch: Batch, key: bytes, new: bytes | None, old: bytes | None) -> None:
        """Put (or, for a delete, remove) the document's write time."""
        stamp = self.written + key[self._cut :]
        if new is None:
            batch.delete(stamp)
        else:
            batch.put(stamp, _U64.pack(self._now()))


def _ready(spec: CollectionSpec) -> str:
    return f"ttl.{spec.number}.ready"


class TtlSet:
    """The TTL hooks of the shards one process owns, kept in step with the catalog."""

    def __init__(self, shards: list[Shard], clock: Clock) -> None:
        self._shards = shards
        self._clock = clock
        self._hooks: dict[int, list[TtlHook]] = {}  # collection number -> a hook per shard

    @property
    def active(self) -> bool:
        """Whether any collection has a TTL."""
        return bool(self._hooks)

    def sync(self, collections: Iterable[CollectionSpec]) -> None:
        """Add hooks for collections given a TTL; remove (and clear) those that lost it."""
        wanted = {s.number: s for s in collections if s.ttl_ms}
        for number in [n for n in self._hooks if n not in wanted]:
            for shard, hook in zip(self._shards, self._hooks.pop(number), strict=True):
                shard.remove_hook(hook, clear=hook.written)
                shard.meta_put(f"ttl.{number}.ready", None)
        for number, spec in wanted.items():
            if number in self._hooks:
                continue
            hooks = []
            for shard in self._shards:
                hook = TtlHook(spec, self._clock)
                fresh = shard.meta_get(_ready(spec)) is None
                shard.add_hook(hook, _clear(hook, spec) if fresh else None)
                hooks.append(hook)
            self._hooks[number] = hooks

    def expires_ms(self, spec: CollectionSpec, shard: Shard, raw_id: bytes) -> int:
        """When the document ``raw_id`` of ``spec`` in ``shard`` expires (epoch ms)."""
        stamp = shard.engine.get(keys.written_prefix(spec.number) + raw_id)
        written = _U64.unpack(stamp)[0] if stamp is not None else spec.ttl_since_ms
        return int(written) + spec.ttl_ms

    def alive(self, spec: CollectionSpec, shard: Shard, key: bytes) -> bool:
        """Whether the document stored at ``key`` has not expired."""
        if not spec.ttl_ms:
            return True
        return self._clock.now_ms() < self.expires_ms(spec, shard, key[len(spec.prefix) :])

    def living(
        self, spec: CollectionSpec, shard: Shard, pairs: Iterator[tuple[bytes, bytes]]
    ) -> Iterator[tuple[bytes, bytes]]:
        """The stored pairs of ``spec``'s documents that have not expired."""
        now, cut = self._clock.now_ms(), len(spec.prefix)
        for key, body in pairs:
            if now < self.expires_ms(spec, shard, key[cut:]):
                yield key, body

    def purge(self, spec: CollectionSpec) -> int:
        """Delete the expired documents of ``spec`` in this process's shards; how many."""
        removed = 0
        now, cut = self._clock.now_ms(), len(spec.prefix)
        for shard in self._shards:
            for key, body in shard.scan(spec.prefix, keys.prefix_end(spec.prefix)):
                if now < self.expires_ms(spec, shard, key[cut:]):
                    continue
                try:  # only as it was read: a rewrite since then lives on
                    removed += shard.delete(key, spec.images, codec.version_of(body))
                except VersionMismatch:
                    continue
        return removed


def _clear(hook: TtlHook, spec: CollectionSpec) -> Callable[[Batch], None]:
    # Write times left from an earlier TTL of the collection would be stale: clear them
    # while the hook is installed, and mark the shard's times as kept from now on.
    def fill(batch: Batch) -> None:
        batch.delete_range(hook.written, keys.prefix_end(hook.written))
        batch.put(keys.meta_key(_ready(spec)), b"1")

    return fill
