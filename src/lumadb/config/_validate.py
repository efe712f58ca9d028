"""Check a merged settings tree against the struct annotations in ``_settings``.

The walk is driven by the annotations alone: a struct field is a table, a union of tagged
structs is a table chosen by its ``type``, anything else is a value checked against its
type and ``msgspec.Meta`` limits (sizes and durations first read by ``_units``). The output
is a plain dict that ``msgspec.convert`` turns into ``Settings`` without surprises. Every
problem becomes a ConfigError naming the dotted key, the value, its origin and what is
allowed.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Annotated, Literal, Union

import msgspec

from lumadb.config._settings import Settings
from lumadb.config._text import choices, show
from lumadb.config._tree import TAG, Leaf, Node, Table, plain
from lumadb.config._units import UnitError, duration_seconds, format_size, size_bytes
from lumadb.errors import ConfigError

__all__ = ["validate"]

Path = tuple[str, ...]
_LIMITS = ("ge", "gt", "le", "min_length", "extra")
_EXPECTED: dict[object, str] = {
    int: "expected an integer",
    float: "expected a number",
    str: "expected a string",
    bool: "expected true or false",
}


class _BadValueError(Exception):
    """What is wrong with a value, before the key and origin are added."""


def validate(tree: Table) -> dict[str, object]:
    """Check ``tree`` and return it as plain normalised data for ``Settings``."""
    return _struct(Settings, tree, ())


def _struct(cls: type[msgspec.Struct], table: Table, path: Path) -> dict[str, object]:
    fields = {info.name: info.type for info in msgspec.structs.fields(cls)}
    result: dict[str, object] = {}
    for key, node in table.items.items():
        if key not in fields:
            raise _unknown(cls, key, node, path, list(fields))
        result[key] = _value(fields[key], node, (*path, key))
    return result


def _value(annotation: object, node: Node, path: Path) -> object:
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return _struct(annotation, _table(node, path), path)
    variants = _tagged_variants(annotation)
    if variants:
        return _tagged(variants, _table(node, path), path)
    return _leaf(annotation, node, path)


def _table(node: Node, path: Path) -> Table:
    if isinstance(node, Leaf):
        raise _error(path, node, "expected a table")
    return node


def _tagged_variants(annotation: object) -> dict[str, type[msgspec.Struct]]:
    if typing.get_origin(annotation) not in (Union, types.UnionType):
        return {}
    variants: dict[str, type[msgspec.Struct]] = {}
    for member in typing.get_args(annotation):
        if isinstance(member, type) and issubclass(member, msgspec.Struct):
            tag = member.__struct_config__.tag
            if isinstance(tag, str):
                variants[tag] = member
    return variants


def _tagged(variants: dict[str, type[msgspec.Struct]], table: Table, path: Path) -> object:
    tag_node = table.items.get(TAG)
    allowed = f"expected one of {choices(variants)}"
    if tag_node is None:
        raise ConfigError(f"{_dotted(path)} (from {table.origin}): missing {TAG}; {allowed}")
    if not isinstance(tag_node, Leaf) or tag_node.value not in variants:
        raise _error((*path, TAG), tag_node, allowed)
    tag = str(tag_node.value)
    rest = Table({key: node for key, node in table.items.items() if key != TAG}, table.origin)
    return {TAG: tag, **_struct(variants[tag], rest, path)}


def _leaf(annotation: object, node: Node, path: Path) -> object:
    base, limits = _unpack(annotation)
    try:
        # A table where a value belongs fails the same conversion, with the same message.
        return _convert(base, limits, plain(node))
    except _BadValueError as problem:
        # Environment values are read as TOML, so LUMA_STORAGE__DATA_DIR=2024 arrives as an
        # int; a string setting takes the variable's text as written instead.
        if isinstance(node, Leaf) and node.raw is not None and not isinstance(node.value, str):
            try:
                return _convert(base, limits, node.raw)
            except _BadValueError:
                pass
        raise _error(path, node, str(problem)) from None


def _unpack(annotation: object) -> tuple[object, dict[str, typing.Any]]:
    if typing.get_origin(annotation) is not Annotated:
        return annotation, {}
    base, *metas = typing.get_args(annotation)
    limits: dict[str, typing.Any] = {}
    for meta in metas:
        for name in _LIMITS:
            if getattr(meta, name, None) is not None:
                limits[name] = getattr(meta, name)
    return base, limits


def _convert(base: object, limits: dict[str, typing.Any], value: object) -> object:
    unit = (limits.get("extra") or {}).get("unit")
    try:
        if unit == "size":
            result: object = size_bytes(value)
        elif unit == "duration":
            result = duration_seconds(value)
        else:
            result = msgspec.convert(value, base, strict=True)
    except UnitError as exc:
        raise _BadValueError(str(exc)) from None
    except msgspec.ValidationError:
        raise _BadValueError(_expected(base)) from None
    _check_limits(result, limits, format_size if unit == "size" else _number)
    return result


def _expected(base: object) -> str:
    if typing.get_origin(base) is Literal:
        return f"expected one of {choices(typing.get_args(base))}"
    return _EXPECTED.get(base, f"expected {base}")


def _check_limits(
    value: typing.Any, limits: dict[str, typing.Any], fmt: typing.Callable[[typing.Any], str]
) -> None:
    if limits.get("min_length") and len(value) < limits["min_length"]:
        raise _BadValueError("must not be empty")
    ge, le, gt = limits.get("ge"), limits.get("le"), limits.get("gt")
    # Written as "not (ok)" so NaN, which fails every comparison, is refused.
    if ge is not None and le is not None and not ge <= value <= le:
        raise _BadValueError(f"must be between {fmt(ge)} and {fmt(le)}")
    if ge is not None and not value >= ge:
        raise _BadValueError(f"must be at least {fmt(ge)}")
    if le is not None and not value <= le:
        raise _BadValueError(f"must be at most {fmt(le)}")
    if gt is not None and not value > gt:
        raise _BadValueError(f"must be greater than {fmt(gt)}")


def _number(value: typing.Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _unknown(
    cls: type[msgspec.Struct], key: str, node: Node, path: Path, known: list[str]
) -> ConfigError:
    tag = cls.__struct_config__.tag
    if isinstance(tag, str):
        known = [TAG, *known]
    where = f"keys in [{_dotted(path)}]" if path else "sections"
    if isinstance(tag, str):
        where += f" with {TAG} = {show(tag)}"
    message = (
        f"unknown key {_dotted((*path, key))} = {show(plain(node))} (from {node.origin}); "
        f"known {where}: {', '.join(known)}"
    )
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        message += f" (did you mean {_dotted((*path, close[0]))}?)"
    return ConfigError(message)


def _error(path: Path, node: Node, problem: str) -> ConfigError:
    return ConfigError(f"{_dotted(path)} = {show(plain(node))} (from {node.origin}): {problem}")


def _dotted(path: Path) -> str:
    return ".".join(path)
