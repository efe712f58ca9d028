"""The node's token-signing secret: from ``[auth] jwt_secret`` or a file made once.

A generated secret is written to ``jwt-secret`` in the data directory, readable only by its
owner (mode 0600), created exclusively so two starting nodes cannot each write their own.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from lumadb.config import Settings
from lumadb.errors import ConfigError

__all__ = ["SECRET_FILE", "node_secret"]

SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name, not a secret


def node_secret(settings: Settings) -> bytes:
    """The secret tokens are signed with (created on first use when not configured)."""
    configured = settings.auth.jwt_secret
    if configured:
        return configured.encode()
    path = Path(settings.storage.data_dir) / SECRET_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(48).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)  # another process made it first
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
        handle.flush()
        os.fsync(handle.fileno())
    return secret


def _read(path: Path) -> bytes:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(
            f"{path} is readable by others (mode {mode:o}); make it 0600 with chmod 600"
        )
    return path.read_bytes().strip()
