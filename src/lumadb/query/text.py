"""Full-text search in LQL: ``MATCH(field, 'words')`` and its BM25 ``score()``.

``MATCH(field, 'words')`` is true when the field's text (or the texts of an array there) holds
every term of ``words`` — terms as a text index cuts them (lower-cased words). It is checked
on each row, so it works on any collection; with a text index on the field, a MATCH among the
WHERE's ANDs reads only the documents its postings name. ``score()`` is the BM25 relevance
(k1 = 1.2, b = 0.75) of the row for the statement's MATCH, with the corpus figures the text
index counts when the statement runs; it needs one MATCH among the WHERE's ANDs, on a field
with a text index.
"""

from __future__ import annotations

import contextvars
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from lumadb.errors import QueryError
from lumadb.query import compile as c
from lumadb.query.compile import Compiled, Params, Scope, path_of
from lumadb.query.plans import Plan, Result, Source, conjuncts, is_constant
from lumadb.query.vectors import NAMED
from lumadb.service.text import terms_of, tokens

__all__ = ["TEXT_STATS", "TextMatch", "text_match", "with_text_stats"]

K1 = 1.2
B = 0.75

TEXT_STATS: contextvars.ContextVar[tuple[list[str], list[str], dict[str, Any]]] = (
    contextvars.ContextVar("lql_text_stats")
)
"""The running statement's MATCH (path and terms) and the text index's figures for it."""


@dataclass(frozen=True)
class TextMatch:
    """A ``MATCH(path, words)`` among a WHERE's ANDs, with ``words`` a constant."""

    path: list[str]
    words: Compiled


def _is_match(node: exp.Expression) -> bool:
    return isinstance(node, exp.Anonymous) and str(node.this).lower() == "match"


def text_match(where: exp.Expression | None, scope: Scope) -> TextMatch | None:
    """The first MATCH of a field by constant words among the WHERE's ANDs."""
    for term in conjuncts(where):
        if _is_match(term) and len(term.expressions) == 2:
            field, words = term.expressions
            path = path_of(field, scope)
            if path and all(isinstance(p, str) for p in path) and is_constant(words):
                return TextMatch([str(p) for p in path], c.compile_expr(words, scope))
    return None


def _words(value: Any) -> list[str]:
    if not isinstance(value, str):
        raise QueryError(f"MATCH takes its words as a text, not {type(value).__name__}")
    return tokens(value)


def _match(node: exp.Expression, scope: Scope) -> Compiled:
    if len(node.expressions) != 2:
        raise QueryError("MATCH takes a field and a text: MATCH(field, 'words')")
    field, words = (c.compile_expr(e, scope) for e in node.expressions)

    def match(row: Any, params: Params) -> Any:
        wanted = words(row, params)
        if wanted is None:
            return None
        terms = set(_words(wanted))
        value = field(row, params)
        if value is None:
            return None
        return bool(terms) and terms <= set(terms_of(value))

    return match


def _score(node: exp.Expression, scope: Scope) -> Compiled:
    if node.expressions:
        raise QueryError("score() takes no arguments: it scores the statement's MATCH")
    scope.uses_score = True

    def score(row: Any, params: Params) -> Any:
        found = TEXT_STATS.get(None)
        if found is None:
            raise QueryError("score() needs a MATCH(field, 'words') among the WHERE's ANDs")
        path, terms, figures = found
        value: Any = row
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        counts = Counter(terms_of(value))
        length = sum(counts.values())
        docs = max(figures["docs"], 1)
        average = figures["length"] / docs or 1.0
        total = 0.0
        for term in terms:
            tf = counts.get(term, 0)
            if not tf:
                continue
            held = figures["held"].get(term, 0)
            idf = math.log(1 + (docs - held + 0.5) / (held + 0.5))
            total += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average))
        return total

    return score


def with_text_stats(run: Plan, collection: str, found: TextMatch | None) -> Plan:
    """``run`` with the BM25 figures of the statement's MATCH in reach of ``score()``."""

    def scored(source: Source, params: Params) -> Result:
        if found is None:
            raise QueryError("score() needs a MATCH(field, 'words') among the WHERE's ANDs")
        terms = list(dict.fromkeys(_words(found.words({}, params))))
        figures = source.text_stats(collection, found.path, terms)
        if figures is None:
            raise QueryError(
                f"score() needs a text index on {'.'.join(found.path)} "
                f"(CREATE TEXT INDEX ... ON {collection} ({'.'.join(found.path)}))"
            )
        token = TEXT_STATS.set((found.path, terms, figures))
        try:
            return run(source, params)
        finally:
            TEXT_STATS.reset(token)

    return scored


def merge_stats(parts: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    """The figures of several shards' parts of one text index, added up."""
    present = [p for p in parts if p is not None]
    if not present:
        return None
    held: Counter[str] = Counter()
    for part in present:
        held.update(part["held"])
    return {
        "docs": sum(p["docs"] for p in present),
        "length": sum(p["length"] for p in present),
        "held": dict(held),
    }


NAMED["match"] = _match
NAMED["score"] = _score
