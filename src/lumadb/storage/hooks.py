"""The write hook: how other layers add entries to a write's batch.

Secondary indexes, text indexes and other derived data must never disagree with the documents,
also after a crash. So they do not write on their own: a shard calls every registered hook while
it builds a write's batch, and the hook adds its entries to that same batch. The batch commits
atomically with the document and its change-feed record.

A hook may also have a ``guard`` (a context manager with a ``number``; a unique index's): the
shard enters the guards of the hooks a write concerns, in ``number`` order, before it takes any
key's lock, and leaves them once the batch is written — so the hook's check of that write
cannot interleave with another write it guards (:mod:`lumadb.service.unique`).
"""

from __future__ import annotations

from typing import Protocol

from lumadb.storage.lsm import Batch

__all__ = ["WriteHook"]


class WriteHook(Protocol):
    """Adds derived entries to the batch of every document write of a shard."""

    # When true the shard reads the previous value of each written document (costs a read).
    needs_old: bool
    # Only writes of keys under this prefix (a collection's) call the hook; the others keep
    # the fast path.
    prefix: bytes

    def on_write(self, batch: Batch, key: bytes, new: bytes | None, old: bytes | None) -> None:
        """Called under the shard's write lock; ``new``/``old`` are JSON bodies (None: absent).

        Must only add operations to ``batch``; raising aborts the whole write.
        """
        ...
