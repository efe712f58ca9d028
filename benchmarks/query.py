"""Suite ``query``: LQL against the embedded API and against SQLite, in one process.

``point_vs_get``
    ``SELECT * FROM docs WHERE id = ?`` through ``db.execute`` against ``collection.get`` of
    the same ids (uniformly random, existing), on the same open database: what planning once
    per statement text leaves of the direct read.
``group_by_vs_duckdb``
    ``SELECT g, count(*), sum(n), avg(n) FROM docs GROUP BY g`` over every document through
    ``db.execute`` (answered by the columnar replica, which first checks the change feed for
    writes to apply) against DuckDB running the same over an in-memory Arrow table of the same
    fields: what the replica and LQL's planning leave of DuckDB's own speed. The replica is
    built by one query before timing starts, as it is in a running database.
``group_by_vs_sqlite``
    The same GROUP BY against SQLite over the same documents stored as JSON text, with
    ``json_extract``.
``text_vs_fts5``
    ``SELECT id FROM notes WHERE MATCH(body, ?)`` with two words, over a text index, against
    SQLite's FTS5 answering ``... WHERE notes MATCH ?`` (also every word) over the same
    texts: the RocksDB-kept index (chosen because its entries join the document's batch)
    against a purpose-built inverted index. No target is set; the figure is reported.

The contenders take turns chunk by chunk (:func:`benchmarks.harness.interleave`).
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass

import duckdb
import orjson
import pyarrow as pa

import lumadb
from benchmarks.harness import Progress, Report, interleave, settle

__all__ = ["run"]

SEED = 4_000_037
GROUPS = 50
CHUNK = 2000  # point reads per chunk

TARGETS = {"point_vs_get": 0.5, "group_by_vs_duckdb": 0.5, "group_by_vs_sqlite": 10.0}
VOCABULARY = 2000  # distinct words of the texts, drawn Zipf-like
TEXT_QUERIES = 200  # searches per chunk
GROUP_BY = "SELECT g, count(*) AS c, sum(n) AS s, avg(n) AS a FROM docs GROUP BY g ORDER BY g"
GROUP_BY_SQLITE = (
    "SELECT json_extract(doc, '$.g') AS g, count(*), sum(json_extract(doc, '$.n')), "
    "avg(json_extract(doc, '$.n')) FROM docs GROUP BY 1 ORDER BY 1"
)


@dataclass(frozen=True)
class Size:
    """How much one run does."""

    documents: int
    reads: int
    rounds: int


QUICK = Size(documents=50_000, reads=20_000, rounds=6)
FULL = Size(documents=1_000_000, reads=100_000, rounds=7)


class _Points:
    """Point reads of ``ids`` by ``read``, CHUNK at a time."""

    def __init__(self, read: object, ids: list[str]) -> None:
        self._read = read
        self._ids = ids
        self.ops = len(ids)
        self.chunks = len(ids) // CHUNK

    def start(self) -> None:
        """Nothing to prepare: the database stays open."""

    def chunk(self, index: int) -> None:
        read = self._read
        for doc_id in self._ids[index * CHUNK : (index + 1) * CHUNK]:
            read(doc_id)  # type: ignore[operator]

    def finish(self) -> None:
        """Nothing to release."""


class _Aggregate:
    """One GROUP BY over every document per chunk."""

    def __init__(self, run_once: object, documents: int, chunks: int) -> None:
        self._run = run_once
        self.ops = documents * chunks  # documents aggregated
        self.chunks = chunks
        self.last: object = None

    def start(self) -> None:
        """Nothing to prepare."""

    def chunk(self, index: int) -> None:
        self.last = self._run()  # type: ignore[operator]

    def finish(self) -> None:
        """Nothing to release."""


def run(quick: bool) -> Report:
    """Run the suite."""
    size = QUICK if quick else FULL
    say = Progress("query")
    rng = random.Random(SEED)
    docs = [
        (f"d{i:07d}", {"g": rng.randrange(GROUPS), "n": rng.randint(0, 1000), "t": "x" * 80})
        for i in range(size.documents)
    ]
    ids = [rng.choice(docs)[0] for _ in range(size.reads - size.reads % CHUNK)]
    report = Report("query", targets=TARGETS)
    with lumadb.open(":memory:") as db:
        say(f"loading {size.documents:,} documents")
        collection = db.create_collection("docs")
        for at in range(0, len(docs), 5000):
            collection.put_many(docs[at : at + 5000])
        lite = sqlite3.connect(":memory:")
        lite.execute("CREATE TABLE docs (id TEXT PRIMARY KEY, doc TEXT)")
        lite.executemany(
            "INSERT INTO docs VALUES (?, ?)", [(i, orjson.dumps(d).decode()) for i, d in docs]
        )
        settle()
        point = "SELECT * FROM docs WHERE id = ?"
        say(f"point reads: {size.rounds} rounds of {len(ids):,}")
        rates = interleave(
            size.rounds,
            {
                "lql": _Points(lambda i: db.execute(point, [i]), ids),
                "get": _Points(collection.get, ids),
            },
        )
        report.add_ratio("point_vs_get", rates, "lql", "get")
        report.add_rates("point", rates)
        say(f"GROUP BY over {size.documents:,} documents")
        duck = duckdb.connect(":memory:")
        arrow = pa.table(
            {
                "g": [d["g"] for _, d in docs],
                "n": [d["n"] for _, d in docs],
                "t": [d["t"] for _, d in docs],
            }
        )
        duck.register("docs", arrow)
        db.execute(GROUP_BY)  # builds the replica
        settle()
        ours = _Aggregate(lambda: db.execute(GROUP_BY).rows, size.documents, 2)
        theirs = _Aggregate(lambda: lite.execute(GROUP_BY_SQLITE).fetchall(), size.documents, 2)
        peer = _Aggregate(lambda: duck.execute(GROUP_BY).fetchall(), size.documents, 2)
        rates = interleave(size.rounds, {"lql": ours, "sqlite": theirs, "duckdb": peer})
        _check_same_groups(ours.last, theirs.last)
        _check_same_groups(ours.last, peer.last)
        report.add_ratio("group_by_vs_duckdb", rates, "lql", "duckdb")
        report.add_ratio("group_by_vs_sqlite", rates, "lql", "sqlite")
        report.add_rates("group_by", rates, "docs_s")
        report.figures["columnar_answers"] = db.stats()["columnar"]["answered"]
        lite.close()
        duck.close()
        _text(db, rng, size, report, say)
    report.figures["documents"] = size.documents
    report.packages("sqlglot", "duckdb", "pyarrow")
    report.versions["sqlite"] = sqlite3.sqlite_version
    return report


class _Searches:
    """``search(words)`` for each query, all of them per chunk."""

    def __init__(self, search: object, queries: list[str], chunks: int) -> None:
        self._search = search
        self._queries = queries
        self.ops = len(queries) * chunks
        self.chunks = chunks
        self.found = 0

    def start(self) -> None:
        """Nothing to prepare."""

    def chunk(self, index: int) -> None:
        self.found = sum(len(self._search(q)) for q in self._queries)  # type: ignore[operator]

    def finish(self) -> None:
        """Nothing to release."""


def _text(
    db: lumadb.Database, rng: random.Random, size: Size, report: Report, say: Progress
) -> None:
    words = [f"w{i}" for i in range(VOCABULARY)]
    weights = [1 / (i + 1) for i in range(VOCABULARY)]
    count = size.documents // 2
    texts = [(f"n{i:07d}", " ".join(rng.choices(words, weights, k=12))) for i in range(count)]
    say(f"text search over {count:,} documents")
    notes = db.create_collection("notes")
    db.query("CREATE TEXT INDEX notes_body ON notes (body)")
    for at in range(0, count, 5000):
        notes.put_many([(i, {"body": t}) for i, t in texts[at : at + 5000]])
    lite = sqlite3.connect(":memory:")
    lite.execute("CREATE VIRTUAL TABLE notes USING fts5(id UNINDEXED, body)")
    lite.executemany("INSERT INTO notes VALUES (?, ?)", texts)
    queries = [" ".join(rng.sample(words[10:200], 2)) for _ in range(TEXT_QUERIES)]
    text = "SELECT id FROM notes WHERE MATCH(body, ?)"
    fts = "SELECT id FROM notes WHERE notes MATCH ?"
    settle()
    ours = _Searches(lambda q: db.execute(text, [q]).rows, queries, 2)
    theirs = _Searches(lambda q: lite.execute(fts, [q]).fetchall(), queries, 2)
    rates = interleave(size.rounds, {"lql": ours, "fts5": theirs})
    if ours.found != theirs.found:
        raise RuntimeError(f"MATCH found {ours.found} rows, FTS5 {theirs.found}")
    report.add_ratio("text_vs_fts5", rates, "lql", "fts5")
    report.add_rates("text", rates, "searches_s")
    report.figures["text_rows_found"] = ours.found
    lite.close()


def _check_same_groups(ours: object, theirs: object) -> None:
    if not isinstance(ours, list) or not isinstance(theirs, list):
        raise RuntimeError("a GROUP BY gave no rows")
    if [r[:3] for r in ours] != [list(r[:3]) for r in theirs]:
        raise RuntimeError("LQL and SQLite disagree on the GROUP BY")
