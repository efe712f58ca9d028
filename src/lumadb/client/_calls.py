"""Each client operation as a request description and a reading of its answer.

The sync and async clients differ only in how they send a :class:`Call`; what goes into the
request and what comes out of the reply is decided here, once, so the two cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import httpx

from lumadb.client._errors import error_from_response
from lumadb.client._wire import (
    collection_segment,
    encode_document,
    encode_json,
    id_segment,
    is_collection_name,
)
from lumadb.errors import (
    CollectionNotFound,
    InvalidArgument,
    InvalidCollectionName,
    InvalidDocument,
    InvalidInput,
    LumaError,
)
from lumadb.service import Document

__all__ = ["ABSENT", "USER_AGENT", "Call", "finish", "strip_id"]

API: Final = "/api/v1"
USER_AGENT: Final = "lumadb-python"
BULK_BYTES: Final = 8 << 20  # below the server's default max_body (16 MiB)


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()
"""The reply to a call whose error code says "nothing there" (a missing document)."""


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request of the client and how to read its answer."""

    method: str
    path: str
    body: bytes | None = None
    params: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"
    absent: frozenset[str] = frozenset()  # error codes that mean ABSENT rather than an error
    authorized: bool = True  # False for the login itself: no token, no re-login


def finish(call: Call, response: httpx.Response) -> Any:
    """The JSON of a successful answer (None when empty), ABSENT, or the error raised."""
    if response.is_success:
        if not response.content:
            return None
        try:
            return json.loads(response.content)
        except ValueError:
            raise LumaError(
                f"the server answered {call.method} {call.path} with bad JSON"
            ) from None
    error = error_from_response(response)
    if error.code in call.absent:
        return ABSENT
    raise error


def strip_id(doc_id: str, doc: Document) -> Document:
    """The document as the embedded API returns it, from the server's answer.

    The server puts ``"id"`` into every document it sends, whether or not the stored one has
    it (a stored ``id`` always equals the document's id). The answer cannot tell the two apart,
    so the rule is: the client always removes it. A document stored *with* its own ``"id"``
    field therefore reads back without it, unlike from the embedded API.
    """
    if doc.get("id") == doc_id:
        del doc["id"]
    return doc


# --- collections ---------------------------------------------------------------------------


def login(username: str, password: str) -> Call:
    """``POST _auth/token``; :func:`token_of` reads the reply."""
    body = encode_json({"username": username, "password": password}, InvalidArgument)
    return Call("POST", f"{API}/_auth/token", body, authorized=False)


def token_of(reply: Any) -> str:
    """The access token of a login reply."""
    token = reply.get("access_token") if isinstance(reply, dict) else None
    if not isinstance(token, str) or not token:
        raise LumaError("the server's login answer holds no access_token")
    return token


def query(text: object, params: object) -> Call:
    """``POST /api/v1/_query``."""
    body: dict[str, object] = {"query": text}
    if params is not None:
        body["params"] = params
    return Call("POST", f"{API}/_query", encode_json(body, InvalidArgument))


def ask(question: object, dry_run: bool) -> Call:
    """``POST /api/v1/_nlq``; the reply is the answer as the embedded ``ask`` gives it."""
    body = {"question": question, "dry_run": dry_run}
    return Call("POST", f"{API}/_nlq", encode_json(body, InvalidArgument))


def rows_of(reply: Any) -> list[dict[str, Any]]:
    """The rows of a query reply as dicts, as the embedded ``db.query`` returns them."""
    columns = reply["columns"]
    return [dict(zip(columns, row, strict=True)) for row in reply["rows"]]


def describe(name: str) -> Call:
    """``GET _collections/{name}``: the description, or CollectionNotFound."""
    return Call("GET", f"{API}/_collections/{collection_segment(name)}")


def list_collections() -> Call:
    """``GET _collections``; :func:`names_of` reads the reply."""
    return Call("GET", f"{API}/_collections")


def names_of(reply: Any) -> list[str]:
    """Sorted collection names from a listing of collections."""
    return sorted(c["name"] for c in reply["collections"])


