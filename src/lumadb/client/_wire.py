"""Checks and encodings the client applies before a request leaves the process.

The embedded API refuses bad ids, documents and arguments with particular error classes and
messages; the client runs the same checks here, for two reasons: some values cannot travel at
all (an empty id makes another URL, ``json`` would write a NaN or turn the key ``1`` into
``"1"``), and callers must be able to switch between the two APIs without changing what they
catch. Whatever the server checks anyway (document size, a collection's existence) is left
to the server.
"""

from __future__ import annotations

import enum
import json
import math
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from lumadb.errors import CollectionNotFound, InvalidArgument, InvalidDocument, InvalidId, LumaError

__all__ = [
    "MAX_ID_BYTES",
    "check_connect",
    "collection_segment",
    "encode_document",
    "encode_json",
    "id_segment",
    "is_collection_name",
]

MAX_ID_BYTES = 512
# The catalog's rule (lumadb.catalog.collections): a name that breaks it cannot exist.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")
_INT_RANGE = range(-(2**63), 2**64)  # what orjson, and so the embedded API, can encode
_MAX_DEPTH = 254  # orjson's nesting limit
_SCALARS = (str, int, float, type(None), uuid.UUID, enum.Enum)  # bool is an int


def id_segment(doc_id: object) -> str:
    """``doc_id`` checked as the embedded API checks ids, percent-encoded for a URL path."""
    if type(doc_id) is not str:
        raise InvalidId(f"document id must be a string, not {type(doc_id).__name__}")
    if not doc_id.isprintable():
        raise InvalidId(f"document id {doc_id!r} contains control or non-printable characters")
    raw = doc_id.encode()  # printable strings hold no surrogates
    if not raw or len(raw) > MAX_ID_BYTES:
        raise InvalidId(f"document id must be 1 to {MAX_ID_BYTES} bytes of UTF-8, got {len(raw)}")
    if doc_id in (".", ".."):
        # URL normalisation (RFC 3986 §5.2.4) would remove these as dot segments.
        return doc_id.replace(".", "%2E")
    return quote(raw, safe="")


def is_collection_name(name: object) -> bool:
    """Whether ``name`` is one a collection can have."""
    return isinstance(name, str) and _NAME.match(name) is not None


def collection_segment(name: object) -> str:
    """``name`` for a URL path; a name no collection can have is :class:`CollectionNotFound`.

    Names are ASCII letters, digits and ``_``, so they need no percent-encoding; checking
    them here also keeps ``_collections`` or ``_auth`` from reaching system routes.
    """
    if not isinstance(name, str):
        raise InvalidArgument(f"collection name must be a string, not {type(name).__name__}")
    if not is_collection_name(name):
        raise CollectionNotFound(f"collection {name!r} does not exist")
    return name


def _scalar_problem(value: Any, path: str) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path} is NaN or Infinity, which JSON cannot represent"
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT_RANGE:
        return "document is not valid JSON: Integer exceeds 64-bit range"
    return None


def _children(value: Any, path: str) -> Iterator[tuple[Any, str]]:
    """``(child, path)`` of a container; raises TypeError naming a key that is not a string."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("Dict key must be str")
            yield item, f"{path}.{key}"
    else:
        for i, item in enumerate(value):
            yield item, f"{path}[{i}]"


def _problem(value: Any, path: str, depth: int) -> str | None:
    """Why ``value`` cannot be stored as the embedded API would store it, or None.

    Depth first, in document order, so a NaN is named by the path the embedded API names.
    """
    if isinstance(value, _SCALARS):
        return _scalar_problem(value, path)
    if not isinstance(value, dict | list | tuple):
        return f"document is not valid JSON: Type is not JSON serializable: {type(value).__name__}"
    if depth > _MAX_DEPTH:
        return "document is not valid JSON: Recursion limit reached"
    try:
        for item, where in _children(value, path):
            found = _problem(item, where, depth + 1)
            if found:
                return found
    except TypeError as exc:
        return f"document is not valid JSON: {exc}"
    return None


def _default(value: object) -> object:
    # The two non-JSON types orjson writes natively, written the same way.
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def encode_json(value: object, error: type[LumaError] = InvalidDocument) -> bytes:
    """``value`` as compact UTF-8 JSON; ``error`` for anything JSON cannot hold exactly."""
    found = _problem(value, "$", 1)
    if found:
        raise error(found)
    try:
        text = json.dumps(
            value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_default
        )
        return text.encode()
    except UnicodeEncodeError:
        # A lone surrogate in a string or key; worded as orjson (the embedded API) words it.
        raise error(
            "document is not valid JSON: str is not valid UTF-8: surrogates not allowed"
        ) from None
    except (TypeError, ValueError) as exc:
        raise error(f"document is not valid JSON: {exc}") from None


def encode_document(doc: object) -> bytes:
    """A document checked as the embedded API checks it (but for its size), as JSON."""
    if not isinstance(doc, dict):
        raise InvalidDocument(f"a document must be a JSON object (dict), not {type(doc).__name__}")
    return encode_json(doc)


def check_connect(
    url: object, token: object, username: object, password: object, timeout: object
) -> tuple[str, tuple[str, str] | None]:
    """The server URL and the login (or None) of a valid :func:`lumadb.connect` call."""
    if not isinstance(url, str):
        raise InvalidArgument(f"url must be a string, not {type(url).__name__}")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidArgument(f"url {url!r} is not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidArgument(f"url must be http:// or https:// with a host, not {url!r}")
    if type(timeout) not in (int, float) or not 0 < timeout < math.inf:  # type: ignore[operator]
        raise InvalidArgument(f"timeout must be a positive number of seconds, not {timeout!r}")
    if token is not None and (not isinstance(token, str) or not token):
        raise InvalidArgument("token must be a non-empty string")
    if (username is None) != (password is None):
        raise InvalidArgument("give both username and password, or neither")
    if username is None:
        if token is None:
            raise InvalidArgument("connect needs a token, or a username and password")
        return url.rstrip("/"), None
    if not isinstance(username, str) or not isinstance(password, str):
        raise InvalidArgument("username and password must be strings")
    return url.rstrip("/"), (username, password)
