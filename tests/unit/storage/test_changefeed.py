"""The per-shard change feed: one record per committed change, in commit order."""

from __future__ import annotations

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


def test_keys_mode_resolves_current_image_or_marks_superseded(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    c.put("a", {"v": 1})
    c.put("a", {"v": 2})
    c.put("z", {"v": 9})
    records = [r for r in _all_changes(db) if r.id == "a"]
    first, second = sorted(records, key=lambda r: r.seq)
    assert first.superseded and first.new is None
    assert not second.superseded and second.new == {"v": 2}
    (z,) = [r for r in _all_changes(db) if r.id == "z"]
    assert z.new == {"v": 9}


@pytest.mark.parametrize("mode", ["new", "old", "new_and_old"])
def test_images_modes(db: lumadb.Database, mode: str) -> None:
    c = db.create_collection("c", changefeed=mode)
    c.put("a", {"v": 1})
    c.put("a", {"v": 2})
    c.delete("a")
    insert, update, delete = sorted(
        (r for r in _all_changes(db) if r.id == "a"), key=lambda r: r.seq
    )
    wants_new = mode in ("new", "new_and_old")
    wants_old = mode in ("old", "new_and_old")
    if wants_old:
        # With old images the shard reads the previous value, so it knows insert from update.
        assert (insert.op, update.op, delete.op) == ("insert", "update", "delete")
        assert insert.old is None
        assert update.old == {"v": 1}
        assert delete.old == {"v": 2}
    else:
        assert (insert.op, update.op, delete.op) == ("put", "put", "delete")
        assert update.old is None
    if wants_new:
        assert (insert.new, update.new) == ({"v": 1}, {"v": 2})
        assert not update.superseded
    else:
        # No new image and the document was deleted since: the state is gone, and said so.
        assert insert.new is None and insert.superseded
        assert update.new is None and update.superseded


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


def test_batch_group_records_expand_and_resume_mid_group(db: lumadb.Database) -> None:
    c = db.create_collection("c", changefeed="new")
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


def test_retention_by_age_keeps_the_newest_record(engine: str, tmp_path: Any) -> None:
    clock = ManualClock()
    target = ":memory:" if engine == "memory" else str(tmp_path / "d")
    with lumadb.open(target, shards=1, clock=clock) as db:
        c = db.create_collection("c")
        c.put_many([(f"old{i}", {"i": i}) for i in range(10)])
        clock.advance(8 * 86400)  # default retention is 7 days
        c.put("fresh", {"i": 1})
        removed = db.prune_changes()
        assert removed == 10
        assert [r.id for r in db.changes(shard=0)] == ["fresh"]
        clock.advance(30 * 86400)
        db.prune_changes()
        # The newest record always stays: it carries the sequence across restarts.
        assert [r.id for r in db.changes(shard=0)] == ["fresh"]


def test_retention_by_count(engine: str, tmp_path: Any) -> None:
    from lumadb.config import load_settings

    settings = load_settings(
        None,
        env={},
        overrides={"storage.shards": 1, "changefeed.max_records": 5, "storage.data_dir": "x"},
    )
    target = ":memory:" if engine == "memory" else str(tmp_path / "d")
    with lumadb.open(target, config=settings) as db:
        c = db.create_collection("c")
        for i in range(20):
            c.put(f"k{i:02d}", {"i": i})
        db.prune_changes()
        assert [r.id for r in db.changes(shard=0)] == [f"k{i:02d}" for i in range(15, 20)]
        # A batch's group record is pruned whole: at least max_records stay.
        c.put_many([(f"b{i:02d}", {"i": i}) for i in range(8)])
        db.prune_changes()
        assert [r.id for r in db.changes(shard=0)] == [f"b{i:02d}" for i in range(8)]


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
