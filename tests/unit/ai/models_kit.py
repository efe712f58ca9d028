"""Test models: a tiny randomly initialised CLIP, and a local OpenAI-compatible server."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DIM = 8


def tiny_clip(folder: Path) -> str:
    """Save a CLIP of the real architecture, tiny and random, with its tokenizer's files;
    the model name to use it."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in string.ascii_lowercase + string.digits:
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(char + "</w>", len(vocab))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(
        str(folder / "vocab.json"),
        str(folder / "merges.txt"),
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.save_pretrained(str(folder))
    layers = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2}
    config = CLIPConfig(
        text_config={
            **layers,
            "vocab_size": len(vocab),
            "num_attention_heads": 2,
            "max_position_embeddings": 77,
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
        },
        vision_config={**layers, "image_size": 32, "patch_size": 8, "num_attention_heads": 2},
        projection_dim=16,
    )
    torch.manual_seed(7)
    CLIPModel(config).save_pretrained(str(folder))
    return f"clip:{folder}"


def png(rgb: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> str:
    """A one-colour PNG as base64 (with a stripe, so the colours' images differ in shape)."""
    from PIL import Image

    image = Image.new("RGB", size, rgb)
    for x in range(size[0] // 3):
        image.putpixel((x, size[1] // 2), (255 - rgb[0], 255 - rgb[1], 255 - rgb[2]))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def fake_vector(text: str) -> list[float]:
    """The server's deterministic 'embedding': a hash of the text, DIM numbers."""
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255 - 0.5 for b in digest[:DIM]]


class Calls:
    """What the server saw."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self.fail_with: int | None = None
        self.garbage = False


@contextmanager
def openai_server() -> Iterator[tuple[str, Calls]]:
    """A real HTTP server on 127.0.0.1 answering ``POST /v1/embeddings`` as OpenAI does
    (rows deliberately out of order: the ``index`` field says which is which)."""
    calls = Calls()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.bodies.append(body)
            calls.auth.append(self.headers.get("Authorization"))
            if self.path != "/v1/embeddings":
                self._answer(404, {"error": {"message": "no such route"}})
            elif calls.fail_with is not None:
                self._answer(calls.fail_with, {"error": {"message": "overloaded"}})
            elif calls.garbage:
                self._answer(200, {"object": "list"})
            else:
                data = [
                    {"object": "embedding", "index": i, "embedding": fake_vector(t)}
                    for i, t in enumerate(body["input"])
                ]
                self._answer(200, {"object": "list", "data": data[::-1], "model": body["model"]})

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", calls
    finally:
        server.shutdown()
        server.server_close()
