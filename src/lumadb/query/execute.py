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
from lumadb.query.compile import Params, number_parameters
from lumadb.query.explain import explain
from lumadb.query.parser import CollectionDDL, Explain, Statement, parse
from lumadb.query.plans import Plan, Result, Source, with_ctes
from lumadb.query.select import plan_ctes, plan_select
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
            params = []
        if not isinstance(params, list | tuple | dict):
            raise QueryError(f"params must be a list or an object, not {type(params).__name__}")
        result = Result([], [])
        with _bounded_depth():
            for run in prepared.plans:
                result = run(target, params)
        return result

    def query(self, text: str, params: Params | None = None) -> Result:
        """Run every statement of ``text``; the result is the last one's."""
        return self.run(self.prepare(text), params)


@contextlib.contextmanager
def _bounded_depth() -> Iterator[None]:
    # Parsing, planning and evaluating recurse over the expression tree: a statement nested
    # thousands deep is the caller's mistake, not a crash.
    try:
        yield
    except RecursionError:
        raise QueryError("the statement is nested too deeply") from None


def plan(statement: Statement) -> tuple[Plan, list[tuple[str, str]]]:
    """The plan of one statement and the permissions it needs."""
    if isinstance(statement, exp.Expression):
        number_parameters(statement)
    if isinstance(statement, Explain):
        _, needs = plan(statement.statement)  # planned (and checked), not run
        rows = [[line] for line in explain(statement.statement)]
        read = sorted({c for action, c in needs if action != "admin"})

        def show(source: Source, params: Params) -> Result:
            for collection in read:  # a missing collection is an error, as when it runs
                source.describe_collection(collection)
            return Result(["plan"], rows)

        return show, needs
    if isinstance(statement, CollectionDDL):
        return _ddl(statement), [("admin", statement.name)]
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


def _read_tables(statement: exp.Expression) -> list[str]:
    """Every collection the statement names, in order, without its WITH queries' names."""
    ctes = {cte.alias for w in statement.find_all(exp.With) for cte in w.expressions}
    names = [t.name for t in statement.find_all(exp.Table) if t.name not in ctes]
    return list(dict.fromkeys(names))


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
