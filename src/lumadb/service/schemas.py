"""Collection schemas: every document written to a collection with one must match it.

A collection's schema is a JSON Schema (draft 2020-12 unless it names another), checked by
``jsonschema-rs`` in a :class:`SchemaHook` on every shard: the hook runs while the write's
batch is built, so a document that does not match raises :class:`SchemaViolation` and nothing
of that write (nor of the rest of its batch, for ``put_many``) is stored, whichever way it
came (the embedded API, REST, bulk, LQL). Setting a schema checks the stored documents too,
after the hook is in place, so no document slips between the check and the hook.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jsonschema_rs
import orjson

from lumadb.catalog import CollectionSpec
from lumadb.errors import InvalidArgument, SchemaViolation
from lumadb.storage.lsm import Batch
from lumadb.storage.shard import Shard

__all__ = ["SchemaHook", "SchemaSet", "compile_schema", "violation"]


def compile_schema(text: str) -> Any:
    """The validator of the schema ``text``, or :class:`InvalidArgument` saying what is wrong."""
    try:
        schema = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"the schema is not JSON: {exc}") from None
    if not isinstance(schema, dict | bool):
        raise InvalidArgument("a JSON schema is an object (or true/false)")
    try:
        return jsonschema_rs.validator_for(schema, retriever=_no_fetching)
    except (jsonschema_rs.ValidationError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidArgument(f"the schema is not a valid JSON schema: {first}") from None
    except jsonschema_rs.ReferencingError as exc:
        raise InvalidArgument(f"the schema refers to what it cannot resolve: {exc}") from None


def _no_fetching(uri: str) -> Any:
    # A schema may refer only to itself: the server never fetches a URL a user named.
    raise ValueError(f"{uri} is not fetched; a schema may refer only to its own parts")


def violation(validator: Any, collection: str, doc_id: str, doc: Any) -> str | None:
    """What is wrong with ``doc`` under ``validator`` (``None``: it matches)."""
    for error in validator.iter_errors(doc):
        where = "/".join(str(p) for p in error.instance_path) or "the document"
        return (
            f"document {doc_id!r} does not match the schema of {collection}: "
            f"at {where}: {error.message}"
        )
    return None


class SchemaHook:
    """Checks every document written to one collection in one shard."""

    needs_old = False

    def __init__(self, spec: CollectionSpec) -> None:
        self.prefix = spec.prefix
        self.schema = spec.schema
        self._collection = spec.name
        self._validator = compile_schema(spec.schema)

    def on_write(self, batch: Batch, key: bytes, new: bytes | None, old: bytes | None) -> None:
        """Refuse the write of a document that does not match (deletes always pass)."""
        if new is None:
            return
        doc = orjson.loads(new)
        if self._validator.is_valid(doc):
            return
        doc_id = key[len(self.prefix) :].decode()
        raise SchemaViolation(violation(self._validator, self._collection, doc_id, doc) or "")


class SchemaSet:
    """The schema hooks of the shards one process owns, kept in step with the catalog."""

    def __init__(self, shards: list[Shard]) -> None:
        self._shards = shards
        self._hooks: dict[int, list[SchemaHook]] = {}  # collection number -> hook per shard

    def sync(self, collections: Iterable[CollectionSpec]) -> None:
        """Hooks for the collections' schemas now (a changed schema replaces its hooks)."""
        wanted = {s.number: s for s in collections if s.schema}
        for number, hooks in list(self._hooks.items()):
            spec = wanted.get(number)
            if spec is None or spec.schema != hooks[0].schema:
                for shard, hook in zip(self._shards, self._hooks.pop(number), strict=True):
                    shard.remove_hook(hook)
        for number, spec in wanted.items():
            if number not in self._hooks:
                hooks = [SchemaHook(spec) for _ in self._shards]
                for shard, hook in zip(self._shards, hooks, strict=True):
                    shard.add_hook(hook)
                self._hooks[number] = hooks
