"""What every LQL plan shares: the data source, results, the rows a WHERE reads, projections."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlglot import exp

from lumadb.errors import QueryError
from lumadb.query import values as v
from lumadb.query.compile import (
    SUBQUERY_RESULTS,
    Compiled,
    Params,
    Scope,
    compile_expr,
    path_of,
)
from lumadb.query.parser import Lql
from lumadb.service import Document, ScanRange

if TYPE_CHECKING:
    from lumadb.query.columnar import Shipped

__all__ = [
    "RETRIES",
    "CteSource",
    "Output",
    "Plan",
    "Record",
    "Result",
    "Rows",
    "Source",
    "conjuncts",
    "key_lookup",
    "name_of",
    "output_of",
    "result_of",
    "rows_of",
    "table_of",
    "with_ctes",
    "with_subqueries",
]

RETRIES = 16  # optimistic rewrites of one document before giving up


class Source(Protocol):
    """What LQL needs from a service (:class:`~lumadb.service.local.LocalService` has it)."""

    def get(self, collection: str, doc_id: str) -> Document | None: ...
    def get_many(self, collection: str, ids: Iterable[str]) -> list[Document | None]: ...
    def get_versioned(self, collection: str, doc_id: str) -> tuple[Document, int] | None: ...
    def scan(self, collection: str, rng: ScanRange) -> Iterator[tuple[str, Document]]: ...
    def put_if(self, collection: str, doc_id: str, doc: Document, version: int | None) -> int: ...
    def delete(self, collection: str, doc_id: str, version: int | None = None) -> bool: ...
    def describe_collection(self, name: str) -> dict[str, Any]: ...
    def alter_vector_index(
        self, collection: str, path: Sequence[str], options: dict[str, Any]
    ) -> dict[str, Any]: ...
    def embed_query(
        self,
        text: str,
        model: str | None,
        collection: str | None = None,
        path: Sequence[str] | None = None,
    ) -> list[float]: ...
    def create_collection(self, name: str, *, exist_ok: bool = False) -> dict[str, Any]: ...
    def drop_collection(self, name: str, *, missing_ok: bool = False) -> bool: ...
    def index_ids(self, collection: str, path: Sequence[str], value: Any) -> list[str] | None: ...
    def index_range(
        self,
        collection: str,
        path: Sequence[str],
        low: Any,
        low_inclusive: bool,
        high: Any,
        high_inclusive: bool,
    ) -> list[str] | None: ...
    def create_index(
        self,
        collection: str,
        name: str,
        path: Sequence[str],
        *,
        exist_ok: bool = False,
        kind: str = "value",
        more: Sequence[Sequence[str]] = (),
        unique: bool = False,
    ) -> dict[str, Any]: ...
    def index_match(
        self, collection: str, equalities: Sequence[tuple[Sequence[str], Any]]
    ) -> list[str] | None: ...
    def text_ids(self, collection: str, path: Sequence[str], words: str) -> list[str] | None: ...
    def text_stats(
        self, collection: str, path: Sequence[str], terms: Sequence[str]
    ) -> dict[str, Any] | None: ...
    def drop_index(self, name: str, *, missing_ok: bool = False) -> bool: ...
    def columnar(self, query: Shipped) -> list[list[Any]] | None: ...
    def set_ttl(self, name: str, seconds: float | None) -> dict[str, Any]: ...
    def commit(self, writes: Sequence[tuple[str, str, Document | None, int]]) -> int: ...
    def set_schema(self, name: str, schema: str | None) -> dict[str, Any]: ...
    def create_trigger(self, raw: dict[str, Any], *, exist_ok: bool = False) -> dict[str, Any]: ...
    def drop_trigger(self, name: str, *, missing_ok: bool = False) -> bool: ...
    def create_vector_index(
        self,
        collection: str,
        name: str | None,
        path: Sequence[str],
        options: dict[str, Any],
        *,
        exist_ok: bool = False,
    ) -> dict[str, Any]: ...


@dataclass(slots=True)
class Result:
    """Columns and rows, as ``POST /api/v1/_query`` returns them."""

    columns: list[str]
    rows: list[list[Any]]

    def dicts(self) -> list[dict[str, Any]]:
        """One dict per row (a later column of the same name wins)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


Plan = Callable[[Source, Params], Result]

# --- where rows come from -------------------------------------------------------------------


def table_of(node: exp.Expression | None, what: str) -> tuple[str, frozenset[str]]:
    if not isinstance(node, exp.Table) or node.args.get("db") or not node.name:
        raise QueryError(f"{what} must name one collection")
    names = {node.name}
    if node.alias:
        names.add(node.alias)
    return node.name, frozenset(names)


def conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    if node is None:
        return []
    if isinstance(node, exp.And):
        return conjuncts(node.this) + conjuncts(node.expression)
    if isinstance(node, exp.Paren):
        return conjuncts(node.this)
    return [node]


def is_constant(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal | exp.Placeholder | exp.Null)


def index_candidates(
    where: exp.Expression | None, scope: Scope
) -> list[tuple[list[str], Compiled]]:
    """``path = value`` terms among the WHERE's ANDs that an index on ``path`` could answer."""
    found = []
    for term in conjuncts(where):
        if not isinstance(term, exp.EQ):
            continue
        for column, other in ((term.this, term.expression), (term.expression, term.this)):
            path = path_of(column, scope)
            if (
                path
                and path != ["id"]
                and is_constant(other)
                and all(isinstance(p, str) for p in path)
            ):
                found.append(([str(p) for p in path], compile_expr(other, scope)))
                break
    return found


_FLIP: dict[type[exp.Expression], type[exp.Expression]] = {
    exp.GT: exp.LT,
    exp.GTE: exp.LTE,
    exp.LT: exp.GT,
    exp.LTE: exp.GTE,
}


def _no_value(row: Any, params: Params) -> Any:
    return None


@dataclass(frozen=True)
class Range:
    """A range on one path, from the WHERE's ANDs (``a > x AND a <= y``, ``a BETWEEN x AND
    y``, or ``a < y`` alone: ``open_low``). Only an upper bound may be missing: in LQL's
    cross-type order every number and text an index holds lies below a text or number, while
    arrays and objects — never indexed — lie above, so ``a > x`` alone is not an index's."""

    path: list[str]
    low: Compiled
    low_inclusive: bool
    high: Compiled
    high_inclusive: bool
    open_low: bool = False


def index_ranges(where: exp.Expression | None, scope: Scope) -> list[Range]:
    """The ranges of the WHERE that an index on their path could answer."""
    lows: dict[tuple[str, ...], tuple[Compiled, bool]] = {}
    highs: dict[tuple[str, ...], tuple[Compiled, bool]] = {}
    for term in conjuncts(where):
        if isinstance(term, exp.Between):
            path = path_of(term.this, scope)
            low, high = term.args.get("low"), term.args.get("high")
            named = bool(path) and all(isinstance(p, str) for p in path or [])
            if named and low and high and is_constant(low) and is_constant(high):
                key = tuple(str(p) for p in path or [])
                lows[key] = (compile_expr(low, scope), True)
                highs[key] = (compile_expr(high, scope), True)
            continue
        kind: type[exp.Expression] = type(term)
        if kind not in _FLIP:
            continue
        left, right = term.this, term.expression
        path = path_of(left, scope)
        if not (path and is_constant(right)):
            path, right, kind = path_of(right, scope), left, _FLIP[kind]
            if not (path and is_constant(right)):
                continue
        if not all(isinstance(p, str) for p in path) or path == ["id"]:
            continue
        key = tuple(str(p) for p in path)
        bound = (compile_expr(right, scope), kind in (exp.GTE, exp.LTE))
        (lows if kind in (exp.GT, exp.GTE) else highs)[key] = bound
    ranges = [Range(list(key), *lows[key], *highs[key]) for key in lows if key in highs]
    ranges += [
        Range(list(key), _no_value, False, *highs[key], open_low=True)
        for key in highs
        if key not in lows
    ]
    return ranges


def key_lookup(where: exp.Expression | None, scope: Scope) -> list[Compiled] | None:
    """The ids a WHERE pins down (``id = x`` or ``id IN (...)`` among its ANDs)."""
    for term in conjuncts(where):
        if isinstance(term, exp.EQ):
            for column, other in ((term.this, term.expression), (term.expression, term.this)):
                if path_of(column, scope) == ["id"] and is_constant(other):
                    return [compile_expr(other, scope)]
        if (
            isinstance(term, exp.In)
            and path_of(term.this, scope) == ["id"]
            and term.expressions
            and all(is_constant(e) for e in term.expressions)
            and not term.args.get("query")
        ):
            return [compile_expr(e, scope) for e in term.expressions]
    return None


