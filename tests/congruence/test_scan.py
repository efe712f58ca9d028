"""Scans and counts: the same ranges, in the same order, on both engines.

Expected answers come from a model (Python's sorted ids), so a bug shared by both engines
cannot hide behind their agreement.
"""

from __future__ import annotations

from typing import Any

ENGINES = ("embedded", "rocks", "remote")

IDS = ["a", "a1", "a2", "ab", "b", "b1", "b2", "ba", "c", "é", "ü", "東"]


def _docs(db: Any, name: str) -> Any:
    docs = db.create_collection(name)
    docs.put_many([(i, {"id_len": len(i)}) for i in IDS])
    return docs


def _model(
    prefix: str | None = None,
    start: str | None = None,
    end: str | None = None,
    limit: int | None = None,
    reverse: bool = False,
) -> list[tuple[str, dict[str, int]]]:
    ids = sorted(IDS)
    ids = [i for i in ids if i.startswith(prefix or "")]
    ids = [i for i in ids if (start is None or i >= start) and (end is None or i < end)]
    ids = ids[::-1] if reverse else ids
    return [(i, {"id_len": len(i)}) for i in ids[:limit]]


RANGES: list[dict[str, Any]] = [
    {},
    {"prefix": "a"},
    {"prefix": "b", "limit": 2},
    {"prefix": "zz"},
    {"prefix": ""},
    {"limit": 0},
    {"limit": 100},
    {"start": "a2"},  # an existing id: inclusive
    {"start": "a3"},  # between ids
    {"start": ""},
    {"start": "b", "limit": 3},
    {"start": "a", "prefix": "b"},  # before the prefix
    {"start": "b2", "prefix": "b"},
    {"start": "c", "prefix": "b"},  # after the prefix
    {"end": "b"},
    {"end": "b1", "prefix": "b"},
    {"end": ""},
    {"start": "a1", "end": "b1"},
    {"start": "b", "end": "b"},
    {"start": "c", "end": "a"},
    {"start": "é", "end": "東"},
    {"reverse": True},
    {"reverse": True, "limit": 3},
    {"reverse": True, "prefix": "a", "limit": 2},
    {"reverse": True, "start": "a2", "end": "b2"},
    {"reverse": True, "limit": 0},
]


def test_scan_ranges(db: Any, name: str) -> None:
    docs = _docs(db, name)
    # One body for every range (not one test each): a RocksDB open per range costs more
    # than all the scans; the message names the range that went wrong.
    for rng in RANGES:
        assert list(docs.scan(**rng)) == _model(**rng), rng


def test_scan_takes_positional_arguments(db: Any, name: str) -> None:
    docs = _docs(db, name)
    assert list(docs.scan("b", None, None, 1)) == _model(prefix="b", limit=1)


def test_counts(db: Any, name: str) -> None:
    docs = _docs(db, name)
    assert docs.count() == len(IDS)
    assert docs.count("a") == 4
    assert docs.count(prefix="b") == 4
    assert docs.count("zz") == 0
    assert docs.count("") == len(IDS)


def test_scans_and_counts_across_many_pages(db: Any, name: str) -> None:
    docs = db.create_collection(name)
    total = 2345  # over two of the listing's 1000-document pages
    docs.put_many([(f"k{i:05}", {"i": i}) for i in range(total)])
    assert docs.count() == total
    assert docs.count("k01") == 1000
    everything = list(docs.scan())
    assert [i for i, _ in everything] == [f"k{i:05}" for i in range(total)]
    assert everything[1234] == ("k01234", {"i": 1234})
    window = list(docs.scan(start="k00990", limit=1200))
    assert [d["i"] for _, d in window] == list(range(990, 2190))
    ending = list(docs.scan(start="k00999", end="k02001"))
    assert len(ending) == 1002 and ending[-1][0] == "k02000"
    backwards = list(docs.scan(reverse=True, limit=1001))
    assert [d["i"] for _, d in backwards] == list(range(total - 1, total - 1002, -1))


def test_a_scan_is_a_lazy_iterator(db: Any, name: str) -> None:
    docs = _docs(db, name)
    pairs = docs.scan()
    assert iter(pairs) is pairs
    assert next(pairs) == ("a", {"id_len": 1})
    assert len(list(pairs)) == len(IDS) - 1
