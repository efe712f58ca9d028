"""``ORDER BY field <=> ? LIMIT k``: the nearest documents, found by a vector index.

A SELECT over one collection whose only ORDER BY term is a distance (``<->``, ``<=>`` or
``<#>``, ascending) between a field and a constant vector, with a LIMIT, asks the source's
vector index on that field for the ``LIMIT + OFFSET`` nearest documents — among those its
WHERE admits, which are found first (by its indexes where it has them) and handed to the
index as the only candidates (FAISS ID selectors, or an exact search when they are few). The
statement's own plan then runs over just those documents: the WHERE is checked again, the
distances computed exactly and sorted, the columns made, so the answer has the statement's
meaning over the candidates and differs from reading every document only where the index
missed a true neighbour (its recall).

The documents' plan runs instead, reading everything, when the source has no vector index
on the field or none of the operator's metric, when the constant is not a vector (that plan
says what is wrong), or when fewer documents than asked have a vector (the rest of the answer
is documents without one, which an index does not hold).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from lumadb.query.compile import Compiled, Params, Scope, compile_expr, path_of
from lumadb.query.parser import DISTANCES, CosineDistance, NegativeInnerProduct
from lumadb.query.plans import Plan, Result, Rows, Source
from lumadb.service import Document, ScanRange

__all__ = ["OPERATORS", "nearest_first", "nearest_term"]

OPERATORS: dict[type[exp.Expression], str] = {
    exp.Distance: "<->",
    CosineDistance: "<=>",
    NegativeInnerProduct: "<#>",
}


@dataclass(frozen=True)
class _Nearest:
    path: list[str]
    operator: str
    vector: Compiled
    limit: Compiled
    offset: Compiled | None


def nearest_term(select: exp.Select) -> exp.Expression | None:
    """The distance a SELECT orders by, ascending and alone, under a LIMIT (``None``: the
    SELECT is not a search for the nearest documents)."""
    order = select.args.get("order")
    if order is None or select.args.get("limit") is None or len(order.expressions) != 1:
        return None
    if any(select.args.get(k) for k in ("group", "having", "distinct", "joins", "with_")):
        return None
    term = order.expressions[0]
    node = term.this
    if isinstance(node, exp.Column) and len(node.parts) == 1:  # an alias of the distance?
        named = [
            e.this for e in select.expressions if isinstance(e, exp.Alias) and e.alias == node.name
        ]
        node = named[0] if named else node
    if term.args.get("desc") or not isinstance(node, DISTANCES):
        return None
    found: exp.Expression = node
    return found


def _shape(select: exp.Select, scope: Scope) -> _Nearest | None:
    node = nearest_term(select)
    limit = select.args.get("limit")
    if node is None or limit is None:
        return None
    for field, other in ((node.this, node.expression), (node.expression, node.this)):
        path = path_of(field, Scope(tables=scope.tables))
        if path and all(isinstance(p, str) for p in path) and not list(other.find_all(exp.Column)):
            if other.find(exp.Select) is not None:
                return None
            offset = select.args.get("offset")
            return _Nearest(
                [str(p) for p in path],
                OPERATORS[type(node)],
                compile_expr(other, scope),
                compile_expr(limit.expression, scope),
                compile_expr(offset.expression, scope) if offset is not None else None,
            )
    return None


def nearest_first(select: exp.Select, rows: Rows | Any, scope: Scope, planned: Plan) -> Plan:
    """``planned`` behind a vector index search when ``select`` asks for nearest documents."""
    if not isinstance(rows, Rows) or rows.keys is not None or rows.text is not None:
        return planned
    shape = _shape(select, scope)
    if shape is None:
        return planned
    collection = rows.collection

    def run(source: Source, params: Params) -> Result:
        ask = getattr(source, "vector_search", None)
        if ask is None:
            return planned(source, params)
        vector = shape.vector({}, params)
        take = _count(shape.limit, params) + (_count(shape.offset, params) if shape.offset else 0)
        if not _is_vector(vector) or take <= 0:
            return planned(source, params)
        allowed = None
        if rows.where is not None:
            allowed = rows.matching_ids(source, params)
        hits = ask(collection, shape.path, vector, take, allowed, shape.operator)
        if hits is None or len(hits) < take:
            return planned(source, params)
        found = planned(_Candidates(source, collection, [i for _, i in hits]), params)
        if len(found.rows) < _count(shape.limit, params):
            # A candidate is gone or fails the WHERE now (expired, changed since): read all.
            return planned(source, params)
        return found

    return run


def _count(node: Compiled, params: Params) -> int:
    value = node({}, params)
    return value if type(value) is int and value >= 0 else -1


def _is_vector(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(type(x) is int or type(x) is float for x in value)
    )


class _Candidates:
    """The source, but a scan of ``collection`` reads only the ``ids`` a vector index chose
    (and no other index answers for it)."""

    def __init__(self, source: Source, collection: str, ids: Sequence[str]) -> None:
        self._source = source
        self._collection = collection
        self._ids = sorted(ids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def scan(self, collection: str, rng: ScanRange) -> Iterator[tuple[str, Document]]:
        if collection != self._collection:
            return self._source.scan(collection, rng)
        found = self._source.get_many(collection, self._ids)
        return ((i, d) for i, d in zip(self._ids, found, strict=True) if d is not None)

    def index_ids(self, collection: str, *args: Any) -> list[str] | None:
        return None if collection == self._collection else self._source.index_ids(collection, *args)

    def index_range(self, collection: str, *args: Any) -> list[str] | None:
        if collection == self._collection:
            return None
        return self._source.index_range(collection, *args)

    def index_match(self, collection: str, equalities: Iterable[Any]) -> list[str] | None:
        if collection == self._collection:
            return None
        return self._source.index_match(collection, list(equalities))

    def columnar(self, query: Any) -> list[list[Any]] | None:
        return None
