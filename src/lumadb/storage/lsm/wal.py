"""RocksDB's write-ahead log, read back: the change log of the RocksDB engine.

RocksDB appends every write to its WAL as one record holding the write's batch, tagged with
the sequence number RocksDB gave its first operation, before the write becomes visible. Reading
that log is the change feed (change data capture by log tailing, as PostgreSQL's logical
decoding and Debezium do): the feed record of a write *is* the write, so the two can never
disagree, and a write pays nothing extra for its feed.

RocksDB keeps logs it no longer needs in ``archive/`` instead of deleting them once its
``WAL_ttl_seconds`` is set (:func:`~lumadb.storage.lsm.rocks.rocks_options` sets it far in the
future); LumaDB deletes archived logs itself when change-feed retention allows.

File format (RocksDB ``db/log_format.h``, ``db/log_writer.cc``, ``db/write_batch.cc``): 32 KiB
blocks of physical records ``crc32c (masked, LE u32) | length (LE u16) | type (u8) | payload``
(recyclable types add the log number, LE u32, after the type). A logical record larger than a
block's rest is split into FIRST, MIDDLE... and LAST fragments; fewer than 7 bytes left in a
block are zero padding. A logical record is a write batch: ``sequence (LE u64) | count (LE u32)``
then ``count`` operations, each a tag byte and varint-length-prefixed strings.

Reading stops at the first record that is incomplete or fails its checksum: it is either being
written right now or the torn tail of a crash, and RocksDB's point-in-time recovery discards
everything from that point too, so the log read back matches what the database holds.
"""

from __future__ import annotations

import bisect
import mmap
import os
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import crc32c

from lumadb.errors import CorruptionError, StorageError
from lumadb.storage.lsm import DELETE, DELETE_RANGE, PUT, LogOp, LogSegment

__all__ = ["WalReader", "parse_batch"]

BLOCK = 32768
_HEADER = struct.Struct("<IHB")
_LOG_NUMBER = struct.Struct("<I")
_BATCH = struct.Struct("<QI")
_MASK_DELTA = 0xA282EAD8
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_RECYCLABLE = {5: _FULL, 6: _FIRST, 7: _MIDDLE, 8: _LAST}
_SET_COMPRESSION = 9
_IGNORABLE_MASK = 0x20  # metadata record types RocksDB readers may skip (WAL verification)
_TIMESTAMP_SIZES = (10, 11)
# Write-batch tags (RocksDB ``ValueType``) LumaDB writes, and the one it tolerates.
_TAG_DELETE, _TAG_PUT, _TAG_LOG_DATA, _TAG_SINGLE_DELETE, _TAG_DELETE_RANGE = 0, 1, 3, 7, 0xF
_CHECKPOINT_BYTES = 64 << 10  # how often the per-file index remembers a record position


