"""Writer for the vector crash test: changes documents with vectors and searches until killed.

Two threads put, replace, delete and batch-write documents of collection ``vc`` whose field
``e`` is a vector of 8 numbers (sometimes missing); a third searches in a loop, so the vector
index is applying the change feed (and saving its file every 200 changes) when the kill comes.
stdout: ``WRITING`` once the index exists and everything runs.
"""

from __future__ import annotations

import argparse
import random
import threading

import lumadb
from lumadb.storage.faults import FAULTS
from lumadb.vector import vector_set

DIM = 8


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--canary", choices=["", "vector_skip_feed"], default="")
    return p.parse_args()


def doc(rng: random.Random) -> dict[str, object]:
    if rng.random() < 0.1:
        return {"n": rng.randrange(9)}  # no vector: never found
    return {"e": [rng.uniform(-1, 1) for _ in range(DIM)]}


def work(coll: lumadb.Collection, seed: int) -> None:
    rng = random.Random(seed)
    while True:
        key = f"k{rng.randrange(1500):04d}"
        roll = rng.random()
        if roll < 0.6:
            coll.put(key, doc(rng))
        elif roll < 0.8:
            coll.delete(key)
        else:
            coll.put_many([(f"k{rng.randrange(1500):04d}", doc(rng)) for _ in range(40)])


def ask(coll: lumadb.Collection, seed: int) -> None:
    rng = random.Random(seed)
    while True:
        coll.search([rng.uniform(-1, 1) for _ in range(DIM)], k=5)


def main() -> None:
    args = parse()
    if args.canary:
        setattr(FAULTS, args.canary, True)
    vector_set.SAVE_EVERY = 200  # save often, so kills land around saves
    db = lumadb.open(args.dir, shards=2, durability="off")
    coll = db.create_collection("vc", exist_ok=True)
    coll.create_vector_index("e", dim=DIM, metric="l2", index="flat", exist_ok=True)
    coll.search([0.0] * DIM, k=1)
    for t in range(2):
        threading.Thread(target=work, args=(coll, args.seed * 10 + t), daemon=True).start()
    threading.Thread(target=ask, args=(coll, args.seed), daemon=True).start()
    print("WRITING", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
