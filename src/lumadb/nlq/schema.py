"""What a translator may know of the database: the collections the caller may read.

A :class:`Schema` is built per question from each readable collection's description and a
sample of its documents (``[nlq] sample_size``): every top-level field with the kinds of
value seen there and a few example values. Short texts are kept whole (they are what
questions name: ``status paid``, ``from Oslo``); numbers keep their distinct values so a year
or a count can be recognised. Vector fields are listed apart, with the fields they embed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CollectionSummary", "FieldSummary", "Schema", "VectorSummary", "summarise"]

MAX_VALUES = 50  # distinct example values kept per field
SHORT_TEXT = 40  # characters: longer texts are prose, not values a question names
SHOWN = 5  # example values shown to a language model per field


@dataclass(frozen=True, slots=True)
class FieldSummary:
    """One top-level field: the kinds seen (``text``, ``number``, ``boolean``, ``array``,
    ``object``), its short text values and its numbers (distinct, in first-seen order)."""

    name: str
    kinds: frozenset[str]
    texts: tuple[str, ...] = ()
    numbers: tuple[float, ...] = ()
    seen: int = 0  # documents of the sample holding it

    @property
    def numeric(self) -> bool:
        """Whether the field holds numbers (and nothing but numbers and NULLs)."""
        return self.kinds == frozenset({"number"})

    def examples(self) -> list[Any]:
        """A few values to show: texts, or numbers written as JSON would."""
        if self.texts:
            return list(self.texts[:SHOWN])
        return [int(n) if float(n).is_integer() else n for n in self.numbers[:SHOWN]]


@dataclass(frozen=True, slots=True)
class VectorSummary:
    """A vector field: its metric, and (when the server embeds it) the model and sources."""

    name: str
    metric: str
    model: str | None = None
    embed_from: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CollectionSummary:
    """One collection as a translator sees it."""

    name: str
    fields: tuple[FieldSummary, ...]
    vectors: tuple[VectorSummary, ...] = ()
    documents: int = 0  # in the sample

    def field(self, name: str) -> FieldSummary | None:
        """The field called ``name``, if any."""
        return next((f for f in self.fields if f.name == name), None)

    def searchable(self) -> VectorSummary | None:
        """The vector field the server embeds text for (the one ``embed('...')`` fits)."""
        return next((v for v in self.vectors if v.model), None)


@dataclass(frozen=True, slots=True)
class Schema:
    """The collections one caller may read."""

    collections: tuple[CollectionSummary, ...] = field(default_factory=tuple)

    def get(self, name: str) -> CollectionSummary | None:
        """The collection called ``name``, if the caller may read it."""
        return next((c for c in self.collections if c.name == name), None)

    @property
    def names(self) -> list[str]:
        """The collections' names."""
        return [c.name for c in self.collections]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


class _FieldSeen:
    __slots__ = ("count", "kinds", "numbers", "texts")

    def __init__(self) -> None:
        self.kinds: set[str] = set()
        self.texts: dict[str, None] = {}
        self.numbers: dict[float, None] = {}
        self.count = 0

    def add(self, value: Any) -> None:
        kind = _kind(value)
        if kind == "null":
            return
        self.count += 1
        self.kinds.add(kind)
        if kind == "text" and len(value) <= SHORT_TEXT and len(self.texts) < MAX_VALUES:
            self.texts.setdefault(value, None)
        elif kind == "number" and len(self.numbers) < MAX_VALUES:
            self.numbers.setdefault(float(value), None)


def _vectors(described: Mapping[str, Any]) -> tuple[VectorSummary, ...]:
    found = []
    for name, options in sorted((described.get("vectors") or {}).items()):
        if not isinstance(options, Mapping):
            continue
        model = options.get("model")
        sources = options.get("embed_from") or ()
        found.append(
            VectorSummary(
                name,
                str(options.get("metric", "cosine")),
                str(model) if model else None,
                tuple(str(s) for s in sources),
            )
        )
    return tuple(found)


def summarise(described: Mapping[str, Any], docs: Iterable[Mapping[str, Any]]) -> CollectionSummary:
    """A collection's summary from its description and a sample of its documents."""
    vectors = _vectors(described)
    hidden = {v.name for v in vectors}
    seen: dict[str, _FieldSeen] = {}
    count = 0
    for doc in docs:
        count += 1
        for key, value in doc.items():
            if key not in hidden and key != "id":
                seen.setdefault(key, _FieldSeen()).add(value)
    fields = tuple(
        FieldSummary(name, frozenset(s.kinds), tuple(s.texts), tuple(s.numbers), s.count)
        for name, s in seen.items()
        if s.kinds
    )
    return CollectionSummary(str(described["name"]), fields, vectors, count)
