"""Running LQL statements on a service: plans compiled once per statement text, then run.

A plan holds compiled closures only, no parameter values, so a repeated parameterised
statement skips parsing and planning (:class:`Engine` keeps the last plans by text). Reads
come from the service: a ``WHERE id = ...`` or ``id IN (...)`` reads those documents, any
other statement scans the collection in id order and filters as it streams. Aggregates,
ordering and DISTINCT run here, in Python, for now.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from sqlglot import exp

from lumadb.errors import CollectionNotFound, QueryError
from lumadb.query.compile import Params, Scope, number_parameters, path_of
from lumadb.query.explain import explain
from lumadb.query.parser import CollectionDDL, Explain, Lql, Statement, parse
from lumadb.query.plans import Plan, Result, Source, with_ctes
from lumadb.query.select import plan_ctes, plan_select
from lumadb.query.transactions import Transaction
from lumadb.query.trigger_ddl import TriggerDDL, plan_trigger
from lumadb.query.vector_ddl import VectorIndexDDL, plan_vector_index
from lumadb.query.writes import plan_delete, plan_insert, plan_update

__all__ = ["Engine", "Prepared", "Result", "Source", "plan"]

PLAN_CACHE = 256


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
        with _bounded_depth():
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
            params = ()
        elif type(params) not in (list, tuple, dict):
            raise QueryError(f"params must be a list or an object, not {type(params).__name__}")
        try:  # no context manager here: this is the path of every point query
            plans = prepared.plans
            if len(plans) == 1 and plans[0] not in _MARKERS:
                return plans[0](target, params)
            return _run_all(plans, target, params)
        except RecursionError:
            raise QueryError("the statement is nested too deeply") from None

    def query(self, text: str, params: Params | None = None) -> Result:
        """Run every statement of ``text``; the result is the last one's."""
        return self.run(self.prepare(text), params)


def _begin(source: Source, params: Params) -> Result:
    raise QueryError("BEGIN")  # never run: a marker _run_all acts on


def _commit(source: Source, params: Params) -> Result:
    raise QueryError("COMMIT")


def _rollback(source: Source, params: Params) -> Result:
    raise QueryError("ROLLBACK")


_MARKERS = (_begin, _commit, _rollback)


def _run_all(plans: list[Plan], target: Source, params: Params) -> Result:
    """Statements in order; those between BEGIN and COMMIT as one transaction."""
    result: Result | None = None  # the last statement's (BEGIN, COMMIT: only if alone)
    tx: Transaction | None = None
    for run in plans:
        if run is _begin:
            if tx is not None:
                raise QueryError("BEGIN inside a transaction: transactions do not nest")
            tx = Transaction(target)
        elif run is _commit or run is _rollback:
            if tx is None:
                raise QueryError(f"{'COMMIT' if run is _commit else 'ROLLBACK'} without BEGIN")
            writes = tx.pending() if run is _commit else []
            done = target.commit(writes) if writes else 0
            word = "committed" if run is _commit else "rolled back"
            result, tx = result or Result(["transaction", "writes"], [[word, done]]), None
        else:
            result = run(tx or target, params)
    if tx is not None:
        raise QueryError("BEGIN without COMMIT or ROLLBACK in the same request: nothing written")
    return result or Result([], [])


@contextlib.contextmanager
def _bounded_depth() -> Iterator[None]:
    # Parsing, planning and evaluating recurse over the expression tree: a statement nested
    # thousands deep is the caller's mistake, not a crash.
    try:
        yield
    except RecursionError:
        raise QueryError("the statement is nested too deeply") from None


def plan(statement: Statement) -> tuple[Plan, list[tuple[str, str]]]:  # noqa: PLR0911 - by kind
    """The plan of one statement and the permissions it needs."""
    if isinstance(statement, exp.Expression):
        number_parameters(statement)
    if isinstance(statement, Explain):
        _, needs = plan(statement.statement)  # planned (and checked), not run
        inner = statement.statement
        read = sorted({c for action, c in needs if action != "admin"})

        def show(source: Source, params: Params) -> Result:
            # The indexes are the catalog's now, as when the statement would run.
            described = {c: source.describe_collection(c) for c in read}
            indexes = {c: d.get("indexes", []) for c, d in described.items()}
            expiring = {c for c, d in described.items() if d.get("ttl_seconds")}
            vectors = {c: d.get("vectors", {}) for c, d in described.items()}
            lines = explain(inner, indexes, expiring, vectors)
            return Result(["plan"], [[line] for line in lines])

        return show, needs
    marker = _marker(statement)
    if marker is not None:
        return marker, []
    if isinstance(statement, VectorIndexDDL):
        return plan_vector_index(statement)
    if isinstance(statement, TriggerDDL):
        return plan_trigger(statement)
    if isinstance(statement, CollectionDDL | exp.Create | exp.Drop):
        return _definition(statement)
    if isinstance(statement, exp.Select):
        return plan_select(statement), [("read", t) for t in _read_tables(statement)]
    if isinstance(statement, exp.Insert | exp.Update | exp.Delete):
        target = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
        name = target.name if isinstance(target, exp.Table) else ""
        # Reading is needed too when the statement sees what is stored: a WHERE, RETURNING,
        # or ON CONFLICT (as PostgreSQL asks SELECT rights for them).
        sees = not isinstance(statement, exp.Insert) or any(
            statement.args.get(k) for k in ("returning", "conflict")
        )
        others = [t for t in _read_tables(statement) if t != name]  # subqueries read them
        needs = [
            ("write", name),
            *([("read", name)] if sees else []),
            *(("read", t) for t in others),
        ]
        ctes = plan_ctes(statement, None)  # WITH before a write: its queries, by name
        if isinstance(statement, exp.Insert):
            return with_ctes(plan_insert(statement), ctes), needs
        if isinstance(statement, exp.Update):
            return with_ctes(plan_update(statement), ctes), needs
        return with_ctes(plan_delete(statement), ctes), needs
    raise QueryError(f"{statement.key.upper()} statements are not supported in LQL")


