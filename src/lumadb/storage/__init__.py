"""The storage engine: Database → Shard → HybridStorage (L1 hot cache over an L2 LSM).

See ``docs/storage.md``. This package knows documents as JSON bytes under keys; it knows no
catalog, tables or SQL. Its seams: :class:`~lumadb.storage.lsm.KVEngine` (RocksDB or the
memory twin) and :class:`~lumadb.storage.hooks.WriteHook` (entries joining a write's batch).
"""