def _unmask(crc: int) -> int:
    rot = (crc - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 28:
            raise CorruptionError("a write-ahead log batch has a malformed length")


def _string(data: bytes, pos: int) -> tuple[bytes, int]:
    length = data[pos]
    if length < 0x80:
        end = pos + 1 + length
        if end > len(data):
            raise CorruptionError("a write-ahead log batch is truncated")
        return data[pos + 1 : end], end
    length, pos = _varint(data, pos)
    if pos + length > len(data):
        raise CorruptionError("a write-ahead log batch is truncated")
    return data[pos : pos + length], pos + length


def parse_batch(payload: bytes, since: int, out: list[LogOp]) -> int:
    """Append the operations of one write batch with sequence numbers above ``since`` to ``out``.

    Returns the sequence number of the batch's last operation. Raises
    :class:`~lumadb.errors.CorruptionError` for a malformed batch and for operations LumaDB
    never writes (merges, column families, transactions), which would be misread if skipped.
    """
    if len(payload) < _BATCH.size:
        raise CorruptionError("a write-ahead log batch is shorter than its header")
    seq, count = _BATCH.unpack_from(payload)
    last: int = seq + count - 1
    if last <= since:
        return last
    pos, end, consumed = _BATCH.size, len(payload), 0
    try:
        while pos < end:
            tag = payload[pos]
            pos += 1
            if tag == _TAG_PUT:
                key, pos = _string(payload, pos)
                value, pos = _string(payload, pos)
                op: LogOp = (seq + consumed, PUT, key, value)
            elif tag in (_TAG_DELETE, _TAG_SINGLE_DELETE):
                key, pos = _string(payload, pos)
                op = (seq + consumed, DELETE, key, b"")
            elif tag == _TAG_DELETE_RANGE:
                key, pos = _string(payload, pos)
                value, pos = _string(payload, pos)
                op = (seq + consumed, DELETE_RANGE, key, value)
            elif tag == _TAG_LOG_DATA:  # a blob without a sequence number
                _, pos = _string(payload, pos)
                continue
            else:
                raise CorruptionError(f"a write-ahead log batch holds an unexpected entry {tag:#x}")
            if op[0] > since:
                out.append(op)
            consumed += 1
    except IndexError:
        raise CorruptionError("a write-ahead log batch is truncated") from None
    if consumed != count:
        raise CorruptionError(f"a write-ahead log batch says {count} entries but holds {consumed}")
    return last


def _physical(data: mmap.mmap, pos: int, number: int) -> tuple[int, int, int, int] | None:
    """The physical record at ``pos``: ``(start, kind, payload offset, end)``, None at the end.

    Skips block trailers. The end is an incomplete or torn record, a failed checksum, zero
    bytes of preallocated space, or (in a recycled file) a record of an older log.
    """
    if BLOCK - pos % BLOCK < _HEADER.size:
        pos += BLOCK - pos % BLOCK
    if pos + _HEADER.size > len(data):
        return None
    crc, length, kind = _HEADER.unpack_from(data, pos)
    header = _HEADER.size
    if kind in _RECYCLABLE:
        header += _LOG_NUMBER.size
        if pos + header > len(data):
            return None
        if _LOG_NUMBER.unpack_from(data, pos + _HEADER.size)[0] != number & 0xFFFFFFFF:
            return None
        kind = _RECYCLABLE[kind]
    stop = pos + header + length
    if kind == 0 or stop > len(data) or stop - pos > BLOCK - pos % BLOCK:
        return None
    if _unmask(crc) != crc32c.crc32c(memoryview(data)[pos + 6 : stop]):
        return None
    return pos, kind, pos + header, stop


def _records(data: mmap.mmap, pos: int, number: int) -> Iterator[tuple[int, int, bytes]]:
    """``(start, end, payload)`` of each complete logical record from offset ``pos`` on."""
    parts: list[bytes] = []
    start = pos
    while (found := _physical(data, pos, number)) is not None:
        at, kind, body, pos = found
        if kind == _FULL:
            parts = []
            yield at, pos, data[body:pos]
        elif kind == _FIRST:
            parts, start = [data[body:pos]], at
        elif kind in (_MIDDLE, _LAST) and parts:
            parts.append(data[body:pos])
            if kind == _LAST:
                yield start, pos, b"".join(parts)
                parts = []
        elif kind == _SET_COMPRESSION:
            raise StorageError("the write-ahead log is compressed, which LumaDB cannot read")
        elif kind not in _TIMESTAMP_SIZES and not kind & _IGNORABLE_MASK:
            return  # an unknown record type or a fragment without its start: the end


@dataclass
class _FileIndex:
    """Where records start in one log file (sparse), and where reading it last stopped."""

    seqs: list[int]
    offsets: list[int]
    tail_offset: int = 0
    tail_seq: int = 0  # sequence number the record at ``tail_offset`` would start with

    def start_for(self, since: int) -> int:
        """The offset of the last remembered record that starts at or before ``since + 1``."""
        if self.tail_offset and self.tail_seq <= since + 1:
            return self.tail_offset
        i = bisect.bisect_right(self.seqs, since + 1) - 1
        return self.offsets[i] if i >= 0 else 0


class WalReader:
    """Reads operations by sequence number across the live and archived logs of one database."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._archive = os.path.join(path, "archive")
        self._index: dict[int, _FileIndex] = {}
        self._first: dict[int, int] = {}  # first sequence number of each non-empty log
        self._lock = threading.Lock()

    def _files(self) -> dict[int, tuple[str, bool]]:
        found: dict[int, tuple[str, bool]] = {}
        for folder, archived in ((self._path, False), (self._archive, True)):
            try:
                names = os.listdir(folder)
            except FileNotFoundError:
                continue
            for name in names:
                if name.endswith(".log") and name[:-4].isdigit():
                    # A log moved to the archive while listing is seen twice: keep the archive.
                    found[int(name[:-4])] = (os.path.join(folder, name), archived)
        return found

    def _open(self, path: str) -> mmap.mmap | None:
        """The log mapped read-only (None if empty or gone), looked for in the archive too."""
        for candidate in (path, os.path.join(self._archive, os.path.basename(path))):
            try:
                with open(candidate, "rb") as f:
                    if os.fstat(f.fileno()).st_size == 0:
                        return None
                    return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except FileNotFoundError:
                continue  # archived meanwhile: try the archive
        return None

    def _first_seq(self, number: int, path: str) -> int:
        known = self._first.get(number)
        if known is not None:
            return known
        data = self._open(path)
        if data is None:
            return 0
        with data:
            for _, _, payload in _records(data, 0, number):
                first = _BATCH.unpack_from(payload)[0] if len(payload) >= _BATCH.size else 0
                self._first[number] = first
                return int(first)
        return 0

    def segments(self) -> list[LogSegment]:
        """Every log file, oldest first, with the first sequence number it holds (0: none)."""
        with self._lock:
            out: list[LogSegment] = []
            for number, (path, archived) in sorted(self._files().items()):
                first = self._first_seq(number, path)
                try:
                    st = os.stat(path)
                except FileNotFoundError:
                    continue
                out.append(
                    LogSegment(
                        number, first, st.st_size, st.st_mtime_ns // 1_000_000, archived, path
                    )
                )
            self._forget(set(s.number for s in out))
            return out

    def _forget(self, alive: set[int]) -> None:
        for number in [n for n in self._index if n not in alive]:
            del self._index[number]
        for number in [n for n in self._first if n not in alive]:
            del self._first[number]

    def read(self, since: int, limit: int) -> list[LogOp]:
        """Up to about ``limit`` operations with sequence numbers above ``since``, in order.

        Whole batches are returned, so a read may end a little past ``limit``.
        """
        out: list[LogOp] = []
        if limit <= 0:
            return out
        with self._lock:
            files = sorted(self._files().items())
            firsts = [(n, p, self._first_seq(n, p)) for n, (p, _) in files]
            chosen = [f for f in firsts if f[2] > 0]
            # Start in the last log whose first operation is at or before since + 1.
            begin = 0
            for i, (_, _, first) in enumerate(chosen):
                if first <= since + 1:
                    begin = i
            expected = 0  # the sequence number the next log must start with, once known
            for number, path, first in chosen[begin:]:
                if expected and first > expected:
                    # Logs follow each other without gaps (a crash only tears the newest one):
                    # a gap means a damaged older log lost writes the database still holds.
                    raise CorruptionError(
                        f"the write-ahead log has no record of sequence numbers {expected} to "
                        f"{first - 1} (before log {number}): an older log is damaged"
                    )
                expected = self._read_file(number, path, since, limit, out)
                if len(out) >= limit:
                    break
        return out

    def _read_file(self, number: int, path: str, since: int, limit: int, out: list[LogOp]) -> int:
        """Read one log into ``out``; returns the sequence number after its last record read
        (0 if it was not read to its end)."""
        data = self._open(path)
        if data is None:
            return 0
        index = self._index.setdefault(number, _FileIndex([], []))
        with data:
            pos = index.start_for(since)
            marked = pos
            for start, stop, payload in _records(data, pos, number):
                if start - marked >= _CHECKPOINT_BYTES or not index.seqs:
                    self._remember(index, start, payload)
                    marked = start
                last = parse_batch(payload, since, out)
                if stop >= index.tail_offset:
                    index.tail_offset, index.tail_seq = stop, last + 1
                if len(out) >= limit:
                    return 0
        return index.tail_seq

    @staticmethod
    def _remember(index: _FileIndex, offset: int, payload: bytes) -> None:
        seq = _BATCH.unpack_from(payload)[0] if len(payload) >= _BATCH.size else 0
        i = bisect.bisect_left(index.offsets, offset)
        if i < len(index.offsets) and index.offsets[i] == offset:
            return
        index.offsets.insert(i, offset)
        index.seqs.insert(i, seq)
