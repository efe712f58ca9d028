"""LQL's scalar functions and value constructors: ``||``, CASE, arrays, ``@>``, COALESCE, NULLIF,
lower, upper, length, abs, round, substr.

Each entry of :data:`HANDLERS` compiles one kind of sqlglot node, like the handlers in
:mod:`lumadb.query.compile`, which adds these to its own table.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from typing import Any

from sqlglot import exp

from lumadb.errors import QueryError
from lumadb.query import compile as c
from lumadb.query import values as v
from lumadb.query.compile import Compiled, Params, Scope

__all__ = ["HANDLERS"]


def _concat(node: exp.Expression, scope: Scope) -> Compiled:
    left, right = c.sub_expressions(node, scope)

    def concat(row: Any, params: Params) -> Any:
        a, b = left(row, params), right(row, params)
        if a is None or b is None:
            return None
        return _text(a) + _text(b)

    return concat


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    raise QueryError("|| joins text and numbers, not arrays or objects")


def _case(node: exp.Expression, scope: Scope) -> Compiled:
    subject = c.compile_expr(node.this, scope) if node.this is not None else None
    arms = [
        (c.compile_expr(a.this, scope), c.compile_expr(a.args["true"], scope))
        for a in node.args["ifs"]
    ]
    default = c.compile_expr(node.args["default"], scope) if node.args.get("default") else None

    def case(row: Any, params: Params) -> Any:
        probe = subject(row, params) if subject is not None else None
        for when, then in arms:
            test = when(row, params)
            hit = v.equal(probe, test) if subject is not None else v.truth(test)
            if hit:
                return then(row, params)
        return default(row, params) if default is not None else None

    return case


def _array(node: exp.Expression, scope: Scope) -> Compiled:
    items = [c.compile_expr(e, scope) for e in node.expressions]
    return lambda row, params: [item(row, params) for item in items]


def _contains(node: exp.Expression, scope: Scope) -> Compiled:
    """``a @> b``: every element of array ``b`` is in array ``a``."""
    left, right = c.sub_expressions(node, scope)

    def contains(row: Any, params: Params) -> Any:
        a, b = left(row, params), right(row, params)
        if a is None or b is None:
            return None
        if not isinstance(a, list) or not isinstance(b, list):
            return False
        return all(any(v.equal(x, y) for x in a) for y in b)

    return contains


def _function(name: str, fn: Callable[..., Any], arity: tuple[int, int]) -> Callable[..., Compiled]:
    def build(node: exp.Expression, scope: Scope) -> Compiled:
        args = [a for a in (node.this, *node.expressions) if a is not None]
        for key in ("expression", "decimals", "start", "length"):  # sqlglot names them so
            extra = node.args.get(key)
            if isinstance(extra, exp.Expression):
                args.append(extra)
        if not arity[0] <= len(args) <= arity[1]:
            raise QueryError(f"{name}() takes {arity[0]} to {arity[1]} arguments, not {len(args)}")
        compiled = [c.compile_expr(a, scope) for a in args]
        return lambda row, params: fn(*(c(row, params) for c in compiled))

    return build


def _strict(fn: Callable[..., Any]) -> Callable[..., Any]:
    """NULL in any argument gives NULL, as SQL's scalar functions do."""

    def run(*args: Any) -> Any:
        return None if any(a is None for a in args) else fn(*args)

    return run


def _length(value: Any) -> int:
    if isinstance(value, str | list | dict):
        return len(value)
    raise QueryError("length() takes text, an array or an object")


def _string_fn(name: str, fn: Callable[[str], str]) -> Callable[[Any], Any]:
    def run(value: Any) -> Any:
        if not isinstance(value, str):
            raise QueryError(f"{name}() takes text")
        return fn(value)

    return run


def _round(value: Any, digits: Any = 0) -> Any:
    number = v.arith("+", value, 0)
    if not isinstance(digits, int):
        raise QueryError("round() takes a whole number of digits")
    # Half away from zero, as PostgreSQL and SQLite round (Python's round() goes to even).
    step = decimal.Decimal(1).scaleb(-digits)
    try:
        exact = decimal.Decimal(repr(number)).quantize(step, rounding=decimal.ROUND_HALF_UP)
    except decimal.InvalidOperation:  # more digits than a decimal holds: nothing to round
        return number
    return int(exact) if digits <= 0 and isinstance(number, int) else float(exact)


def _substr(value: Any, start: Any, length: Any = None) -> Any:
    if not isinstance(value, str) or not isinstance(start, int):
        raise QueryError("substr() takes text and a whole-number start")
    begin = max(start - 1, 0)  # SQL counts from 1
    if length is None:
        return value[begin:]
    if not isinstance(length, int):
        raise QueryError("substr() takes a whole-number length")
    end = start - 1 + length
    return value[begin : max(end, begin)]


def _coalesce(node: exp.Expression, scope: Scope) -> Compiled:
    options = [c.compile_expr(a, scope) for a in (node.this, *node.expressions) if a is not None]

    def first(row: Any, params: Params) -> Any:
        for option in options:
            value = option(row, params)
            if value is not None:
                return value
        return None

    return first


def _nullif(node: exp.Expression, scope: Scope) -> Compiled:
    left, right = c.sub_expressions(node, scope)

    def nullif(row: Any, params: Params) -> Any:
        a = left(row, params)
        return None if v.equal(a, right(row, params)) else a

    return nullif


HANDLERS: dict[type[exp.Expression], Callable[[Any, Scope], Compiled]] = {
    exp.DPipe: _concat,
    exp.Case: _case,
    exp.Array: _array,
    exp.ArrayContainsAll: _contains,
    exp.Coalesce: _coalesce,
    exp.Nullif: _nullif,
    exp.Lower: _function("lower", _strict(_string_fn("lower", str.lower)), (1, 1)),
    exp.Upper: _function("upper", _strict(_string_fn("upper", str.upper)), (1, 1)),
    exp.Length: _function("length", _strict(_length), (1, 1)),
    exp.Abs: _function("abs", _strict(lambda x: abs(v.arith("+", x, 0))), (1, 1)),
    exp.Round: _function("round", _strict(_round), (1, 2)),
    exp.Substring: _function("substr", _strict(_substr), (2, 3)),
}
