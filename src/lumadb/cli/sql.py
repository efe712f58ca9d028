"""``luma sql``: run LQL once, or a shell that reads statements until ``;``.

In a terminal the shell keeps a history (``~/.luma_history``) and knows ``\\timing``,
``\\explain STATEMENT``, ``\\?`` and ``\\q``; an error is printed and the shell goes on.
Statements piped on stdin run one after another and the first error ends the command with
exit code 1, so a script never half-runs unnoticed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from lumadb.cli._common import db_options, open_db, settings_from
from lumadb.cli._output import echo_error, out, say, table
from lumadb.errors import LumaError

if TYPE_CHECKING:
    from lumadb._embedded import Database
    from lumadb.query import Result

__all__ = ["sql"]

HISTORY = "~/.luma_history"
PROMPT, MORE = "luma> ", "  ... "
HELP = """\\timing        show how long each statement took (on/off)
\\explain STMT  show how STMT would run
\\q             quit (or Ctrl+D)
End a statement with ; to run it."""


def _param(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # not JSON: the text itself (so -p Ada works as well as -p '"Ada"')


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _show(result: Result, fmt: str) -> None:
    if fmt == "json":
        say(json.dumps({"columns": result.columns, "rows": result.rows}, ensure_ascii=False))
    elif fmt == "jsonl":
        for row in result.dicts():
            say(json.dumps(row, ensure_ascii=False))
    elif result.columns:
        table(None, result.columns, ([_cell(v) for v in row] for row in result.rows))
        count = len(result.rows)
        say(f"({count} row{'s' * (count != 1)})")


@click.command("sql")
@click.argument("query", required=False)
@click.option(
    "--param", "-p", "params", multiple=True, help="A value for the next ? (JSON, or text)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "jsonl"]),
    default="table",
    show_default=True,
    help="How results are printed.",
)
@db_options
@click.pass_context
def sql(ctx: click.Context, query: str | None, params: tuple[str, ...], fmt: str) -> None:
    """Run the LQL QUERY, or read statements (each ending with ;) from a shell or stdin."""
    with open_db(settings_from(ctx), must_exist=False) as db:
        if query is not None:
            _show(db.execute(query, [_param(p) for p in params]), fmt)
            return
        if params:
            raise click.UsageError("--param needs a QUERY")
        if sys.stdin.isatty():
            _shell(db, fmt)
        else:
            for statement in _statements(iter(sys.stdin.readline, "")):
                _show(db.execute(statement), fmt)


def _statements(lines: Iterator[str]) -> Iterator[str]:
    """Statements of ``lines``: each ends with a line ending in ``;``."""
    buffer: list[str] = []
    for line in lines:
        buffer.append(line)
        if line.rstrip().endswith(";"):
            yield "".join(buffer)
            buffer = []
    if "".join(buffer).strip():
        yield "".join(buffer)


@contextlib.contextmanager
def _history() -> Iterator[None]:
    """Line editing with the history file, when the readline module is there."""
    path = os.path.expanduser(HISTORY)
    try:
        import readline
    except ImportError:
        yield
        return
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # no writable home: the history is not kept
            readline.write_history_file(path)


def _shell(db: Database, fmt: str) -> None:
    say("LumaDB LQL shell; \\? for help, \\q to quit")
    timing = [False]
    buffer: list[str] = []
    with _history():
        while True:
            try:
                line = input(MORE if buffer else PROMPT)
            except KeyboardInterrupt:  # Ctrl+C drops the statement being typed
                buffer = []
                say("")
                continue
            except EOFError:
                say("")
                return
            command = line.strip()
            if not buffer and command.startswith("\\"):
                if not _meta(db, command, fmt, timing):
                    return
                continue
            buffer.append(line)
            if command.endswith(";"):
                _run(db, "\n".join(buffer), fmt, timing[0])
                buffer = []


def _meta(db: Database, command: str, fmt: str, timing: list[bool]) -> bool:
    """Run a backslash command; False to quit."""
    if command in ("\\q", "\\quit"):
        return False
    if command == "\\timing":
        timing[0] = not timing[0]
        say(f"Timing is {'on' if timing[0] else 'off'}.")
    elif command.startswith("\\explain "):
        _run(db, "EXPLAIN " + command[len("\\explain ") :], fmt, timing[0])
    else:
        say(HELP)
    return True


def _run(db: Database, statement: str, fmt: str, timing: bool) -> None:
    started = time.perf_counter()
    try:
        result = db.execute(statement)
    except LumaError as exc:
        echo_error(exc.message)
        return
    _show(result, fmt)
    if timing:
        out().print(f"Time: {(time.perf_counter() - started) * 1000:.3f} ms", highlight=False)
