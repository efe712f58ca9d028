"""One LQL condition on its own, for REST listings: ``where=age > 30 AND city = 'Oslo'``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from lumadb.errors import QueryError
from lumadb.query import values as v
from lumadb.query.compile import Scope, compile_expr
from lumadb.query.parser import MAX_QUERY, Lql

__all__ = ["compile_condition"]


def compile_condition(text: str, collection: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate over documents (with their ``id``) of ``collection``; true keeps one."""
    if len(text) > MAX_QUERY:
        raise QueryError(f"a condition may have at most {MAX_QUERY} characters")
    dialect = Lql()
    try:
        node = dialect.parser().parse_into(exp.Condition, dialect.tokenize(text), text)[0]
    except (ParseError, TokenError) as exc:
        raise QueryError(f"where is neither a JSON filter nor an LQL condition: {exc}") from None
    except RecursionError:
        raise QueryError("the condition is nested too deeply") from None
    if node is None:
        raise QueryError("where is empty")
    if any(True for _ in node.find_all(exp.Placeholder)):
        raise QueryError("a where condition takes values, not ? or :name parameters")
    if node.find(exp.AggFunc) is not None:
        raise QueryError("a where condition cannot use aggregates")
    try:
        compiled = compile_expr(node, Scope(tables=frozenset({collection})))  # type: ignore[arg-type]
    except RecursionError:
        raise QueryError("the condition is nested too deeply") from None

    def keep(doc: dict[str, Any]) -> bool:
        try:
            return v.truth(compiled(doc, [])) is True
        except RecursionError:
            raise QueryError("the condition is nested too deeply") from None

    return keep
