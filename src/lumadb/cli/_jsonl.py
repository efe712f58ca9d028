"""JSON Lines in and out: parsing a line into a document, and batching documents into writes.

Kept apart from the commands so the rules (what a valid line is, which line a failure is
reported against) read in one place and need no terminal to test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from lumadb.errors import InvalidInput, LumaError
from lumadb.service import Document

if TYPE_CHECKING:
    from lumadb._embedded import Collection

__all__ = ["Importer", "LineError", "dump_line", "parse_line"]

_BOM = b"\xef\xbb\xbf"


class LineError(Exception):
    """Line ``line`` of the input cannot be imported; ``reason`` says why."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def parse_line(raw: bytes, line: int) -> Document | None:
    """The document on one input line, ``None`` for a blank line; raises :class:`LineError`."""
    if line == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    if not raw.strip():
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise LineError(line, f"invalid JSON at column {exc.colno}: {exc.msg}") from None
    if not isinstance(value, dict):
        raise LineError(line, f"expected a JSON object, got {_json_type(value)}")
    if "id" in value and not isinstance(value["id"], str):
        raise LineError(line, f'"id" must be a string, got {_json_type(value["id"])}')
    return value


def dump_line(doc_id: str, doc: Document) -> bytes:
    """One export line: the document with its id as the first key ``"id"``."""
    record: dict[str, Any] = {"id": doc_id}
    record.update((k, v) for k, v in doc.items() if k != "id")
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


class Importer:
    """Writes documents into a collection: those with an ``"id"`` in ``put_many`` batches,
    the others one by one with ``insert`` (which generates their ids).

    :attr:`imported` counts documents written so far. Failures are :class:`LineError` naming
    the offending line; everything before it has been written once :meth:`flush` returns.
    """

    def __init__(self, collection: Collection, batch_size: int) -> None:
        self._coll = collection
        self._batch_size = batch_size
        self._pending: list[tuple[int, str, Document]] = []
        self.imported = 0

    def add(self, line: int, doc: Document) -> None:
        """Queue (or, without an id, write) the document read from ``line``."""
        doc_id = doc.get("id")
        if isinstance(doc_id, str):
            self._pending.append((line, doc_id, doc))
            if len(self._pending) >= self._batch_size:
                self.flush()
            return
        try:
            self._coll.insert(doc)
        except LumaError as exc:
            raise LineError(line, exc.message) from exc
        self.imported += 1

    def flush(self) -> None:
        """Write the queued documents."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            self._coll.put_many([(doc_id, doc) for _, doc_id, doc in batch])
        except InvalidInput:
            # put_many validates the whole batch before writing any of it; redo it one
            # document at a time to find (and name) the line that was refused.
            self._write_singly(batch)
        else:
            self.imported += len(batch)

    def _write_singly(self, batch: list[tuple[int, str, Document]]) -> None:
        for line, doc_id, doc in batch:
            try:
                self._coll.put(doc_id, doc)
            except LumaError as exc:
                raise LineError(line, exc.message) from exc
            self.imported += 1
