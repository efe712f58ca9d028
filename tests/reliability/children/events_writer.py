"""Writer for the events chaos test: inserts and updates documents while triggers deliver.

Opens ``--dir`` (creating collection ``ev`` and trigger ``chaos`` to ``--url`` the first time),
then writes document ``w<i>`` for i from the number already stored upwards, and every tenth
write also updates ``w<i-5>`` (``v = 2``), one acknowledged write at a time, until killed.
stdout: ``WRITING`` once the trigger runs, then ``WROTE <i>`` after each acknowledged insert.
"""

from __future__ import annotations

import argparse

import lumadb
from lumadb.config import load_settings
from lumadb.storage.faults import FAULTS

RETRY = {"max_attempts": 100, "backoff_ms": 2, "max_backoff_ms": 50, "timeout_ms": 2000}


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--canary", choices=["", "events_cursor_first"], default="")
    return p.parse_args()


def open_db(path: str) -> lumadb.Database:
    overrides = {"storage.shards": 2, "events.allow_private": ["127.0.0.0/8"]}
    return lumadb.open(path, config=load_settings(overrides=overrides, env={}))


def main() -> None:
    args = parse()
    if args.canary:
        setattr(FAULTS, args.canary, True)
    db = open_db(args.dir)
    coll = db.create_collection("ev", exist_ok=True)
    if not db.triggers():
        db.create_trigger("chaos", "ev", {"type": "webhook", "url": args.url}, retry=RETRY)
    print("WRITING", flush=True)
    i = coll.count()
    while True:
        coll.put(f"w{i:06d}", {"i": i})
        if i % 10 == 0 and i >= 5:
            coll.put(f"w{i - 5:06d}", {"i": i - 5, "v": 2})
        print(f"WROTE {i}", flush=True)
        i += 1


if __name__ == "__main__":
    main()
