"""LumaDB configuration: typed, validated at load, documented per field.

Settings come from four layers, later ones winning key by key::

    defaults  <  luma.toml  <  LUMA_<SECTION>__<KEY> variables  <  overrides

>>> from lumadb.config import load_settings
>>> settings = load_settings("luma.toml", env={}, overrides={"server.port": 9000})
... # doctest: +SKIP

Every problem is a :class:`lumadb.errors.ConfigError` naming the key, the value, its origin
and what is allowed. See ``docs/configuration.md`` and ``luma.toml.example``.
"""

from __future__ import annotations

from lumadb.config._env import key_from_env, quiet_model_libraries
from lumadb.config._handoff import (
    failpoints,
    handoff_env,
    node_pid,
    publish_handoff,
    settings_from_handoff,
)
from lumadb.config._loader import load_settings
from lumadb.config._settings import (
    AuthSettings,
    ChangefeedSettings,
    EmbeddingSettings,
    ErasureCoding,
    EventsSettings,
    LogSettings,
    NlqSettings,
    Replication,
    ServerSettings,
    Settings,
    StorageSettings,
    TieringSettings,
    WarmPolicy,
)
from lumadb.config._units import parse_duration, parse_size

__all__ = [
    "AuthSettings",
    "ChangefeedSettings",
    "EmbeddingSettings",
    "ErasureCoding",
    "EventsSettings",
    "LogSettings",
    "NlqSettings",
    "Replication",
    "ServerSettings",
    "Settings",
    "StorageSettings",
    "TieringSettings",
    "WarmPolicy",
    "failpoints",
    "handoff_env",
    "key_from_env",
    "load_settings",
    "node_pid",
    "parse_duration",
    "parse_size",
    "publish_handoff",
    "quiet_model_libraries",
    "settings_from_handoff",
]
