"""The built-in translator: common question shapes to LQL, offline, with no language model.

A question is cut into words and read against the schema of what the caller may read:

* the **collection** is the one whose name (singular or plural) the question says, else the
  one holding most of its words as field names or stored values, else the one whose name the
  embedding model finds nearest to the question;
* **filters**: a stored text value named in the question (``paid``, ``Oslo``, ``toys``) is
  ``field = 'value'`` (``<>`` after a negation); a comparison (``cheaper than 20``, ``at least
  4.5``, ``between 10 and 40``, ``after 2021``) is on the field its words or their meaning
  group name (``cost`` reaches ``price``), else on the collection's money-like field; a bare
  number that a numeric field holds (``from 2023``) is an equality; ``out of stock`` is
  ``stock = 0``;
* the **shape**: ``about X`` with an auto-embedded vector field is a semantic search
  (``ORDER BY field <=> embed('X') LIMIT k``); ``per``/``by``/``for each`` a field with a
  count or an aggregate is a GROUP BY; ``average``/``total``/``highest``... of a numeric field
  an aggregate; ``how many``/``number of``/``count`` a count; a superlative (``the 5 most
  expensive``, ``best rated``, ``top 3 ... by rating``) an ORDER BY with a LIMIT; ``sorted by``
  an ORDER BY; ``which customers`` or ``names of`` a projection.

What it cannot place is a :class:`~lumadb.errors.TranslationFailed` naming the problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lumadb.errors import TranslationFailed
from lumadb.nlq import lexicon as lx
from lumadb.nlq.schema import CollectionSummary, FieldSummary, Schema

__all__ = ["BuiltinTranslator"]

_WORD = re.compile(r"\d+(?:\.\d+)?|[a-z][a-z'\-]*")
_DEFAULT_K = 10
Similar = Callable[[str, Sequence[str]], list[float]]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def _number(word: str) -> float | None:
    if re.fullmatch(r"\d+(?:\.\d+)?", word):
        return float(word)
    found = lx.NUMBER_WORDS.get(word)
    return None if found is None else float(found)


def _literal(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


@dataclass
class _Reading:
    """What has been read from the question so far."""

    words: list[str]
    used: set[int] = field(default_factory=set)
    filters: list[str] = field(default_factory=list)

    def phrase_at(self, at: int, phrase: tuple[str, ...]) -> bool:
        return tuple(self.words[at : at + len(phrase)]) == phrase


class BuiltinTranslator:
    """The offline translator (``[nlq] provider = "builtin"``, the default)."""

    name = "builtin"

    def __init__(self, similar: Similar | None = None) -> None:
        self._similar = similar  # the embedding model's similarity, for words it cannot place

    def translate(self, question: str, schema: Schema) -> str:
        """One LQL SELECT answering ``question``."""
        text = question.strip()
        words = _WORD.findall(text.lower())
        if not words:
            raise TranslationFailed("the question has no words")
        collection = self._collection(words, schema)
        about = self._about(text, words, collection)
        if about is not None:
            return about
        reading = _Reading(words)
        _filters(reading, collection)
        where = f" WHERE {' AND '.join(reading.filters)}" if reading.filters else ""
        table = _ident(collection.name)
        shaped = (
            _grouped(reading, collection, table, where)
            or _aggregate(reading, collection, table, where)
            or _count(reading, table, where)
            or _top(reading, collection, table, where)
            or _sorted(reading, collection, table, where)
        )
        if shaped is not None:
            return shaped
        return f"SELECT {_projection(reading, collection)} FROM {table}{where}"  # noqa: S608

    # --- the collection -----------------------------------------------------------------

    def _collection(self, words: list[str], schema: Schema) -> CollectionSummary:
        if not schema.collections:
            raise TranslationFailed("there is no collection this question could be about")
        said = set(words) | {lx.singular(w) for w in words}
        named = [c for c in schema.collections if lx.forms(c.name) & said]
        if len(named) == 1:
            return named[0]
        candidates = named or list(schema.collections)
        scores = [(_mentions(c, said), -at) for at, c in enumerate(candidates)]
        best = max(range(len(candidates)), key=lambda i: scores[i])
        if named or scores[best][0] > 0:
            return candidates[best]
        if self._similar is not None:
            near = self._similar(" ".join(words), [c.name for c in candidates])
            at = max(range(len(near)), key=near.__getitem__)
            if near[at] >= 0.45:  # below, a guess would answer another question
                return candidates[at]
        known = ", ".join(schema.names)
        raise TranslationFailed(f"the question names no collection this caller reads ({known})")

    # --- semantic search ----------------------------------------------------------------

    def _about(self, text: str, words: list[str], coll: CollectionSummary) -> str | None:
        match = re.search(r"\b(?:about|regarding|on the topic of|related to)\s+(.+)$", text, re.I)
        vector = coll.searchable()
        if match is None or vector is None:
            return None
        topic = match.group(1).strip().rstrip("?.!").strip()
        if not topic:
            return None
        before = words[: len(_WORD.findall(text[: match.start()].lower()))]
        counts = [n for n in (_number(w) for w in before) if n is not None]
        k = int(counts[0]) if counts else _DEFAULT_K
        return (
            f"SELECT * FROM {_ident(coll.name)} "  # noqa: S608
            f"ORDER BY {_ident(vector.name)} <=> embed({_quote(topic)}) LIMIT {k}"
        )


def _mentions(coll: CollectionSummary, said: set[str]) -> int:
    score = 0
    for f in coll.fields:
        if lx.forms(f.name) & said:
            score += 1
        score += sum(1 for t in f.texts if t.lower() in said or lx.singular(t.lower()) in said)
    return score


# --- filters ---------------------------------------------------------------------------


def _field_named(word: str, coll: CollectionSummary, numeric: bool = False) -> FieldSummary | None:
    """The field a word names: by its forms, else by the word's meaning group."""
    fields = [f for f in coll.fields if f.numeric or not numeric]
    for f in fields:
        if word in lx.forms(f.name):
            return f
    group = lx.group_of(word)
    if group is not None:
        for f in fields:
            if lx.forms(f.name) & group:
                return f
    return None


