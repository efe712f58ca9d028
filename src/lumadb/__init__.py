"""LumaDB: a multi-model database for operational, analytical and AI workloads.

Embedded use::

    import lumadb

    with lumadb.open("data") as db:
        users = db.create_collection("users", exist_ok=True)
        users.put("u1", {"name": "Ada", "age": 36})
        users.get("u1")

``import lumadb`` stays cheap: the storage engine loads on the first :func:`open`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lumadb._version import __version__
from lumadb.errors import (
    BackupError,
    CollectionExists,
    CollectionNotFound,
    ConfigError,
    Conflict,
    CorruptionError,
    DatabaseClosed,
    DataDirLocked,
    DiskFullError,
    DocumentExists,
    DocumentNotFound,
    DocumentTooLarge,
    DurabilityError,
    Forbidden,
    InvalidArgument,
    InvalidCollectionName,
    InvalidDocument,
    InvalidId,
    InvalidInput,
    LumaError,
    MalformedRequest,
    MethodNotAllowed,
    NotFound,
    ReadOnlyError,
    RequestTimeout,
    RequestTooLarge,
    StorageError,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    UniqueViolation,
    UnsupportedMediaType,
    VersionMismatch,
)

if TYPE_CHECKING:
    from lumadb._embedded import Collection, Database
    from lumadb.client import AsyncClient, Client
    from lumadb.clock import Clock
    from lumadb.config import Settings

__all__ = [
    "BackupError",
    "Collection",
    "CollectionExists",
    "CollectionNotFound",
    "ConfigError",
    "Conflict",
    "CorruptionError",
    "DataDirLocked",
    "Database",
    "DatabaseClosed",
    "DiskFullError",
    "DocumentExists",
    "DocumentNotFound",
    "DocumentTooLarge",
    "DurabilityError",
    "Forbidden",
    "InvalidArgument",
    "InvalidCollectionName",
    "InvalidDocument",
    "InvalidId",
    "InvalidInput",
    "LumaError",
    "MalformedRequest",
    "MethodNotAllowed",
    "NotFound",
    "ReadOnlyError",
    "RequestTimeout",
    "RequestTooLarge",
    "StorageError",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
    "UniqueViolation",
    "UnsupportedMediaType",
    "VersionMismatch",
    "__version__",
    "connect",
    "connect_async",
    "open",
]


def open(
    path: str | os.PathLike[str],
    *,
    config: str | os.PathLike[str] | Settings | None = None,
    clock: Clock | None = None,
    **storage: object,
) -> Database:
    """Open the database at ``path`` (``":memory:"`` for a throw-away one).

    ``config`` names a ``luma.toml`` (or passes :class:`~lumadb.config.Settings`); keyword
    arguments override ``[storage]`` settings, e.g. ``lumadb.open("data", durability="always")``.
    """
    from lumadb._embedded import open_database

    return open_database(path, config=config, clock=clock, **storage)


def connect(
    url: str,
    *,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 30.0,
) -> Client:
    """A client of the node at ``url`` with the surface of :class:`Database`, over HTTP.

    Give a ``token``, or a ``username`` and ``password`` (logged in at once, and again when
    the token expires). See :mod:`lumadb.client` for where it differs from the embedded API.
    """
    from lumadb.client import connect as _connect

    return _connect(url, token=token, username=username, password=password, timeout=timeout)


def connect_async(
    url: str,
    *,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 30.0,
) -> AsyncClient:
    """Like :func:`connect`, for asyncio: ``async with lumadb.connect_async(url, ...) as db``."""
    from lumadb.client import connect_async as _connect_async

    return _connect_async(url, token=token, username=username, password=password, timeout=timeout)


def __getattr__(name: str) -> object:
    # Database and Collection load lazily so that `import lumadb` stays cheap.
    if name in ("Database", "Collection"):
        from lumadb import _embedded

        return getattr(_embedded, name)
    raise AttributeError(f"module 'lumadb' has no attribute {name!r}")
