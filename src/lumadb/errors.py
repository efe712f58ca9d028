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
    │   └── InvalidArgument
    ├── ConfigError
    ├── NotFound (404)
    │   ├── CollectionNotFound
    │   └── DocumentNotFound
    ├── Conflict (409)
    │   ├── CollectionExists
    │   ├── DocumentExists
    │   └── VersionMismatch (412)
    ├── DataDirLocked (423)
    ├── DatabaseClosed (503)
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
    "InvalidArgument",
    "InvalidCollectionName",
    "InvalidDocument",
    "InvalidId",
    "InvalidInput",
    "LumaError",
    "NotFound",
    "ReadOnlyError",
    "StorageError",
    "VersionMismatch",
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


class ConfigError(LumaError):
    """Configuration could not be loaded: names the key, the value and what is allowed."""

    code = "config_invalid"
    status = 400


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
