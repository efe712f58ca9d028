"""LQL's vector operators, as pgvector spells them, computed exactly over the rows read.

``a <-> b`` is the Euclidean (L2) distance, ``a <=> b`` the cosine distance (1 - cosine of the
angle; NULL when a vector is all zeros), ``a <#> b`` the negative inner product (so that
``ORDER BY ... LIMIT k`` finds the largest products first). A vector is a JSON array of
numbers; NULL in gives NULL out; anything else, or vectors of different lengths, is a
:class:`~lumadb.errors.QueryError`. ``embed('text')`` parses and plans; it needs an embedding
model, which a collection does not have yet, so running it says so.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import orjson
from sqlglot import exp

from lumadb.errors import QueryError
from lumadb.query import compile as c
from lumadb.query.compile import Compiled, Params, Scope
from lumadb.query.parser import CosineDistance, NegativeInnerProduct

__all__ = ["HANDLERS", "NAMED"]


def _vector(value: Any, op: str) -> list[int | float]:
    if (
        not isinstance(value, list)
        or not value
        or not all(type(x) is int or type(x) is float for x in value)
    ):
        shown = orjson.dumps(value).decode()[:40]
        raise QueryError(f"{op} needs two vectors (arrays of numbers), not {shown}")
    return value


def _l2(a: list[int | float], b: list[int | float]) -> float | None:
    return math.dist(a, b)


def _cosine(a: list[int | float], b: list[int | float]) -> float | None:
    norms = math.hypot(*a) * math.hypot(*b)
    return None if norms == 0 else 1 - sum(map(operator.mul, a, b)) / norms


def _negative_inner(a: list[int | float], b: list[int | float]) -> float | None:
    return -float(sum(map(operator.mul, a, b)))


def _operator(op: str, fn: Callable[[list[Any], list[Any]], float | None]) -> Any:
    def handler(node: exp.Expression, scope: Scope) -> Compiled:
        left, right = c.sub_expressions(node, scope)

        def distance(row: Any, params: Params) -> Any:
            a, b = left(row, params), right(row, params)
            if a is None or b is None:
                return None
            a, b = _vector(a, op), _vector(b, op)
            if len(a) != len(b):
                raise QueryError(f"{op} needs vectors of one length, not {len(a)} and {len(b)}")
            return fn(a, b)

        return distance

    return handler


def _anonymous(node: exp.Expression, scope: Scope) -> Compiled:
    name = str(node.this).lower()
    handler = NAMED.get(name)
    if handler is None:
        raise QueryError(f"{name}() is not a function of LQL")
    return handler(node, scope)


def _embed(node: exp.Expression, scope: Scope) -> Compiled:
    if len(node.expressions) != 1:
        raise QueryError("embed() takes one text")
    text = c.compile_expr(node.expressions[0], scope)

    def embed(row: Any, params: Params) -> Any:
        text(row, params)  # its own errors (a missing parameter) first
        raise QueryError("embed() needs an embedding model, and none is configured")

    return embed


NAMED: dict[str, Callable[[Any, Scope], Compiled]] = {"embed": _embed}
"""Functions sqlglot does not know, by lower-case name (:mod:`lumadb.query.text` adds its own)."""

HANDLERS: dict[type[exp.Expression], Callable[[Any, Scope], Compiled]] = {
    exp.Distance: _operator("<->", _l2),
    CosineDistance: _operator("<=>", _cosine),
    NegativeInnerProduct: _operator("<#>", _negative_inner),
    exp.Anonymous: _anonymous,
}
