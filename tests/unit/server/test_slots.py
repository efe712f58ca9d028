"""Worker slots: first free one wins, a dead holder's slot comes back, shards map to slots."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lumadb.errors import ConfigError, Unavailable
from lumadb.server.slots import claim_slot, owned_shards, owner_of


def test_workers_take_distinct_slots_until_none_is_left(tmp_path: Path) -> None:
    first, second = claim_slot(tmp_path, 2), claim_slot(tmp_path, 2)
    assert (first.index, second.index) == (0, 1)
    with pytest.raises(Unavailable):
        claim_slot(tmp_path, 2)
    first.release()
    again = claim_slot(tmp_path, 2)
    assert again.index == 0
    again.release()
    second.release()


def test_the_slot_of_a_killed_worker_is_free_for_its_replacement(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from lumadb.server.slots import claim_slot; "
            f"s = claim_slot({str(tmp_path)!r}, 2); print(s.index, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "0"
        mine = claim_slot(tmp_path, 2)
        assert mine.index == 1
    finally:
        holder.kill()
        holder.wait()
    replacement = claim_slot(tmp_path, 2)
    assert replacement.index == 0  # the kernel released the dead holder's lock
    replacement.release()
    mine.release()


def test_every_shard_has_exactly_one_owner() -> None:
    workers, shards = 3, 8
    owned = [owned_shards(slot, workers, shards) for slot in range(workers)]
    assert sorted(s for part in owned for s in part) == list(range(shards))
    assert all(owner_of(s, workers) == slot for slot, part in enumerate(owned) for s in part)
    with pytest.raises(ConfigError):
        owned_shards(0, 4, 2)
    with pytest.raises(ConfigError):
        owned_shards(3, 3, 8)