def _money(coll: CollectionSummary) -> FieldSummary | None:
    numeric = [f for f in coll.fields if f.numeric]
    for name in lx.MONEY:
        for f in numeric:
            if f.name.lower() == name:
                return f
    return numeric[0] if len(numeric) == 1 else None


def _filters(reading: _Reading, coll: CollectionSummary) -> None:
    words = reading.words
    _special(reading, coll)
    _comparisons(reading, coll)
    named: dict[tuple[str, bool], list[str]] = {}  # (field, negated) -> values, in order
    for at, word in enumerate(words):
        if at in reading.used:
            continue
        for f in coll.fields:
            value = _value_named(word, words, at, f)
            if value is None:
                continue
            # "not cancelled", "not in the books category"
            negated = any(w in lx.NEGATIONS for w in words[max(0, at - 3) : at])
            named.setdefault((f.name, negated), []).append(value)
            reading.used.add(at)
            break
    for (name, negated), values in named.items():
        # One field can hold one value: two named ("in Bergen or Oslo") mean either.
        if len(values) == 1:
            op = "<>" if negated else "="
            reading.filters.append(f"{_ident(name)} {op} {_quote(values[0])}")
        else:
            listed = ", ".join(_quote(v) for v in dict.fromkeys(values))
            reading.filters.append(f"{_ident(name)} {'NOT IN' if negated else 'IN'} ({listed})")
    for at, word in enumerate(words):  # a bare number a numeric field holds: "from 2023"
        number = _number(word) if at not in reading.used else None
        if number is None or not re.fullmatch(r"\d+", word):
            continue
        holders = [f for f in coll.fields if f.numeric and number in f.numbers]
        if len(holders) == 1 and at > 0 and words[at - 1] in ("from", "in", "of"):
            reading.filters.append(f"{_ident(holders[0].name)} = {_literal(number)}")
            reading.used.add(at)


def _value_named(word: str, words: list[str], at: int, f: FieldSummary) -> str | None:
    for value in f.texts:
        lowered = value.lower()
        if " " in lowered:
            parts = lowered.split()
            if words[at : at + len(parts)] == parts:
                return value
        elif word in (lowered, lx.singular(lowered)) or lx.singular(word) == lowered:
            return value
    return None


