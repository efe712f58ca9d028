"""LQL expressions → Python closures, compiled once per statement.

A compiled expression is ``fn(row, params) -> value``: ``row`` is the document (with its
``id``), ``params`` the statement's parameters. Paths read nested fields (``address.city``,
``tags[0]``, ``meta['k']``); a missing field is NULL. Aggregates (``count``, ``sum``, ``avg``,
``min``, ``max``) are collected into :class:`Aggregate` slots by the compiler and read back
from the group's results, so one compiler serves rows and groups.
"""

from __future__ import annotations

import contextvars
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from lumadb.errors import QueryError
from lumadb.query import values as v
from lumadb.query.parser import Lql

__all__ = [
    "SUBQUERY_RESULTS",
    "Aggregate",
    "Compiled",
    "Params",
    "Scope",
    "compile_expr",
    "number_parameters",
    "path_of",
    "sub_expressions",
]

Params = Sequence[Any] | dict[str, Any]
Compiled = Callable[[Any, Params], Any]

_COMPARE: dict[type[exp.Expression], Callable[[int], bool]] = {
    exp.GT: lambda c: c > 0,
    exp.GTE: lambda c: c >= 0,
    exp.LT: lambda c: c < 0,
    exp.LTE: lambda c: c <= 0,
}
_ARITH: dict[type[exp.Expression], str] = {
    exp.Add: "+",
    exp.Sub: "-",
    exp.Mul: "*",
    exp.Div: "/",
    exp.Mod: "%",
}
_AGGREGATES = (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max)


@dataclass
class Aggregate:
    """One aggregate call of a grouped query: its function, argument and DISTINCT."""

    kind: str  # count | sum | avg | min | max
    arg: Compiled | None  # None: count(*)
    distinct: bool


@dataclass
class Scope:
    """What names mean while compiling: the table's names, parameters, aggregate slots."""

    tables: frozenset[str] = frozenset()
    aliases: frozenset[str] = frozenset()  # in a query that joins: the row's keys
    aggregates: list[Aggregate] | None = None  # None: aggregates are not allowed here
    named: bool | None = None  # whether parameters are :named (None: none seen yet)
    outer: frozenset[str] = frozenset()  # the names of enclosing queries' collections
    # Subqueries met while compiling, planned at once (so their ? are numbered in text
    # order) by ``plan_subquery``, which the statement planners provide.
    subqueries: list[Any] = field(default_factory=list)
    plan_subquery: Callable[[exp.Select, Scope], Any] | None = None
    uses_score: bool = False  # score() appears: the plan must bring the text figures
    uses_embed: bool = False  # embed() appears: the plan must bring its source along

    def nested(self) -> Scope:
        """A scope for a subquery: the same parameters, the enclosing names as outer."""
        return Scope(
            named=self.named,
            outer=self.outer | self.tables | self.aliases,
            plan_subquery=self.plan_subquery,
        )


SUBQUERY_RESULTS: contextvars.ContextVar[list[Any]] = contextvars.ContextVar("lql_subqueries")
"""The results of the running statement's subqueries (set per run, so plans stay shared)."""


def path_of(node: exp.Expression, scope: Scope) -> list[str | int] | None:  # noqa: PLR0911
    """The field path a column, dot or bracket expression reads; ``None`` if it is not one."""
    if isinstance(node, exp.Column):
        parts = [p.name for p in node.parts]
        if scope.aliases:  # a joined row is {alias: document}: the alias comes first
            if parts[0] not in scope.aliases:
                raise QueryError(
                    f"{node.sql(dialect=Lql)} must name its collection in a query that joins "
                    f"({', '.join(sorted(scope.aliases))})"
                )
            return list(parts)
        if len(parts) > 1 and parts[0] in scope.tables:
            parts = parts[1:]  # a qualifier naming the collection, not a field
        elif parts[0] in scope.outer:
            raise QueryError(
                f"{node.sql(dialect=Lql)} refers to an enclosing query: correlated subqueries "
                "are not supported yet"
            )
        return list(parts)
    if isinstance(node, exp.Dot):
        left = path_of(node.this, scope)
        if left is None or not isinstance(node.expression, exp.Identifier):
            return None
        return [*left, node.expression.name]
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
        left = path_of(node.this, scope)
        key = node.expressions[0]
        if left is None or not isinstance(key, exp.Literal):
            return None
        if key.is_string:
            return [*left, key.name]
        if not key.name.isdigit():
            raise QueryError(f"an array index must be a whole number, not {key.sql()}")
        return [*left, int(key.name)]
    return None


