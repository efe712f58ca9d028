"""Writer for the replica crash test: changes documents and asks aggregates until killed.

Two threads put, replace, delete and batch-write documents of collection ``rc`` (fields ``n``,
a whole number, ``g``, a text, ``x``, a whole number or a float); a third runs an aggregate
query in a loop, so the columnar replica is applying the change feed when the kill comes.
stdout: ``WRITING`` once the replica has been built and everything runs.
"""

from __future__ import annotations

import argparse
import random
import threading

import lumadb
from lumadb.storage.faults import FAULTS


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--canary", choices=["", "replica_cursor_first"], default="")
    return p.parse_args()


def doc(rng: random.Random) -> dict[str, object]:
    x: object = rng.randrange(50) if rng.random() < 0.5 else rng.random() * 50
    return {"n": rng.randrange(20), "g": rng.choice("abcde"), "x": x}


def work(coll: lumadb.Collection, seed: int) -> None:
    rng = random.Random(seed)
    while True:
        key = f"k{rng.randrange(2000):04d}"
        roll = rng.random()
        if roll < 0.6:
            coll.put(key, doc(rng))
        elif roll < 0.8:
            coll.delete(key)
        else:
            coll.put_many([(f"k{rng.randrange(2000):04d}", doc(rng)) for _ in range(50)])


def ask(db: lumadb.Database) -> None:
    while True:
        db.execute("SELECT g, count(*), sum(n), avg(x) FROM rc GROUP BY g")


def main() -> None:
    args = parse()
    if args.canary:
        setattr(FAULTS, args.canary, True)
    db = lumadb.open(args.dir, shards=2, durability="off")
    coll = db.create_collection("rc", exist_ok=True)
    db.execute("SELECT count(*) FROM rc")  # the replica exists before the kills start
    for t in range(2):
        threading.Thread(target=work, args=(coll, args.seed * 10 + t), daemon=True).start()
    threading.Thread(target=ask, args=(db,), daemon=True).start()
    print("WRITING", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
