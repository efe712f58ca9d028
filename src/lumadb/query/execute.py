"""Running LQL statements on a service: plans compiled once per statement text, then run.

A plan holds compiled closures only, no parameter values, so a repeated parameterised
statement skips parsing and planning (:class:`Engine` keeps the last plans by text). Reads
come from the service: a ``WHERE id = ...`` or ``id IN (...)`` reads those documents, any
other statement scans the collection in id order and filters as it streams. Aggregates,
ordering and DISTINCT run here, in Python, for now.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from sqlglot import exp

from lumadb.errors import CollectionNotFound, DocumentExists, QueryError, VersionMismatch
from lumadb.query import values as v
from lumadb.query.compile import Aggregate, Compiled, Params, Scope, compile_expr, path_of
from lumadb.query.parser import CollectionDDL, Lql, Statement, parse
from lumadb.service import Document, ScanRange
from lumadb.service.ids import new_id

__all__ = ["Engine", "Prepared", "Result", "Source"]

PLAN_CACHE = 256
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
    def create_collection(self, name: str, *, exist_ok: bool = False) -> dict[str, Any]: ...
    def drop_collection(self, name: str, *, missing_ok: bool = False) -> bool: ...


@dataclass(frozen=True)
class Result:
    """Columns and rows, as ``POST /api/v1/_query`` returns them."""

    columns: list[str]
    rows: list[list[Any]]

    def dicts(self) -> list[dict[str, Any]]:
        """One dict per row (a later column of the same name wins)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


Plan = Callable[[Source, Params], Result]


@dataclass(frozen=True)
class Prepared:
    """The plans of a statement text, and what they need: ``(action, collection)`` pairs
    with action ``read``, ``write`` or ``admin`` (for a caller's permissions)."""

    plans: list[Plan]
    needs: list[tuple[str, str]]


