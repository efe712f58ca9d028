"""LQL aggregate queries → DuckDB SQL over a collection's columnar replica.

Only what means the same in both is translated: field paths, constants and parameters,
comparisons, AND/OR/NOT, IN lists, BETWEEN, IS NULL, LIKE, ``+ - *`` and the aggregates
count/sum/avg/min/max (with DISTINCT), under GROUP BY, HAVING, ORDER BY, LIMIT and OFFSET, over
one collection or over collections joined with JOIN / LEFT JOIN ... ON (the row plan's joins:
``=`` in ON matches neither NULL nor values of different kinds, and the kind demands keep it so).
Anything else (WITH, subqueries, functions, division, array indexes) raises :class:`NotColumnar`
while planning, and the statement keeps its row plan.

LQL compares values of different kinds (a number with a text) where SQL engines refuse, so
the translation also records which operands must be of one kind: ``same`` pairs and ``is``
demands over terms, a term being a field (``col``) or a constant (``val``). They are checked
when the statement runs, against the kinds of values the replica has seen in each field and
the kinds of the parameters; a query that fails them runs on rows instead.

Constants are never inlined: every literal and parameter becomes a ``?`` with its value
computed at run time, so the SQL text holds only keywords, ``?`` and ``{n}`` slots that the
replica fills with its column names (``{t0}``, ``{t1}``, … with the tables of the collections,
in FROM and JOIN order; each is aliased ``s0``, ``s1``, … and its columns are qualified so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlglot import exp

from lumadb.errors import LumaError
from lumadb.query.compile import Compiled, Params, Scope, compile_expr, path_of

__all__ = ["ColumnarQuery", "NotColumnar", "Shipped", "translate"]

Term = tuple[str, int]  # ("col", path number) or ("val", constant number)
_JOIN_SIDES = {"": "JOIN", "LEFT": "LEFT JOIN"}
Demand = tuple[str, Term, Any]  # ("same", term, term) or ("is", term, kind)

_COMPARISONS: dict[type[exp.Expression], str] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
}
_ARITHMETIC: dict[type[exp.Expression], str] = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*"}
_AGGREGATES: dict[type[exp.Expression], str] = {
    exp.Count: "count",
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Min: "min",
    exp.Max: "max",
}


class NotColumnar(LumaError):
    """The statement has a part the columnar replica does not answer (it runs on rows)."""


@dataclass(frozen=True, slots=True)
class Shipped:
    """A columnar query with its constants computed: what the replica runs (msgpack-able)."""

    collections: list[str]  # FROM, then each JOIN
    sql: str
    paths: list[list[str]]
    sources: list[int]  # which of the collections each path reads
    values: list[Any]
    demands: list[list[Any]]


@dataclass
class ColumnarQuery:
    """An LQL aggregate query as a DuckDB SQL template, its fields and its constants."""

    collections: list[str]
    sql: str = ""
    paths: list[list[str]] = field(default_factory=list)
    sources: list[int] = field(default_factory=list)
    constants: list[Compiled] = field(default_factory=list)
    demands: list[Demand] = field(default_factory=list)
    limits: list[int] = field(default_factory=list)  # constants that must be counts

    def bind(self, params: Params) -> Shipped | None:
        """The query with this run's constants, or ``None`` when they need the row plan."""
        values = [c({}, params) for c in self.constants]
        for at in self.limits:  # a bad LIMIT gets the row plan's error message
            if type(values[at]) is not int or values[at] < 0:
                return None
        for value in values:
            if value is not None and type(value) not in (int, float, str, bool):
                return None
            if type(value) is int and not -(2**63) <= value < 2**63:
                return None
        demands: list[list[Any]] = []
        for kind, term, other in self.demands:
            demands.append([kind, list(term), list(other) if kind == "same" else other])
        return Shipped(self.collections, self.sql, self.paths, self.sources, values, demands)


