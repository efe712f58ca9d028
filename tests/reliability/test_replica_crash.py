"""kill -9 of a process whose columnar replica follows busy writers: it agrees afterwards.

A child (``children/replica_writer.py``) writes documents from two threads while a third runs
aggregate queries, so the replica is applying the change feed when it is killed with SIGKILL,
CYCLES times. After each kill the test opens the data directory, lets the replica catch up
from the place its last transaction recorded (it must not rebuild from a scan: that would
hide a lost place), and compares the replica's rows with the documents: rows missing, rows
extra and rows with other values must all be 0, and a grouped query must give the documents'
answer. Canary: with ``FAULTS.replica_cursor_first`` the replica records its new place before
applying the records, and the kills must leave disagreements.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import Child, child_env, report

import lumadb
from lumadb.config import load_settings

CYCLES = 8
CANARY_CYCLES = 30  # at most: the canary's kills go on until one lands in its window
GROUPED = "SELECT g, count(*), sum(n) FROM rc GROUP BY g ORDER BY g"


def _documents(path: str) -> tuple[set[tuple[Any, ...]], list[list[Any]]]:
    settings = load_settings(overrides={"storage.shards": 2, "analytics.columnar": False})
    with lumadb.open(path, config=settings) as db:
        rows = {(i, d.get("n"), d.get("g"), d.get("x")) for i, d in db.collection("rc").scan()}
        return rows, db.execute(GROUPED).rows


def _replica(path: str) -> tuple[set[tuple[Any, ...]], list[list[Any]], int]:
    with lumadb.open(path, shards=2) as db:
        grouped = db.execute(GROUPED).rows  # the replica catches up first
        replica = db._svc._columnar._replica  # type: ignore[union-attr]
        table = replica._tables[db._svc.collection_numbers()["rc"]]
        name = {path[0]: column.name for path, column in table.columns.items()}
        found = replica._db.execute(
            f'SELECT _id, "{name["n"]}", "{name["g"]}", "{name["x"]}" FROM {table.name}'  # noqa: S608
        ).fetchall()
        return set(found), grouped, replica.builds


def _same_x(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return a[:3] == b[:3] and abs(float(a[3]) - float(b[3])) < 1e-9


def _run(tmp_path: Path, canary: str = "") -> dict[str, int]:
    data = str(tmp_path / "data")
    rng = random.Random(23)
    figures = {"kills": 0, "documents": 0, "missing": 0, "extra": 0, "changed": 0}
    figures |= {"grouped_wrong": 0, "rebuilds": 0}
    for cycle in range(CANARY_CYCLES if canary else CYCLES):
        if canary and figures["missing"] + figures["extra"] + figures["changed"]:
            break  # caught: on a loaded machine a kill can take a few tries to land there
        figures["kills"] += 1
        args = ["--dir", data, "--seed", str(cycle)] + (["--canary", canary] if canary else [])
        with Child(
            "replica_writer.py", args, tmp_path / f"writer{cycle}.err", child_env()
        ) as child:
            child.expect("WRITING")
            time.sleep(rng.uniform(0.2, 0.6))
            child.kill()
        documents, expected = _documents(data)
        rows, grouped, builds = _replica(data)
        by_id = {r[0]: r for r in rows}
        figures["documents"] = len(documents)
        figures["missing"] += sum(1 for d in documents if d[0] not in by_id)
        figures["extra"] += len({r[0] for r in rows} - {d[0] for d in documents})
        figures["changed"] += sum(
            1 for d in documents if d[0] in by_id and not _same_x(by_id[d[0]], d)
        )
        figures["grouped_wrong"] += int(grouped != expected)
        figures["rebuilds"] += builds
    return figures


@pytest.mark.slow
def test_the_replica_agrees_with_the_documents_after_every_kill(
    tmp_path: Path, record_property: object
) -> None:
    figures = _run(tmp_path)
    report(record_property, "replica kill -9", figures)  # type: ignore[arg-type]
    assert figures["documents"] > 0
    assert figures["rebuilds"] == 0  # caught up from its recorded place, not rebuilt
    assert figures["missing"] == figures["extra"] == figures["changed"] == 0
    assert figures["grouped_wrong"] == 0


@pytest.mark.slow
def test_canary_a_place_recorded_before_its_records_disagrees_after_kills(
    tmp_path: Path, record_property: object
) -> None:
    for attempt in range(3):  # a fresh directory when a run's kills all missed the window
        run_dir = tmp_path / f"attempt{attempt}"
        run_dir.mkdir()
        figures = _run(run_dir, canary="replica_cursor_first")
        if figures["missing"] + figures["extra"] + figures["changed"]:
            break
    report(record_property, "replica kill -9 canary", figures)  # type: ignore[arg-type]
    assert figures["missing"] + figures["extra"] + figures["changed"] > 0
