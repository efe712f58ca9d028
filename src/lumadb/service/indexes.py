"""Secondary indexes: entries written in the same batch as their document, per shard.

An index on a field path keeps, in every shard, one key per document whose value at that path
is a scalar (text, number, boolean): ``i`` + index number + the packed value + the document
id (:func:`lumadb.storage.keys.pack` orders values, and 1 and 1.0 pack alike). A
:class:`IndexHook` on the shard adds and removes entries in the batch of each write, so an
index never disagrees with its documents, also after a crash. Documents whose value is NULL,
missing, an array or an object have no entry: an equality with a scalar cannot match them.

A new index is built shard by shard while that shard's writes pause; a shard records in its
metadata that its part is complete, so a crash in the middle rebuilds it at the next open.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from lumadb.catalog import CollectionSpec, IndexSpec
from lumadb.service.unique import UniqueGuard, first_duplicate, split_entry
from lumadb.storage import keys
from lumadb.storage.faults import FAULTS
from lumadb.storage.lsm import Batch
from lumadb.storage.shard import Shard

__all__ = ["HookSet", "IndexHook", "IndexSet", "index_value"]

_SCALARS = (str, int, float, bool)


def index_value(doc: Any, path: tuple[str, ...]) -> Any:
    """The value of ``doc`` at ``path``, or ``None`` when there is no scalar there."""
    value = doc
    for step in path:
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return _as_key(value)


def _as_key(value: Any) -> Any:
    # LQL compares booleans as the numbers 0 and 1 (as SQLite does), so the index stores
    # them as numbers: `flag = 1` and `flag = true` find the same documents.
    if isinstance(value, bool):
        return int(value)
    return value if isinstance(value, _SCALARS) else None


class IndexHook:
    """Keeps one index's entries in one shard, in each write's batch."""

    needs_old = True

    def __init__(
        self,
        collection: CollectionSpec,
        index: IndexSpec,
        shard: Shard,
        guard: UniqueGuard | None = None,
    ) -> None:
        self.prefix = collection.prefix
        self.entries = keys.index_prefix(index.number)
        self.paths = index.paths
        self.index = index
        self.guard = guard  # a unique index's: the shard holds it around each write
        self._shard = shard
        self._outside = FAULTS.index_outside_batch  # read once: the hot path pays nothing

    def entry(self, raw_id: bytes, body: bytes | None) -> bytes | None:
        """The entry key of the document stored as ``body`` (None: it has none)."""
        if body is None:
            return None
        doc = orjson.loads(body)
        values = tuple(index_value(doc, path) for path in self.paths)
        if None in values:
            return None  # a composite entry needs every one of its values
        return self.entries + keys.pack(values) + raw_id

    def on_write(self, batch: Batch, key: bytes, new: bytes | None, old: bytes | None) -> None:
        """Replace the document's entry in the batch that writes it."""
        raw_id = key[len(self.prefix) :]
        before, after = self.entry(raw_id, old), self.entry(raw_id, new)
        if before == after:
            return
        guard = self.guard
        if guard is not None:
            values = slice(len(self.entries), -len(raw_id))
            doc_id = raw_id.decode()
            if before is not None:
                guard.release(before[values], doc_id)
            if after is not None:
                guard.claim(after[values], doc_id)
        target = self._shard.engine.batch() if self._outside else batch
        if before is not None:
            target.delete(before)
        if after is not None:
            target.put(after, b"")
        if self._outside:  # the canary: not atomic with the document
            self._shard.engine.write(target, sync=False)
            time.sleep(0.002)

    def build(self, shard: Shard) -> Any:
        """The builder :meth:`Shard.add_hook` runs: clear, then an entry per document."""

        def fill(batch: Batch) -> None:
            batch.delete_range(self.entries, keys.prefix_end(self.entries))
            cut = len(self.prefix)
            for key, body in shard.scan(self.prefix, keys.prefix_end(self.prefix)):
                made = self.entry(key[cut:], body)
                if made is not None:
                    batch.put(made, b"")
            batch.put(keys.meta_key(_ready(self.index)), b"1")

        return fill


def _ready(index: IndexSpec) -> str:
    return f"index.{index.number}.ready"


