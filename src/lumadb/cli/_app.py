"""The top-level click group and the one place where failures become exit codes.

Every failure ends as one line ``error: <message>`` on stderr, never a traceback:

=======================================  =========
failure                                  exit code
=======================================  =========
:class:`lumadb.LumaError`, I/O errors     1
a command's own failure (import, ...)     1
usage (unknown option, missing argument)  2
a refused confirmation                    1
Ctrl+C                                    130
=======================================  =========
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from lumadb.cli._output import echo_error
from lumadb.errors import LumaError

__all__ = ["LumaGroup"]

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class LumaGroup(click.Group):
    """A click group that reports every failure in LumaDB's one-line format."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the CLI; in standalone mode (the default) exit with the code of the table above."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except BaseException as exc:  # classified by _report, unknown ones re-raised
            code = _report(exc)
        else:
            code = result if isinstance(result, int) else 0
        sys.exit(code)


def _report(exc: BaseException) -> int:
    """Print ``exc`` in the one-line format and return its exit code (re-raise the unknown)."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        exc.show()
        return EXIT_USAGE
    if isinstance(exc, BrokenPipeError):
        # The reader went away (`luma export users - | head`): stop quietly.
        _silence_stdout()
        return EXIT_FAILURE
    message, code = _describe(exc)
    echo_error(message)
    return code


def _describe(exc: BaseException) -> tuple[str, int]:
    if isinstance(exc, click.UsageError):
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        return exc.format_message() + hint, EXIT_USAGE
    if isinstance(exc, click.ClickException):
        return exc.format_message(), exc.exit_code
    if isinstance(exc, click.Abort | KeyboardInterrupt):
        # click turns Ctrl+C into Abort (keeping the KeyboardInterrupt as its cause), and
        # also aborts when a confirmation is refused.
        if isinstance(exc, KeyboardInterrupt) or isinstance(exc.__cause__, KeyboardInterrupt):
            return "interrupted", EXIT_INTERRUPTED
        return "aborted", EXIT_FAILURE
    if isinstance(exc, LumaError):
        return exc.message, EXIT_FAILURE
    if isinstance(exc, OSError):
        return str(exc), EXIT_FAILURE
    raise exc


def _silence_stdout() -> None:
    # Python flushes stdout at exit; point it at /dev/null so that flush cannot fail again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
