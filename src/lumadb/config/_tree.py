"""Raw settings as a tree whose every value remembers where it came from.

Each layer (defaults, file, environment, overrides) becomes a :class:`Table` of
:class:`Leaf` values tagged with their origin; layers merge key by key, and the validator
uses the origins to say which file line, variable or override holds a bad value.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import msgspec

from lumadb.errors import ConfigError

__all__ = ["Leaf", "Node", "Table", "layer", "merge", "plain", "to_tree"]

# Tables that differ in this key are different kinds of thing (a tagged union), so a
# higher layer that changes it replaces the lower table instead of merging into it.
TAG = "type"


@dataclass(frozen=True, slots=True)
class Leaf:
    """A single value, its origin (a path, an environment variable or ``override``) and,
    for environment variables, the text before it was read as TOML."""

    value: object
    origin: str
    raw: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    """A table of nodes; ``origin`` is where the table itself was written."""

    items: dict[str, Node] = field(default_factory=dict)
    origin: str = "default"


Node = Leaf | Table


def to_tree(value: object, origin: str, raw: str | None = None) -> Node:
    """Wrap a parsed value (nested mappings allowed) as a tree tagged with ``origin``."""
    if isinstance(value, msgspec.Struct):
        value = msgspec.to_builtins(value)
    if isinstance(value, Mapping):
        items: dict[str, Node] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"key {key!r} (from {origin}): keys must be strings")
            items[key] = to_tree(item, origin)
        return Table(items, origin)
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return Leaf(value, origin, raw)


def layer(entries: Iterable[tuple[tuple[str, ...], Node]]) -> Table:
    """One layer from ``(path, node)`` pairs; a deeper path wins over a table that holds it."""
    result = Table()
    for path, node in sorted(entries, key=lambda entry: len(entry[0])):
        nested: Node = node
        for key in reversed(path):
            nested = Table({key: nested}, node.origin)
        merged = merge(result, nested)
        assert isinstance(merged, Table)  # a table merged with a table stays a table
        result = merged
    return result


def merge(lower: Node, higher: Node) -> Node:
    """``higher`` over ``lower``, table by table, so one key can change a nested table."""
    if not isinstance(lower, Table) or not isinstance(higher, Table) or _retagged(lower, higher):
        return higher
    items = dict(lower.items)
    for key, node in higher.items.items():
        items[key] = merge(items[key], node) if key in items else node
    return Table(items, higher.origin)


def _retagged(lower: Table, higher: Table) -> bool:
    old, new = lower.items.get(TAG), higher.items.get(TAG)
    return isinstance(old, Leaf) and isinstance(new, Leaf) and old.value != new.value


def plain(node: Node) -> object:
    """The node's value without origins (for echoing a table in an error message)."""
    if isinstance(node, Leaf):
        return node.value
    return {key: plain(item) for key, item in node.items.items()}
