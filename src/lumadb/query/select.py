"""Planning SELECT: key lookups or scans, WHERE, GROUP BY/HAVING, DISTINCT, ORDER BY, LIMIT."""

from __future__ import annotations

import functools
import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
from sqlglot import exp

from lumadb.errors import QueryError
from lumadb.query import values as v
from lumadb.query.columnar import NotColumnar, translate
from lumadb.query.compile import Aggregate, Compiled, Params, Scope, compile_expr, path_of
from lumadb.query.joins import JoinRows, flatten, joined_sources
from lumadb.query.nearest import nearest_first
from lumadb.query.parser import DISTANCES
from lumadb.query.plans import (
    Output,
    Plan,
    Record,
    Result,
    Rows,
    Source,
    conjuncts,
    output_of,
    result_of,
    rows_of,
    table_of,
    with_ctes,
    with_subqueries,
)
from lumadb.query.text import TextMatch, text_match, with_text_stats
from lumadb.query.vectors import with_embedding
from lumadb.service import Document

__all__ = ["plan_ctes", "plan_select", "plan_subquery"]


class _Group:
    """One group of a grouped query: its first row (for GROUP BY columns) and results."""

    __slots__ = ("first", "results", "states")

    def __init__(self, first: Document, aggregates: list[Aggregate]) -> None:
        self.first = first
        self.states: list[Any] = [_start(a) for a in aggregates]
        self.results: list[Any] = []

    def get(self, key: str) -> Any:
        return self.first.get(key)


def _start(agg: Aggregate) -> Any:
    return set() if agg.distinct else [0, None]  # [count, running value]


Feeder = Callable[[Any, Document, Params], None]


def _feeder(agg: Aggregate) -> Feeder:
    """What one row does to one aggregate's state (chosen once per plan, not per row)."""
    arg = agg.arg
    if arg is None:
        return _count_all
    if agg.distinct:
        return _distinct_values(arg)
    if agg.kind in ("sum", "avg"):
        return _adder(arg)
    if agg.kind in ("min", "max"):
        return _extreme(arg, 1 if agg.kind == "max" else -1)
    return _counter(arg)


def _count_all(state: Any, row: Document, params: Params) -> None:
    state[0] += 1


def _counter(arg: Compiled) -> Feeder:
    def count(state: Any, row: Document, params: Params) -> None:
        if arg(row, params) is not None:
            state[0] += 1

    return count


def _distinct_values(arg: Compiled) -> Feeder:
    def distinct(state: Any, row: Document, params: Params) -> None:
        value = arg(row, params)
        if value is not None:
            state.add(_group_key(value))

    return distinct


def _adder(arg: Compiled) -> Feeder:
    def add(state: Any, row: Document, params: Params) -> None:
        value = arg(row, params)
        if value is None:
            return
        state[0] += 1
        total = state[1]
        kind = type(value)
        if (kind is int or kind is float) and total is not None:
            summed = total + value
            if kind is float and summed - summed != 0:  # inf: let arith name the overflow
                v.arith("+", total, value)
            state[1] = summed
        else:
            state[1] = v.arith("+", 0 if total is None else total, value)

    return add


def _extreme(arg: Compiled, sign: int) -> Feeder:
    def extreme(state: Any, row: Document, params: Params) -> None:
        value = arg(row, params)
        if value is None:
            return
        state[0] += 1
        current = state[1]
        if current is None or (v.compare(value, current) or 0) * sign > 0:
            state[1] = value

    return extreme