def _marker(statement: Statement) -> Plan | None:
    """The plan of BEGIN, COMMIT or ROLLBACK (``None``: another statement)."""
    for kind, marker in ((exp.Transaction, _begin), (exp.Commit, _commit)):
        if isinstance(statement, kind):
            return marker
    return _rollback if isinstance(statement, exp.Rollback) else None


def _definition(
    statement: CollectionDDL | exp.Create | exp.Drop,
) -> tuple[Plan, list[tuple[str, str]]]:
    """CREATE/DROP of a collection or an index."""
    if isinstance(statement, CollectionDDL):
        return _ddl(statement), [("admin", statement.name)]
    if str(statement.args.get("kind")).upper() != "INDEX":
        kind = str(statement.args.get("kind") or "").upper()
        raise QueryError(f"{statement.key.upper()} {kind} is not supported in LQL")
    return _index_ddl(statement)


def _index_ddl(statement: exp.Create | exp.Drop) -> tuple[Plan, list[tuple[str, str]]]:
    """``CREATE INDEX [IF NOT EXISTS] [name] ON c (path)`` and ``DROP INDEX [IF EXISTS] name``."""
    if isinstance(statement, exp.Drop):
        tables = statement.args.get("tables") or []
        if len(tables) != 1:
            raise QueryError("DROP INDEX takes one index name")
        name, missing_ok = tables[0].name, bool(statement.args.get("exists"))

        def drop(source: Source, params: Params) -> Result:
            return Result(
                ["index", "dropped"], [[name, source.drop_index(name, missing_ok=missing_ok)]]
            )

        # Whose index it is is known only when it runs: the engine checks admin there.
        return drop, [("admin", "*")]
    index = statement.this
    if not isinstance(index, exp.Index) or not isinstance(index.args.get("table"), exp.Table):
        raise QueryError("CREATE INDEX takes a name, ON a collection and (a field path)")
    unique = bool(statement.args.get("unique"))
    collection = index.args["table"].name
    params = index.args.get("params")
    columns = list(params.args.get("columns") or []) if params is not None else []
    kind = "text" if statement.meta.get("text_index") else "value"
    if unique and kind == "text":
        raise QueryError("a text index cannot be UNIQUE")
    if not columns or (kind == "text" and len(columns) != 1):
        raise QueryError("an index covers field paths: ON c (path[, path ...])")
    paths = []
    for column in columns:
        target = column.this if isinstance(column, exp.Ordered) else column
        path = path_of(target, Scope(tables=frozenset({collection})))
        if not path or not all(isinstance(p, str) for p in path):
            raise QueryError(f"an index needs a field path, not {target.sql(dialect=Lql)}")
        paths.append([str(p) for p in path])
    name, exist_ok = index.name, bool(statement.args.get("exists"))
    if not name:  # PostgreSQL's way: <collection>_<fields>_idx (a text index: _text)
        fields = "_".join("_".join(p) for p in paths)
        name = f"{collection}_{fields}_{'text' if kind == 'text' else 'idx'}"
    steps, more = paths[0], paths[1:]

    def create(source: Source, params: Params) -> Result:
        made = source.create_index(
            collection, name, steps, exist_ok=exist_ok, kind=kind, more=more, unique=unique
        )
        return Result(["index", "collection", "path"], [[name, collection, made["path"]]])

    return create, [("admin", collection)]


def _read_tables(statement: exp.Expression) -> list[str]:
    """Every collection the statement names, in order, without its WITH queries' names."""
    ctes = {cte.alias for w in statement.find_all(exp.With) for cte in w.expressions}
    names = [t.name for t in statement.find_all(exp.Table) if t.name not in ctes]
    return list(dict.fromkeys(names))


# --- collections ----------------------------------------------------------------------------


def _ddl(ddl: CollectionDDL) -> Plan:
    def run(source: Source, params: Params) -> Result:
        if ddl.action == "schema":
            described = source.set_schema(ddl.name, ddl.schema)
            return Result(["collection", "schema"], [[ddl.name, described.get("schema")]])
        if ddl.action == "ttl":
            described = source.set_ttl(ddl.name, ddl.ttl)
            return Result(["collection", "ttl_seconds"], [[ddl.name, described.get("ttl_seconds")]])
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
