"""The Python client of a LumaDB node: the embedded API's surface, over HTTP.

::

    import lumadb

    with lumadb.connect("http://127.0.0.1:8080", username="admin", password="...") as db:
        users = db.create_collection("users", exist_ok=True)
        users.put("u1", {"name": "Ada", "age": 36})
        users.get("u1")                      # {"name": "Ada", "age": 36}

    async with lumadb.connect_async("http://127.0.0.1:8080", token=token) as db:
        await db.collection("users").put("u2", {"name": "Bob"})

Give a ``token``, or a ``username`` and ``password`` (the client logs in with
``POST /api/v1/_auth/token``, and logs in again, once, when a request is refused with 401
because the token expired), or both. Errors are the classes of :mod:`lumadb.errors` that the
embedded API raises, chosen by the server's error code; a node that cannot be reached is
:class:`~lumadb.errors.DatabaseClosed`, one that does not answer in ``timeout`` seconds
:class:`~lumadb.errors.RequestTimeout`.

Where the client differs from the embedded :class:`lumadb.Database` (the congruence suite in
``tests/congruence`` runs the same tests on both and pins these):

- **``id`` fields.** The server puts ``"id"`` into every document it returns; the client
  always removes it, so documents read back as they were written without one. A document
  stored *with* its own ``"id"`` field (``insert({"id": ...})``, or ``put`` of a document that
  holds its id) therefore reads back without it, where the embedded API keeps it.
- ``put_many`` goes through ``_bulk``, whose NDJSON carries each id inside its document: the
  stored copies hold an ``"id"`` field (invisible through the client, visible in change-feed
  images), and it counts towards ``storage.max_document_size``, so a document within a few
  bytes of the limit fits through ``put`` but not through ``put_many``. Each body of up to
  8 MiB is atomic per shard; a larger call is several bodies.
- ``scan``'s ``start`` costs one GET, ``reverse`` reads the whole range before yielding, and
  ``count`` pages through every document. Pages are read as the iteration goes, so a scan
  is not a snapshot.
- ``list_collections`` lists the collections the caller's token may read.
- Documents nested deeper than the server's ``server.max_json_depth`` (64) are refused with
  :class:`~lumadb.errors.MalformedRequest`; the embedded API takes up to 254 levels.
- Snapshots, change feeds, backups, stats and ``flush`` are not (yet) offered over HTTP.
"""

from __future__ import annotations

from lumadb.client._async import AsyncClient, AsyncCollection, AsyncSession
from lumadb.client._sync import Client, Collection, Session
from lumadb.client._wire import check_connect

__all__ = ["AsyncClient", "AsyncCollection", "Client", "Collection", "connect", "connect_async"]


def connect(
    url: str,
    *,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 30.0,
) -> Client:
    """A client of the node at ``url``; with a username and password it logs in at once.

    Raises :class:`~lumadb.errors.InvalidArgument` for a bad URL or credentials that are
    neither a token nor a username with a password, and
    :class:`~lumadb.errors.Unauthorized` when the login is refused.
    """
    base, login = check_connect(url, token, username, password, timeout)
    session = Session(base, float(timeout), token, login)
    if token is None:
        try:
            session.login()
        except BaseException:
            session.close()
            raise
    return Client(session)


def connect_async(
    url: str,
    *,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 30.0,
) -> AsyncClient:
    """An asyncio client of the node at ``url`` (it logs in on ``async with`` or first use).

    Arguments as for :func:`connect`; no request is made before the client is used.
    """
    base, login = check_connect(url, token, username, password, timeout)
    return AsyncClient(AsyncSession(base, float(timeout), token, login))