def create_collection(name: object, exist_ok: bool, changefeed: object) -> Call:
    """``POST _collections``; ABSENT stands for "already there" when ``exist_ok``."""
    if not isinstance(name, str):
        raise InvalidCollectionName(f"collection name must be a string, not {type(name).__name__}")
    if not isinstance(changefeed, str):
        raise InvalidArgument(f"changefeed must be a string, not {type(changefeed).__name__}")
    body = encode_json({"name": name, "changefeed": changefeed}, InvalidArgument)
    absent = frozenset({"collection_exists"} if exist_ok else ())
    return Call("POST", f"{API}/_collections", body, absent=absent)


def drop_collection(name: object, missing_ok: bool) -> Call | None:
    """``DELETE _collections/{name}``; ABSENT stands for "was not there" when ``missing_ok``.

    None (with ``missing_ok``) for a name no collection can have, as the embedded API treats
    any unknown name, even one that is not a string.
    """
    if not is_collection_name(name):
        if missing_ok:
            return None
        raise CollectionNotFound(f"collection {name!r} does not exist")
    absent = frozenset({"collection_not_found"} if missing_ok else ())
    return Call("DELETE", f"{API}/_collections/{name}", absent=absent)


# --- documents -----------------------------------------------------------------------------


def _doc_path(collection: str, doc_id: object) -> str:
    return f"{API}/{collection}/{id_segment(doc_id)}"


def get(collection: str, doc_id: object) -> Call:
    """``GET {c}/{id}``; :func:`document_of` reads the reply."""
    return Call("GET", _doc_path(collection, doc_id), absent=frozenset({"document_not_found"}))


def document_of(doc_id: str, reply: Any) -> Document | None:
    """The document of a GET reply, as the embedded API returns it (None when missing)."""
    return None if reply is ABSENT else strip_id(doc_id, reply)


def put(collection: str, doc_id: object, doc: object) -> Call:
    """``PUT {c}/{id}``: create or replace."""
    path = _doc_path(collection, doc_id)
    return Call("PUT", path, encode_document(doc))


def insert(collection: str, doc: object) -> Call:
    """``POST {c}``; the reply's ``id`` is the new document's."""
    return Call("POST", f"{API}/{collection}", encode_document(doc))


def delete(collection: str, doc_id: object) -> Call:
    """``DELETE {c}/{id}``; ABSENT when there was nothing to delete."""
    return Call("DELETE", _doc_path(collection, doc_id), absent=frozenset({"document_not_found"}))


def ids_list(ids: Iterable[str]) -> list[str]:
    """``ids`` of a get_many, checked as the embedded API checks them."""
    items = _as_list(ids, "ids")
    for doc_id in items:
        id_segment(doc_id)
    return items


def _as_list(items: Iterable[Any], what: str) -> list[Any]:
    if isinstance(items, str | bytes | dict):
        raise InvalidArgument(f"{what} must be a list, not {type(items).__name__}")
    try:
        return list(items)
    except TypeError:
        raise InvalidArgument(f"{what} must be iterable, not {type(items).__name__}") from None


def _bulk_line(position: int, item: Any) -> bytes:
    try:
        doc_id, doc = item
    except (TypeError, ValueError):
        raise InvalidArgument(
            f"put_many takes (id, document) pairs; item {position} is not one"
        ) from None
    try:
        id_segment(doc_id)
        if not isinstance(doc, dict):
            encode_document(doc)
        if "id" in doc and doc["id"] != doc_id:
            raise InvalidDocument(
                f"the document's 'id' field ({doc['id']!r}) differs from its id {doc_id!r}"
            )
        # NDJSON carries the id inside each document, so the stored copy holds it too.
        return encode_document(doc if "id" in doc else {"id": doc_id, **doc})
    except InvalidInput as exc:
        raise type(exc)(f"item {position} (id {doc_id!r}): {exc.message}") from None