def _read(path: list[str | int]) -> Compiled:
    first, rest = path[0], path[1:]

    def read(row: Any, params: Params) -> Any:
        value = row.get(first) if isinstance(first, str) else None
        for step in rest:
            if isinstance(step, int):
                value = value[step] if isinstance(value, list) and step < len(value) else None
            else:
                value = value.get(step) if isinstance(value, dict) else None
            if value is None:
                return None
        return value

    return read


def _literal(node: exp.Literal) -> Any:
    if node.is_string:
        return node.name
    text = node.name
    try:
        return int(text)
    except ValueError:
        number = float(text)
        if not math.isfinite(number):
            raise QueryError(f"the number {text} is out of range") from None
        return number


PARAM_INDEX = "lql_index"


def number_parameters(statement: exp.Expression) -> None:
    """Number the statement's ``?`` in the order they appear in its text (from 0).

    The tree's order is not the text's (sqlglot keeps LIMIT before WHERE, for one), so the
    parser records where each ``?`` began and this ranks them.
    """
    marks = [p for p in statement.find_all(exp.Placeholder) if not p.name or p.name == "?"]
    for index, node in enumerate(sorted(marks, key=lambda p: p.meta.get("start", 0))):
        node.meta[PARAM_INDEX] = index


def _placeholder(node: exp.Placeholder, scope: Scope) -> Compiled:
    name = node.name
    named = bool(name) and name != "?"
    if scope.named is not None and scope.named != named:
        raise QueryError("a statement uses either ? or :name parameters, not both")
    scope.named = named
    if named:

        def by_name(row: Any, params: Params) -> Any:
            if not isinstance(params, dict) or name not in params:
                raise QueryError(f"the parameter :{name} has no value")
            return params[name]

        return by_name
    at = node.meta.get(PARAM_INDEX)
    if not isinstance(at, int):
        raise QueryError("a ? parameter outside a statement")  # number_parameters was not run

    def by_position(row: Any, params: Params) -> Any:
        if isinstance(params, dict) or at >= len(params):
            raise QueryError(f"parameter {at + 1} has no value")
        return params[at]

    return by_position


def compile_expr(node: exp.Expression, scope: Scope) -> Compiled:  # noqa: PLR0911
    """``node`` as a closure, or :class:`QueryError` naming what LQL does not support."""
    path = path_of(node, scope)
    if path is not None:
        return _read(path)
    if isinstance(node, exp.Literal):
        constant = _literal(node)
        return lambda row, params: constant
    if isinstance(node, exp.Boolean):
        truth = bool(node.this)
        return lambda row, params: truth
    if isinstance(node, exp.Null):
        return lambda row, params: None
    if isinstance(node, exp.Placeholder):
        return _placeholder(node, scope)
    if isinstance(node, exp.Paren):
        return compile_expr(node.this, scope)
    if isinstance(node, _AGGREGATES):
        return _aggregate(node, scope)
    handler = _HANDLERS.get(type(node))
    if handler is None:
        raise QueryError(f"{node.sql(dialect=Lql)[:60]!r} is not supported in LQL")
    compiled = handler(node, scope)
    if node.args.get("negate"):  # IS NOT NULL, NOT IN, NOT LIKE ... arrive as negate=True
        return lambda row, params: v.logical_not(v.truth(compiled(row, params)))
    return compiled


def sub_expressions(node: exp.Expression, scope: Scope) -> tuple[Compiled, Compiled]:
    """``node.this`` and ``node.expression``, compiled."""
    return compile_expr(node.this, scope), compile_expr(node.expression, scope)


def _equality(node: exp.Expression, scope: Scope) -> Compiled:
    if isinstance(node.expression, exp.Any) and isinstance(node, exp.EQ):
        return _any(node, scope)
    left, right = sub_expressions(node, scope)
    negate = isinstance(node, exp.NEQ)

    def eq(row: Any, params: Params) -> Any:
        found = v.equal(left(row, params), right(row, params))
        return found if found is None or not negate else not found

    return eq


