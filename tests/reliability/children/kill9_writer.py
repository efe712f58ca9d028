"""Writer for the kill -9 loop: writes increasing versions of its keys until it is killed.

Each thread owns a disjoint set of keys and writes ``{"v": n, "k": key}`` with n increasing by
one per write of that key. Around every put it appends a line to the log (one ``write(2)`` of
a whole line on an ``O_APPEND`` descriptor, so a SIGKILL never leaves half a line and the line
survives the kill in the page cache)::

    T <key> <n>     before the put: version n of key is in flight
    A <key> <n>     after the put returned: version n is acknowledged

On start it reads every key back and continues from the stored version. stdout protocol:
``READY <open_ms> <read_ms>`` once the first read succeeded, ``WRITING`` once the threads run.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import lumadb
from lumadb.storage.faults import FAULTS


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--durability", default="group")
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--keys", type=int, default=200, help="keys per thread")
    p.add_argument("--rate", type=float, default=0.0, help="puts/s per thread, 0 = unpaced")
    p.add_argument("--max-seconds", type=float, default=60.0)
    p.add_argument("--canary", choices=["", "wal_disabled"], default="")
    return p.parse_args()


def key_names(threads: int, per_thread: int) -> list[list[str]]:
    return [[f"t{t}-k{i:04d}" for i in range(per_thread)] for t in range(threads)]


def writer(
    coll: lumadb.Collection,
    mine: list[str],
    version: dict[str, int],
    fd: int,
    rate: float,
    stop: threading.Event,
) -> None:
    interval = 1.0 / rate if rate > 0 else 0.0
    next_at = time.monotonic()
    i = 0
    while not stop.is_set():
        key = mine[i % len(mine)]
        i += 1
        n = version[key] + 1
        os.write(fd, f"T {key} {n}\n".encode())
        coll.put(key, {"v": n, "k": key})
        os.write(fd, f"A {key} {n}\n".encode())
        version[key] = n
        if interval:
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def main() -> int:
    args = parse()
    if args.canary:
        setattr(FAULTS, args.canary, True)
    t0 = time.monotonic()
    db = lumadb.open(args.dir, durability=args.durability, shards=args.shards)
    coll = db.create_collection("kill9", exist_ok=True)
    t1 = time.monotonic()
    groups = key_names(args.threads, args.keys)
    flat = [k for g in groups for k in g]
    docs = coll.get_many(flat)
    t2 = time.monotonic()
    version = {k: (d["v"] if d else 0) for k, d in zip(flat, docs, strict=True)}
    print(f"READY {(t1 - t0) * 1000:.1f} {(t2 - t1) * 1000:.1f}", flush=True)
    fd = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    stop = threading.Event()
    errors: list[BaseException] = []

    def run(mine: list[str]) -> None:
        try:
            writer(coll, mine, version, fd, args.rate, stop)
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=run, args=(g,), daemon=True) for g in groups]
    for t in threads:
        t.start()
    print("WRITING", flush=True)
    stop.wait(args.max_seconds)
    stop.set()
    for t in threads:
        t.join()
    if errors:
        print(f"writer failed: {errors[0]!r}", file=sys.stderr)
        return 1
    db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
