"""Searches by text, and hybrid searches: BM25 and vectors fused by reciprocal rank.

A search by ``text`` embeds the text with the model of the vector field (its index's
``model``) and is then a vector search (:mod:`lumadb.query.search`). A ``hybrid`` search runs
two LQL statements over the same WHERE — the vector search and the full-text one,
``SELECT id, score() FROM c WHERE MATCH(field, ?) AND (...) ORDER BY score() DESC`` on a
text-indexed field — each ``depth`` deep, and fuses their rankings by reciprocal rank fusion
(Cormack et al., 2009): a document's score is the sum over the lists it is in of
``1 / (60 + rank)``, rank counted from 1. Fusing ranks, not scores, needs no calibration of
BM25 against distances. Each hit says its ``distance`` (vector) and ``text_score`` (BM25),
``null`` for a list it is not in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any

from sqlglot import exp

from lumadb.errors import InvalidArgument
from lumadb.query.execute import Engine, Prepared
from lumadb.query.parser import Lql
from lumadb.query.plans import Source
from lumadb.query.search import MAX_K, check_k, hits_of, search_statement, vector_field

__all__ = [
    "RRF_K",
    "SEARCH_KEYS",
    "HybridPlan",
    "SearchAsk",
    "fuse",
    "hybrid_hits",
    "hybrid_plan",
    "run_search",
    "text_field_of",
]

RRF_K = 60
SEARCH_KEYS = frozenset({"vector", "text", "k", "field", "where", "params", "hybrid", "text_field"})


@dataclass(frozen=True)
class SearchAsk:
    """What a search asks: by ``vector`` or ``text`` (or both, for a hybrid one)."""

    vector: Any = None
    text: Any = None
    k: Any = 10
    field: Any = None
    where: Any = None
    params: list[Any] = _field(default_factory=list)
    hybrid: Any = False
    text_field: Any = None

    @classmethod
    def of(cls, body: object) -> SearchAsk:
        """A search from a request body, every key and type checked."""
        if not isinstance(body, dict) or not ({"vector", "text"} & set(body)):
            raise InvalidArgument(
                'send {"vector": [numbers]} or {"text": "words"}, with "k"?, "where"?, "hybrid"?'
            )
        unknown = set(body) - SEARCH_KEYS
        if unknown:
            known = ", ".join(sorted(SEARCH_KEYS))
            raise InvalidArgument(f"unknown field {sorted(unknown)[0]!r}; known: {known}")
        return cls(**body)

    def check(self) -> None:
        """Refuse what no search can mean."""
        if not isinstance(self.params, list):
            raise InvalidArgument("params must be a list (for the ? of where)")
        if type(self.hybrid) is not bool:
            raise InvalidArgument("hybrid must be true or false")
        if self.text is not None and (not isinstance(self.text, str) or not self.text.strip()):
            raise InvalidArgument("text must be a non-empty text")
        if self.vector is None and self.text is None:
            raise InvalidArgument("a search needs a vector or a text")
        if self.hybrid and self.text is None:
            raise InvalidArgument("a hybrid search needs a text (its BM25 half)")


def run_search(
    ask: SearchAsk,
    collection: str,
    source: Source,
    engine: Engine,
    allow: Callable[[Prepared], None],
    *,
    with_ids: bool = False,
) -> list[dict[str, Any]]:
    """The hits of a search of ``collection``, its statements checked by ``allow`` first
    (documents carry their ``id`` when ``with_ids``, as REST's reads do)."""
    ask.check()
    described = source.describe_collection(collection)
    name, options = vector_field(described, ask.field)
    vector = ask.vector
    if vector is None:
        vector = source.embed_query(ask.text, None, collection, name.split("."))
    metric = options["metric"]

    def run(text: str, values: list[Any]) -> list[list[Any]]:
        prepared = engine.prepare(text)
        allow(prepared)
        return engine.run(prepared, values, source).rows

    def documents(ids: list[str]) -> list[dict[str, Any] | None]:
        found = source.get_many(collection, ids)
        if not with_ids:
            return found
        return [None if d is None else {"id": i, **d} for i, d in zip(ids, found, strict=True)]

    if not ask.hybrid:
        text, _ = search_statement(collection, name, metric, ask.k, ask.where)
        rows = run(text, [vector, *ask.params, vector])
        return hits_of(rows, documents([r[0] for r in rows]), metric)
    text_field = text_field_of(described, ask.text_field, options.get("embed_from", []))
    plan = hybrid_plan(collection, name, metric, text_field, ask.k, ask.where)
    near = run(plan.vector_statement, [vector, *ask.params, vector])
    matched = run(plan.text_statement, [ask.text, *ask.params])
    fused = fuse(near, matched, plan.k)
    return hybrid_hits(fused, documents([f[0] for f in fused]))


@dataclass(frozen=True)
class HybridPlan:
    """The two statements of a hybrid search (the vector one's two ``?`` are the query
    vector, the text one's first is the text) and how many hits to keep."""

    vector_statement: str
    text_statement: str
    k: int


def text_field_of(described: dict[str, Any], given: object, sources: Sequence[str]) -> str:
    """The text-indexed field a hybrid search matches: ``given``, else the only text index
    among the vector field's sources, else the collection's only text index."""
    texts = [i["path"] for i in described.get("indexes", []) if i.get("kind") == "text"]
    name = described.get("name", "the collection")
    if given is not None:
        if not isinstance(given, str) or given not in texts:
            raise InvalidArgument(f"{name} has no text index on {given!r}")
        return given
    among = [t for t in texts if t in sources] or texts
    if len(among) != 1:
        raise InvalidArgument(
            f"a hybrid search needs one text index on {name} (CREATE TEXT INDEX ...); "
            f"it has {len(texts) or 'none'}{': name one as text_field' if texts else ''}"
        )
    found: str = among[0]
    return found


def hybrid_plan(
    collection: str, field: str, metric: str, text_field: str, k: object, where: object
) -> HybridPlan:
    """The statements of a hybrid search for ``k`` hits."""
    count = check_k(k)  # the statement below parses (and checks) the WHERE once
    depth = min(MAX_K, max(2 * count, count + 20))
    vector_text, _ = search_statement(collection, field, metric, depth, where)
    # search_statement checked the WHERE is one condition; names are quoted identifiers.
    path = ".".join(_quoted(p) for p in text_field.split("."))
    condition = f"MATCH({path}, ?)" + ("" if where is None else f" AND ({where})")
    text_statement = (
        f"SELECT id, score() AS text_score FROM {_quoted(collection)} "  # noqa: S608
        f"WHERE {condition} ORDER BY score() DESC LIMIT {depth}"
    )
    return HybridPlan(vector_text, text_statement, count)


def fuse(
    vector_rows: Sequence[Sequence[Any]], text_rows: Sequence[Sequence[Any]], k: int
) -> list[tuple[str, float, float | None, float | None]]:
    """``(id, fused score, distance, text score)`` of the best ``k``, best first."""
    fused: dict[str, list[Any]] = {}
    for rank, (doc_id, distance) in enumerate(
        (r for r in vector_rows if r[1] is not None), start=1
    ):
        fused[doc_id] = [1 / (RRF_K + rank), distance, None]
    for rank, (doc_id, score) in enumerate(text_rows, start=1):
        entry = fused.setdefault(doc_id, [0.0, None, None])
        entry[0] += 1 / (RRF_K + rank)
        entry[2] = score
    best = sorted(fused.items(), key=lambda item: (-item[1][0], item[0]))[:k]
    return [(doc_id, score, distance, text) for doc_id, (score, distance, text) in best]


def hybrid_hits(
    fused: Sequence[tuple[str, float, float | None, float | None]],
    documents: Sequence[dict[str, Any] | None],
) -> list[dict[str, Any]]:
    """The hits of a fused ranking with their documents (those deleted since left out)."""
    return [
        {"id": i, "score": s, "distance": d, "text_score": t, "document": doc}
        for (i, s, d, t), doc in zip(fused, documents, strict=True)
        if doc is not None
    ]


def _quoted(name: str) -> str:
    quoted: str = exp.to_identifier(name, quoted=True).sql(dialect=Lql)
    return quoted
