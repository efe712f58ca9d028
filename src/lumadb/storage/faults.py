"""Deliberate bug switches ("canaries") for reliability tests.

A fault-injection test must prove it can fail: each test flips one of these switches in the
process under test and checks that the bug is caught. Components read the switches once, when
they are constructed, so the hot paths pay nothing. Nothing outside tests may set them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FAULTS", "Faults"]


@dataclass
class Faults:
    """The canaries; all off in a healthy process."""

    # RocksDB writes skip the write-ahead log: a crash loses acknowledged writes.
    wal_disabled: bool = False
    # A failed WAL sync is swallowed and the write acknowledged anyway (the fsyncgate bug).
    ignore_sync_errors: bool = False
    # Writes do not update the L1 hot cache, so reads can return stale values.
    stale_cache: bool = False
    # Index entries are written on their own, just before their document's batch: a crash in
    # between leaves an index that disagrees with the documents.
    index_outside_batch: bool = False
    # The columnar replica moves its place in the change feed in a transaction of its own,
    # before the one applying the records: a crash in between loses those records.
    replica_cursor_first: bool = False
    # A unique index's writers are checked but not kept one at a time: two writers can both
    # find a value free and both take it.
    unique_unguarded: bool = False
    # A vector index part loaded from its file takes its shards' newest positions as its place,
    # skipping the change-feed records written after the file was saved.
    vector_skip_feed: bool = False
    # The event dispatcher moves a trigger's cursor past a batch before delivering it: a kill
    # in between loses those events.
    events_cursor_first: bool = False

    def reset(self) -> None:
        """Turn every canary off."""
        for name in self.__dataclass_fields__:
            setattr(self, name, False)


FAULTS = Faults()
