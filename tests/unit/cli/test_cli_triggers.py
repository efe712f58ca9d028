"""``luma triggers ...`` against a real receiver."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cli_helpers import Luma, assert_failed, assert_ok
from tests.unit.events.receiver import receiver

import lumadb
from lumadb.config import load_settings

LOOPBACK = '\n[events]\nallow_private = ["127.0.0.0/8"]\n'


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "luma.toml"
    path.write_text('[storage]\nshards = 2\ndurability = "off"\n' + LOOPBACK, encoding="utf-8")
    return path


def test_create_list_pause_show_and_drop(luma: Luma, data_dir: Path, config_file: Path) -> None:
    with receiver() as rx:
        assert_ok(luma("collections", "create", "orders"))
        out = assert_ok(luma("triggers", "create", "paid", "-C", "orders", "--on", "update",
                             "--when", "new.status = 'paid'", "--webhook", rx.url,
                             "--retries", "2"))  # fmt: skip
        assert f"created trigger paid on orders (update) → webhook {rx.url}" in out
        listed = assert_ok(luma("triggers"))
        assert "paid" in listed and "orders" in listed and "update" in listed
        assert "paused" in assert_ok(luma("triggers", "pause", "paid"))
        shown = json.loads(assert_ok(luma("triggers", "show", "paid")))
        assert shown["enabled"] is False and shown["when"] == "new.status = 'paid'"
        assert shown["retry"]["max_attempts"] == 2
        assert_ok(luma("triggers", "resume", "paid"))
        rx.answer = lambda body: (400, {})  # a final answer: straight to the dead letters
        config = load_settings(config_file, env={}, overrides={"storage.data_dir": str(data_dir)})
        with lumadb.open(data_dir, config=config) as db:
            db.collection("orders").put("o1", {"status": "new"})
            db.collection("orders").put("o1", {"status": "paid"})
            deadline = time.monotonic() + 10
            while not db.dead_letters("paid"):
                assert time.monotonic() < deadline
                time.sleep(0.02)
        dead = assert_ok(luma("triggers", "dead", "paid"))
        assert "update" in dead and "o1" in dead and "400" in dead
        assert "redelivering 1 dead letter of paid" in assert_ok(
            luma("triggers", "dead", "paid", "--redeliver")
        )
        assert "dropped trigger paid" in assert_ok(luma("triggers", "drop", "paid", "--yes"))
        assert "no triggers" in assert_ok(luma("triggers", "list"))


def test_mistakes_are_one_line_errors(luma: Luma) -> None:
    assert_ok(luma("collections", "create", "c"))
    assert_failed(luma("triggers", "create", "t", "-C", "c"), 1, "give one sink")
    assert_failed(
        luma("triggers", "create", "t", "-C", "c", "--webhook", "http://127.0.0.1/",
             "--kafka", "127.0.0.1:9092"),
        1, "give one sink",
    )  # fmt: skip
    assert_failed(luma("triggers", "create", "t", "-C", "c", "--kafka", "h:1"), 1, "--topic")
    assert_failed(
        luma("triggers", "create", "t", "-C", "nope", "--webhook", "http://127.0.0.1/"),
        1, "collection 'nope'",
    )  # fmt: skip
    assert_failed(
        luma("triggers", "create", "t", "-C", "c", "--webhook", "http://127.0.0.1/",
             "--when", "status = 1"),
        1, "new.<field> or old.<field>",
    )  # fmt: skip
    assert_failed(luma("triggers", "show", "ghost"), 1, "trigger 'ghost' does not exist")
    assert_failed(luma("triggers", "drop", "ghost", "--yes"), 1, "does not exist")
    assert_failed(luma("triggers", "pause", "ghost"), 1, "does not exist")
