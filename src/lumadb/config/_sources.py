"""The four layers of settings: defaults, luma.toml, ``LUMA_*`` variables and overrides.

Each function turns one source into a :class:`~lumadb.config._tree.Table` whose leaves
remember their origin. Only syntax is checked here (is it TOML, is the key well formed);
whether a key exists and its value is allowed is the validator's job, so the same rules
and messages apply to every source.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

import msgspec

from lumadb.config._settings import Settings
from lumadb.config._tree import Node, Table, layer, to_tree
from lumadb.errors import ConfigError

__all__ = [
    "CONFIG_VAR",
    "OVERRIDE",
    "config_file",
    "defaults_layer",
    "env_layer",
    "file_layer",
    "overrides_layer",
]

CONFIG_VAR = "LUMA_CONFIG"
OVERRIDE = "override"
_PREFIX = "LUMA_"
_SEPARATOR = "__"
# The variables the contract names for secrets, beside their LUMA_AUTH__* spellings.
ALIASES = {
    "LUMA_ADMIN_PASSWORD": ("auth", "admin_password"),
    "LUMA_JWT_SECRET": ("auth", "jwt_secret"),
}


def config_file(
    path: str | os.PathLike[str] | None, env: Mapping[str, str]
) -> tuple[Path, str] | None:
    """The file to read and how it was chosen (for messages), or None for no file."""
    if path is not None:
        return Path(path), os.fspath(path)
    named = env.get(CONFIG_VAR, "")
    # An empty LUMA_CONFIG is how shells "unset" a variable for one command.
    if not named:
        return None
    return Path(named), f"{named} (named by {CONFIG_VAR})"


def defaults_layer() -> Table:
    """``Settings()`` as the bottom layer, so a partial table merges onto the defaults."""
    tree = to_tree(msgspec.to_builtins(Settings()), "default")
    assert isinstance(tree, Table)  # Settings encodes to a mapping
    return tree


def file_layer(path: Path, shown: str) -> Table:
    """Read a luma.toml file; an unreadable file or bad TOML is a ConfigError."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot read config file {shown}: {reason}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {shown} is not UTF-8 text: {exc.reason}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {shown} is not valid TOML: {exc}") from None
    tree = to_tree(data, os.fspath(path))
    assert isinstance(tree, Table)  # tomllib always returns a table
    return tree


def env_layer(env: Mapping[str, str]) -> Table:
    """Settings from ``LUMA_<SECTION>__<KEY>[__<SUBKEY>...]`` variables.

    Names are case-insensitive. Values are read as a TOML value when they are one
    (``4``, ``true``, ``{ copies = 2 }``) and kept as text otherwise (``/srv/luma``).
    ``LUMA_ADMIN_PASSWORD`` and ``LUMA_JWT_SECRET`` set the two ``[auth]`` secrets; other
    ``LUMA_*`` variables without ``__`` (``LUMA_CONFIG``) are not settings.
    """
    entries: list[tuple[tuple[str, ...], Node]] = []
    for name in sorted(env):
        alias = ALIASES.get(name.upper())
        if alias is not None:
            # A secret is text as given: "1234..." must not turn into a number.
            entries.append((alias, to_tree(env[name], name, "<hidden>")))
            continue
        if not name.upper().startswith(_PREFIX) or _SEPARATOR not in name[len(_PREFIX) :]:
            continue
        path = tuple(name[len(_PREFIX) :].lower().split(_SEPARATOR))
        if not all(path):
            raise ConfigError(
                f"environment variable {name} names no setting: expected "
                f"LUMA_<SECTION>__<KEY>, e.g. LUMA_STORAGE__DURABILITY"
            )
        raw = env[name]
        entries.append((path, to_tree(_toml_value(raw), name, raw)))
    return layer(entries)


def _toml_value(text: str) -> object:
    try:
        parsed = tomllib.loads(f"value = {text}")
    except tomllib.TOMLDecodeError:
        return text
    # "1\nother = 2" parses, but it is not one value: keep the text as it was given.
    if parsed.keys() != {"value"}:
        return text
    return parsed["value"]


def overrides_layer(overrides: Mapping[str, object]) -> Table:
    """Settings from dotted keys (``{"server.port": 9000}``); None values are skipped."""
    entries: list[tuple[tuple[str, ...], Node]] = []
    for key, value in overrides.items():
        if value is None:
            continue
        path = tuple(key.split(".")) if isinstance(key, str) else ()
        if not all(path) or not path:
            raise ConfigError(
                f"override key {key!r} is not a dotted setting name such as 'server.port'"
            )
        entries.append((path, to_tree(value, OVERRIDE)))
    return layer(entries)