class Engine:
    """Plans by statement text, and running them (safe to share between threads)."""

    def __init__(self, source: Source | None = None) -> None:
        self.source = source
        self._plans: OrderedDict[str, Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def prepare(self, text: str) -> Prepared:
        """The plans of ``text``, from the cache when it was prepared lately."""
        found = self._plans.get(text) if isinstance(text, str) else None
        if found is not None:  # a plain dict read: no lock on the hot path
            return found
        plans, needs = [], []
        for statement in parse(text):
            planned, wants = plan(statement)
            plans.append(planned)
            needs.extend(wants)
        prepared = Prepared(plans, list(dict.fromkeys(needs)))
        with self._lock:  # the oldest plan goes first (a hot one is planned again, cheaply)
            self._plans[text] = prepared
            if len(self._plans) > PLAN_CACHE:
                self._plans.popitem(last=False)
        return prepared

    def run(
        self, prepared: Prepared, params: Params | None = None, source: Source | None = None
    ) -> Result:
        """Run prepared statements on ``source`` (default: the engine's); the last result."""
        target = source or self.source
        if target is None:
            raise QueryError("this engine has no data to run on")
        if params is None:
            params = []
        if not isinstance(params, list | tuple | dict):
            raise QueryError(f"params must be a list or an object, not {type(params).__name__}")
        result = Result([], [])
        for run in prepared.plans:
            result = run(target, params)
        return result

    def query(self, text: str, params: Params | None = None) -> Result:
        """Run every statement of ``text``; the result is the last one's."""
        return self.run(self.prepare(text), params)


def plan(statement: Statement) -> tuple[Plan, list[tuple[str, str]]]:
    """The plan of one statement and the permissions it needs."""
    if isinstance(statement, CollectionDDL):
        return _ddl(statement), [("admin", statement.name)]
    if isinstance(statement, exp.Select):
        source = statement.args.get("from_")
        table = source.this if source is not None else None
        needs = [("read", table.name)] if isinstance(table, exp.Table) else []
        return _select(statement), needs
    if isinstance(statement, exp.Insert | exp.Update | exp.Delete):
        target = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
        name = target.name if isinstance(target, exp.Table) else ""
        # Reading is needed too when the statement sees what is stored: a WHERE, RETURNING,
        # or ON CONFLICT (as PostgreSQL asks SELECT rights for them).
        sees = not isinstance(statement, exp.Insert) or any(
            statement.args.get(k) for k in ("returning", "conflict")
        )
        needs = [("write", name), *([("read", name)] if sees else [])]
        if isinstance(statement, exp.Insert):
            return _insert(statement), needs
        if isinstance(statement, exp.Update):
            return _update(statement), needs
        return _delete(statement), needs
    raise QueryError(f"{statement.key.upper()} statements are not supported in LQL")


# --- collections ----------------------------------------------------------------------------


def _ddl(ddl: CollectionDDL) -> Plan:
    def run(source: Source, params: Params) -> Result:
        if ddl.action == "create":
            try:
                source.describe_collection(ddl.name)
                existed = True
            except CollectionNotFound:
                existed = False
            source.create_collection(ddl.name, exist_ok=ddl.if_exists)
            return Result(["collection", "created"], [[ddl.name, not existed]])
        dropped = source.drop_collection(ddl.name, missing_ok=ddl.if_exists)
        return Result(["collection", "dropped"], [[ddl.name, dropped]])

    return run


# --- where rows come from -------------------------------------------------------------------


def _table(node: exp.Expression | None, what: str) -> tuple[str, frozenset[str]]:
    if not isinstance(node, exp.Table) or node.args.get("db") or not node.name:
        raise QueryError(f"{what} must name one collection")
    names = {node.name}
    if node.alias:
        names.add(node.alias)
    return node.name, frozenset(names)


def _conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    if node is None:
        return []
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    if isinstance(node, exp.Paren):
        return _conjuncts(node.this)
    return [node]


def _constant(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal | exp.Placeholder | exp.Null)


def _key_lookup(where: exp.Expression | None, scope: Scope) -> list[Compiled] | None:
    """The ids a WHERE pins down (``id = x`` or ``id IN (...)`` among its ANDs)."""
    for term in _conjuncts(where):
        if isinstance(term, exp.EQ):
            for column, other in ((term.this, term.expression), (term.expression, term.this)):
                if path_of(column, scope) == ["id"] and _constant(other):
                    return [compile_expr(other, scope)]
        if (
            isinstance(term, exp.In)
            and path_of(term.this, scope) == ["id"]
            and term.expressions
            and all(_constant(e) for e in term.expressions)
            and not term.args.get("query")
        ):
            return [compile_expr(e, scope) for e in term.expressions]
    return None


@dataclass
class _Rows:
    """The documents a statement reads, filtered by its WHERE."""

    collection: str
    scope: Scope
    where: Compiled | None
    keys: list[Compiled] | None

    def read(self, source: Source, params: Params) -> Iterator[Document]:
        if self.keys is not None:
            wanted = [k({}, params) for k in self.keys]
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


def _rows(
    collection: str, names: frozenset[str], where: exp.Expression | None, scope: Scope
) -> _Rows:
    """The rows of ``collection`` matching ``where``, compiled in the statement's ``scope``."""
    start = scope.positional[0]
    condition = compile_expr(where, scope) if where is not None else None
    # The lookup reads the same parameters as the WHERE: number them from the same place.
    lookup = Scope(tables=names, positional=[start], named=scope.named)
    return _Rows(collection, scope, condition, _key_lookup(where, lookup))


# --- SELECT ---------------------------------------------------------------------------------


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


def _feed(agg: Aggregate, state: Any, row: Document, params: Params) -> None:
    if agg.arg is None:
        state[0] += 1
        return
    value = agg.arg(row, params)
    if value is None:
        return
    if agg.distinct:
        state.add(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
        return
    state[0] += 1
    if agg.kind in ("sum", "avg"):
        state[1] = v.arith("+", state[1] if state[1] is not None else 0, value)
    elif agg.kind in ("min", "max"):
        current = state[1]
        better = (
            current is None
            or (v.compare(value, current) or 0) * (1 if agg.kind == "max" else -1) > 0
        )
        if better:
            state[1] = value


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


@dataclass
class _Output:
    """The projection: fixed columns around at most one ``*``."""

    names: list[str]
    exprs: list[Compiled]
    star_at: int | None  # position of * among the columns

    def record(self, row: Any, params: Params) -> tuple[list[Any], Document | None]:
        return [e(row, params) for e in self.exprs], (row if self.star_at is not None else None)


def _name_of(node: exp.Expression, scope: Scope) -> str:
    if isinstance(node, exp.Alias):
        return node.alias
    path = path_of(node, scope)
    if path is not None and isinstance(path[-1], str):
        return path[-1]
    return node.sql(dialect=Lql, normalize_functions="lower")


def _output(select: exp.Select, scope: Scope) -> _Output:
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
        names.append(_name_of(node, scope))
        exprs.append(compile_expr(target, scope))
    return _Output(names, exprs, star_at)


def _check_grouped(
    nodes: list[exp.Expression], groups: list[exp.Expression], scope: Scope, aliases: set[str]
) -> None:
    # As in PostgreSQL: outside aggregates, a grouped query reads only what it groups by
    # (ORDER BY may also name an output column).
    def visit(node: exp.Expression) -> None:
        if any(node == g for g in groups) or isinstance(node, exp.AggFunc):
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
    if select.args.get("joins") or select.args.get("with_"):
        raise QueryError("joins and WITH are not supported yet")
    if any(select.args.get(k) for k in ("windows", "qualify", "laterals")):
        raise QueryError("that SELECT clause is not supported in LQL")
    source_node = select.args.get("from_")
    if source_node is None:
        return None, frozenset()
    return _table(source_node.this, "FROM")


def _select(select: exp.Select) -> Plan:
    collection, names = _select_from(select)
    scope = Scope(tables=names)
    groups = list(select.args["group"].expressions) if select.args.get("group") else []
    order_nodes = list(select.args["order"].expressions) if select.args.get("order") else []
    having_node = select.args["having"].this if select.args.get("having") else None
    grouped = bool(groups) or any(
        n.find(exp.AggFunc) for n in [*select.expressions, *order_nodes, having_node] if n
    )
    aggregates: list[Aggregate] = []
    if grouped:
        if any(isinstance(n, exp.Star) for n in select.expressions):
            raise QueryError("SELECT * cannot be grouped; name the columns")
        checked = [*select.expressions, *order_nodes, *([having_node] if having_node else [])]
        aliases = {n.alias for n in select.expressions if isinstance(n, exp.Alias)}
        _check_grouped(checked, groups, scope, aliases)
        scope.aggregates = aggregates
    output = _output(select, scope)
    scope.aggregates = None
    where_node = select.args["where"].this if select.args.get("where") else None
    rows = _rows(collection or "", names, where_node, scope) if collection is not None else None
    bare_where = compile_expr(where_node, scope) if rows is None and where_node else None
    group_keys = [compile_expr(g, scope) for g in groups]
    scope.aggregates = aggregates if grouped else None
    having = compile_expr(having_node, scope) if having_node is not None else None
    order = [_order_key(o, output, scope) for o in order_nodes]
    scope.aggregates = None
    limit = _bound(select.args.get("limit"), scope)
    offset = _bound(select.args.get("offset"), scope)
    distinct = bool(select.args.get("distinct"))
    plain = not (grouped or order or distinct or limit or offset)
    if plain and rows is not None and _only_the_key(where_node, rows):
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
        if distinct:
            records = _distinct(records)
        skip = _evaluate(offset, params, "OFFSET") or 0
        take = _evaluate(limit, params, "LIMIT")
        if order:
            records = _sorted(records, order, params, None if take is None else skip + take)
        stop = None if take is None else skip + take
        kept = list(itertools.islice(records, skip, stop))
        return _result(output, [rec for _, rec in kept])

    return run


def _only_the_key(where: exp.Expression | None, rows: _Rows) -> bool:
    """Whether the WHERE is exactly ``id = <value>`` (nothing else to filter)."""
    return rows.keys is not None and len(rows.keys) == 1 and len(_conjuncts(where)) == 1


def _point(rows: _Rows, output: _Output) -> Plan:
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
            return _result(output, [])
        if star_only:
            fields = [k for k in found if k != "id"]
            return Result(["id", *fields], [[doc_id, *map(found.__getitem__, fields)]])
        row = found if found.get("id") == doc_id else {**found, "id": doc_id}
        return Result(output.names, [output.record(row, params)[0]])

    return run


def _general_point(rows: _Rows, output: _Output, key: Compiled) -> Plan:
    def run(source: Source, params: Params) -> Result:
        doc_id = key({}, params)
        ok = isinstance(doc_id, str) and doc_id
        found = source.get(rows.collection, doc_id) if ok else None
        if found is None:
            return _result(output, [])
        row = found if found.get("id") == doc_id else {**found, "id": doc_id}
        return _result(output, [output.record(row, params)])

    return run


def _grouped(
    docs: Iterable[Document],
    keys: list[Compiled],
    aggregates: list[Aggregate],
    having: Compiled | None,
    params: Params,
) -> Iterator[_Group]:
    groups: dict[bytes, _Group] = {}
    for doc in docs:
        marker = orjson.dumps([v.sort_key(k(doc, params)) for k in keys], default=str)
        group = groups.get(marker)
        if group is None:
            group = groups[marker] = _Group(doc, aggregates)
        for agg, state in zip(aggregates, group.states, strict=True):
            _feed(agg, state, doc, params)
    if not groups and not keys:  # an aggregate over no rows still answers (count 0)
        groups[b""] = _Group({}, aggregates)
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


def _order_key(node: exp.Expression, output: _Output, scope: Scope) -> OrderKey:
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
        return (lambda row, out, params: out[at], descending, nulls_first)
    compiled = compile_expr(target, scope)
    return (lambda row, out, params: compiled(row, params), descending, nulls_first)


Record = tuple[Any, tuple[list[Any], Document | None]]


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


def _result(output: _Output, records: list[tuple[list[Any], Document | None]]) -> Result:
    if output.star_at is None:
        return Result(list(output.names), [values for values, _ in records])
    star: dict[str, None] = {"id": None}
    for _, doc in records:
        star.update(dict.fromkeys(doc or {}))
    at = output.star_at
    columns = [*output.names[:at], *star, *output.names[at:]]
    rows = [
        [*values[:at], *((doc or {}).get(c) for c in star), *values[at:]] for values, doc in records
    ]
    return Result(columns, rows)


# --- writes -----------------------------------------------------------------------------------


def _returning(node: exp.Expression, scope: Scope) -> _Output | None:
    returning = node.args.get("returning")
    if returning is None:
        return None
    return _output(exp.Select(expressions=returning.expressions), scope)


def _written(output: _Output | None, docs: list[Document], params: Params) -> Result:
    if output is None:
        return Result(["count"], [[len(docs)]])
    return _result(output, [output.record(d, params) for d in docs])


class _ConflictRow:
    """The existing document, with the proposed one reachable as ``excluded``."""

    __slots__ = ("excluded", "existing")

    def __init__(self, existing: Document, excluded: Document) -> None:
        self.existing = existing
        self.excluded = excluded

    def get(self, key: str) -> Any:
        return self.excluded if key == "excluded" else self.existing.get(key)


Setter = tuple[list[str], Compiled]


def _setters(assignments: list[exp.Expression], scope: Scope) -> list[Setter]:
    setters: list[Setter] = []
    for item in assignments:
        if not isinstance(item, exp.EQ):
            raise QueryError("SET takes path = expression")
        found = path_of(item.this, scope)
        path = [p for p in found or [] if isinstance(p, str)]
        if not found or len(path) != len(found):
            raise QueryError(f"SET needs a field path, not {item.this.sql(dialect=Lql)}")
        if path == ["id"]:
            raise QueryError("a document's id cannot be changed")
        setters.append((path, compile_expr(item.expression, scope)))
    return setters


def _apply(doc: Document, setters: list[Setter], row: Any, params: Params) -> Document:
    new: Document = orjson.loads(orjson.dumps(doc))  # a deep copy: nested dicts change below
    computed = [(path, value(row, params)) for path, value in setters]  # all read the old doc
    for path, value in computed:
        target = new
        for step in path[:-1]:
            child = target.get(step)
            if not isinstance(child, dict):
                child = target[step] = {}
            target = child
        target[path[-1]] = value
    return new


def _insert(insert: exp.Insert) -> Plan:
    schema = insert.this
    table = schema.this if isinstance(schema, exp.Schema) else schema
    collection, names = _table(table, "INSERT INTO")
    columns = [c.name for c in schema.expressions] if isinstance(schema, exp.Schema) else []
    values = insert.expression
    if not columns or not isinstance(values, exp.Values):
        raise QueryError("INSERT takes (columns) VALUES (...), (...)")
    if len(set(columns)) != len(columns):
        raise QueryError("INSERT names a column twice")
    scope = Scope(tables=names)
    tuples = [
        [compile_expr(e, scope) for e in (row.expressions if isinstance(row, exp.Tuple) else [row])]
        for row in values.expressions
    ]
    for row in tuples:
        if len(row) != len(columns):
            raise QueryError(f"INSERT has {len(columns)} columns but a row of {len(row)} values")
    conflict = insert.args.get("conflict")
    setters = None if conflict is None else _on_conflict(conflict, scope)
    output = _returning(insert, scope)

    def run(source: Source, params: Params) -> Result:
        written: list[Document] = []
        for row in tuples:
            doc = {c: value({}, params) for c, value in zip(columns, row, strict=True)}
            doc_id = doc.pop("id", None)
            if doc_id is None:
                doc_id = new_id()
            if not isinstance(doc_id, str):
                raise QueryError(f"id must be text, not {type(doc_id).__name__}")
            final = _upsert(source, collection, doc_id, doc, setters, params)
            if final is not None:
                written.append({"id": doc_id, **final})
        return _written(output, written, params)

    return run


def _on_conflict(conflict: exp.Expression, scope: Scope) -> list[Setter]:
    """The SET of ``DO UPDATE``, or no setters for ``DO NOTHING``."""
    keys = [k.name for k in conflict.args.get("conflict_keys") or []]
    if keys != ["id"]:
        raise QueryError("ON CONFLICT takes (id)")
    if conflict.args.get("expressions"):
        return _setters(list(conflict.args["expressions"]), scope)
    action = conflict.args.get("action")
    if action is None or "NOTHING" not in action.sql().upper():
        raise QueryError("ON CONFLICT (id) takes DO NOTHING or DO UPDATE SET ...")
    return []


def _upsert(
    source: Source,
    collection: str,
    doc_id: str,
    doc: Document,
    setters: list[Setter] | None,
    params: Params,
) -> Document | None:
    for _ in range(RETRIES):
        if setters is None:
            source.put_if(collection, doc_id, doc, None)  # DocumentExists when taken
            return doc
        found = source.get_versioned(collection, doc_id)
        try:
            if found is None:
                source.put_if(collection, doc_id, doc, None)
                return doc
            if not setters:  # DO NOTHING
                return None
            existing, version = found
            row = _ConflictRow({"id": doc_id, **existing}, {"id": doc_id, **doc})
            updated = _apply(existing, setters, row, params)
            source.put_if(collection, doc_id, updated, version)
            return updated
        except (DocumentExists, VersionMismatch):
            continue  # a concurrent writer got there first: look again
    raise QueryError(f"document {doc_id!r} kept changing; the statement gave up")


def _matching(rows: _Rows, source: Source, params: Params) -> list[str]:
    return [doc["id"] for doc in rows.read(source, params)]


def _update(update: exp.Update) -> Plan:
    collection, names = _table(update.this, "UPDATE")
    if update.args.get("from_"):
        raise QueryError("UPDATE ... FROM is not supported yet")
    scope = Scope(tables=names)
    setters = _setters(list(update.expressions), scope)  # SET's ? come first, then WHERE's
    where_node = update.args["where"].this if update.args.get("where") else None
    rows = _rows(collection, names, where_node, scope)
    output = _returning(update, scope)

    def run(source: Source, params: Params) -> Result:
        written: list[Document] = []
        for doc_id in _matching(rows, source, params):
            for _ in range(RETRIES):
                found = source.get_versioned(collection, doc_id)
                if found is None:
                    break
                current = {"id": doc_id, **found[0]}
                if rows.where is not None and v.truth(rows.where(current, params)) is not True:
                    break  # changed meanwhile and no longer matches
                updated = _apply(found[0], setters, current, params)
                try:
                    source.put_if(collection, doc_id, updated, found[1])
                except VersionMismatch:
                    continue
                written.append({"id": doc_id, **updated})
                break
            else:
                raise QueryError(f"document {doc_id!r} kept changing; the statement gave up")
        return _written(output, written, params)

    return run


def _delete(delete: exp.Delete) -> Plan:
    collection, names = _table(delete.this, "DELETE FROM")
    if delete.args.get("using"):
        raise QueryError("DELETE ... USING is not supported yet")
    where_node = delete.args["where"].this if delete.args.get("where") else None
    scope = Scope(tables=names)
    rows = _rows(collection, names, where_node, scope)
    output = _returning(delete, scope)

    def run(source: Source, params: Params) -> Result:
        removed: list[Document] = []
        for doc_id in _matching(rows, source, params):
            for _ in range(RETRIES):
                found = source.get_versioned(collection, doc_id)
                if found is None:
                    break
                current = {"id": doc_id, **found[0]}
                if rows.where is not None and v.truth(rows.where(current, params)) is not True:
                    break
                try:
                    source.delete(collection, doc_id, found[1])
                except VersionMismatch:
                    continue
                removed.append(current)
                break
        return _written(output, removed, params)

    return run
