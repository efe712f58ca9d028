"""Disk full: clear error, no acknowledgement while full, reads served, writes resume.

The data directory lives on a 24 MiB tmpfs mounted by the test (we run as root) next to a
12 MiB filler file. A child (``children/diskfull_child.py``) fills the disk with documents
until a put fails, keeps trying while it is full, reads everything back, deletes the filler,
retries writes without reopening, then reopens and verifies every acknowledged document. Where
tmpfs cannot be mounted, ``shims/enospc.c`` (preloaded) gives the directory a byte budget
instead; ``LUMA_DISKFULL_BACKEND=tmpfs|shim`` forces one. Figure: "acks after ENOSPC 0, reads
served >= 99 %, writes resume after space is freed". Canary: none switchable from
``FAULTS``; the test's strength is that it checks every acknowledged document twice (while
full and after reopen) and counts acknowledgements per shard from the change feed.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import Child, child_env, report

DISK_MB = 24
FILLER_MB = 12
SHIM_BUDGET = 3 << 20  # the shim's disk sits on a real disk: keep its fsyncs few


@dataclass(frozen=True)
class Scenario:
    durability: str
    write_buffer: str
    doc_bytes: int = 1500
    resume_wait: float = 10.0

    @property
    def name(self) -> str:
        return f"{self.durability}-wb{self.write_buffer}-doc{self.doc_bytes}"


@contextmanager
def tmpfs(where: Path, size_mb: int) -> Iterator[Path | None]:
    """Mount a tmpfs at ``where`` (``None`` if mounting is not permitted); always unmounted."""
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        yield None
        return
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=False)


def run_child(base: Path, scenario: Scenario, data: Path, env: dict[str, str], extra: list[str]):
    args = ["--dir", str(data), "--durability", scenario.durability]
    args += ["--write-buffer", scenario.write_buffer, "--doc-bytes", str(scenario.doc_bytes)]
    args += ["--resume-wait", str(scenario.resume_wait), *extra]
    with Child("diskfull_child.py", args, base / "child.err", env) as child:
        child.expect("FULL", timeout=300)
        line = child.expect("RESULT", timeout=300)
        assert child.wait() == 0, child.stderr_tail()
    return json.loads(line.removeprefix("RESULT "))


def run_scenario(base: Path, scenario: Scenario, shim_builder: Callable[[], Path]) -> dict:
    backend = os.environ.get("LUMA_DISKFULL_BACKEND", "tmpfs")
    with tmpfs(base / "disk", DISK_MB) if backend == "tmpfs" else _no_mount() as disk:
        if disk is not None:
            filler = disk / "filler"
            filler.write_bytes(os.urandom(FILLER_MB << 20))
            out = run_child(base, scenario, disk / "db", child_env(), ["--filler", str(filler)])
            out["backend"] = f"tmpfs {DISK_MB} MiB, filler {FILLER_MB} MiB"
            return out
    data = base / "shim-disk" / "db"
    data.parent.mkdir()
    env = child_env(
        LD_PRELOAD=str(shim_builder()),
        LUMA_SHIM_ENOSPC_DIR=str(data),
        LUMA_SHIM_ENOSPC_BUDGET=str(SHIM_BUDGET),
    )
    out = run_child(base, scenario, data, env, ["--free-bytes", str(4 * SHIM_BUDGET)])
    out["backend"] = f"enospc.so budget {SHIM_BUDGET} bytes"
    return out


@contextmanager
def _no_mount() -> Iterator[None]:
    yield None


SCENARIOS = [Scenario("group", "64MiB"), Scenario("always", "64MiB"), Scenario("group", "1MiB")]


@pytest.fixture(scope="module", params=SCENARIOS, ids=lambda s: s.name)
def outcome(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Run one disk-full scenario once; the tests below each assert one promise about it."""
    scenario: Scenario = request.param
    base = tmp_path_factory.mktemp(f"diskfull-{scenario.name}")
    out = run_scenario(base, scenario, lambda: request.getfixturevalue("enospc_shim"))
    out["scenario"] = scenario.name
    out["write_buffer"] = scenario.write_buffer
    return out


def test_enospc_is_a_clear_luma_error(
    outcome: dict[str, Any], record_property: Callable[[str, object], None]
) -> None:
    """The put that hits ENOSPC raises DiskFullError (code disk_full, HTTP 507) saying so."""
    error = outcome.get("first_error")
    assert error is not None, "the disk never filled up"
    report(
        record_property,
        f"disk full {outcome['scenario']} error",
        {
            "backend": outcome["backend"],
            "docs_before_full": outcome["filled_docs"],
            "error_type": error["type"],
            "code": error["code"],
            "message": error["message"][:160],
        },
    )
    assert error["luma"], f"a raw {error['type']} escaped: {error['message']}"
    assert error["disk_full"], f"expected DiskFullError, got {error['type']}: {error['message']}"
    assert "disk is full" in error["message"]


