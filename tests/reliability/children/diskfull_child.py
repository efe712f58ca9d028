"""Disk-full scenario, run in a child process; prints one ``RESULT <json>`` line at the end.

The data directory lives on a small filesystem that the test prepared (a tmpfs holding a
filler file, or any directory with ``enospc.so`` preloaded and a byte budget). Phases:

1. fill: put documents until a put raises; remember every acknowledged document;
2. full: while the disk is still full, try more puts and count acknowledgements per shard;
3. reads: read every acknowledged document back;
4. free: delete the filler (or give the shim its budget back) and retry writes without
   reopening for ``--resume-wait`` seconds;
5. reopen: close, open again, verify every acknowledged document, write new ones.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import re
import sys
import time
from typing import Any

import lumadb

WORDS = [f"w{i:03d}" for i in range(64)]


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--filler", default="", help="file to delete to free space (tmpfs mode)")
    p.add_argument("--free-bytes", type=int, default=0, help="budget to give back (shim mode)")
    p.add_argument("--durability", default="group")
    p.add_argument("--write-buffer", default="64MiB")
    p.add_argument("--doc-bytes", type=int, default=1500)
    p.add_argument("--resume-wait", type=float, default=5.0)
    return p.parse_args()


def make_doc(rng: random.Random, key: str, size: int) -> dict[str, Any]:
    # Words from a small vocabulary: documents compress about as well as real JSON does.
    return {"k": key, "pad": " ".join(rng.choices(WORDS, k=size // 5))}


def error_info(exc: BaseException) -> dict[str, Any]:
    shard = re.search(r"/shards/(\d+)/", str(exc))
    return {
        "type": type(exc).__name__,
        "luma": isinstance(exc, lumadb.LumaError),
        "disk_full": isinstance(exc, lumadb.DiskFullError),
        "code": getattr(exc, "code", None),
        "message": str(exc)[:400],
        "shard": int(shard[1]) if shard else None,
    }


def try_put(coll: lumadb.Collection, key: str, doc: dict[str, Any]) -> dict[str, Any] | None:
    """None when acknowledged, else the error."""
    try:
        coll.put(key, doc)
    except Exception as exc:
        return error_info(exc)
    return None


def shard_map(db: lumadb.Database) -> dict[str, int]:
    """id -> shard for every document in the change feeds (a public API)."""
    found: dict[str, int] = {}
    for shard in range(db.shard_count):
        since = 0
        while batch := db.changes(shard, since=since, limit=1000):
            found.update((c.id, shard) for c in batch if c.id is not None)
            since = batch[-1].seq
    return found


def fill(coll: lumadb.Collection, rng: random.Random, args: argparse.Namespace, out: dict) -> dict:
    acked: dict[str, dict[str, Any]] = {}
    for i in range(1_000_000):
        key = f"d{i:07d}"
        doc = make_doc(rng, key, args.doc_bytes)
        error = try_put(coll, key, doc)
        if error is not None:
            out["first_error"] = error
            out["failing_write"] = {"key": key, "doc": doc}
            break
        acked[key] = doc
    out["filled_docs"] = len(acked)
    return acked


def while_full(db: lumadb.Database, coll: lumadb.Collection, acked: dict, out: dict) -> None:
    errors: dict[str, int] = {}
    new: list[str] = []
    for j in range(40):
        key = f"f{j:03d}"
        doc = {"k": key, "j": j}
        error = try_put(coll, key, doc)
        if error is None:
            acked[key] = doc
            new.append(key)
        else:
            errors[error["type"]] = errors.get(error["type"], 0) + 1
    shards = shard_map(db)
    per_shard: dict[str, int] = {}
    for key in new:
        per_shard[str(shards.get(key))] = per_shard.get(str(shards.get(key)), 0) + 1
    out["full_phase"] = {"attempts": 40, "acked_per_shard": per_shard, "errors": errors}


def read_all(coll: lumadb.Collection, acked: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ok, wrong, errors = 0, [], {}
    for key, doc in acked.items():
        try:
            got = coll.get(key)
        except Exception as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            continue
        if got == doc:
            ok += 1
        else:
            wrong.append(key)
    return {"total": len(acked), "ok": ok, "wrong": wrong[:20], "errors": errors}


def free_space(args: argparse.Namespace) -> None:
    if args.filler:
        os.remove(args.filler)
    else:
        lib = ctypes.CDLL(None)
        lib.luma_shim_free.argtypes = [ctypes.c_long]
        lib.luma_shim_free(args.free_bytes)


def resume(coll: lumadb.Collection, acked: dict, args: argparse.Namespace, out: dict) -> None:
    """Retry rounds of 20 puts (both shards) until one round fully succeeds or time is up."""
    start = time.monotonic()
    rounds, errors = 0, {}
    while True:
        rounds += 1
        failures = 0
        for j in range(20):
            key = f"r{rounds:03d}-{j:02d}"
            doc = {"k": key, "round": rounds}
            error = try_put(coll, key, doc)
            if error is None:
                acked[key] = doc
            else:
                failures += 1
                errors[error["type"]] = errors.get(error["type"], 0) + 1
                out.setdefault("resume_error", error)
        elapsed = time.monotonic() - start
        if failures == 0 or elapsed > args.resume_wait:
            break
        time.sleep(0.2)
    out["resume"] = {
        "resumed": failures == 0,
        "seconds": round(elapsed, 2),
        "rounds": rounds,
        "errors": errors,
    }


def reopen(args: argparse.Namespace, acked: dict, out: dict) -> None:
    try:
        db = lumadb.open(args.dir)
    except Exception as exc:
        out["reopen_error"] = error_info(exc)
        return
    with db:
        coll = db.collection("full")
        out["after_reopen"] = read_all(coll, acked)
        failing = out.get("failing_write")
        if failing:
            got = coll.get(failing["key"])
            out["failing_write_after_reopen"] = (
                "absent" if got is None else "attempted" if got == failing["doc"] else "OTHER"
            )
        new = {f"n{j:03d}": {"k": f"n{j:03d}", "j": j} for j in range(50)}
        errs = [e for k, d in new.items() if (e := try_put(coll, k, d)) is not None]
        out["writes_after_reopen"] = {"attempts": len(new), "failed": len(errs), "errors": errs[:3]}
        out["new_after_reopen"] = read_all(coll, new)


def main() -> int:
    args = parse()
    rng = random.Random(7)
    out: dict[str, Any] = {}
    db = lumadb.open(args.dir, durability=args.durability, shards=2, write_buffer=args.write_buffer)
    coll = db.create_collection("full", exist_ok=True)
    acked = fill(coll, rng, args, out)
    print("FULL", flush=True)
    while_full(db, coll, acked, out)
    out["reads_while_full"] = read_all(coll, acked)
    free_space(args)
    resume(coll, acked, args, out)
    try:
        db.close()
    except Exception as exc:
        out["close_error"] = error_info(exc)
    reopen(args, acked, out)
    print("RESULT " + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
