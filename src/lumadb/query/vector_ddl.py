"""``CREATE VECTOR INDEX [IF NOT EXISTS] [name] ON c (field) [EMBED FROM (a, b) [USING 'model']]
[USING hnsw] [WITH (...)]``.

``EMBED FROM`` makes the field computed: the server embeds the named fields' text with the
model (``'all-MiniLM-L6-v2'`` unless named) on every write, and ``dim`` is the model's.
``ALTER VECTOR INDEX ON c (field) [EMBED FROM (...) [USING 'model']] SET (key = value, ...)``
changes an index's options (a new model re-embeds the documents in the background).

pgvector's order (``ON c USING hnsw (field)``) is read too. ``WITH`` takes the options of
:class:`~lumadb.catalog.vectors.VectorOptions` as ``key = value`` pairs (``metric = 'l2'``,
``m = 16``, ``dim = 384``); without ``dim`` the index takes the length of the first vector
stored at the field, and says so when there is none yet. The index is named
``<collection>_<field>_vector`` unless named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlglot.tokenizer_core import Token, TokenType

from lumadb.catalog.vectors import INDEX_TYPES
from lumadb.errors import QueryError

__all__ = ["VectorIndexDDL", "parse_vector_index"]

_NAMES = (TokenType.VAR, TokenType.IDENTIFIER)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class VectorIndexDDL:
    """A parsed ``CREATE VECTOR INDEX``."""

    collection: str
    path: tuple[str, ...]
    name: str | None = None
    if_not_exists: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    alter: bool = False


class _Tokens:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self, text: str) -> bool:
        return self.at < len(self.tokens) and self.tokens[self.at].text.upper() == text

    def take(self, text: str) -> bool:
        if self.peek(text):
            self.at += 1
            return True
        return False

    def fail(self, expected: str) -> QueryError:
        where = self.tokens[min(self.at, len(self.tokens) - 1)]
        shown = "the end" if self.at >= len(self.tokens) else repr(where.text)
        return QueryError(
            f"line {where.line}, column {where.col}: expected {expected}, found {shown} "
            "(CREATE VECTOR INDEX [name] ON collection (field) [EMBED FROM (fields) "
            "[USING 'model']] [USING hnsw|ivf_pq|flat] [WITH (key = value, ...)])"
        )

    def expect(self, text: str) -> None:
        if not self.take(text):
            raise self.fail(text)

    def name(self, what: str) -> str:
        if self.at < len(self.tokens):
            token = self.tokens[self.at]
            # Words the tokenizer takes for keywords (index, type) are names here too.
            if token.token_type in _NAMES or _WORD.fullmatch(token.text):
                self.at += 1
                return token.text
        raise self.fail(what)

    def done(self) -> bool:
        return self.at >= len(self.tokens)


def parse_vector_index(tokens: list[Token]) -> VectorIndexDDL | None:
    """The statement if ``tokens`` are a ``CREATE VECTOR INDEX``, else ``None``."""
    words = [t.text.upper() for t in tokens[:3]]
    if words[1:] != ["VECTOR", "INDEX"] or words[0] not in ("CREATE", "ALTER"):
        return None
    read = _Tokens(tokens)
    read.at = 3
    if words[0] == "ALTER":
        return _alter(read)
    if_not_exists = read.take("IF")
    if if_not_exists:
        read.expect("NOT")
        read.expect("EXISTS")
    name = None if read.peek("ON") else read.name("an index name or ON")
    read.expect("ON")
    collection = read.name("a collection name")
    options: dict[str, Any] = {}
    if read.take("USING"):
        options["index"] = read.name("hnsw, ivf_pq or flat").lower()
    path = _path(read)
    if read.take("EMBED"):
        read.expect("FROM")
        options["embed_from"] = _sources(read)
        if read.peek("USING") and _is_model(read, 1):
            read.at += 1
            options["model"] = read.tokens[read.at].text
            read.at += 1
    if "index" not in options and read.take("USING"):
        options["index"] = read.name("hnsw, ivf_pq or flat").lower()
    if read.take("WITH"):
        options.update(_pairs(read))
    if not read.done():
        raise read.fail("the end of the statement")
    return VectorIndexDDL(collection, path, name, if_not_exists, options)


def _path(read: _Tokens) -> tuple[str, ...]:
    read.expect("(")
    parts = [read.name("a field")]
    while read.take("."):
        parts.append(read.name("a field"))
    read.expect(")")
    return tuple(parts)


def _alter(read: _Tokens) -> VectorIndexDDL:
    read.expect("ON")
    collection = read.name("a collection name")
    path = _path(read)
    options: dict[str, Any] = {}
    if read.take("EMBED"):
        read.expect("FROM")
        options["embed_from"] = _sources(read)
        if read.take("USING"):
            if not _is_model(read, 0):
                raise read.fail("a model name")
            options["model"] = read.tokens[read.at].text
            read.at += 1
    if read.take("SET") or read.take("WITH"):
        options.update(_pairs(read))
    if not options:
        raise read.fail("EMBED FROM or SET (key = value, ...)")
    if not read.done():
        raise read.fail("the end of the statement")
    return VectorIndexDDL(collection, path, options=options, alter=True)


def _is_model(read: _Tokens, ahead: int) -> bool:
    """A model name after USING: quoted, or anything but an index type."""
    at = read.at + ahead
    if at >= len(read.tokens):
        return False
    token = read.tokens[at]
    return token.token_type in (TokenType.STRING, TokenType.IDENTIFIER) or (
        token.text.lower() not in INDEX_TYPES
    )


def _is_string(read: _Tokens, ahead: int) -> bool:
    at = read.at + ahead
    return at < len(read.tokens) and read.tokens[at].token_type == TokenType.STRING


def _sources(read: _Tokens) -> list[str]:
    """``(a, b.c)`` or ``["a", "b.c"]``: the fields a computed vector is embedded from."""
    close = "]" if read.take("[") else ")"
    if close == ")":
        read.expect("(")
    found: list[str] = []
    while True:
        if _is_string(read, 0):
            found.append(read.tokens[read.at].text)
            read.at += 1
        else:
            parts = [read.name("a field")]
            while read.take("."):
                parts.append(read.name("a field"))
            found.append(".".join(parts))
        if read.take(close):
            return found
        read.expect(",")


def _pairs(read: _Tokens) -> dict[str, Any]:
    read.expect("(")
    found: dict[str, Any] = {}
    while True:
        key = read.name("an option name").lower()
        read.expect("=")
        if read.done():
            raise read.fail("a value")
        token = read.tokens[read.at]
        read.at += 1
        if token.token_type == TokenType.NUMBER:
            value: Any = float(token.text) if "." in token.text else int(token.text)
        elif token.token_type in (TokenType.STRING, *_NAMES):
            value = token.text
        else:
            read.at -= 1
            raise read.fail("a number or a text")
        if key in found:
            raise QueryError(f"the option {key} is given twice")
        found[key] = value
        if read.take(")"):
            return found
        read.expect(",")


def plan_vector_index(ddl: VectorIndexDDL) -> tuple[Any, list[tuple[str, str]]]:
    """The plan of a ``CREATE VECTOR INDEX`` and the permission it needs."""
    from lumadb.query.plans import Result, Source
    from lumadb.service import ScanRange

    def alter(source: Source, params: Any) -> Result:
        made = source.alter_vector_index(ddl.collection, ddl.path, dict(ddl.options))
        columns = ["index", "collection", "path", "dim", "metric", "type", "model"]
        row = [made["name"], ddl.collection, made["path"], made["dim"], made["metric"]]
        return Result(columns, [[*row, made["index"], made.get("model")]])

    if ddl.alter:
        return alter, [("admin", ddl.collection)]

    def create(source: Source, params: Any) -> Result:
        options = dict(ddl.options)
        named = ("dim", "dims", "dimension", "dimensions", "model", "embed_from")
        if not any(k in options for k in named):
            options["dim"] = _first_length(source.scan(ddl.collection, ScanRange()), ddl)
        made = source.create_vector_index(
            ddl.collection, ddl.name, ddl.path, options, exist_ok=ddl.if_not_exists
        )
        columns = ["index", "collection", "path", "dim", "metric", "type"]
        row = [made["name"], ddl.collection, made["path"], made["dim"], made["metric"]]
        return Result(columns, [[*row, made["index"]]])

    return create, [("admin", ddl.collection)]


def _first_length(docs: Any, ddl: VectorIndexDDL) -> int:
    for _, doc in docs:
        value = doc
        for step in ddl.path:
            value = value.get(step) if isinstance(value, dict) else None
        if isinstance(value, list) and value:
            return len(value)
    raise QueryError(
        f"no document of {ddl.collection} has a vector at {'.'.join(ddl.path)} yet: "
        "give its length, WITH (dim = ...)"
    )
