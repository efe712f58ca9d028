"""The REST listing's filter and sort syntax, compiled once into Python callables.

A filter is a JSON object, as in MongoDB and Hasura::

    {"age": {"$gte": 30}, "address.city": "Paris", "$or": [{"vip": true}, {"tags": {"$in": ["a"]}}]}

Keys are dotted paths into the document (``address.city``, ``tags.0`` for an array element) or
the combinators ``$and``, ``$or`` (lists of filters) and ``$not`` (a filter). A plain value
means ``$eq``. Operators: ``$eq $ne $gt $gte $lt $lte $in $nin $exists $contains`` (array
holds the value) and ``$prefix`` (string starts with). Comparisons only hold between values
of one kind (numbers with numbers, strings with strings), so ``{"age": {"$gt": "3"}}`` matches
nothing rather than guessing; a missing field equals only ``null``. The query-language issue
replaces this with LQL expressions; until then it is the whole filter language.

Sort orders are comma-separated paths, ``-`` in front for descending; values of different
kinds sort null < booleans < numbers < strings < arrays < objects, and the id breaks ties.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lumadb.errors import InvalidArgument

__all__ = ["Predicate", "SortKey", "compile_filter", "compile_order"]

Predicate = Callable[[dict[str, Any]], bool]
SortKey = Callable[[tuple[str, dict[str, Any]]], tuple[Any, ...]]

_MISSING: Any = object()
MAX_CLAUSES = 100


def _lookup(doc: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if isinstance(doc, dict):
            doc = doc.get(part, _MISSING)
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return _MISSING
        if doc is _MISSING:
            return _MISSING
    return doc


def _kind(value: Any) -> int:
    if value is None or value is _MISSING:
        return 0
    if isinstance(value, bool):
        return 1
    if isinstance(value, int | float):
        return 2
    if isinstance(value, str):
        return 3
    return 4 if isinstance(value, list) else 5


def _same_kind(a: Any, b: Any) -> bool:
    kind = _kind(a)
    return kind == _kind(b) and kind in (2, 3)


def _equal(a: Any, b: Any) -> bool:
    if a is _MISSING:
        return b is None
    return _kind(a) == _kind(b) and bool(a == b)


def _list(operand: Any, op: str) -> list[Any]:
    if not isinstance(operand, list):
        raise InvalidArgument(f"{op} needs a list, not {type(operand).__name__}")
    return operand


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": _equal,
    "$ne": lambda v, x: not _equal(v, x),
    "$gt": lambda v, x: _same_kind(v, x) and v > x,
    "$gte": lambda v, x: _same_kind(v, x) and v >= x,
    "$lt": lambda v, x: _same_kind(v, x) and v < x,
    "$lte": lambda v, x: _same_kind(v, x) and v <= x,
    "$in": lambda v, x: any(_equal(v, item) for item in x),
    "$nin": lambda v, x: not any(_equal(v, item) for item in x),
    "$exists": lambda v, x: (v is not _MISSING) == x,
    "$contains": lambda v, x: isinstance(v, list) and any(_equal(item, x) for item in v),
    "$prefix": lambda v, x: isinstance(v, str) and v.startswith(x),
}


def _check_operand(op: str, operand: Any) -> None:
    if op in ("$in", "$nin"):
        _list(operand, op)
    elif op == "$exists" and not isinstance(operand, bool):
        raise InvalidArgument("$exists needs true or false")
    elif op == "$prefix" and not isinstance(operand, str):
        raise InvalidArgument("$prefix needs a string")


def _field(path: str, condition: Any, budget: list[int]) -> Predicate:
    parts = tuple(path.split("."))
    if not all(parts):
        raise InvalidArgument(f"filter path {path!r} has an empty part")
    if not (
        isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition)
    ):
        condition = {"$eq": condition}
    tests: list[tuple[Callable[[Any, Any], bool], Any]] = []
    for op, operand in condition.items():
        test = _OPERATORS.get(op)
        if test is None:
            known = ", ".join(_OPERATORS)
            raise InvalidArgument(f"unknown filter operator {op!r} on {path!r}; known: {known}")
        _check_operand(op, operand)
        budget[0] += 1
        tests.append((test, operand))

    def matches(doc: dict[str, Any]) -> bool:
        value = _lookup(doc, parts)
        return all(test(value, operand) for test, operand in tests)

    return matches


def _compile(spec: Any, budget: list[int], depth: int) -> Predicate:
    if not isinstance(spec, dict):
        raise InvalidArgument(f"a filter must be a JSON object, not {type(spec).__name__}")
    if depth > 16:
        raise InvalidArgument("the filter nests $and/$or/$not deeper than 16 levels")
    parts: list[Predicate] = []
    for key, value in spec.items():
        if key in ("$and", "$or"):
            subs = [_compile(s, budget, depth + 1) for s in _list(value, key)]
            parts.append(_every(subs) if key == "$and" else _some(subs))
        elif key == "$not":
            parts.append(_negate(_compile(value, budget, depth + 1)))
        elif key.startswith("$"):
            raise InvalidArgument(f"unknown filter combinator {key!r}; known: $and, $or, $not")
        else:
            parts.append(_field(key, value, budget))
    if budget[0] > MAX_CLAUSES:
        raise InvalidArgument(f"the filter has more than {MAX_CLAUSES} conditions")
    return _every(parts)


def _every(parts: list[Predicate]) -> Predicate:
    return lambda doc: all(p(doc) for p in parts)


def _some(parts: list[Predicate]) -> Predicate:
    return lambda doc: any(p(doc) for p in parts)


def _negate(inner: Predicate) -> Predicate:
    return lambda doc: not inner(doc)


def compile_filter(spec: Any) -> Predicate:
    """A predicate over documents (with their ``id``) for the filter ``spec``."""
    return _compile(spec, [0], 0)


def _sortable(value: Any) -> tuple[int, Any]:
    kind = _kind(value)
    if kind >= 4:  # arrays and objects: by their JSON text, stable and total
        return kind, repr(value)
    return kind, (None if kind == 0 else value)


def compile_order(text: str) -> tuple[SortKey, bool]:
    """A sort key over ``(id, document)`` pairs for ``text``, and whether it is descending.

    All paths go one direction (``age,name`` or ``-age,-name``): a streaming top-k needs one
    key, and mixed directions would need per-kind negation of strings.
    """
    fields = [f.strip() for f in text.split(",")]
    if not text.strip() or not all(fields) or len(fields) > 8:
        raise InvalidArgument("order_by must be 1 to 8 comma-separated paths, e.g. -age,name")
    descending = [f.startswith("-") for f in fields]
    paths = [tuple(f.lstrip("-+").split(".")) for f in fields]
    if any(not all(p) for p in paths):
        raise InvalidArgument(f"order_by {text!r} has an empty path")
    if len(set(descending)) > 1:
        raise InvalidArgument("order_by paths must all be ascending or all descending")

    def key(item: tuple[str, dict[str, Any]]) -> tuple[Any, ...]:
        doc_id, doc = item
        return (*(_sortable(_lookup(doc, p)) for p in paths), doc_id)

    return key, descending[0]