class HookSet:
    """The hooks of one kind of index in the shards one process owns, kept in step with the
    catalog: a new index gets a hook per shard (built where the shard's ready marker is
    missing), a dropped one loses its hooks and entries. Subclasses say which kind, how a
    hook is made and what removing one clears."""

    kind = "value"

    def __init__(self, shards: list[Shard]) -> None:
        self._shards = shards
        self._hooks: dict[int, list[Any]] = {}  # index number -> a hook per shard

    def make(self, spec: CollectionSpec, index: IndexSpec, shard: Shard) -> Any:
        """A hook of ``index`` for ``shard``."""
        return IndexHook(spec, index, shard)

    def unhook(self, shard: Shard, hook: Any) -> None:
        """Remove ``hook`` from ``shard`` with its entries."""
        shard.remove_hook(hook, clear=hook.entries)

    def _ready(self, index: IndexSpec) -> str:
        """The shard metadata key marking the index's part complete (as its hook writes it)."""
        return _ready(index)

    def sync(self, collections: Iterable[CollectionSpec]) -> None:
        """Add hooks (building what is missing) for new indexes; remove dropped ones."""
        wanted = {
            i.number: (spec, i) for spec in collections for i in spec.indexes if i.kind == self.kind
        }
        for number in [n for n in self._hooks if n not in wanted]:
            for shard, hook in zip(self._shards, self._hooks.pop(number), strict=True):
                self.unhook(shard, hook)
                shard.meta_put(self._ready(hook.index), None)
        for number, (spec, index) in wanted.items():
            if number in self._hooks:
                continue
            hooks = []
            for shard in self._shards:
                hook = self.make(spec, index, shard)
                built = shard.meta_get(self._ready(index)) is not None
                shard.add_hook(hook, None if built else hook.build(shard))
                hooks.append(hook)
            self._hooks[number] = hooks


class IndexSet(HookSet):
    """The value indexes' hooks, with equality and range lookups."""

    def __init__(self, shards: list[Shard]) -> None:
        super().__init__(shards)
        self._guards: dict[int, UniqueGuard] = {}  # unique index number -> its guard

    def make(self, spec: CollectionSpec, index: IndexSpec, shard: Shard) -> Any:
        """A hook of ``index`` for ``shard``; a unique index's share one guard."""
        guard = None
        if index.unique:
            guard = self._guards.get(index.number)
            if guard is None:
                guard = self._guards[index.number] = UniqueGuard(spec.name, index, self._shards)
        return IndexHook(spec, index, shard, guard)

    def guard(self, index: IndexSpec) -> UniqueGuard | None:
        """The guard of a unique index (``None`` if it has no hooks here)."""
        return self._guards.get(index.number)

    def entries(self, index: IndexSpec) -> Iterator[tuple[bytes, str]]:
        """``(packed values, id)`` of every entry of ``index`` in this process's shards, in
        order of values."""
        prefix = keys.index_prefix(index.number)
        end = keys.prefix_end(prefix)
        scans = [(k for k, _ in shard.scan(prefix, end)) for shard in self._shards]
        return (split_entry(k, prefix, index) for k in heapq.merge(*scans))

    def duplicate(self, index: IndexSpec) -> tuple[str, str, str] | None:
        """Two documents of this process's shards holding the same values of ``index``:
        ``(values shown, one id, another id)``, or ``None``."""
        return first_duplicate(self.entries(index), index)

    def range(
        self, index: IndexSpec, low: Any, low_inclusive: bool, high: Any, high_inclusive: bool
    ) -> list[str] | None:
        """Ids of the documents whose value lies between ``low`` and ``high`` (both numbers
        or both text; ``low`` ``None``: from the first entry, as ``a < high`` is in LQL's
        cross-type order), in id order; ``None`` when the bounds are not of one such kind (a
        mixed range also matches values an index does not hold)."""
        open_low = low is None  # from the first entry: every number (and text) below high
        low, high = _as_key(low), _as_key(high)
        kinds = {type(high) is str} if open_low else {type(low) is str, type(high) is str}
        if (low is None and not open_low) or high is None or len(kinds) != 1:
            return None
        hooks = self._hooks.get(index.number)
        if hooks is None:
            return None
        base = hooks[0].entries
        last = base + keys.pack((high,))
        if open_low:
            start = base
        else:
            first = base + keys.pack((low,))
            start = first if low_inclusive else keys.prefix_end(first)
        end = keys.prefix_end(last) if high_inclusive else last
        ids = []
        if start < end:
            for shard in self._shards:
                for key, _ in shard.scan(start, end):
                    rest = key[len(base) :]
                    ids.append(rest[keys.packed_length(rest) :].decode())
        return sorted(ids)

    def lookup(self, index: IndexSpec, value: Any) -> list[str]:
        """Ids of the documents whose indexed value equals ``value``, in id order."""
        return self.lookup_leading(index, (value,))

    def lookup_leading(self, index: IndexSpec, values: tuple[Any, ...]) -> list[str]:
        """Ids of the documents whose first ``len(values)`` indexed values are ``values``."""
        wanted = tuple(_as_key(v) for v in values)
        if None in wanted:
            return []
        hooks = self._hooks.get(index.number)
        if hooks is None:
            return []
        start = hooks[0].entries + keys.pack(wanted)
        skip = len(index.paths) - len(wanted)  # the further values before the id
        ids = []
        for shard in self._shards:
            for key, _ in shard.scan(start, keys.prefix_end(start)):
                rest = key[len(start) :]
                for _ in range(skip):
                    rest = rest[keys.packed_length(rest) :]
                ids.append(rest.decode())
        return sorted(ids)
