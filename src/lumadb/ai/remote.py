"""An OpenAI-compatible embeddings endpoint (``POST {base_url}/embeddings``).

Models named ``openai:<model>`` are asked of ``[embeddings] base_url`` with the key in the
environment variable ``api_key_env``: OpenAI itself, or any server speaking its API (vLLM,
llama.cpp's server, Ollama, LiteLLM). Failures are :class:`EmbeddingFailed` naming the
endpoint's answer; the write or search that needed the vector is not done.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from lumadb.config import EmbeddingSettings, key_from_env
from lumadb.errors import EmbeddingFailed, LumaError

__all__ = ["OpenAIEmbeddings", "post_json"]

_PROBE = "dimension probe"


class OpenAIEmbeddings:
    """Vectors from an OpenAI-compatible HTTP endpoint."""

    def __init__(self, name: str, model: str, settings: EmbeddingSettings) -> None:
        self.name = name
        self._model = model
        self._url = settings.base_url.rstrip("/") + "/embeddings"
        key = key_from_env(settings.api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(timeout=settings.timeout, headers=headers)
        self._dim: int | None = None

    @property
    def dim(self) -> int:
        """The length of the model's vectors (asked once, with a probe text)."""
        if self._dim is None:
            self._dim = int(self.embed_queries([_PROBE]).shape[1])
        return self._dim

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, in the order given (the answer's ``index`` says which)."""
        body = {"model": self._model, "input": list(texts), "encoding_format": "float"}
        answer = post_json(self._client, self._url, body, EmbeddingFailed, "embeddings endpoint")
        rows = _rows(answer, len(texts), self._url)
        if self._dim is None:
            self._dim = rows.shape[1]
        return rows

    def embed_documents(self, values: Sequence[str]) -> np.ndarray:
        """Documents embed as queries do."""
        return self.embed_queries(values)


def post_json(
    client: httpx.Client, url: str, body: Any, failure: type[LumaError], what: str
) -> httpx.Response:
    """``POST`` of JSON to an OpenAI-compatible endpoint; a transport failure or an answer
    other than 200 is ``failure`` naming the endpoint and its answer."""
    try:
        answer = client.post(url, json=body)
    except httpx.HTTPError as exc:
        raise failure(f"the {what} {url} failed: {exc}") from exc
    if answer.status_code != 200:
        raise failure(f"the {what} {url} answered {answer.status_code}: {answer.text[:200]}")
    return answer


def _rows(answer: httpx.Response, count: int, url: str) -> np.ndarray:
    try:
        items: Any = answer.json()["data"]
        ordered = sorted(items, key=lambda item: int(item["index"]))
        matrix = np.asarray([item["embedding"] for item in ordered], dtype=np.float32)
    except (ValueError, KeyError, TypeError) as exc:
        raise EmbeddingFailed(f"the embeddings endpoint {url} answered no embeddings") from exc
    if matrix.ndim != 2 or matrix.shape[0] != count:
        raise EmbeddingFailed(
            f"the embeddings endpoint {url} answered {matrix.shape[0]} rows for {count} texts"
        )
    return matrix
