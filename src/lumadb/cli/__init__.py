"""The ``luma`` command line (also ``python -m lumadb``).

Commands: ``version``, ``serve``, ``collections``, ``triggers``, ``sql``, ``import``,
``export``, ``backup`` and ``restore``; see ``docs/cli.md``. Front ends only talk to the
service layer and the embedded API (ARCHITECTURE.md §4); heavy modules load when a command
runs, so ``luma version`` is quick.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from lumadb._version import __version__
from lumadb.cli._app import LumaGroup
from lumadb.cli._output import say
from lumadb.cli.admin import backup, collections, restore
from lumadb.cli.data import export_cmd, import_cmd
from lumadb.cli.serve import serve
from lumadb.cli.sql import sql
from lumadb.cli.triggers import triggers

__all__ = ["cli", "main"]


@click.group(cls=LumaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "-V", "--version", prog_name="lumadb", message="%(prog)s %(version)s"
)
def cli() -> None:
    """LumaDB: a multi-model database for operational, analytical and AI workloads."""


@cli.command()
def version() -> None:
    """Print the LumaDB version."""
    say(f"lumadb {__version__}")


for _command in (serve, collections, triggers, sql, import_cmd, export_cmd, backup, restore):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``luma`` script: run the CLI on ``argv`` (default ``sys.argv[1:]``)."""
    cli.main(args=argv)
