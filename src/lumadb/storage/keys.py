"""Key layout of a shard and an order-preserving encoding of values.

Every shard is one ordered keyspace split by a one-byte namespace:

==========  ==========================================  ===============================
namespace   key                                         value
==========  ==========================================  ===============================
``d``       ``d`` + collection number (u32 BE) + id     document (see :mod:`.codec`)
``m``       ``m`` + name                                shard metadata (catalog, ...)
``o``       ``o`` (one key)                             the previous document of the write
                                                        that follows it in the same batch
                                                        (old images for the change feed)
``i``       ``i`` + index number (u32 BE) + packed       empty (the entry is the key)
            value + document id
``t``       ``t`` + text index number (u32 BE) + term   how often the term occurs in the
            + NUL + document id                         document's field (u32 BE)
``u``       ``u`` + text index number (u32 BE) + id     how many terms the field holds
``w``       ``w`` + collection number (u32 BE) + id     when the document was last written
                                                        (u64 BE ms; collections with a TTL)
==========  ==========================================  ===============================

Document ids are stored as raw UTF-8, whose byte order is code-point order, so scans by id
prefix and id range are plain key ranges. :func:`pack` encodes tuples of JSON scalars so that
byte order equals value order (null < false < true < numbers < strings < bytes), for index keys.
"""

from __future__ import annotations

import math
import struct

from lumadb.errors import InvalidArgument, InvalidId

__all__ = [
    "DOC",
    "DOC_END",
    "MAX_ID_BYTES",
    "META",
    "INDEX",
    "OLD_IMAGE",
    "doc_prefix",
    "encode_id",
    "index_prefix",
    "meta_key",
    "pack",
    "packed_length",
    "prefix_end",
    "split_doc_key",
    "text_prefixes",
    "unpack",
    "written_prefix",
]

DOC = b"d"
DOC_END = b"e"
META = b"m"
OLD_IMAGE = b"o"
INDEX = b"i"
WRITTEN = b"w"
TEXT = b"t"
TEXT_LENGTH = b"u"
MAX_ID_BYTES = 512

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_F64 = struct.Struct(">d")


def doc_prefix(collection_number: int) -> bytes:
    """The key prefix of every document of one collection."""
    return DOC + _U32.pack(collection_number)


def index_prefix(index_number: int) -> bytes:
    """The key prefix of every entry of one secondary index."""
    return INDEX + _U32.pack(index_number)


def text_prefixes(index_number: int) -> tuple[bytes, bytes]:
    """The key prefixes of one text index: its postings and its field lengths."""
    number = _U32.pack(index_number)
    return TEXT + number, TEXT_LENGTH + number


def written_prefix(collection_number: int) -> bytes:
    """The key prefix of the write times of one collection's documents (TTL)."""
    return WRITTEN + _U32.pack(collection_number)


def encode_id(doc_id: object) -> bytes:
    """Validate a document id and return its key bytes.

    An id is a non-empty ``str`` of printable characters, at most 512 bytes in UTF-8.
    """
    if type(doc_id) is not str:
        raise InvalidId(f"document id must be a string, not {type(doc_id).__name__}")
    if not doc_id.isprintable():
        raise InvalidId(f"document id {doc_id!r} contains control or non-printable characters")
    try:
        raw = doc_id.encode()
    except UnicodeEncodeError:
        raise InvalidId(f"document id {doc_id!r} is not valid Unicode") from None
    if not raw or len(raw) > MAX_ID_BYTES:
        raise InvalidId(f"document id must be 1 to {MAX_ID_BYTES} bytes of UTF-8, got {len(raw)}")
    return raw


def split_doc_key(key: bytes) -> tuple[int, str]:
    """The collection number and document id of a document key."""
    return int(_U32.unpack_from(key, 1)[0]), key[5:].decode(errors="replace")


