"""Embedding providers behind one interface: local MiniLM, an OpenAI-compatible endpoint
(a real local server), and CLIP (a tiny random model of the real architecture)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.unit.ai.models_kit import DIM, fake_vector, openai_server, png, tiny_clip

from lumadb.ai import embedder_for, model_problem
from lumadb.config import EmbeddingSettings
from lumadb.errors import EmbeddingFailed, InvalidArgument, InvalidDocument


def test_minilm_puts_related_texts_near() -> None:
    model = embedder_for("all-MiniLM-L6-v2")
    rows = model.embed(
        ["a cat sleeps on the sofa", "the kitten naps on a couch", "quarterly tax report"]
    )
    assert rows.shape == (3, 384)
    assert rows.dtype == np.float32
    assert np.allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-5)
    assert rows[0] @ rows[1] > rows[0] @ rows[2] + 0.3
    assert model.dim == 384


def test_minilm_batches_and_caches_without_changing_answers(tmp_path: Path) -> None:
    small = embedder_for("all-MiniLM-L6-v2", EmbeddingSettings(batch_size=2, cache=3))
    texts = [f"text number {i}" for i in range(5)]
    first = small.embed(texts)
    again = small.embed(texts[::-1])[::-1]
    assert np.allclose(first, again, atol=1e-5)
    whole = embedder_for("all-MiniLM-L6-v2").embed(texts)
    assert np.allclose(first, whole, atol=1e-4)
    assert small.embed([]).shape == (0, 384)


@pytest.mark.parametrize(
    "name", ["", "  ", "minilm", "openai:", "clip:", "gpt:thing", 3, None, "local:"]
)
def test_unknown_model_names_are_refused(name: object) -> None:
    assert model_problem(name) is not None
    with pytest.raises(InvalidArgument, match="embedding model"):
        embedder_for(name)  # type: ignore[arg-type]


def test_openai_compatible_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUMA_TEST_EMBED_KEY", "sk-test")
    with openai_server() as (url, calls):
        settings = EmbeddingSettings(base_url=url, api_key_env="LUMA_TEST_EMBED_KEY", cache=0)
        model = embedder_for("openai:text-embedding-3-small", settings)
        rows = model.embed(["alpha", "beta", "gamma"])
        assert model.dim == DIM
        for row, text in zip(rows, ["alpha", "beta", "gamma"], strict=True):
            want = np.asarray(fake_vector(text), dtype=np.float32)
            assert np.allclose(row, want / np.linalg.norm(want), atol=1e-6)
        assert calls.bodies[0]["model"] == "text-embedding-3-small"
        assert calls.bodies[0]["input"] == ["alpha", "beta", "gamma"]
        assert calls.auth[0] == "Bearer sk-test"
        calls.fail_with = 503
        with pytest.raises(EmbeddingFailed, match="answered 503"):
            model.embed(["delta"])
        calls.fail_with = None
        calls.garbage = True
        with pytest.raises(EmbeddingFailed, match="no embeddings"):
            model.embed(["epsilon"])


def test_openai_endpoint_down_is_embedding_failed() -> None:
    with openai_server() as (url, _):
        pass  # closed now: nothing listens there
    model = embedder_for("openai:m", EmbeddingSettings(base_url=url, timeout=2.0))
    with pytest.raises(EmbeddingFailed, match="failed"):
        model.embed(["x"])


def test_clip_embeds_images_and_text_in_one_space(tmp_path: Path) -> None:
    model = embedder_for(tiny_clip(tmp_path / "clip"))
    assert model.dim == 16
    red, blue = png((250, 10, 10)), png((10, 10, 250))
    images = model.embed_documents([red, blue, f"data:image/png;base64,{red}"])
    assert images.shape == (3, 16)
    assert np.allclose(images[0], images[2], atol=1e-6)  # a data: URL is the same image
    assert not np.allclose(images[0], images[1], atol=1e-3)
    texts = model.embed(["a red square", "blue"])
    assert texts.shape == (2, 16)
    assert np.allclose(np.linalg.norm(texts, axis=1), 1, atol=1e-5)
    with pytest.raises(InvalidDocument, match="base64 image"):
        model.embed_documents(["not an image"])


def test_clip_directory_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingFailed, match="no CLIP model"):
        embedder_for(f"clip:{tmp_path}")