def _group_key(value: Any) -> Any:
    """A dict key equal exactly when the values are equal in SQL (1, 1.0 and true alike)."""
    if isinstance(value, list | dict):
        return ("json", orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    return value


def _finish(agg: Aggregate, state: Any) -> Any:
    if agg.distinct:
        if agg.kind != "count":
            raise QueryError(f"{agg.kind}(DISTINCT ...) is not supported; only count")
        return len(state)
    count, value = state
    if agg.kind == "count":
        return count
    if agg.kind == "avg":
        return None if count == 0 else v.arith("/", float(value), count)
    return value


def _check_grouped(
    nodes: list[exp.Expression], groups: list[exp.Expression], scope: Scope, aliases: set[str]
) -> None:
    # As in PostgreSQL: outside aggregates, a grouped query reads only what it groups by
    # (ORDER BY may also name an output column).
    def visit(node: exp.Expression) -> None:
        if any(node == g for g in groups) or isinstance(node, exp.AggFunc | exp.Subquery):
            return
        if isinstance(node, exp.Column) and len(node.parts) == 1 and node.name in aliases:
            return
        if path_of(node, scope) is not None:
            raise QueryError(
                f"{node.sql(dialect='postgres')} must appear in GROUP BY or inside an aggregate"
            )
        for child in node.iter_expressions():
            visit(child)

    for node in nodes:
        visit(node.this if isinstance(node, exp.Alias) else node)


def _select_from(select: exp.Select) -> tuple[str | None, frozenset[str]]:
    """The collection a SELECT reads (``None`` without FROM) and the names it goes by."""
    if any(select.args.get(k) for k in ("windows", "qualify", "laterals")):
        raise QueryError("that SELECT clause is not supported in LQL")
    source_node = select.args.get("from_")
    if source_node is None:
        return None, frozenset()
    return table_of(source_node.this, "FROM")


def _has_aggregate(node: exp.Expression) -> bool:
    """Whether ``node`` calls an aggregate of this query (a subquery's are its own)."""
    if isinstance(node, exp.AggFunc):
        return True
    if isinstance(node, exp.Subquery | exp.Select):
        return False
    return any(_has_aggregate(child) for child in node.iter_expressions())


def _join_aliases(select: exp.Select) -> list[str]:
    """The names of the joined collections (empty without a JOIN)."""
    if not select.args.get("joins"):
        return []
    aliases = [alias for alias, _ in joined_sources(select)]
    if len(set(aliases)) != len(aliases):
        raise QueryError("each collection of a join needs its own name (use AS)")
    return aliases


def _row_source(
    select: exp.Select,
    collection: str | None,
    names: frozenset[str],
    where: exp.Expression | None,
    scope: Scope,
) -> Rows | JoinRows | None:
    """Where the rows come from: joined collections, one collection, or none."""
    if select.args.get("joins"):
        return JoinRows.plan(select, scope, where)
    if collection is not None:
        return rows_of(collection, names, where, scope)
    return None


def plan_select(select: exp.Select, base: Scope | None = None) -> Plan:
    """The plan of a SELECT (``base``: the enclosing statement's scope, for a subquery)."""
    ctes = plan_ctes(select, base)
    run = _plan_body(select, base)
    return with_ctes(run, ctes)


def plan_ctes(select: exp.Expression, base: Scope | None) -> list[tuple[str, Plan]]:
    """The plans of a statement's WITH queries, by name, in order."""
    found = select.args.get("with_")
    if found is None:
        return []
    if found.args.get("recursive"):
        raise QueryError("WITH RECURSIVE is not supported")
    ctes = []
    for cte in found.expressions:
        body = cte.this
        if not isinstance(body, exp.Select):
            raise QueryError("a WITH query must be a SELECT")
        ctes.append((cte.alias, plan_select(body, base.nested() if base else None)))
    return ctes


def plan_subquery(select: exp.Select, scope: Scope) -> Plan:
    """What :class:`~lumadb.query.compile.Scope` calls for a subquery."""
    return plan_select(select, scope)


def _plan_body(select: exp.Select, base: Scope | None) -> Plan:  # noqa: PLR0915 - in order
    collection, names = _select_from(select)
    joined = _join_aliases(select)
    scope = Scope(
        tables=names,
        aliases=frozenset(joined),
        named=base.named if base else None,
        outer=base.outer if base else frozenset(),
        plan_subquery=plan_subquery,
    )
    groups = list(select.args["group"].expressions) if select.args.get("group") else []
    order_nodes = list(select.args["order"].expressions) if select.args.get("order") else []
    having_node = select.args["having"].this if select.args.get("having") else None
    grouped = bool(groups) or any(
        _has_aggregate(n) for n in [*select.expressions, *order_nodes, having_node] if n
    )
    aggregates: list[Aggregate] = []
    if grouped:
        if any(isinstance(n, exp.Star) for n in select.expressions):
            raise QueryError("SELECT * cannot be grouped; name the columns")
        checked = [*select.expressions, *order_nodes, *([having_node] if having_node else [])]
        aliases = {n.alias for n in select.expressions if isinstance(n, exp.Alias)}
        _check_grouped(checked, groups, scope, aliases)
        scope.aggregates = aggregates
    output = output_of(select, scope)
    scope.aggregates = None
    where_node = select.args["where"].this if select.args.get("where") else None
    rows = _row_source(select, collection, names, where_node, scope)
    found = _text_source(rows, where_node, names, scope)
    bare_where = compile_expr(where_node, scope) if rows is None and where_node else None
    group_keys = [compile_expr(g, scope) for g in groups]
    scope.aggregates = aggregates if grouped else None
    having = compile_expr(having_node, scope) if having_node is not None else None
    distances = {
        n.alias
        for n in select.expressions
        if isinstance(n, exp.Alias) and isinstance(n.this, DISTANCES)
    }
    order = [_order_key(o, output, scope, distances) for o in order_nodes]
    scope.aggregates = None
    limit = _bound(select.args.get("limit"), scope)
    offset = _bound(select.args.get("offset"), scope)
    distinct = bool(select.args.get("distinct"))
    plain = not (grouped or order or distinct or limit or offset)
    if base is not None:
        base.named = scope.named
    if (
        plain
        and isinstance(rows, Rows)
        and _only_the_key(where_node, rows)
        and not scope.subqueries
    ):
        return _point(rows, output)

    def run(source: Source, params: Params) -> Result:
        docs: Iterable[Any]
        if rows is None:  # SELECT without FROM: one row of nothing
            keep = bare_where is None or v.truth(bare_where({}, params)) is True
            docs = [{}] if keep else []
        else:
            docs = rows.read(source, params)
        if grouped:
            docs = _grouped(docs, group_keys, aggregates, having, params)
        records: Iterable[Record] = ((row, output.record(row, params)) for row in docs)
        if joined and output.star_at is not None:  # * of a join: every alias.field
            records = ((row, (rec[0], flatten(row, joined))) for row, rec in records)
        if distinct:
            records = _distinct(records)
        skip = _evaluate(offset, params, "OFFSET") or 0
        take = _evaluate(limit, params, "LIMIT")
        if order:
            records = _sorted(records, order, params, None if take is None else skip + take)
        stop = None if take is None else skip + take
        kept = list(itertools.islice(records, skip, stop))
        return result_of(output, [rec for _, rec in kept], lead_id=not joined)

    nearest = run if grouped else nearest_first(select, rows, scope, run)
    return _finished(with_subqueries(nearest, scope), select, scope, output, found, grouped)


def _finished(
    planned: Plan,
    select: exp.Select,
    scope: Scope,
    output: Output,
    found: TextMatch | None,
    grouped: bool,
) -> Plan:
    """The plan with what it may need around it: text figures for score(), and the columnar
    replica for an aggregate."""
    collection, _ = _select_from(select)
    if scope.uses_score and collection is not None:
        planned = with_text_stats(planned, collection, found)
    if scope.uses_embed:
        planned = with_embedding(planned)
    if not grouped or collection is None:
        return planned
    return _columnar_first(select, collection, scope, planned, output)


def _text_source(
    rows: Rows | JoinRows | None,
    where: exp.Expression | None,
    names: frozenset[str],
    scope: Scope,
) -> TextMatch | None:
    """The WHERE's MATCH, which a text index may answer for the rows (and score() ranks)."""
    found = text_match(where, Scope(tables=names, named=scope.named))
    if isinstance(rows, Rows) and found is not None:
        rows.text = (found.path, found.words)
    return found


def _columnar_first(
    select: exp.Select, collection: str, scope: Scope, planned: Plan, output: Output
) -> Plan:
    """An aggregate answered by the columnar replica when the source has one and the run's
    values allow it; by reading documents otherwise."""
    sources = joined_sources(select) if select.args.get("joins") else [("", collection)]
    try:
        query = translate(select, sources, scope, output.names)
    except NotColumnar:
        return planned

    def run(source: Source, params: Params) -> Result:
        ask = getattr(source, "columnar", None)
        shipped = query.bind(params) if ask is not None else None
        rows = ask(shipped) if ask is not None and shipped is not None else None
        if rows is None:
            return planned(source, params)
        return Result(list(output.names), rows)

    return run


def _only_the_key(where: exp.Expression | None, rows: Rows) -> bool:
    """Whether the WHERE is exactly ``id = <value>`` (nothing else to filter)."""
    return rows.keys is not None and len(rows.keys) == 1 and len(conjuncts(where)) == 1


def _point(rows: Rows, output: Output) -> Plan:
    # The parameterised point query, the commonest statement there is: one get, no
    # generators, no sorting.
    (key,) = rows.keys or []
    collection = rows.collection
    star_only = output.star_at == 0 and not output.names
    if output.star_at is not None and not star_only:
        return _general_point(rows, output, key)

    def run(source: Source, params: Params) -> Result:
        doc_id = key({}, params)
        found = source.get(collection, doc_id) if isinstance(doc_id, str) and doc_id else None
        if found is None:
            return result_of(output, [])
        if star_only:
            if "id" not in found:
                return Result(["id", *found], [[doc_id, *found.values()]])
            fields = [k for k in found if k != "id"]
            return Result(["id", *fields], [[doc_id, *map(found.__getitem__, fields)]])
        row = found if found.get("id") == doc_id else {**found, "id": doc_id}
        return Result(output.names, [output.record(row, params)[0]])

    return run


def _general_point(rows: Rows, output: Output, key: Compiled) -> Plan:
    def run(source: Source, params: Params) -> Result:
        doc_id = key({}, params)
        ok = isinstance(doc_id, str) and doc_id
        found = source.get(rows.collection, doc_id) if ok else None
        if found is None:
            return result_of(output, [])
        row = found if found.get("id") == doc_id else {**found, "id": doc_id}
        return result_of(output, [output.record(row, params)])

    return run


def _grouped(
    docs: Iterable[Document],
    keys: list[Compiled],
    aggregates: list[Aggregate],
    having: Compiled | None,
    params: Params,
) -> Iterator[_Group]:
    groups: dict[Any, _Group] = {}
    feeders = [_feeder(a) for a in aggregates]
    only = keys[0] if len(keys) == 1 else None
    for doc in docs:
        if only is not None:
            marker = _group_key(only(doc, params))
        else:
            marker = tuple(_group_key(k(doc, params)) for k in keys)
        group = groups.get(marker)
        if group is None:
            group = groups[marker] = _Group(doc, aggregates)
        for feed, state in zip(feeders, group.states, strict=True):
            feed(state, doc, params)
    if not groups and not keys:  # an aggregate over no rows still answers (count 0)
        groups[()] = _Group({}, aggregates)
    for group in groups.values():
        group.results = [_finish(a, s) for a, s in zip(aggregates, group.states, strict=True)]
        if having is None or v.truth(having(group, params)) is True:
            yield group


def _distinct(records: Iterable[Record]) -> Iterator[Record]:
    seen: set[bytes] = set()
    for row, rec in records:
        marker = orjson.dumps([rec[0], rec[1]], option=orjson.OPT_SORT_KEYS)
        if marker not in seen:
            seen.add(marker)
            yield row, rec


OrderKey = tuple[Callable[[Any, list[Any], Params], Any], bool, bool]  # value, desc, nulls first


def _order_key(
    node: exp.Expression,
    output: Output,
    scope: Scope,
    distances: set[str] = frozenset(),  # type: ignore[assignment]
) -> OrderKey:
    if not isinstance(node, exp.Ordered):
        raise QueryError("unexpected ORDER BY term")
    descending = bool(node.args.get("desc"))
    # The dialect orders NULL below every value, so the parser's default is NULLS FIRST
    # ascending and NULLS LAST descending; an explicit NULLS FIRST/LAST arrives as written.
    nulls_first = bool(node.args.get("nulls_first"))
    target = node.this
    if isinstance(target, exp.Literal) and not target.is_string:
        position = int(target.name) - 1
        if not 0 <= position < len(output.names) or output.star_at is not None:
            raise QueryError(f"ORDER BY {target.name} names no column of the result")
        return (lambda row, out, params: out[position], descending, nulls_first)
    if isinstance(target, exp.Column) and len(target.parts) == 1 and target.name in output.names:
        at = output.names.index(target.name)  # an output column of that name wins
        if target.name in distances and not node.meta.get("nulls_said"):
            nulls_first = descending  # a distance's alias: rows without a vector go last
        return (lambda row, out, params: out[at], descending, nulls_first)
    compiled = compile_expr(target, scope)
    return (lambda row, out, params: compiled(row, params), descending, nulls_first)


def _sorted(
    records: Iterable[Record], order: list[OrderKey], params: Params, top: int | None
) -> Iterator[Record]:
    def compare(a: tuple[Any, ...], b: tuple[Any, ...]) -> int:
        for (_, descending, nulls_first), x, y in zip(order, a[0], b[0], strict=True):
            if x == y:
                continue
            if x[0] == 0 or y[0] == 0:  # NULL against a value
                null_before = -1 if nulls_first else 1
                return null_before if x[0] == 0 else -null_before
            result = -1 if x < y else 1
            return -result if descending else result
        return int(a[1] > b[1]) - int(a[1] < b[1])  # stable: equal keys keep their order

    keyed = (
        (tuple(v.sort_key(k(row, rec[0], params)) for k, _, _ in order), n, row, rec)
        for n, (row, rec) in enumerate(records)
    )
    key = functools.cmp_to_key(compare)
    chosen = heapq.nsmallest(top, keyed, key=key) if top is not None else sorted(keyed, key=key)
    return ((row, rec) for _, _, row, rec in chosen)


def _bound(node: exp.Expression | None, scope: Scope) -> Compiled | None:
    if node is None:
        return None
    return compile_expr(node.expression, scope)


def _evaluate(bound: Compiled | None, params: Params, what: str) -> int | None:
    if bound is None:
        return None
    value = bound({}, params)
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise QueryError(f"{what} must be a non-negative whole number, not {value!r}")
    return value