def translate(
    select: exp.Select, sources: list[tuple[str, str]], scope: Scope, names: list[str]
) -> ColumnarQuery:
    """The columnar form of a grouped SELECT whose columns are ``names``; ``sources``: the
    ``(alias, collection)`` of FROM and each JOIN (one pair without joins)."""
    if select.args.get("with_") or scope.subqueries:
        raise NotColumnar("WITH and subqueries run on rows")
    query = ColumnarQuery([collection for _, collection in sources])
    t = _Translator(query, scope, [alias for alias, _ in sources] if scope.aliases else [])
    columns = []
    for at, node in enumerate(select.expressions):
        if isinstance(node, exp.Star):
            raise NotColumnar("* runs on rows")
        target = node.this if isinstance(node, exp.Alias) else node
        columns.append(f"{t.value(target)[0]} AS c{at}")
    sql = ["SELECT", "DISTINCT" if select.args.get("distinct") else "", ", ".join(columns)]
    sql.append("FROM {t0} AS s0")
    sql += [_join(t, join, at) for at, join in enumerate(select.args.get("joins") or [], 1)]
    where = select.args.get("where")
    if where is not None:
        sql.append(f"WHERE {t.condition(where.this)}")
    group = select.args.get("group")
    if group is not None:
        sql.append("GROUP BY " + ", ".join(t.value(g)[0] for g in group.expressions))
    having = select.args.get("having")
    if having is not None:
        sql.append(f"HAVING {t.condition(having.this)}")
    order = select.args.get("order")
    if order is not None:
        sql.append("ORDER BY " + ", ".join(t.ordered(o, names) for o in order.expressions))
    for clause in ("limit", "offset"):
        bound = select.args.get(clause)
        if bound is not None:
            node = bound.expression if isinstance(bound, exp.Limit | exp.Offset) else bound
            query.limits.append(len(query.constants))
            sql.append(f"{clause.upper()} {t.constant(node)[0]}")
    if len(names) != len(columns):
        raise NotColumnar("the columns do not match")
    query.sql = " ".join(s for s in sql if s)
    return query


def _join(t: _Translator, join: exp.Join, at: int) -> str:
    """``JOIN {t<at>} AS s<at> ON ...`` for an inner or left join with ON."""
    side = _JOIN_SIDES.get((join.side or "").upper())
    on = join.args.get("on")
    if side is None or on is None or (join.kind and join.kind.upper() not in ("INNER", "OUTER")):
        raise NotColumnar("this kind of join runs on rows (which say what is wrong)")
    return f"{side} {{t{at}}} AS s{at} ON {t.condition(on)}"


# An operand's kind: a term (known when the query runs), a fixed kind, None (no demand), or
# the list of operands it may come from (CASE arms, COALESCE), all of which must agree.
Kind = Term | str | list[Any] | None
Operand = tuple[str, Kind]  # SQL text and its kind


_Handler = Callable[["_Translator", exp.Expression], Operand]


