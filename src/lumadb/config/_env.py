"""The few environment reads and writes outside the settings layers, kept here with them."""

from __future__ import annotations

import os

__all__ = ["key_from_env", "quiet_model_libraries"]


def key_from_env(variable: str) -> str:
    """A secret named by a setting (``api_key_env``): secrets stay out of luma.toml."""
    return os.environ.get(variable, "") if variable else ""


def quiet_model_libraries() -> None:
    """No network, no progress bars and no chatter from the model libraries (Hugging Face
    hub, transformers): models load offline from disk, and a server's log is for its own
    lines. A user's own setting of these variables wins."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