def _special(reading: _Reading, coll: CollectionSummary) -> None:
    words = reading.words
    for at in range(len(words) - 2):
        if reading.phrase_at(at, ("out", "of", "stock")):
            stock = _field_named("stock", coll, numeric=True)
            if stock is not None:
                reading.filters.append(f"{_ident(stock.name)} = 0")
                reading.used.update({at, at + 1, at + 2})


def _comparisons(reading: _Reading, coll: CollectionSummary) -> None:
    words = reading.words
    phrases = sorted(lx.COMPARATORS, key=len, reverse=True)
    at = 0
    while at < len(words):
        phrase = next((p for p in phrases if reading.phrase_at(at, p)), None)
        if phrase is None:
            at += 1
            continue
        op, meaning = lx.COMPARATORS[phrase]
        end = at + len(phrase)
        number = _number(words[end]) if end < len(words) else None
        if number is None:
            at += 1
            continue
        target = _comparison_field(words, at, end + 1, meaning, coll)
        if target is None:
            at += 1
            continue
        taken = {*range(at, end + 1)}
        name = _ident(target.name)
        if op == "between":
            high = _number(words[end + 2]) if end + 2 < len(words) else None
            if high is None or words[end + 1] != "and":
                at += 1
                continue
            reading.filters.append(f"{name} BETWEEN {_literal(number)} AND {_literal(high)}")
            taken |= {end + 1, end + 2}
        else:
            reading.filters.append(f"{name} {op} {_literal(number)}")
        reading.used |= taken
        at = max(taken) + 1


def _comparison_field(
    words: list[str], start: int, after: int, meaning: str, coll: CollectionSummary
) -> FieldSummary | None:
    if meaning:
        found = _field_named(meaning, coll, numeric=True)
        if found is not None:
            return found
    window = [*reversed(words[max(0, start - 4) : start]), *words[after : after + 2]]
    for word in window:
        found = _field_named(word, coll, numeric=True)
        if found is not None:
            return found
    return _money(coll)


# --- shapes ----------------------------------------------------------------------------


def _has(words: list[str], *phrases: str) -> int | None:
    """Where the first of ``phrases`` starts in ``words``."""
    for phrase in phrases:
        parts = phrase.split()
        for at in range(len(words) - len(parts) + 1):
            if words[at : at + len(parts)] == parts:
                return at
    return None


def _counting(words: list[str]) -> bool:
    return _has(words, "how many", "number of", "count", "count of") is not None


def _measure(reading: _Reading, coll: CollectionSummary, start: int = 0) -> FieldSummary | None:
    for at, word in enumerate(reading.words[start:], start):
        if at in reading.used:
            continue
        found = _field_named(word, coll, numeric=True)
        if found is not None:
            return found
    return None


def _aggregate_word(reading: _Reading) -> tuple[int, str] | None:
    for at, word in enumerate(reading.words):
        if word in lx.AGGREGATES and at not in reading.used:
            nxt = reading.words[at + 1] if at + 1 < len(reading.words) else ""
            if lx.AGGREGATES[word] in ("max", "min") and nxt in ("rated",):
                continue  # "highest rated": a superlative, not an aggregate
            return at, lx.AGGREGATES[word]
    return None


def _grouped(reading: _Reading, coll: CollectionSummary, table: str, where: str) -> str | None:
    words = reading.words
    at = _has(words, "for each", "in each", "per", "by", "each")
    if at is None:
        return None
    size = 2 if words[at] in ("for", "in") else 1
    key = None
    for word in words[at + size : at + size + 3]:
        key = next((f for f in coll.fields if word in lx.forms(f.name)), None) or (
            _field_named(word, coll)
        )
        if key is not None:
            break
    if key is None:
        return None
    agg = _aggregate_word(reading)
    if agg is not None:
        measure = _measure(reading, coll, agg[0] + 1)
        if measure is None or measure is key:
            return None
        value = f"{agg[1]}({_ident(measure.name)})"
    elif _counting(words) or words[at] == "each":
        value = "count(*)"
    else:
        return None
    name = _ident(key.name)
    return f"SELECT {name}, {value} FROM {table}{where} GROUP BY {name}"  # noqa: S608


