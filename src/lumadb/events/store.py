"""Where the dispatcher keeps its state: in each shard's own metadata keys.

A trigger's place in a shard's change feed (its cursor) and its dead letters live beside the
shard's documents, so a backup or a restore carries them along, and a shard's owner is the
only process that ever writes them. The cursor is the sequence number of the newest record
whose events have all been delivered or dead-lettered; it is written (synced) only after that,
so a crash repeats deliveries but never skips one.
"""

from __future__ import annotations

from typing import Any

import orjson

from lumadb.storage import keys
from lumadb.storage.shard import Shard

__all__ = ["ShardEvents"]

_CURSOR = "events.cursor."
_DEAD = "events.dead."


class ShardEvents:
    """The dispatcher state of one shard."""

    def __init__(self, shard: Shard, dead_limit: int = 100_000) -> None:
        self.shard = shard
        self.dead_limit = dead_limit
        self._dead_counts: dict[str, int] = {}  # per trigger, counted on first use

    def cursor(self, trigger: str) -> int | None:
        raw = self.shard.meta_get(_CURSOR + trigger)
        return int(raw) if raw is not None else None

    def set_cursor(self, trigger: str, seq: int | None) -> None:
        self.shard.meta_put(_CURSOR + trigger, None if seq is None else str(seq).encode())

    def add_dead(self, trigger: str, seq: int, letter: dict[str, Any]) -> None:
        # One letter per (trigger, change): a change redelivered after a crash and failing
        # again replaces its letter instead of adding a second.
        name = f"{_DEAD}{trigger}.{seq:020d}"
        known = self._dead_counts.get(trigger)
        if known is None:
            known = len(self.dead(trigger))
        if self.shard.meta_get(name) is None:
            known += 1
        self.shard.meta_put(name, orjson.dumps(letter))
        while known > self.dead_limit:  # the oldest go first
            oldest = self.dead(trigger, 1)
            if not oldest:
                break
            self.shard.meta_put(f"{_DEAD}{trigger}.{oldest[0][0]:020d}", None)
            known -= 1
        self._dead_counts[trigger] = known

    def dead(self, trigger: str, limit: int | None = None) -> list[tuple[int, dict[str, Any]]]:
        prefix = keys.meta_key(f"{_DEAD}{trigger}.")
        out: list[tuple[int, dict[str, Any]]] = []
        for key, value in self.shard.scan(prefix, keys.prefix_end(prefix)):
            out.append((int(key[len(prefix) :]), orjson.loads(value)))
            if limit is not None and len(out) >= limit:
                break
        return out

    def drop_dead(self, trigger: str, seq: int) -> None:
        self.shard.meta_put(f"{_DEAD}{trigger}.{seq:020d}", None)
        self._dead_counts.pop(trigger, None)  # recounted on the next letter

    def forget(self, trigger: str) -> None:
        """Remove a dropped trigger's cursor and dead letters."""
        for seq, _ in self.dead(trigger):
            self.drop_dead(trigger, seq)
        self.set_cursor(trigger, None)
