"""Full-text search: MATCH over a text index (or a scan), ranked by BM25 score()."""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lumadb
from lumadb.errors import QueryError
from lumadb.service.local import LocalService

WORDS = ["apple", "banana", "cherry", "date", "elder", "fig", "grape", "Apple"]


def _corpus(seed: int, count: int) -> dict[str, dict[str, Any]]:
    rng = random.Random(seed)
    docs: dict[str, dict[str, Any]] = {}
    for i in range(count):
        words = rng.choices(WORDS, k=rng.randint(0, 12))
        body: Any = " ".join(words) + rng.choice(["", ".", "!", " -- 42"])
        if i % 9 == 0:
            body = [" ".join(words[:3]), " ".join(words[3:])]  # the texts of an array
        if i % 13 == 0:
            body = 7  # no text: never matches
        docs[f"d{i:03d}"] = {"body": body, "n": i}
    return docs


def _terms(value: Any) -> list[str]:
    texts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return [w for t in texts if isinstance(t, str) for w in re.findall(r"\w+", t.lower())]


def _bm25(docs: dict[str, dict[str, Any]], words: list[str]) -> dict[str, float]:
    """The reference: BM25 (k1 1.2, b 0.75) of the documents holding every word."""
    fields = {i: Counter(_terms(d["body"])) for i, d in docs.items()}
    fields = {i: c for i, c in fields.items() if c}
    n = len(fields)
    average = sum(sum(c.values()) for c in fields.values()) / n
    scores = {}
    for doc_id, counts in fields.items():
        if not all(counts[w] for w in words):
            continue
        length = sum(counts.values())
        total = 0.0
        for w in words:
            held = sum(1 for c in fields.values() if c[w])
            idf = math.log(1 + (n - held + 0.5) / (held + 0.5))
            tf = counts[w]
            total += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / average))
        scores[doc_id] = total
    return scores


@pytest.fixture
def db() -> Iterator[lumadb.Database]:
    with lumadb.open(":memory:", shards=3) as opened:
        opened.create_collection("t")
        yield opened


def _load(db: lumadb.Database, docs: dict[str, dict[str, Any]]) -> None:
    db.collection("t").put_many(list(docs.items()))


@pytest.mark.parametrize("seed", range(4))
def test_match_and_score_agree_with_the_reference(db: lumadb.Database, seed: int) -> None:
    docs = _corpus(seed, 150)
    _load(db, docs)
    rng = random.Random(seed)
    queries = [" ".join(rng.sample(WORDS[:7], rng.randint(1, 3))) for _ in range(6)]
    scanned = [
        [r["id"] for r in db.query("SELECT id FROM t WHERE MATCH(body, ?) ORDER BY id", [q])]
        for q in queries
    ]
    db.query("CREATE TEXT INDEX t_body ON t (body)")
    for q, before in zip(queries, scanned, strict=True):
        words = list(dict.fromkeys(re.findall(r"\w+", q.lower())))
        want = _bm25(docs, words)
        rows = db.query("SELECT id, score() AS s FROM t WHERE MATCH(body, ?) ORDER BY id", [q])
        assert [r["id"] for r in rows] == before == sorted(want), q
        for r in rows:
            assert r["s"] == pytest.approx(want[r["id"]]), (q, r)


def test_the_index_answers_without_a_scan(
    db: lumadb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(db, _corpus(9, 60))
    db.query("CREATE TEXT INDEX t_body ON t (body)")
    expected = db.query("SELECT id FROM t WHERE MATCH(body, 'fig grape') ORDER BY id")

    def no_scan(*args: object, **kwargs: object) -> object:
        raise AssertionError("scanned the collection")

    monkeypatch.setattr(LocalService, "scan", no_scan)
    assert db.query("SELECT id FROM t WHERE MATCH(body, 'fig grape') ORDER BY id") == expected
    plan = db.query("EXPLAIN SELECT id FROM t WHERE MATCH(body, 'fig')")
    assert plan[0]["plan"].startswith("Text index lookup on t by t_body")


def test_the_index_follows_writes_and_restarts(tmp_path: Path) -> None:
    path = str(tmp_path / "data")
    with lumadb.open(path, shards=2) as db:
        db.create_collection("t")
        db.query("CREATE TEXT INDEX t_body ON t (body)")
        c = db.collection("t")
        c.put("a", {"body": "red fox"})
        c.put("b", {"body": "red hen"})
        c.put("a", {"body": "blue fox"})  # replaces its terms
        c.delete("b")
        c.put("c", {"body": "Red, RED; red!"})
    with lumadb.open(path, shards=2) as db:
        found = db.query("SELECT id, score() AS s FROM t WHERE MATCH(body, 'red') ORDER BY id")
        assert [r["id"] for r in found] == ["c"]
        assert db.query("SELECT id FROM t WHERE MATCH(body, 'fox')") == [{"id": "a"}]
        assert db.query("DROP INDEX t_body") == [{"index": "t_body", "dropped": True}]
        assert db.query("SELECT id FROM t WHERE MATCH(body, 'fox')") == [{"id": "a"}]
        with pytest.raises(QueryError, match="needs a text index"):
            db.query("SELECT score() FROM t WHERE MATCH(body, 'fox')")


def test_bad_text_queries_are_query_errors(db: lumadb.Database) -> None:
    db.collection("t").put("a", {"body": "some words"})
    for text, words in [
        ("SELECT score() FROM t", "needs a MATCH"),
        ("SELECT id FROM t WHERE MATCH(body)", "MATCH takes a field and a text"),
        ("SELECT id FROM t WHERE MATCH(body, 3)", "words as a text"),
        ("SELECT score(1) FROM t WHERE MATCH(body, 'x')", "takes no arguments"),
    ]:
        with pytest.raises(QueryError, match=words):
            db.query(text)
