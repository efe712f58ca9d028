"""``luma collections [list|create|drop]``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Luma, assert_failed, assert_ok

import lumadb


def test_list_on_an_empty_database(luma: Luma) -> None:
    assert_ok(luma("collections", "create", "users"))
    assert_ok(luma("collections", "drop", "users", "--yes"))
    assert "no collections" in assert_ok(luma("collections", "list"))


def test_create_then_list_shows_name_mode_and_count(
    luma: Luma, open_data: Callable[[], lumadb.Database]
) -> None:
    assert "created collection users" in assert_ok(luma("collections", "create", "users"))
    out = assert_ok(luma("collections", "create", "events", "--changefeed", "new_and_old"))
    assert "new_and_old" in out
    db = open_data()
    db.collection("users").put_many([("a", {}), ("b", {}), ("c", {})])
    db.close()

    listing = assert_ok(luma("collections", "list"))
    users = next(line for line in listing.splitlines() if " users " in line)
    events = next(line for line in listing.splitlines() if " events " in line)
    assert " new " in users
    assert " 3 " in users
    assert " new_and_old " in events
    assert " 0 " in events
    assert listing.index(" events ") < listing.index(" users ")


def test_collections_without_subcommand_lists(luma: Luma) -> None:
    assert_ok(luma("collections", "create", "users"))
    assert " users " in assert_ok(luma("collections"))


def test_create_twice_fails(luma: Luma) -> None:
    assert_ok(luma("collections", "create", "users"))
    assert_failed(luma("collections", "create", "users"), 1, "'users' already exists")


def test_create_rejects_a_bad_name(luma: Luma) -> None:
    assert_failed(luma("collections", "create", "9lives"), 1, "invalid collection name")


def test_drop_with_yes(luma: Luma, open_data: Callable[[], lumadb.Database]) -> None:
    assert_ok(luma("collections", "create", "users"))
    assert "dropped collection users" in assert_ok(luma("collections", "drop", "users", "--yes"))
    assert open_data().list_collections() == []


def test_drop_asks_and_proceeds_on_yes(luma: Luma) -> None:
    assert_ok(luma("collections", "create", "users"))
    result = luma("collections", "drop", "users", input="y\n")
    assert "Drop collection 'users'" in assert_ok(result) + result.stderr
    assert "no collections" in assert_ok(luma("collections"))


@pytest.mark.parametrize("answer", ["n\n", "\n", ""])
def test_drop_refused_keeps_the_collection(
    luma: Luma, answer: str, open_data: Callable[[], lumadb.Database]
) -> None:
    assert_ok(luma("collections", "create", "users"))
    result = luma("collections", "drop", "users", input=answer)
    assert_failed(result, 1, "'users' was not dropped")
    assert "Drop collection 'users' and its 0 documents" in result.stderr
    assert open_data().list_collections() == ["users"]


def test_drop_missing_collection(luma: Luma) -> None:
    assert_ok(luma("collections", "create", "users"))
    assert_failed(luma("collections", "drop", "ghosts", "--yes"), 1, "'ghosts' does not exist")


def test_missing_data_dir_is_not_created(luma: Luma, data_dir: Path) -> None:
    assert_failed(luma("collections", "list"), 1, "does not exist", str(data_dir))
    assert not data_dir.exists()


def test_options_on_the_group(luma: Luma, config_file: Path, data_dir: Path) -> None:
    group_level = ["--config", str(config_file), "--data-dir", str(data_dir)]
    assert_ok(luma("collections", *group_level, "create", "users", data=False))
    assert " users " in assert_ok(luma("collections", *group_level, data=False))