def _ordering(node: exp.Expression, scope: Scope) -> Compiled:
    left, right = sub_expressions(node, scope)
    test = _COMPARE[type(node)]

    def cmp(row: Any, params: Params) -> Any:
        found = v.compare(left(row, params), right(row, params))
        return None if found is None else test(found)

    return cmp


def _arithmetic(node: exp.Expression, scope: Scope) -> Compiled:
    left, right = sub_expressions(node, scope)
    op = _ARITH[type(node)]
    return lambda row, params: v.arith(op, left(row, params), right(row, params))


def _and(node: exp.Expression, scope: Scope) -> Compiled:
    left, right = sub_expressions(node, scope)

    def both(row: Any, params: Params) -> Any:
        first = v.truth(left(row, params))
        if first is False:
            return False
        return v.logical_and(first, v.truth(right(row, params)))

    return both


def _or(node: exp.Expression, scope: Scope) -> Compiled:
    left, right = sub_expressions(node, scope)

    def either(row: Any, params: Params) -> Any:
        first = v.truth(left(row, params))
        if first is True:
            return True
        return v.logical_or(first, v.truth(right(row, params)))

    return either


def _not(node: exp.Expression, scope: Scope) -> Compiled:
    inner = compile_expr(node.this, scope)
    return lambda row, params: v.logical_not(v.truth(inner(row, params)))


def _neg(node: exp.Expression, scope: Scope) -> Compiled:
    inner = compile_expr(node.this, scope)
    return lambda row, params: v.arith("-", 0, inner(row, params))


def _is(node: exp.Expression, scope: Scope) -> Compiled:
    inner = compile_expr(node.this, scope)
    target = node.expression
    if isinstance(target, exp.Null):
        return lambda row, params: inner(row, params) is None
    if isinstance(target, exp.Boolean):
        wanted = bool(target.this)
        return lambda row, params: v.truth(inner(row, params)) is wanted
    raise QueryError(f"IS {target.sql()} is not supported; use IS [NOT] NULL, TRUE or FALSE")


def _subquery(node: exp.Expression, scope: Scope) -> int:
    """Plan the subquery ``node`` now; returns its slot in :data:`SUBQUERY_RESULTS`."""
    select = node.this if isinstance(node, exp.Subquery) else node
    if not isinstance(select, exp.Select) or scope.plan_subquery is None:
        raise QueryError("a subquery must be a SELECT")
    if len(select.expressions) != 1 or isinstance(select.expressions[0], exp.Star):
        raise QueryError("a subquery here must select exactly one column")
    inner = scope.nested()
    planned = scope.plan_subquery(select, inner)
    scope.named = inner.named
    scope.subqueries.append(planned)
    return len(scope.subqueries) - 1


def _scalar(node: exp.Expression, scope: Scope) -> Compiled:
    """``(SELECT ...)`` as a value: its one row's one column, NULL without rows."""
    slot = _subquery(node, scope)

    def value(row: Any, params: Params) -> Any:
        rows = SUBQUERY_RESULTS.get()[slot]
        if len(rows) > 1:
            raise QueryError("a subquery used as a value returned more than one row")
        return rows[0][0] if rows else None

    return value


def _in(node: exp.Expression, scope: Scope) -> Compiled:
    if node.args.get("unnest") is not None:
        raise QueryError("IN UNNEST is not supported; list the values")
    probe = compile_expr(node.this, scope)
    if node.args.get("query") is not None:
        slot = _subquery(node.args["query"], scope)
        return _member_of_list(
            probe, lambda row, params: [r[0] for r in SUBQUERY_RESULTS.get()[slot]]
        )
    options = [compile_expr(e, scope) for e in node.expressions]

    def member(row: Any, params: Params) -> Any:
        value = probe(row, params)
        unknown = value is None
        for option in options:
            found = v.equal(value, option(row, params))
            if found:
                return True
            unknown = unknown or found is None
        return None if unknown else False

    return member


