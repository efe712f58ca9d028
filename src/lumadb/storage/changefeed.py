"""Reading and pruning a shard's change feed.

Each committed put or delete has a record under ``f`` + its sequence number, written in the
same batch as the change (the plain puts of one ``put_many`` batch share one group record,
stored under the last of their sequence numbers and expanded on read). Records carry the images
their collection asked for; a record without a new image is resolved on read by looking the
document up: if the document's version is still the record's sequence number the lookup is
exact, otherwise the record is marked ``superseded`` (a later record of the same key carries
the newer state).

Retention: records older than ``retention`` or beyond the newest ``max_records`` are deleted in
the background (a batch's group record goes whole, so at least that many stay), except the
newest record (it carries the sequence across restarts) and any record at or above a
consumer's pinned ``floor``.
"""

from __future__ import annotations

import dataclasses
import struct

from lumadb.storage import codec, keys
from lumadb.storage.shard import Shard

__all__ = ["first_seq", "prune", "read_changes"]

_TS = struct.Struct(">Q")
_RESOLVABLE = (codec.OP_PUT, codec.OP_INSERT, codec.OP_UPDATE)


def first_seq(shard: Shard) -> int | None:
    """The oldest sequence number still in the feed."""
    for key, raw in shard.engine.iterate(keys.FEED, keys.FEED_END):
        return codec.decode_feed_records(keys.feed_seq(key), raw)[0].seq
    return None


def read_changes(shard: Shard, since: int, limit: int) -> list[codec.FeedRecord]:
    """Up to ``limit`` records with sequence numbers greater than ``since``, in order."""
    records: list[codec.FeedRecord] = []
    if limit <= 0:
        return records
    # A batch's group record sits under its last sequence number, so seeking to since+1 finds
    # the group holding since+1; its earlier members are skipped.
    for key, raw in shard.engine.iterate(keys.feed_key(since + 1), keys.FEED_END):
        records.extend(
            r for r in codec.decode_feed_records(keys.feed_seq(key), raw) if r.seq > since
        )
        if len(records) >= limit:
            break
    return _resolve_new_images(shard, records[:limit])


def _resolve_new_images(shard: Shard, records: list[codec.FeedRecord]) -> list[codec.FeedRecord]:
    todo = [i for i, r in enumerate(records) if r.new is None and r.op in _RESOLVABLE]
    if not todo:
        return records
    current = shard.engine.multi_get([records[i].key for i in todo])
    for i, value in zip(todo, current, strict=True):
        record = records[i]
        if value is not None and codec.stored_version(value) == record.seq:
            records[i] = dataclasses.replace(record, new=bytes(codec.stored_body(value)))
        else:
            records[i] = dataclasses.replace(record, superseded=True)
    return records


def prune(
    shard: Shard, now_ms: int, retention_ms: int, max_records: int, floor: int | None = None
) -> int:
    """Delete records past retention; returns how many sequence numbers were removed."""
    first = first_seq(shard)
    if first is None:
        return 0
    last = shard.seq
    cut = first
    if max_records > 0:
        cut = max(cut, last - max_records + 1)
    if retention_ms > 0:
        horizon = now_ms - retention_ms
        for key, raw in shard.engine.iterate(keys.feed_key(cut), keys.FEED_END):
            if _TS.unpack_from(raw, codec.FEED_TS_OFFSET)[0] >= horizon:
                break
            cut = keys.feed_seq(key) + 1
    cut = min(cut, last)
    if floor is not None:
        cut = min(cut, floor)
    if cut <= first:
        return 0
    batch = shard.engine.batch()
    # Entries are keyed by their last sequence number: a group straddling ``cut`` stays whole.
    batch.delete_range(keys.FEED, keys.feed_key(cut))
    with shard.lock:
        shard.engine.write(batch, sync=False)  # a failure here just skips this round
    now_first = first_seq(shard)
    return (now_first if now_first is not None else last + 1) - first
