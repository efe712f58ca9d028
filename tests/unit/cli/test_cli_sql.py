"""``luma sql``: one statement, a piped script, and the interactive shell."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import Luma, assert_failed, assert_ok

import lumadb

sql_cli = importlib.import_module("lumadb.cli.sql")  # the package exports the command as `sql`


def test_one_statement_with_parameters_and_formats(luma: Luma) -> None:
    assert "created" in assert_ok(luma("sql", "CREATE COLLECTION people"))
    made = luma("sql", "INSERT INTO people (id, name, age) VALUES (?, ?, ?)", "-p", "p1", "-p",
                "Ada", "-p", "36")  # fmt: skip
    assert "1" in assert_ok(made)
    shown = assert_ok(luma("sql", "SELECT id, name, age FROM people WHERE age > ?", "-p", "30"))
    assert "Ada" in shown
    assert "(1 row)" in shown
    rows = assert_ok(luma("sql", "SELECT name, age FROM people", "--format", "jsonl"))
    assert [json.loads(line) for line in rows.splitlines()] == [{"name": "Ada", "age": 36}]
    whole = json.loads(assert_ok(luma("sql", "SELECT id FROM people", "--format", "json")))
    assert whole == {"columns": ["id"], "rows": [["p1"]]}


def test_errors_are_one_line_and_exit_1(luma: Luma) -> None:
    assert_failed(luma("sql", "SELEC 1"), 1, "line 1, column")
    assert_failed(luma("sql", "SELECT * FROM nope"), 1, "nope")
    assert luma("sql", "--param", "1").exit_code == 2  # a parameter without a statement


def test_a_piped_script_runs_in_order_and_stops_at_the_first_error(luma: Luma) -> None:
    script = (
        "CREATE COLLECTION s;\n"
        "INSERT INTO s (id, n)\n  VALUES ('a', 1), ('b', 2);\n"
        "SELECT sum(n) AS total FROM s;\n"
    )
    out = assert_ok(luma("sql", "--format", "jsonl", input=script))
    assert out.splitlines()[-1] == '{"total": 3}'
    failed = luma("sql", input="SELECT 1 AS x;\nSELEC 2;\nSELECT 3 AS y;\n")
    assert_failed(failed, 1, "line 1")
    assert '"y"' not in failed.stdout and "3" not in failed.stdout


def _typed(lines: list[str]) -> Iterator[str]:
    yield from lines
    raise EOFError


def test_the_shell_runs_statements_over_lines_and_backslash_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    typed = _typed(
        ["\\timing", "SELECT 1 + 1", "  AS two;", "\\explain SELECT 1", "SELEC 1;", "\\?", "x;"]
    )
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    with lumadb.open(":memory:") as db:
        sql_cli._shell(db, "jsonl")
    out, err = capsys.readouterr()
    assert '{"two": 2}' in out
    assert "Timing is on." in out
    assert "Time: " in out
    assert "One row without a collection" in out
    assert "\\q" in out  # the help
    assert err.count("error: ") == 2  # SELEC 1; and x; — the shell went on after each
    assert (tmp_path / ".luma_history").exists()


def test_the_shell_quits_on_backslash_q(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    typed = _typed(["\\q", "SELECT 1 AS never;"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    with lumadb.open(":memory:") as db:
        sql_cli._shell(db, "jsonl")
    assert "never" not in capsys.readouterr().out
