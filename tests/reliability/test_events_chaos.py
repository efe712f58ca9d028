"""At-least-once delivery under a flaky receiver and repeated kill -9 of the dispatcher.

A child (``children/events_writer.py``) writes documents one acknowledged write at a time
while its trigger delivers them to a real HTTP receiver that fails a third of the requests
(500, 503 with ``Retry-After``, 429). The child — the database and its dispatcher — is killed
with SIGKILL at random moments, at least KILLS times and until WRITES writes are done; then
the test opens the directory itself, its dispatcher finishes, and the events the receiver
accepted are compared with the changes the documents show: every committed insert and update
must have arrived (missing 0), nothing may have arrived that did not commit (phantoms 0);
duplicates are allowed and reported. Canary: with ``FAULTS.events_cursor_first`` the
dispatcher moves its cursor before delivering, and the kills must lose events.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
from reliability_kit import Child, child_env, report
from tests.unit.events.receiver import Receiver, flaky, receiver

import lumadb
from lumadb.config import load_settings

KILLS = int(os.environ.get("CHAOS_KILLS", "6"))  # CI machines run it with more
WRITES = 3000
MAX_CYCLES = 40
SETTLE = 600


def _expected(path: str) -> set[tuple[str, str]]:
    with _open(path) as db:
        out: set[tuple[str, str]] = set()
        for key, doc in db.collection("ev").scan():
            out.add((key, "insert"))
            if doc.get("v") == 2:
                out.add((key, "update"))
        return out


def _open(path: str) -> lumadb.Database:
    overrides = {"storage.shards": 2, "events.allow_private": ["127.0.0.0/8"]}
    return lumadb.open(path, config=load_settings(overrides=overrides, env={}))


def _received(rx: Receiver) -> set[tuple[str, str]]:
    with rx.lock:
        return {(r.body["key"], r.body["op"]) for r in rx.accepted}


def _run(tmp_path: Path, canary: str = "") -> dict[str, int]:
    data = str(tmp_path / "data")
    rng = random.Random(61)
    figures = {"kills": 0, "writes": 0, "events": 0, "missing": 0, "phantom": 0}
    figures["duplicates"] = 0
    with receiver() as rx:
        rx.answer = flaky(random.Random(7), failure=0.33)
        for cycle in range(MAX_CYCLES):
            if figures["kills"] >= KILLS and figures["writes"] >= WRITES:
                break
            args = ["--dir", data, "--url", rx.url] + (["--canary", canary] if canary else [])
            with Child("events_writer.py", args, tmp_path / f"w{cycle}.err", child_env()) as child:
                child.expect("WRITING")
                until = time.monotonic() + rng.uniform(0.4, 1.2)
                while time.monotonic() < until:
                    line = child.read_line(timeout=30)
                    assert line is not None, child.stderr_tail()
                    if line.startswith("WROTE"):
                        figures["writes"] = max(figures["writes"], int(line.split()[1]) + 1)
                child.kill()
                figures["kills"] += 1
        expected = _expected(data)  # opening it also runs a dispatcher that finishes the work
        settle = time.monotonic()
        with _open(data) as db:
            # Wait while deliveries still arrive (a slow machine takes longer), at most
            # SETTLE seconds; the canary's losses never arrive, so it waits only briefly.
            deadline = time.monotonic() + SETTLE
            seen, quiet = 0, time.monotonic()
            while not expected <= (got := _received(rx)) and time.monotonic() < deadline:
                if len(got) > seen:
                    seen, quiet = len(got), time.monotonic()
                if time.monotonic() - quiet > (5 if canary else 30):
                    break
                time.sleep(0.1)
            time.sleep(0.3)
            figures["settle_ms"] = int((time.monotonic() - settle) * 1000)
            print("\n[chaos] trigger status", db.trigger_status("chaos"))  # for a failed run
        got = _received(rx)
        ids = rx.ids()
    figures["events"] = len(expected)
    figures["missing"] = len(expected - got)
    figures["phantom"] = len(got - expected)
    figures["duplicates"] = len(ids) - len(set(ids))
    figures["requests"] = rx.requests
    return figures


@pytest.mark.slow
def test_every_committed_change_arrives_through_kills_and_a_flaky_receiver(
    tmp_path: Path, record_property: object
) -> None:
    figures = _run(tmp_path)
    report(record_property, "events chaos", figures)  # type: ignore[arg-type]
    assert figures["kills"] >= KILLS
    assert figures["writes"] >= WRITES
    assert figures["requests"] > figures["events"]  # the receiver did fail some requests
    assert figures["missing"] == 0
    assert figures["phantom"] == 0


@pytest.mark.slow
def test_canary_a_cursor_moved_before_delivery_loses_events(
    tmp_path: Path, record_property: object
) -> None:
    figures = _run(tmp_path, canary="events_cursor_first")
    report(record_property, "events chaos canary", figures)  # type: ignore[arg-type]
    assert figures["missing"] > 0
