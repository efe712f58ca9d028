"""Writes documents that stay only in the WAL, then dies by SIGKILL.

Opens an existing database (durability ``off``: each put is in the WAL file, in the page
cache, when it returns), puts ``--count`` documents ``<prefix>0000, <prefix>0001, ...`` in
that order from one thread, prints ``DONE`` and kills itself, so no memtable is flushed and
the newest ``*.log`` holds exactly those writes, in order.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal

import lumadb


def doc_for(key: str, i: int) -> dict[str, object]:
    # Same as test_corruption.doc_for: the test computes the expected documents itself.
    return {"k": key, "i": i, "body": hashlib.sha256(key.encode()).hexdigest()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--prefix", default="w")
    p.add_argument("--count", type=int, default=600)
    args = p.parse_args()
    db = lumadb.open(args.dir, durability="off")
    coll = db.collection("docs")
    for i in range(args.count):
        key = f"{args.prefix}{i:04d}"
        coll.put(key, doc_for(key, i))
    print("DONE", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
