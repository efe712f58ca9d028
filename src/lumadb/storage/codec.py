"""Byte formats: documents as stored, and change-feed records.

A document is a JSON object encoded with orjson and stored as is under its key: the stored
value is the JSON text (always starting with ``{``; other first bytes are reserved for future
formats). A document's version, for ETags and conditional writes, is a 64-bit hash of those
bytes (:func:`version_of`), as HTTP servers derive ETags from content.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import orjson
import xxhash

from lumadb.errors import CorruptionError, DocumentTooLarge, InvalidDocument

__all__ = [
    "OP_DELETE",
    "OP_DROP",
    "OP_INSERT",
    "OP_NAMES",
    "OP_PUT",
    "OP_UPDATE",
    "ENCODE_OPTIONS",
    "FeedRecord",
    "decode_document",
    "decode_stored",
    "encode_document",
    "finite_only",
    "has_null",
    "version_of",
]

# Datetimes and dataclasses would come back as strings or dicts: refuse them instead.
ENCODE_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_ENCODE_OPTS = ENCODE_OPTIONS
_dumps = orjson.dumps
has_null = _has_null = re.compile(rb"null").search
# Values of these exact types cannot hide a NaN or an infinity: checking a flat document's value
# types (at C speed) is cheaper than searching its JSON for "null" (~1 us per KiB).
_FINITE_TYPES = frozenset({str, int, bool, type(None)})
finite_only = _finite_only = _FINITE_TYPES.issuperset


def _non_finite_path(value: Any, path: str) -> str | None:
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        for k, v in value.items():
            found = _non_finite_path(v, f"{path}.{k}")
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = _non_finite_path(v, f"{path}[{i}]")
            if found:
                return found
    return None


def encode_document(doc: object, max_size: int) -> bytes:
    """Validate ``doc`` as a JSON object and encode it.

    Raises :class:`InvalidDocument` for anything JSON cannot represent exactly (non-string
    keys, NaN/Infinity, datetimes, bytes, sets, integers beyond 64 bits, nesting deeper than
    254) and :class:`DocumentTooLarge` above ``max_size`` bytes.
    """
    if type(doc) is not dict and not isinstance(doc, dict):
        raise InvalidDocument(f"a document must be a JSON object (dict), not {type(doc).__name__}")
    try:
        body = _dumps(doc, option=_ENCODE_OPTS)
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise InvalidDocument(f"document is not valid JSON: {exc}") from None
    if len(body) > max_size:
        raise DocumentTooLarge(
            f"document is {len(body)} bytes encoded; the limit is {max_size} "
            "(storage.max_document_size)"
        )
    # orjson writes NaN and Infinity as null: only a document with floats or containers whose
    # JSON holds a null needs the walk that tells.
    if not _finite_only(map(type, doc.values())) and _has_null(body):
        bad = _non_finite_path(doc, "$")
        if bad:
            raise InvalidDocument(f"{bad} is NaN or Infinity, which JSON cannot represent")
    return body


def decode_document(body: bytes | memoryview) -> dict[str, Any]:
    """Parse a JSON body into a dict."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CorruptionError(f"stored document does not parse: {exc}") from None
    if not isinstance(doc, dict):
        raise CorruptionError("stored document is not a JSON object")
    return doc


_loads = orjson.loads


def decode_stored(value: bytes) -> dict[str, Any]:
    """The document in a stored value."""
    try:
        doc = _loads(value)
    except orjson.JSONDecodeError as exc:
        raise CorruptionError(f"stored document does not parse: {exc}") from None
    if type(doc) is not dict:
        raise CorruptionError("stored value is not a JSON object")
    return doc


version_of = xxhash.xxh3_64_intdigest
"""The version of a stored value: a 64-bit hash of its bytes."""


# --- change-feed records -------------------------------------------------------------------

OP_INSERT, OP_UPDATE, OP_DELETE, OP_PUT, OP_DROP = 1, 2, 3, 4, 5
OP_NAMES = {
    OP_INSERT: "insert",
    OP_UPDATE: "update",
    OP_DELETE: "delete",
    OP_PUT: "put",
    OP_DROP: "drop",
}


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """One committed change of a document (or a dropped collection), from a shard's log.

    ``op`` is ``OP_PUT`` (insert or update, not told apart) unless the collection records old
    images, which tell ``OP_INSERT`` from ``OP_UPDATE``. ``new`` and ``old`` are JSON bodies.
    """

    seq: int
    op: int
    key: bytes
    new: bytes | None
    old: bytes | None
