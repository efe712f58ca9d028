"""Vector search as the embedded API and ``POST /api/v1/{collection}/_search`` offer it.

A search is an LQL statement — ``SELECT id, field <op> ? FROM c WHERE (...) ORDER BY
field <op> ? LIMIT k`` with the operator of the field's vector index — so it is planned as LQL
plans it (the vector index with the WHERE as pre-filter, :mod:`lumadb.query.nearest`) and
checked as LQL checks it (the caller needs read permission on every collection the WHERE
reads). Each hit is ``{"id", "score", "distance", "document"}``, best first: ``distance`` is
the operator's value, ``score`` is higher for nearer documents (the cosine similarity for
``cosine``, the inner product for ``ip``, the negated distance for ``l2``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlglot import exp

from lumadb.errors import InvalidArgument, QueryError
from lumadb.query.parser import Lql, parse

__all__ = ["MAX_K", "search_statement", "vector_field", "hits_of"]

MAX_K = 10_000
_OPERATORS = {"cosine": "<=>", "l2": "<->", "ip": "<#>"}


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
    if type(k) is not int or not 1 <= k <= MAX_K:
        raise InvalidArgument(f"k must be a whole number from 1 to {MAX_K}, not {k!r}")
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