@dataclass
class Rows:
    """The documents a statement reads, filtered by its WHERE."""

    collection: str
    scope: Scope
    where: Compiled | None
    keys: list[Compiled] | None
    # ``path = value`` terms and two-sided ranges: at run time, the first one an index
    # covers picks the rows (the WHERE still checks each).
    indexed: list[tuple[list[str], Compiled]] = field(default_factory=list)
    ranges: list[Range] = field(default_factory=list)
    text: tuple[list[str], Compiled] | None = None  # MATCH(path, words): a text index's
    whole: bool = False  # the WHERE is just the one equality or range an index may answer

    def _by_index(self, source: Source, params: Params) -> list[str] | None:
        if self.text is not None:
            words = self.text[1]({}, params)
            if isinstance(words, str):
                ids = source.text_ids(self.collection, self.text[0], words)
                if ids is not None:
                    return ids
        if self.indexed:  # the index covering the most of the equalities
            given = [(path, value({}, params)) for path, value in self.indexed]
            ids = source.index_match(self.collection, given)
            if ids is not None:
                return ids
        for r in self.ranges:
            low, high = r.low({}, params), r.high({}, params)
            if (low is None and not r.open_low) or high is None:
                return []  # a bound is NULL: no value lies beside it
            found = source.index_range(
                self.collection, r.path, low, r.low_inclusive, high, r.high_inclusive
            )
            if found is not None:
                return found
        return None

    def matching_ids(self, source: Source, params: Params) -> list[str]:
        """The ids of the documents the WHERE admits: from an index alone when the WHERE is
        just what the index answers (no document read), else by reading them."""
        if self.whole and self.keys is None:
            ids = self._by_index(source, params)
            if ids is not None:
                return ids
        return [str(d["id"]) for d in self.read(source, params)]

    def read(self, source: Source, params: Params) -> Iterator[Document]:
        wants = self.keys is None and (self.indexed or self.ranges or self.text)
        ids = self._by_index(source, params) if wants else None
        if self.keys is not None or ids is not None:
            if ids is None:
                wanted = [k({}, params) for k in self.keys or []]
                ids = list(dict.fromkeys(i for i in wanted if isinstance(i, str) and i))
            found = source.get_many(self.collection, ids)
            docs: Iterable[Document] = (
                {"id": i, **d} for i, d in zip(ids, found, strict=True) if d is not None
            )
        else:
            docs = (
                d if d.get("id") == i else {**d, "id": i}
                for i, d in source.scan(self.collection, ScanRange())
            )
        where = self.where
        if where is None:
            return iter(docs)
        return (d for d in docs if v.truth(where(d, params)) is True)


def rows_of(
    collection: str, names: frozenset[str], where: exp.Expression | None, scope: Scope
) -> Rows:
    """The rows of ``collection`` matching ``where``, compiled in the statement's ``scope``."""
    condition = compile_expr(where, scope) if where is not None else None
    lookup = Scope(tables=names, named=scope.named)  # the same parameters, numbered already
    indexed, ranges = index_candidates(where, lookup), index_ranges(where, lookup)
    terms = len(conjuncts(where))
    whole = (terms == 1 and len(indexed) + len(ranges) == 1) or (
        terms == 2 and len(ranges) == 1 and not ranges[0].open_low and not indexed
    )
    return Rows(
        collection,
        scope,
        condition,
        key_lookup(where, lookup),
        indexed,
        ranges,
        whole=whole,
    )


@dataclass
class Output:
    """The projection: fixed columns around at most one ``*``."""

    names: list[str]
    exprs: list[Compiled]
    star_at: int | None  # position of * among the columns

    def record(self, row: Any, params: Params) -> tuple[list[Any], Document | None]:
        return [e(row, params) for e in self.exprs], (row if self.star_at is not None else None)


def name_of(node: exp.Expression, scope: Scope) -> str:
    if isinstance(node, exp.Alias):
        return node.alias
    path = path_of(node, scope)
    if path is not None and isinstance(path[-1], str):
        return path[-1]
    return node.sql(dialect=Lql, normalize_functions="lower")


def output_of(select: exp.Select, scope: Scope) -> Output:
    names: list[str] = []
    exprs: list[Compiled] = []
    star_at: int | None = None
    for node in select.expressions:
        if isinstance(node, exp.Star):
            if star_at is not None:
                raise QueryError("a SELECT may list * only once")
            star_at = len(names)
            continue
        target = node.this if isinstance(node, exp.Alias) else node
        names.append(name_of(node, scope))
        exprs.append(compile_expr(target, scope))
    return Output(names, exprs, star_at)


Record = tuple[Any, tuple[list[Any], Document | None]]


