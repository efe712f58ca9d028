"""Planning INSERT (with ON CONFLICT), UPDATE and DELETE, each with RETURNING.

Every document is written conditionally on the version it was read at; a concurrent change
makes the statement read the document again (and check its WHERE again) instead of
overwriting it.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlglot import exp

from lumadb.errors import DocumentExists, QueryError, VersionMismatch
from lumadb.query import values as v
from lumadb.query.compile import Compiled, Params, Scope, compile_expr, path_of
from lumadb.query.parser import Lql
from lumadb.query.plans import (
    RETRIES,
    Output,
    Plan,
    Result,
    Rows,
    Source,
    output_of,
    result_of,
    rows_of,
    table_of,
    with_subqueries,
)
from lumadb.query.select import plan_subquery
from lumadb.service import Document
from lumadb.service.ids import new_id

__all__ = ["plan_delete", "plan_insert", "plan_update"]


def _returning(node: exp.Expression, scope: Scope) -> Output | None:
    returning = node.args.get("returning")
    if returning is None:
        return None
    return output_of(exp.Select(expressions=returning.expressions), scope)


def _written(output: Output | None, docs: list[Document], params: Params) -> Result:
    if output is None:
        return Result(["count"], [[len(docs)]])
    return result_of(output, [output.record(d, params) for d in docs])


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


def plan_insert(insert: exp.Insert) -> Plan:
    """The plan of an INSERT."""
    schema = insert.this
    table = schema.this if isinstance(schema, exp.Schema) else schema
    collection, names = table_of(table, "INSERT INTO")
    columns = [c.name for c in schema.expressions] if isinstance(schema, exp.Schema) else []
    values = insert.expression
    if not columns or not isinstance(values, exp.Values):
        raise QueryError("INSERT takes (columns) VALUES (...), (...)")
    if len(set(columns)) != len(columns):
        raise QueryError("INSERT names a column twice")
    scope = Scope(tables=names, plan_subquery=plan_subquery)
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

    return with_subqueries(run, scope)


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


def _matching(rows: Rows, source: Source, params: Params) -> list[str]:
    return [doc["id"] for doc in rows.read(source, params)]


def plan_update(update: exp.Update) -> Plan:
    """The plan of an UPDATE."""
    collection, names = table_of(update.this, "UPDATE")
    if update.args.get("from_"):
        raise QueryError("UPDATE ... FROM is not supported yet")
    scope = Scope(tables=names, plan_subquery=plan_subquery)
    setters = _setters(list(update.expressions), scope)  # SET's ? come first, then WHERE's
    where_node = update.args["where"].this if update.args.get("where") else None
    rows = rows_of(collection, names, where_node, scope)
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

    return with_subqueries(run, scope)


def plan_delete(delete: exp.Delete) -> Plan:
    """The plan of a DELETE."""
    collection, names = table_of(delete.this, "DELETE FROM")
    if delete.args.get("using"):
        raise QueryError("DELETE ... USING is not supported yet")
    where_node = delete.args["where"].this if delete.args.get("where") else None
    scope = Scope(tables=names, plan_subquery=plan_subquery)
    rows = rows_of(collection, names, where_node, scope)
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

    return with_subqueries(run, scope)
