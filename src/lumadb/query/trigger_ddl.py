"""``CREATE TRIGGER`` and ``DROP TRIGGER``: event triggers in LQL (docs/events.md).

::

    CREATE TRIGGER [IF NOT EXISTS] name AFTER INSERT [OR UPDATE] [OR DELETE] ON collection
        [WHEN <condition over new and old>]
        SEND TO WEBHOOK 'url' | SEND TO KAFKA 'bootstrap' TOPIC 'topic'
        [WITH (retries = 5, backoff_ms = 1000, max_backoff_ms = 300000, timeout_ms = 10000,
               secret = '...', compression = 'gzip', enabled = false)]
    DROP TRIGGER [IF EXISTS] name

The statement becomes the same description ``POST /api/v1/_triggers`` takes, checked by
:func:`lumadb.events.triggers.trigger_from_dict`; ``WHEN`` is kept as written and compiled there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot.tokenizer_core import Token, TokenType

from lumadb.errors import QueryError

__all__ = ["TriggerDDL", "parse_trigger", "plan_trigger"]

_OPS = {"INSERT": "insert", "UPDATE": "update", "DELETE": "delete"}
_RETRY = {"retries": "max_attempts", "backoff_ms": "backoff_ms",
          "max_backoff_ms": "max_backoff_ms", "timeout_ms": "timeout_ms"}  # fmt: skip
_SINK = {"secret", "compression", "idempotence"}
_USAGE = (
    "CREATE TRIGGER [IF NOT EXISTS] name AFTER INSERT [OR UPDATE] [OR DELETE] ON collection "
    "[WHEN condition] SEND TO WEBHOOK 'url' | SEND TO KAFKA 'bootstrap' TOPIC 'topic' "
    "[WITH (key = value, ...)]; DROP TRIGGER [IF EXISTS] name"
)


@dataclass(frozen=True)
class TriggerDDL:
    """A parsed ``CREATE TRIGGER`` (``definition`` set) or ``DROP TRIGGER``."""

    name: str
    if_exists: bool  # IF NOT EXISTS for create, IF EXISTS for drop
    definition: dict[str, Any] = field(default_factory=dict)

    @property
    def drop(self) -> bool:
        return not self.definition


class _Reader:
    def __init__(self, tokens: list[Token], text: str) -> None:
        self.tokens, self.text, self.at = tokens, text, 0

    def peek(self, word: str) -> bool:
        return self.at < len(self.tokens) and self.tokens[self.at].text.upper() == word

    def take(self, word: str) -> bool:
        found = self.peek(word)
        self.at += found
        return found

    def fail(self, expected: str) -> QueryError:
        if self.at >= len(self.tokens):
            return QueryError(f"expected {expected}, found the end ({_USAGE})")
        token = self.tokens[self.at]
        return QueryError(
            f"line {token.line}, column {token.col}: expected {expected}, "
            f"found {token.text!r} ({_USAGE})"
        )

    def expect(self, word: str) -> None:
        if not self.take(word):
            raise self.fail(word)

    def name(self, what: str) -> str:
        if self.at < len(self.tokens):
            token = self.tokens[self.at]
            if (
                token.token_type in (TokenType.VAR, TokenType.IDENTIFIER)
                or token.text.isidentifier()
            ):
                self.at += 1
                return token.text
        raise self.fail(what)

    def string(self, what: str) -> str:
        if self.at < len(self.tokens) and self.tokens[self.at].token_type == TokenType.STRING:
            self.at += 1
            return self.tokens[self.at - 1].text
        raise self.fail(what)

    def until(self, word: str) -> str:
        """The statement's text from here up to (not including) the next ``word``."""
        start = self.at
        while self.at < len(self.tokens) and not self.peek(word):
            self.at += 1
        if self.at == start or self.at >= len(self.tokens):
            raise self.fail(f"a condition, then {word}")
        return self.text[self.tokens[start].start : self.tokens[self.at - 1].end + 1]


