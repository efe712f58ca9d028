"""LQL text → statements: sqlglot with LQL's dialect, plus LumaDB's own DDL.

LQL is SQL in PostgreSQL's spelling, with arrays indexed from 0 (``tags[0]`` is the first
element, as in the JSON it reads) and ``CREATE COLLECTION`` / ``DROP COLLECTION`` for
LumaDB's tables. A syntax error names the line and column and shows where it stopped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

from lumadb.config import parse_duration
from lumadb.errors import ConfigError, QueryError
from lumadb.query.trigger_ddl import TriggerDDL, parse_trigger
from lumadb.query.vector_ddl import VectorIndexDDL, parse_vector_index

__all__ = [
    "CollectionDDL",
    "DISTANCES",
    "CosineDistance",
    "Explain",
    "Lql",
    "NegativeInnerProduct",
    "Statement",
    "parse",
    "parse_one",
]

MAX_QUERY = 1_000_000  # characters


def _positional(parser: Any) -> exp.Placeholder:
    node = exp.Placeholder(jdbc=True)
    node.meta["start"] = parser._prev.start  # where this ? began: numbered in text order
    return node


class CosineDistance(exp.Expression, exp.Binary):
    """``a <=> b``: 1 - the cosine of the angle between two vectors (pgvector's operator)."""


class NegativeInnerProduct(exp.Expression, exp.Binary):
    """``a <#> b``: minus the inner product of two vectors (pgvector's operator)."""


DISTANCES = (exp.Distance, CosineDistance, NegativeInnerProduct)


class Lql(Postgres):
    """PostgreSQL's grammar; arrays from 0; NULL sorts below every value (as in SQLite); the
    vector operators of pgvector (``<->`` L2, ``<=>`` cosine, ``<#>`` inner product)."""

    INDEX_OFFSET = 0
    NULL_ORDERING = "nulls_are_small"

    class Tokenizer(Postgres.Tokenizer):
        """Postgres's tokens; ``<#>`` takes the token of ``<<->>``, which LQL has no use for."""

        KEYWORDS = {  # noqa: RUF012 - sqlglot's own class attribute
            **{k: t for k, t in Postgres.Tokenizer.KEYWORDS.items() if k != "<<->>"},
            "<#>": TokenType.LLRR_ARROW,
        }

    class Parser(Postgres.Parser):  # type: ignore[misc,valid-type]  # a class at runtime
        """Postgres's parser, remembering where each ``?`` is; ``<=>`` is a distance."""

        PLACEHOLDER_PARSERS = {  # noqa: RUF012 - sqlglot's own class attribute
            **Postgres.Parser.PLACEHOLDER_PARSERS,
            TokenType.PLACEHOLDER: _positional,
        }
        FUNCTION_PARSERS = {  # noqa: RUF012 - MATCH(field, 'words') is a function here
            k: v for k, v in Postgres.Parser.FUNCTION_PARSERS.items() if k != "MATCH"
        }
        COMPARISON = {  # noqa: RUF012
            k: v for k, v in Postgres.Parser.COMPARISON.items() if k != TokenType.NULLSAFE_EQ
        }
        FACTOR = {  # noqa: RUF012 - as sqlglot binds <->: like * and /
            **Postgres.Parser.FACTOR,
            TokenType.NULLSAFE_EQ: CosineDistance,
            TokenType.LLRR_ARROW: NegativeInnerProduct,
        }

        def _parse_ordered(self, parse_method: Any = None) -> exp.Ordered | None:
            # ORDER BY a distance puts rows without a vector (NULL) last unless told, as
            # pgvector does under PostgreSQL: the nearest documents are the ones wanted.
            start = self._index
            node: exp.Ordered | None = super()._parse_ordered(parse_method)
            said = any(t.text.upper() == "NULLS" for t in self._tokens[start : self._index])
            if node is not None:
                node.meta["nulls_said"] = said  # an alias of a distance is resolved later
                if not said and isinstance(node.this, DISTANCES):
                    node.set("nulls_first", bool(node.args.get("desc")))
            return node

    class Generator(Postgres.Generator):  # type: ignore[misc,valid-type]
        """Postgres's SQL, with the vector operators written back as they were."""

        TRANSFORMS = {  # noqa: RUF012 - sqlglot's own class attribute
            **Postgres.Generator.TRANSFORMS,
            CosineDistance: lambda self, e: self.binary(e, "<=>"),
            NegativeInnerProduct: lambda self, e: self.binary(e, "<#>"),
        }


@dataclass(frozen=True)
class CollectionDDL:
    """``CREATE COLLECTION [IF NOT EXISTS] name``, ``DROP COLLECTION [IF EXISTS] name``, or
    ``ALTER COLLECTION name SET TTL '<duration>'`` / ``RESET TTL``."""

    action: str  # "create" | "drop" | "ttl" | "schema"
    name: str
    if_exists: bool  # IF NOT EXISTS for create, IF EXISTS for drop
    ttl: float | None = None  # seconds, for "ttl" (None: RESET TTL)
    schema: str | None = None  # JSON text, for "schema" (None: RESET SCHEMA)


@dataclass(frozen=True)
class Explain:
    """``EXPLAIN <statement>``: how the statement would run, without running it."""

    statement: exp.Expression | CollectionDDL | VectorIndexDDL | TriggerDDL


Statement = exp.Expression | CollectionDDL | VectorIndexDDL | TriggerDDL | Explain

# sqlglot logs a warning before falling back to a raw Command; LQL reports its own error.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


def parse(text: object) -> list[Statement]:
    """Every statement of ``text`` (separated by ``;``), or :class:`QueryError`."""
    if not isinstance(text, str):
        raise QueryError(f"a query must be a string, not {type(text).__name__}")
    if len(text) > MAX_QUERY:
        raise QueryError(f"a query may have at most {MAX_QUERY} characters")
    try:
        tokens = Lql().tokenize(text)
    except TokenError as exc:
        raise QueryError(f"cannot read the query: {exc}") from None
    statements: list[Statement] = []
    for chunk in _split(tokens):
        statements.extend(_statements(chunk, text))
    if not statements:
        raise QueryError("the query is empty")
    return statements


def _statements(chunk: list[Token], text: str) -> list[Statement]:
    if chunk[0].text.upper() == "EXPLAIN":
        # The tokenizer hands the rest of an EXPLAIN over as one string: parse it alone.
        rest = chunk[1].text if len(chunk) == 2 else ""
        inner = parse(rest) if rest.strip() else []
        if len(inner) != 1 or isinstance(inner[0], Explain):
            raise QueryError("EXPLAIN takes one statement")
        return [Explain(inner[0])]
    ddl: Statement | None = (
        _collection_ddl(chunk) or parse_vector_index(chunk) or parse_trigger(chunk, text)
    )
    if ddl is not None:
        return [ddl]
    words = [t.text.upper() for t in chunk[:4]]
    text_index = words[:3] == ["CREATE", "TEXT", "INDEX"]
    if text_index:  # CREATE TEXT INDEX: a CREATE INDEX, marked
        chunk = [chunk[0], *chunk[2:]]
    elif words == ["CREATE", "UNIQUE", "TEXT", "INDEX"]:
        raise QueryError("a text index cannot be UNIQUE")
    try:
        parsed = Lql().parser().parse(chunk, text)
    except ParseError as exc:
        raise QueryError(_describe(exc)) from None
    found: list[Statement] = []
    for node in parsed:
        if node is None:
            continue
        if isinstance(node, exp.Command):
            word = str(node.this).upper()
            raise QueryError(f"{word} {_head(node)} is not supported in LQL")
        if text_index:
            node.meta["text_index"] = True
        found.append(node)  # type: ignore[arg-type]  # sqlglot's Expr is Expression
    return found


def _split(tokens: list[Token]) -> list[list[Token]]:
    chunks: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            chunks.append([])
        else:
            chunks[-1].append(token)
    return [c for c in chunks if c]


def _words(tokens: list[Token]) -> list[str]:
    return [t.text.upper() if t.token_type != TokenType.IDENTIFIER else t.text for t in tokens]


def _collection_ddl(tokens: list[Token]) -> CollectionDDL | None:
    words = _words(tokens)
    if words[:2] == ["ALTER", "COLLECTION"]:
        return _alter_collection(tokens)
    if len(words) < 3 or words[0] not in ("CREATE", "DROP") or words[1] != "COLLECTION":
        return None
    action = words[0].lower()
    rest = tokens[2:]
    guard = ["IF", "NOT", "EXISTS"] if action == "create" else ["IF", "EXISTS"]
    if_exists = [t.text.upper() for t in rest[: len(guard)]] == guard
    if if_exists:
        rest = rest[len(guard) :]
    if len(rest) != 1 or rest[0].token_type not in (TokenType.VAR, TokenType.IDENTIFIER):
        where = rest[1] if len(rest) > 1 else tokens[-1]
        raise QueryError(
            f"line {where.line}, column {where.col}: expected "
            f"{words[0]} COLLECTION {' '.join(guard)} <name>"
        )
    return CollectionDDL(action, rest[0].text, if_exists)


def _alter_collection(tokens: list[Token]) -> CollectionDDL:
    """``ALTER COLLECTION name SET TTL '30 days'`` / ``SET SCHEMA '<json schema>'``, or
    ``RESET TTL`` / ``RESET SCHEMA``."""
    words = [t.text.upper() for t in tokens]
    rest = tokens[3:]
    named = len(tokens) > 2 and tokens[2].token_type in (TokenType.VAR, TokenType.IDENTIFIER)
    if named and words[3:] == ["RESET", "TTL"]:
        return CollectionDDL("ttl", tokens[2].text, False, None)
    if named and words[3:] == ["RESET", "SCHEMA"]:
        return CollectionDDL("schema", tokens[2].text, False)
    schema = len(rest) == 3 and rest[2].token_type == TokenType.STRING
    if named and schema and words[3:5] == ["SET", "SCHEMA"]:
        return CollectionDDL("schema", tokens[2].text, False, schema=rest[2].text)
    if named and words[3:5] == ["SET", "TTL"] and len(rest) == 3:
        value = rest[2]
        if value.token_type in (TokenType.STRING, TokenType.NUMBER):
            at = f"line {value.line}, column {value.col}"
            given = value.text if value.token_type == TokenType.STRING else float(value.text)
            try:
                seconds = parse_duration(given, "TTL")
            except ConfigError as exc:
                raise QueryError(f"{at}: {exc.message}") from None
            if not seconds > 0:
                raise QueryError(f"{at}: a TTL must be longer than 0")
            return CollectionDDL("ttl", tokens[2].text, False, seconds)
    where = tokens[min(len(tokens) - 1, 5)]
    raise QueryError(
        f"line {where.line}, column {where.col}: expected ALTER COLLECTION <name> "
        "SET TTL '<duration>', SET SCHEMA '<json schema>', RESET TTL or RESET SCHEMA"
    )


def _head(node: exp.Command) -> str:
    text = node.expression.name if isinstance(node.expression, exp.Literal) else ""
    return (text.split() or [""])[0].upper()


def _describe(exc: ParseError) -> str:
    if not exc.errors:
        return f"syntax error: {exc}"
    first = exc.errors[0]
    near = first.get("highlight") or ""
    text = str(first.get("description", "syntax error"))
    return f"line {first.get('line')}, column {first.get('col')}: {text} (near {near!r})"


def parse_one(text: object) -> Statement:
    """The single statement of ``text``."""
    statements = parse(text)
    if len(statements) != 1:
        raise QueryError(f"expected one statement, found {len(statements)}")
    return statements[0]
