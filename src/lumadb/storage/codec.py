"""Byte formats: documents, stored values and change-feed records.

A document is a JSON object encoded with orjson. Stored under its key it is prefixed with a
9-byte header: format version (``0x01``) and the sequence number of the write that produced it
(the document's version, used for ETags, conditional writes and change-feed lookups).
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from typing import Any

import orjson

from lumadb.errors import CorruptionError, DocumentTooLarge, InvalidDocument

__all__ = [
    "HEADER_SIZE",
    "OP_DELETE",
    "OP_DROP",
    "OP_INSERT",
    "OP_NAMES",
    "OP_PUT",
    "OP_UPDATE",
    "FEED_HAS_NEW",
    "FEED_TS_OFFSET",
    "FEED_VERSION",
    "VALUE_VERSION",
    "FeedRecord",
    "decode_document",
    "decode_feed",
    "decode_feed_records",
    "encode_feed_group",
    "decode_stored",
    "encode_document",
    "encode_feed",
    "pack_feed_header",
    "pack_value_header",
    "stored_body",
    "stored_value",
    "stored_version",
]

_VALUE_V1 = 1
_VALUE = struct.Struct(">BQ")
HEADER_SIZE = _VALUE.size
# Bound packers for the write path, which inlines the formats to save calls.
VALUE_VERSION = _VALUE_V1
pack_value_header = _VALUE.pack

# Datetimes and dataclasses would come back as strings or dicts: refuse them instead.
_ENCODE_OPTS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_dumps = orjson.dumps
# A compiled search is several times faster than `b"null" in body` on CPython.
_has_null = re.compile(rb"null").search


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
    if not isinstance(doc, dict):
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
    # orjson writes NaN and Infinity as null; only then is the slow walk needed to tell.
    if _has_null(body):
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
    """The document in a stored value (header checked, JSON parsed without copying)."""
    if value[0] != _VALUE_V1:
        raise CorruptionError("stored value has an unknown format")
    try:
        doc = _loads(memoryview(value)[HEADER_SIZE:])
    except orjson.JSONDecodeError as exc:
        raise CorruptionError(f"stored document does not parse: {exc}") from None
    if type(doc) is not dict:
        raise CorruptionError("stored document is not a JSON object")
    return doc


def stored_value(seq: int, body: bytes) -> bytes:
    """The bytes stored under a document key."""
    return _VALUE.pack(_VALUE_V1, seq) + body


def stored_version(value: bytes) -> int:
    """The version (write sequence number) of a stored value."""
    if len(value) < HEADER_SIZE or value[0] != _VALUE_V1:
        raise CorruptionError("stored value has an unknown format")
    return int(_VALUE.unpack_from(value)[1])


def stored_body(value: bytes) -> memoryview:
    """The JSON body of a stored value, without copying it."""
    if value[:1] != b"\x01":
        raise CorruptionError("stored value has an unknown format")
    return memoryview(value)[HEADER_SIZE:]


# --- change-feed records -------------------------------------------------------------------

OP_INSERT, OP_UPDATE, OP_DELETE, OP_PUT, OP_DROP = 1, 2, 3, 4, 5
OP_NAMES = {
    OP_INSERT: "insert",
    OP_UPDATE: "update",
    OP_DELETE: "delete",
    OP_PUT: "put",
    OP_DROP: "drop",
}
_FEED_V1 = 1
_HAS_NEW, _HAS_OLD = 1, 2
# version, op, flags, timestamp (ms), key length, new-image length
_FEED = struct.Struct(">BBBQHI")
FEED_TS_OFFSET = 3
FEED_VERSION = _FEED_V1
FEED_HAS_NEW = _HAS_NEW
pack_feed_header = _FEED.pack


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """One committed change as stored in a shard's change feed."""

    seq: int
    ts_ms: int
    op: int
    key: bytes
    new: bytes | None
    old: bytes | None
    # Set by readers when the record holds no new image and the document has changed since.
    superseded: bool = False


def encode_feed(
    op: int, ts_ms: int, key: bytes, new: bytes | None = None, old: bytes | None = None
) -> bytes:
    """Encode a change-feed record value (images are JSON bodies, without headers)."""
    flags = (_HAS_NEW if new is not None else 0) | (_HAS_OLD if old is not None else 0)
    head = _FEED.pack(_FEED_V1, op, flags, ts_ms, len(key), len(new) if new is not None else 0)
    if not flags:
        return head + key
    return b"".join((head, key, new or b"", old or b""))


_FEED_GROUP_V2 = 2
# version, op, flags, timestamp (ms), count: then per change u16 key length + key
# (+ u32 length + new image when flagged)
_GROUP = struct.Struct(">BBBQI")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


def encode_feed_group(ts_ms: int, keys: list[bytes], new: list[bytes] | None) -> bytes:
    """One record for the puts of one batch, stored under the last of their sequence numbers.

    Batches of N documents then cost N+1 entries instead of 2N; readers expand the record into
    one change per document (sequence numbers ``last-N+1 .. last``).
    """
    u16 = _U16.pack
    head = _GROUP.pack(_FEED_GROUP_V2, OP_PUT, _HAS_NEW if new else 0, ts_ms, len(keys))
    if new is None:
        return head + b"".join([u16(len(k)) + k for k in keys])
    u32 = _U32.pack
    return head + b"".join(
        [u16(len(k)) + k + u32(len(b)) + b for k, b in zip(keys, new, strict=True)]
    )


def _decode_group(last: int, raw: bytes) -> list[FeedRecord]:
    _version, op, flags, ts_ms, count = _GROUP.unpack_from(raw)
    out: list[FeedRecord] = []
    pos = _GROUP.size
    first = last - count + 1
    for i in range(count):
        (key_len,) = _U16.unpack_from(raw, pos)
        key = raw[pos + 2 : pos + 2 + key_len]
        pos += 2 + key_len
        new = None
        if flags & _HAS_NEW:
            (new_len,) = _U32.unpack_from(raw, pos)
            new = raw[pos + 4 : pos + 4 + new_len]
            pos += 4 + new_len
        out.append(FeedRecord(first + i, ts_ms, op, key, new, None))
    if pos != len(raw):
        raise CorruptionError(f"change-feed record {last} has trailing bytes")
    return out


def decode_feed_records(seq: int, raw: bytes) -> list[FeedRecord]:
    """The changes in one stored feed entry (a single change, or a batch's group)."""
    if raw[:1] == bytes([_FEED_GROUP_V2]):
        try:
            return _decode_group(seq, raw)
        except struct.error:
            raise CorruptionError(f"change-feed record {seq} is truncated") from None
    return [decode_feed(seq, raw)]


def decode_feed(seq: int, raw: bytes) -> FeedRecord:
    """Decode a change-feed record value."""
    try:
        version, op, flags, ts_ms, key_len, new_len = _FEED.unpack_from(raw)
    except struct.error:
        raise CorruptionError(f"change-feed record {seq} is truncated") from None
    if version != _FEED_V1 or op not in OP_NAMES:
        raise CorruptionError(f"change-feed record {seq} has an unknown format")
    pos = _FEED.size
    key = raw[pos : pos + key_len]
    pos += key_len
    new = raw[pos : pos + new_len] if flags & _HAS_NEW else None
    pos += new_len
    old = raw[pos:] if flags & _HAS_OLD else None
    if len(key) != key_len or (new is not None and len(new) != new_len):
        raise CorruptionError(f"change-feed record {seq} is truncated")
    return FeedRecord(seq, ts_ms, op, key, new, old)
