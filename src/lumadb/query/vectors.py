"""LQL's vector operators, as pgvector spells them, computed exactly over the rows read.

``a <-> b`` is the Euclidean (L2) distance, ``a <=> b`` the cosine distance (1 - cosine of the
angle; NULL when a vector is all zeros), ``a <#> b`` the negative inner product (so that
``ORDER BY ... LIMIT k`` finds the largest products first). A vector is a JSON array of
numbers; NULL in gives NULL out; anything else, or vectors of different lengths, is a
:class:`~lumadb.errors.QueryError`.

``embed('text')`` is the text's vector by the model of the vector field it is compared with
(``ORDER BY embedding <=> embed('red shoes') LIMIT 10``: the model of ``embedding``'s index);
``embed('text', 'model')`` names the model. Each distinct text is embedded once per statement
run, by the source (so with the node's model settings), and only in SELECT statements.
"""

from __future__ import annotations

import contextvars
import math
import operator
from collections.abc import Callable
from typing import Any

import orjson
from sqlglot import exp

from lumadb.errors import CollectionNotFound, QueryError
from lumadb.query import compile as c
from lumadb.query.compile import Compiled, Params, Scope
from lumadb.query.parser import CosineDistance, NegativeInnerProduct
from lumadb.query.plans import Plan, Result, Source

__all__ = ["EMBEDDING", "HANDLERS", "NAMED", "with_embedding"]

EMBEDDING: contextvars.ContextVar[tuple[Any, dict[tuple[str, str | None], list[float]]]] = (
    contextvars.ContextVar("lql_embedding")
)
"""The running statement's source and the vectors its embed() calls made so far."""
_FIELD = "embed_field"  # an embed() node's meta: the (tables, path) it is compared with


_NUMBERS = frozenset({int, float}).issuperset  # at C speed: this runs for every row and vector


def _vector(value: Any, op: str) -> list[int | float]:
    if not isinstance(value, list) or not value or not _NUMBERS(map(type, value)):
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
        for one, other in ((node.this, node.expression), (node.expression, node.this)):
            if isinstance(one, exp.Anonymous) and str(one.this).lower() == "embed":
                path = c.path_of(other, Scope(tables=scope.tables))
                if path and all(isinstance(p, str) for p in path):
                    one.meta[_FIELD] = (sorted(scope.tables), [str(p) for p in path])
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
    if len(node.expressions) not in (1, 2):
        raise QueryError("embed() takes a text and, optionally, a model name")
    text = c.compile_expr(node.expressions[0], scope)
    model = c.compile_expr(node.expressions[1], scope) if len(node.expressions) == 2 else None
    field: tuple[list[str], list[str]] | None = node.meta.get(_FIELD)
    scope.uses_embed = True

    def embed(row: Any, params: Params) -> Any:
        value = text(row, params)
        name = None if model is None else model(row, params)
        if not isinstance(value, str) or not value.strip():
            raise QueryError(f"embed() takes a text, not {orjson.dumps(value).decode()[:40]}")
        if name is not None and not isinstance(name, str):
            raise QueryError("embed()'s second argument is a model name (a text)")
        running = EMBEDDING.get(None)
        if running is None:
            raise QueryError("embed() is for SELECT statements")
        source, made = running
        found = made.get((value, name))
        if found is None:
            found = made[(value, name)] = _ask(source, value, name, field)
        return found

    return embed


def _ask(
    source: Source, text: str, model: str | None, field: tuple[list[str], list[str]] | None
) -> list[float]:
    if model is not None:
        return source.embed_query(text, model)
    if field is not None:
        tables, path = field
        for table in tables:
            try:
                return source.embed_query(text, None, table, path)
            except CollectionNotFound:
                continue  # an alias, not a collection
    raise QueryError(
        "embed('...') needs a model: compare it with a vector field that has one "
        "(ORDER BY field <=> embed('...')) or name it (embed('...', 'all-MiniLM-L6-v2'))"
    )


def with_embedding(run: Plan) -> Plan:
    """``run`` with what its embed() calls need: the source, and one vector per text."""

    def embedding(source: Source, params: Params) -> Result:
        token = EMBEDDING.set((source, {}))
        try:
            return run(source, params)
        finally:
            EMBEDDING.reset(token)

    return embedding


NAMED: dict[str, Callable[[Any, Scope], Compiled]] = {"embed": _embed}
"""Functions sqlglot does not know, by lower-case name (:mod:`lumadb.query.text` adds its own)."""

HANDLERS: dict[type[exp.Expression], Callable[[Any, Scope], Compiled]] = {
    exp.Distance: _operator("<->", _l2),
    CosineDistance: _operator("<=>", _cosine),
    NegativeInnerProduct: _operator("<#>", _negative_inner),
    exp.Anonymous: _anonymous,
}
