"""Helpers shared by the CLI tests (imported by name: this directory is on sys.path)."""

from __future__ import annotations

from typing import Protocol

from click.testing import Result


class Luma(Protocol):
    def __call__(self, *args: str, input: str | bytes | None = None, data: bool = True) -> Result:
        """Run ``luma ARGS`` (with ``--config`` and ``--data-dir`` unless ``data=False``)."""
        ...


def assert_failed(result: Result, code: int, *fragments: str) -> str:
    """The command failed with ``code`` and one ``error: ...`` line naming ``fragments``."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


def assert_ok(result: Result) -> str:
    """The command succeeded; returns its stdout."""
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
    return result.stdout
