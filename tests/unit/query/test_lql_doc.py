"""Every example in docs/lql.md, run in order on one database: each result must match."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import lumadb

DOC = Path(__file__).parents[3] / "docs" / "lql.md"
_BLOCK = re.compile(r"```(lql|json|python)\n(.*?)```", re.DOTALL)


def _examples() -> list[tuple[str, object]]:
    blocks = _BLOCK.findall(DOC.read_text(encoding="utf-8"))
    pairs = []
    for (kind, body), (next_kind, expected) in itertools.pairwise(blocks):
        if kind == "lql" and next_kind == "json":
            pairs.append((body, json.loads(expected)))
    return pairs


def test_the_doc_has_examples() -> None:
    assert len(_examples()) >= 10


def test_every_example_returns_what_the_doc_says() -> None:
    with lumadb.open(":memory:") as db:
        for text, expected in _examples():
            assert db.query(text) == expected, text


def test_the_python_example_runs() -> None:
    (code,) = [body for kind, body in _BLOCK.findall(DOC.read_text()) if kind == "python"]
    exec(compile(code, str(DOC), "exec"), {})  # noqa: S102 - our own documentation
