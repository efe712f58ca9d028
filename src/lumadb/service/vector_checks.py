"""Writes of a collection with a vector index must hold vectors there: ``dim`` numbers.

One hook per vector index per shard checks each written document: a value at the index's path
must be an array of exactly ``dim`` numbers (NULL or a missing field is fine: that document is
just not found by vector search). Anything else refuses the write with
:class:`~lumadb.errors.InvalidDocument` naming the document, the path and what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from lumadb.catalog import CollectionSpec, IndexSpec
from lumadb.errors import InvalidDocument
from lumadb.storage.lsm import Batch
from lumadb.storage.shard import Shard

__all__ = ["VectorCheck", "VectorCheckSet", "vector_problem"]


_NUMBERS = frozenset({int, float}).issuperset  # at C speed: the check of every search


def vector_problem(value: Any, dim: int) -> str | None:
    """What keeps ``value`` from being a vector of ``dim`` numbers (``None``: nothing)."""
    if not isinstance(value, list):
        kind = "null" if value is None else type(value).__name__
        return f"an array of {dim} numbers, not {kind}"
    if len(value) != dim:
        return f"an array of {dim} numbers, not of {len(value)}"
    if _NUMBERS(map(type, value)):
        return None
    for at, x in enumerate(value):
        if type(x) is not float and type(x) is not int:
            return f"an array of {dim} numbers, but item {at} is {orjson.dumps(x).decode()[:20]}"
    return None


class VectorCheck:
    """Refuses writes of documents whose vector at one index's path is malformed."""

    needs_old = False

    def __init__(self, spec: CollectionSpec, index: IndexSpec) -> None:
        self.prefix = spec.prefix
        self.index = index
        self._collection = spec.name
        self._dim = int(dict(index.options)["dim"])
        self._path = index.path

    def on_write(self, batch: Batch, key: bytes, new: bytes | None, old: bytes | None) -> None:
        """Check the new document (deletes always pass)."""
        if new is None:
            return
        value: Any = orjson.loads(new)
        for step in self._path:
            if not isinstance(value, dict):
                return
            value = value.get(step)
        if value is None:
            return
        problem = vector_problem(value, self._dim)
        if problem is not None:
            doc_id = key[len(self.prefix) :].decode()
            raise InvalidDocument(
                f"document {doc_id!r} of {self._collection}: {'.'.join(self._path)} must be "
                f"{problem} (vector index {self.index.name!r})"
            )


class VectorCheckSet:
    """The vector checks of the shards one process owns, kept in step with the catalog."""

    def __init__(self, shards: list[Shard]) -> None:
        self._shards = shards
        self._hooks: dict[int, list[VectorCheck]] = {}  # index number -> hook per shard

    def sync(self, collections: Iterable[CollectionSpec]) -> None:
        """Hooks for the vector indexes now."""
        wanted = {i.number: (s, i) for s in collections for i in s.indexes if i.kind == "vector"}
        for number in [n for n in self._hooks if n not in wanted]:
            for shard, hook in zip(self._shards, self._hooks.pop(number), strict=True):
                shard.remove_hook(hook)
        for number, (spec, index) in wanted.items():
            if number not in self._hooks:
                hooks = [VectorCheck(spec, index) for _ in self._shards]
                for shard, hook in zip(self._shards, hooks, strict=True):
                    shard.add_hook(hook)
                self._hooks[number] = hooks
