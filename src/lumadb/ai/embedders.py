"""The one interface every embedding provider meets, and the per-process model registry.

A :class:`Provider` turns a batch of texts (or a document's source values) into a matrix;
:class:`Embedder` wraps one with what every caller wants the same way: batches of at most
``batch_size``, unit-length float32 rows (cosine, inner product and L2 then rank alike), and
an LRU cache of texts already embedded, so rewriting a document whose sources did not change
costs no model call. Models are loaded once per process, on first use, and shared.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from lumadb.config import EmbeddingSettings
from lumadb.errors import EmbeddingFailed, InvalidArgument, LumaError

__all__ = ["Embedder", "Provider", "embedder_for", "model_problem"]

MINILM = "all-MiniLM-L6-v2"
_ALIASES = {MINILM.lower(), f"sentence-transformers/{MINILM}".lower()}
_SCHEMES = ("local:", "openai:", "clip:")


class Provider(Protocol):
    """A model behind one interface: documents and queries in, one row per item out."""

    name: str

    @property
    def dim(self) -> int: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_documents(self, values: Sequence[str]) -> np.ndarray: ...


def model_problem(name: object) -> str | None:
    """What is wrong with a model name as a field declares it (``None``: nothing)."""
    if not isinstance(name, str) or not name.strip():
        return "a model name (text)"
    lowered = name.lower()
    if lowered in _ALIASES:
        return None
    for scheme in _SCHEMES:
        if lowered.startswith(scheme) and name[len(scheme) :].strip():
            return None
    return f"{MINILM!r}, 'local:<directory>', 'openai:<model>' or 'clip:<directory>'"


class Embedder:
    """A provider with batching, unit-length rows and a cache of embedded texts."""

    def __init__(self, provider: Provider, batch_size: int, cache: int) -> None:
        self.provider = provider
        self.name = provider.name
        self._batch = batch_size
        self._cache: OrderedDict[tuple[bool, str], np.ndarray] = OrderedDict()
        self._cache_size = cache
        self._lock = threading.Lock()  # one model call at a time: torch threads inside

    @property
    def dim(self) -> int:
        """The length of this model's vectors."""
        return self.provider.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Queries' vectors, one unit-length float32 row per text."""
        return self._rows(list(texts), query=True)

    def embed_documents(self, values: Sequence[str]) -> np.ndarray:
        """Documents' vectors from their sources' text (for CLIP: their images)."""
        return self._rows(list(values), query=False)

    def _rows(self, items: list[str], *, query: bool) -> np.ndarray:
        out: list[np.ndarray | None] = [self._cache.get((query, i)) for i in items]
        todo = sorted({i for i, row in zip(items, out, strict=True) if row is None})
        made: dict[str, np.ndarray] = {}
        with self._lock:
            for at in range(0, len(todo), self._batch):
                chunk = todo[at : at + self._batch]
                made.update(zip(chunk, self._call(chunk, query=query), strict=True))
        for text, row in made.items():
            self._remember((query, text), row)
        rows = [made[i] if row is None else row for i, row in zip(items, out, strict=True)]
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack(rows)

    def _call(self, chunk: list[str], *, query: bool) -> np.ndarray:
        provider = self.provider
        try:
            raw = provider.embed_queries(chunk) if query else provider.embed_documents(chunk)
        except LumaError:
            raise
        except Exception as exc:  # a model's own failure, named for the user
            raise EmbeddingFailed(f"the model {self.name!r} failed: {exc}") from exc
        matrix = np.asarray(raw, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(chunk):
            raise EmbeddingFailed(
                f"the model {self.name!r} answered {matrix.shape} for {len(chunk)} inputs"
            )
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1, norms)

    def _remember(self, key: tuple[bool, str], row: np.ndarray) -> None:
        if self._cache_size == 0:
            return
        self._cache[key] = row
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


_MODELS: dict[tuple[str, EmbeddingSettings], Embedder] = {}
_LOADING = threading.Lock()


def embedder_for(name: str, settings: EmbeddingSettings | None = None) -> Embedder:
    """The process's embedder for a model name (loaded on first use)."""
    problem = model_problem(name)
    if problem is not None:
        raise InvalidArgument(f"unknown embedding model {name!r}: expected {problem}")
    settings = settings or EmbeddingSettings()
    key = (name, settings)
    with _LOADING:
        found = _MODELS.get(key)
        if found is None:
            found = Embedder(_provider(name, settings), settings.batch_size, settings.cache)
            _MODELS[key] = found
    return found


def _provider(name: str, settings: EmbeddingSettings) -> Any:
    lowered = name.lower()
    if lowered in _ALIASES:
        from lumadb.ai.local import SentenceModel, minilm_path

        return SentenceModel(name, minilm_path())
    scheme, _, rest = name.partition(":")
    rest = rest.strip()
    if scheme.lower() == "local":
        from lumadb.ai.local import SentenceModel

        return SentenceModel(name, rest)
    if scheme.lower() == "openai":
        from lumadb.ai.remote import OpenAIEmbeddings

        return OpenAIEmbeddings(name, rest, settings)
    from lumadb.ai.clip import ClipModel

    return ClipModel(name, rest)
