"""Administration: ``luma collections ...``, ``luma backup`` and ``luma restore``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lumadb.cli._common import CliError, db_options, open_db, settings_from
from lumadb.cli._output import format_ms, format_size, plural, say, table

if TYPE_CHECKING:
    from lumadb._embedded import Database

__all__ = ["backup", "collections", "restore"]

CHANGEFEED_MODES = ("new", "new_and_old")


@click.group(invoke_without_command=True)
@db_options
@click.pass_context
def collections(ctx: click.Context) -> None:
    """List, create and drop collections (without a subcommand: list them)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_collections)


@collections.command("list")
@db_options
@click.pass_context
def list_collections(ctx: click.Context) -> None:
    """List collections with their change-feed mode and document count."""
    with open_db(settings_from(ctx)) as db:
        _print_collections(db)


def _print_collections(db: Database) -> None:
    names = db.list_collections()
    if not names:
        say(f"no collections in {db.path}")
        return
    rows = []
    for name in names:
        coll = db.collection(name)
        info = coll.describe()
        rows.append((name, info["changefeed"], coll.count(), format_ms(info.get("created_ms"))))
    headers = ("name", "changefeed", "documents", "created")
    table(f"collections in {db.path}", headers, rows, numeric={"documents"})


@collections.command("create")
@click.argument("name")
@click.option(
    "--changefeed",
    type=click.Choice(CHANGEFEED_MODES),
    default="new",
    show_default=True,
    help="What change-feed records carry: the new document, or the new and the old one.",
)
@db_options
@click.pass_context
def create_collection(ctx: click.Context, name: str, changefeed: str) -> None:
    """Create the collection NAME (the data directory is created if needed)."""
    with open_db(settings_from(ctx), must_exist=False) as db:
        db.create_collection(name, changefeed=changefeed)
        say(f"created collection {name} (changefeed: {changefeed}) in {db.path}")


@collections.command("drop")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@db_options
@click.pass_context
def drop_collection(ctx: click.Context, name: str, yes: bool) -> None:
    """Drop the collection NAME and all its documents (asks first unless --yes)."""
    with open_db(settings_from(ctx)) as db:
        count = plural(db.collection(name).count(), "document")
        if not yes and not _confirm(f"Drop collection {name!r} and its {count} from {db.path}?"):
            raise CliError(f"collection {name!r} was not dropped")
        db.drop_collection(name)
        say(f"dropped collection {name} ({count})")


def _confirm(question: str) -> bool:
    try:
        return click.confirm(question, err=True)
    except click.Abort:
        # End of input (or Ctrl+C) at the prompt: end the prompt's line, then refuse.
        click.echo(err=True)
        return False


@click.command()
@click.argument("dest", type=click.Path(file_okay=False))
@db_options
@click.pass_context
def backup(ctx: click.Context, dest: str) -> None:
    """Write a consistent backup of every shard into the new (or empty) directory DEST.

    Writes may continue meanwhile; files are hard-linked where the file system allows.
    """
    with open_db(settings_from(ctx)) as db:
        info = db.backup(dest)
    say(f"backup of {plural(len(info['seqs']), 'shard')} written to {os.path.abspath(dest)}")
    say(f"size on disk: {format_size(_tree_size(Path(dest)))}")
    _print_seqs(info)


@click.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.option("--force", is_flag=True, help="Replace the contents of a non-empty data directory.")
@db_options
@click.pass_context
def restore(ctx: click.Context, source: str, force: bool) -> None:
    """Restore the backup in SOURCE into the data directory.

    The data directory must be missing or empty unless --force, and not in use.
    """
    from lumadb.service.local import restore_backup

    target = settings_from(ctx).storage.data_dir
    info = restore_backup(source, target, force=force)
    say(
        f"restored {os.path.abspath(source)} into {os.path.abspath(target)}: "
        f"{plural(int(info['shards']), 'shard')}, taken {format_ms(info.get('created_ms'))} "
        f"by LumaDB {info.get('lumadb', '?')}"
    )
    _print_seqs(info)


def _print_seqs(info: dict[str, Any]) -> None:
    seqs = info.get("seqs") or []
    headers = ("shard", "sequence number")
    table(None, headers, enumerate(seqs), numeric=headers)


def _tree_size(root: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            total += (Path(folder) / name).lstat().st_size
    return total
