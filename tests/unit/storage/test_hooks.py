"""Write hooks add derived entries to the same atomic batch as the document."""

from __future__ import annotations

import pytest

import lumadb
from lumadb.errors import InvalidArgument
from lumadb.storage.lsm import Batch


class CountingIndex:
    """A toy derived structure: one entry per document, kept in the document's batch."""

    needs_old = True
    prefix = b"d"  # every document

    def __init__(self) -> None:
        self.fail_next = False

    def on_write(self, batch: Batch, key: bytes, new: bytes | None, old: bytes | None) -> None:
        if self.fail_next:
            raise InvalidArgument("hook refused the write")
        if new is None:
            batch.delete(b"i" + key)
        else:
            batch.put(b"i" + key, b"old" if old is not None else b"new")


def test_hook_entries_commit_with_the_document(db: lumadb.Database) -> None:
    hook = CountingIndex()
    store = db._svc.store
    for shard in store.shards:
        shard.add_hook(hook)
    c = db.create_collection("c")
    c.put("a", {"v": 1})
    c.put("a", {"v": 2})
    c.put_many([("b", {"v": 1}), ("b", {"v": 2})])
    c.delete("b")
    index = {k: v for s in store.shards for k, v in s.scan(b"i", b"j")}
    assert sorted(index.values()) == [b"old"]  # only "a" remains, written twice
    hook.fail_next = True
    with pytest.raises(InvalidArgument, match="hook refused"):
        c.put("z", {"v": 1})
    assert c.get("z") is None  # the whole write was abandoned
    hook.fail_next = False
    c.put("z", {"v": 1})
    assert c.get("z") == {"v": 1}
