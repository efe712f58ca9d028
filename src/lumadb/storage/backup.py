"""Consistent backups of a data directory, and restoring them.

A backup is a directory with the same layout as a data directory plus ``BACKUP.json``::

    BACKUP.json      written last: shard count, sequence numbers, time, LumaDB version
    luma.json        the data directory's manifest
    meta/            the node's records (catalog, accounts), copied during the pause
    shards/NNN       a RocksDB checkpoint per shard (hard links where possible)

All shards are checkpointed while every shard's write lock is held, so the backup is one
consistent cut across shards. Memtables are flushed just before, outside the pause, so the
pause only covers linking files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lumadb.errors import BackupError, DataDirLocked, StorageError
from lumadb.storage.datadir import DirLock, atomic_write, fsync_dir, read_json
from lumadb.storage.meta import META_DIR

if TYPE_CHECKING:
    from lumadb.storage.database import Database

__all__ = ["BACKUP_MANIFEST", "restore_backup", "write_backup"]

BACKUP_MANIFEST = "BACKUP.json"
_FORMAT = 1


def _empty_target(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"backup target {dest} exists and is not an empty directory")


def write_backup(db: Database, dest: str) -> dict[str, Any]:
    """Checkpoint every shard of ``db`` into ``dest``; returns the backup manifest."""
    from lumadb._version import __version__
    from lumadb.storage.database import MANIFEST, dump_manifest

    if db.in_memory:
        raise BackupError("an in-memory database cannot be backed up to files")
    if not db.complete:
        raise BackupError("a backup needs every shard open in one process")
    target = Path(dest)
    _empty_target(target)
    (target / "shards").mkdir(parents=True, exist_ok=True)
    (target / META_DIR).mkdir()
    for shard in db.shards:
        shard.engine.flush()
    records = db.records
    with db.exclusive(), records.locked():
        seqs = [shard.seq for shard in db.shards]
        for shard in db.shards:
            shard.engine.checkpoint(str(target / "shards" / f"{shard.id:03d}"))
        for name in records.names():
            value = records.get(name)
            if value is not None:
                atomic_write(target / META_DIR / name, value)
    shutil.copyfile(Path(db.path) / MANIFEST, target / MANIFEST)
    info: dict[str, Any] = {
        "format": _FORMAT,
        "shards": len(db.shards),
        "seqs": seqs,
        "created_ms": db.clock.now_ms(),
        "lumadb": __version__,
    }
    fsync_dir(target / "shards")
    atomic_write(target / BACKUP_MANIFEST, dump_manifest(info))
    return info


def restore_backup(source: str, data_dir: str, *, force: bool = False) -> dict[str, Any]:
    """Copy the backup in ``source`` into ``data_dir``; returns the backup manifest.

    ``data_dir`` must be missing or empty unless ``force``, which replaces its contents. The
    target's lock is held throughout (it must not be in use); the backup is copied to a staging
    directory beside it and swapped in by renames, so a failed or interrupted restore leaves the
    old data untouched.
    """
    src = Path(source)
    info = _check_backup(src)
    target = Path(data_dir).resolve()
    if target.exists() and any(p.name != "LOCK" for p in target.iterdir()) and not force:
        raise BackupError(
            f"restore target {target} is not empty; pass --force to replace its contents"
        )
    target.mkdir(parents=True, exist_ok=True)
    lock = DirLock(target)
    try:
        lock.acquire()
    except DataDirLocked as exc:
        raise BackupError(f"cannot restore into {target}: {exc.message}") from exc
    staging = target.with_name(f".{target.name}.restoring")
    retired = target.with_name(f".{target.name}.replaced")
    try:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
        shutil.copytree(src, staging, ignore=shutil.ignore_patterns(BACKUP_MANIFEST, "LOCK"))
        for root, _dirs, _files in os.walk(staging):
            fsync_dir(root)
        os.replace(target, retired)
        os.replace(staging, target)
        fsync_dir(target.parent)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BackupError(f"restoring {src} into {target} failed: {exc}") from exc
    finally:
        lock.release()
    shutil.rmtree(retired, ignore_errors=True)
    return info


def _check_backup(src: Path) -> dict[str, Any]:
    if not (src / BACKUP_MANIFEST).is_file():
        raise BackupError(f"{src} is not a complete LumaDB backup (no {BACKUP_MANIFEST})")
    try:
        info = read_json(src / BACKUP_MANIFEST)
    except StorageError as exc:
        raise BackupError(f"{src}: {exc.message}") from exc
    from lumadb.storage.database import manifest_intact

    shards = info.get("shards")
    if info.get("format") != _FORMAT or not isinstance(shards, int):
        raise BackupError(f"{src}/{BACKUP_MANIFEST} has an unknown format")
    if not manifest_intact(info):
        raise BackupError(f"{src}/{BACKUP_MANIFEST} fails its checksum: the backup is damaged")
    missing = [i for i in range(shards) if not (src / "shards" / f"{i:03d}").is_dir()]
    if missing:
        raise BackupError(f"{src} lacks shard directories {missing}")
    return info
