"""Moving documents in and out: ``luma import`` and ``luma export`` (JSON Lines, CSV,
Parquet)."""

from __future__ import annotations

import os
import stat
from typing import IO, TYPE_CHECKING

import click

from lumadb.cli._common import CliError, Interrupted, db_options, open_db, settings_from
from lumadb.cli._jsonl import Importer, LineError, dump_line, parse_line
from lumadb.cli._output import byte_progress, count_progress, plural, say
from lumadb.cli._tables import FORMATS, format_of, read_rows, write_rows
from lumadb.errors import CollectionNotFound, LumaError

if TYPE_CHECKING:
    from lumadb._embedded import Collection, Database

__all__ = ["export_cmd", "import_cmd"]

# Progress bars are redrawn at most this often (in bytes or documents), not per line.
_BYTES_PER_TICK = 256 * 1024
_DOCS_PER_TICK = 1000


@click.command("import")
@click.argument("collection")
@click.argument("file", type=click.File("rb"))
@click.option("--create", is_flag=True, help="Create the collection if it does not exist.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Documents with an id per put_many batch.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="jsonl, csv or parquet (default: by the file's extension; JSON Lines otherwise).",
)
@db_options
@click.pass_context
def import_cmd(
    ctx: click.Context,
    collection: str,
    file: IO[bytes],
    create: bool,
    batch_size: int,
    fmt: str | None,
) -> None:
    """Import the JSON Lines, CSV or Parquet FILE (- for stdin) into COLLECTION.

    One JSON object per line (or one row of a table; its non-empty cells are the fields);
    its "id" field (a string) is the document id, and documents with an existing id are
    replaced. Documents without "id" get a generated one. A bad line or row stops the
    import; the documents before it stay imported.
    """
    chosen = format_of(_name(file), fmt)
    unit = "line" if chosen == "jsonl" else "row"
    with open_db(settings_from(ctx), must_exist=not create) as db:
        importer = Importer(_target(db, collection, create), batch_size)
        try:
            if chosen == "jsonl":
                _read_into(importer, file)
            else:
                _rows_into(importer, file, chosen)
        except LineError as exc:
            where = f"{unit} {exc.line}: " if exc.line else ""
            raise CliError(
                f"{_name(file)} {where}{exc.reason}; "
                f"{plural(importer.imported, 'document')} imported before it"
            ) from exc
        except LumaError as exc:
            # Not the input's fault (a storage failure, say); still say what was kept.
            raise CliError(
                f"{exc.message}; {plural(importer.imported, 'document')} imported before it"
            ) from exc
        except KeyboardInterrupt:
            raise Interrupted(
                f"interrupted; {plural(importer.imported, 'document')} imported so far"
            ) from None
    say(f"imported {plural(importer.imported, 'document')} into {collection}")


def _target(db: Database, name: str, create: bool) -> Collection:
    if create:
        return db.create_collection(name, exist_ok=True)
    try:
        return db.collection(name)
    except CollectionNotFound as exc:
        raise CliError(f"{exc.message} (pass --create to create it)") from exc


def _read_into(importer: Importer, file: IO[bytes]) -> None:
    with byte_progress() as progress:
        task = progress.add_task(f"importing {_name(file)}", total=_file_size(file))
        done = next_tick = 0
        try:
            for line, raw in enumerate(file, start=1):
                done += len(raw)
                if done >= next_tick:
                    progress.update(task, completed=done)
                    next_tick = done + _BYTES_PER_TICK
                try:
                    doc = parse_line(raw, line)
                except LineError:
                    importer.flush()
                    raise
                if doc is not None:
                    importer.add(line, doc)
            importer.flush()
        finally:
            progress.update(task, completed=done)


def _rows_into(importer: Importer, file: IO[bytes], fmt: str) -> None:
    with count_progress() as progress:
        task = progress.add_task(f"importing {_name(file)}", total=None)
        row = 0
        try:
            for row, doc in read_rows(file, fmt):
                importer.add(row, doc)
                if row % _DOCS_PER_TICK == 0:
                    progress.update(task, completed=row)
            importer.flush()
        except LineError:
            importer.flush()
            raise
        finally:
            progress.update(task, completed=row)


def _name(file: IO[bytes]) -> str:
    name = getattr(file, "name", None)
    return name if isinstance(name, str) and name != "-" else "<stdin>"


def _file_size(file: IO[bytes]) -> int | None:
    try:
        info = os.fstat(file.fileno())
    except (OSError, ValueError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


@click.command("export")
@click.argument("collection")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--prefix", help="Only documents whose id starts with this.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="jsonl, csv or parquet (default: by the file's extension; JSON Lines otherwise).",
)
@db_options
@click.pass_context
def export_cmd(
    ctx: click.Context, collection: str, file: str, prefix: str | None, fmt: str | None
) -> None:
    """Export COLLECTION to the JSON Lines, CSV or Parquet FILE (- for stdout), in id order.

    JSON Lines: each line is one document with its id as the first key, "id". CSV and
    Parquet: a column per top-level field, "id" first; objects and arrays (and, in Parquet,
    fields holding more than one kind of value) as JSON text. A file is written under a
    temporary name and renamed when complete.
    """
    chosen = format_of(file, fmt)
    with open_db(settings_from(ctx)) as db:
        coll = db.collection(collection)
        total = coll.count(prefix)
        try:
            with click.open_file(file, "wb", atomic=file != "-") as sink:
                if chosen == "jsonl":
                    written = _write_from(coll, prefix, total, sink)
                else:
                    written = write_rows(sink, chosen, lambda: coll.scan(prefix=prefix))
        except KeyboardInterrupt:
            raise Interrupted("interrupted; export incomplete") from None
    if file != "-":
        say(f"exported {plural(written, 'document')} from {collection} to {file}")


def _write_from(coll: Collection, prefix: str | None, total: int, sink: IO[bytes]) -> int:
    written = 0
    with count_progress() as progress:
        task = progress.add_task(f"exporting {coll.name}", total=total)
        for doc_id, doc in coll.scan(prefix=prefix):
            sink.write(dump_line(doc_id, doc))
            written += 1
            if written % _DOCS_PER_TICK == 0:
                progress.update(task, completed=written)
        progress.update(task, completed=written)
    return written
