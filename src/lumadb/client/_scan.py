"""A scan over the REST listing: which pages to ask for, and what to keep of each.

The listing pages forward through ids with ``prefix``, ``limit`` and ``cursor`` (documents
after the cursor's id). ``start``, ``end`` and ``reverse`` of the embedded scan are built on
that here:

- ``start`` becomes the first cursor, so the listing returns ids *after* it; the document at
  ``start`` itself (it is inclusive) is fetched first with a GET.
- ``end`` (exclusive) stops the paging at the first id at or past it.
- ``reverse`` reads the whole range forward, then yields it backwards: memory and transfer
  grow with the range, not with ``limit``.

The plan does no I/O: the sync and async clients send its calls and feed it the replies.
"""

from __future__ import annotations

import base64
from typing import Any

from lumadb.client import _calls
from lumadb.client._calls import ABSENT, Call
from lumadb.client._wire import id_segment
from lumadb.errors import InvalidArgument, LumaError
from lumadb.service import Document

__all__ = ["ScanPlan"]

PAGE = 1000  # the listing's largest page

Pair = tuple[str, Document]


def _bound(value: object, what: str) -> str | None:
    if value is None:
        return None
    if type(value) is not str:
        raise InvalidArgument(f"{what} must be a string, not {type(value).__name__}")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidArgument(f"{what} {value!r} is not valid Unicode") from None
    return value


def _limit(limit: object) -> int | None:
    if limit is not None and (type(limit) is not int or limit < 0):
        raise InvalidArgument(f"limit must be a non-negative integer, got {limit!r}")
    return limit


def _cursor(doc_id: str) -> str:
    # The server's cursor is the id it continues after, base64url-encoded without padding
    # (lumadb.api.rest._cursor); the listing has no other way to start in the middle.
    return base64.urlsafe_b64encode(doc_id.encode()).rstrip(b"=").decode("ascii")


def _is_id(value: str) -> bool:
    try:
        id_segment(value)
    except LumaError:
        return False
    return True


class ScanPlan:
    """The calls of one ``scan`` (or ``count``) and the pairs each reply contributes."""

    def __init__(
        self,
        collection: str,
        prefix: object = None,
        start: object = None,
        end: object = None,
        limit: object = None,
        reverse: object = False,
    ) -> None:
        """Check the arguments as the embedded scan does (same errors, same order)."""
        self._collection = collection
        self._prefix = _bound(prefix, "prefix") or None
        self._start = _bound(start, "start") or None
        self._end = _bound(end, "end")
        if type(reverse) is not bool:
            raise InvalidArgument(f"reverse must be true or false, got {reverse!r}")
        self._reverse = reverse
        self._limit = _limit(limit)
        self._kept: list[Pair] = []  # reverse only: the range, read forward
        self._count = 0
        self._head = False  # the next reply answers the GET of the document at ``start``
        self._empty = False  # no id can be in range: one empty page checks the collection
        self._next: Call | None = self._first_call()

    def _first_call(self) -> Call:
        lower = max(self._prefix or "", self._start or "")
        self._empty = self._limit == 0 or (self._end is not None and self._end <= lower)
        if self._empty:
            return self._page(None, 0)
        start = self._start
        cursor = None if start is None else _cursor(start)
        self._head = start is not None and start.startswith(self._prefix or "") and _is_id(start)
        if self._head:
            return _calls.get(self._collection, start)
        return self._page(cursor, self._page_size())

    def _page(self, cursor: str | None, size: int) -> Call:
        params = [("limit", str(size))]
        if self._prefix is not None:
            params.append(("prefix", self._prefix))
        if cursor is not None:
            params.append(("cursor", cursor))
        return Call("GET", f"{_calls.API}/{self._collection}", params=tuple(params))

    def _page_size(self) -> int:
        if self._limit is None or self._reverse:
            return PAGE
        return max(1, min(PAGE, self._limit - self._count))

    def next_call(self) -> Call | None:
        """The next request to send, or None when the scan is complete."""
        return self._next

    def feed(self, reply: Any) -> list[Pair]:
        """Read the reply to :meth:`next_call`; the pairs to yield now, in scan order."""
        if self._next is None or self._empty:
            self._next = None
            return []
        if self._head:
            self._head = False
            start = self._start or ""
            pairs = [] if reply is ABSENT else [(start, _calls.strip_id(start, reply))]
            following: str | None = _cursor(start)
        else:
            pairs, following = self._read_page(reply)
        if self._limit is not None and not self._reverse:
            pairs = pairs[: self._limit - self._count]
        self._count += len(pairs)
        full = self._limit is not None and not self._reverse and self._count >= self._limit
        self._next = None if following is None or full else self._page(following, self._page_size())
        return self._emit(pairs)

    def _read_page(self, reply: Any) -> tuple[list[Pair], str | None]:
        pairs: list[Pair] = []
        for item in reply["items"]:
            doc_id = item["id"]
            if self._end is not None and doc_id >= self._end:
                return pairs, None  # ids ascend: nothing later is in range
            pairs.append((doc_id, _calls.strip_id(doc_id, item)))
        following = reply.get("next_cursor")
        return pairs, following if isinstance(following, str) and following else None

    def _emit(self, pairs: list[Pair]) -> list[Pair]:
        if not self._reverse:
            return pairs
        self._kept.extend(pairs)
        if self._next is not None:
            return []
        backwards = self._kept[::-1]
        return backwards if self._limit is None else backwards[: self._limit]
