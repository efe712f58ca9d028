"""Collection specifications and the catalog that holds them.

A collection has a name (``[A-Za-z][A-Za-z0-9_]{0,63}``; names starting with ``_`` are the
system's) and a number that prefixes its keys in every shard. Numbers are never reused, so a
dropped collection's leftover keys can never show up in a new collection of the same name.

``changefeed`` chooses what each change-feed record carries, like DynamoDB's stream view types
or PostgreSQL's replica identity: ``new`` (the new document, which costs nothing: the feed is
the write-ahead log) or ``new_and_old`` (the previous one too, which costs a read and the old
document's bytes per write, so it is opt-in).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from lumadb.catalog.vectors import VectorOptions
from lumadb.errors import CorruptionError, InvalidArgument, InvalidCollectionName
from lumadb.storage.keys import doc_prefix

__all__ = ["CHANGEFEED_MODES", "Catalog", "CollectionSpec", "IndexSpec", "validate_name"]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")
# mode -> image flags, matching lumadb.storage.shard.IMAGE_OLD.
CHANGEFEED_MODES = {"new": 0, "new_and_old": 2}
MAX_NUMBER = 2**32 - 1


def validate_name(name: object) -> str:
    """Return ``name`` if it is a valid user collection name, else raise."""
    if not isinstance(name, str):
        raise InvalidCollectionName(f"collection name must be a string, not {type(name).__name__}")
    if not _NAME.match(name):
        raise InvalidCollectionName(
            f"invalid collection name {name!r}: use a letter followed by up to 63 letters, "
            "digits or underscores (names starting with '_' are reserved)"
        )
    return name


@functools.lru_cache(maxsize=256)
def _vector_options(options: tuple[tuple[str, Any], ...]) -> VectorOptions:
    return VectorOptions.parse(dict(options))  # parsed once per index: searches ask often


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """A secondary index: its name, its number (prefixing its entries) and the field path."""

    name: str
    number: int
    path: tuple[str, ...]
    kind: str = "value"  # "value": equality and ranges; "text": full-text (MATCH)
    more: tuple[tuple[str, ...], ...] = ()  # a composite index's further paths, in order
    unique: bool = False  # no two documents hold the same values (NULL and missing never clash)
    options: tuple[tuple[str, Any], ...] = ()  # a vector index's (dim, metric, index, ...)

    @property
    def vector(self) -> VectorOptions:
        """A vector index's options."""
        return _vector_options(self.options)

    @property
    def paths(self) -> tuple[tuple[str, ...], ...]:
        """Every path the index covers, the first one first."""
        return (self.path, *self.more)

    def shown(self) -> str:
        """The paths as LQL writes them: ``a.b`` or ``a, b.c``."""
        return ", ".join(".".join(p) for p in self.paths)

    def to_record(self) -> dict[str, Any]:
        """The stored form (and the description)."""
        record: dict[str, Any] = {"name": self.name, "number": self.number, "path": list(self.path)}
        if self.kind != "value":
            record["kind"] = self.kind
        if self.more:
            record["more"] = [list(p) for p in self.more]
        if self.unique:
            record["unique"] = True
        if self.options:
            record["options"] = dict(self.options)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> IndexSpec:
        """Rebuild from :meth:`to_record` output."""
        more = tuple(tuple(p) for p in record.get("more", ()))
        return cls(
            record["name"],
            record["number"],
            tuple(record["path"]),
            record.get("kind", "value"),
            more,
            bool(record.get("unique", False)),
            tuple(sorted(record.get("options", {}).items())),
        )


