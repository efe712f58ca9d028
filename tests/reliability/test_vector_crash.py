"""kill -9 of a process whose vector index follows busy writers: it agrees afterwards.

A child (``children/vector_writer.py``) writes documents with vectors from two threads while a
third searches, so the index is applying the change feed and saving its file when it is killed
with SIGKILL, CYCLES times. After each kill the test opens the data directory and compares
the index, after its first search (which loads the saved file and catches up from the feed),
with the documents: vectors missing from the index, ids in the index that no document has
(deleted or without a vector), and vectors that differ from the document's must all be 0;
and a search for every document's own vector in the exact (flat) index finds it at distance 0.
The part must load its file rather than rebuild from a scan (a rebuild would hide a lost
place). Canary: with ``FAULTS.vector_skip_feed`` a loaded part takes its shards' newest
positions as its place without reading the records after its file, and the kills must leave
disagreements.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import pytest
from reliability_kit import Child, child_env, report

import lumadb
from lumadb.storage.faults import FAULTS

CYCLES = 6


def _compare(path: str) -> dict[str, int]:
    with lumadb.open(path, shards=2) as db:
        coll = db.collection("vc")
        docs = {i: d["e"] for i, d in coll.scan() if "e" in d}
        coll.search([0.0] * 8, k=1)  # load and catch up
        vectors = db._svc._vectors
        assert vectors is not None
        (part,) = vectors._parts.values()  # type: ignore[attr-defined]
        indexed = set(part.where)
        changed = 0
        for doc_id in indexed & set(docs):
            stored = part.vector_of(doc_id)
            if stored is None or not np.allclose(stored, docs[doc_id], atol=1e-6):
                changed += 1
        sample = random.Random(5).sample(sorted(docs), min(40, len(docs)))
        unfound = 0
        for doc_id in sample:
            hits = coll.search(docs[doc_id], k=1)
            unfound += int(not hits or hits[0]["id"] != doc_id)
        return {
            "documents": len(docs),
            "missing": len(set(docs) - indexed),
            "extra": len(indexed - set(docs)),
            "changed": changed,
            "unfound": unfound,
            "rebuilds": vectors.builds,  # type: ignore[attr-defined]
        }


def _run(tmp_path: Path, canary: str = "") -> dict[str, int]:
    data = str(tmp_path / "data")
    rng = random.Random(29)
    figures = {"kills": CYCLES, "documents": 0, "missing": 0, "extra": 0, "changed": 0}
    figures |= {"unfound": 0, "rebuilds": 0}
    for cycle in range(CYCLES):
        args = ["--dir", data, "--seed", str(cycle)] + (["--canary", canary] if canary else [])
        with Child("vector_writer.py", args, tmp_path / f"writer{cycle}.err", child_env()) as child:
            child.expect("WRITING")
            time.sleep(rng.uniform(0.3, 0.8))
            child.kill()
        if canary:
            FAULTS.vector_skip_feed = True
        try:
            found = _compare(data)
        finally:
            FAULTS.reset()
        figures["documents"] = found["documents"]
        for key in ("missing", "extra", "changed", "unfound", "rebuilds"):
            figures[key] += found[key]
    return figures


@pytest.mark.slow
def test_the_vector_index_agrees_with_the_documents_after_every_kill(
    tmp_path: Path, record_property: object
) -> None:
    figures = _run(tmp_path)
    report(record_property, "vector kill -9", figures)  # type: ignore[arg-type]
    assert figures["documents"] > 0
    assert figures["rebuilds"] == 0  # loaded its file and caught up, not rebuilt
    assert figures["missing"] == figures["extra"] == figures["changed"] == 0
    assert figures["unfound"] == 0


@pytest.mark.slow
def test_canary_a_part_that_skips_the_feed_disagrees_after_kills(
    tmp_path: Path, record_property: object
) -> None:
    figures = _run(tmp_path, canary="vector_skip_feed")
    report(record_property, "vector kill -9 canary", figures)  # type: ignore[arg-type]
    assert figures["missing"] + figures["extra"] + figures["changed"] > 0
