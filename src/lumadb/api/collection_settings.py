"""A collection's settings over REST: ``schema``, ``indexes``, ``vectors`` and ``ttl``, on
``POST /api/v1/_collections`` (with the new collection) and ``PATCH
/api/v1/_collections/{name}`` (as a JSON merge patch of the description).

A key present in a PATCH replaces that setting: ``"schema": null`` and ``"ttl": null`` remove
them, ``"indexes": [...]`` makes the collection's value and text indexes exactly those listed
(new ones are built, unlisted ones dropped; one of a listed name but another definition is a
409 — drop it first), and ``"vectors"`` merges by field: an object declares or changes that
field's vector index, ``null`` drops it. The request's shape is checked before anything
changes; the changes then run as the LQL statements of the same meaning would, through the
node's source (so a unique index is checked across every worker, a schema against every
stored document), in the order indexes, vectors, schema, TTL. A step the stored documents
refuse stops there (a PATCH keeps the steps before it; a create makes nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson

from lumadb.catalog.vectors import VectorOptions
from lumadb.config import parse_duration
from lumadb.errors import ConfigError, Conflict, InvalidArgument
from lumadb.query.plans import Source

__all__ = ["SETTING_KEYS", "Settings", "apply_settings", "read_settings"]

SETTING_KEYS = frozenset({"schema", "indexes", "vectors", "ttl"})
_ABSENT: Any = object()


@dataclass(frozen=True)
class IndexDecl:
    """One value or text index as REST declares it."""

    name: str
    fields: tuple[tuple[str, ...], ...]
    unique: bool = False
    kind: str = "value"


@dataclass
class Settings:
    """The settings a request gives (``_ABSENT``: leave as it is)."""

    schema: Any = _ABSENT
    ttl: Any = _ABSENT
    indexes: list[IndexDecl] | None = None
    vectors: dict[str, dict[str, Any] | None] = field(default_factory=dict)


def read_settings(body: dict[str, Any], collection: str, *, creating: bool = False) -> Settings:
    """The settings of a request body, every one checked (no change made yet)."""
    found = Settings()
    if "schema" in body:
        schema = body["schema"]
        if schema is not None and not isinstance(schema, dict | bool):
            raise InvalidArgument('"schema" must be a JSON Schema (an object) or null')
        found.schema = schema
    if "ttl" in body:
        found.ttl = _ttl(body["ttl"])
    if "indexes" in body:
        found.indexes = _indexes(body["indexes"], collection)
    if "vectors" in body:
        found.vectors = _vectors(body["vectors"], creating)
    return found


def _ttl(given: object) -> float | None:
    if given is None:
        return None
    if isinstance(given, bool) or not isinstance(given, int | float | str):
        raise InvalidArgument('"ttl" must be a duration ("30d", "12h", seconds) or null')
    try:
        seconds = parse_duration(given, "ttl")
    except ConfigError as exc:
        raise InvalidArgument(exc.message) from None
    if not seconds > 0:
        raise InvalidArgument('"ttl" must be longer than 0')
    return seconds


def _indexes(given: object, collection: str) -> list[IndexDecl]:
    if not isinstance(given, list):
        raise InvalidArgument('"indexes" must be a list of {"name"?, "fields", "unique"?}')
    found: list[IndexDecl] = []
    for at, item in enumerate(given):
        what = f"indexes[{at}]"
        if not isinstance(item, dict) or set(item) - {"name", "fields", "unique", "kind"}:
            raise InvalidArgument(f'{what} must be {{"name"?, "fields": [paths], "unique"?}}')
        paths = item.get("fields")
        if (
            not isinstance(paths, list)
            or not paths
            or not all(isinstance(p, str) and p and all(p.split(".")) for p in paths)
        ):
            raise InvalidArgument(f"{what}: fields must be a list of field paths (a.b)")
        kind = item.get("kind", "value")
        if kind not in ("value", "text"):
            raise InvalidArgument(f'{what}: kind must be "value" or "text"')
        unique = item.get("unique", False)
        if type(unique) is not bool:
            raise InvalidArgument(f"{what}: unique must be true or false")
        if kind == "text" and (unique or len(paths) != 1):
            raise InvalidArgument(f"{what}: a text index covers one field and is not unique")
        steps = tuple(tuple(p.split(".")) for p in paths)
        suffix = "text" if kind == "text" else "idx"
        default = f"{collection}_{'_'.join('_'.join(s) for s in steps)}_{suffix}"
        name = item.get("name", default)
        if not isinstance(name, str):
            raise InvalidArgument(f"{what}: name must be a text")
        found.append(IndexDecl(name, steps, unique, kind))
    names = [i.name for i in found]
    if len(names) != len(set(names)):
        raise InvalidArgument('"indexes" names an index twice')
    return found


def _vectors(given: object, creating: bool) -> dict[str, dict[str, Any] | None]:
    if not isinstance(given, dict):
        raise InvalidArgument('"vectors" must be an object: {"<field>": {"dim": ..., ...}}')
    for path, options in given.items():
        what = f"the vector field {path!r}"
        if not path or any(not part for part in str(path).split(".")):
            raise InvalidArgument(f"{what}: a field path of names separated by dots")
        if options is None and not creating:
            continue  # a PATCH drops it
        parsed = VectorOptions.parse(options, what)
        if not parsed.dim and not parsed.model:  # a model gives dim
            raise InvalidArgument(f"{what} needs dim, the number of values in a vector")
    return given


def apply_settings(
    source: Source, name: str, settings: Settings, *, creating: bool = False
) -> None:
    """Make ``settings`` so on collection ``name`` (indexes before the schema and TTL, which
    check the stored documents)."""
    described = source.describe_collection(name)
    steps: list[Callable[[], Any]] = []
    if settings.indexes is not None:
        steps.extend(_index_steps(source, name, described, settings.indexes))
    for path, options in settings.vectors.items():
        have = path in (described.get("vectors") or {})
        fields = path.split(".")
        if options is None:
            if have:
                steps.append(partial(source.drop_index, described["vectors"][path]["name"]))
        elif have and not creating:
            steps.append(partial(source.alter_vector_index, name, fields, options))
        else:
            steps.append(partial(source.create_vector_index, name, None, fields, options))
    if settings.schema is not _ABSENT:
        text = None if settings.schema is None else orjson.dumps(settings.schema).decode()
        steps.append(partial(source.set_schema, name, text))
    if settings.ttl is not _ABSENT:
        steps.append(partial(source.set_ttl, name, settings.ttl))
    for step in steps:
        step()


def _index_steps(
    source: Source, name: str, described: dict[str, Any], wanted: list[IndexDecl]
) -> list[Callable[[], Any]]:
    have = {i["name"]: i for i in described.get("indexes", [])}
    steps: list[Callable[[], Any]] = []
    for index in wanted:
        shown = ", ".join(".".join(s) for s in index.fields)
        current = have.get(index.name)
        if current is not None:
            same = (
                current["path"] == shown
                and current.get("kind", "value") == index.kind
                and bool(current.get("unique")) == index.unique
            )
            if not same:
                raise Conflict(
                    f"index {index.name!r} exists with another definition: drop it first"
                )
            continue
        steps.append(
            partial(
                source.create_index,
                name,
                index.name,
                list(index.fields[0]),
                kind=index.kind,
                more=[list(f) for f in index.fields[1:]],
                unique=index.unique,
            )
        )
    listed = {i.name for i in wanted}
    steps.extend(partial(source.drop_index, old) for old in have if old not in listed)
    return steps
