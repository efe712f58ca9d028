"""Writer for the fsync-EIO test; runs with ``fail_fsync.so`` preloaded.

It opens the database, writes every key once (version 0) and learns each key's shard from the
public change feed, arms the shim, then writes increasing versions from ``--threads`` threads
until every thread has made ``--after`` puts after the shim injected its failure. Every put is
logged with the shim's sync counter read just before and just after it, and the writing
thread's id, so the test can place each put relative to the failed sync::

    S <key> <shard>                                 key -> shard map (before arming)
    T <key> <n> <tid> <before>                      put of version n starts
    A <key> <n> <tid> <before> <after>              ... was acknowledged
    E <key> <n> <tid> <before> <after> <ErrorType>  ... raised a LumaError
    X <key> <n> <tid> <before> <after> <ErrorType>  ... raised a foreign exception
    R <key> <version or -> | RE <key> <ErrorType>   reads after the writes stopped
    RO <shard> <0|1>                                the shard's read_only figure
    CLOSE ok | CLOSE <ErrorType>

stdout: ``ARMED`` once the shim counts, ``DONE`` at the end.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import threading

import lumadb
from lumadb.storage.faults import FAULTS


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--events", required=True)
    p.add_argument("--durability", default="always")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--keys", type=int, default=50, help="keys per thread")
    p.add_argument("--after", type=int, default=30, help="puts per thread after the failure")
    p.add_argument("--max-puts", type=int, default=5000, help="per thread, a safety bound")
    p.add_argument("--canary", choices=["", "ignore_sync_errors"], default="")
    return p.parse_args()


class Shim:
    """The preloaded shim's counters, read through ctypes."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(None)
        self._seq = lib.luma_shim_seq
        self._seq.restype = ctypes.c_long
        self._failed = lib.luma_shim_failed
        self._failed.restype = ctypes.c_long
        self.arm = lib.luma_shim_arm

    def seq(self) -> int:
        return int(self._seq())

    def failed(self) -> int:
        return int(self._failed())


class Log:
    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def __call__(self, *fields: object) -> None:
        os.write(self._fd, (" ".join(map(str, fields)) + "\n").encode())


def learn_shards(db: lumadb.Database, coll: lumadb.Collection, keys: list[str], log: Log) -> None:
    coll.put_many([(k, {"v": 0, "k": k}) for k in keys])
    for shard in range(db.shard_count):
        for change in db.changes(shard, since=0, limit=100_000):
            if change.collection == coll.name and change.id is not None:
                log("S", change.id, shard)


def one_put(coll: lumadb.Collection, key: str, n: int, shim: Shim, log: Log) -> None:
    tid = threading.get_native_id()
    before = shim.seq()
    log("T", key, n, tid, before)
    try:
        coll.put(key, {"v": n, "k": key})
    except lumadb.LumaError as exc:
        log("E", key, n, tid, before, shim.seq(), type(exc).__name__)
    except Exception as exc:
        log("X", key, n, tid, before, shim.seq(), type(exc).__name__)
    else:
        log("A", key, n, tid, before, shim.seq())


def write_until_failure_seen(
    coll: lumadb.Collection, mine: list[str], args: argparse.Namespace, shim: Shim, log: Log
) -> None:
    after = 0
    for i in range(args.max_puts):
        if shim.failed() and (after := after + 1) > args.after:
            return
        key = mine[i % len(mine)]
        one_put(coll, key, i // len(mine) + 1, shim, log)


def read_back(db: lumadb.Database, coll: lumadb.Collection, keys: list[str], log: Log) -> None:
    for key in keys:
        try:
            doc = coll.get(key)
        except Exception as exc:
            log("RE", key, type(exc).__name__)
        else:
            log("R", key, "-" if doc is None else doc["v"])
    for shard, figures in enumerate(db.stats()["shards"]):
        log("RO", shard, figures["read_only"])


def main() -> int:
    args = parse()
    if args.canary:
        setattr(FAULTS, args.canary, True)
    log, shim = Log(args.events), Shim()
    db = lumadb.open(args.dir, durability=args.durability, shards=2)
    coll = db.create_collection("fsync", exist_ok=True)
    groups = [[f"t{t}-k{i:03d}" for i in range(args.keys)] for t in range(args.threads)]
    learn_shards(db, coll, [k for g in groups for k in g], log)
    shim.arm()
    print("ARMED", flush=True)
    threads = [
        threading.Thread(target=write_until_failure_seen, args=(coll, g, args, shim, log))
        for g in groups
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    read_back(db, coll, [k for g in groups for k in g], log)
    try:
        db.close()
    except lumadb.LumaError as exc:
        log("CLOSE", type(exc).__name__)
    else:
        log("CLOSE", "ok")
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