def meta_key(name: str) -> bytes:
    """The key of a shard metadata entry."""
    return META + name.encode()


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with ``prefix``."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        # Nothing bounds the extensions of an all-0xFF prefix; LumaDB never builds one.
        raise InvalidArgument("a prefix of only 0xFF bytes has no upper bound")
    return stripped[:-1] + bytes([stripped[-1] + 1])


# --- order-preserving tuple encoding -------------------------------------------------------

_NULL, _FALSE, _TRUE, _NUM, _STR, _BYTES = 0x01, 0x02, 0x03, 0x10, 0x20, 0x30

Scalar = None | bool | int | float | str | bytes


def _escape(raw: bytes) -> bytes:
    # 0x00 ends a string, so a literal 0x00 becomes 0x00 0xFF (FoundationDB's tuple layer).
    return raw.replace(b"\x00", b"\x00\xff") + b"\x00"


def _sortable_double(value: float) -> bytes:
    bits = _U64.unpack(_F64.pack(value))[0]
    # Flip every bit of negatives and only the sign bit of positives: byte order = float order.
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits & (1 << 63) else bits | (1 << 63)
    return _U64.pack(bits)


def _from_sortable_double(raw: bytes) -> float:
    bits = _U64.unpack(raw)[0]
    bits = bits & ~(1 << 63) if bits & (1 << 63) else bits ^ 0xFFFFFFFFFFFFFFFF
    return float(_F64.unpack(_U64.pack(bits))[0])


def _pack_one(value: Scalar) -> bytes:
    if value is None:
        return bytes([_NULL])
    if value is True:
        return bytes([_TRUE])
    if value is False:
        return bytes([_FALSE])
    if isinstance(value, int | float):
        as_float = float(value)
        if math.isnan(as_float):
            raise InvalidArgument("NaN cannot be part of a key")
        return bytes([_NUM]) + _sortable_double(0.0 if as_float == 0 else as_float)
    if isinstance(value, str):
        return bytes([_STR]) + _escape(value.encode())
    if isinstance(value, bytes):
        return bytes([_BYTES]) + _escape(value)
    raise InvalidArgument(f"cannot encode {type(value).__name__} in a key")


def pack(values: tuple[Scalar, ...]) -> bytes:
    """Encode ``values`` so that comparing encodings compares the tuples.

    Numbers compare by value across int and float (as IEEE doubles: integers beyond 2**53
    may share an encoding with their neighbours, so index lookups re-check values).
    """
    return b"".join(_pack_one(v) for v in values)


def _unescape(raw: bytes, pos: int) -> tuple[bytes, int]:
    out = bytearray()
    while True:
        end = raw.index(b"\x00", pos)
        out += raw[pos:end]
        if end + 1 < len(raw) and raw[end + 1] == 0xFF:
            out += b"\x00"
            pos = end + 2
            continue
        return bytes(out), end + 1


def packed_length(raw: bytes) -> int:
    """How many bytes the first value :func:`pack` wrote at the start of ``raw`` takes."""
    tag = raw[0]
    if tag in (_NULL, _FALSE, _TRUE):
        return 1
    if tag == _NUM:
        return 9
    return _unescape(raw, 1)[1]


def unpack(raw: bytes) -> tuple[Scalar, ...]:
    """Decode what :func:`pack` produced (numbers come back as ``float``)."""
    out: list[Scalar] = []
    pos = 0
    try:
        while pos < len(raw):
            tag = raw[pos]
            pos += 1
            if tag in (_NULL, _FALSE, _TRUE):
                out.append(None if tag == _NULL else tag == _TRUE)
            elif tag == _NUM:
                out.append(_from_sortable_double(raw[pos : pos + 8]))
                pos += 8
            elif tag in (_STR, _BYTES):
                chunk, pos = _unescape(raw, pos)
                out.append(chunk.decode() if tag == _STR else chunk)
            else:
                raise InvalidArgument(f"unknown tag 0x{tag:02x} at byte {pos - 1}")
    except (ValueError, struct.error) as exc:
        raise InvalidArgument(f"malformed packed key: {exc}") from exc
    return tuple(out)
