"""``EXPLAIN``: how a statement would run, one line per step, without running it.

The lines name how rows are found (a key lookup touches only the shards of those ids; a scan
touches every shard), what is filtered, grouped, sorted and limited, and what is written.
The same rules decide as in the planner (:func:`lumadb.query.plans.key_lookup`), so what
EXPLAIN says is what runs.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from lumadb.errors import QueryError
from lumadb.query.columnar import NotColumnar, translate
from lumadb.query.compile import Scope
from lumadb.query.joins import joined_sources
from lumadb.query.nearest import OPERATORS, nearest_term
from lumadb.query.parser import CollectionDDL, Lql, Statement
from lumadb.query.plans import (
    Range,
    conjuncts,
    index_candidates,
    index_ranges,
    key_lookup,
    name_of,
    table_of,
)
from lumadb.query.text import text_match
from lumadb.query.trigger_ddl import TriggerDDL
from lumadb.query.vector_ddl import VectorIndexDDL

__all__ = ["explain"]


def _sql(node: exp.Expression) -> str:
    return node.sql(dialect=Lql, normalize_functions="lower")


Indexes = dict[str, list[dict[str, Any]]]  # per collection: [{"name", "path"}]


def _access(
    collection: str, names: frozenset[str], where: exp.Expression | None, indexes: Indexes
) -> list[str]:
    keys = key_lookup(where, Scope(tables=names))
    if keys is not None:
        count = len(keys)
        lines = [
            f"Key lookup on {collection}: {count} id{'s' * (count != 1)}, "
            "reading only the shards that hold them"
        ]
        if where is not None and len(conjuncts(where)) > 1:
            lines.append(f"Filter: {_sql(where)}")
        return lines
    texts = {i["path"]: i["name"] for i in indexes.get(collection, []) if i.get("kind") == "text"}
    found = text_match(where, Scope(tables=names))
    if found is not None and ".".join(found.path) in texts:
        field = ".".join(found.path)
        return [
            f"Text index lookup on {collection} by {texts[field]} ({field} holds every word), "
            "every shard",
            f"Filter: {_sql(where)}" if where is not None else "",
        ]
    covered = {i["path"]: i["name"] for i in indexes.get(collection, []) if i.get("kind") != "text"}
    equal = {".".join(path) for path, _ in index_candidates(where, Scope(tables=names))}
    best = _best_index(covered, equal)
    if best is not None:
        chosen, used = best
        terms = ", ".join(f"{p} = ..." for p in used)
        return [
            f"Index lookup on {collection} by {chosen} ({terms}), every shard",
            f"Filter: {_sql(where)}" if where is not None else "",
        ]
    for bounded in index_ranges(where, Scope(tables=names)):
        name = covered.get(".".join(bounded.path))
        if name is not None and where is not None and _may_range(bounded):
            return [
                f"Index range on {collection} by {name} ({'.'.join(bounded.path)} between two "
                "numbers or two texts; otherwise a scan), every shard",
                f"Filter: {_sql(where)}",
            ]
    lines = [f"Scan of {collection} in id order, every shard"]
    if where is not None:
        lines.append(f"Filter: {_sql(where)}")
    return lines


def _best_index(covered: dict[str, str], equal: set[str]) -> tuple[str, list[str]] | None:
    """The index with the most paths, all of them asked for (as the planner picks)."""
    best: tuple[str, list[str]] | None = None
    for shown, name in covered.items():
        paths = shown.split(", ")
        if all(p in equal for p in paths) and (best is None or len(paths) > len(best[1])):
            best = (name, paths)
    return best


def _may_range(bounded: Range) -> bool:
    """Whether the bounds can be answered by an index: not two constants of other kinds."""
    try:
        low, high = bounded.low({}, []), bounded.high({}, [])
    except QueryError:  # parameters: known only when it runs
        return True
    if bounded.open_low:
        return high is not None
    kinds = {isinstance(low, str), isinstance(high, str)}
    return len(kinds) == 1 and low is not None and high is not None


def _where(node: exp.Expression) -> exp.Expression | None:
    found = node.args.get("where")
    return found.this if found is not None else None


def _select(select: exp.Select, indexes: Indexes, expiring: set[str]) -> list[str]:
    source = select.args.get("from_")
    if source is None:
        return ["One row without a collection"]
    collection, names = table_of(source.this, "FROM")
    joins = select.args.get("joins") or []
    if joins:
        lines = [f"Scan of {collection} in id order, every shard"]
        for join in joins:
            other, _ = table_of(join.this, "a JOIN")
            on = join.args.get("on")
            how = "hash join" if isinstance(on, exp.EQ) else "nested loop"
            side = "Left join" if (join.side or "").upper() == "LEFT" else "Join"
            condition = _sql(on) if on is not None else "-"
            lines.append(f"{side} {other} ({how}, {other} read once): on {condition}")
        where = _where(select)
        if where is not None:
            lines.append(f"Filter: {_sql(where)}")
    else:
        lines = _access(collection, names, _where(select), indexes)
    group = select.args.get("group")
    aggregates = sorted(
        {_sql(a) for a in select.find_all(exp.AggFunc) if isinstance(a, exp.Expression)}
    )
    if group is not None or aggregates:
        keys = ", ".join(_sql(g) for g in group.expressions) if group is not None else "-"
        lines.append(f"Group by: {keys}; aggregates: {', '.join(aggregates) or '-'}")
        sources = joined_sources(select) if joins else [("", collection)]
        read = [c for _, c in sources]
        if not expiring.intersection(read) and _columnar(select, sources, names):
            lines.insert(
                0,
                f"Columnar replica of {', '.join(dict.fromkeys(read))} in DuckDB, after "
                "applying the change feed: the whole statement; if a field it reads holds "
                "values of more than one kind, the documents answer:",
            )
    having = select.args.get("having")
    if having is not None:
        lines.append(f"Having: {_sql(having.this)}")
    if select.args.get("distinct"):
        lines.append("Distinct")
    order = select.args.get("order")
    limit, offset = select.args.get("limit"), select.args.get("offset")
    if order is not None:
        terms = ", ".join(_sql(o) for o in order.expressions)
        kept = " (keeps only the first LIMIT + OFFSET rows in memory)" if limit else ""
        lines.append(f"Sort: {terms}{kept}")
    if limit is not None or offset is not None:
        parts = [_sql(limit.expression)] if limit is not None else []
        parts += [f"offset {_sql(offset.expression)}"] if offset is not None else []
        lines.append("Limit: " + ", ".join(parts))
    columns = ", ".join(_sql(e) for e in select.expressions)
    lines.append(f"Output: {columns}")
    return lines


def _nearest(select: exp.Select, vectors: dict[str, dict[str, Any]]) -> list[str]:
    """The line of a nearest-documents SELECT that a vector index will answer."""
    source = select.args.get("from_")
    term = nearest_term(select)
    if source is None or term is None:
        return []
    collection, _ = table_of(source.this, "FROM")
    operator = OPERATORS[type(term)]
    metric = {"<->": "l2", "<=>": "cosine", "<#>": "ip"}[operator]
    for field, options in (vectors.get(collection) or {}).items():
        named = {_sql(term.this), _sql(term.expression)}
        if field in named and options.get("metric") == metric:
            return [
                f"Nearest by the vector index {options.get('name')} on {collection}.{field} "
                f"({options.get('index')}, {metric}): the LIMIT + OFFSET nearest of the documents "
                "the WHERE admits (found first), then the steps below over just those:"
            ]
    return []


def _columnar(select: exp.Select, sources: list[tuple[str, str]], names: frozenset[str]) -> bool:
    """Whether the planner gives ``select`` a columnar plan (as :mod:`.select` decides)."""
    joined = frozenset(alias for alias, _ in sources) if select.args.get("joins") else frozenset()
    scope = Scope(tables=names, aliases=joined)
    try:
        columns = [name_of(n, scope) for n in select.expressions if not isinstance(n, exp.Star)]
        translate(select, sources, scope, columns)
    except (NotColumnar, QueryError):
        return False
    return True


def _write(statement: exp.Expression, indexes: Indexes) -> list[str]:
    target = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
    collection, names = table_of(target, "the statement")
    if isinstance(statement, exp.Insert):
        values = statement.expression
        count = len(values.expressions) if isinstance(values, exp.Values) else 0
        conflict = statement.args.get("conflict")
        how = ""
        if conflict is not None:
            updates = conflict.args.get("expressions")
            how = " (update existing ids)" if updates else " (skip existing ids)"
        lines = [f"Insert {count} row{'s' * (count != 1)} into {collection}{how}"]
    else:
        verb = "Update" if isinstance(statement, exp.Update) else "Delete from"
        lines = [f"{verb} {collection}, each document at the version it was read at"]
        lines += _access(collection, names, _where(statement), indexes)
        if isinstance(statement, exp.Update):
            lines.append("Set: " + ", ".join(_sql(e) for e in statement.expressions))
    returning = statement.args.get("returning")
    if returning is not None:
        lines.append("Returning: " + ", ".join(_sql(e) for e in returning.expressions))
    return lines


def explain(  # noqa: PLR0911
    statement: Statement,
    indexes: Indexes | None = None,
    expiring: set[str] | None = None,
    vectors: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """The lines EXPLAIN shows for ``statement`` (``indexes``: the collections' now;
    ``expiring``: the collections with a TTL, which the columnar replica does not answer;
    ``vectors``: the collections' vector fields)."""
    found = indexes or {}
    if isinstance(statement, VectorIndexDDL):
        path = ".".join(statement.path)
        verb = "Change the" if statement.alter else "Create a"
        return [f"{verb} vector index on {statement.collection} ({path})"]
    if isinstance(statement, TriggerDDL):
        if statement.drop:
            return [f"Drop trigger {statement.name}"]
        sink = statement.definition["sink"]["type"]
        on = " or ".join(statement.definition["on"])
        where = statement.definition["collection"]
        return [f"Create trigger {statement.name}: after {on} on {where}, send to {sink}"]
    if isinstance(statement, CollectionDDL):
        if statement.action == "schema":
            verb = "Remove" if statement.schema is None else "Set (checking the stored documents)"
            return [f"{verb} the schema of collection {statement.name}"]
        if statement.action == "ttl":
            ttl = "none" if statement.ttl is None else f"{statement.ttl:g} seconds"
            return [f"Set the TTL of collection {statement.name}: {ttl}"]
        verb = "Create" if statement.action == "create" else "Drop"
        return [f"{verb} collection {statement.name}"]
    if isinstance(statement, exp.Drop):
        names = ", ".join(t.name for t in statement.args.get("tables") or [])
        return [f"Drop index {names}"]
    if isinstance(statement, exp.Create):
        return [f"Create index {_sql(statement.this)}, built shard by shard while it pauses"]
    if isinstance(statement, exp.Select):
        lines = _select(statement, found, expiring or set())
        return _nearest(statement, vectors or {}) + lines
    if isinstance(statement, exp.Insert | exp.Update | exp.Delete):
        return _write(statement, found)
    return ["EXPLAIN of EXPLAIN"]  # the parser refuses it; kept total for the type checker
