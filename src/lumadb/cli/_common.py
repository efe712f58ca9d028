"""What the data commands share: ``--config``/``--data-dir``, settings, opening the database."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

import lumadb
from lumadb.config import Settings, load_settings

if TYPE_CHECKING:
    from lumadb._embedded import Database

__all__ = ["CliError", "Interrupted", "db_options", "open_db", "settings_from"]

F = TypeVar("F", bound=Callable[..., Any])

_META = "lumadb.cli.{}"


class CliError(click.ClickException):
    """A failure the CLI reports as ``error: <message>`` with exit code 1."""


class Interrupted(click.ClickException):
    """Ctrl+C during a long command; exit code 130 like a shell's."""

    exit_code = 130


def _remember(ctx: click.Context, param: click.Parameter, value: object) -> object:
    # ctx.meta is shared by a group and its subcommands, so `luma collections --data-dir X
    # create` and `luma collections create --data-dir X` both work; the later one wins.
    if value is not None:
        ctx.meta[_META.format(param.name)] = value
    return value


def db_options(func: F) -> F:
    """Add ``--config`` and ``--data-dir`` to a command (read back by :func:`settings_from`)."""
    func = click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        expose_value=False,
        callback=_remember,
        help="Data directory (default: storage.data_dir from the config, ./luma-data).",
    )(func)
    return click.option(
        "--config",
        "-c",
        type=click.Path(exists=True, dir_okay=False),
        expose_value=False,
        callback=_remember,
        help="A luma.toml file (default: $LUMA_CONFIG if set).",
    )(func)


def settings_from(ctx: click.Context, overrides: Mapping[str, object] | None = None) -> Settings:
    """Settings from the config file, the environment, ``--data-dir`` and ``overrides``."""
    merged: dict[str, object] = {"storage.data_dir": ctx.meta.get(_META.format("data_dir"))}
    merged.update(overrides or {})
    return load_settings(ctx.meta.get(_META.format("config")), overrides=merged)


@contextmanager
def open_db(settings: Settings, *, must_exist: bool = True) -> Iterator[Database]:
    """Open the data directory of ``settings`` for the length of a command.

    With ``must_exist`` a missing directory is an error instead of a new, empty database:
    a mistyped ``--data-dir`` should not silently create one.
    """
    path = settings.storage.data_dir
    if must_exist and not os.path.isdir(path):
        raise CliError(
            f"data directory {path} does not exist "
            "(choose one with --data-dir or [storage] data_dir in luma.toml)"
        )
    db = lumadb.open(path, config=settings)
    try:
        yield db
    finally:
        db.close()