def bulk_calls(collection: str, pairs: Iterable[tuple[str, Document]]) -> list[Call]:
    """``POST {c}/_bulk`` bodies of up to :data:`BULK_BYTES` (a longer document goes alone)."""
    lines = [_bulk_line(i, item) for i, item in enumerate(_as_list(pairs, "pairs"))]
    bodies: list[list[bytes]] = []
    size = BULK_BYTES
    for line in lines:
        if size + len(line) > BULK_BYTES:
            bodies.append([])
            size = 0
        bodies[-1].append(line)
        size += len(line) + 1
    path = f"{API}/{collection}/_bulk"
    return [Call("POST", path, b"\n".join(b), content_type="application/x-ndjson") for b in bodies]


def bulk_count(reply: Any) -> int:
    """How many documents one ``_bulk`` body wrote."""
    return int(reply["count"])


def search(collection: str, vector: object, params: object, **given: object) -> Call:
    """``POST {c}/_search`` with the embedded ``search``'s arguments (those not ``None``);
    the reply's ``hits`` are the answer."""
    body: dict[str, object] = {k: v for k, v in given.items() if v is not None}
    if vector is not None:
        body["vector"] = list(vector) if isinstance(vector, list | tuple) else vector
    listed = list(params) if isinstance(params, list | tuple) else params
    if listed:
        body["params"] = listed
    if body.get("hybrid") is False:
        del body["hybrid"]
    return Call("POST", f"{API}/{collection}/_search", encode_json(body, InvalidArgument))


def vector_options(
    dim: object, metric: object, index: object, embed_from: object, model: object, **params: object
) -> dict[str, object]:
    """The options of the embedded ``create_vector_index`` as ``WITH`` takes them."""
    options: dict[str, object] = {"metric": metric, "index": index, **params}
    if dim is not None:
        options["dim"] = dim
    if embed_from is not None:
        options["embed_from"] = embed_from
    if model is not None:
        options["model"] = model
    return options


def create_vector_index(
    collection: str, field: object, name: object, exist_ok: bool, options: dict[str, object]
) -> Call:
    """``CREATE VECTOR INDEX`` through ``POST /api/v1/_query`` (the embedded options)."""
    named = _identifier(name) if name is not None else ""
    guard = "IF NOT EXISTS " if exist_ok else ""
    text = (
        f"CREATE VECTOR INDEX {guard}{named} ON {_identifier(collection)} ({_path(field)}) "
        f"WITH ({_pairs(options)})"
    )
    return query(text, None)


def alter_vector_index(collection: str, field: object, options: dict[str, object]) -> Call:
    """``ALTER VECTOR INDEX ... SET (...)`` through ``POST /api/v1/_query``."""
    text = f"ALTER VECTOR INDEX ON {_identifier(collection)} ({_path(field)}) SET "
    return query(f"{text}({_pairs(options)})", None)


def _path(field: object) -> str:
    if not isinstance(field, str) or not field:
        raise InvalidArgument("field must be a dotted path of names")
    return ".".join(_identifier(p) for p in field.split("."))


def _pairs(options: dict[str, object]) -> str:
    pairs = []
    for key, given in options.items():
        value = given
        if key == "embed_from" and isinstance(given, list | tuple):
            if not all(isinstance(v, str) for v in given):
                raise InvalidArgument("embed_from must be a list of field names")
            value = ",".join(given)  # WITH takes the sources as one comma-separated text
        if type(value) is int:
            pairs.append(f"{_identifier(key)} = {value}")
        elif isinstance(value, str):
            pairs.append(f"{_identifier(key)} = '{value.replace(chr(39), chr(39) * 2)}'")
        else:
            raise InvalidArgument(f"{key} must be a whole number or a text, not {value!r}")
    if not pairs:
        raise InvalidArgument("no options given")
    return ", ".join(pairs)


def _identifier(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidArgument(f"a name must be a non-empty string, not {name!r}")
    return '"' + name.replace('"', '""') + '"'


def vector_index_of(collection: str, field: str, described: Any) -> dict[str, Any]:
    """The embedded API's description of a vector index, from the collection's."""
    found = dict(described["vectors"][field])
    return {"name": found.pop("name"), "collection": collection, "path": field, **found}


def hits_of(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Search hits with their documents as the embedded API gives them (see document_of)."""
    return [{**h, "document": document_of(h["id"], h["document"])} for h in hits]
