"""Encoding the documents of a bulk write straight into the shards' batches.

``put_many`` is the bulk-load path, so its loop is written for speed: it runs the checks of
:func:`lumadb.storage.keys.encode_id` and :func:`lumadb.storage.codec.encode_document` inline
and puts each document into its shard's batch at once, keeping nothing per document but its
key, as a bulk write to RocksDB itself would. Whatever is unusual about an item goes through
those two functions, which raise the errors users see, prefixed with the item's position.

NaN and infinities (which orjson writes as ``null``) are ruled out for the whole batch in one
pass at C speed when no value of any document is a float or a container; only otherwise is each
document's JSON searched for ``null``.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from typing import Any, NoReturn

import orjson

from lumadb.errors import InvalidArgument, InvalidDocument, LumaError
from lumadb.storage import codec, keys

__all__ = ["batch_finite", "encode_checked", "encode_into", "item_error"]

_dumps = orjson.dumps
_OPTIONS = codec.ENCODE_OPTIONS
_SHORT_ID = keys.MAX_ID_BYTES // 4  # characters: UTF-8 takes at most 4 bytes for each
_finite_only = codec.finite_only
_has_null = codec.has_null
_second = operator.itemgetter(1)
_values = dict.values
_chain = itertools.chain.from_iterable


def batch_finite(items: list[Any]) -> bool:
    """Whether no document of ``items`` can hold a NaN: every value is a str, int, bool or None.

    One pass over all values at C speed; False (check each document) for anything unusual.
    """
    try:
        return _finite_only(map(type, _chain(map(_values, map(_second, items)))))
    except (TypeError, IndexError):  # an item that is not an (id, dict) pair
        return False


def encode_into(
    items: list[Any],
    prefix: bytes,
    max_size: int,
    route: Callable[[bytes], int] | None,
    puts: list[Callable[[bytes, bytes], object]],
    notes: list[Callable[[bytes], object]],
) -> None:
    """Encode every ``(id, document)`` of ``items`` and hand it to its shard's ``puts[i]``.

    ``route`` maps a key to its shard (None: there is one). Each key also goes to ``notes[i]``.
    """
    finite = batch_finite(items)
    position, doc_id = -1, None
    try:
        for position, (doc_id, doc) in enumerate(items):  # noqa: B007
            if (
                type(doc_id) is str
                and type(doc) is dict
                and 0 < len(doc_id) <= _SHORT_ID
                and doc_id.isprintable()
            ):
                body = _dumps(doc, option=_OPTIONS)
                if (
                    len(body) <= max_size
                    and (finite or _finite_only(map(type, doc.values())) or not _has_null(body))
                    and ("id" not in doc or doc["id"] == doc_id)
                ):
                    key = prefix + doc_id.encode()
                    at = route(key) if route is not None else 0
                    puts[at](key, body)
                    notes[at](key)
                    continue
            key = prefix + keys.encode_id(doc_id)
            body = encode_checked(doc_id, doc, max_size)
            at = route(key) if route is not None else 0
            puts[at](key, body)
            notes[at](key)
    except Exception as exc:
        item_error(exc, position, doc_id, items)


def encode_checked(doc_id: object, doc: object, max_size: int) -> bytes:
    """The full checks of one document: :func:`codec.encode_document`, and an ``id`` field
    that, if present, must equal the document's id."""
    body = codec.encode_document(doc, max_size)
    if "id" in doc and doc["id"] != doc_id:  # type: ignore[operator,index]
        raise InvalidDocument(
            f"the document's 'id' field ({doc['id']!r}) differs from its id {doc_id!r}"  # type: ignore[index]
        )
    return body


def item_error(exc: Exception, position: int, doc_id: object, items: list[Any]) -> NoReturn:
    """Raise the error of item ``position`` of a bulk write, naming the item."""
    if isinstance(exc, orjson.JSONEncodeError):
        # Raised by the quick path's encoding: let the full check word it.
        try:
            codec.encode_document(items[position][1], 1 << 62)
        except LumaError as full:
            exc = full
    if isinstance(exc, LumaError):
        # Same error class, with the position so callers can point at the bad item.
        raise type(exc)(f"item {position} (id {doc_id!r}): {exc.message}") from None
    if isinstance(exc, TypeError | ValueError):
        raise InvalidArgument(
            f"put_many takes (id, document) pairs; item {position} is not one"
        ) from None
    raise exc