class _Translator:
    def __init__(self, query: ColumnarQuery, scope: Scope, aliases: list[str]) -> None:
        self.query = query
        self.scope = scope
        self._aliases = aliases  # a query that joins: every path starts with one of them
        self._paths: dict[tuple[int, tuple[str, ...]], int] = {}
        self._in_aggregate = False

    def constant(self, node: exp.Expression) -> Operand:
        compiled = compile_expr(node, self.scope)  # the row plan's constant: same errors
        self.query.constants.append(compiled)
        return "?", ("val", len(self.query.constants) - 1)

    def _column(self, path: list[str | int]) -> Operand:
        source = 0
        if self._aliases:
            source, path = self._aliases.index(str(path[0])), path[1:]
            if not path:
                raise NotColumnar("a whole joined document runs on rows")
        if path == ["id"]:
            return f"s{source}._id", "text"
        if not all(isinstance(p, str) for p in path):
            raise NotColumnar("array indexes run on rows")
        key = (source, tuple(str(p) for p in path))
        at = self._paths.get(key)
        if at is None:
            at = self._paths[key] = len(self.query.paths)
            self.query.paths.append(list(key[1]))
            self.query.sources.append(source)
        return f"{{{at}}}", ("col", at)

    def _same(self, left: Kind, right: Kind) -> None:
        """Both operands must be of one kind (or NULL) when the query runs."""
        if isinstance(left, list) or isinstance(right, list):
            for one in left if isinstance(left, list) else [left]:
                for other in right if isinstance(right, list) else [right]:
                    self._same(one, other)
        elif isinstance(left, tuple) and isinstance(right, tuple):
            self.query.demands.append(("same", left, right))
        elif isinstance(left, tuple) and isinstance(right, str):
            self.query.demands.append(("is", left, right))
        elif isinstance(right, tuple) and isinstance(left, str):
            self.query.demands.append(("is", right, left))
        elif isinstance(left, str) and isinstance(right, str) and left != right:
            raise NotColumnar("operands of different kinds run on rows")

    def _kind(self, operand: Operand, kind: str) -> None:
        self._same(operand[1], kind)

    def condition(self, node: exp.Expression) -> str:
        text, term = self.value(node)
        self._kind((text, term), "bool")
        return text

    def value(self, node: exp.Expression) -> Operand:
        if node.args.get("negate"):
            inner = node.copy()
            inner.set("negate", None)
            return f"(NOT {self.value(inner)[0]})", "bool"
        path = path_of(node, self.scope)
        if path is not None:
            return self._column(path)
        if isinstance(node, exp.Literal | exp.Boolean | exp.Null | exp.Placeholder):
            return self.constant(node)
        if isinstance(node, exp.Paren):
            text, term = self.value(node.this)
            return f"({text})", term
        handler = self._HANDLERS.get(type(node))
        if handler is None:
            raise NotColumnar(f"{node.key} runs on rows")
        return handler(self, node)

    def _compare(self, node: exp.Expression) -> Operand:
        left, right = self.value(node.this), self.value(node.expression)
        self._same(left[1], right[1])
        return f"({left[0]} {_COMPARISONS[type(node)]} {right[0]})", "bool"

    def _arithmetic(self, node: exp.Expression) -> Operand:
        left, right = self.value(node.this), self.value(node.expression)
        self._kind(left, "number")
        self._kind(right, "number")
        return f"({left[0]} {_ARITHMETIC[type(node)]} {right[0]})", "number"

    def _neg(self, node: exp.Expression) -> Operand:
        inner = self.value(node.this)
        self._kind(inner, "number")
        return f"(- {inner[0]})", "number"

    def _logical(self, node: exp.Expression) -> Operand:
        word = "AND" if isinstance(node, exp.And) else "OR"
        return f"({self.condition(node.this)} {word} {self.condition(node.expression)})", "bool"

    def _not(self, node: exp.Expression) -> Operand:
        return f"(NOT {self.condition(node.this)})", "bool"

    def _is(self, node: exp.Expression) -> Operand:
        if not isinstance(node.expression, exp.Null):
            raise NotColumnar("IS TRUE/FALSE runs on rows")
        return f"({self.value(node.this)[0]} IS NULL)", "bool"

    def _in(self, node: exp.Expression) -> Operand:
        if node.args.get("query") or node.args.get("unnest") or not node.expressions:
            raise NotColumnar("IN (SELECT ...) runs on rows")
        left = self.value(node.this)
        items = []
        for item in node.expressions:
            operand = self.value(item)
            self._same(left[1], operand[1])
            items.append(operand[0])
        return f"({left[0]} IN ({', '.join(items)}))", "bool"

    def _between(self, node: exp.Expression) -> Operand:
        left = self.value(node.this)
        low, high = self.value(node.args["low"]), self.value(node.args["high"])
        self._same(left[1], low[1])
        self._same(left[1], high[1])
        return f"({left[0]} BETWEEN {low[0]} AND {high[0]})", "bool"

    def _like(self, node: exp.Expression) -> Operand:
        if node.args.get("escape"):
            raise NotColumnar("LIKE ... ESCAPE runs on rows")
        text, pattern = self.value(node.this), self.value(node.expression)
        self._kind(text, "text")
        self._kind(pattern, "text")
        return f"({text[0]} LIKE {pattern[0]})", "bool"

    def _aggregate(self, node: exp.Expression) -> Operand:
        if self._in_aggregate:
            raise NotColumnar("an aggregate inside an aggregate")
        name = _AGGREGATES[type(node)]
        inner = node.this
        distinct = isinstance(inner, exp.Distinct)
        if distinct:
            if len(inner.expressions) != 1:
                raise NotColumnar("count(DISTINCT a, b)")
            inner = inner.expressions[0]
        if isinstance(inner, exp.Star):
            if name != "count":
                raise NotColumnar(f"{name}(*)")
            return "count(*)", "number"
        self._in_aggregate = True
        try:
            arg = self.value(inner)
        finally:
            self._in_aggregate = False
        if name in ("sum", "avg"):
            self._kind(arg, "number")
        if name == "count" or name in ("sum", "avg"):
            kind: Kind = "number"
        else:
            kind = arg[1]
        return f"{name}({'DISTINCT ' if distinct else ''}{arg[0]})", kind

    def _concat(self, node: exp.Expression) -> Operand:
        left, right = self.value(node.this), self.value(node.expression)
        self._kind(left, "text")
        self._kind(right, "text")
        return f"({left[0]} || {right[0]})", "text"

    def _abs(self, node: exp.Expression) -> Operand:
        inner = self.value(node.this)
        self._kind(inner, "number")
        return f"abs({inner[0]})", "number"

    def _alike(self, operands: list[Operand]) -> Kind:
        """Operands that must share a kind (CASE arms, COALESCE): all of their kinds."""
        for at, one in enumerate(operands):  # pairwise: a NULL constant agrees with anything
            for other in operands[at + 1 :]:
                self._same(one[1], other[1])
        return [o[1] for o in operands]

    def _coalesce(self, node: exp.Expression) -> Operand:
        parts = [self.value(n) for n in [node.this, *node.expressions]]
        return f"coalesce({', '.join(p[0] for p in parts)})", self._alike(parts)

    def _case(self, node: exp.Expression) -> Operand:
        subject = self.value(node.this) if node.this is not None else None
        sql, results = ["CASE"], []
        if subject is not None:
            sql.append(subject[0])
        for arm in node.args["ifs"]:
            if subject is not None:
                test = self.value(arm.this)
                self._same(subject[1], test[1])
                sql.append(f"WHEN {test[0]}")
            else:
                sql.append(f"WHEN {self.condition(arm.this)}")
            results.append(self.value(arm.args["true"]))
            sql.append(f"THEN {results[-1][0]}")
        default = node.args.get("default")
        if default is not None:
            results.append(self.value(default))
            sql.append(f"ELSE {results[-1][0]}")
        sql.append("END")
        return f"({' '.join(sql)})", self._alike(results)

    _HANDLERS: ClassVar[
        dict[type[exp.Expression], Callable[[_Translator, exp.Expression], Operand]]
    ] = {
        exp.DPipe: _concat,
        exp.Abs: _abs,
        exp.Coalesce: _coalesce,
        exp.Case: _case,
        **dict.fromkeys(_COMPARISONS, _compare),
        **dict.fromkeys(_ARITHMETIC, _arithmetic),
        **dict.fromkeys(_AGGREGATES, _aggregate),
        exp.Neg: _neg,
        exp.And: _logical,
        exp.Or: _logical,
        exp.Not: _not,
        exp.Is: _is,
        exp.In: _in,
        exp.Between: _between,
        exp.Like: _like,
    }

    def ordered(self, node: exp.Expression, names: list[str]) -> str:
        """One ORDER BY term, resolved as the row plan resolves it (see ``select._order_key``)."""
        if not isinstance(node, exp.Ordered):
            raise NotColumnar("unexpected ORDER BY term")
        target = node.this
        if isinstance(target, exp.Literal) and not target.is_string:
            position = int(target.name) - 1
            if not 0 <= position < len(names):
                raise NotColumnar("ORDER BY a position out of range")  # the row plan says so
            text = f"c{position}"
        elif isinstance(target, exp.Column) and len(target.parts) == 1 and target.name in names:
            text = f"c{names.index(target.name)}"  # an output column of that name wins
        else:
            text = self.value(target)[0]
        # The parser fills in the dialect's NULL order (NULL below every value) when the
        # statement does not say it.
        nulls = "FIRST" if node.args.get("nulls_first") else "LAST"
        return f"{text} {'DESC' if node.args.get('desc') else 'ASC'} NULLS {nulls}"
