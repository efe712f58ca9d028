"""Model-based test: random operations against LumaDB and a dict must always agree.

Runs on the memory twin and on RocksDB (where it also closes and reopens the database, and
reopens after a simulated crash of the writer by not closing at all).
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import lumadb
from lumadb.storage.faults import FAULTS

ids = st.text(alphabet="abé日_", min_size=1, max_size=3)
docs = st.dictionaries(
    st.sampled_from(["a", "b", "nested"]),
    st.one_of(
        st.integers(-5, 5),
        st.text(max_size=3),
        st.none(),
        st.lists(st.integers(-(2**63), 2**63 - 1), max_size=2),
    ),
    max_size=3,
)


class StorageModel(RuleBasedStateMachine):
    """LumaDB vs a dict of id → document."""

    engine = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, dict[str, Any]] = {}
        self.dir = tempfile.mkdtemp(prefix="luma-model-")
        self.db = self._open()
        self.coll = self.db.create_collection("m", exist_ok=True)

    def _open(self) -> lumadb.Database:
        target = ":memory:" if self.engine == "memory" else self.dir + "/d"
        return lumadb.open(target, shards=3, durability="off", hot_cache="64KiB")

    @rule(doc_id=ids, doc=docs)
    def put(self, doc_id: str, doc: dict[str, Any]) -> None:
        self.coll.put(doc_id, doc)
        self.model[doc_id] = doc

    @rule(doc_id=ids, doc=docs)
    def insert(self, doc_id: str, doc: dict[str, Any]) -> None:
        doc = {**doc, "id": doc_id}
        if doc_id in self.model:
            with pytest.raises(lumadb.DocumentExists):
                self.coll.insert(doc)
        else:
            assert self.coll.insert(doc) == doc_id
            self.model[doc_id] = doc

    @rule(doc_id=ids)
    def delete(self, doc_id: str) -> None:
        assert self.coll.delete(doc_id) == (doc_id in self.model)
        self.model.pop(doc_id, None)

    @rule(pairs=st.lists(st.tuples(ids, docs), max_size=8))
    def put_many(self, pairs: list[tuple[str, dict[str, Any]]]) -> None:
        self.coll.put_many(pairs)
        for doc_id, doc in pairs:
            self.model[doc_id] = doc

    @rule(doc_id=ids)
    def get(self, doc_id: str) -> None:
        assert self.coll.get(doc_id) == self.model.get(doc_id)

    @rule(doc_id=ids)
    def get_hot(self, doc_id: str) -> None:
        # Repeated reads make a key hot enough for L1 admission.
        for _ in range(3):
            assert self.coll.get(doc_id) == self.model.get(doc_id)

    @rule(wanted=st.lists(ids, max_size=6))
    def get_many(self, wanted: list[str]) -> None:
        assert self.coll.get_many(wanted) == [self.model.get(i) for i in wanted]

    @rule(
        prefix=st.one_of(st.none(), st.text(alphabet="abé", max_size=2)),
        start=st.one_of(st.none(), ids),
        end=st.one_of(st.none(), ids),
        limit=st.one_of(st.none(), st.integers(0, 5)),
        reverse=st.booleans(),
    )
    def scan(
        self,
        prefix: str | None,
        start: str | None,
        end: str | None,
        limit: int | None,
        reverse: bool,
    ) -> None:
        expected = sorted(
            (
                i
                for i in self.model
                if (prefix is None or i.startswith(prefix))
                and (start is None or i.encode() >= start.encode())
                and (end is None or i.encode() < end.encode())
            ),
            key=str.encode,
            reverse=reverse,
        )
        if limit is not None:
            expected = expected[:limit]
        got = list(
            self.coll.scan(prefix=prefix, start=start, end=end, limit=limit, reverse=reverse)
        )
        assert got == [(i, self.model[i]) for i in expected]

    @precondition(lambda self: self.engine == "rocks")
    @rule(clean=st.booleans())
    def reopen(self, clean: bool) -> None:
        if clean:
            self.db.close()
        else:
            # Abandon the handle like a crashed process would: release the lock, keep the data.
            store = self.db._svc.store
            for shard in store.shards:
                shard.engine.close()
            if store._lock is not None:
                store._lock.release()
            store._closed = True
        self.db = self._open()
        self.coll = self.db.collection("m")

    @invariant()
    def count_matches(self) -> None:
        assert self.coll.count() == len(self.model)

    def teardown(self) -> None:
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class RocksStorageModel(StorageModel):
    """The same rules on RocksDB."""

    engine = "rocks"


TestMemoryModel = StorageModel.TestCase
TestMemoryModel.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRocksModel = RocksStorageModel.TestCase
# Every RocksDB example opens real databases (and reopens them), so fewer examples.
TestRocksModel.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_canary_stale_cache_makes_the_model_test_fail() -> None:
    """With writes not updating L1 (the canary), the same rules must find a stale read.

    The stale entry shows either as a wrong read (an assertion of the model) or as an insert
    refused because L1 still holds a deleted document (DocumentExists).
    """
    FAULTS.stale_cache = True
    try:
        with pytest.raises((AssertionError, lumadb.DocumentExists)):
            run_state_machine_as_test(
                StorageModel,
                settings=settings(
                    max_examples=200,
                    stateful_step_count=40,
                    deadline=None,
                    database=None,
                    phases=[Phase.generate],  # finding the bug is enough; no shrinking
                ),
            )
    finally:
        FAULTS.reset()
