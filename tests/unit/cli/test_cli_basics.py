"""``luma version``, help, usage errors and ``python -m lumadb``."""

from __future__ import annotations

import subprocess
import sys

from cli_helpers import Luma, assert_failed, assert_ok

import lumadb


def test_version(luma: Luma) -> None:
    assert assert_ok(luma("version", data=False)) == f"lumadb {lumadb.__version__}\n"


def test_version_option(luma: Luma) -> None:
    assert assert_ok(luma("--version", data=False)) == f"lumadb {lumadb.__version__}\n"


def test_help_lists_every_command(luma: Luma) -> None:
    out = assert_ok(luma("--help", data=False))
    for command in ("serve", "collections", "import", "export", "backup", "restore", "version"):
        assert command in out


def test_unknown_command_is_a_usage_error(luma: Luma) -> None:
    assert_failed(luma("frobnicate", data=False), 2, "No such command 'frobnicate'", "--help")


def test_missing_argument_is_a_usage_error(luma: Luma) -> None:
    assert_failed(luma("collections", "create"), 2, "Missing argument 'NAME'")


def test_bad_option_value_is_a_usage_error(luma: Luma) -> None:
    result = luma("collections", "create", "users", "--changefeed", "everything")
    assert_failed(result, 2, "--changefeed", "everything")


def test_no_command_shows_usage(luma: Luma) -> None:
    result = luma(data=False)
    assert result.exit_code == 2
    assert "Usage:" in result.stderr
    assert "Traceback" not in result.output


def test_bad_config_is_one_line(luma: Luma, tmp_path: object) -> None:
    result = luma("serve", "--port", "70000")
    assert_failed(result, 1, "server.port = 70000", "between 1 and 65535")


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lumadb", "version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"lumadb {lumadb.__version__}\n"


def test_importing_the_cli_does_not_load_storage() -> None:
    code = (
        "import sys, lumadb.cli; "
        "print([m for m in ('rocksdict', 'lumadb.storage') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert done.stdout.strip() == "[]"
