"""Asking: a question → its LQL (by the configured provider) → checked → run as typed LQL.

The prompt (or the built-in translator's schema) holds only the collections the caller may
read. What a provider answers is cut to its first statement and must parse as one SELECT
(nothing that writes, no DDL); it then runs exactly as the caller's own LQL would, with the
caller's permissions checked on every collection it reads. ``dry_run`` stops after the check.
Every question is recorded by the audit log (:mod:`lumadb.nlq.audit`), answered or not.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlglot import exp

from lumadb.errors import InvalidArgument, LumaError, QueryError, TranslationFailed
from lumadb.nlq import LLMProvider
from lumadb.nlq.schema import Schema, summarise
from lumadb.query.execute import Engine, Prepared
from lumadb.query.parser import parse
from lumadb.query.plans import Source
from lumadb.service import ScanRange

__all__ = ["MAX_QUESTION", "answer", "checked_lql", "schema_of"]

MAX_QUESTION = 2000
_FENCE = re.compile(r"```(?:sql|lql)?\s*(.*?)```", re.S | re.I)


def schema_of(source: Source, names: Iterable[str], sample: int) -> Schema:
    """The schema of the collections ``names`` from their descriptions and samples."""
    found = []
    for name in names:
        described = source.describe_collection(name)
        docs = itertools.islice((d for _, d in source.scan(name, ScanRange())), sample)
        found.append(summarise(described, docs))
    return Schema(tuple(found))


def checked_lql(answer: str) -> str:
    """A provider's answer cut to one statement, which must be a single SELECT."""
    text = answer.strip()
    fenced = _FENCE.search(text)
    if fenced is not None:
        text = fenced.group(1).strip()
    text = text.split(";", 1)[0].strip()
    if not text:
        raise TranslationFailed("the translation is empty")
    try:
        statements = parse(text)
    except QueryError as exc:
        raise TranslationFailed(f"the translation is not LQL ({exc.message}): {text}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Select):
        raise TranslationFailed(f"the translation is not one SELECT: {text}")
    return text


def answer(
    question: object,
    *,
    provider: LLMProvider,
    schema: Callable[[], Schema],
    engine: Engine,
    source: Source,
    allow: Callable[[Prepared], None],
    dry_run: bool = False,
    record: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """``{"question", "lql", "provider"[, "columns", "rows"]}`` for a question."""
    if not isinstance(question, str) or not question.strip():
        raise InvalidArgument("ask a question (a non-empty text)")
    if len(question) > MAX_QUESTION:
        raise InvalidArgument(f"a question is at most {MAX_QUESTION} characters")
    entry: dict[str, Any] = {
        "question": question,
        "provider": provider.name,
        "at_ms": int(time.time() * 1000),
        "dry_run": dry_run,
        "lql": None,
    }
    try:
        lql = checked_lql(provider.translate(question, schema()))
        entry["lql"] = lql
        prepared = engine.prepare(lql)
        allow(prepared)
        found: dict[str, Any] = {"question": question, "lql": lql, "provider": provider.name}
        if not dry_run:
            result = engine.run(prepared, None, source)
            found |= {"columns": result.columns, "rows": result.rows}
        entry["outcome"] = "dry_run" if dry_run else "answered"
        return found
    except LumaError as exc:
        entry["outcome"] = exc.code
        entry["error"] = exc.message
        raise
    finally:
        if record is not None:
            record(entry)
