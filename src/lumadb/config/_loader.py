"""``load_settings``: defaults < luma.toml < ``LUMA_*`` variables < overrides.

This is the only module in LumaDB that reads ``os.environ``; everything else receives a
:class:`~lumadb.config.Settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import msgspec

from lumadb.config._settings import Settings
from lumadb.config._sources import (
    config_file,
    defaults_layer,
    env_layer,
    file_layer,
    overrides_layer,
)
from lumadb.config._tree import Table, merge
from lumadb.config._validate import validate
from lumadb.errors import ConfigError

__all__ = ["load_settings"]


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Load, merge and validate LumaDB's settings.

    Args:
        path: a luma.toml file; when None, the file named by ``LUMA_CONFIG`` (if set).
        env: the environment to read ``LUMA_<SECTION>__<KEY>`` variables from; defaults to
            ``os.environ``.
        overrides: dotted keys such as ``{"server.port": 9000}`` (CLI flags, keyword
            arguments of ``lumadb.open``); None values are skipped.

    Later sources win, key by key: defaults < file < environment < overrides.

    Raises:
        ConfigError: for an unreadable file, bad TOML, an unknown key or variable, or a
            value of the wrong type or out of range; the message names the key, the value,
            where it came from and what is allowed.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    tree: Table = defaults_layer()
    chosen = config_file(path, environ)
    layers = [
        file_layer(*chosen) if chosen is not None else Table(),
        env_layer(environ),
        overrides_layer(overrides or {}),
    ]
    for upper in layers:
        merged = merge(tree, upper)
        assert isinstance(merged, Table)  # a table merged with a table stays a table
        tree = merged
    data = validate(tree)
    try:
        return msgspec.convert(data, Settings)
    except msgspec.ValidationError as exc:
        # validate() mirrors every field rule; this catches cross-field rules in
        # __post_init__ (such as the erasure-coding shard total).
        raise ConfigError(f"invalid settings: {exc}") from None
