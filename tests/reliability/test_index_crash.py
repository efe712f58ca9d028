"""kill -9 of a writer of indexed documents: the indexes agree with the documents afterwards.

A child (``children/index_writer.py``) puts, replaces, deletes and batch-writes documents of
a collection with an index, from two threads, and is killed with SIGKILL at a random moment,
CYCLES times. After each kill the test opens the data directory and compares, shard by shard,
the entries of the value index and of the text index with the entries the documents call for:
extra entries (an index pointing at a document that is gone or changed) and missing ones must
both be 0. Canary: with
``FAULTS.index_outside_batch`` the writer commits index entries on their own, just before the
document's batch, and the kills must leave disagreements.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from reliability_kit import Child, child_env, report

import lumadb
from lumadb.service.indexes import IndexHook
from lumadb.service.text import TextHook
from lumadb.storage import keys

CYCLES = 8


def _disagreements(path: str) -> tuple[int, int, int]:
    """(extra entries, missing entries, documents) over every shard."""
    extra = missing = documents = 0
    with lumadb.open(path, shards=2) as db:
        svc = db._svc
        spec = svc._specs["ix"]
        index, text = spec.indexes
        for shard in svc.store.shards:
            hook = IndexHook(spec, index, shard)
            words = TextHook(spec, text)
            want: set[tuple[bytes, bytes]] = set()
            cut = len(spec.prefix)
            for key, body in shard.scan(spec.prefix, keys.prefix_end(spec.prefix)):
                documents += 1
                entry = hook.entry(key[cut:], body)
                if entry is not None:
                    want.add((entry, b""))
                want.update(words.entries(key[cut:], body).items())
            have = set()
            for prefix in (hook.entries, words.postings, words.lengths):
                have.update(shard.scan(prefix, keys.prefix_end(prefix)))
            extra += len(have - want)
            missing += len(want - have)
    return extra, missing, documents


def _run(tmp_path: Path, canary: str = "") -> dict[str, int]:
    data = str(tmp_path / "data")
    rng = random.Random(17)
    extra = missing = documents = 0
    for cycle in range(CYCLES):
        args = ["--dir", data, "--seed", str(cycle)] + (["--canary", canary] if canary else [])
        with Child("index_writer.py", args, tmp_path / f"writer{cycle}.err", child_env()) as child:
            child.expect("WRITING")
            time.sleep(rng.uniform(0.1, 0.4))
            child.kill()
        e, m, documents = _disagreements(data)
        extra, missing = extra + e, missing + m
    return {"kills": CYCLES, "documents": documents, "extra": extra, "missing": missing}


@pytest.mark.slow
def test_the_index_agrees_with_the_documents_after_every_kill(
    tmp_path: Path, record_property: object
) -> None:
    figures = _run(tmp_path)
    report(record_property, "index kill -9", figures)  # type: ignore[arg-type]
    assert figures["documents"] > 0
    assert figures["extra"] == 0
    assert figures["missing"] == 0


@pytest.mark.slow
def test_canary_index_entries_outside_the_batch_disagree_after_kills(
    tmp_path: Path, record_property: object
) -> None:
    figures = _run(tmp_path, canary="index_outside_batch")
    report(record_property, "index kill -9 canary", figures)  # type: ignore[arg-type]
    assert figures["extra"] + figures["missing"] > 0
