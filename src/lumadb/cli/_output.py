"""Everything the CLI shows: consoles, tables, progress bars and number formats.

Data goes to stdout (so ``luma export ... -`` stays clean JSONL); progress and errors go to
stderr. Consoles are made per call because tests (click's ``CliRunner``) swap ``sys.stdout``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence

import click
from rich.console import Console
from rich.filesize import decimal
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

__all__ = [
    "byte_progress",
    "count_progress",
    "echo_error",
    "err",
    "format_ms",
    "format_size",
    "out",
    "plural",
    "say",
    "table",
]


def out() -> Console:
    """A console on the current stdout."""
    return Console(soft_wrap=True)


def err() -> Console:
    """A console on the current stderr (progress bars)."""
    return Console(stderr=True, soft_wrap=True)


def say(message: str) -> None:
    """Print one plain line (no markup interpretation) to stdout and flush it."""
    console = out()
    console.print(message, markup=False, highlight=False)
    console.file.flush()


def echo_error(message: str) -> None:
    """The one format of every failure: ``error: <message>`` on stderr."""
    click.echo(f"error: {message}", err=True)


def table(
    title: str | None,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    numeric: Collection[str] = (),
) -> None:
    """Print a table to stdout; the ``numeric`` columns are right-aligned."""
    grid = Table(title=escape(title) if title else None, title_justify="left")
    for header in headers:
        grid.add_column(header, justify="right" if header in numeric else "left")
    for row in rows:
        grid.add_row(*(escape(str(cell)) for cell in row))
    out().print(grid)


def _progress(*columns: ProgressColumn) -> Progress:
    # No stdout/stderr redirection: export may be writing JSONL to stdout meanwhile.
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        *columns,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err(),
        redirect_stdout=False,
        redirect_stderr=False,
    )


def byte_progress() -> Progress:
    """A progress bar over bytes (the total may be unknown, as for stdin)."""
    return _progress(DownloadColumn())


def count_progress() -> Progress:
    """A progress bar over a number of items."""
    return _progress(MofNCompleteColumn())


def plural(count: int, noun: str) -> str:
    """``1 document``, ``2 documents``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def format_size(size: int) -> str:
    """Bytes in decimal units: ``12.3 MB``."""
    return decimal(size)


def format_ms(ms: object) -> str:
    """A millisecond Unix timestamp as UTC date and time (``?`` when not a number)."""
    if not isinstance(ms, int | float) or isinstance(ms, bool):
        return "?"
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
