"""The node's records in meta/: shared between processes, counted, migrated, backed up."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

import lumadb
from lumadb.config import load_settings
from lumadb.errors import InvalidArgument
from lumadb.service.local import LocalService, restore_backup
from lumadb.storage.meta import MetaStore


def test_a_write_in_one_store_moves_the_generation_seen_by_another(tmp_path: Path) -> None:
    first, second = MetaStore(tmp_path), MetaStore(tmp_path)
    try:
        before = second.generation()
        first.put("catalog", b"one")
        assert second.generation() == before + 1
        assert second.get("catalog") == b"one"
        assert second.get("missing") is None
        assert first.names() == ["catalog"]
    finally:
        first.close()
        second.close()


def _bump(root: str, times: int) -> None:
    store = MetaStore(root)
    for _ in range(times):
        with store.locked():
            value = int(store.get("count") or b"0")
            store.put("count", str(value + 1).encode())
    store.close()


def test_read_modify_write_under_the_lock_loses_nothing_across_processes(
    tmp_path: Path,
) -> None:
    spawn = multiprocessing.get_context("spawn")
    procs = [spawn.Process(target=_bump, args=(str(tmp_path), 25)) for _ in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    store = MetaStore(tmp_path)
    try:
        assert store.get("count") == b"75"
        assert store.generation() >= 75
    finally:
        store.close()


def test_names_that_are_not_records_are_refused() -> None:
    store = MetaStore(None)
    for name in ("", "LOCK", "GEN", "../x", "a/b"):
        with pytest.raises(InvalidArgument):
            store.put(name, b"")
    store.put("system.accounts", b"x")
    assert store.generation() == 1
    assert store.names() == ["system.accounts"]


def test_records_kept_in_shard_zero_by_older_versions_are_moved(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = load_settings(env={}, overrides={"storage.shards": 2})
    svc = LocalService(str(data), settings)
    svc.create_collection("old")
    svc.put("old", "a", {"x": 1})
    catalog = svc.records.get("catalog")
    assert catalog is not None
    svc.store.shards[0].meta_put("catalog", catalog)  # where the catalog used to live
    svc.store.shards[0].meta_put("system.accounts", b'{"v": 1}')
    svc.close()
    for name in ("catalog", "system.accounts"):
        (data / "meta" / name).unlink(missing_ok=True)
    again = LocalService(str(data), settings)
    try:
        assert [c["name"] for c in again.list_collections()] == ["old"]
        assert again.get("old", "a") == {"x": 1}  # not swept as an orphan
        assert again.system_get("accounts") == b'{"v": 1}'
    finally:
        again.close()


def test_a_backup_carries_the_records(tmp_path: Path) -> None:
    with lumadb.open(str(tmp_path / "data")) as db:
        db.create_collection("kept")
        db.backup(str(tmp_path / "backup"))
    assert (tmp_path / "backup" / "meta" / "catalog").is_file()
    restore_backup(str(tmp_path / "backup"), str(tmp_path / "restored"))
    with lumadb.open(str(tmp_path / "restored")) as db:
        assert db.list_collections() == ["kept"]
