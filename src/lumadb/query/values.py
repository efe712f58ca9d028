"""SQL semantics over JSON values: NULL, three-valued logic, comparisons, ordering, arithmetic.

Documents hold JSON: null, booleans, numbers, strings, arrays and objects. LQL compares them
the way SQLite orders mixed types — NULL, then numbers (booleans count as 0 and 1), then
text, then arrays, then objects — so ``ORDER BY`` is total over any data and ``WHERE a < b``
never fails on a document of another shape. Any comparison with NULL is NULL (unknown), and
``WHERE`` keeps a row only when its condition is true, as in every SQL database.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from lumadb.errors import QueryError

__all__ = [
    "arith",
    "compare",
    "equal",
    "logical_and",
    "logical_not",
    "logical_or",
    "rank",
    "sort_key",
    "truth",
]

_NUMBER, _TEXT, _ARRAY, _OBJECT = 1, 2, 3, 4


def rank(value: Any) -> int:
    """The position of a value's kind in the cross-type order (NULL is 0)."""
    if value is None:
        return 0
    if isinstance(value, bool | int | float):
        return _NUMBER
    if isinstance(value, str):
        return _TEXT
    if isinstance(value, list):
        return _ARRAY
    return _OBJECT


def _comparable(value: Any) -> Any:
    if isinstance(value, list | dict):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return value


def sort_key(value: Any) -> tuple[int, Any]:
    """A key that orders any two values (NULL first)."""
    kind = rank(value)
    return (kind, _comparable(value) if kind else 0)


def compare(left: Any, right: Any) -> int | None:
    """-1, 0 or 1; ``None`` (unknown) when either side is NULL."""
    if left is None or right is None:
        return None
    a, b = rank(left), rank(right)
    if a != b:
        return -1 if a < b else 1
    x, y = _comparable(left), _comparable(right)
    return -1 if x < y else (1 if x > y else 0)


def equal(left: Any, right: Any) -> bool | None:
    """``left = right`` in SQL: NULL when either side is NULL."""
    found = compare(left, right)
    return None if found is None else found == 0


def truth(value: Any) -> bool | None:
    """A value as a condition: booleans and numbers (non-zero is true); NULL stays unknown."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    raise QueryError(f"a condition must be true, false or null, not {_show(value)}")


def logical_and(left: bool | None, right: bool | None) -> bool | None:
    """Three-valued AND."""
    if left is False or right is False:
        return False
    if left is None or right is None:
        return None
    return True


def logical_or(left: bool | None, right: bool | None) -> bool | None:
    """Three-valued OR."""
    if left is True or right is True:
        return True
    if left is None or right is None:
        return None
    return False


def logical_not(value: bool | None) -> bool | None:
    """Three-valued NOT."""
    return None if value is None else not value


def _number(value: Any, op: str) -> int | float:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    raise QueryError(f"{op} needs numbers, not {_show(value)}")


def arith(op: str, left: Any, right: Any) -> Any:
    """``left op right`` for + - * / %; NULL in, NULL out; integer division truncates."""
    if left is None or right is None:
        return None
    a, b = _number(left, op), _number(right, op)
    if op == "+":
        result: int | float = a + b
    elif op == "-":
        result = a - b
    elif op == "*":
        result = a * b
    else:
        if b == 0:
            raise QueryError("division by zero")
        if op == "/":
            if isinstance(a, int) and isinstance(b, int):  # truncated toward zero, as in SQL
                quotient = abs(a) // abs(b)
                result = quotient if (a < 0) == (b < 0) else -quotient
            else:
                result = a / b
        else:
            result = math.fmod(a, b) if isinstance(a, float) or isinstance(b, float) else a % b
            if isinstance(result, int) and result and (a < 0) != (b < 0):
                result -= b  # SQL's remainder takes the dividend's sign, as C does
    if isinstance(result, float) and not math.isfinite(result):
        raise QueryError(f"{op} overflowed")
    return result


def _show(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 40 else text[:37] + "..."
