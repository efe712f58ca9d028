"""Vector search as the embedded API and ``POST /api/v1/{collection}/_search`` offer it.

A search is an LQL statement — ``SELECT id, field <op> ? FROM c WHERE (...) ORDER BY
field <op> ? LIMIT k`` with the operator of the field's vector index — so it is planned as LQL
plans it (the vector index with the WHERE as pre-filter, :mod:`lumadb.query.nearest`) and
checked as LQL checks it (the caller needs read permission on every collection the WHERE
reads). Each hit is ``{"id", "score", "distance", "document"}``, best first: ``distance`` is
the operator's value, ``score`` is higher for nearer documents (the cosine similarity for
``cosine``, the inner product for ``ip``, the negated distance for ``l2``).

Without a WHERE, on an ``hnsw`` or ``flat`` index, the index answers alone
(:func:`nearest_hits`): its ``k`` nearest ids, their documents read in one batch, and the
distances FAISS computed from the stored float32 vectors (equal to LQL's, which are computed
from the documents' numbers, to about 1e-6 relative). This skips the statement's parsing,
planning and exact re-ranking, which cost ten times the graph search itself. The statement
answers instead whenever the index cannot answer alone: fewer than ``k`` documents found
(the rest have no vector), a document gone by the time it is read (expired), or a write
committed while the search ran (the documents read might not be the vectors found).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlglot import exp

from lumadb.errors import InvalidArgument, QueryError
from lumadb.query.parser import Lql, parse

__all__ = [
    "MAX_K",
    "check_k",
    "hits_of",
    "nearest_hits",
    "query_list",
    "search_statement",
    "vector_field",
]

MAX_K = 10_000
_OPERATORS = {"cosine": "<=>", "l2": "<->", "ip": "<#>"}
_EXACT_DISTANCES = frozenset({"hnsw", "flat"})  # indexes whose distances are not approximate


class _Searcher(Protocol):
    """What :func:`nearest_hits` asks of a service (a node's local service)."""

    def vector_search(
        self,
        collection: str,
        path: Sequence[str],
        vector: Any,
        k: int,
        allowed: Iterable[str] | None = None,
        operator: str | None = None,
        ef: int | None = None,
    ) -> list[tuple[float, str]] | None: ...
    def get_many(self, collection: str, ids: Iterable[str]) -> list[dict[str, Any] | None]: ...
    def shard_ids(self) -> list[int]: ...
    def last_seq(self, shard_id: int) -> int: ...


def check_k(k: object) -> int:
    """``k`` if it is a whole number from 1 to :data:`MAX_K`, else InvalidArgument."""
    if type(k) is not int or not 1 <= k <= MAX_K:
        raise InvalidArgument(f"k must be a whole number from 1 to {MAX_K}, not {k!r}")
    return k


def query_list(vector: Any) -> Any:
    """The query vector as LQL takes it: a list (numpy arrays and tuples become lists)."""
    numpy = sys.modules.get("numpy")  # a numpy array can only exist once numpy is loaded
    if numpy is not None and isinstance(vector, numpy.ndarray):
        return vector.tolist()
    return list(vector) if isinstance(vector, Sequence) and not isinstance(vector, str) else vector


def nearest_hits(
    service: _Searcher,
    collection: str,
    field: str,
    options: dict[str, Any],
    vector: Any,
    k: object,
) -> list[dict[str, Any]] | None:
    """The hits of a search without a WHERE from the vector index alone (``None``: the
    statement must answer, see the module's text)."""
    k = check_k(k)
    if options.get("index") not in _EXACT_DISTANCES:
        return None
    metric = options["metric"]
    shards = service.shard_ids()
    last_seq = service.last_seq
    before = [last_seq(s) for s in shards]
    found = service.vector_search(collection, field.split("."), vector, k, None, _OPERATORS[metric])
    if found is None or len(found) < k:
        return None
    docs = service.get_many(collection, [i for _, i in found])
    if [last_seq(s) for s in shards] != before:
        return None
    hits = []
    cosine = metric == "cosine"
    for (distance, doc_id), doc in zip(found, docs, strict=True):
        if doc is None:
            return None
        score = 1.0 - distance if cosine else -distance
        hits.append({"id": doc_id, "score": score, "distance": distance, "document": doc})
    return hits


def vector_field(described: dict[str, Any], field: str | None) -> tuple[str, dict[str, Any]]:
    """The vector field a search of a collection (as described) uses, and its options."""
    vectors: dict[str, dict[str, Any]] = described.get("vectors") or {}
    name = described.get("name", "the collection")
    if field is None:
        if len(vectors) != 1:
            known = ", ".join(sorted(vectors)) or "none"
            raise InvalidArgument(
                f"{name} has {len(vectors) or 'no'} vector fields ({known}): name the field"
                if vectors
                else f"{name} has no vector index (CREATE VECTOR INDEX ON {name} (field) ...)"
            )
        field = next(iter(vectors))
    if not isinstance(field, str) or field not in vectors:
        raise InvalidArgument(f"{name} has no vector index on {field!r}")
    return field, vectors[field]


def search_statement(
    collection: str, field: str, metric: str, k: object, where: object
) -> tuple[str, int]:
    """The LQL text of a search (its two ``?`` are the query vector) and ``k``."""
    k = check_k(k)
    path = ".".join(_quoted(p) for p in field.split("."))
    op = _OPERATORS[metric]
    # Names are quoted identifiers; the where is parsed below and must stay one condition.
    text = f"SELECT id, {path} {op} ? AS distance FROM {_quoted(collection)}"  # noqa: S608
    if where is not None:
        if not isinstance(where, str) or not where.strip():
            raise InvalidArgument("where must be an LQL condition (text)")
        text += f" WHERE ({where})"
    text += f" ORDER BY {path} {op} ? LIMIT {k}"
    statements = parse(text)
    if len(statements) != 1 or not _plain_select(statements[0], where):
        raise QueryError("where must be one LQL condition")
    return text, k


def _plain_select(statement: object, where: object) -> bool:
    if not isinstance(statement, exp.Select) or statement.args.get("with_"):
        return False
    found = statement.args.get("where")
    return (where is None) == (found is None)


def _quoted(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect=Lql)


def hits_of(
    rows: Sequence[Sequence[Any]], documents: Sequence[dict[str, Any] | None], metric: str
) -> list[dict[str, Any]]:
    """The hits of a search's rows (``[id, distance]``) with their documents."""
    hits = []
    for (doc_id, distance), doc in zip(rows, documents, strict=True):
        if doc is None or distance is None:
            continue  # deleted since, or no vector (rows without one sort last)
        score = 1.0 - distance if metric == "cosine" else -distance
        hits.append({"id": doc_id, "score": score, "distance": distance, "document": doc})
    return hits
