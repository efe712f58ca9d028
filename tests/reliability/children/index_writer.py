"""Writer for the index crash test: changes indexed documents until it is killed.

Documents of collection ``ix`` have a field ``g`` that the index ``ix_g`` covers; the writer
puts, replaces (moving ``g`` to another value, to null, to an array), deletes and writes
batches of them, from two threads, as fast as it can. stdout: ``WRITING`` once it runs.
"""

from __future__ import annotations

import argparse
import random
import threading

import lumadb
from lumadb.storage.faults import FAULTS

VALUES: list[object] = ["a", "b", "c", 1, 2.5, True, None, ["a"], {"x": 1}]


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--canary", choices=["", "index_outside_batch"], default="")
    return p.parse_args()


TEXTS = ["red fox", "blue fox jumps", "red red hen", "", "quick brown dog"]


def doc(rng: random.Random) -> dict[str, object]:
    value = rng.choice(VALUES)
    text = rng.choice(TEXTS)
    if value is None:
        return {"n": rng.randrange(1000), "t": text}
    return {"g": value, "n": rng.randrange(9), "t": text}


def work(coll: lumadb.Collection, seed: int) -> None:
    rng = random.Random(seed)
    while True:
        key = f"k{rng.randrange(300):03d}"
        roll = rng.random()
        if roll < 0.6:
            coll.put(key, doc(rng))
        elif roll < 0.8:
            coll.delete(key)
        else:
            coll.put_many([(f"k{rng.randrange(300):03d}", doc(rng)) for _ in range(20)])


def main() -> None:
    args = parse()
    if args.canary:
        setattr(FAULTS, args.canary, True)
    db = lumadb.open(args.dir, shards=2, durability="off")
    db.create_collection("ix", exist_ok=True)
    db.query("CREATE INDEX IF NOT EXISTS ix_g ON ix (g)")
    db.query("CREATE TEXT INDEX IF NOT EXISTS ix_t ON ix (t)")
    coll = db.collection("ix")
    for t in range(2):
        threading.Thread(target=work, args=(coll, args.seed * 10 + t), daemon=True).start()
    print("WRITING", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
