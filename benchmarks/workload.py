"""Seeded workload data, generated before any clock starts: ids and JSON documents."""

from __future__ import annotations

import random
import string
from typing import Any

__all__ = ["Doc", "DocumentMaker", "Pair", "unique_ids"]

Doc = dict[str, Any]
Pair = tuple[str, Doc]

_ALPHABET = string.ascii_letters + string.digits + " .,-"
_POOL_CHARS = 1 << 20


def unique_ids(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct 16-character hex ids (16-byte keys) in random order."""
    seen: set[str] = set()
    ids: list[str] = []
    while len(ids) < count:
        doc_id = f"{rng.getrandbits(64):016x}"
        if doc_id not in seen:
            seen.add(doc_id)
            ids.append(doc_id)
    return ids


class DocumentMaker:
    """Flat documents of string fields, each a slice of one seeded random text.

    Slicing one text is ~50 times faster than drawing every character, and the fields still
    differ from document to document (no store gets unrealistically compressible data).
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._text = "".join(rng.choices(_ALPHABET, k=_POOL_CHARS))

    def doc(self, fields: int, length: int) -> Doc:
        """One document: ``fields`` fields ``f0``, ``f1``, ... of ``length`` characters each."""
        text, randrange = self._text, self._rng.randrange
        last = len(text) - length
        out: Doc = {}
        for i in range(fields):
            at = randrange(last)
            out[f"f{i}"] = text[at : at + length]
        return out

    def docs(self, count: int, fields: int, length: int) -> list[Doc]:
        """``count`` documents shaped as :meth:`doc` makes them."""
        return [self.doc(fields, length) for _ in range(count)]
