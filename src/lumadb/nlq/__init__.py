"""Questions in plain language → one LQL SELECT, run with the asker's permissions.

A :class:`LLMProvider` turns a question and a :class:`~lumadb.nlq.schema.Schema` (the
collections the caller may read, their fields with example values, their vector fields) into
LQL text. Three ship: the built-in offline translator (:mod:`lumadb.nlq.builtin`, the
default), an OpenAI-compatible chat endpoint (:mod:`lumadb.nlq.openai`) and a local GGUF
model through llama-cpp-python (:mod:`lumadb.nlq.llama`). Whatever a provider answers is cut
to one statement and checked to be a single SELECT (:mod:`lumadb.nlq.checks`) before the
front end runs it as it runs typed LQL; :mod:`lumadb.nlq.audit` records every question.
"""

from __future__ import annotations

from typing import Protocol

from lumadb.nlq.schema import CollectionSummary, FieldSummary, Schema, VectorSummary

__all__ = [
    "CollectionSummary",
    "FieldSummary",
    "LLMProvider",
    "Schema",
    "VectorSummary",
]


class LLMProvider(Protocol):
    """Something that writes LQL for a question about the collections in ``schema``."""

    name: str

    def translate(self, question: str, schema: Schema) -> str:
        """LQL text answering ``question`` (checked and cut to one statement by the caller).

        Raises :class:`~lumadb.errors.TranslationFailed` when it cannot, and
        :class:`~lumadb.errors.LanguageModelFailed` when its model does not answer.
        """
        ...
