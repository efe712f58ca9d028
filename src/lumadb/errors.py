"""The one error tree of LumaDB.

Every error a user can meet is a :class:`LumaError`. Each subclass carries a stable machine
``code`` and the HTTP ``status`` it maps to; the HTTP layer translates errors to the wire in
exactly one place by reading those two attributes. Foreign exceptions (RocksDB, sockets, ...)
are translated at their adapter with ``raise ... from exc`` and never reach users raw.

Tree::

    LumaError
    ├── InvalidInput (400)
    │   ├── InvalidId
    │   ├── InvalidDocument
    │   │   └── DocumentTooLarge (413)
    │   ├── InvalidCollectionName
    │   ├── InvalidArgument
    │   ├── MalformedRequest
    │   ├── RequestTooLarge (413)
    │   ├── UnsupportedMediaType (415)
    │   └── TranslationFailed (422)
    ├── ConfigError
    ├── Unauthorized (401)
    ├── Forbidden (403)
    ├── TooManyRequests (429)
    ├── NotFound (404)
    │   ├── CollectionNotFound
    │   └── DocumentNotFound
    ├── MethodNotAllowed (405)
    ├── RequestTimeout (504)
    ├── Conflict (409)
    │   ├── CollectionExists
    │   ├── DocumentExists
    │   ├── UniqueViolation
    │   └── VersionMismatch (412)
    ├── DataDirLocked (423)
    ├── DatabaseClosed (503)
    ├── Unavailable (503)
    │   ├── EmbeddingFailed
    │   └── LanguageModelFailed
    └── StorageError (500)
        ├── ReadOnlyError (503)
        │   └── DurabilityError
        ├── DiskFullError (507)
        ├── CorruptionError
        └── BackupError
"""

from __future__ import annotations

__all__ = [
    "BackupError",
    "CollectionExists",
    "CollectionNotFound",
    "ConfigError",
    "Conflict",
    "CorruptionError",
    "DataDirLocked",
    "DatabaseClosed",
    "DiskFullError",
    "DocumentExists",
    "DocumentNotFound",
    "DocumentTooLarge",
    "DurabilityError",
    "EmbeddingFailed",
    "Forbidden",
    "InvalidArgument",
    "InvalidCollectionName",
    "LanguageModelFailed",
    "InvalidDocument",
    "InvalidId",
    "InvalidInput",
    "LumaError",
    "MalformedRequest",
    "QueryError",
    "MethodNotAllowed",
    "NotFound",
    "ReadOnlyError",
    "RequestTimeout",
    "RequestTooLarge",
    "SchemaViolation",
    "StorageError",
    "TooManyRequests",
    "TranslationFailed",
    "Unauthorized",
    "Unavailable",
    "UniqueViolation",
    "UnsupportedMediaType",
    "VersionMismatch",
    "class_for_code",
    "error_from_code",
]


class LumaError(Exception):
    """Root of every error LumaDB raises on purpose."""

    code: str = "internal"
    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, object]:
        """The wire form: ``{"error": {"code": ..., "message": ...}}``."""
        return {"error": {"code": self.code, "message": self.message}}


class InvalidInput(LumaError):
    """The caller sent something malformed; retrying the same request cannot succeed."""

    code = "invalid_input"
    status = 400


class InvalidId(InvalidInput):
    """A document id is not a usable string."""

    code = "invalid_id"


class InvalidDocument(InvalidInput):
    """A document is not a JSON object of JSON values."""

    code = "invalid_document"


class SchemaViolation(InvalidDocument):
    """A document does not match its collection's JSON schema (nothing was written)."""

    code = "schema_violation"
    status = 422


class DocumentTooLarge(InvalidDocument):
    """A document's encoded size exceeds ``storage.max_document_size``."""

    code = "document_too_large"
    status = 413


class InvalidCollectionName(InvalidInput):
    """A collection name does not match ``[A-Za-z][A-Za-z0-9_]{0,63}``."""

    code = "invalid_collection_name"


class InvalidArgument(InvalidInput):
    """An argument other than an id, document or name is out of its allowed range."""

    code = "invalid_argument"


class QueryError(InvalidInput):
    """An LQL statement that cannot be parsed, or asks for something LQL does not do."""

    code = "invalid_query"


class MalformedRequest(InvalidInput):
    """An HTTP request that cannot be read: bad JSON, bad query parameters, bad headers."""

    code = "malformed_request"


class RequestTooLarge(InvalidInput):
    """A request body over ``server.max_body``."""

    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(InvalidInput):
    """A request body in a format the route does not take."""

    code = "unsupported_media_type"
    status = 415


