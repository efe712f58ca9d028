"""A shard's change feed: its engine's log, read back as document changes.

Every committed write is in the engine's log (RocksDB's write-ahead log) with the sequence
number the engine gave it, before it is acknowledged, and nothing else ever is: reading the
log back gives each committed change exactly once, in commit order, with its new document, and
no write spends anything on a separate feed record. Puts and deletes of document keys become
records; a range delete of a collection's prefix is its ``drop``; other keys (metadata,
indexes) are skipped. In collections that record old images, the write's batch holds the
previous document under :data:`~lumadb.storage.keys.OLD_IMAGE` just before the document
(empty if there was none), which turns ``put`` into ``insert`` or ``update``.

Retention deletes the log in whole segments (WAL files the engine has archived) once they are
older than ``retention`` or beyond the newest ``max_size`` bytes, except segments holding a
record at or above a consumer's pinned ``floor``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from lumadb.storage import codec, keys
from lumadb.storage.lsm import DELETE, DELETE_RANGE, PUT, LogOp, LogSegment
from lumadb.storage.shard import Shard

__all__ = ["Retention", "first_seq", "prune", "read_changes"]

_DOC = keys.DOC[0]
_PREFIX_LEN = len(keys.doc_prefix(0))
_READ_AHEAD = 256


@dataclass(frozen=True, slots=True)
class Retention:
    """How much of the log to keep (0 turns a limit off)."""

    retention_ms: int
    max_size: int
    floor: int | None = None


def first_seq(shard: Shard) -> int | None:
    """The oldest sequence number still in the log, if any."""
    for segment in shard.engine.log_segments():
        if segment.first_seq:
            return segment.first_seq
    return None


def read_changes(shard: Shard, since: int, limit: int) -> list[codec.FeedRecord]:
    """Up to ``limit`` records with sequence numbers greater than ``since``, in order."""
    records: list[codec.FeedRecord] = []
    position = since
    while len(records) < limit:
        ops = shard.engine.log_since(position, max(_READ_AHEAD, 2 * (limit - len(records))))
        if not ops:
            break
        _decode(ops, records)
        position = ops[-1][0]
    return records[:limit]


def _decode(ops: list[LogOp], out: list[codec.FeedRecord]) -> None:
    old: bytes | None = None  # the old image waiting for its document, if any
    for seq, kind, key, value in ops:
        if key[0] != _DOC:
            if key == keys.OLD_IMAGE and kind == PUT:
                old = value
            continue
        if kind == PUT:
            if old is None:
                out.append(codec.FeedRecord(seq, codec.OP_PUT, key, value, None))
            else:
                op = codec.OP_UPDATE if old else codec.OP_INSERT
                out.append(codec.FeedRecord(seq, op, key, value, old or None))
        elif kind == DELETE:
            out.append(codec.FeedRecord(seq, codec.OP_DELETE, key, None, old or None))
        elif kind == DELETE_RANGE and len(key) == _PREFIX_LEN:
            out.append(codec.FeedRecord(seq, codec.OP_DROP, key, None, None))
        old = None


def prune(shard: Shard, now_ms: int, keep: Retention) -> int:
    """Delete archived log segments past retention; returns how many records went with them."""
    segments = [s for s in shard.engine.log_segments() if s.first_seq]
    total = sum(s.size for s in segments)
    removed = 0
    for segment, following in itertools.pairwise(segments):
        last = following.first_seq - 1
        if not segment.archived or (keep.floor is not None and last >= keep.floor):
            break
        if not _expired(segment, total, now_ms, keep):
            break
        shard.engine.drop_log_segment(segment)
        total -= segment.size
        removed += last - segment.first_seq + 1
    return removed


def _expired(segment: LogSegment, total: int, now_ms: int, keep: Retention) -> bool:
    too_old = keep.retention_ms > 0 and segment.mtime_ms < now_ms - keep.retention_ms
    too_much = keep.max_size > 0 and total > keep.max_size
    return too_old or too_much