def _aggregate(reading: _Reading, coll: CollectionSummary, table: str, where: str) -> str | None:
    agg = _aggregate_word(reading)
    if agg is None:
        return None
    at, function = agg
    measure = _measure(reading, coll, at + 1) or (
        _measure(reading, coll) if function == "sum" else None
    )
    if measure is None:
        return None
    return f"SELECT {function}({_ident(measure.name)}) FROM {table}{where}"  # noqa: S608


def _count(reading: _Reading, table: str, where: str) -> str | None:
    if not _counting(reading.words):
        return None
    return f"SELECT count(*) FROM {table}{where}"  # noqa: S608


def _top(reading: _Reading, coll: CollectionSummary, table: str, where: str) -> str | None:
    words = reading.words
    phrases = sorted(lx.SUPERLATIVES, key=len, reverse=True)
    found = None
    for at in range(len(words)):
        phrase = next((p for p in phrases if reading.phrase_at(at, p)), None)
        if phrase is not None:
            found = (at, phrase)
            break
    top = _has(words, "top")
    if found is None and top is None:
        return None
    if found is not None:
        meaning, descending = lx.SUPERLATIVES[found[1]]
        target = _field_named(meaning, coll, numeric=True) if meaning else None
        target = target or _by_field(words, coll) or _money(coll)
    else:
        descending = True
        target = _by_field(words, coll)
    if target is None:
        return None
    start = found[0] if found is not None else (top or 0)
    counts = [
        int(n)
        for w in words[max(0, start - 2) : start + 3]
        if (n := _number(w)) is not None and not n > 1000
    ]
    k = counts[0] if counts else (1 if _singular_ask(words, coll) else _DEFAULT_K)
    order = "DESC" if descending else "ASC"
    return (
        f"SELECT * FROM {table}{where} "  # noqa: S608
        f"ORDER BY {_ident(target.name)} {order} LIMIT {k}"
    )


def _singular_ask(words: list[str], coll: CollectionSummary) -> bool:
    """Whether the question asks for one thing ("which product is", "best rated toy")."""
    plural = lx.forms(coll.name) - {lx.singular(coll.name.lower())}
    if any(w in plural for w in words):
        return False
    return not any(w.endswith("s") and lx.singular(w) != w for w in words[-2:])


def _by_field(words: list[str], coll: CollectionSummary) -> FieldSummary | None:
    at = _has(words, "by", "on")
    if at is None or at + 1 >= len(words):
        return None
    return _field_named(words[at + 1], coll, numeric=True)


def _sorted(reading: _Reading, coll: CollectionSummary, table: str, where: str) -> str | None:
    words = reading.words
    at = _has(words, "sorted by", "ordered by", "sort by", "order by", "ordered on")
    if at is None or at + 2 >= len(words):
        return None
    target = _field_named(words[at + 2], coll)
    if target is None:
        return None
    order = " DESC" if _has(words, "descending", "highest first", "largest first") else ""
    return f"SELECT * FROM {table}{where} ORDER BY {_ident(target.name)}{order}"  # noqa: S608


def _projection(reading: _Reading, coll: CollectionSummary) -> str:
    """``*``, or the field a question asks for ("which customers ...", "names of ...")."""
    words = reading.words
    if words[0] in ("which", "what", "who") and len(words) > 1:
        asked = _plain_field(words[1], coll)
        if asked is not None:
            return f"DISTINCT {_ident(asked.name)}"
    at = _has(words, "names of", "titles of")
    if at is not None:
        asked = _plain_field(words[at], coll)
        if asked is not None:
            return _ident(asked.name)
    return "*"


def _plain_field(word: str, coll: CollectionSummary) -> FieldSummary | None:
    return next((f for f in coll.fields if word in lx.forms(f.name)), None)


def similarity_of(embed: Callable[[list[str]], Any]) -> Similar:
    """Word-to-name similarity by an embedding model (``embed`` gives unit rows)."""

    def similar(text: str, names: Sequence[str]) -> list[float]:
        rows = embed([text, *[n.replace("_", " ") for n in names]])
        return [float(rows[0] @ row) for row in rows[1:]]

    return similar
