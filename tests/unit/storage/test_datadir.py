"""Data directories on RocksDB: persistence, the exclusive lock, manifests, backups."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import lumadb
from lumadb.service.local import restore_backup


def test_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "d"
    with lumadb.open(path, shards=3) as db:
        c = db.create_collection("c", changefeed="new")
        c.put_many([(f"k{i}", {"i": i}) for i in range(300)])
        c.delete("k7")
    with lumadb.open(path) as db:
        assert db.shard_count == 3
        assert db.list_collections() == ["c"]
        c = db.collection("c")
        assert c.count() == 299
        assert c.get("k8") == {"i": 8}
        assert c.get("k7") is None
        assert c.describe()["changefeed"] == "new"


def test_reopen_keeps_the_configured_engine_options(tmp_path: Path) -> None:
    # rocksdict reopens existing databases with default options unless told otherwise.
    path = tmp_path / "d"
    for _ in range(2):
        with lumadb.open(path, shards=1, block_cache="64MiB") as db:
            assert db.stats()["shards"][0]["block_cache_capacity"] == 64 << 20


def test_second_open_names_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "d"
    with lumadb.open(path):
        with pytest.raises(lumadb.DataDirLocked, match="this process"):
            lumadb.open(path)
        script = f"import lumadb; lumadb.open({str(path)!r})"
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode != 0
        assert "DataDirLocked" in proc.stderr
        assert "in use by pid" in proc.stderr
    with lumadb.open(path):  # released on close
        pass


def test_shard_count_is_fixed_at_creation(tmp_path: Path) -> None:
    path = tmp_path / "d"
    lumadb.open(path, shards=2).close()
    with pytest.raises(lumadb.ConfigError, match="created with 2 shards"):
        lumadb.open(path, shards=4)
    with lumadb.open(path, shards=0) as db:  # 0 keeps the directory's count
        assert db.shard_count == 2


def test_unusable_paths_are_clear_errors(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(lumadb.StorageError, match="cannot use .* as a data directory"):
        lumadb.open(a_file)
    with pytest.raises(lumadb.StorageError, match="cannot use"):
        lumadb.open(a_file / "below")


def test_damaged_manifest_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "d"
    lumadb.open(path, shards=2).close()
    (path / "luma.json").write_text("{not json")
    with pytest.raises(lumadb.CorruptionError, match="luma.json"):
        lumadb.open(path)
    (path / "luma.json").unlink()
    with pytest.raises(lumadb.CorruptionError, match="missing"):
        lumadb.open(path)


def test_orphans_of_a_crashed_drop_are_swept(tmp_path: Path) -> None:
    path = tmp_path / "d"
    with lumadb.open(path, shards=1) as db:
        c = db.create_collection("c")
        c.put_many([(f"k{i}", {"i": i}) for i in range(10)])
        svc = db._svc
        catalog = svc._catalog.without("c")
        svc.records.put("catalog", catalog.encode())
    with lumadb.open(path) as db:
        assert db.list_collections() == []
        store = db._svc.store
        assert store.shards[0].count(b"d", b"e") == 0


def test_backup_is_consistent_while_writes_continue(tmp_path: Path) -> None:
    path, dest = tmp_path / "d", tmp_path / "backup"
    stop = threading.Event()
    with lumadb.open(path, shards=4, durability="off") as db:
        c = db.create_collection("c")

        def writer() -> None:
            n = 0
            while not stop.is_set():
                # Each batch writes the same counter to two keys on (likely) different shards.
                c.put_many([("left", {"n": n}), ("right", {"n": n})])
                n += 1

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            while c.get("left") is None or c.get("left")["n"] < 50:  # type: ignore[index]
                pass
            info = db.backup(dest)
        finally:
            stop.set()
            thread.join()
    assert info["shards"] == 4
    assert json.loads((dest / "BACKUP.json").read_text())["seqs"] == info["seqs"]
    target = tmp_path / "restored"
    restore_backup(str(dest), str(target))
    with lumadb.open(target) as db:
        c = db.collection("c")
        left, right = c.get("left"), c.get("right")
        assert left is not None and right is not None
        assert left["n"] >= 50
        # Batches that straddle shards commit per shard; the cut is taken with every shard
        # paused, so both halves of a pair are either in the backup or not.
        assert abs(left["n"] - right["n"]) <= 1


def test_restore_refuses_non_empty_target_and_incomplete_backups(tmp_path: Path) -> None:
    path, dest = tmp_path / "d", tmp_path / "b"
    with lumadb.open(path) as db:
        db.create_collection("c").put("k", {"v": 1})
        db.backup(dest)
        with pytest.raises(lumadb.BackupError, match="not an empty directory"):
            db.backup(dest)
    with pytest.raises(lumadb.BackupError, match="not empty"):
        restore_backup(str(dest), str(path))
    restore_backup(str(dest), str(path), force=True)
    with lumadb.open(path) as db:
        assert db.collection("c").get("k") == {"v": 1}
    manifest = dest / "BACKUP.json"
    edited = json.loads(manifest.read_text())
    edited["seqs"] = [0 for _ in edited["seqs"]]  # an edit the checksum must catch
    manifest.write_text(json.dumps(edited))
    with pytest.raises(lumadb.BackupError, match="fails its checksum"):
        restore_backup(str(dest), str(tmp_path / "edited"))
    manifest.unlink()
    with pytest.raises(lumadb.BackupError, match="not a complete"):
        restore_backup(str(dest), str(tmp_path / "new"))


def test_restore_into_a_directory_in_use_fails(tmp_path: Path) -> None:
    path, dest = tmp_path / "d", tmp_path / "b"
    with lumadb.open(path) as db:
        db.create_collection("c")
        db.backup(dest)
        with pytest.raises(lumadb.BackupError, match="in use"):
            restore_backup(str(dest), str(path), force=True)


def test_memory_database_cannot_back_up(tmp_path: Path) -> None:
    with lumadb.open(":memory:") as db, pytest.raises(lumadb.BackupError):
        db.backup(tmp_path / "b")
