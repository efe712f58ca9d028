"""CLIP-style image embeddings: documents hold images, queries are text (or images).

A ``clip:<directory>`` model is a CLIP saved with ``transformers`` (``config.json``,
weights, and the tokenizer's files). A document's source value is an image as base64 or a
``data:image/...;base64,`` URL; it is decoded with Pillow and prepared the way CLIP was
trained — shortest edge resized (bicubic) to the model's image size, centre-cropped, scaled
to [0, 1] and normalised with the mean and deviation of ``preprocessor_config.json`` (CLIP's
own when absent) — in numpy, so no image library beyond Pillow is needed. Text queries go
through the text tower, so ``embed('a red car')`` finds pictures of one.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lumadb.errors import EmbeddingFailed, InvalidDocument

__all__ = ["ClipModel", "decode_image"]

_MEAN = (0.48145466, 0.4578275, 0.40821073)  # CLIP's training statistics
_STD = (0.26862954, 0.26130258, 0.27577711)


def decode_image(value: str) -> Any:
    """A Pillow RGB image from base64 text or a ``data:`` URL."""
    from PIL import Image, UnidentifiedImageError

    text = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        raw = base64.b64decode(text, validate=True)
        image = Image.open(io.BytesIO(raw))
        return image.convert("RGB")
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError) as exc:
        raise InvalidDocument(
            "an image field must hold a base64 image (PNG, JPEG, ...) or a data: URL"
        ) from exc


class ClipModel:
    """A CLIP model from a directory, run on the CPU."""

    def __init__(self, name: str, directory: str) -> None:
        self.name = name
        folder = Path(directory)
        if not (folder / "config.json").is_file():
            raise EmbeddingFailed(f"no CLIP model in {directory!r} (config.json missing)")
        from lumadb.config import quiet_model_libraries

        quiet_model_libraries()
        import torch
        from transformers import CLIPModel, CLIPTokenizer

        self._torch = torch
        self._model: Any = CLIPModel.from_pretrained(str(folder)).eval()
        self._tokenizer: Any = CLIPTokenizer.from_pretrained(str(folder))
        vision = self._model.config.vision_config
        self._size = int(vision.image_size)
        prepared = _preprocessor(folder)
        self._mean = np.asarray(prepared.get("image_mean", _MEAN), dtype=np.float32)
        self._std = np.asarray(prepared.get("image_std", _STD), dtype=np.float32)
        self._dim = int(self._model.config.projection_dim)

    @property
    def dim(self) -> int:
        """The length of the shared image-text space."""
        return self._dim

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Text-tower vectors of the texts."""
        tokens = self._tokenizer(
            list(texts), padding=True, truncation=True, max_length=77, return_tensors="pt"
        )
        with self._torch.no_grad():
            features = self._model.get_text_features(**tokens)
        return _array(features)

    def embed_documents(self, values: Sequence[str]) -> np.ndarray:
        """Image-tower vectors of the images (base64 or data: URLs)."""
        pixels = np.stack([self._pixels(decode_image(v)) for v in values])
        with self._torch.no_grad():
            features = self._model.get_image_features(pixel_values=self._torch.from_numpy(pixels))
        return _array(features)

    def _pixels(self, image: Any) -> np.ndarray:
        from PIL import Image

        size = self._size
        width, height = image.size
        scale = size / min(width, height)
        resized = image.resize(
            (max(size, round(width * scale)), max(size, round(height * scale))),
            Image.Resampling.BICUBIC,
        )
        left = (resized.width - size) // 2
        top = (resized.height - size) // 2
        cropped = resized.crop((left, top, left + size, top + size))
        array = np.asarray(cropped, dtype=np.float32) / 255.0
        return ((array - self._mean) / self._std).transpose(2, 0, 1).astype(np.float32)


def _preprocessor(folder: Path) -> dict[str, Any]:
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        return {}
    found: Any = json.loads(path.read_text())
    return found if isinstance(found, dict) else {}


def _array(features: Any) -> np.ndarray:
    # transformers 5 may answer an output object whose pooled output is the projection.
    tensor = getattr(features, "pooler_output", features)
    return np.asarray(tensor.detach().cpu().numpy(), dtype=np.float32)
