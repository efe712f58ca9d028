"""Passing resolved settings from ``luma serve`` to the worker processes it starts.

The workers are separate interpreters (spawned by the HTTP server), so they cannot receive
a Python object; they get the settings the parent already validated, encoded as JSON in one
environment variable, and decode them with the same typed structs.
"""

from __future__ import annotations

import os

import msgspec

from lumadb.config._settings import Settings
from lumadb.errors import ConfigError

__all__ = [
    "FAILPOINTS_VAR",
    "HANDOFF_VAR",
    "failpoints",
    "handoff_env",
    "node_pid",
    "publish_handoff",
    "settings_from_handoff",
]

HANDOFF_VAR = "LUMA_SERVE_SETTINGS"
# Reliability tests switch canaries on in worker processes through this variable, the way
# etcd's GOFAIL_FAILPOINTS and TiKV's failpoints do; it is empty in every real deployment.
FAILPOINTS_VAR = "LUMA_FAILPOINTS"
NODE_PID_VAR = "LUMA_NODE_PID"


def failpoints() -> list[str]:
    """The canary names listed (comma-separated) in ``LUMA_FAILPOINTS``."""
    raw = os.environ.get(FAILPOINTS_VAR, "")
    return [name.strip() for name in raw.split(",") if name.strip()]


def handoff_env(settings: Settings) -> dict[str, str]:
    """The environment entry that carries ``settings`` to a worker."""
    return {HANDOFF_VAR: msgspec.json.encode(settings).decode()}


def publish_handoff(settings: Settings) -> None:
    """Put ``settings`` into this process's environment, which its workers inherit.

    The node's process id goes with them: a worker whose parent is another process was
    orphaned while it started.
    """
    os.environ.update(handoff_env(settings))
    os.environ[NODE_PID_VAR] = str(os.getpid())


def node_pid() -> int | None:
    """The process id of the node that started this worker (``None`` outside a node)."""
    raw = os.environ.get(NODE_PID_VAR, "")
    return int(raw) if raw.isdigit() else None


def settings_from_handoff() -> Settings:
    """The settings ``luma serve`` handed to this worker."""
    raw = os.environ.get(HANDOFF_VAR)
    if not raw:
        raise ConfigError(f"{HANDOFF_VAR} is not set: workers are started by `luma serve`")
    try:
        return msgspec.json.decode(raw, type=Settings)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{HANDOFF_VAR} does not hold valid settings: {exc}") from None
