"""Full-text indexes: the terms of a text field, kept in the same batch as the document.

A text index on a field path keeps, in every shard, a posting per (term, document) — ``t`` +
index number + term + NUL + id, valued with how often the term occurs — and the number of
terms of each document's field (``u`` + index number + id). A :class:`TextHook` replaces a
document's entries in the batch of each write, so the index never disagrees with the
documents, also after a crash. Terms are the lower-cased runs of letters, digits and ``_``
(Unicode-aware) of the field's text, or of the texts of an array there.

A search for some words finds the documents holding every one of them (the postings of each
term, intersected); the figures BM25 ranks by — how many documents the field has, their
total length, and how many hold each term — are counted from the same keys when a query asks.
"""

from __future__ import annotations

import re
import struct
from collections import Counter
from typing import Any

import orjson

from lumadb.catalog import CollectionSpec, IndexSpec
from lumadb.service.indexes import HookSet
from lumadb.storage import keys
from lumadb.storage.lsm import Batch
from lumadb.storage.shard import Shard

__all__ = ["TextHook", "TextSet", "terms_of", "tokens"]

_U32 = struct.Struct(">I")
_WORD = re.compile(r"\w+")
_SEP = b"\x00"


def tokens(text: str) -> list[str]:
    """The terms of ``text``, in order (lower-cased words)."""
    return _WORD.findall(text.lower())


def terms_of(value: Any) -> list[str]:
    """The terms of a field's value: a text, or the texts of an array; else none."""
    if isinstance(value, str):
        return tokens(value)
    if isinstance(value, list):
        return [t for item in value if isinstance(item, str) for t in tokens(item)]
    return []


def _value(doc: Any, path: tuple[str, ...]) -> Any:
    for step in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(step)
    return doc


class TextHook:
    """Keeps one text index's entries in one shard, in each write's batch."""

    needs_old = True

    def __init__(self, collection: CollectionSpec, index: IndexSpec) -> None:
        self.prefix = collection.prefix
        self.postings, self.lengths = keys.text_prefixes(index.number)
        self.path = index.path
        self.index = index

    def entries(self, raw_id: bytes, body: bytes | None) -> dict[bytes, bytes]:
        """The keys and values a document stored as ``body`` has in the index."""
        if body is None:
            return {}
        counts = Counter(terms_of(_value(orjson.loads(body), self.path)))
        if not counts:
            return {}
        found = {
            self.postings + term.encode() + _SEP + raw_id: _U32.pack(n)
            for term, n in counts.items()
        }
        found[self.lengths + raw_id] = _U32.pack(sum(counts.values()))
        return found

    def on_write(self, batch: Batch, key: bytes, new: bytes | None, old: bytes | None) -> None:
        """Replace the document's entries in the batch that writes it."""
        raw_id = key[len(self.prefix) :]
        before, after = self.entries(raw_id, old), self.entries(raw_id, new)
        for gone in before.keys() - after.keys():
            batch.delete(gone)
        for made, value in after.items():
            if before.get(made) != value:
                batch.put(made, value)

    def build(self, shard: Shard) -> Any:
        """The builder :meth:`Shard.add_hook` runs: clear, then the entries of each document."""

        def fill(batch: Batch) -> None:
            for prefix in (self.postings, self.lengths):
                batch.delete_range(prefix, keys.prefix_end(prefix))
            cut = len(self.prefix)
            for key, body in shard.scan(self.prefix, keys.prefix_end(self.prefix)):
                for made, value in self.entries(key[cut:], body).items():
                    batch.put(made, value)
            batch.put(keys.meta_key(_ready(self.index)), b"1")

        return fill


def _ready(index: IndexSpec) -> str:
    return f"text.{index.number}.ready"


class TextSet(HookSet):
    """The text indexes' hooks, with term lookups and BM25 figures."""

    kind = "text"

    def _ready(self, index: IndexSpec) -> str:
        return _ready(index)

    def make(self, spec: CollectionSpec, index: IndexSpec, shard: Shard) -> TextHook:
        return TextHook(spec, index)

    def unhook(self, shard: Shard, hook: Any) -> None:
        shard.remove_hook(hook, clear=hook.postings)
        shard.drop_range(hook.lengths)

    def ids(self, index: IndexSpec, terms: list[str]) -> list[str]:
        """Ids of the documents whose field holds every one of ``terms``, in id order."""
        hooks = self._hooks.get(index.number)
        if hooks is None or not terms:
            return []
        found: list[str] = []
        for shard, hook in zip(self._shards, hooks, strict=True):
            common: set[bytes] | None = None
            for term in sorted(set(terms), key=len, reverse=True):  # rarer (longer) first
                start = hook.postings + term.encode() + _SEP
                holders = {k[len(start) :] for k, _ in shard.scan(start, keys.prefix_end(start))}
                common = holders if common is None else common & holders
                if not common:
                    break
            found.extend(raw.decode() for raw in common or ())
        return sorted(found)

    def stats(self, index: IndexSpec, terms: list[str]) -> dict[str, Any]:
        """What BM25 needs: documents with the field, their total length, and per term how
        many documents hold it (over this process's shards)."""
        hooks = self._hooks.get(index.number) or []
        docs = length = 0
        held = dict.fromkeys(terms, 0)
        for shard, hook in zip(self._shards, hooks, strict=True):
            for _, value in shard.scan(hook.lengths, keys.prefix_end(hook.lengths)):
                docs += 1
                length += _U32.unpack(value)[0]
            for term in held:
                start = hook.postings + term.encode() + _SEP
                held[term] += shard.count(start, keys.prefix_end(start))
        return {"docs": docs, "length": length, "held": held}
