"""The per-shard change feed: one record per committed change, in commit order."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

import lumadb
from lumadb.clock import ManualClock


def _all_changes(db: lumadb.Database) -> list[Any]:
    out = []
    for shard in range(db.shard_count):
        out.extend(db.changes(shard=shard, since=0, limit=100_000))
    return out


def test_every_change_has_one_record_with_increasing_seq(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    c.put("a", {"v": 1})
    c.put("a", {"v": 2})
    c.put_many([("b", {"v": 1}), ("c", {"v": 1})])
    c.delete("b")
    c.delete("never-existed")
    records = _all_changes(db)
    assert sorted((r.id, r.op) for r in records) == [
        ("a", "put"),
        ("a", "put"),
        ("b", "delete"),
        ("b", "put"),
        ("c", "put"),
    ]
    for shard in range(db.shard_count):
        seqs = [r.seq for r in db.changes(shard=shard)]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == len(seqs)
    assert all(r.collection == "c" for r in records)


def test_records_carry_the_new_document(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    c.put("a", {"v": 1})
    c.put("a", {"v": 2})
    c.delete("a")
    first, second, gone = sorted((r for r in _all_changes(db) if r.id == "a"), key=lambda r: r.seq)
    # Earlier states stay in the feed although the document changed since: the feed is the log.
    assert (first.op, first.new, first.old) == ("put", {"v": 1}, None)
    assert (second.op, second.new) == ("put", {"v": 2})
    assert (gone.op, gone.new, gone.old) == ("delete", None, None)


def test_new_and_old_images(db: lumadb.Database) -> None:
    c = db.create_collection("c", changefeed="new_and_old")
    c.put("a", {"v": 1})
    c.put("a", {"v": 2})
    c.delete("a")
    c.delete("never-existed")
    insert, update, delete = sorted(
        (r for r in _all_changes(db) if r.id == "a"), key=lambda r: r.seq
    )
    # With old images the shard reads the previous value, so it knows insert from update.
    assert (insert.op, insert.new, insert.old) == ("insert", {"v": 1}, None)
    assert (update.op, update.new, update.old) == ("update", {"v": 2}, {"v": 1})
    assert (delete.op, delete.new, delete.old) == ("delete", None, {"v": 2})
    assert [r.id for r in _all_changes(db)] == ["a", "a", "a"]


@pytest.mark.parametrize("mode", ["keys", "old", "both"])
def test_unknown_changefeed_mode(db: lumadb.Database, mode: str) -> None:
    with pytest.raises(lumadb.InvalidArgument, match="new_and_old"):
        db.create_collection("c", changefeed=mode)


def test_put_many_with_old_images_sees_earlier_entries_of_the_batch(db: lumadb.Database) -> None:
    c = db.create_collection("c", changefeed="new_and_old")
    c.put_many([("k", {"v": 1}), ("k", {"v": 2})])
    first, second = sorted((r for r in _all_changes(db) if r.id == "k"), key=lambda r: r.seq)
    assert (first.op, first.old) == ("insert", None)
    assert (second.op, second.old, second.new) == ("update", {"v": 1}, {"v": 2})
    assert c.get("k") == {"v": 2}


def test_drop_is_recorded_on_every_shard(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    c.put("a", {"v": 1})
    db.drop_collection("c")
    drops = [r for r in _all_changes(db) if r.op == "drop"]
    assert len(drops) == db.shard_count
    assert all(r.id is None for r in drops)


def test_batches_give_one_record_per_document_and_resume_mid_batch(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    c.put_many([(f"k{i}", {"i": i}) for i in range(30)])
    records = db.changes(shard=0, limit=1000)
    seqs = [r.seq for r in records]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert all(r.new == {"i": int(r.id[1:])} for r in records)
    middle = records[len(records) // 2].seq
    again = db.changes(shard=0, since=middle, limit=3)
    assert [r.seq for r in again] == [middle + 1, middle + 2, middle + 3][: len(again)]
    assert len(again) == min(3, seqs[-1] - middle)


def test_reading_from_an_offset_and_limit(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    c.put_many([(f"k{i}", {"i": i}) for i in range(50)])
    records = db.changes(shard=0, since=0, limit=1000)
    assert len(records) > 5
    middle = records[4].seq
    after = db.changes(shard=0, since=middle, limit=3)
    assert [r.seq for r in after] == [r.seq for r in records[5:8]]
    assert db.changes(shard=0, since=records[-1].seq) == []


@pytest.mark.parametrize(
    "kwargs", [{"shard": 99}, {"shard": -1}, {"since": -5}, {"limit": -1}, {"shard": "0"}]
)
def test_bad_feed_arguments(db: lumadb.Database, kwargs: dict[str, Any]) -> None:
    with pytest.raises(lumadb.InvalidArgument):
        db.changes(**kwargs)


def _age_archived_logs(db: lumadb.Database, clock: ManualClock, seconds: float) -> None:
    """Make the archived log segments ``seconds`` older than the database's clock."""
    clock.advance(seconds)
    if db.path == ":memory:":
        return  # the twin stamps its segments with the database's clock
    for shard in range(db.shard_count):
        archive = Path(db.path) / "shards" / f"{shard:03d}" / "archive"
        for log in archive.glob("*.log"):
            stamp = (clock.now_ms() / 1000) - seconds - 1
            os.utime(log, (stamp, stamp))


