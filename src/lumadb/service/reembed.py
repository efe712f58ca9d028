"""The background re-embedding of documents whose computed vector is not what its field
declares now: documents stored before ``embed_from`` was declared, and every document after
a change of model or sources.

One thread per process walks the collections with computed fields over the shards this
process holds and rewrites each stale document with its current version as the condition
(``put_if``): a client's write in between wins (it was embedded with the current
declaration already) and the walk moves on. Documents are embedded in batches first, so the
rewrites find their vectors in the embedder's cache. The walk restarts whenever the catalog
changes and after a failure (a model endpoint down: retried after a pause), and is idle once
nothing is stale — a restart of the process finds what a crash left undone by the tags.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from lumadb.catalog import CollectionSpec
from lumadb.errors import DatabaseClosed, LumaError, NotFound, VersionMismatch
from lumadb.service import ScanRange
from lumadb.service.embedding import Embedding

if TYPE_CHECKING:
    from lumadb.service.local import LocalService

__all__ = ["Reembedder"]

_LOG = logging.getLogger("lumadb.embedding")
BATCH = 64
RETRY_AFTER = 5.0


class Reembedder:
    """Rewrites stale computed vector fields in the background."""

    def __init__(self, service: LocalService, embedding: Embedding) -> None:
        self._service = service
        self._embedding = embedding
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._declared: frozenset[Any] = frozenset()
        self.rewritten = 0

    def kick(self) -> None:
        """Look for stale documents again when the computed fields' declarations changed (a
        walk reads every document of their collections, so not for other catalog changes)."""
        specs = list(self._service.collection_specs())
        declared = frozenset(
            (spec.number, field) for spec in specs for field in self._embedding.fields(spec)
        )
        if declared == self._declared:
            return
        self._declared = declared
        if not declared:
            return
        self._idle.clear()
        self._wake.set()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="luma-reembed", daemon=True)
            self._thread.start()

    def backlog(self, spec: CollectionSpec) -> int:
        """How many documents of ``spec`` on this process's shards are stale now."""
        fields = self._embedding.fields(spec)
        if not fields:
            return 0
        docs = self._service.scan(spec.name, ScanRange())
        return sum(1 for _, doc in docs if any(f.stale(doc) for f in fields))

    def wait(self, timeout: float) -> bool:
        """Wait until a walk found nothing stale; whether it did within ``timeout``."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        """Stop the walk (it resumes from the tags when the database opens again)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            try:
                done = all(self._walk(spec) for spec in self._service.collection_specs())
            except DatabaseClosed:
                return
            except LumaError as exc:
                _LOG.warning("re-embedding paused: %s", exc)
                self._stop.wait(RETRY_AFTER)
                self._wake.set()
                continue
            if done and not self._wake.is_set():
                self._idle.set()

    def _walk(self, spec: CollectionSpec) -> bool:
        """Rewrite the stale documents of ``spec``; False when the catalog changed meanwhile."""
        fields = self._embedding.fields(spec)
        if not fields:
            return True
        stale: list[str] = []
        for doc_id, doc in self._service.scan(spec.name, ScanRange()):
            if self._stop.is_set() or self._wake.is_set():
                return False
            if any(f.stale(doc) for f in fields):
                stale.append(doc_id)
                if len(stale) >= BATCH:
                    self._rewrite(spec, stale)
                    stale = []
        self._rewrite(spec, stale)
        return True

    def _rewrite(self, spec: CollectionSpec, ids: list[str]) -> None:
        service = self._service
        found: list[tuple[str, Any, int]] = []
        for doc_id in ids:
            versioned = service.get_versioned(spec.name, doc_id)
            if versioned is not None:
                found.append((doc_id, *versioned))
        self._embedding.fill(spec, [doc for _, doc, _ in found])  # fills the model's cache
        for doc_id, doc, version in found:
            try:
                service.put_if(spec.name, doc_id, doc, version)
            except (VersionMismatch, NotFound):
                continue  # written or deleted meanwhile: that write embedded it
            self.rewritten += 1