def result_of(
    output: Output, records: list[tuple[list[Any], Document | None]], lead_id: bool = True
) -> Result:
    """The result of ``records``; ``*`` becomes every field seen (``id`` first)."""
    if output.star_at is None:
        return Result(list(output.names), [values for values, _ in records])
    star: dict[str, None] = {"id": None} if lead_id else {}
    for _, doc in records:
        star.update(dict.fromkeys(doc or {}))
    at = output.star_at
    columns = [*output.names[:at], *star, *output.names[at:]]
    rows = [
        [*values[:at], *((doc or {}).get(c) for c in star), *values[at:]] for values, doc in records
    ]
    return Result(columns, rows)


def with_subqueries(run: Plan, scope: Scope) -> Plan:
    """``run`` after the scope's subqueries, whose rows its expressions read."""
    subplans = list(scope.subqueries)
    if not subplans:
        return run

    def wrapped(source: Source, params: Params) -> Result:
        results = [sub(source, params).rows for sub in subplans]
        token = SUBQUERY_RESULTS.set(results)
        try:
            return run(source, params)
        finally:
            SUBQUERY_RESULTS.reset(token)

    return wrapped


class CteSource:
    """A source that also holds the results of a statement's WITH queries, by name."""

    def __init__(self, base: Source, tables: dict[str, Result]) -> None:
        self._base = base
        self.tables = tables

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)  # writes and everything else: the collections

    def _rows(self, name: str) -> Iterator[tuple[str, Document]]:
        result = self.tables[name]
        for number, row in enumerate(result.rows):
            doc = dict(zip(result.columns, row, strict=True))
            found = doc.get("id")
            yield (found if isinstance(found, str) else f"{number:012d}"), doc

    def scan(self, collection: str, rng: ScanRange) -> Iterator[tuple[str, Document]]:
        if collection in self.tables:
            return self._rows(collection)
        return self._base.scan(collection, rng)

    def get(self, collection: str, doc_id: str) -> Document | None:
        if collection in self.tables:
            return next((d for i, d in self._rows(collection) if i == doc_id), None)
        return self._base.get(collection, doc_id)

    def get_many(self, collection: str, ids: Iterable[str]) -> list[Document | None]:
        if collection in self.tables:
            found = dict(self._rows(collection))
            return [found.get(i) for i in ids]
        return self._base.get_many(collection, ids)

    def describe_collection(self, name: str) -> dict[str, Any]:
        if name in self.tables:
            return {"name": name, "with": True}
        return self._base.describe_collection(name)

    def columnar(self, query: Shipped) -> list[list[Any]] | None:
        if any(name in self.tables for name in query.collections):
            return None  # a WITH query's rows are not in the replica
        return self._base.columnar(query)

    def text_ids(self, collection: str, path: Sequence[str], words: str) -> list[str] | None:
        if collection in self.tables:
            return None  # a WITH query's rows have no index
        return self._base.text_ids(collection, path, words)

    def vector_search(self, collection: str, *args: Any) -> list[tuple[float, str]] | None:
        if collection in self.tables:
            return None  # a WITH query's rows have no index
        ask = getattr(self._base, "vector_search", None)
        return None if ask is None else ask(collection, *args)

    def text_stats(
        self, collection: str, path: Sequence[str], terms: Sequence[str]
    ) -> dict[str, Any] | None:
        if collection in self.tables:
            return None
        return self._base.text_stats(collection, path, terms)

    def index_ids(self, collection: str, path: Sequence[str], value: Any) -> list[str] | None:
        if collection in self.tables:
            return None  # a WITH query's rows have no index
        return self._base.index_ids(collection, path, value)

    def index_match(
        self, collection: str, equalities: Sequence[tuple[Sequence[str], Any]]
    ) -> list[str] | None:
        if collection in self.tables:
            return None
        return self._base.index_match(collection, equalities)

    def index_range(self, collection: str, path: Sequence[str], *bounds: Any) -> list[str] | None:
        if collection in self.tables:
            return None
        return self._base.index_range(collection, path, *bounds)


def with_ctes(run: Plan, ctes: list[tuple[str, Plan]]) -> Plan:
    """``run`` on a source where each WITH query's rows read as a collection of its name."""
    if not ctes:
        return run

    def wrapped(source: Source, params: Params) -> Result:
        tables: dict[str, Result] = {}
        scoped = CteSource(source, tables)
        for name, cte in ctes:  # in order: a later WITH query may read an earlier one
            tables[name] = cte(scoped, params)
        return run(scoped, params)

    return wrapped