@dataclass(frozen=True, slots=True)
class CollectionSpec:
    """One collection as the catalog knows it."""

    name: str
    number: int
    created_ms: int
    changefeed: str = "new"
    indexes: tuple[IndexSpec, ...] = ()
    ttl_ms: int = 0  # 0: documents never expire
    ttl_since_ms: int = 0  # when the TTL was set (the write time of older documents)
    schema: str = ""  # a JSON schema (as JSON text) every written document must match
    prefix: bytes = field(init=False, repr=False, compare=False)
    images: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.changefeed not in CHANGEFEED_MODES:
            allowed = ", ".join(repr(m) for m in CHANGEFEED_MODES)
            raise InvalidArgument(
                f"changefeed = {self.changefeed!r} is not allowed; expected one of {allowed}"
            )
        object.__setattr__(self, "prefix", doc_prefix(self.number))
        object.__setattr__(self, "images", CHANGEFEED_MODES[self.changefeed])

    def describe(self) -> dict[str, Any]:
        """The public description of the collection."""
        described: dict[str, Any] = {
            "name": self.name,
            "changefeed": self.changefeed,
            "created_ms": self.created_ms,
        }
        listed = [i for i in self.indexes if i.kind != "vector"]
        if listed:
            described["indexes"] = [
                {"name": i.name, "path": i.shown(), "fields": [".".join(p) for p in i.paths]}
                | ({"kind": i.kind} if i.kind != "value" else {})
                | ({"unique": True} if i.unique else {})
                for i in listed
            ]
        vectors = [i for i in self.indexes if i.kind == "vector"]
        if vectors:
            described["vectors"] = {
                ".".join(i.path): {"name": i.name, **i.vector.describe()} for i in vectors
            }
        if self.ttl_ms:
            described["ttl_seconds"] = self.ttl_ms / 1000
        if self.schema:
            described["schema"] = orjson.loads(self.schema)
        return described

    def to_record(self) -> dict[str, Any]:
        """The stored form."""
        record: dict[str, Any] = {
            "name": self.name,
            "number": self.number,
            "created_ms": self.created_ms,
            "changefeed": self.changefeed,
        }
        if self.indexes:
            record["indexes"] = [i.to_record() for i in self.indexes]
        if self.ttl_ms:
            record["ttl_ms"], record["ttl_since_ms"] = self.ttl_ms, self.ttl_since_ms
        if self.schema:
            record["schema"] = self.schema
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CollectionSpec:
        """Rebuild from :meth:`to_record` output."""
        return cls(
            name=record["name"],
            number=record["number"],
            created_ms=record["created_ms"],
            changefeed=record.get("changefeed", "new"),
            indexes=tuple(IndexSpec.from_record(i) for i in record.get("indexes", ())),
            ttl_ms=int(record.get("ttl_ms", 0)),
            ttl_since_ms=int(record.get("ttl_since_ms", 0)),
            schema=str(record.get("schema", "")),
        )


@dataclass(frozen=True, slots=True)
class Catalog:
    """An immutable catalog version: collections by name and the next free number."""

    collections: dict[str, CollectionSpec] = field(default_factory=dict)
    next_number: int = 1

    def with_collection(self, name: str, created_ms: int, changefeed: str) -> Catalog:
        """A catalog that also holds a new collection ``name``."""
        if self.next_number > MAX_NUMBER:
            raise InvalidArgument("no collection numbers left")
        spec = CollectionSpec(name, self.next_number, created_ms, changefeed)
        return Catalog({**self.collections, name: spec}, self.next_number + 1)

    def with_spec(self, spec: CollectionSpec) -> Catalog:
        """A catalog where ``spec`` replaces the collection of the same name."""
        return replace(self, collections={**self.collections, spec.name: spec})

    def without(self, name: str) -> Catalog:
        """A catalog without collection ``name``."""
        rest = {k: v for k, v in self.collections.items() if k != name}
        return Catalog(rest, self.next_number)

    def index(self, name: str) -> tuple[CollectionSpec, IndexSpec] | None:
        """The collection and spec of the index ``name`` (index names are the node's)."""
        for spec in self.collections.values():
            for index in spec.indexes:
                if index.name == name:
                    return spec, index
        return None

    def with_index(
        self,
        collection: str,
        name: str,
        path: tuple[str, ...],
        kind: str = "value",
        more: tuple[tuple[str, ...], ...] = (),
        unique: bool = False,
        options: tuple[tuple[str, Any], ...] = (),
    ) -> Catalog:
        """A catalog where ``collection`` also has the index ``name`` on ``path`` (and
        ``more`` paths, for a composite index)."""
        if self.next_number > MAX_NUMBER:
            raise InvalidArgument("no index numbers left")
        spec = self.collections[collection]
        index = IndexSpec(name, self.next_number, path, kind, more, unique, options)
        changed = replace(spec, indexes=(*spec.indexes, index))
        return Catalog({**self.collections, collection: changed}, self.next_number + 1)

    def without_index(self, name: str) -> Catalog:
        """A catalog without the index ``name``."""
        found = self.index(name)
        if found is None:
            return self
        spec, index = found
        changed = replace(spec, indexes=tuple(i for i in spec.indexes if i is not index))
        return self.with_spec(changed)

    def encode(self) -> bytes:
        """Serialise for storage."""
        records = [s.to_record() for s in self.collections.values()]
        return orjson.dumps({"version": 1, "next_number": self.next_number, "collections": records})

    @classmethod
    def decode(cls, raw: bytes) -> Catalog:
        """Parse what :meth:`encode` wrote."""
        try:
            data = orjson.loads(raw)
            specs = [CollectionSpec.from_record(r) for r in data["collections"]]
            return cls({s.name: s for s in specs}, int(data["next_number"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise CorruptionError(f"the stored catalog cannot be read: {exc}") from exc
