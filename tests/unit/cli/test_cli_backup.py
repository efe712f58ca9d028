"""``luma backup`` and ``luma restore``, and the data directory lock."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Luma, assert_failed, assert_ok

import lumadb

WriteJsonl = Callable[..., Path]
ROWS = [{"id": f"d{i:03d}", "n": i} for i in range(50)]


@pytest.fixture
def populated(luma: Luma, write_jsonl: WriteJsonl) -> None:
    assert_ok(luma("import", "docs", str(write_jsonl(ROWS)), "--create"))


def _with_data_dir(luma: Luma, config_file: Path, data_dir: Path, *args: str) -> str:
    return assert_ok(
        luma(*args, "--config", str(config_file), "--data-dir", str(data_dir), data=False)
    )


@pytest.mark.usefixtures("populated")
def test_backup_then_restore_elsewhere(luma: Luma, tmp_path: Path, config_file: Path) -> None:
    backup_dir, restored = tmp_path / "backup", tmp_path / "restored"
    out = assert_ok(luma("backup", str(backup_dir)))
    assert "backup of 2 shards written to" in out
    assert "size on disk:" in out
    assert (backup_dir / "BACKUP.json").is_file()
    seqs = json.loads((backup_dir / "BACKUP.json").read_text())["seqs"]
    assert sum(seqs) > 0

    out = _with_data_dir(luma, config_file, restored, "restore", str(backup_dir))
    assert "restored" in out
    assert "2 shards" in out

    with lumadb.open(restored) as db:
        assert db.shard_count == 2
        assert dict(db.collection("docs").scan()) == {r["id"]: r for r in ROWS}
    exported = _with_data_dir(luma, config_file, restored, "export", "docs", "-")
    assert [json.loads(line) for line in exported.splitlines()] == ROWS


@pytest.mark.usefixtures("populated")
def test_backup_into_a_non_empty_directory_fails(luma: Luma, tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "something").write_text("x")
    assert_failed(luma("backup", str(target)), 1, "not an empty directory")


@pytest.mark.usefixtures("populated")
def test_restore_into_non_empty_dir_needs_force(
    luma: Luma, tmp_path: Path, write_jsonl: WriteJsonl
) -> None:
    backup_dir = tmp_path / "backup"
    assert_ok(luma("backup", str(backup_dir)))
    extra = write_jsonl([{"id": "later"}], "later.jsonl")
    assert_ok(luma("import", "docs", str(extra)))

    assert_failed(luma("restore", str(backup_dir)), 1, "is not empty", "--force")
    assert "restored" in assert_ok(luma("restore", str(backup_dir), "--force"))
    exported = assert_ok(luma("export", "docs", "-"))
    assert "later" not in exported
    assert len(exported.splitlines()) == len(ROWS)


def test_restore_from_something_that_is_no_backup(luma: Luma, tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    assert_failed(luma("restore", str(tmp_path / "junk")), 1, "not a complete LumaDB backup")


@pytest.mark.usefixtures("populated")
def test_open_handle_elsewhere_is_reported(luma: Luma, data_dir: Path, tmp_path: Path) -> None:
    with lumadb.open(data_dir):
        assert_failed(luma("collections"), 1, f"data directory {data_dir} is in use", "pid")
        assert_failed(luma("backup", str(tmp_path / "b")), 1, "in use")
    assert_ok(luma("backup", str(tmp_path / "b")))


@pytest.mark.usefixtures("populated")
def test_forced_restore_refuses_a_directory_in_use(
    luma: Luma, data_dir: Path, tmp_path: Path
) -> None:
    assert_ok(luma("backup", str(tmp_path / "backup")))
    with lumadb.open(data_dir):
        result = luma("restore", str(tmp_path / "backup"), "--force")
        assert_failed(result, 1, "cannot restore into", "in use")
