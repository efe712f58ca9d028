"""``FROM a JOIN b ON ... LEFT JOIN c ON ...``: rows of several collections, as dicts by alias.

In a query that joins, a row is ``{alias: document}`` (``None`` for the missing side of a
LEFT JOIN), and every column must name its collection (``a.city``): documents have no schema
to tell which collection an unqualified name belongs to. A join whose ON is an equality
between the new collection and the rows so far is a hash join (the new collection is read
once, into memory); any other ON is a nested loop over the new collection's documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlglot import exp

from lumadb.errors import QueryError
from lumadb.query import values as v
from lumadb.query.compile import Compiled, Params, Scope, compile_expr
from lumadb.query.plans import Source, table_of
from lumadb.service import Document, ScanRange

__all__ = ["JoinRows", "Joined", "joined_sources"]

Joined = dict[str, Document | None]


@dataclass(frozen=True)
class _Join:
    alias: str
    collection: str
    left: bool  # LEFT JOIN: keep rows without a match
    on: Compiled | None  # nested loop condition
    probe: Compiled | None  # hash join: the key computed from the rows so far
    build: Compiled | None  # hash join: the key computed from the new collection's row


def _alias(node: exp.Expression) -> tuple[str, str]:
    collection, _ = table_of(node, "a JOIN")
    return (node.alias or collection), collection


def joined_sources(select: exp.Select) -> list[tuple[str, str]]:
    """``(alias, collection)`` of FROM and every JOIN, in order."""
    return [_alias(select.args["from_"].this), *(_alias(j.this) for j in select.args["joins"])]


def _mentions(node: exp.Expression, alias: str) -> bool:
    return any(c.table == alias for c in node.find_all(exp.Column))


def _hash_keys(on: exp.Expression, alias: str, scope: Scope) -> tuple[Compiled, Compiled] | None:
    if not isinstance(on, exp.EQ):
        return None
    for new, old in ((on.this, on.expression), (on.expression, on.this)):
        if _mentions(new, alias) and not _mentions(old, alias):
            return compile_expr(old, scope), compile_expr(new, scope)
    return None


@dataclass
class JoinRows:
    """Reads the joined rows of a SELECT, filtered by its WHERE."""

    first: tuple[str, str]
    joins: list[_Join]
    where: Compiled | None

    @classmethod
    def plan(cls, select: exp.Select, scope: Scope, where: exp.Expression | None) -> JoinRows:
        """Compile the joins and the WHERE in ``scope`` (whose aliases are every source)."""
        first = _alias(select.args["from_"].this)
        joins = []
        for node in select.args["joins"]:
            alias, collection = _alias(node.this)
            side = (node.side or "").upper()
            if side not in ("", "LEFT") or (
                node.kind and node.kind.upper() not in ("INNER", "OUTER")
            ):
                raise QueryError("only JOIN (inner) and LEFT JOIN are supported")
            on_node = node.args.get("on")
            if on_node is None:
                raise QueryError(f"JOIN {collection} needs ON <condition>")
            keys = _hash_keys(on_node, alias, scope)
            on = None if keys is not None else compile_expr(on_node, scope)
            probe, build = keys if keys is not None else (None, None)
            joins.append(_Join(alias, collection, side == "LEFT", on, probe, build))
        condition = compile_expr(where, scope) if where is not None else None
        return cls(first, joins, condition)

    def read(self, source: Source, params: Params) -> Iterator[Joined]:
        """The rows, one dict by alias each."""
        alias, collection = self.first
        rows: Iterable[Joined] = ({alias: doc} for doc in _documents(source, collection))
        for join in self.joins:
            rows = self._join(rows, join, list(_documents(source, join.collection)), params)
        where = self.where
        if where is None:
            return iter(rows)
        return (row for row in rows if v.truth(where(row, params)) is True)

    @staticmethod
    def _join(
        rows: Iterable[Joined], join: _Join, right: list[Document], params: Params
    ) -> Iterator[Joined]:
        if join.probe is not None and join.build is not None:
            index: dict[Any, list[Document]] = {}
            for doc in right:
                key = _key(join.build({join.alias: doc}, params))
                if key is not None:
                    index.setdefault(key, []).append(doc)
            for row in rows:
                key = _key(join.probe(row, params))
                matches = index.get(key, []) if key is not None else []
                yield from ({**row, join.alias: m} for m in matches)
                if not matches and join.left:
                    yield {**row, join.alias: None}
            return
        assert join.on is not None
        for row in rows:
            found = False
            for doc in right:
                candidate = {**row, join.alias: doc}
                if v.truth(join.on(candidate, params)) is True:
                    found = True
                    yield candidate
            if not found and join.left:
                yield {**row, join.alias: None}


def _documents(source: Source, collection: str) -> Iterator[Document]:
    for doc_id, doc in source.scan(collection, ScanRange()):
        yield doc if doc.get("id") == doc_id else {**doc, "id": doc_id}


def _key(value: Any) -> Any:
    """A dict key that is equal exactly when SQL's = is true (NULL matches nothing)."""
    if value is None:
        return None
    if isinstance(value, list | dict):
        return (v.rank(value), orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    return (v.rank(value), value)  # 1 and 1.0 are one key, as they are equal


def flatten(row: Joined, aliases: list[str]) -> Document:
    """A joined row as one document of ``alias.field`` columns (for ``SELECT *``)."""
    flat: Document = {}
    for alias in aliases:
        doc = row.get(alias)
        if doc is None:
            flat[f"{alias}.id"] = None
            continue
        flat[f"{alias}.id"] = doc.get("id")
        flat.update({f"{alias}.{k}": value for k, value in doc.items() if k != "id"})
    return flat