def test_retention_by_age_drops_whole_old_segments(engine: str, tmp_path: Any) -> None:
    clock = ManualClock(start_ms=int(time.time() * 1000))
    target = ":memory:" if engine == "memory" else str(tmp_path / "d")
    with lumadb.open(target, shards=1, clock=clock) as db:
        c = db.create_collection("c")
        c.put_many([(f"old{i}", {"i": i}) for i in range(10)])
        db.flush()  # the log moves on to a new segment; the old one is archived
        c.put("fresh", {"i": 1})
        assert db.prune_changes() == 0  # nothing is 7 days old yet
        _age_archived_logs(db, clock, 8 * 86400)  # default retention is 7 days
        removed = db.prune_changes()
        assert removed >= 10
        assert [r.id for r in db.changes(shard=0)] == ["fresh"]
        clock.advance(30 * 86400)
        db.prune_changes()
        # The segment still being written is never dropped.
        assert [r.id for r in db.changes(shard=0)] == ["fresh"]


def test_retention_by_size(engine: str, tmp_path: Any) -> None:
    from lumadb.config import load_settings

    settings = load_settings(
        None,
        env={},
        overrides={"storage.shards": 1, "changefeed.max_size": 20_000, "storage.data_dir": "x"},
    )
    target = ":memory:" if engine == "memory" else str(tmp_path / "d")
    with lumadb.open(target, config=settings) as db:
        c = db.create_collection("c")
        for batch in range(4):
            c.put_many([(f"b{batch}-{i:02d}", {"text": "x" * 200}) for i in range(40)])
            db.flush()
        c.put("last", {"i": 1})
        history = [f"b{b}-{i:02d}" for b in range(4) for i in range(40)] + ["last"]
        assert db.prune_changes() >= 40
        ids = [r.id for r in db.changes(shard=0, limit=1000)]
        # Whole segments go, oldest first: what is left is a suffix of the history, starting
        # at a segment boundary, of about max_size bytes.
        assert ids == history[-len(ids) :]
        assert ids[0].endswith("-00") and ids[0] != "b0-00"


def test_a_pinned_floor_keeps_what_a_consumer_still_needs(engine: str, tmp_path: Any) -> None:
    clock = ManualClock(start_ms=int(time.time() * 1000))
    target = ":memory:" if engine == "memory" else str(tmp_path / "d")
    with lumadb.open(target, shards=1, clock=clock) as db:
        c = db.create_collection("c")
        c.put("a", {"i": 1})
        db.flush()
        floor = db.changes(shard=0)[-1].seq
        c.put("b", {"i": 2})
        _age_archived_logs(db, clock, 8 * 86400)
        assert db._svc.store.prune_feeds(floor={0: floor}) == 0
        assert [r.id for r in db.changes(shard=0)] == ["a", "b"]
        assert db._svc.store.prune_feeds(floor={0: floor + 1}) >= 1
        assert [r.id for r in db.changes(shard=0)] == ["b"]


def test_sequence_continues_after_reopen(tmp_path: Any) -> None:
    path = str(tmp_path / "d")
    with lumadb.open(path, shards=1) as db:
        c = db.create_collection("c")
        for i in range(5):
            c.put("k", {"i": i})
        last = db.changes(shard=0)[-1].seq
    with lumadb.open(path) as db:
        db.collection("c").put("k", {"i": 99})
        assert db.changes(shard=0, since=last)[0].seq == last + 1