def parse_trigger(tokens: list[Token], text: str) -> TriggerDDL | None:
    """The statement if ``tokens`` are a ``CREATE TRIGGER`` or ``DROP TRIGGER``, else None."""
    words = [t.text.upper() for t in tokens[:2]]
    if len(words) < 2 or words[1] != "TRIGGER" or words[0] not in ("CREATE", "DROP"):
        return None
    read = _Reader(tokens, text)
    read.at = 2
    if words[0] == "DROP":
        if_exists = read.take("IF")
        if if_exists:
            read.expect("EXISTS")
        name = read.name("a trigger name")
        if read.at < len(tokens):
            raise read.fail("the end of the statement")
        return TriggerDDL(name, if_exists)
    if_not_exists = read.take("IF")
    if if_not_exists:
        read.expect("NOT")
        read.expect("EXISTS")
    name = read.name("a trigger name")
    read.expect("AFTER")
    on = [_op(read)]
    while read.take("OR"):
        on.append(_op(read))
    read.expect("ON")
    raw: dict[str, Any] = {"name": name, "collection": read.name("a collection name"), "on": on}
    if read.take("WHEN"):
        raw["when"] = read.until("SEND")
    read.expect("SEND")
    read.expect("TO")
    if read.take("WEBHOOK"):
        raw["sink"] = {"type": "webhook", "url": read.string("the webhook's URL as a string")}
    elif read.take("KAFKA"):
        bootstrap = read.string("the Kafka bootstrap address as a string")
        read.expect("TOPIC")
        raw["sink"] = {"type": "kafka", "bootstrap": bootstrap, "topic": read.string("a topic")}
    else:
        raise read.fail("WEBHOOK or KAFKA")
    if read.take("WITH"):
        _options(read, raw)
    if read.at < len(tokens):
        raise read.fail("the end of the statement")
    return TriggerDDL(name, if_not_exists, raw)


def _op(read: _Reader) -> str:
    for word, op in _OPS.items():
        if read.take(word):
            return op
    raise read.fail("INSERT, UPDATE or DELETE")


def _options(read: _Reader, raw: dict[str, Any]) -> None:
    read.expect("(")
    retry: dict[str, Any] = {}
    seen: set[str] = set()
    while True:
        key = read.name("an option name").lower()
        if key in seen:
            raise QueryError(f"the trigger option {key} is given twice")
        seen.add(key)
        read.expect("=")
        value = _value(read)
        if key in _RETRY:
            retry[_RETRY[key]] = value
        elif key in _SINK:
            raw["sink"][key] = value
        elif key == "enabled":
            raw["enabled"] = value
        else:
            known = sorted([*_RETRY, *_SINK, "enabled"])
            raise QueryError(f"unknown trigger option {key!r}; known: {', '.join(known)}")
        if read.take(")"):
            break
        read.expect(",")
    if retry:
        raw["retry"] = retry


def _value(read: _Reader) -> Any:
    if read.at >= len(read.tokens):
        raise read.fail("a value")
    token = read.tokens[read.at]
    read.at += 1
    if token.token_type == TokenType.STRING:
        return token.text
    if token.token_type == TokenType.NUMBER and token.text.isdigit():
        return int(token.text)
    if token.text.upper() in ("TRUE", "FALSE"):
        return token.text.upper() == "TRUE"
    read.at -= 1
    raise read.fail("a whole number, a string, true or false")


def plan_trigger(ddl: TriggerDDL) -> tuple[Any, list[tuple[str, str]]]:
    """The plan of the statement and the permission it needs."""
    from lumadb.query.plans import Result, Source

    if ddl.drop:

        def drop(source: Source, params: Any) -> Result:
            dropped = source.drop_trigger(ddl.name, missing_ok=ddl.if_exists)
            return Result(["trigger", "dropped"], [[ddl.name, dropped]])

        # Whose trigger it is is known only when it runs: the source checks admin there.
        return drop, [("admin", "*")]

    def create(source: Source, params: Any) -> Result:
        made = source.create_trigger(dict(ddl.definition), exist_ok=ddl.if_exists)
        row = [made["name"], made["collection"], ",".join(made["on"]), made["sink"]["type"]]
        return Result(["trigger", "collection", "on", "sink"], [row])

    return create, [("admin", str(ddl.definition["collection"]))]