def test_no_ack_after_enospc_and_reads_served(
    outcome: dict[str, Any], record_property: Callable[[str, object], None]
) -> None:
    """While the disk stays full the shard that hit ENOSPC acknowledges nothing, and every
    acknowledged document reads back exactly."""
    full, reads = outcome["full_phase"], outcome["reads_while_full"]
    failed_shard = outcome["first_error"]["shard"]
    acks = full["acked_per_shard"]
    after = sum(acks.values()) if failed_shard is None else acks.get(str(failed_shard), 0)
    served = reads["ok"] / max(reads["total"], 1)
    report(
        record_property,
        f"disk full {outcome['scenario']} while full",
        {
            "acks_after_enospc": after,
            "acks_on_other_shard": sum(acks.values()) - after,
            "errors_while_full": full["errors"],
            "reads_served_pct": round(100 * served, 2),
            "wrong_reads": len(reads["wrong"]),
        },
    )
    assert after == 0, f"shard {failed_shard} acknowledged {after} writes after ENOSPC"
    assert set(full["errors"]) <= {"DiskFullError"}, full["errors"]
    assert reads["wrong"] == [], f"wrong documents read while full: {reads['wrong']}"
    assert served >= 0.99, f"reads served {served:.2%}: {reads['errors']}"


def test_writes_resume_without_reopen(
    outcome: dict[str, Any],
    request: pytest.FixtureRequest,
    record_property: Callable[[str, object], None],
) -> None:
    """Once the filler is deleted, writes succeed again on the same open database (within
    ``resume_wait`` seconds; the shard retries by reopening its engine once per second, also
    when less than a memtable's worth of space came back)."""
    resume = outcome["resume"]
    report(record_property, f"disk full {outcome['scenario']} resume", resume)
    assert resume["resumed"], (
        f"writes still failing {resume['seconds']}s after space was freed: "
        f"{outcome.get('resume_error', {}).get('message')}"
    )


def test_nothing_damaged_and_writes_resume_after_reopen(
    outcome: dict[str, Any], record_property: Callable[[str, object], None]
) -> None:
    """After freeing space and reopening, every acknowledged document is intact, the write
    that failed is absent or whole, and new writes succeed."""
    assert "reopen_error" not in outcome, f"reopen failed: {outcome['reopen_error']}"
    reads, writes = outcome["after_reopen"], outcome["writes_after_reopen"]
    report(
        record_property,
        f"disk full {outcome['scenario']} reopen",
        {
            "acked_docs": reads["total"],
            "intact": reads["ok"],
            "failing_write_after_reopen": outcome.get("failing_write_after_reopen"),
            "close_error": outcome.get("close_error", {}).get("type", "none"),
            "writes_after_reopen_failed": writes["failed"],
        },
    )
    assert reads["ok"] == reads["total"], f"damaged: {reads['wrong']} errors {reads['errors']}"
    assert outcome.get("failing_write_after_reopen") in {"absent", "attempted"}
    assert writes["failed"] == 0, f"writes fail after reopen: {writes['errors']}"
    new = outcome["new_after_reopen"]
    assert new["ok"] == new["total"]


SOAK_SCENARIOS = [
    Scenario(durability, wb, doc, resume_wait=20.0)
    for durability in ("group", "always")
    for wb in ("1MiB", "64MiB")
    for doc in (200, 20_000)
]


@pytest.mark.soak
@pytest.mark.parametrize("scenario", SOAK_SCENARIOS, ids=lambda s: s.name)
def test_disk_full_soak(
    tmp_path: Path,
    scenario: Scenario,
    request: pytest.FixtureRequest,
    record_property: Callable[[str, object], None],
) -> None:
    """Soak version: more document sizes and memtable sizes, 20 s to resume."""
    out = run_scenario(tmp_path, scenario, lambda: request.getfixturevalue("enospc_shim"))
    full = out["full_phase"]
    failed_shard = str(out["first_error"]["shard"])
    report(
        record_property,
        f"disk full soak {scenario.name}",
        {"docs": out["filled_docs"], "resumed_without_reopen": out["resume"]["resumed"]},
    )
    assert out["first_error"]["disk_full"]
    assert full["acked_per_shard"].get(failed_shard, 0) == 0
    assert out["reads_while_full"]["wrong"] == []
    assert out["after_reopen"]["ok"] == out["after_reopen"]["total"]
    assert out["writes_after_reopen"]["failed"] == 0
    if scenario.write_buffer != "64MiB":
        assert out["resume"]["resumed"], out["resume"]