def _member_of_list(probe: Compiled, items: Compiled) -> Compiled:
    def member(row: Any, params: Params) -> Any:
        value = probe(row, params)
        unknown = value is None
        for item in items(row, params):
            found = v.equal(value, item)
            if found:
                return True
            unknown = unknown or found is None
        return None if unknown else False

    return member


def _between(node: exp.Expression, scope: Scope) -> Compiled:
    probe = compile_expr(node.this, scope)
    low, high = compile_expr(node.args["low"], scope), compile_expr(node.args["high"], scope)

    def within(row: Any, params: Params) -> Any:
        value = probe(row, params)
        above = v.compare(value, low(row, params))
        below = v.compare(value, high(row, params))
        return v.logical_and(
            None if above is None else above >= 0, None if below is None else below <= 0
        )

    return within


def _like_pattern(pattern: str, insensitive: bool) -> re.Pattern[str]:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if insensitive else 0))


def _like(node: exp.Expression, scope: Scope) -> Compiled:
    text, pattern = sub_expressions(node, scope)
    insensitive = isinstance(node, exp.ILike)
    cache: dict[str, re.Pattern[str]] = {}

    def like(row: Any, params: Params) -> Any:
        value, wanted = text(row, params), pattern(row, params)
        if value is None or wanted is None:
            return None
        if not isinstance(value, str) or not isinstance(wanted, str):
            return False
        compiled = cache.get(wanted)
        if compiled is None:
            compiled = cache[wanted] = _like_pattern(wanted, insensitive)
        return compiled.fullmatch(value) is not None

    return like


def _any(node: exp.Expression, scope: Scope) -> Compiled:
    """``x = ANY(array)``: the comparison holds for some element."""
    left = compile_expr(node.this, scope)
    target = node.expression
    if not isinstance(target, exp.Any):
        raise QueryError("ANY must be the right side of =")
    inner = target.this.this if isinstance(target.this, exp.Paren) else target.this
    array = compile_expr(inner, scope)

    def any_of(row: Any, params: Params) -> Any:
        value, items = left(row, params), array(row, params)
        if value is None or items is None:
            return None
        if not isinstance(items, list):
            return False
        found = [v.equal(value, item) for item in items]
        return True if any(found) else (None if None in found else False)

    return any_of


def _aggregate(node: exp.Expression, scope: Scope) -> Compiled:
    if scope.aggregates is None:
        raise QueryError(f"{node.key}() is not allowed here")
    inner = node.this
    distinct = isinstance(inner, exp.Distinct)
    if distinct:
        if len(inner.expressions) != 1:
            raise QueryError("count(DISTINCT ...) takes one expression")
        inner = inner.expressions[0]
    outer, scope.aggregates = scope.aggregates, None  # no aggregate inside an aggregate
    try:
        arg = None if isinstance(inner, exp.Star) else compile_expr(inner, scope)
    finally:
        scope.aggregates = outer
    if arg is None and not isinstance(node, exp.Count):
        raise QueryError(f"{node.key}(*) is not allowed; only count(*)")
    slot = len(outer)
    outer.append(Aggregate(node.key, arg, distinct))
    return lambda group, params: group.results[slot]


_HANDLERS: dict[type[exp.Expression], Callable[[Any, Scope], Compiled]] = {
    exp.EQ: _equality,
    exp.NEQ: _equality,
    exp.GT: _ordering,
    exp.GTE: _ordering,
    exp.LT: _ordering,
    exp.LTE: _ordering,
    exp.Add: _arithmetic,
    exp.Sub: _arithmetic,
    exp.Mul: _arithmetic,
    exp.Div: _arithmetic,
    exp.Mod: _arithmetic,
    exp.And: _and,
    exp.Or: _or,
    exp.Not: _not,
    exp.Neg: _neg,
    exp.Is: _is,
    exp.In: _in,
    exp.Between: _between,
    exp.Like: _like,
    exp.ILike: _like,
    exp.Subquery: _scalar,
}

# The scalar functions and the other value constructors live in their own module; it needs
# compile_expr, so it is imported once everything above exists.
from lumadb.query.functions import HANDLERS as _FUNCTIONS  # noqa: E402
from lumadb.query.vectors import HANDLERS as _VECTORS  # noqa: E402

_HANDLERS.update(_FUNCTIONS)
_HANDLERS.update(_VECTORS)