class TranslationFailed(InvalidInput):
    """A question could not be turned into one read-only LQL statement (``POST /api/v1/_nlq``,
    ``db.ask``): the translator did not understand it, or a language model answered something
    that is not a single SELECT."""

    code = "translation_failed"
    status = 422


class ConfigError(LumaError):
    """Configuration could not be loaded: names the key, the value and what is allowed."""

    code = "config_invalid"
    status = 400


class Unauthorized(LumaError):
    """No credentials, or credentials that do not prove who the caller is."""

    code = "unauthorized"
    status = 401


class Forbidden(LumaError):
    """The caller is known but lacks the permission for this request."""

    code = "forbidden"
    status = 403


class TooManyRequests(LumaError):
    """Too many attempts in a short time; ``retry_after`` says how many seconds to wait."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(LumaError):
    """Something named by the caller does not exist."""

    code = "not_found"
    status = 404


class CollectionNotFound(NotFound):
    """The named collection does not exist."""

    code = "collection_not_found"


class DocumentNotFound(NotFound):
    """The named document does not exist."""

    code = "document_not_found"


class MethodNotAllowed(LumaError):
    """The path exists, but not with this HTTP method."""

    code = "method_not_allowed"
    status = 405

    def __init__(self, message: str, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.allowed = allowed


class RequestTimeout(LumaError):
    """The request took longer than ``server.request_timeout``."""

    code = "timeout"
    status = 504


class Conflict(LumaError):
    """The request contradicts the current state."""

    code = "conflict"
    status = 409


class CollectionExists(Conflict):
    """A collection with that name already exists."""

    code = "collection_exists"


class DocumentExists(Conflict):
    """A document with that id already exists (insert never overwrites)."""

    code = "document_exists"


class UniqueViolation(Conflict):
    """A write would give two documents the same values in a UNIQUE index."""

    code = "unique_violation"


class VersionMismatch(Conflict):
    """A conditional write expected another version of the document."""

    code = "version_mismatch"
    status = 412


class DataDirLocked(LumaError):
    """Another process (or another handle in this one) holds the data directory."""

    code = "data_dir_locked"
    status = 423


class DatabaseClosed(LumaError):
    """The database was closed; open it again to continue."""

    code = "database_closed"
    status = 503


class Unavailable(LumaError):
    """A part of the node (another shard worker) cannot be reached right now; retry."""

    code = "unavailable"
    status = 503


class EmbeddingFailed(Unavailable):
    """An embedding model could not make a vector (a remote endpoint failed or a model is
    missing); the write or search was not done."""

    code = "embedding_failed"
    status = 503


class LanguageModelFailed(Unavailable):
    """The language model behind ``POST /api/v1/_nlq`` could not answer (its endpoint failed
    or timed out, or its model file could not be loaded); nothing was run."""

    code = "language_model_failed"
    status = 503


class StorageError(LumaError):
    """The storage engine failed; the message says how."""

    code = "storage_error"
    status = 500


class ReadOnlyError(StorageError):
    """A shard stopped taking writes after an I/O failure; reads still work."""

    code = "read_only"
    status = 503


class DurabilityError(ReadOnlyError):
    """Syncing the write-ahead log failed: the write was not acknowledged and the shard is
    now read-only (a failed fsync is never followed by an acknowledgement)."""

    code = "durability_failed"


class DiskFullError(StorageError):
    """The disk holding the data directory is full; reads keep working."""

    code = "disk_full"
    status = 507


class CorruptionError(StorageError):
    """Stored bytes failed a checksum or could not be decoded; they are never returned."""

    code = "data_corrupted"


class BackupError(StorageError):
    """A backup could not be taken or restored."""

    code = "backup_failed"


_CODES: dict[str, type[LumaError]] = {}


def class_for_code(code: str) -> type[LumaError]:
    """The class of this module that carries ``code`` (:class:`LumaError` if none does)."""
    if not _CODES:  # built once, on first use: every class is defined by then
        pending = [LumaError]
        while pending:
            cls = pending.pop()
            # Only this module's tree: a subclass defined elsewhere (a test, a plugin) that
            # reuses a code must not change what a code stands for.
            if cls.__module__ == __name__:
                _CODES.setdefault(cls.code, cls)
            pending.extend(cls.__subclasses__())
    return _CODES.get(code, LumaError)


def error_from_code(code: object, message: object) -> LumaError:
    """The error a peer or server reported as ``{"code", "message"}``, as its own class."""
    return class_for_code(str(code))(str(message))
